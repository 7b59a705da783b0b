//! `linear`: from 1 down (or up) to `final` over the part of the phase after warmup.

use exp_plugin_api::exp_ir::{ComponentKind, ComponentSchema};
use exp_plugin_api::sdk::{schema, Component, Context, Params, Result, Scheduler, SchemaBuilder};

use super::{final_param, Warmup};

pub struct Linear {
    warmup: Warmup,
    end: f64,
}

impl Component for Linear {
    fn schema() -> ComponentSchema {
        schema(
            ComponentKind::Scheduler,
            "linear",
            "1",
            "linear decay from 1 to `final` after warmup",
        )
        .with(Warmup::param())
        .with(final_param())
    }
    fn create(params: &Params, _context: &Context) -> Result<Self> {
        Ok(Linear {
            warmup: Warmup::from_params(params)?,
            end: params.f64("final")?,
        })
    }
}

impl Scheduler for Linear {
    fn multiplier(&self, step: u64, total: u64) -> f64 {
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
        assert_eq!(linear.multiplier(0, 100), 1.0);
        assert!((linear.multiplier(50, 100) - 0.5).abs() < 1e-12);
        let linear = Linear {
            warmup: Warmup::new(10),
            end: 0.5,
        };
        assert!((linear.multiplier(4, 110) - 0.5).abs() < 1e-12);
        assert!((linear.multiplier(60, 110) - 0.75).abs() < 1e-12);
        assert!((linear.multiplier(110, 110) - 0.5).abs() < 1e-12);
    }
}
