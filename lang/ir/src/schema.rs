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
    /// Turns text into token ids and back; trained on datasets by a `tokenizer` definition.
    Tokenizer,
    /// Writes a trained model in another ecosystem's format (a Hugging Face folder).
    Exporter,
}

impl ComponentKind {
    pub const ALL: [ComponentKind; 9] = [
        ComponentKind::Dataset,
        ComponentKind::Model,
        ComponentKind::Optimizer,
        ComponentKind::Scheduler,
        ComponentKind::Merger,
        ComponentKind::Evaluator,
        ComponentKind::Regularizer,
        ComponentKind::Tokenizer,
        ComponentKind::Exporter,
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
            ComponentKind::Tokenizer => "tokenizer",
            ComponentKind::Exporter => "exporter",
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
    /// For a dataset: its examples are documents of text, read through the tokenizer of the
    /// model that reads them.
    #[serde(default, skip_serializing_if = "is_false")]
    pub text: bool,
    /// For a tokenizer: it learns its vocabulary from the datasets it is built on (`bpe`),
    /// instead of needing none (`bytes`, a `tokenizer.json` file).
    #[serde(default, skip_serializing_if = "is_false")]
    pub trained: bool,
}

impl ComponentSchema {
    /// The parameter of a model of token sequences that says how long its windows are
    /// (`context`), if it has one: a model with it reads text through a tokenizer.
    pub fn sequence_length(&self) -> Option<&ParamSchema> {
        self.params.iter().find(|param| param.sequence_length)
    }

    /// Whether a parameter names files (`path`): what the component computes from its
    /// parameters can then change without them or the plugin changing, so no answer about it
    /// is kept between commands.
    pub fn reads_files(&self) -> bool {
        self.params.iter().any(|param| param.path)
    }

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
    /// Lower bound for numbers (and for every element of a list of numbers); inclusive unless
    /// `min_exclusive`.
    pub min: Option<f64>,
    /// Upper bound; inclusive unless `max_exclusive`.
    pub max: Option<f64>,
    /// Whether `min` itself is out of range: a density in (0, 1] has `min: 0` excluded.
    #[serde(default, skip_serializing_if = "is_false")]
    pub min_exclusive: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub max_exclusive: bool,
    /// Whether the value may be a schedule (a scheduler component) that the parameter follows
    /// through a training phase, instead of a number.
    #[serde(default, skip_serializing_if = "is_false")]
    pub schedule: bool,
    /// For an optimizer: this is its learning rate, the parameter a phase's `schedule:` field
    /// schedules (`schedule: cosine` is the short way to write `lr: cosine` scaled by `lr`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub learning_rate: bool,
    /// For a model of token sequences: this is the length of the windows it reads, which the
    /// runtime packs text into.
    #[serde(default, skip_serializing_if = "is_false")]
    pub sequence_length: bool,
    /// A string (or each string of a list) that names files: written relative to the `.exp`
    /// file (globs allowed), the component receives absolute paths, and the files' contents
    /// are part of every cache key that depends on them.
    #[serde(default, skip_serializing_if = "is_false")]
    pub path: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl ParamSchema {
    /// A parameter of type `ty` with no doc, default or bounds.
    pub fn new(name: &str, ty: ParamType) -> ParamSchema {
        ParamSchema {
            name: name.to_string(),
            ty,
            doc: String::new(),
            default: None,
            min: None,
            max: None,
            min_exclusive: false,
            max_exclusive: false,
            schedule: false,
            learning_rate: false,
            sequence_length: false,
            path: false,
        }
    }

    pub fn required(&self) -> bool {
        self.default.is_none()
    }

    /// The allowed range of a number, for messages and docs.
    pub fn range(&self) -> Range {
        Range {
            min: self.min.map(|min| (min, self.min_exclusive)),
            max: self.max.map(|max| (max, self.max_exclusive)),
        }
    }

    /// Checks a value against this parameter's type and range; `Err` says what was wrong in
    /// words that fit after "parameter `x` ...". A schedule is accepted where the parameter
    /// may follow one; its values are checked as they are reached.
    pub fn validate(&self, value: &Value) -> Result<Value, ParamProblem> {
        if let Value::Schedule(_) = value {
            return if self.schedule {
                Ok(value.clone())
            } else {
                Err(ParamProblem::WrongType {
                    expected: self.ty.to_string(),
                    found: value.type_name().to_string(),
                })
            };
        }
        let coerced = self
            .ty
            .coerce(value)
            .ok_or_else(|| ParamProblem::WrongType {
                expected: self.expected(),
                found: value.type_name().to_string(),
            })?;
        self.check_range(&coerced)?;
        Ok(coerced)
    }

    /// What a value must be, in words: its type, and "or a schedule" where it may follow one.
    pub fn expected(&self) -> String {
        if self.schedule {
            format!("{} or a schedule", self.ty)
        } else {
            self.ty.to_string()
        }
    }

    /// Checks a number (or every number of a list) against the bounds.
    pub fn check_range(&self, value: &Value) -> Result<(), ParamProblem> {
        match value {
            Value::List(items) => items.iter().try_for_each(|item| self.check_range(item)),
            _ => {
                let Some(number) = value.as_f64() else {
                    return Ok(());
                };
                let range = self.range();
                if range.contains(number) {
                    Ok(())
                } else {
                    Err(ParamProblem::OutOfRange {
                        value: number,
                        range,
                    })
                }
            }
        }
    }
}

/// The numbers a parameter accepts: each bound with whether it is excluded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub min: Option<(f64, bool)>,
    pub max: Option<(f64, bool)>,
}

impl Range {
    pub fn contains(&self, number: f64) -> bool {
        // NaN is in no range: every comparison with it is false.
        let above = match self.min {
            Some((min, true)) => number > min,
            Some((min, false)) => number >= min,
            None => !number.is_nan(),
        };
        let below = match self.max {
            Some((max, true)) => number < max,
            Some((max, false)) => number <= max,
            None => !number.is_nan(),
        };
        above && below
    }
}

impl fmt::Display for Range {
    /// "a value from 0 to 1", "a value above 0 and at most 1", "a value of at least 1".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lower = |(min, exclusive): (f64, bool)| {
            if exclusive {
                format!("above {min}")
            } else {
                format!("at least {min}")
            }
        };
        let upper = |(max, exclusive): (f64, bool)| {
            if exclusive {
                format!("below {max}")
            } else {
                format!("at most {max}")
            }
        };
        match (self.min, self.max) {
            (Some((min, false)), Some((max, false))) => write!(f, "a value from {min} to {max}"),
            (Some(min), Some(max)) => write!(f, "a value {} and {}", lower(min), upper(max)),
            (Some(min @ (_, false)), None) => write!(f, "a value of {}", lower(min)),
            (Some(min), None) => write!(f, "a value {}", lower(min)),
            (None, Some(max @ (_, false))) => write!(f, "a value of {}", upper(max)),
            (None, Some(max)) => write!(f, "a value {}", upper(max)),
            (None, None) => write!(f, "any value"),
        }
    }
}

/// Why a value does not fit a parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamProblem {
    WrongType { expected: String, found: String },
    OutOfRange { value: f64, range: Range },
}

impl fmt::Display for ParamProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamProblem::WrongType { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
            ParamProblem::OutOfRange { value, range } => {
                write!(f, "{value} is out of range: expected {range}")
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ParamProblem, ParamSchema, ParamType};
    use crate::value::Value;

    fn lr() -> ParamSchema {
        ParamSchema {
            doc: "learning rate".into(),
            default: Some(Value::Float(1e-3)),
            min: Some(0.0),
            ..ParamSchema::new("lr", ParamType::Float)
        }
    }

    fn out_of_range(schema: &ParamSchema, value: f64) -> String {
        match schema.validate(&Value::Float(value)) {
            Err(problem @ ParamProblem::OutOfRange { .. }) => problem.to_string(),
            other => panic!("{value} should be out of range, got {other:?}"),
        }
    }

    #[test]
    fn integers_coerce_to_floats_and_ranges_apply() {
        assert_eq!(lr().validate(&Value::Int(1)), Ok(Value::Float(1.0)));
        assert_eq!(lr().validate(&Value::Float(0.0)), Ok(Value::Float(0.0)));
        assert_eq!(
            out_of_range(&lr(), -1.0),
            "-1 is out of range: expected a value of at least 0"
        );
        assert!(matches!(
            lr().validate(&Value::Str("x".into())),
            Err(ParamProblem::WrongType { .. })
        ));
    }

    #[test]
    fn exclusive_bounds_reject_the_bound_itself() {
        let density = ParamSchema {
            min: Some(0.0),
            max: Some(1.0),
            min_exclusive: true,
            ..ParamSchema::new("density", ParamType::Float)
        };
        assert_eq!(density.validate(&Value::Float(1.0)), Ok(Value::Float(1.0)));
        assert_eq!(
            density.validate(&Value::Float(1e-9)),
            Ok(Value::Float(1e-9))
        );
        assert_eq!(
            out_of_range(&density, 0.0),
            "0 is out of range: expected a value above 0 and at most 1"
        );
        assert_eq!(
            out_of_range(&density, f64::NAN),
            "NaN is out of range: expected a value above 0 and at most 1"
        );
        let below = ParamSchema {
            max: Some(1.0),
            max_exclusive: true,
            ..ParamSchema::new("beta", ParamType::Float)
        };
        assert_eq!(
            out_of_range(&below, 1.0),
            "1 is out of range: expected a value below 1"
        );
        let both = ParamSchema {
            min: Some(0.0),
            max: Some(1.0),
            ..ParamSchema::new("p", ParamType::Float)
        };
        assert_eq!(
            out_of_range(&both, 2.0),
            "2 is out of range: expected a value from 0 to 1"
        );
        let list = ParamSchema {
            min: Some(0.0),
            min_exclusive: true,
            ..ParamSchema::new("sizes", ParamType::List(Box::new(ParamType::Float)))
        };
        let problem = list.validate(&Value::List(vec![Value::Float(1.0), Value::Float(0.0)]));
        assert!(
            matches!(problem, Err(ParamProblem::OutOfRange { value, .. }) if value == 0.0),
            "{problem:?}"
        );
    }

    #[test]
    fn a_schedule_fits_only_where_the_parameter_may_follow_one() {
        let schedule = Value::Schedule(Box::new(crate::Schedule {
            curve: crate::ComponentRef {
                kind: crate::ComponentKind::Scheduler,
                name: "cosine".into(),
                params: Default::default(),
                span: None,
            },
            scale: 0.1,
        }));
        let scheduled = ParamSchema {
            schedule: true,
            ..lr()
        };
        assert_eq!(scheduled.validate(&schedule), Ok(schedule.clone()));
        assert_eq!(scheduled.expected(), "a number or a schedule");
        assert_eq!(
            lr().validate(&schedule),
            Err(ParamProblem::WrongType {
                expected: "a number".into(),
                found: "schedule".into()
            })
        );
    }

    #[test]
    fn the_json_of_a_plain_parameter_has_no_new_keys() {
        // `exp plugins --json` consumers see the same keys as before for parameters without
        // exclusive bounds or schedules.
        let json = serde_json::to_value(lr()).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["default", "doc", "max", "min", "name", "type"]);
    }
}
