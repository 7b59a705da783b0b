//! Learning-rate schedules: a multiplier on the optimizer's `lr` at each step of a phase.
//! Each has a linear warmup from 0 over `warmup` steps (the host resolves durations such as
//! `10%` or `1 epoch` to steps before building the schedule), then its own shape over the rest.

use exp_plugin_api::exp_ir::{
    ComponentKind, ComponentSchema, Duration, DurationUnit, ParamType, Value,
};
use exp_plugin_api::sdk::{
    any_duration, param, schema, Component, Context, ParamBuilder, Params, PluginError, Result,
    Scheduler, SchemaBuilder,
};

fn warmup_param() -> exp_plugin_api::exp_ir::ParamSchema {
    param("warmup", any_duration())
        .default(Value::Duration(Duration {
            amount: 0.0,
            unit: DurationUnit::Steps,
        }))
        .doc("linear warmup from 0 at the start of the phase")
}

fn final_param() -> exp_plugin_api::exp_ir::ParamSchema {
    param("final", ParamType::Float)
        .default(Value::Float(0.0))
        .min(0.0)
        .doc("multiplier reached at the end of the phase")
}

fn warmup_steps(params: &Params) -> Result<u64> {
    let warmup = params.duration("warmup")?;
    match warmup.unit {
        DurationUnit::Steps => Ok(warmup.amount.round().max(0.0) as u64),
        _ => Err(PluginError::in_field(
            "warmup",
            "the host should have resolved this duration to steps",
        )),
    }
}

/// Progress through the part of the phase after warmup, in [0, 1], or `None` during warmup
/// (with the warmup multiplier).
fn after_warmup(warmup: u64, step: u64, total: u64) -> Result<f64, f64> {
    if step < warmup {
        return Err((step + 1) as f64 / warmup as f64);
    }
    let span = total.saturating_sub(warmup).max(1) as f64;
    Ok(((step - warmup) as f64 / span).min(1.0))
}

pub struct Constant {
    warmup: u64,
}

impl Component for Constant {
    fn schema() -> ComponentSchema {
        schema(
            ComponentKind::Scheduler,
            "constant",
            "1",
            "constant learning rate after an optional warmup",
        )
        .with(warmup_param())
    }
    fn create(params: &Params, _context: &Context) -> Result<Self> {
        Ok(Constant {
            warmup: warmup_steps(params)?,
        })
    }
}

impl Scheduler for Constant {
    fn multiplier(&self, step: u64, total: u64) -> f64 {
        after_warmup(self.warmup, step, total).map_or_else(|warm| warm, |_| 1.0)
    }
}

pub struct Linear {
    warmup: u64,
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
        .with(warmup_param())
        .with(final_param())
    }
    fn create(params: &Params, _context: &Context) -> Result<Self> {
        Ok(Linear {
            warmup: warmup_steps(params)?,
            end: params.f64("final")?,
        })
    }
}

impl Scheduler for Linear {
    fn multiplier(&self, step: u64, total: u64) -> f64 {
        after_warmup(self.warmup, step, total)
            .map_or_else(|warm| warm, |progress| 1.0 + (self.end - 1.0) * progress)
    }
}

pub struct Cosine {
    warmup: u64,
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
        .with(warmup_param())
        .with(final_param())
    }
    fn create(params: &Params, _context: &Context) -> Result<Self> {
        Ok(Cosine {
            warmup: warmup_steps(params)?,
            end: params.f64("final")?,
        })
    }
}

impl Scheduler for Cosine {
    fn multiplier(&self, step: u64, total: u64) -> f64 {
        after_warmup(self.warmup, step, total).map_or_else(
            |warm| warm,
            |progress| {
                self.end + (1.0 - self.end) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{Constant, Cosine, Linear};
    use exp_plugin_api::sdk::Scheduler;

    #[test]
    fn schedules_match_hand_computed_values() {
        let constant = Constant { warmup: 4 };
        assert_eq!(constant.multiplier(0, 100), 0.25);
        assert_eq!(constant.multiplier(3, 100), 1.0);
        assert_eq!(constant.multiplier(50, 100), 1.0);
        let linear = Linear {
            warmup: 0,
            end: 0.0,
        };
        assert_eq!(linear.multiplier(0, 100), 1.0);
        assert!((linear.multiplier(50, 100) - 0.5).abs() < 1e-12);
        let cosine = Cosine {
            warmup: 10,
            end: 0.0,
        };
        assert!((cosine.multiplier(4, 110) - 0.5).abs() < 1e-12);
        assert!((cosine.multiplier(10, 110) - 1.0).abs() < 1e-12);
        assert!((cosine.multiplier(60, 110) - 0.5).abs() < 1e-12);
        assert!(cosine.multiplier(110, 110).abs() < 1e-12);
    }
}
