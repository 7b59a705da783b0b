//! `cosine`: a half cosine from 1 to `final` over the part of the phase after warmup.

use exp_plugin_api::sdk::{Component, Config, Context, Result, Scheduler};

use super::{Warmup, WarmupConfig};

#[derive(Debug, Clone, Config)]
pub struct CosineConfig {
    #[param(flatten)]
    pub warmup: WarmupConfig,
    /// value reached at the end of the phase
    #[param(name = "final", default = 0.0, min = 0.0)]
    pub end: f64,
}

pub struct Cosine {
    warmup: Warmup,
    end: f64,
}

impl Component for Cosine {
    type Config = CosineConfig;
    const NAME: &'static str = "cosine";
    const VERSION: &'static str = "1";
    const DOC: &'static str = "half-cosine decay from 1 to `final` after warmup";

    fn create(config: CosineConfig, _context: &Context) -> Result<Self> {
        Ok(Cosine {
            warmup: Warmup::from_config(&config.warmup)?,
            end: config.end,
        })
    }
}

impl Scheduler for Cosine {
    fn value(&self, step: u64, total: u64) -> f64 {
        let shape = self.warmup.progress(step, total).map_or(1.0, |progress| {
            self.end + (1.0 - self.end) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
        });
        self.warmup.apply(step, shape)
    }
}

#[cfg(test)]
mod tests {
    use super::{Cosine, Warmup};
    use exp_plugin_api::sdk::Scheduler;

    #[test]
    fn cosine_is_half_way_at_mid_phase() {
        let cosine = Cosine {
            warmup: Warmup::new(10),
            end: 0.0,
        };
        assert!((cosine.value(4, 110) - 0.5).abs() < 1e-12);
        assert!((cosine.value(10, 110) - 1.0).abs() < 1e-12);
        assert!((cosine.value(60, 110) - 0.5).abs() < 1e-12);
        assert!(cosine.value(110, 110).abs() < 1e-12);
        // During warmup the ramp alone, exactly, whatever `final` is.
        let rising = Cosine {
            warmup: Warmup::new(4),
            end: 2.7,
        };
        assert_eq!(rising.value(1, 100), 0.5);
    }
}
