//! Schedules: a value at each step of a phase, which a scheduled parameter follows (scaled by
//! the written `lr` when the phase's `schedule:` schedules the learning rate).
//!
//! Every shape shares one warmup: over the first `warmup` steps the multiplier is
//! `(step + 1) / warmup` times the shape's own value, a linear ramp from 0 that meets the shape
//! without a jump. `constant`, `linear`, `cosine` and `step` start after warmup and are exactly 1
//! during it; `piecewise` is placed on the whole phase, so the ramp scales its curve.
//!
//! The host resolves durations such as `10%`, `2 epochs` or `100 steps` (inside lists too) to
//! steps before building a schedule, so shapes see steps only.
//!
//! Shapes: `constant`, `linear` and `cosine` decay over the part of the phase after warmup;
//! `step` multiplies by `gamma` every `every` steps after warmup; `piecewise` goes through
//! points placed at steps of the phase.
pub mod constant;
pub mod cosine;
pub mod linear;
pub mod piecewise;
pub mod step;

pub use constant::Constant;
pub use cosine::Cosine;
pub use linear::Linear;
pub use piecewise::Piecewise;
pub use step::Step;

use exp_plugin_api::sdk::{steps, Config, Duration, DurationUnit, PluginError, Result};

/// The `warmup` parameter every schedule declares (flattened into each schedule's config).
#[derive(Debug, Clone, Config)]
pub struct WarmupConfig {
    /// linear warmup from 0 at the start of the phase
    #[param(default = steps(0.0))]
    pub warmup: Duration,
}

/// The linear warmup every schedule starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Warmup {
    steps: u64,
}

impl Warmup {
    pub fn new(steps: u64) -> Warmup {
        Warmup { steps }
    }

    pub fn from_config(config: &WarmupConfig) -> Result<Warmup> {
        Ok(Warmup::new(resolved_steps("warmup", config.warmup)?))
    }

    /// `shape` scaled by the warmup ramp: `(step + 1) / warmup` during warmup, 1 after it.
    pub fn apply(&self, step: u64, shape: f64) -> f64 {
        if step < self.steps {
            (step + 1) as f64 / self.steps as f64 * shape
        } else {
            shape
        }
    }

    /// Steps since warmup ended, or `None` during warmup, where the shapes that start after
    /// warmup are exactly 1.
    pub fn since_end(&self, step: u64) -> Option<u64> {
        step.checked_sub(self.steps)
    }

    /// Progress through the part of a phase of `total` steps after warmup, in [0, 1], or `None`
    /// during warmup.
    pub fn progress(&self, step: u64, total: u64) -> Option<f64> {
        let span = total.saturating_sub(self.steps).max(1) as f64;
        self.since_end(step)
            .map(|since| (since as f64 / span).min(1.0))
    }
}

/// A duration the host has resolved to steps, as a whole number of steps; `field` names the
/// parameter for the error when it was not resolved.
fn resolved_steps(field: &str, duration: Duration) -> Result<u64> {
    match duration.unit {
        DurationUnit::Steps => Ok(duration.amount.round().max(0.0) as u64),
        _ => Err(PluginError::in_field(
            field,
            "the host should have resolved this duration to steps",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::Warmup;

    #[test]
    fn warmup_ramps_to_the_shape_value_and_progress_starts_after_it() {
        let warmup = Warmup::new(4);
        assert_eq!(warmup.apply(0, 1.0), 0.25);
        assert_eq!(warmup.apply(1, 0.5), 0.25);
        assert_eq!(warmup.apply(3, 0.5), 0.5);
        assert_eq!(warmup.apply(4, 0.5), 0.5);
        assert_eq!(warmup.since_end(3), None);
        assert_eq!(warmup.since_end(4), Some(0));
        assert_eq!(warmup.since_end(10), Some(6));
        assert_eq!(warmup.progress(2, 104), None);
        assert_eq!(warmup.progress(4, 104), Some(0.0));
        assert_eq!(warmup.progress(54, 104), Some(0.5));
        assert_eq!(warmup.progress(500, 104), Some(1.0));
        assert_eq!(Warmup::new(0).apply(0, 0.7), 0.7);
    }
}
