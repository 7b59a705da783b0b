//! `piecewise`: a multiplier through points `(at[i], values[i])` placed at steps of the phase,
//! linear between neighbouring points (or holding each point's value until the next with
//! `interpolate: false`). Before the first point the first value holds, after the last the
//! last. `at` is measured from the start of the phase, warmup included; the warmup ramp scales
//! the curve like every other shape's.

use exp_plugin_api::exp_ir::{ComponentKind, ComponentSchema, Duration, ParamType, Value};
use exp_plugin_api::sdk::{
    any_duration, param, schema, Component, Context, ParamBuilder, Params, PluginError, Result,
    Scheduler, SchemaBuilder,
};

use super::{resolved_steps, Warmup};

pub struct Piecewise {
    warmup: Warmup,
    /// Strictly increasing steps.
    at: Vec<u64>,
    /// One value per point.
    values: Vec<f64>,
    interpolate: bool,
}

impl Component for Piecewise {
    fn schema() -> ComponentSchema {
        schema(
            ComponentKind::Scheduler,
            "piecewise",
            "1",
            "piecewise-linear (or constant) multiplier through points `at`, `values`",
        )
        .with(Warmup::param())
        .with(
            param("at", ParamType::List(Box::new(any_duration())))
                .doc("where the points are, increasing, from the start of the phase"),
        )
        .with(
            param("values", ParamType::List(Box::new(ParamType::Float)))
                .min(0.0)
                .doc("the multiplier at each point of `at`"),
        )
        .with(
            param("interpolate", ParamType::Bool)
                .default(Value::Bool(true))
                .doc("linear between points; false holds each value until the next point"),
        )
    }

    fn create(params: &Params, _context: &Context) -> Result<Self> {
        Piecewise::new(
            Warmup::from_params(params)?,
            &params.duration_list("at")?,
            &params.f64_list("values")?,
            params.bool("interpolate")?,
        )
    }
}

impl Scheduler for Piecewise {
    fn multiplier(&self, step: u64, _total: u64) -> f64 {
        self.value_at(step)
    }
}

impl Piecewise {
    /// Checks the points: `at` and `values` of one non-zero length, `at` (resolved to steps)
    /// strictly increasing.
    pub fn new(
        warmup: Warmup,
        at: &[Duration],
        values: &[f64],
        interpolate: bool,
    ) -> Result<Piecewise> {
        if at.is_empty() {
            return Err(PluginError::in_field("at", "needs at least one point"));
        }
        if values.len() != at.len() {
            return Err(PluginError::in_field(
                "values",
                format!(
                    "has {} values for the {} points of `at`; give one value per point",
                    values.len(),
                    at.len()
                ),
            ));
        }
        let at = at
            .iter()
            .map(|point| resolved_steps("at", *point))
            .collect::<Result<Vec<u64>>>()?;
        if let Some(pair) = at.windows(2).find(|pair| pair[0] >= pair[1]) {
            return Err(PluginError::in_field(
                "at",
                format!(
                    "points must increase, but step {} is followed by step {} in this phase",
                    pair[0], pair[1]
                ),
            ));
        }
        Ok(Piecewise {
            warmup,
            at,
            values: values.to_vec(),
            interpolate,
        })
    }

    /// The curve at `step`, before the warmup ramp.
    fn curve(&self, step: u64) -> f64 {
        // Index of the first point after `step`.
        let next = self.at.partition_point(|point| *point <= step);
        if next == 0 {
            return self.values[0];
        }
        if next == self.at.len() {
            return self.values[next - 1];
        }
        let (start, end) = (self.at[next - 1], self.at[next]);
        let (from, to) = (self.values[next - 1], self.values[next]);
        if self.interpolate {
            from + (to - from) * (step - start) as f64 / (end - start) as f64
        } else {
            from
        }
    }

    /// The multiplier at `step`: the curve scaled by the warmup ramp.
    pub fn value_at(&self, step: u64) -> f64 {
        self.warmup.apply(step, self.curve(step))
    }
}

#[cfg(test)]
mod tests {
    use super::{Piecewise, Warmup};
    use exp_plugin_api::exp_ir::{Duration, DurationUnit};
    use exp_plugin_api::sdk::{Component, Context, Params, Scheduler};
    use exp_plugin_api::serde_json::json;

    fn steps(points: &[f64]) -> Vec<Duration> {
        points
            .iter()
            .map(|amount| Duration {
                amount: *amount,
                unit: DurationUnit::Steps,
            })
            .collect()
    }

    #[test]
    fn piecewise_interpolates_between_points_and_holds_outside_them() {
        let curve = Piecewise::new(
            Warmup::new(0),
            &steps(&[10.0, 20.0, 40.0]),
            &[1.0, 0.5, 0.1],
            true,
        )
        .unwrap();
        assert_eq!(curve.value_at(0), 1.0);
        assert_eq!(curve.value_at(10), 1.0);
        assert_eq!(curve.value_at(15), 0.75);
        assert_eq!(curve.value_at(20), 0.5);
        assert!((curve.value_at(30) - 0.3).abs() < 1e-12);
        assert!((curve.value_at(39) - 0.12).abs() < 1e-12);
        assert_eq!(curve.value_at(40), 0.1);
        assert_eq!(curve.value_at(1000), 0.1);
    }

    #[test]
    fn piecewise_without_interpolation_holds_each_value_until_the_next_point() {
        let curve = Piecewise::new(
            Warmup::new(0),
            &steps(&[10.0, 20.0, 40.0]),
            &[1.0, 0.5, 0.1],
            false,
        )
        .unwrap();
        assert_eq!(curve.value_at(9), 1.0);
        assert_eq!(curve.value_at(19), 1.0);
        assert_eq!(curve.value_at(20), 0.5);
        assert_eq!(curve.value_at(39), 0.5);
        assert_eq!(curve.value_at(40), 0.1);
    }

    #[test]
    fn piecewise_warmup_scales_the_curve() {
        // Warmup 4: ramp 0.25, 0.5, 0.75, then 1; the curve goes 2 → 0 over steps 0..=8.
        let curve = Piecewise::new(Warmup::new(4), &steps(&[0.0, 8.0]), &[2.0, 0.0], true).unwrap();
        assert_eq!(curve.value_at(0), 0.25 * 2.0);
        assert_eq!(curve.value_at(2), 0.75 * 1.5);
        assert_eq!(curve.value_at(4), 1.0);
        assert_eq!(curve.value_at(6), 0.5);
        assert_eq!(curve.value_at(8), 0.0);
        // One point: constant.
        let flat = Piecewise::new(Warmup::new(0), &steps(&[5.0]), &[0.3], true).unwrap();
        assert_eq!(flat.value_at(0), 0.3);
        assert_eq!(flat.value_at(99), 0.3);
    }

    #[test]
    fn piecewise_refuses_bad_points() {
        let field = |at: &[f64], values: &[f64]| {
            Piecewise::new(Warmup::new(0), &steps(at), values, true)
                .err()
                .and_then(|error| error.field)
        };
        assert_eq!(field(&[], &[]).as_deref(), Some("at"));
        assert_eq!(field(&[0.0, 10.0], &[1.0]).as_deref(), Some("values"));
        assert_eq!(field(&[0.0], &[1.0, 2.0]).as_deref(), Some("values"));
        assert_eq!(field(&[10.0, 10.0], &[1.0, 2.0]).as_deref(), Some("at"));
        assert_eq!(field(&[10.0, 5.0], &[1.0, 2.0]).as_deref(), Some("at"));
        let unresolved = [Duration {
            amount: 0.5,
            unit: DurationUnit::Fraction,
        }];
        let error = Piecewise::new(Warmup::new(0), &unresolved, &[1.0], true).err();
        assert_eq!(error.and_then(|error| error.field).as_deref(), Some("at"));
    }

    #[test]
    fn piecewise_reads_resolved_points() {
        let context = Context {
            seed: 0,
            device: "cpu".into(),
            data: None,
        };
        let at = |amount: f64| json!({"amount": amount, "unit": "steps"});
        let values = json!({
            "warmup": at(0.0), "at": [at(0.0), at(10.0)], "values": [1, 0.5], "interpolate": true,
        });
        let curve =
            Piecewise::create(&Params::new(values.as_object().unwrap().clone()), &context).unwrap();
        assert_eq!(curve.multiplier(5, 20), 0.75);
        let values = json!({
            "warmup": at(0.0), "at": [at(0.0)], "values": [1, 0.5], "interpolate": true,
        });
        let error = Piecewise::create(&Params::new(values.as_object().unwrap().clone()), &context);
        assert_eq!(
            error.err().and_then(|error| error.field).as_deref(),
            Some("values")
        );
    }
}
