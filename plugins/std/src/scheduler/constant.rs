//! `constant`: 1 after warmup.

use exp_plugin_api::sdk::{Component, Config, Context, Result, Scheduler};

use super::{Warmup, WarmupConfig};

#[derive(Debug, Clone, Config)]
pub struct ConstantConfig {
    #[param(flatten)]
    pub warmup: WarmupConfig,
}

pub struct Constant {
    warmup: Warmup,
}

impl Component for Constant {
    type Config = ConstantConfig;
    const NAME: &'static str = "constant";
    const VERSION: &'static str = "1";
    const DOC: &'static str = "constant value 1 after an optional warmup";

    fn create(config: ConstantConfig, _context: &Context) -> Result<Self> {
        Ok(Constant {
            warmup: Warmup::from_config(&config.warmup)?,
        })
    }
}

impl Scheduler for Constant {
    fn value(&self, step: u64, _total: u64) -> f64 {
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
        assert_eq!(constant.value(0, 100), 0.25);
        assert_eq!(constant.value(3, 100), 1.0);
        assert_eq!(constant.value(50, 100), 1.0);
    }
}
