//! `l2`: (λ/2)·‖θ − θ_anchor‖² over the trainable tensors, where the anchor is the model as it
//! was when `anchor` was called: the start of the current task.

use exp_plugin_api::sdk::{
    Component, Config, Context, PluginError, Regularizer, Result, SavedState, Stateful,
};
use exp_plugin_api::tch::Tensor;

use super::{detached, scalar_zero};

#[derive(Debug, Clone, Config)]
pub struct L2Config {
    /// strength
    #[param(default = 1.0, min = 0.0, schedule)]
    pub lambda: f64,
}

pub struct L2 {
    lambda: f64,
    anchor: Vec<(String, Tensor)>,
}

impl Component for L2 {
    type Config = L2Config;
    const NAME: &'static str = "l2";
    const VERSION: &'static str = "2";
    const DOC: &'static str =
        "(lambda/2)·‖θ − θ_anchor‖², the anchor being the model at the start of the task";

    fn create(config: L2Config, _context: &Context) -> Result<Self> {
        Ok(L2 {
            lambda: config.lambda,
            anchor: Vec::new(),
        })
    }

    /// `lambda` may follow a schedule over the phase (a warmup of the penalty).
    fn reconfigure(&mut self, config: &L2Config) -> Result<()> {
        self.lambda = config.lambda;
        Ok(())
    }
}

/// The anchor tensors, under the names of the parameters they anchor.
impl Stateful for L2 {
    fn save_state(&self) -> Result<SavedState> {
        Ok(SavedState {
            tensors: self
                .anchor
                .iter()
                .map(|(name, tensor)| (name.clone(), tensor.shallow_clone()))
                .collect(),
            data: exp_plugin_api::serde_json::Value::Null,
        })
    }

    fn load_state(&mut self, state: SavedState) -> Result<()> {
        self.anchor = detached(&state.tensors)?;
        Ok(())
    }
}

impl Regularizer for L2 {
    fn anchor(&mut self, params: &[(String, Tensor)]) -> Result<()> {
        self.anchor = detached(params)?;
        Ok(())
    }

    fn penalty(&self, params: &[(String, Tensor)]) -> Result<Tensor> {
        let mut total = scalar_zero(params);
        for (name, tensor) in params {
            let (_, anchor) = self
                .anchor
                .iter()
                .find(|(anchor_name, _)| anchor_name == name)
                .ok_or_else(|| {
                    PluginError::new(format!("no anchor for tensor `{name}`: call anchor first"))
                })?;
            let distance = tensor.f_sub(anchor)?.f_square()?.f_sum(total.kind())?;
            total = total.f_add(&distance)?;
        }
        Ok(total.f_mul_scalar(self.lambda / 2.0)?)
    }
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::{Regularizer, Stateful};
    use exp_plugin_api::tch::{Kind, Tensor};

    use super::L2;

    #[test]
    fn penalty_is_half_lambda_squared_distance() {
        let mut l2 = L2 {
            lambda: 2.0,
            anchor: Vec::new(),
        };
        l2.anchor(&[("w".into(), Tensor::from_slice(&[1.0f32, 1.0]))])
            .unwrap();
        // (2/2)·((2 − 1)² + (3 − 1)²) = 5.
        let penalty = l2
            .penalty(&[("w".into(), Tensor::from_slice(&[2.0f32, 3.0]))])
            .unwrap();
        assert!((f64::try_from(&penalty).unwrap() - 5.0).abs() < 1e-6);
    }

    /// The gradient of (λ/2)·‖θ − θ_o‖² is λ·(θ − θ_o): [2·1, 2·2] here.
    #[test]
    fn penalty_is_differentiable() {
        let mut l2 = L2 {
            lambda: 2.0,
            anchor: Vec::new(),
        };
        l2.anchor(&[("w".into(), Tensor::from_slice(&[1.0f64, 1.0]))])
            .unwrap();
        let theta = Tensor::from_slice(&[2.0f64, 3.0]).set_requires_grad(true);
        let penalty = l2.penalty(&[("w".into(), theta.shallow_clone())]).unwrap();
        penalty.backward();
        assert_eq!(Vec::<f64>::try_from(&theta.grad()).unwrap(), vec![2.0, 4.0]);
    }

    /// The anchor survives a save and a load into a fresh regularizer, and later changes to the
    /// weights it was taken from do not move it.
    #[test]
    fn anchor_is_saved_and_restored() {
        let mut weights = Tensor::from_slice(&[1.0f32, -1.0]);
        let mut l2 = L2 {
            lambda: 1.0,
            anchor: Vec::new(),
        };
        l2.anchor(&[("w".into(), weights.shallow_clone())]).unwrap();
        let _ = weights.fill_(7.0);
        let saved = l2.save_state().unwrap();
        let mut restored = L2 {
            lambda: 1.0,
            anchor: Vec::new(),
        };
        restored.load_state(saved).unwrap();
        // (1/2)·((3 − 1)² + (−1 + 1)²) = 2.
        let penalty = restored
            .penalty(&[("w".into(), Tensor::from_slice(&[3.0f32, -1.0]))])
            .unwrap();
        assert_eq!(penalty.kind(), Kind::Float);
        assert!((f64::try_from(&penalty).unwrap() - 2.0).abs() < 1e-6);
    }
}
