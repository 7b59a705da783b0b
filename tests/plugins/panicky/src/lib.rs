//! A plugin whose evaluator panics: the node that uses it must fail with the panic message
//! while the rest of the graph finishes.

use std::collections::BTreeMap;

use exp_plugin_api::exp_ir::{ComponentKind, ComponentSchema};
use exp_plugin_api::sdk::{schema, Component, Context, Evaluator, Params, Result};
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

exp_plugin_api::export_plugin! {
    name: "panicky",
    version: "0.1.0",
    evaluators: [Explode],
}
