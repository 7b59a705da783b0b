//! `RunError`: why a node failed. Each variant names the node and what went wrong; the binary
//! adds the node's location in the file when it renders the error.

use std::fmt;

use exp_plugin_api::host::PluginError;

#[derive(Debug, Clone, PartialEq)]
pub enum RunError {
    /// A plugin component failed or panicked; `step` is the training step it failed in.
    Plugin {
        node: String,
        error: PluginError,
        step: Option<u64>,
    },
    /// A component's result broke its kind's contract (docs/plugin-abi.md): a model's output
    /// whose shape does not fit its targets and classes.
    Contract {
        node: String,
        component: String,
        plugin: String,
        message: String,
    },
    /// A component named in the graph is provided by no loaded plugin.
    MissingComponent {
        node: String,
        kind: String,
        name: String,
    },
    /// A libtorch operation failed in the runtime itself. `message` is libtorch's first line;
    /// `detail` the rest it said (its C++ backtrace), for the node's log.
    Tensor {
        node: String,
        op: String,
        message: String,
        detail: String,
    },
    /// The training loss became NaN or infinite.
    NonFiniteLoss {
        node: String,
        step: u64,
        last_finite: Option<f64>,
    },
    /// Models to merge, or weights to load, do not agree.
    Mismatch { node: String, message: String },
    /// Reading or writing a file in the run directory failed.
    Io {
        node: String,
        path: String,
        message: String,
    },
    /// The user asked the run to stop (Ctrl-C). `step` is the last training step done (`None`
    /// for a node that had not started); `checkpointed` says whether a checkpoint was written
    /// there to resume from.
    Interrupted {
        node: String,
        step: Option<u64>,
        checkpointed: bool,
    },
    /// An input the node needs is not there: a bug in exp.
    Internal { node: String, message: String },
}

impl RunError {
    pub fn node(&self) -> &str {
        match self {
            RunError::Plugin { node, .. }
            | RunError::Contract { node, .. }
            | RunError::MissingComponent { node, .. }
            | RunError::Tensor { node, .. }
            | RunError::NonFiniteLoss { node, .. }
            | RunError::Mismatch { node, .. }
            | RunError::Io { node, .. }
            | RunError::Interrupted { node, .. }
            | RunError::Internal { node, .. } => node,
        }
    }

    pub fn tensor(node: &str, op: &str, error: impl fmt::Display) -> RunError {
        let full = error.to_string();
        let message = exp_plugin_api::sdk::short_torch_error(&full).to_string();
        let detail = if message == full { String::new() } else { full };
        RunError::Tensor {
            node: node.to_string(),
            op: op.to_string(),
            message,
            detail,
        }
    }

    /// Everything known about the failure, for the node's log file: the message and what was
    /// kept out of it (a panic's location and backtrace, libtorch's C++ backtrace).
    pub fn log_text(&self) -> String {
        let detail = match self {
            RunError::Plugin { error, .. } => error
                .full_text()
                .lines()
                .skip(1)
                .collect::<Vec<_>>()
                .join("\n"),
            RunError::Tensor { detail, .. } => detail.clone(),
            _ => String::new(),
        };
        if detail.is_empty() {
            format!("{self}\n")
        } else {
            format!("{self}\n\n{detail}\n")
        }
    }

    pub fn io(node: &str, path: &std::path::Path, error: impl fmt::Display) -> RunError {
        RunError::Io {
            node: node.to_string(),
            path: path.display().to_string(),
            message: error.to_string(),
        }
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Plugin { node, error, step: None } => write!(f, "node `{node}`: {error}"),
            RunError::Plugin { node, error, step: Some(step) } => {
                write!(f, "node `{node}` at step {step}: {error}")
            }
            RunError::Contract {
                node,
                component,
                plugin,
                message,
            } => write!(f, "node `{node}`: `{component}` (plugin `{plugin}`) {message}"),
            RunError::MissingComponent { node, kind, name } => write!(
                f,
                "node `{node}`: no loaded plugin provides the {kind} `{name}` (see `exp plugins`)"
            ),
            RunError::Tensor { node, op, message, .. } => {
                write!(f, "node `{node}`: tensor operation `{op}` failed: {message}")
            }
            RunError::NonFiniteLoss { node, step, last_finite } => {
                write!(f, "node `{node}`: the training loss is not finite at step {step}")?;
                match last_finite {
                    Some(loss) => write!(f, " (last finite loss {loss:.6})"),
                    None => write!(f, " (no finite loss was seen)"),
                }
            }
            RunError::Mismatch { node, message } => write!(f, "node `{node}`: {message}"),
            RunError::Io { node, path, message } => {
                write!(f, "node `{node}`: cannot write `{path}`: {message}")
            }
            RunError::Interrupted { node, step: None, .. } => {
                write!(f, "node `{node}`: not started, the run was interrupted")
            }
            RunError::Interrupted {
                node,
                step: Some(step),
                checkpointed: true,
            } => write!(f, "node `{node}`: interrupted after step {step}, checkpointed there"),
            RunError::Interrupted {
                node,
                step: Some(step),
                checkpointed: false,
            } => write!(
                f,
                "node `{node}`: interrupted after step {step}; no checkpoint was written (caching is off, or writing failed), so a rerun starts it again"
            ),
            RunError::Internal { node, message } => write!(
                f,
                "node `{node}`: {message}; this is a bug in exp, please report it with the .exp file"
            ),
        }
    }
}

impl std::error::Error for RunError {}
