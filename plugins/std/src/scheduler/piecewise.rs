//! `piecewise`: a value through points `(at[i], values[i])` placed at steps of the phase,
//! linear between neighbouring points (or holding each point's value until the next with
//! `interpolate: false`). Before the first point the first value holds, after the last the
//! last. `at` is measured from the start of the phase, warmup included; the warmup ramp scales
//! the curve like every other shape's.

use exp_plugin_api::sdk::{Component, Config, Context, Duration, PluginError, Result, Scheduler};

use super::{resolved_steps, Warmup, WarmupConfig};

#[derive(Debug, Clone, Config)]
pub struct PiecewiseConfig {
    #[param(flatten)]
    pub warmup: WarmupConfig,
    /// where the points are, increasing, from the start of the phase
    pub at: Vec<Duration>,
    /// the value at each point of `at`
    #[param(min = 0.0)]
    pub values: Vec<f64>,
    /// linear between points; false holds each value until the next point
    #[param(default = true)]
    pub interpolate: bool,
}

pub struct Piecewise {
    warmup: Warmup,
    /// Strictly increasing steps.
    at: Vec<u64>,
    /// One value per point.
    values: Vec<f64>,
    interpolate: bool,
}

impl Component for Piecewise {
    type Config = PiecewiseConfig;
    const NAME: &'static str = "piecewise";
    const VERSION: &'static str = "1";
    const DOC: &'static str = "piecewise-linear (or constant) values through points `at`, `values`";

    /// One value per point, at least one point, and points that increase where their units
    /// let them be compared before a phase resolves them.
    fn check(config: &PiecewiseConfig) -> Result<()> {
        check_points(&config.at, &config.values)?;
        let same_unit = config
            .at
            .windows(2)
            .find(|pair| pair[0].unit == pair[1].unit && pair[0].amount >= pair[1].amount);
        match same_unit {
            Some(pair) => Err(PluginError::in_field(
                "at",
                format!(
                    "points must increase, but {} is followed by {}",
                    pair[0], pair[1]
                ),
            )),
            None => Ok(()),
        }
    }

    fn create(config: PiecewiseConfig, _context: &Context) -> Result<Self> {
        Piecewise::new(
            Warmup::from_config(&config.warmup)?,
            &config.at,
            &config.values,
            config.interpolate,
        )
    }
}

/// At least one point, and one value per point.
fn check_points(at: &[Duration], values: &[f64]) -> Result<()> {
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
    Ok(())
}

impl Scheduler for Piecewise {
    fn value(&self, step: u64, _total: u64) -> f64 {
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
        check_points(at, values)?;
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
    use super::{Piecewise, PiecewiseConfig, Warmup, WarmupConfig};
    use exp_plugin_api::sdk::{fraction, Component, Context, Duration, DurationUnit, Scheduler};

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
    fn piecewise_checks_lengths_and_comparable_orders_before_a_phase() {
        let config = |at: Vec<Duration>, values: Vec<f64>| PiecewiseConfig {
            warmup: WarmupConfig {
                warmup: exp_plugin_api::sdk::steps(0.0),
            },
            at,
            values,
            interpolate: true,
        };
        let field = |config: PiecewiseConfig| Piecewise::check(&config).err().and_then(|e| e.field);
        assert_eq!(
            field(config(
                vec![fraction(0.0), fraction(0.5)],
                vec![1.0, 0.5, 0.1]
            ))
            .as_deref(),
            Some("values")
        );
        assert_eq!(field(config(Vec::new(), Vec::new())).as_deref(), Some("at"));
        assert_eq!(
            field(config(vec![fraction(0.5), fraction(0.2)], vec![1.0, 0.5])).as_deref(),
            Some("at")
        );
        // Points in different units can only be compared once a phase resolves them.
        assert_eq!(
            field(config(
                vec![fraction(0.5), exp_plugin_api::sdk::steps(10.0)],
                vec![1.0, 0.5]
            )),
            None
        );
        let context = Context {
            seed: 0,
            device: "cpu".into(),
            data: None,
        };
        let curve =
            Piecewise::create(config(steps(&[0.0, 10.0]), vec![1.0, 0.5]), &context).unwrap();
        assert_eq!(curve.value(5, 20), 0.75);
    }
}
