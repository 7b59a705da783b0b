//! A plugin whose evaluator panics: the node that uses it must fail with the panic message
//! while the rest of the graph finishes.

use std::collections::BTreeMap;

use exp_plugin_api::exp_ir::{ComponentKind, ComponentSchema, ParamType, Value};
use exp_plugin_api::sdk::{
    param, schema, Component, Context, Evaluator, ParamBuilder, Params, Result, Scheduler,
    SchemaBuilder,
};
use exp_plugin_api::tch::Tensor;

pub struct Explode;

impl Component for Explode {
    fn schema() -> ComponentSchema {
        schema(ComponentKind::Evaluator, "explode", "1", "panics on the first batch")
    }

    fn create(_params: &Params, _context: &Context) -> Result<Self> {
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

/// A learning-rate schedule that panics at one step, to show where a training node failed.
pub struct ExplodeAt {
    step: u64,
}

impl Component for ExplodeAt {
    fn schema() -> ComponentSchema {
        schema(ComponentKind::Scheduler, "explode_at", "1", "panics at step `step` (0-based)")
            .with(param("step", ParamType::Int).default(Value::Int(3)).min(0.0).doc("the step that panics"))
    }

    fn create(params: &Params, _context: &Context) -> Result<Self> {
        Ok(ExplodeAt { step: params.i64("step")? as u64 })
    }
}

impl Scheduler for ExplodeAt {
    fn multiplier(&self, step: u64, _total: u64) -> f64 {
        if step == self.step {
            panic!("the schedule blew up at step {step}");
        }
        1.0
    }
}

exp_plugin_api::export_plugin! {
    name: "panicky",
    version: "0.1.0",
    schedulers: [ExplodeAt],
    evaluators: [Explode],
}
