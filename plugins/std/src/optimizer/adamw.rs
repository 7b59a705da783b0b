//! `adamw`: Adam with decoupled weight decay (Loshchilov & Hutter), as `torch.optim.AdamW`:
//! θ ← θ·(1 − lr·wd); m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²;
//! θ ← θ − lr·(m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε).

use exp_plugin_api::exp_ir::{ComponentKind, ComponentSchema, ParamType, Value};
use exp_plugin_api::sdk::{
    not_scheduled, param, scheduled_value, schema, Component, Context, Optimizer, ParamBuilder,
    Params, PluginError, Result, SavedState, SchemaBuilder, Stateful,
};
use exp_plugin_api::tch::{no_grad, Tensor};

pub struct AdamW {
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    step: i32,
    /// First and second moments per parameter, created on first use.
    moments: Vec<Option<(Tensor, Tensor)>>,
}

impl Component for AdamW {
    fn schema() -> ComponentSchema {
        schema(
            ComponentKind::Optimizer,
            "adamw",
            "2",
            "Adam with decoupled weight decay",
        )
        .with(
            param("lr", ParamType::Float)
                .default(Value::Float(1e-3))
                .min(0.0)
                .doc("learning rate"),
        )
        .with(
            param("beta1", ParamType::Float)
                .default(Value::Float(0.9))
                .min(0.0)
                .max(0.999999)
                .doc("decay of the first moment"),
        )
        .with(
            param("beta2", ParamType::Float)
                .default(Value::Float(0.999))
                .min(0.0)
                .max(0.999999)
                .doc("decay of the second moment"),
        )
        .with(
            param("eps", ParamType::Float)
                .default(Value::Float(1e-8))
                .min(0.0)
                .doc("added to the denominator"),
        )
        .with(
            param("weight_decay", ParamType::Schedule)
                .default(Value::Float(0.01))
                .min(0.0)
                .doc("decoupled weight decay"),
        )
    }

    fn create(params: &Params, _context: &Context) -> Result<Self> {
        Ok(AdamW {
            beta1: params.f64("beta1")?,
            beta2: params.f64("beta2")?,
            eps: params.f64("eps")?,
            weight_decay: params.f64("weight_decay")?,
            step: 0,
            moments: Vec::new(),
        })
    }

    /// `weight_decay` may follow a schedule over the phase.
    fn set_param(&mut self, name: &str, value: &Value) -> Result<()> {
        if name != "weight_decay" {
            return Err(not_scheduled(name));
        }
        let decay = scheduled_value(name, value)?;
        if decay < 0.0 {
            return Err(PluginError::in_field(
                name,
                format!("the schedule of `weight_decay` reached {decay}, below 0"),
            ));
        }
        self.weight_decay = decay;
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
    fn step(&mut self, params: &[Tensor], lr: f64) -> Result<()> {
        if self.moments.len() != params.len() {
            self.moments = (0..params.len()).map(|_| None).collect();
        }
        self.step += 1;
        let correction1 = 1.0 - self.beta1.powi(self.step);
        let correction2 = 1.0 - self.beta2.powi(self.step);
        no_grad(|| -> Result<()> {
            for (param, moments) in params.iter().zip(self.moments.iter_mut()) {
                let grad = param.grad();
                if !grad.defined() {
                    continue;
                }
                let (m, v) =
                    moments.get_or_insert_with(|| (param.zeros_like(), param.zeros_like()));
                // In place, with as few kernels and temporaries as the update allows (this loop
                // runs for every parameter at every step):
                // m ← m + (1−β₁)(g − m); v ← β₂v + g·(1−β₂)g.
                let _ = m.f_lerp_(&grad, 1.0 - self.beta1)?;
                let scaled = grad.f_mul_scalar(1.0 - self.beta2)?;
                let _ = v.f_mul_scalar_(self.beta2)?.f_addcmul_(&grad, &scaled)?;
                if lr == 0.0 {
                    continue;
                }
                let mut param = param.shallow_clone();
                if self.weight_decay > 0.0 {
                    let _ = param.f_mul_scalar_(1.0 - lr * self.weight_decay)?;
                }
                // θ ← θ − (lr/c₁)·m / (√v/√c₂ + ε), written as θ + m / d with
                // d = −(c₁/lr)·(√v/√c₂ + ε), so one fused addcdiv_ applies it.
                let scale = -correction1 / lr;
                let mut denominator = v.f_sqrt()?;
                let _ = denominator
                    .f_mul_scalar_(scale / correction2.sqrt())?
                    .f_add_scalar_(scale * self.eps)?;
                let _ = param.f_addcdiv_(m, &denominator)?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::tch::Tensor;

    use super::AdamW;
    use crate::optimizer::test_support::{assert_matches, step_on_sum_of_squares};

    /// Two steps on θ = [1, −2] with loss Σθ² (gradient 2θ), against values computed by hand
    /// from the update rule in the module doc (the same numbers `torch.optim.AdamW` gives).
    #[test]
    fn two_steps_match_hand_computed_values() {
        let theta = Tensor::from_slice(&[1.0f64, -2.0]).set_requires_grad(true);
        let mut adamw = AdamW {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.1,
            step: 0,
            moments: Vec::new(),
        };
        let (lr, wd) = (0.1, 0.1);
        let mut expected = [1.0f64, -2.0];
        let (mut m, mut v) = ([0.0f64; 2], [0.0f64; 2]);
        for t in 1..=2 {
            step_on_sum_of_squares(&mut adamw, &theta, lr);
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
}
