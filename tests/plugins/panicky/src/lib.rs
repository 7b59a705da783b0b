//! A plugin whose evaluator panics: the node that uses it must fail with the panic message
//! while the rest of the graph finishes.

use std::collections::BTreeMap;

use exp_plugin_api::sdk::{
    Component, Config, Context, Evaluator, Model, NoParams, Result, Rng, Scheduler, Stateless,
};
use exp_plugin_api::tch::Tensor;

pub struct Explode;

impl Component for Explode {
    type Config = NoParams;
    const NAME: &'static str = "explode";
    const VERSION: &'static str = "1";
    const DOC: &'static str = "panics on the first batch";

    fn create(_config: NoParams, _context: &Context) -> Result<Self> {
        Ok(Explode)
    }
}

impl Evaluator for Explode {
    fn reset(&mut self) {}

    fn update(&mut self, _output: &Tensor, _target: &Tensor) -> Result<()> {
        panic!("the explode evaluator blew up on purpose")
    }

    fn compute(&self) -> BTreeMap<String, f64> {
        BTreeMap::new()
    }
}

#[derive(Clone, Config)]
pub struct ExplodeAtConfig {
    /// the step that panics
    #[param(default = 3)]
    pub step: u64,
}

/// A learning-rate schedule that panics at one step, to show where a training node failed.
pub struct ExplodeAt {
    step: u64,
}

impl Component for ExplodeAt {
    type Config = ExplodeAtConfig;
    const NAME: &'static str = "explode_at";
    const VERSION: &'static str = "1";
    const DOC: &'static str = "panics at step `step` (0-based)";

    fn create(config: ExplodeAtConfig, _context: &Context) -> Result<Self> {
        Ok(ExplodeAt { step: config.step })
    }
}

impl Scheduler for ExplodeAt {
    fn value(&self, step: u64, _total: u64) -> f64 {
        if step == self.step {
            panic!("the schedule blew up at step {step}");
        }
        1.0
    }
}

/// A model whose `forward` panics: training calls the SDK's default `loss`, which calls
/// `forward`, and the failure must name `forward`, the method that panicked.
pub struct Fragile {
    weight: Tensor,
}

impl Component for Fragile {
    type Config = NoParams;
    const NAME: &'static str = "fragile";
    const VERSION: &'static str = "1";
    const DOC: &'static str = "a model whose forward panics";

    fn create(_config: NoParams, context: &Context) -> Result<Self> {
        Ok(Fragile {
            weight: Rng::new(context.seed)
                .uniform(&[10, 64], -0.1, 0.1)
                .set_requires_grad(true),
        })
    }
}

impl Stateless for Fragile {}

impl Model for Fragile {
    fn named_tensors(&self) -> Vec<(String, Tensor)> {
        vec![("weight".into(), self.weight.shallow_clone())]
    }

    fn forward(&self, _x: &Tensor, _train: bool) -> Result<Tensor> {
        let widths: Vec<usize> = Vec::new();
        Ok(Tensor::zeros([widths[3] as i64], exp_plugin_api::tch::kind::FLOAT_CPU))
    }
}

/// A classifier with one class too few: its logits have 9 columns for a dataset of 10 classes.
/// The host must say so with the shapes, not train into "target out of bounds" or evaluate to a
/// meaningless accuracy.
pub struct Misfit {
    weight: Tensor,
}

impl Component for Misfit {
    type Config = NoParams;
    const NAME: &'static str = "misfit";
    const VERSION: &'static str = "1";
    const DOC: &'static str = "a linear classifier with one class too few";

    fn create(_config: NoParams, context: &Context) -> Result<Self> {
        let data = context.data()?;
        let inputs: i64 = data.input_shape.iter().product();
        Ok(Misfit {
            weight: Rng::new(context.seed)
                .uniform(&[data.classes - 1, inputs], -0.1, 0.1)
                .set_requires_grad(true),
        })
    }
}

impl Stateless for Misfit {}

impl Model for Misfit {
    fn named_tensors(&self) -> Vec<(String, Tensor)> {
        vec![("weight".into(), self.weight.shallow_clone())]
    }

    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        Ok(x.f_reshape([x.size()[0], -1])?.f_matmul(&self.weight.f_t_copy()?)?)
    }
}

exp_plugin_api::export_plugin! {
    name: "panicky",
    version: "0.1.0",
    models: [Fragile, Misfit],
    schedulers: [ExplodeAt],
    evaluators: [Explode],
}
