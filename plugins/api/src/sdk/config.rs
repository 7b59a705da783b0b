//! A component's parameters, declared once: a struct deriving `Config` (see the derive's docs in
//! `exp-plugin-derive`) describes every parameter (its schema, which `exp check` validates
//! files against and `exp plugins` prints) and reads a checked parameter set into itself.
//!
//! The traits below say how a Rust type maps to a parameter type: `ParamKind` (its schema
//! type), `FromParam` (reading a checked value), `ToValue` (writing a default), and
//! `DefaultValue` (what a default may be written as). The derive only generates calls to
//! them, so adding a parameter type is an impl here, not a change to the derive.

use std::collections::BTreeMap;

pub use exp_ir::{Duration, DurationUnit, ParamSchema, ParamType, Range, Value};

pub use super::{PluginError, Result};

/// A struct whose fields are a component's parameters (derive it with `#[derive(Config)]`).
pub trait Config: Sized + Clone + Send + 'static {
    /// Every parameter's schema, in declaration order.
    fn params() -> Vec<ParamSchema>;
    /// Reads a parameter set the host has checked against `params()` (every parameter
    /// present, defaults filled in, types and bounds checked); errors name the parameter.
    fn from_params(params: &Params) -> Result<Self>;
    /// Writes the value a scheduled parameter takes from now on, after checking its bounds.
    fn set_scheduled(&mut self, name: &str, value: f64) -> Result<()>;
}

/// A parameter set by name, with typed reads whose errors name the parameter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params {
    values: BTreeMap<String, Value>,
}

impl Params {
    pub fn new(values: BTreeMap<String, Value>) -> Params {
        Params { values }
    }

    /// The value of `name` as a `T`.
    pub fn get<T: FromParam>(&self, name: &str) -> Result<T> {
        let value = self
            .values
            .get(name)
            .ok_or_else(|| PluginError::in_field(name, format!("missing parameter `{name}`")))?;
        T::from_param(value).ok_or_else(|| {
            PluginError::in_field(
                name,
                format!(
                    "parameter `{name}` must be {}, not {}",
                    T::param_type(),
                    value.type_name()
                ),
            )
        })
    }

    pub fn values(&self) -> &BTreeMap<String, Value> {
        &self.values
    }

    /// These parameters with every missing one that has a default set to it, as the host
    /// fills them in.
    pub fn with_defaults(mut self, schemas: &[ParamSchema]) -> Params {
        for schema in schemas {
            if let (false, Some(default)) =
                (self.values.contains_key(&schema.name), &schema.default)
            {
                self.values.insert(schema.name.clone(), default.clone());
            }
        }
        self
    }

    /// Parameters written as JSON, for tests and tools: numbers, strings, booleans and lists
    /// as themselves, `{"amount": a, "unit": "steps" | "epochs" | "tokens" | "fraction"}` as a
    /// duration, other objects as parameter blocks.
    pub fn from_json(json: &serde_json::Value) -> Result<Params> {
        let Value::Record(values) = value_from_json(json)? else {
            return Err(PluginError::new("parameters must be a JSON object"));
        };
        Ok(Params { values })
    }
}

fn value_from_json(json: &serde_json::Value) -> Result<Value> {
    use serde_json::Value as J;
    Ok(match json {
        J::Bool(flag) => Value::Bool(*flag),
        J::Number(number) => match number.as_i64() {
            Some(int) => Value::Int(int),
            None => Value::Float(number.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(text) => Value::Str(text.clone()),
        J::Array(items) => Value::List(items.iter().map(value_from_json).collect::<Result<_>>()?),
        J::Object(fields) => match serde_json::from_value::<Duration>(json.clone()) {
            Ok(duration) if fields.len() == 2 => Value::Duration(duration),
            _ => Value::Record(
                fields
                    .iter()
                    .map(|(key, value)| Ok((key.clone(), value_from_json(value)?)))
                    .collect::<Result<_>>()?,
            ),
        },
        J::Null => return Err(PluginError::new("a parameter cannot be null")),
    })
}

/// The schema type of a Rust type.
pub trait ParamKind {
    fn param_type() -> ParamType;
    /// A lower bound the type itself implies (0 for unsigned integers), used when the field
    /// states none.
    fn implied_min() -> Option<(f64, bool)> {
        None
    }
}

/// Reads a checked value; `None` when it is not of this type.
pub trait FromParam: ParamKind + Sized {
    fn from_param(value: &Value) -> Option<Self>;
}

/// Writes a value (a default) in the form files and schemas hold.
pub trait ToValue {
    fn to_value(&self) -> Value;
}

/// What a field's `default = ..` may be written as: a value of the field's type, a string
/// literal for a `String` or a `Choice`, an array for a `Vec`.
pub trait DefaultValue<Source> {
    fn from_default(source: Source) -> Self;
}

impl<T> DefaultValue<T> for T {
    fn from_default(source: T) -> T {
        source
    }
}

impl DefaultValue<&'static str> for String {
    fn from_default(source: &'static str) -> String {
        source.to_string()
    }
}

impl<T, const N: usize> DefaultValue<[T; N]> for Vec<T> {
    fn from_default(source: [T; N]) -> Vec<T> {
        source.into()
    }
}

macro_rules! float_param {
    ($($ty:ty),*) => {$(
        impl ParamKind for $ty {
            fn param_type() -> ParamType {
                ParamType::Float
            }
        }
        impl FromParam for $ty {
            fn from_param(value: &Value) -> Option<$ty> {
                value.as_f64().map(|number| number as $ty)
            }
        }
        impl ToValue for $ty {
            fn to_value(&self) -> Value {
                Value::Float(f64::from(*self))
            }
        }
    )*};
}

float_param!(f64, f32);

macro_rules! int_param {
    ($min:expr; $($ty:ty),*) => {$(
        impl ParamKind for $ty {
            fn param_type() -> ParamType {
                ParamType::Int
            }
            fn implied_min() -> Option<(f64, bool)> {
                $min
            }
        }
        impl FromParam for $ty {
            fn from_param(value: &Value) -> Option<$ty> {
                <$ty>::try_from(value.as_i64()?).ok()
            }
        }
        impl ToValue for $ty {
            fn to_value(&self) -> Value {
                // Defaults are written by the component's author, within i64.
                Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
    )*};
}

int_param!(None; i64, i32);
int_param!(Some((0.0, false)); u64, u32, usize);

impl ParamKind for bool {
    fn param_type() -> ParamType {
        ParamType::Bool
    }
}

impl FromParam for bool {
    fn from_param(value: &Value) -> Option<bool> {
        match value {
            Value::Bool(flag) => Some(*flag),
            _ => None,
        }
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
}

impl ParamKind for String {
    fn param_type() -> ParamType {
        ParamType::Str
    }
}

impl FromParam for String {
    fn from_param(value: &Value) -> Option<String> {
        value.as_str().map(str::to_string)
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Str(self.clone())
    }
}

/// A duration in any unit. Inside a training phase the host resolves it to steps before the
/// component is built (`Duration::steps` reads them); `check` sees it as written.
impl ParamKind for Duration {
    fn param_type() -> ParamType {
        ParamType::Duration {
            units: vec![
                DurationUnit::Steps,
                DurationUnit::Epochs,
                DurationUnit::Tokens,
                DurationUnit::Fraction,
            ],
        }
    }
}

impl FromParam for Duration {
    fn from_param(value: &Value) -> Option<Duration> {
        match value {
            Value::Duration(duration) => Some(*duration),
            _ => None,
        }
    }
}

impl ToValue for Duration {
    fn to_value(&self) -> Value {
        Value::Duration(*self)
    }
}

impl<T: ParamKind> ParamKind for Vec<T> {
    fn param_type() -> ParamType {
        ParamType::List(Box::new(T::param_type()))
    }
    fn implied_min() -> Option<(f64, bool)> {
        T::implied_min()
    }
}

impl<T: FromParam> FromParam for Vec<T> {
    fn from_param(value: &Value) -> Option<Vec<T>> {
        match value {
            Value::List(items) => items.iter().map(T::from_param).collect(),
            _ => None,
        }
    }
}

impl<T: ToValue> ToValue for Vec<T> {
    fn to_value(&self) -> Value {
        Value::List(self.iter().map(ToValue::to_value).collect())
    }
}

/// A duration of `amount` steps, for defaults (`default = steps(0.0)`).
pub fn steps(amount: f64) -> Duration {
    Duration {
        amount,
        unit: DurationUnit::Steps,
    }
}

/// A fraction of the phase, for defaults (`default = fraction(0.1)` is `10%`).
pub fn fraction(amount: f64) -> Duration {
    Duration {
        amount,
        unit: DurationUnit::Fraction,
    }
}

/// What the derive knows about one parameter.
pub struct ParamParts {
    pub name: &'static str,
    pub doc: &'static str,
    pub ty: ParamType,
    pub default: Option<Value>,
    pub min: Option<(f64, bool)>,
    pub max: Option<(f64, bool)>,
    pub schedule: bool,
    pub learning_rate: bool,
    pub sequence_length: bool,
    pub path: bool,
}

/// The schema of one parameter.
pub fn param_schema(parts: ParamParts) -> ParamSchema {
    ParamSchema {
        doc: parts.doc.to_string(),
        default: parts.default,
        min: parts.min.map(|(min, _)| min),
        min_exclusive: parts.min.is_some_and(|(_, exclusive)| exclusive),
        max: parts.max.map(|(max, _)| max),
        max_exclusive: parts.max.is_some_and(|(_, exclusive)| exclusive),
        schedule: parts.schedule,
        learning_rate: parts.learning_rate,
        sequence_length: parts.sequence_length,
        path: parts.path,
        ..ParamSchema::new(parts.name, parts.ty)
    }
}

/// A `String` parameter that must be one of `words` (`#[param(choices = [..])]`).
pub fn read_choice(params: &Params, name: &str, words: &[&str]) -> Result<String> {
    let word: String = params.get(name)?;
    if words.contains(&word.as_str()) {
        Ok(word)
    } else {
        Err(PluginError::in_field(
            name,
            format!("`{word}` is not one of {words:?}"),
        ))
    }
}

/// Checks a scheduled parameter's new value against its bounds: a schedule may reach values a
/// number in the file could not have.
pub fn check_scheduled(
    name: &str,
    value: f64,
    min: Option<(f64, bool)>,
    max: Option<(f64, bool)>,
) -> Result<()> {
    let range = Range { min, max };
    if range.contains(value) {
        Ok(())
    } else {
        Err(PluginError::in_field(
            name,
            format!("the schedule of `{name}` reached {value}, but it takes {range}"),
        ))
    }
}

/// The error for setting a parameter that does not follow a schedule.
pub fn not_scheduled(name: &str) -> PluginError {
    PluginError::in_field(
        name,
        format!("parameter `{name}` cannot change during a phase"),
    )
}

/// A config without parameters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoParams;

impl Config for NoParams {
    fn params() -> Vec<ParamSchema> {
        Vec::new()
    }
    fn from_params(_params: &Params) -> Result<NoParams> {
        Ok(NoParams)
    }
    fn set_scheduled(&mut self, name: &str, _value: f64) -> Result<()> {
        Err(not_scheduled(name))
    }
}
