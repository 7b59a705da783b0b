//! `linear`: from 1 down (or up) to `final` over the part of the phase after warmup.

use exp_plugin_api::sdk::{Component, Config, Context, Result, Scheduler};

use super::{Warmup, WarmupConfig};

#[derive(Debug, Clone, Config)]
pub struct LinearConfig {
    #[param(flatten)]
    pub warmup: WarmupConfig,
    /// value reached at the end of the phase
    #[param(name = "final", default = 0.0, min = 0.0)]
    pub end: f64,
}

pub struct Linear {
    warmup: Warmup,
    end: f64,
}

impl Component for Linear {
    type Config = LinearConfig;
    const NAME: &'static str = "linear";
    const VERSION: &'static str = "1";
    const DOC: &'static str = "linear decay from 1 to `final` after warmup";

    fn create(config: LinearConfig, _context: &Context) -> Result<Self> {
        Ok(Linear {
            warmup: Warmup::from_config(&config.warmup)?,
            end: config.end,
        })
    }
}

impl Scheduler for Linear {
    fn value(&self, step: u64, total: u64) -> f64 {
        let shape = self
            .warmup
            .progress(step, total)
            .map_or(1.0, |progress| 1.0 + (self.end - 1.0) * progress);
        self.warmup.apply(step, shape)
    }
}

#[cfg(test)]
mod tests {
    use super::{Linear, Warmup};
    use exp_plugin_api::sdk::Scheduler;

    #[test]
    fn linear_decays_to_final_after_warmup() {
        let linear = Linear {
            warmup: Warmup::new(0),
            end: 0.0,
        };
        assert_eq!(linear.value(0, 100), 1.0);
        assert!((linear.value(50, 100) - 0.5).abs() < 1e-12);
        let linear = Linear {
            warmup: Warmup::new(10),
            end: 0.5,
        };
        assert!((linear.value(4, 110) - 0.5).abs() < 1e-12);
        assert!((linear.value(60, 110) - 0.75).abs() < 1e-12);
        assert!((linear.value(110, 110) - 0.5).abs() < 1e-12);
    }
}
