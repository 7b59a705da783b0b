//! `step`: after warmup the multiplier is `gamma^floor((step - warmup) / every)`, so it drops
//! by a factor `gamma` every `every` steps (the first drop `every` steps after warmup ends).

use exp_plugin_api::exp_ir::{ComponentKind, ComponentSchema, ParamType, Value};
use exp_plugin_api::sdk::{
    any_duration, param, schema, Component, Context, ParamBuilder, Params, PluginError, Result,
    Scheduler, SchemaBuilder,
};

use super::{resolved_steps, Warmup};

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
        if !(gamma > 0.0 && gamma <= 1.0) {
            return Err(PluginError::in_field(
                "gamma",
                format!("must be in (0, 1], found {gamma}"),
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
    fn schema() -> ComponentSchema {
        schema(
            ComponentKind::Scheduler,
            "step",
            "1",
            "multiply by `gamma` every `every` steps after warmup",
        )
        .with(Warmup::param())
        .with(
            param("every", any_duration())
                .doc("time between two drops, counted from the end of warmup"),
        )
        .with(
            param("gamma", ParamType::Float)
                .default(Value::Float(0.1))
                .min(0.0)
                .max(1.0)
                .doc("factor applied at each drop, in (0, 1]"),
        )
    }
    fn create(params: &Params, _context: &Context) -> Result<Self> {
        Step::new(
            Warmup::from_params(params)?,
            resolved_steps("every", params.duration("every")?)?,
            params.f64("gamma")?,
        )
    }
}

impl Scheduler for Step {
    fn multiplier(&self, step: u64, _total: u64) -> f64 {
        let shape = self.warmup.since_end(step).map_or(1.0, |since| {
            self.gamma
                .powi(i32::try_from(since / self.every).unwrap_or(i32::MAX))
        });
        self.warmup.apply(step, shape)
    }
}

#[cfg(test)]
mod tests {
    use super::{Step, Warmup};
    use exp_plugin_api::sdk::{Component, Context, Params, Scheduler};
    use exp_plugin_api::serde_json::{json, Value};

    fn params(value: Value) -> Params {
        Params::new(value.as_object().unwrap().clone())
    }

    fn steps(amount: f64) -> Value {
        json!({"amount": amount, "unit": "steps"})
    }

    #[test]
    fn step_drops_by_gamma_every_period_after_warmup() {
        let step = Step::new(Warmup::new(0), 10, 0.5).unwrap();
        assert_eq!(step.multiplier(0, 100), 1.0);
        assert_eq!(step.multiplier(9, 100), 1.0);
        assert_eq!(step.multiplier(10, 100), 0.5);
        assert_eq!(step.multiplier(19, 100), 0.5);
        assert_eq!(step.multiplier(20, 100), 0.25);
        assert_eq!(step.multiplier(35, 100), 0.125);

        // Warmup of 4 steps: ramp 0.25, 0.5, 0.75, 1; periods counted from step 4.
        let step = Step::new(Warmup::new(4), 10, 0.1).unwrap();
        assert_eq!(step.multiplier(0, 100), 0.25);
        assert_eq!(step.multiplier(2, 100), 0.75);
        assert_eq!(step.multiplier(4, 100), 1.0);
        assert_eq!(step.multiplier(13, 100), 1.0);
        assert!((step.multiplier(14, 100) - 0.1).abs() < 1e-15);
        assert!((step.multiplier(24, 100) - 0.01).abs() < 1e-15);
    }

    #[test]
    fn step_reads_resolved_durations_and_refuses_bad_values() {
        let context = Context {
            seed: 0,
            device: "cpu".into(),
            data: None,
        };
        let step = Step::create(
            &params(json!({"warmup": steps(2.0), "every": steps(3.0), "gamma": 0.5})),
            &context,
        )
        .unwrap();
        assert_eq!(step.multiplier(4, 10), 1.0);
        assert_eq!(step.multiplier(5, 10), 0.5);
        let error = Step::create(
            &params(json!({"warmup": steps(0.0), "every": steps(0.0), "gamma": 0.5})),
            &context,
        )
        .err()
        .unwrap();
        assert_eq!(error.field.as_deref(), Some("every"));
        let error = Step::create(
            &params(json!({"warmup": steps(0.0), "every": steps(5.0), "gamma": 0.0})),
            &context,
        )
        .err()
        .unwrap();
        assert_eq!(error.field.as_deref(), Some("gamma"));
        let unresolved = json!({"amount": 0.5, "unit": "fraction"});
        let error = Step::create(
            &params(json!({"warmup": steps(0.0), "every": unresolved, "gamma": 0.5})),
            &context,
        )
        .err()
        .unwrap();
        assert_eq!(error.field.as_deref(), Some("every"));
    }
}
