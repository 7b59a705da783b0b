//! `constant`: 1 after warmup.

use exp_plugin_api::exp_ir::{ComponentKind, ComponentSchema};
use exp_plugin_api::sdk::{schema, Component, Context, Params, Result, Scheduler, SchemaBuilder};

use super::Warmup;

pub struct Constant {
    warmup: Warmup,
}

impl Component for Constant {
    fn schema() -> ComponentSchema {
        schema(
            ComponentKind::Scheduler,
            "constant",
            "1",
            "constant learning rate after an optional warmup",
        )
        .with(Warmup::param())
    }
    fn create(params: &Params, _context: &Context) -> Result<Self> {
        Ok(Constant {
            warmup: Warmup::from_params(params)?,
        })
    }
}

impl Scheduler for Constant {
    fn multiplier(&self, step: u64, _total: u64) -> f64 {
        self.warmup.apply(step, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::{Constant, Warmup};
    use exp_plugin_api::sdk::Scheduler;

    #[test]
    fn constant_is_one_after_warmup() {
        let constant = Constant {
            warmup: Warmup::new(4),
        };
        assert_eq!(constant.multiplier(0, 100), 0.25);
        assert_eq!(constant.multiplier(3, 100), 1.0);
        assert_eq!(constant.multiplier(50, 100), 1.0);
    }
}
