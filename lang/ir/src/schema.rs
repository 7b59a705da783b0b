//! How a plugin component describes itself: its kind, name, one-line doc, version, and a typed
//! parameter schema with defaults and ranges. The checker validates `.exp` files against these;
//! `exp plugins` prints them; plugins hand them to the host as JSON.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::value::{DurationUnit, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentKind {
    Dataset,
    Model,
    Optimizer,
    Scheduler,
    Merger,
    Evaluator,
    Regularizer,
}

impl ComponentKind {
    pub const ALL: [ComponentKind; 7] = [
        ComponentKind::Dataset,
        ComponentKind::Model,
        ComponentKind::Optimizer,
        ComponentKind::Scheduler,
        ComponentKind::Merger,
        ComponentKind::Evaluator,
        ComponentKind::Regularizer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ComponentKind::Dataset => "dataset",
            ComponentKind::Model => "model",
            ComponentKind::Optimizer => "optimizer",
            ComponentKind::Scheduler => "scheduler",
            ComponentKind::Merger => "merger",
            ComponentKind::Evaluator => "evaluator",
            ComponentKind::Regularizer => "regularizer",
        }
    }

    /// The stable numeric tag used at the plugin boundary.
    pub fn tag(self) -> u32 {
        self as u32
    }

    pub fn from_tag(tag: u32) -> Option<ComponentKind> {
        ComponentKind::ALL.get(tag as usize).copied()
    }
}

impl fmt::Display for ComponentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The self-description of one component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentSchema {
    pub kind: ComponentKind,
    pub name: String,
    /// One line saying what the component does.
    pub doc: String,
    /// The component's own version; part of its identity in run records and cache keys.
    pub version: String,
    pub params: Vec<ParamSchema>,
}

impl ComponentSchema {
    pub fn param(&self, name: &str) -> Option<&ParamSchema> {
        self.params.iter().find(|param| param.name == name)
    }
}

/// One parameter of a component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamSchema {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ParamType,
    pub doc: String,
    /// `None` means the parameter is required.
    pub default: Option<Value>,
    /// Inclusive lower bound for numbers (and for every element of a list of numbers).
    pub min: Option<f64>,
    /// Inclusive upper bound.
    pub max: Option<f64>,
}

impl ParamSchema {
    pub fn required(&self) -> bool {
        self.default.is_none()
    }

    /// Checks a value against this parameter's type and range; `Err` says what was wrong in
    /// words that fit after "parameter `x` ...".
    pub fn validate(&self, value: &Value) -> Result<Value, ParamProblem> {
        let coerced = self
            .ty
            .coerce(value)
            .ok_or_else(|| ParamProblem::WrongType {
                expected: self.ty.to_string(),
                found: value.type_name().to_string(),
            })?;
        self.check_range(&coerced)?;
        Ok(coerced)
    }

    fn check_range(&self, value: &Value) -> Result<(), ParamProblem> {
        match value {
            Value::List(items) => items.iter().try_for_each(|item| self.check_range(item)),
            _ => {
                let Some(number) = value.as_f64() else {
                    return Ok(());
                };
                let below = self.min.is_some_and(|min| number < min);
                let above = self.max.is_some_and(|max| number > max);
                if below || above {
                    Err(ParamProblem::OutOfRange {
                        value: number,
                        min: self.min,
                        max: self.max,
                    })
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// Why a value does not fit a parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamProblem {
    WrongType {
        expected: String,
        found: String,
    },
    OutOfRange {
        value: f64,
        min: Option<f64>,
        max: Option<f64>,
    },
}

impl fmt::Display for ParamProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamProblem::WrongType { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
            ParamProblem::OutOfRange { value, min, max } => {
                write!(f, "{value} is out of range: expected ")?;
                match (min, max) {
                    (Some(min), Some(max)) => write!(f, "a value from {min} to {max}"),
                    (Some(min), None) => write!(f, "a value of at least {min}"),
                    (None, Some(max)) => write!(f, "a value of at most {max}"),
                    (None, None) => write!(f, "any value"),
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    Int,
    Float,
    Bool,
    Str,
    /// A duration; `units` lists the units it accepts (empty: any).
    Duration {
        units: Vec<DurationUnit>,
    },
    List(Box<ParamType>),
    /// One of a fixed set of words, written as a string.
    Choice(Vec<String>),
    /// A number that may change over a training phase: a number, or a scheduler component
    /// (`piecewise { at: [0%, 50%], values: [0.1, 1.0] }`) whose value at each step it takes.
    /// The checker stores a schedule as `Value::Record { "schedule": name, "params": {..} }`;
    /// the host builds the scheduler, gives the component the value at the phase's start as a
    /// plain number, and each later value through `set_param`.
    Schedule,
}

impl ParamType {
    /// Returns the value converted to this type (an integer where a float is expected becomes
    /// a float), or `None` when it does not fit.
    pub fn coerce(&self, value: &Value) -> Option<Value> {
        match (self, value) {
            (ParamType::Int, Value::Int(_)) => Some(value.clone()),
            (ParamType::Float, Value::Int(i)) => Some(Value::Float(*i as f64)),
            (ParamType::Float, Value::Float(_)) => Some(value.clone()),
            (ParamType::Bool, Value::Bool(_)) => Some(value.clone()),
            (ParamType::Str, Value::Str(_)) => Some(value.clone()),
            (ParamType::Duration { units }, Value::Duration(d)) => {
                (units.is_empty() || units.contains(&d.unit)).then(|| value.clone())
            }
            (ParamType::Choice(words), Value::Str(word)) => {
                words.contains(word).then(|| value.clone())
            }
            (ParamType::Schedule, Value::Int(i)) => Some(Value::Float(*i as f64)),
            (ParamType::Schedule, Value::Float(_)) => Some(value.clone()),
            (ParamType::Schedule, Value::Record(fields)) if fields.contains_key("schedule") => {
                Some(value.clone())
            }
            (ParamType::List(inner), Value::List(items)) => items
                .iter()
                .map(|item| inner.coerce(item))
                .collect::<Option<Vec<_>>>()
                .map(Value::List),
            _ => None,
        }
    }
}

impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamType::Int => write!(f, "an integer"),
            ParamType::Float => write!(f, "a number"),
            ParamType::Bool => write!(f, "a boolean"),
            ParamType::Str => write!(f, "a string"),
            ParamType::Duration { units } if units.is_empty() => write!(f, "a duration"),
            ParamType::Duration { units } => {
                let words: Vec<&str> = units
                    .iter()
                    .map(|unit| match unit {
                        DurationUnit::Steps => "steps",
                        DurationUnit::Epochs => "epochs",
                        DurationUnit::Tokens => "tokens",
                        DurationUnit::Fraction => "a percentage",
                    })
                    .collect();
                write!(f, "a duration in {}", words.join(" or "))
            }
            ParamType::List(inner) => write!(f, "a list of ({inner})"),
            ParamType::Choice(words) => {
                let quoted: Vec<String> = words.iter().map(|word| format!("\"{word}\"")).collect();
                write!(f, "one of {}", quoted.join(", "))
            }
            ParamType::Schedule => write!(f, "a number or a schedule"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ParamProblem, ParamSchema, ParamType};
    use crate::value::Value;

    fn lr() -> ParamSchema {
        ParamSchema {
            name: "lr".into(),
            ty: ParamType::Float,
            doc: "learning rate".into(),
            default: Some(Value::Float(1e-3)),
            min: Some(0.0),
            max: None,
        }
    }

    #[test]
    fn integers_coerce_to_floats_and_ranges_apply() {
        assert_eq!(lr().validate(&Value::Int(1)), Ok(Value::Float(1.0)));
        assert!(matches!(
            lr().validate(&Value::Float(-1.0)),
            Err(ParamProblem::OutOfRange { .. })
        ));
        assert!(matches!(
            lr().validate(&Value::Str("x".into())),
            Err(ParamProblem::WrongType { .. })
        ));
    }
}
