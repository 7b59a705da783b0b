//! `task_arithmetic`: adds scaled task vectors to a pre-trained model (Ilharco et al., 2023),
//! θ = θ_pre + λ·Σ_t (θ_t − θ_pre). Inputs in order: the pre-trained model, then one fine-tune
//! of it per task.

use exp_plugin_api::sdk::{Component, Config, Context, Merger, PluginError, Result};
use exp_plugin_api::tch::{no_grad, Tensor};

use super::same_shapes;

#[derive(Debug, Clone, Config)]
pub struct TaskArithmeticConfig {
    // At λ = 1 the sum of several task vectors overshoots each task. The paper picks λ on
    // held-out data, where it usually lands well below 1; 0.3 is a moderate start.
    /// scale of the summed task vectors (negative subtracts them)
    #[param(default = 0.3)]
    pub lambda: f64,
}

pub struct TaskArithmetic {
    lambda: f64,
}

impl Component for TaskArithmetic {
    type Config = TaskArithmeticConfig;
    const NAME: &'static str = "task_arithmetic";
    const VERSION: &'static str = "1";
    const DOC: &'static str = "pre-trained + lambda·Σ (fine-tuned − pre-trained); inputs are the \
                               pre-trained model then its fine-tunes";

    fn create(config: TaskArithmeticConfig, _context: &Context) -> Result<Self> {
        Ok(TaskArithmetic {
            lambda: config.lambda,
        })
    }
}

impl Merger for TaskArithmetic {
    fn merge(&self, name: &str, inputs: &[Tensor]) -> Result<Tensor> {
        if inputs.len() < 2 {
            return Err(PluginError::new(format!(
                "task_arithmetic needs the pre-trained model and at least one fine-tune, got {} model(s)",
                inputs.len()
            )));
        }
        same_shapes(name, inputs)?;
        no_grad(|| {
            let pre = &inputs[0];
            let mut sum = inputs[1].f_sub(pre)?;
            for finetuned in &inputs[2..] {
                sum = sum.f_add(&finetuned.f_sub(pre)?)?;
            }
            Ok(pre.f_add(&sum.f_mul_scalar(self.lambda)?)?)
        })
    }
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::Merger;
    use exp_plugin_api::tch::Tensor;

    use super::TaskArithmetic;

    #[test]
    fn adds_scaled_task_vectors_to_the_pretrained_model() {
        // Task vectors [2, −1] and [1, 3]; their sum [3, 2] × 0.5 = [1.5, 1] added to [1, 1].
        let merged = TaskArithmetic { lambda: 0.5 }
            .merge(
                "w",
                &[
                    Tensor::from_slice(&[1.0f32, 1.0]),
                    Tensor::from_slice(&[3.0f32, 0.0]),
                    Tensor::from_slice(&[2.0f32, 4.0]),
                ],
            )
            .unwrap();
        assert_eq!(Vec::<f32>::try_from(&merged).unwrap(), vec![2.5, 2.0]);
    }

    #[test]
    fn needs_a_finetune() {
        let error = TaskArithmetic { lambda: 1.0 }
            .merge("w", &[Tensor::from_slice(&[1.0f32])])
            .unwrap_err();
        assert!(error.message.contains("at least one"), "{}", error.message);
    }
}
