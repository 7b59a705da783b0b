//! `wise_ft`: weight-space ensembling of a base and a fine-tuned model,
//! θ = (1 − α)·θ_base + α·θ_finetuned. Inputs in order: base, fine-tuned.

use exp_plugin_api::sdk::{Component, Config, Context, Merger, PluginError, Result};
use exp_plugin_api::tch::{no_grad, Tensor};

use super::same_shapes;

#[derive(Debug, Clone, Config)]
pub struct WiseFtConfig {
    /// weight of the fine-tuned model
    #[param(default = 0.5, min = 0.0, max = 1.0)]
    pub alpha: f64,
}

pub struct WiseFt {
    alpha: f64,
}

impl Component for WiseFt {
    type Config = WiseFtConfig;
    const NAME: &'static str = "wise_ft";
    const VERSION: &'static str = "1";
    const DOC: &'static str =
        "(1 − alpha)·base + alpha·fine-tuned; inputs are base then fine-tuned";

    fn create(config: WiseFtConfig, _context: &Context) -> Result<Self> {
        Ok(WiseFt {
            alpha: config.alpha,
        })
    }
}

impl Merger for WiseFt {
    fn merge(&self, name: &str, inputs: &[Tensor]) -> Result<Tensor> {
        if inputs.len() != 2 {
            return Err(PluginError::new(format!(
                "wise_ft merges exactly 2 models (base, fine-tuned), got {}",
                inputs.len()
            )));
        }
        same_shapes(name, inputs)?;
        no_grad(|| {
            Ok(inputs[0]
                .f_mul_scalar(1.0 - self.alpha)?
                .f_add(&inputs[1].f_mul_scalar(self.alpha)?)?)
        })
    }
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::Merger;
    use exp_plugin_api::tch::Tensor;

    use super::WiseFt;

    #[test]
    fn interpolates_base_and_finetuned() {
        let merged = WiseFt { alpha: 0.25 }
            .merge(
                "w",
                &[
                    Tensor::from_slice(&[0.0f32, 4.0]),
                    Tensor::from_slice(&[4.0f32, 8.0]),
                ],
            )
            .unwrap();
        assert_eq!(Vec::<f32>::try_from(&merged).unwrap(), vec![1.0, 5.0]);
    }
}
