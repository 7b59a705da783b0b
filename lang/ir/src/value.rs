//! Values as written in a `.exp` file, after name resolution.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::graph::ComponentRef;

/// A resolved value. Parameters of components and fields of definitions hold these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Value {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    List(Vec<Value>),
    Duration(Duration),
    /// A nested parameter block `{ key: value }`.
    Record(BTreeMap<String, Value>),
    /// A number that follows a schedule through a training phase.
    Schedule(Box<Schedule>),
}

/// A parameter's value that changes over a training phase: `scale × curve(step)`. The runtime
/// builds `curve` (a scheduler component, its durations resolved to steps of the phase), gives
/// the component the value at the phase's first step when building it, and every later value
/// as the step reaches it. Outside a training phase the value at the start is used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub curve: ComponentRef,
    /// The curve's values are multiplied by it: an optimizer's written `lr` when the phase's
    /// `schedule:` field schedules it (the curve is then a multiplier), else 1.
    pub scale: f64,
}

/// A span of training time: `500 steps`, `3 epochs`, `20%` (of the enclosing phase).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Duration {
    pub amount: f64,
    pub unit: DurationUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DurationUnit {
    Steps,
    Epochs,
    /// Tokens of training data: one token is one element of an input example (a sequence of
    /// 128 token ids is 128 tokens; an 8×8 image is 64), so a step of batch `b` sees
    /// `b × elements per example` tokens.
    Tokens,
    /// A fraction of the enclosing phase; `amount` is in [0, 1] (`20%` is stored as 0.2).
    Fraction,
}

/// What a duration is measured against: the phase's length and how much one step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    pub phase_steps: u64,
    pub steps_per_epoch: u64,
    pub tokens_per_step: u64,
}

impl Duration {
    /// Resolves this duration to a whole number of optimizer steps of a phase. Rounds to the
    /// nearest step.
    pub fn to_steps(&self, clock: &Clock) -> u64 {
        let steps = match self.unit {
            DurationUnit::Steps => self.amount,
            DurationUnit::Epochs => self.amount * clock.steps_per_epoch as f64,
            DurationUnit::Tokens => self.amount / clock.tokens_per_step.max(1) as f64,
            DurationUnit::Fraction => self.amount * clock.phase_steps as f64,
        };
        steps.round().max(0.0) as u64
    }
}

impl Value {
    /// The value as a float, accepting integers too (a float parameter may be written `1`).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A word for the value's type, for diagnostics ("expected a float, found a string").
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Bool(_) => "boolean",
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Duration(_) => "duration",
            Value::Record(_) => "parameter block",
            Value::Schedule(_) => "schedule",
        }
    }

    /// Converts to plain JSON (numbers, strings, arrays, objects), for records and messages.
    /// A duration becomes `{"amount": a, "unit": "steps" | "epochs" | "fraction"}`; a schedule
    /// `{"schedule": name, "params": {..}, "scale": s}`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Int(i) => J::from(*i),
            Value::Float(f) => J::from(*f),
            Value::Bool(b) => J::from(*b),
            Value::Str(s) => J::from(s.clone()),
            Value::List(items) => J::Array(items.iter().map(Value::to_json).collect()),
            Value::Duration(d) => serde_json::json!({
                "amount": d.amount,
                "unit": d.unit,
            }),
            Value::Record(fields) => J::Object(
                fields
                    .iter()
                    .map(|(key, value)| (key.clone(), value.to_json()))
                    .collect(),
            ),
            Value::Schedule(schedule) => serde_json::json!({
                "schedule": schedule.curve.name,
                "params": schedule.curve.params_json(),
                "scale": schedule.scale,
            }),
        }
    }
}

impl fmt::Display for Value {
    /// Writes the value back in `.exp` syntax.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::List(items) => {
                write!(f, "[")?;
                for (idx, item) in items.iter().enumerate() {
                    if idx > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{item}")?;
                }
                write!(f, "]")
            }
            Value::Duration(d) => write!(f, "{d}"),
            Value::Record(fields) => write_block(f, fields),
            Value::Schedule(schedule) => {
                if schedule.scale != 1.0 {
                    write!(f, "{:?} × ", schedule.scale)?;
                }
                write!(f, "{}", schedule.curve.name)?;
                if !schedule.curve.params.is_empty() {
                    write!(f, " ")?;
                    write_block(f, &schedule.curve.params)?;
                }
                Ok(())
            }
        }
    }
}

/// `{ key: value, .. }` in `.exp` syntax.
fn write_block(f: &mut fmt::Formatter<'_>, fields: &BTreeMap<String, Value>) -> fmt::Result {
    write!(f, "{{ ")?;
    for (idx, (key, value)) in fields.iter().enumerate() {
        if idx > 0 {
            write!(f, ", ")?;
        }
        write!(f, "{key}: {value}")?;
    }
    write!(f, " }}")
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.unit {
            DurationUnit::Steps => write!(f, "{} steps", self.amount),
            DurationUnit::Epochs => write!(f, "{} epochs", self.amount),
            DurationUnit::Tokens => write!(f, "{} tokens", self.amount),
            DurationUnit::Fraction => write!(f, "{}%", self.amount * 100.0),
        }
    }
}

/// Parameters with each scheduled one at its scale (the number written, or 1), for what sees
/// them outside a phase, where a schedule has no value yet: a component's check rule, and the
/// counting of a model's parameters (schedules move rates and strengths, never sizes).
pub fn plain_params(
    params: &std::collections::BTreeMap<String, Value>,
) -> std::collections::BTreeMap<String, Value> {
    params
        .iter()
        .map(|(key, value)| {
            let value = match value {
                Value::Schedule(schedule) => Value::Float(schedule.scale),
                other => other.clone(),
            };
            (key.clone(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{Clock, Duration, DurationUnit, Value};

    /// Every parameter map holds its values inline, eleven to a block: a schedule kept inline
    /// made each value 88 bytes and a map's smallest block 1.2 KiB, per node of a large sweep.
    #[test]
    fn a_value_is_four_words() {
        assert!(std::mem::size_of::<Value>() <= 32);
    }

    #[test]
    fn durations_resolve_to_steps() {
        let clock = |phase_steps, steps_per_epoch| Clock {
            phase_steps,
            steps_per_epoch,
            tokens_per_step: 64 * 32,
        };
        let tokens = Duration {
            amount: 20480.0,
            unit: DurationUnit::Tokens,
        };
        assert_eq!(tokens.to_steps(&clock(500, 10)), 10);
        let fraction = Duration {
            amount: 0.2,
            unit: DurationUnit::Fraction,
        };
        assert_eq!(fraction.to_steps(&clock(500, 10)), 100);
        let epochs = Duration {
            amount: 3.0,
            unit: DurationUnit::Epochs,
        };
        assert_eq!(epochs.to_steps(&clock(500, 23)), 69);
        let steps = Duration {
            amount: 40.0,
            unit: DurationUnit::Steps,
        };
        assert_eq!(steps.to_steps(&clock(500, 23)), 40);
    }
}
