//! `step`: after warmup the value is `gamma^floor((step - warmup) / every)`, so it drops
//! by a factor `gamma` every `every` steps (the first drop `every` steps after warmup ends).

use exp_plugin_api::sdk::{Component, Config, Context, Duration, PluginError, Result, Scheduler};

use super::{resolved_steps, Warmup, WarmupConfig};

#[derive(Debug, Clone, Config)]
pub struct StepConfig {
    #[param(flatten)]
    pub warmup: WarmupConfig,
    /// time between two drops, counted from the end of warmup
    pub every: Duration,
    /// factor applied at each drop
    #[param(default = 0.1, above = 0.0, max = 1.0)]
    pub gamma: f64,
}

pub struct Step {
    warmup: Warmup,
    every: u64,
    gamma: f64,
}

impl Step {
    pub fn new(warmup: Warmup, every: u64, gamma: f64) -> Result<Step> {
        if every == 0 {
            return Err(PluginError::in_field(
                "every",
                "resolves to 0 steps in this phase; it must be at least 1 step",
            ));
        }
        Ok(Step {
            warmup,
            every,
            gamma,
        })
    }
}

impl Component for Step {
    type Config = StepConfig;
    const NAME: &'static str = "step";
    const VERSION: &'static str = "1";
    const DOC: &'static str = "multiply by `gamma` every `every` steps after warmup";

    /// A drop interval of no time at all can never be reached.
    fn check(config: &StepConfig) -> Result<()> {
        if config.every.amount > 0.0 {
            Ok(())
        } else {
            Err(PluginError::in_field(
                "every",
                "must be longer than zero: it is the time between two drops",
            ))
        }
    }

    fn create(config: StepConfig, _context: &Context) -> Result<Self> {
        Step::new(
            Warmup::from_config(&config.warmup)?,
            resolved_steps("every", config.every)?,
            config.gamma,
        )
    }
}

impl Scheduler for Step {
    fn value(&self, step: u64, _total: u64) -> f64 {
        let shape = self.warmup.since_end(step).map_or(1.0, |since| {
            self.gamma
                .powi(i32::try_from(since / self.every).unwrap_or(i32::MAX))
        });
        self.warmup.apply(step, shape)
    }
}

#[cfg(test)]
mod tests {
    use super::{Step, StepConfig, Warmup, WarmupConfig};
    use exp_plugin_api::sdk::{fraction, steps, Component, Context, Duration, Scheduler};

    #[test]
    fn step_drops_by_gamma_every_period_after_warmup() {
        let step = Step::new(Warmup::new(0), 10, 0.5).unwrap();
        assert_eq!(step.value(0, 100), 1.0);
        assert_eq!(step.value(9, 100), 1.0);
        assert_eq!(step.value(10, 100), 0.5);
        assert_eq!(step.value(19, 100), 0.5);
        assert_eq!(step.value(20, 100), 0.25);
        assert_eq!(step.value(35, 100), 0.125);

        // Warmup of 4 steps: ramp 0.25, 0.5, 0.75, 1; periods counted from step 4.
        let step = Step::new(Warmup::new(4), 10, 0.1).unwrap();
        assert_eq!(step.value(0, 100), 0.25);
        assert_eq!(step.value(2, 100), 0.75);
        assert_eq!(step.value(4, 100), 1.0);
        assert_eq!(step.value(13, 100), 1.0);
        assert!((step.value(14, 100) - 0.1).abs() < 1e-15);
        assert!((step.value(24, 100) - 0.01).abs() < 1e-15);
    }

    #[test]
    fn step_reads_resolved_durations_and_refuses_bad_values() {
        let context = Context {
            seed: 0,
            device: "cpu".into(),
            data: None,
        };
        let config = |every: Duration, gamma: f64| StepConfig {
            warmup: WarmupConfig { warmup: steps(2.0) },
            every,
            gamma,
        };
        let step = Step::create(config(steps(3.0), 0.5), &context).unwrap();
        assert_eq!(step.value(4, 10), 1.0);
        assert_eq!(step.value(5, 10), 0.5);
        // A fraction that rounds to no step in this phase.
        let error = Step::create(config(steps(0.0), 0.5), &context)
            .err()
            .unwrap();
        assert_eq!(error.field.as_deref(), Some("every"));
        let unresolved = fraction(0.5);
        let error = Step::create(config(unresolved, 0.5), &context)
            .err()
            .unwrap();
        assert_eq!(error.field.as_deref(), Some("every"));
        // `exp check` refuses no time at all, before any phase resolves it.
        let error = Step::check(&config(fraction(0.0), 0.5)).err().unwrap();
        assert_eq!(error.field.as_deref(), Some("every"));
        assert!(Step::check(&config(fraction(0.1), 0.5)).is_ok());
    }

    #[test]
    fn gamma_excludes_zero_in_the_schema() {
        let schema = exp_plugin_api::sdk::schema_of::<Step>(
            exp_plugin_api::exp_ir::ComponentKind::Scheduler,
        );
        let gamma = schema.param("gamma").unwrap();
        assert_eq!((gamma.min, gamma.min_exclusive), (Some(0.0), true));
        assert_eq!((gamma.max, gamma.max_exclusive), (Some(1.0), false));
        assert!(gamma
            .validate(&exp_plugin_api::exp_ir::Value::Float(0.0))
            .is_err());
        assert!(gamma
            .validate(&exp_plugin_api::exp_ir::Value::Float(1.0))
            .is_ok());
    }
}
