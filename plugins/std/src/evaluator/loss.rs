//! `loss`: mean cross-entropy of the model's class scores against the targets.

use std::collections::BTreeMap;

use exp_plugin_api::sdk::{Component, Context, Evaluator, NoParams, Result};
use exp_plugin_api::tch::{Kind, Reduction, Tensor};

pub struct Loss {
    sum: f64,
    count: i64,
}

impl Component for Loss {
    type Config = NoParams;
    const NAME: &'static str = "loss";
    const VERSION: &'static str = "1";
    const DOC: &'static str = "mean cross-entropy over the evaluated examples";

    fn create(_config: NoParams, _context: &Context) -> Result<Self> {
        Ok(Loss { sum: 0.0, count: 0 })
    }
}

impl Evaluator for Loss {
    fn reset(&mut self) {
        self.sum = 0.0;
        self.count = 0;
    }

    fn update(&mut self, output: &Tensor, target: &Tensor) -> Result<()> {
        let total = output.to_kind(Kind::Float).f_cross_entropy_loss::<Tensor>(
            target,
            None,
            Reduction::Sum,
            -100,
            0.0,
        )?;
        self.sum += f64::try_from(&total)?;
        self.count += target.size()[0];
        Ok(())
    }

    fn compute(&self) -> BTreeMap<String, f64> {
        let value = if self.count == 0 {
            f64::NAN
        } else {
            self.sum / self.count as f64
        };
        BTreeMap::from([("loss".to_string(), value)])
    }
}
