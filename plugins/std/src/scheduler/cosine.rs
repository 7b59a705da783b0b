//! `cosine`: a half cosine from 1 to `final` over the part of the phase after warmup.

use exp_plugin_api::exp_ir::{ComponentKind, ComponentSchema};
use exp_plugin_api::sdk::{schema, Component, Context, Params, Result, Scheduler, SchemaBuilder};

use super::{final_param, Warmup};

pub struct Cosine {
    warmup: Warmup,
    end: f64,
}

impl Component for Cosine {
    fn schema() -> ComponentSchema {
        schema(
            ComponentKind::Scheduler,
            "cosine",
            "1",
            "half-cosine decay from 1 to `final` after warmup",
        )
        .with(Warmup::param())
        .with(final_param())
    }
    fn create(params: &Params, _context: &Context) -> Result<Self> {
        Ok(Cosine {
            warmup: Warmup::from_params(params)?,
            end: params.f64("final")?,
        })
    }
}

impl Scheduler for Cosine {
    fn multiplier(&self, step: u64, total: u64) -> f64 {
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
        assert!((cosine.multiplier(4, 110) - 0.5).abs() < 1e-12);
        assert!((cosine.multiplier(10, 110) - 1.0).abs() < 1e-12);
        assert!((cosine.multiplier(60, 110) - 0.5).abs() < 1e-12);
        assert!(cosine.multiplier(110, 110).abs() < 1e-12);
        // During warmup the ramp alone, exactly, whatever `final` is.
        let rising = Cosine {
            warmup: Warmup::new(4),
            end: 2.7,
        };
        assert_eq!(rising.multiplier(1, 100), 0.5);
    }
}
