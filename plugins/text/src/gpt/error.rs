//! `GptError`: everything that can go wrong when building, running or exporting a [`crate::gpt::Gpt`].
//!
//! Variants hold typed fields so a host can point at the offending config field (`Config::field`)
//! or name the graph node of a failed tensor op (`Tensor::op`) without parsing messages.
//! Messages follow the project's wording: lower-case start, no trailing period, names in backticks.

use std::fmt;
use std::path::PathBuf;

use exp_plugin_api::tch::{TchError, Tensor};

#[derive(Debug)]
pub enum GptError {
    /// A configuration field is out of range or inconsistent with another field.
    Config {
        field: &'static str,
        message: String,
    },
    /// An argument of a model method has the wrong shape, kind or values.
    Input {
        method: &'static str,
        message: String,
    },
    /// A libtorch op failed. `op` names the graph node (e.g. `h.3.attn`), `shapes` its inputs.
    Tensor {
        op: String,
        shapes: String,
        source: TchError,
    },
    /// The model's architecture cannot be written in the requested format.
    Unsupported {
        format: &'static str,
        reasons: Vec<String>,
    },
    /// Reading or writing a file failed.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl GptError {
    pub(crate) fn config(field: &'static str, message: impl Into<String>) -> GptError {
        GptError::Config {
            field,
            message: message.into(),
        }
    }

    pub(crate) fn input(method: &'static str, message: impl Into<String>) -> GptError {
        GptError::Input {
            method,
            message: message.into(),
        }
    }

    /// A failed tensor op at graph node `op`, with the shapes of its inputs.
    pub(crate) fn tensor(op: impl Into<String>, inputs: &[&Tensor], source: TchError) -> GptError {
        GptError::Tensor {
            op: op.into(),
            shapes: inputs
                .iter()
                .map(|tensor| format!("{:?}", tensor.size()))
                .collect::<Vec<_>>()
                .join(", "),
            source,
        }
    }
}

impl fmt::Display for GptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GptError::Config { field, message } => {
                write!(f, "invalid gpt config field `{field}`: {message}")
            }
            GptError::Input { method, message } => write!(f, "`Gpt::{method}`: {message}"),
            GptError::Tensor { op, shapes, source } => {
                write!(f, "tensor op `{op}` failed on inputs of shape {shapes}")?;
                write!(f, "\ncaused by: {source}")
            }
            GptError::Unsupported { format, reasons } => {
                write!(f, "cannot export this model as {format}: ")?;
                write!(f, "{}", reasons.join("; "))
            }
            GptError::Io { path, source } => {
                write!(f, "cannot write `{}`\ncaused by: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for GptError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GptError::Tensor { source, .. } => Some(source),
            GptError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
