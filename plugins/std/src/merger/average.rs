//! `average`: a uniform soup, θ = (1/N)·Σ θ_i over N models.

use exp_plugin_api::sdk::{Component, Context, Merger, NoParams, Result};
use exp_plugin_api::tch::{no_grad, Tensor};

use super::same_shapes;

pub struct Average;

impl Component for Average {
    type Config = NoParams;
    const NAME: &'static str = "average";
    const VERSION: &'static str = "1";
    const DOC: &'static str = "uniform average of N checkpoints (a model soup)";

    fn create(_config: NoParams, _context: &Context) -> Result<Self> {
        Ok(Average)
    }
}

impl Merger for Average {
    fn merge(&self, name: &str, inputs: &[Tensor]) -> Result<Tensor> {
        same_shapes(name, inputs)?;
        no_grad(|| {
            let stacked = Tensor::f_stack(inputs, 0)?;
            Ok(stacked.f_mean_dim(0, false, stacked.kind())?)
        })
    }
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::Merger;
    use exp_plugin_api::tch::Tensor;

    use super::Average;

    #[test]
    fn averages_and_names_mismatched_tensors() {
        let merged = Average
            .merge(
                "w",
                &[
                    Tensor::from_slice(&[1.0f32, 2.0]),
                    Tensor::from_slice(&[3.0f32, 6.0]),
                ],
            )
            .unwrap();
        assert_eq!(Vec::<f32>::try_from(&merged).unwrap(), vec![2.0, 4.0]);
        let error = Average
            .merge(
                "layers.0.weight",
                &[
                    Tensor::from_slice(&[1.0f32]),
                    Tensor::from_slice(&[1.0f32, 2.0]),
                ],
            )
            .unwrap_err();
        assert!(
            error.message.contains("layers.0.weight"),
            "{}",
            error.message
        );
    }
}
