//! `adamw`: Adam with decoupled weight decay (Loshchilov & Hutter), as `torch.optim.AdamW`:
//! θ ← θ·(1 − lr·wd); m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²;
//! θ ← θ − lr·(m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε).

use exp_plugin_api::sdk::{
    Component, Config, Context, Optimizer, PluginError, Result, SavedState, Stateful,
};
use exp_plugin_api::tch::{no_grad, Tensor};

/// The parameters of `adamw`, as `torch.optim.AdamW` names them.
#[derive(Debug, Clone, Config)]
pub struct AdamWConfig {
    /// learning rate
    #[param(default = 1e-3, min = 0.0, learning_rate)]
    pub lr: f64,
    /// decay of the first moment
    #[param(default = 0.9, min = 0.0, below = 1.0)]
    pub beta1: f64,
    /// decay of the second moment
    #[param(default = 0.999, min = 0.0, below = 1.0)]
    pub beta2: f64,
    /// added to the denominator
    #[param(default = 1e-8, min = 0.0)]
    pub eps: f64,
    /// decoupled weight decay
    #[param(default = 0.01, min = 0.0, schedule)]
    pub weight_decay: f64,
}

pub struct AdamW {
    config: AdamWConfig,
    step: i32,
    /// First and second moments per parameter, created on first use.
    moments: Vec<Option<(Tensor, Tensor)>>,
    /// The parameters (by position) weight decay leaves alone, as the model says.
    exempt: Vec<bool>,
}

impl Component for AdamW {
    type Config = AdamWConfig;
    const NAME: &'static str = "adamw";
    // 3: the learning rate is a parameter like any other (it follows its schedule through the
    // config, no longer an argument of `step`), and beta1/beta2 exclude 1.
    const VERSION: &'static str = "3";
    const DOC: &'static str = "Adam with decoupled weight decay";

    fn create(config: AdamWConfig, _context: &Context) -> Result<Self> {
        Ok(AdamW {
            config,
            step: 0,
            moments: Vec::new(),
            exempt: Vec::new(),
        })
    }

    /// `lr` and `weight_decay` may follow schedules over the phase.
    fn reconfigure(&mut self, config: &AdamWConfig) -> Result<()> {
        self.config = config.clone();
        Ok(())
    }
}

/// The step count and both moments per parameter (`m.<i>`, `v.<i>`).
impl Stateful for AdamW {
    fn save_state(&self) -> Result<SavedState> {
        let mut tensors = Vec::new();
        for (index, moments) in self.moments.iter().enumerate() {
            if let Some((m, v)) = moments {
                tensors.push((format!("m.{index}"), m.copy()));
                tensors.push((format!("v.{index}"), v.copy()));
            }
        }
        Ok(SavedState {
            tensors,
            data: exp_plugin_api::serde_json::json!({ "step": self.step, "n_params": self.moments.len() }),
        })
    }

    fn load_state(&mut self, state: SavedState) -> Result<()> {
        self.step = state.data["step"]
            .as_i64()
            .ok_or_else(|| PluginError::new("saved adamw state lacks `step`"))?
            as i32;
        let mut slots = super::indexed_slots("adamw", state, &["m", "v"])?;
        let seconds = slots.pop().unwrap_or_default();
        let firsts = slots.pop().unwrap_or_default();
        self.moments = firsts
            .into_iter()
            .zip(seconds)
            .map(|pair| match pair {
                (Some(m), Some(v)) => Some((m, v)),
                _ => None,
            })
            .collect();
        Ok(())
    }
}

impl Optimizer for AdamW {
    fn step(&mut self, params: &[Tensor]) -> Result<()> {
        if self.moments.len() != params.len() {
            self.moments = (0..params.len()).map(|_| None).collect();
        }
        self.step += 1;
        let AdamWConfig {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
        } = self.config;
        let correction1 = 1.0 - beta1.powi(self.step);
        let correction2 = 1.0 - beta2.powi(self.step);
        no_grad(|| -> Result<()> {
            for (index, (param, moments)) in params.iter().zip(self.moments.iter_mut()).enumerate()
            {
                let grad = param.grad();
                if !grad.defined() {
                    continue;
                }
                let (m, v) =
                    moments.get_or_insert_with(|| (param.zeros_like(), param.zeros_like()));
                // In place, with as few kernels and temporaries as the update allows (this loop
                // runs for every parameter at every step):
                // m ← m + (1−β₁)(g − m); v ← β₂v + g·(1−β₂)g.
                let _ = m.f_lerp_(&grad, 1.0 - beta1)?;
                let scaled = grad.f_mul_scalar(1.0 - beta2)?;
                let _ = v.f_mul_scalar_(beta2)?.f_addcmul_(&grad, &scaled)?;
                if lr == 0.0 {
                    continue;
                }
                let mut param = param.shallow_clone();
                if weight_decay > 0.0 && !self.exempt.get(index).copied().unwrap_or(false) {
                    let _ = param.f_mul_scalar_(1.0 - lr * weight_decay)?;
                }
                // θ ← θ − (lr/c₁)·m / (√v/√c₂ + ε), written as θ + m / d with
                // d = −(c₁/lr)·(√v/√c₂ + ε), so one fused addcdiv_ applies it.
                let scale = -correction1 / lr;
                let mut denominator = v.f_sqrt()?;
                let _ = denominator
                    .f_mul_scalar_(scale / correction2.sqrt())?
                    .f_add_scalar_(scale * eps)?;
                let _ = param.f_addcdiv_(m, &denominator)?;
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

    use super::{AdamW, AdamWConfig};
    use crate::optimizer::test_support::{
        assert_matches, only_the_decayed_parameter_shrinks, step_on_sum_of_squares,
    };

    /// Two steps on θ = [1, −2] with loss Σθ² (gradient 2θ), against values computed by hand
    /// from the update rule in the module doc (the same numbers `torch.optim.AdamW` gives).
    #[test]
    fn two_steps_match_hand_computed_values() {
        let theta = Tensor::from_slice(&[1.0f64, -2.0]).set_requires_grad(true);
        let (lr, wd) = (0.1, 0.1);
        let mut adamw = AdamW {
            config: AdamWConfig {
                lr,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: wd,
            },
            step: 0,
            moments: Vec::new(),
            exempt: Vec::new(),
        };
        let mut expected = [1.0f64, -2.0];
        let (mut m, mut v) = ([0.0f64; 2], [0.0f64; 2]);
        for t in 1..=2 {
            step_on_sum_of_squares(&mut adamw, &theta);
            for i in 0..2 {
                let g = 2.0 * expected[i];
                expected[i] *= 1.0 - lr * wd;
                m[i] = 0.9 * m[i] + 0.1 * g;
                v[i] = 0.999 * v[i] + 0.001 * g * g;
                let m_hat = m[i] / (1.0 - 0.9f64.powi(t));
                let v_hat = v[i] / (1.0 - 0.999f64.powi(t));
                expected[i] -= lr * m_hat / (v_hat.sqrt() + 1e-8);
            }
        }
        assert_matches(&theta, &expected);
    }

    #[test]
    fn parameters_the_model_exempts_are_not_decayed() {
        let mut adamw = AdamW {
            config: AdamWConfig {
                lr: 0.1,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.5,
            },
            step: 0,
            moments: Vec::new(),
            exempt: Vec::new(),
        };
        // θ·(1 − lr·wd), and a zero gradient moves nothing else.
        only_the_decayed_parameter_shrinks(&mut adamw, 1.0 - 0.1 * 0.5);
    }
}
