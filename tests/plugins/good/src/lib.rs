//! A third party's plugin: a `linear` model (multinomial logistic regression, with a softmax
//! `temperature` that may follow a schedule) and a `halving` schedule, used by the end-to-end
//! tests through a `plugin` line. Each component is a config struct and its trait impls.

use exp_plugin_api::sdk::{Component, Config, Context, Model, Result, Rng, Scheduler, Stateless};
use exp_plugin_api::tch::{Kind, Tensor};

#[derive(Clone, Config)]
pub struct LinearConfig {
    /// logits are divided by it
    #[param(default = 1.0, min = 0.01, schedule)]
    pub temperature: f64,
}

pub struct Linear {
    weight: Tensor,
    bias: Tensor,
    temperature: f64,
}

impl Component for Linear {
    type Config = LinearConfig;
    const NAME: &'static str = "linear";
    const VERSION: &'static str = "1";
    const DOC: &'static str = "multinomial logistic regression";

    fn create(config: LinearConfig, context: &Context) -> Result<Self> {
        let data = context.data()?;
        let inputs: i64 = data.input_shape.iter().product();
        let mut rng = Rng::new(context.seed);
        let bound = 1.0 / (inputs as f64).sqrt();
        Ok(Linear {
            weight: rng
                .uniform(&[data.classes, inputs], -bound, bound)
                .to_device(context.device())
                .set_requires_grad(true),
            bias: Tensor::zeros([data.classes], (Kind::Float, context.device()))
                .set_requires_grad(true),
            temperature: config.temperature,
        })
    }

    fn reconfigure(&mut self, config: &LinearConfig) -> Result<()> {
        self.temperature = config.temperature;
        Ok(())
    }
}

/// Nothing beyond the weights.
impl Stateless for Linear {}

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

#[derive(Clone, Config)]
pub struct HalvingConfig {
    /// steps between halvings
    #[param(default = 50, min = 1.0)]
    pub every: u64,
}

pub struct Halving {
    every: u64,
}

impl Component for Halving {
    type Config = HalvingConfig;
    const NAME: &'static str = "halving";
    const VERSION: &'static str = "1";
    const DOC: &'static str = "halves the learning rate every `every` steps";

    fn create(config: HalvingConfig, _context: &Context) -> Result<Self> {
        Ok(Halving {
            every: config.every,
        })
    }
}

impl Scheduler for Halving {
    fn value(&self, step: u64, _total: u64) -> f64 {
        0.5f64.powi((step / self.every) as i32)
    }
}

exp_plugin_api::export_plugin! {
    name: "good",
    version: "0.1.0",
    models: [Linear],
    schedulers: [Halving],
}
