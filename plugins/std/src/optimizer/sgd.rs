//! `sgd`: stochastic gradient descent with optional momentum and (coupled) weight decay, as in
//! `torch.optim.SGD`: g ← ∇ + wd·θ; v ← μ·v + g; θ ← θ − lr·v (or g + μ·v with Nesterov).

use exp_plugin_api::sdk::{Component, Config, Context, Optimizer, Result, SavedState, Stateful};
use exp_plugin_api::tch::{no_grad, Tensor};

/// The parameters of `sgd`, as `torch.optim.SGD` names them.
#[derive(Debug, Clone, Config)]
pub struct SgdConfig {
    /// learning rate (required)
    #[param(min = 0.0, learning_rate)]
    pub lr: f64,
    /// momentum factor
    #[param(default = 0.0, min = 0.0, max = 1.0)]
    pub momentum: f64,
    /// L2 penalty added to the gradient
    #[param(default = 0.0, min = 0.0)]
    pub weight_decay: f64,
    /// use Nesterov momentum
    #[param(default = false)]
    pub nesterov: bool,
}

pub struct Sgd {
    config: SgdConfig,
    velocity: Vec<Option<Tensor>>,
    /// The parameters (by position) weight decay leaves alone, as the model says.
    exempt: Vec<bool>,
}

impl Component for Sgd {
    type Config = SgdConfig;
    const NAME: &'static str = "sgd";
    // 2: the learning rate is a parameter like any other (it follows its schedule through the
    // config, no longer an argument of `step`).
    const VERSION: &'static str = "2";
    const DOC: &'static str = "stochastic gradient descent with momentum";

    fn create(config: SgdConfig, _context: &Context) -> Result<Self> {
        Ok(Sgd {
            config,
            velocity: Vec::new(),
            exempt: Vec::new(),
        })
    }

    /// `lr` may follow a schedule over the phase.
    fn reconfigure(&mut self, config: &SgdConfig) -> Result<()> {
        self.config = config.clone();
        Ok(())
    }
}

/// The momentum buffers, by parameter index (`velocity.<i>`); absent ones were never made.
impl Stateful for Sgd {
    fn save_state(&self) -> Result<SavedState> {
        let tensors = self
            .velocity
            .iter()
            .enumerate()
            .filter_map(|(index, buffer)| {
                buffer
                    .as_ref()
                    .map(|buffer| (format!("velocity.{index}"), buffer.copy()))
            })
            .collect();
        Ok(SavedState {
            tensors,
            data: exp_plugin_api::serde_json::json!({ "n_params": self.velocity.len() }),
        })
    }

    fn load_state(&mut self, state: SavedState) -> Result<()> {
        let mut slots = super::indexed_slots("sgd", state, &["velocity"])?;
        self.velocity = slots.remove(0);
        Ok(())
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, params: &[Tensor]) -> Result<()> {
        if self.velocity.len() != params.len() {
            self.velocity = (0..params.len()).map(|_| None).collect();
        }
        let SgdConfig {
            lr,
            momentum,
            weight_decay,
            nesterov,
        } = self.config;
        no_grad(|| -> Result<()> {
            for (index, (param, velocity)) in
                params.iter().zip(self.velocity.iter_mut()).enumerate()
            {
                let grad = param.grad();
                if !grad.defined() {
                    continue;
                }
                let decays = !self.exempt.get(index).copied().unwrap_or(false);
                let mut update = if weight_decay > 0.0 && decays {
                    grad.f_add(&(param * weight_decay))?
                } else {
                    grad
                };
                if momentum > 0.0 {
                    let buffer = match velocity {
                        Some(buffer) => {
                            let _ = buffer.f_mul_scalar_(momentum)?.f_add_(&update)?;
                            buffer.shallow_clone()
                        }
                        None => {
                            let buffer = update.f_detach_copy()?;
                            *velocity = Some(buffer.shallow_clone());
                            buffer
                        }
                    };
                    update = if nesterov {
                        update.f_add(&(&buffer * momentum))?
                    } else {
                        buffer
                    };
                }
                let mut param = param.shallow_clone();
                let _ = param.f_sub_(&(update * lr))?;
            }
            Ok(())
        })
    }

    fn set_no_decay(&mut self, exempt: &[bool]) -> Result<()> {
        self.exempt = exempt.to_vec();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::tch::Tensor;

    use super::{Sgd, SgdConfig};
    use crate::optimizer::test_support::{
        assert_matches, only_the_decayed_parameter_shrinks, step_on_sum_of_squares,
    };

    /// Momentum SGD on loss Σθ², three steps, against the recurrence done by hand.
    #[test]
    fn momentum_matches_hand_computed_values() {
        let theta = Tensor::from_slice(&[1.0f64, -0.5]).set_requires_grad(true);
        let mut sgd = Sgd {
            config: SgdConfig {
                lr: 0.05,
                momentum: 0.9,
                weight_decay: 0.01,
                nesterov: false,
            },
            velocity: Vec::new(),
            exempt: Vec::new(),
        };
        let mut expected = [1.0f64, -0.5];
        let mut velocity = [0.0f64; 2];
        for step in 0..3 {
            step_on_sum_of_squares(&mut sgd, &theta);
            for i in 0..2 {
                let g = 2.0 * expected[i] + 0.01 * expected[i];
                velocity[i] = if step == 0 { g } else { 0.9 * velocity[i] + g };
                expected[i] -= 0.05 * velocity[i];
            }
        }
        assert_matches(&theta, &expected);
    }

    #[test]
    fn parameters_the_model_exempts_are_not_decayed() {
        let mut sgd = Sgd {
            config: SgdConfig {
                lr: 0.1,
                momentum: 0.0,
                weight_decay: 0.5,
                nesterov: false,
            },
            velocity: Vec::new(),
            exempt: Vec::new(),
        };
        // θ − lr·wd·θ.
        only_the_decayed_parameter_shrinks(&mut sgd, 1.0 - 0.1 * 0.5);
    }
}
