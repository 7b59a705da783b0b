//! Building `FfiValue` trees: what the host hands a plugin (parameters, context records, saved
//! state). A tree and every string and array it points at live in one `OwnedValue`, so the
//! pointers stay valid for as long as it does (boxed slices and `CString`s never move their
//! heap buffers). Reading trees back is the plugin's side, in `export`.

use std::collections::BTreeMap;
use std::ffi::{c_char, CString};
use std::fmt;

use exp_ir::{DurationUnit, Value};

use super::types::{FfiDurationUnit, FfiValue, FfiValueKind};

/// Why a value cannot cross the boundary.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueError {
    /// A string (or record key) with a NUL byte, which a C string cannot hold; `at` is the
    /// path to it (`name`, `hidden[2]`).
    Nul { at: String },
    /// A schedule, which the host resolves to numbers before anything reaches a plugin.
    Schedule { at: String },
    /// A JSON number that is neither an integer nor a float (an integer past i64).
    Number { at: String },
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueError::Nul { at } => write!(
                f,
                "`{at}` holds a NUL byte, which cannot reach a plugin: remove it from the text"
            ),
            ValueError::Schedule { at } => write!(
                f,
                "`{at}` is a schedule where a plugin expects its value (this is a bug in exp)"
            ),
            ValueError::Number { at } => write!(f, "`{at}` is a number out of range"),
        }
    }
}

impl std::error::Error for ValueError {}

/// An `FfiValue` tree with the strings and arrays it points at.
pub struct OwnedValue {
    root: Box<FfiValue>,
    _strings: Vec<CString>,
    _lists: Vec<Box<[FfiValue]>>,
    _keys: Vec<Box<[*const c_char]>>,
}

// SAFETY: an `OwnedValue` only holds pointers into buffers it owns and never mutates after
// construction, so sharing or moving it between threads is as safe as for the owned data.
unsafe impl Send for OwnedValue {}
// SAFETY: as above.
unsafe impl Sync for OwnedValue {}

impl OwnedValue {
    /// The tree of a parameter value as a file wrote it (after checking).
    pub fn from_ir(value: &Value) -> Result<OwnedValue, ValueError> {
        let mut arena = Arena::default();
        let root = arena.ir(value, "value")?;
        Ok(arena.finish(root))
    }

    /// A record of parameters, by name.
    pub fn record(params: &BTreeMap<String, Value>) -> Result<OwnedValue, ValueError> {
        let mut arena = Arena::default();
        let root = arena.record(
            params.iter().map(|(key, value)| (key.as_str(), value)),
            "",
            Arena::ir,
        )?;
        Ok(arena.finish(root))
    }

    /// The tree of a JSON value (context records, saved state).
    pub fn from_json(value: &serde_json::Value) -> Result<OwnedValue, ValueError> {
        let mut arena = Arena::default();
        let root = arena.json(value, "value")?;
        Ok(arena.finish(root))
    }

    pub fn as_ptr(&self) -> *const FfiValue {
        &*self.root
    }
}

/// The buffers a tree is built into.
#[derive(Default)]
struct Arena {
    strings: Vec<CString>,
    lists: Vec<Box<[FfiValue]>>,
    keys: Vec<Box<[*const c_char]>>,
}

fn empty(kind: FfiValueKind) -> FfiValue {
    FfiValue {
        kind,
        unit: FfiDurationUnit::Steps,
        int_value: 0,
        float_value: 0.0,
        text: std::ptr::null(),
        keys: std::ptr::null(),
        items: std::ptr::null(),
        n_items: 0,
    }
}

impl Arena {
    fn finish(self, root: FfiValue) -> OwnedValue {
        OwnedValue {
            root: Box::new(root),
            _strings: self.strings,
            _lists: self.lists,
            _keys: self.keys,
        }
    }

    fn text(&mut self, text: &str, at: &str) -> Result<*const c_char, ValueError> {
        let owned = CString::new(text).map_err(|_| ValueError::Nul { at: at.to_string() })?;
        let pointer = owned.as_ptr();
        self.strings.push(owned);
        Ok(pointer)
    }

    fn str_value(&mut self, text: &str, at: &str) -> Result<FfiValue, ValueError> {
        Ok(FfiValue {
            text: self.text(text, at)?,
            ..empty(FfiValueKind::Str)
        })
    }

    fn list<T>(
        &mut self,
        items: &[T],
        at: &str,
        build: fn(&mut Arena, &T, &str) -> Result<FfiValue, ValueError>,
    ) -> Result<FfiValue, ValueError> {
        let built = items
            .iter()
            .enumerate()
            .map(|(index, item)| build(self, item, &format!("{at}[{index}]")))
            .collect::<Result<Vec<_>, _>>()?
            .into_boxed_slice();
        let value = FfiValue {
            items: built.as_ptr(),
            n_items: built.len(),
            ..empty(FfiValueKind::List)
        };
        self.lists.push(built);
        Ok(value)
    }

    fn record<'a, T: 'a>(
        &mut self,
        fields: impl Iterator<Item = (&'a str, &'a T)>,
        at: &str,
        build: fn(&mut Arena, &T, &str) -> Result<FfiValue, ValueError>,
    ) -> Result<FfiValue, ValueError> {
        let mut keys = Vec::new();
        let mut items = Vec::new();
        for (key, value) in fields {
            let path = if at.is_empty() {
                key.to_string()
            } else {
                format!("{at}.{key}")
            };
            keys.push(self.text(key, &path)?);
            items.push(build(self, value, &path)?);
        }
        let (keys, items) = (keys.into_boxed_slice(), items.into_boxed_slice());
        let value = FfiValue {
            keys: keys.as_ptr(),
            items: items.as_ptr(),
            n_items: items.len(),
            ..empty(FfiValueKind::Record)
        };
        self.keys.push(keys);
        self.lists.push(items);
        Ok(value)
    }

    fn ir(&mut self, value: &Value, at: &str) -> Result<FfiValue, ValueError> {
        Ok(match value {
            Value::Int(number) => FfiValue {
                int_value: *number,
                ..empty(FfiValueKind::Int)
            },
            Value::Float(number) => FfiValue {
                float_value: *number,
                ..empty(FfiValueKind::Float)
            },
            Value::Bool(flag) => FfiValue {
                int_value: i64::from(*flag),
                ..empty(FfiValueKind::Bool)
            },
            Value::Str(text) => self.str_value(text, at)?,
            Value::List(items) => self.list(items, at, Arena::ir)?,
            Value::Duration(duration) => FfiValue {
                float_value: duration.amount,
                unit: match duration.unit {
                    DurationUnit::Steps => FfiDurationUnit::Steps,
                    DurationUnit::Epochs => FfiDurationUnit::Epochs,
                    DurationUnit::Tokens => FfiDurationUnit::Tokens,
                    DurationUnit::Fraction => FfiDurationUnit::Fraction,
                },
                ..empty(FfiValueKind::Duration)
            },
            Value::Record(fields) => self.record(
                fields.iter().map(|(key, value)| (key.as_str(), value)),
                at,
                Arena::ir,
            )?,
            Value::Schedule(_) => return Err(ValueError::Schedule { at: at.to_string() }),
        })
    }

    fn json(&mut self, value: &serde_json::Value, at: &str) -> Result<FfiValue, ValueError> {
        use serde_json::Value as J;
        Ok(match value {
            J::Null => empty(FfiValueKind::Null),
            J::Bool(flag) => FfiValue {
                int_value: i64::from(*flag),
                ..empty(FfiValueKind::Bool)
            },
            J::Number(number) => match (number.as_i64(), number.as_f64()) {
                (Some(int), _) => FfiValue {
                    int_value: int,
                    ..empty(FfiValueKind::Int)
                },
                (None, _) if number.is_u64() => FfiValue {
                    // The bits of a u64 past i64's range (a generator's state), read back as
                    // u64 by the plugin.
                    int_value: number.as_u64().map_or(0, |big| big as i64),
                    ..empty(FfiValueKind::Uint)
                },
                (None, Some(float)) => FfiValue {
                    float_value: float,
                    ..empty(FfiValueKind::Float)
                },
                _ => return Err(ValueError::Number { at: at.to_string() }),
            },
            J::String(text) => self.str_value(text, at)?,
            J::Array(items) => self.list(items, at, Arena::json)?,
            J::Object(fields) => self.record(
                fields.iter().map(|(key, value)| (key.as_str(), value)),
                at,
                Arena::json,
            )?,
        })
    }
}
