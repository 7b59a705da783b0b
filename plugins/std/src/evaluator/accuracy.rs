//! `accuracy`: the fraction of examples whose highest-scoring class is the target.

use std::collections::BTreeMap;

use exp_plugin_api::sdk::{Component, Context, Evaluator, NoParams, Result};
use exp_plugin_api::tch::{Kind, Tensor};

pub struct Accuracy {
    correct: i64,
    total: i64,
}

impl Component for Accuracy {
    type Config = NoParams;
    const NAME: &'static str = "accuracy";
    const VERSION: &'static str = "1";
    const DOC: &'static str = "fraction of examples classified correctly";

    fn create(_config: NoParams, _context: &Context) -> Result<Self> {
        Ok(Accuracy {
            correct: 0,
            total: 0,
        })
    }
}

impl Evaluator for Accuracy {
    fn reset(&mut self) {
        self.correct = 0;
        self.total = 0;
    }

    fn update(&mut self, output: &Tensor, target: &Tensor) -> Result<()> {
        let predicted = output.f_argmax(-1, false)?;
        let correct = predicted.f_eq_tensor(target)?.f_sum(Kind::Int64)?;
        self.correct += i64::try_from(&correct)?;
        self.total += target.size()[0];
        Ok(())
    }

    fn compute(&self) -> BTreeMap<String, f64> {
        let value = if self.total == 0 {
            0.0
        } else {
            self.correct as f64 / self.total as f64
        };
        BTreeMap::from([("accuracy".to_string(), value)])
    }
}
