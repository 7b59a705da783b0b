//! A third party's plugin: a `linear` model (multinomial logistic regression, with a softmax
//! `temperature` that may follow a schedule) and a `halving` learning-rate schedule, used by the
//! end-to-end tests through a `plugin` line.

use exp_plugin_api::exp_ir::{ComponentKind, ComponentSchema, ParamType, Value};
use exp_plugin_api::sdk::{
    not_scheduled, param, schema, scheduled_value, Component, Context, Model, ParamBuilder, Params,
    Result, Rng, Scheduler, SchemaBuilder,
};
use exp_plugin_api::tch::Tensor;

pub struct Linear {
    weight: Tensor,
    bias: Tensor,
    temperature: f64,
}

impl Component for Linear {
    fn schema() -> ComponentSchema {
        schema(ComponentKind::Model, "linear", "1", "multinomial logistic regression")
            .with(
                param("temperature", ParamType::Schedule)
                    .default(Value::Float(1.0))
                    .min(0.01)
                    .doc("logits are divided by it"),
            )
    }

    fn set_param(&mut self, name: &str, value: &Value) -> Result<()> {
        if name != "temperature" {
            return Err(not_scheduled(name));
        }
        self.temperature = scheduled_value(name, value)?;
        Ok(())
    }

    fn create(params: &Params, context: &Context) -> Result<Self> {
        let data = context.data()?;
        let inputs: i64 = data.input_shape.iter().product();
        let mut rng = Rng::new(context.seed);
        let bound = 1.0 / (inputs as f64).sqrt();
        Ok(Linear {
            weight: rng
                .uniform(&[data.classes, inputs], -bound, bound)
                .to_device(context.device())
                .set_requires_grad(true),
            bias: Tensor::zeros([data.classes], (exp_plugin_api::tch::Kind::Float, context.device()))
                .set_requires_grad(true),
            temperature: params.f64("temperature")?,
        })
    }
}

/// Nothing beyond the weights.
impl exp_plugin_api::sdk::Stateful for Linear {
    fn save_state(&self) -> Result<exp_plugin_api::sdk::SavedState> {
        Ok(exp_plugin_api::sdk::SavedState::default())
    }

    fn load_state(&mut self, _state: exp_plugin_api::sdk::SavedState) -> Result<()> {
        Ok(())
    }
}

impl Model for Linear {
    fn named_tensors(&self) -> Vec<(String, Tensor)> {
        vec![
            ("weight".into(), self.weight.shallow_clone()),
            ("bias".into(), self.bias.shallow_clone()),
        ]
    }

    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        let flat = x.f_reshape([x.size()[0], -1])?;
        Ok(flat
            .f_linear(&self.weight, Some(&self.bias))?
            .f_div_scalar(self.temperature)?)
    }
}

pub struct Halving {
    every: u64,
}

impl Component for Halving {
    fn schema() -> ComponentSchema {
        schema(ComponentKind::Scheduler, "halving", "1", "halves the learning rate every `every` steps")
            .with(param("every", ParamType::Int).default(Value::Int(50)).min(1.0).doc("steps between halvings"))
    }

    fn create(params: &Params, _context: &Context) -> Result<Self> {
        Ok(Halving { every: params.i64("every")? as u64 })
    }
}

impl Scheduler for Halving {
    fn multiplier(&self, step: u64, _total: u64) -> f64 {
        0.5f64.powi((step / self.every) as i32)
    }
}

exp_plugin_api::export_plugin! {
    name: "good",
    version: "0.1.0",
    models: [Linear],
    schedulers: [Halving],
}
