//! `sgd`: stochastic gradient descent with optional momentum and (coupled) weight decay, as in
//! `torch.optim.SGD`: g ← ∇ + wd·θ; v ← μ·v + g; θ ← θ − lr·v (or g + μ·v with Nesterov).

use exp_plugin_api::exp_ir::{ComponentKind, ComponentSchema, ParamType, Value};
use exp_plugin_api::sdk::{
    param, schema, Component, Context, Optimizer, ParamBuilder, Params, Result, SavedState,
    SchemaBuilder, Stateful,
};
use exp_plugin_api::tch::{no_grad, Tensor};

pub struct Sgd {
    momentum: f64,
    weight_decay: f64,
    nesterov: bool,
    velocity: Vec<Option<Tensor>>,
}

impl Component for Sgd {
    fn schema() -> ComponentSchema {
        schema(
            ComponentKind::Optimizer,
            "sgd",
            "1",
            "stochastic gradient descent with momentum",
        )
        .with(
            param("lr", ParamType::Float)
                .min(0.0)
                .doc("learning rate (required)"),
        )
        .with(
            param("momentum", ParamType::Float)
                .default(Value::Float(0.0))
                .min(0.0)
                .max(1.0)
                .doc("momentum factor"),
        )
        .with(
            param("weight_decay", ParamType::Float)
                .default(Value::Float(0.0))
                .min(0.0)
                .doc("L2 penalty added to the gradient"),
        )
        .with(
            param("nesterov", ParamType::Bool)
                .default(Value::Bool(false))
                .doc("use Nesterov momentum"),
        )
    }

    fn create(params: &Params, _context: &Context) -> Result<Self> {
        Ok(Sgd {
            momentum: params.f64("momentum")?,
            weight_decay: params.f64("weight_decay")?,
            nesterov: params.bool("nesterov")?,
            velocity: Vec::new(),
        })
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
    fn step(&mut self, params: &[Tensor], lr: f64) -> Result<()> {
        if self.velocity.len() != params.len() {
            self.velocity = (0..params.len()).map(|_| None).collect();
        }
        no_grad(|| -> Result<()> {
            for (param, velocity) in params.iter().zip(self.velocity.iter_mut()) {
                let grad = param.grad();
                if !grad.defined() {
                    continue;
                }
                let mut update = if self.weight_decay > 0.0 {
                    grad.f_add(&(param * self.weight_decay))?
                } else {
                    grad
                };
                if self.momentum > 0.0 {
                    let buffer = match velocity {
                        Some(buffer) => {
                            let _ = buffer.f_mul_scalar_(self.momentum)?.f_add_(&update)?;
                            buffer.shallow_clone()
                        }
                        None => {
                            let buffer = update.f_detach_copy()?;
                            *velocity = Some(buffer.shallow_clone());
                            buffer
                        }
                    };
                    update = if self.nesterov {
                        update.f_add(&(&buffer * self.momentum))?
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
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::tch::Tensor;

    use super::Sgd;
    use crate::optimizer::test_support::{assert_matches, step_on_sum_of_squares};

    /// Momentum SGD on loss Σθ², three steps, against the recurrence done by hand.
    #[test]
    fn momentum_matches_hand_computed_values() {
        let theta = Tensor::from_slice(&[1.0f64, -0.5]).set_requires_grad(true);
        let mut sgd = Sgd {
            momentum: 0.9,
            weight_decay: 0.01,
            nesterov: false,
            velocity: Vec::new(),
        };
        let mut expected = [1.0f64, -0.5];
        let mut velocity = [0.0f64; 2];
        for step in 0..3 {
            step_on_sum_of_squares(&mut sgd, &theta, 0.05);
            for i in 0..2 {
                let g = 2.0 * expected[i] + 0.01 * expected[i];
                velocity[i] = if step == 0 { g } else { 0.9 * velocity[i] + g };
                expected[i] -= 0.05 * velocity[i];
            }
        }
        assert_matches(&theta, &expected);
    }
}
