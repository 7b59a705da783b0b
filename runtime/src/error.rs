//! `RunError`: why a node failed, or why the run as a whole could not start or finish. Each
//! variant holds what it is about (the node, the op and shapes, the path, the plugin); `Display`
//! turns it into one line, and the binary adds the node's location in the file when it renders
//! the error.

use std::fmt;

use exp_plugin_api::host::PluginError;
use exp_plugin_api::sdk::Split;

use crate::device::DeviceChoice;
use crate::text::packing::PackingError;

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
    /// A libtorch operation failed in the runtime itself. `shapes` are its operands' shapes
    /// where known; `message` is libtorch's first line; `detail` the rest it said (its C++
    /// backtrace), for the node's log.
    Tensor {
        node: String,
        op: String,
        shapes: Vec<Vec<i64>>,
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
    /// libtorch cannot compute in the phase's `precision` on this device.
    Autocast {
        node: String,
        precision: String,
        device: String,
    },
    /// A split of a text dataset cannot be packed into the model's windows.
    Packing {
        node: String,
        dataset: String,
        split: Split,
        error: PackingError,
    },
    /// Reading or writing a file in the run directory failed.
    Io {
        node: String,
        path: String,
        message: String,
    },
    /// A node's cache entry, valid when looked up, could not be turned back into its result.
    Restore {
        node: String,
        entry: String,
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
    /// A dataset's licence is not one the file's `policy { licenses: [..] }` allows; nothing
    /// trains in such a run.
    LicencePolicy {
        node: String,
        /// Every licence of the dataset the policy refuses (its only one, for most datasets).
        licenses: Vec<String>,
        allowed: Vec<String>,
    },
    /// An input the node needs is not there: a bug in exp.
    Internal { node: String, message: String },
    /// The node was computed elsewhere and failed there, or its job ended without a result;
    /// `job` names the job as its scheduler does (`Slurm job 42`), `log` is its output.
    Remote {
        node: String,
        job: String,
        log: Option<String>,
        message: String,
    },
    /// `--device` names no device exp knows.
    UnknownDevice { given: String },
    /// The device asked for is not there.
    DeviceUnavailable { asked: DeviceChoice },
    /// The run directory cannot be created.
    RunDirectory { path: String, message: String },
    /// The cache directory cannot be opened.
    CacheDirectory { path: String, message: String },
    /// A plugin file cannot be read to hash it into a node's cache key.
    PluginUnreadable { node: String, path: String },
    /// A path parameter of a component holds a glob pattern that is not valid.
    PathPattern {
        node: String,
        pattern: String,
        message: String,
    },
    /// A file a component's path parameters name cannot be read to hash it into the key.
    NamedFileUnreadable {
        node: String,
        component: String,
        path: String,
    },
    /// A part of a node's cache key (`what`) cannot be serialised: a bug in exp.
    CacheKey {
        node: String,
        what: &'static str,
        message: String,
    },
    /// A one-node run cannot compute the node it was asked for.
    OnlyNode { node: String, message: String },
    /// `manifest.json` cannot be written.
    Manifest { path: String, message: String },
    /// The pool of worker threads cannot start.
    WorkerThreads { message: String },
}

impl RunError {
    /// The node the error is about; `None` for one that stops the run as a whole.
    pub fn node(&self) -> Option<&str> {
        match self {
            RunError::Plugin { node, .. }
            | RunError::Contract { node, .. }
            | RunError::MissingComponent { node, .. }
            | RunError::Tensor { node, .. }
            | RunError::NonFiniteLoss { node, .. }
            | RunError::Mismatch { node, .. }
            | RunError::Autocast { node, .. }
            | RunError::Packing { node, .. }
            | RunError::Io { node, .. }
            | RunError::Restore { node, .. }
            | RunError::Interrupted { node, .. }
            | RunError::Internal { node, .. }
            | RunError::Remote { node, .. }
            | RunError::LicencePolicy { node, .. }
            | RunError::PluginUnreadable { node, .. }
            | RunError::PathPattern { node, .. }
            | RunError::NamedFileUnreadable { node, .. }
            | RunError::CacheKey { node, .. } => Some(node),
            RunError::UnknownDevice { .. }
            | RunError::DeviceUnavailable { .. }
            | RunError::RunDirectory { .. }
            | RunError::CacheDirectory { .. }
            | RunError::Manifest { .. }
            | RunError::OnlyNode { .. }
            | RunError::WorkerThreads { .. } => None,
        }
    }

    /// A libtorch operation `op` of node `node` failed on `operands` (named by their shapes;
    /// none when they are not known).
    pub fn tensor(
        node: &str,
        op: &str,
        operands: &[&tch::Tensor],
        error: impl fmt::Display,
    ) -> RunError {
        let full = error.to_string();
        let message = exp_plugin_api::sdk::short_torch_error(&full).to_string();
        let detail = if message == full { String::new() } else { full };
        RunError::Tensor {
            node: node.to_string(),
            op: op.to_string(),
            // An operand that has no shape (undefined) is left out rather than guessed.
            shapes: operands
                .iter()
                .filter(|tensor| tensor.defined())
                .map(|tensor| tensor.size())
                .collect(),
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

/// Shapes as libtorch prints them, `[8, 10]`, joined with "and".
fn shapes_text(shapes: &[Vec<i64>]) -> String {
    shapes
        .iter()
        .map(|shape| format!("{shape:?}"))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// How a split is named in a sentence.
fn split_text(split: Split) -> &'static str {
    match split {
        Split::Train => "training",
        Split::Validation => "validation",
        Split::Test => "test",
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
            RunError::Tensor {
                node,
                op,
                shapes,
                message,
                ..
            } => {
                write!(f, "node `{node}`: tensor operation `{op}`")?;
                if !shapes.is_empty() {
                    write!(f, " on shapes {}", shapes_text(shapes))?;
                }
                write!(f, " failed: {message}")
            }
            RunError::NonFiniteLoss { node, step, last_finite } => {
                write!(f, "node `{node}`: the training loss is not finite at step {step}")?;
                match last_finite {
                    Some(loss) => write!(f, " (last finite loss {loss:.6})"),
                    None => write!(f, " (no finite loss was seen)"),
                }
            }
            RunError::Mismatch { node, message } => write!(f, "node `{node}`: {message}"),
            RunError::LicencePolicy {
                node,
                licenses,
                allowed,
            } => {
                let license = licence_words(licenses);
                let allowed: Vec<String> = allowed.iter().map(|name| format!("`{name}`")).collect();
                write!(
                    f,
                    "dataset `{node}` has {license}, which the experiment's policy does not allow \
                     (it allows {}); nothing was trained. Leave the dataset out, or add its \
                     licence to `policy {{ licenses: [..] }}` if its terms permit this use",
                    allowed.join(", ")
                )
            }
            RunError::Autocast {
                node,
                precision,
                device,
            } => write!(
                f,
                "node `{node}`: libtorch cannot autocast to {precision} on {device}"
            ),
            RunError::Packing {
                node,
                dataset,
                split,
                error,
            } => write!(
                f,
                "node `{node}`: the {} split of `{dataset}`: {error}",
                split_text(*split)
            ),
            RunError::Io { node, path, message } => {
                write!(f, "node `{node}`: cannot write `{path}`: {message}")
            }
            RunError::Restore {
                node,
                entry,
                message,
            } => write!(
                f,
                "node `{node}`: cannot restore its result from the cache entry `{entry}`: {message}"
            ),
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
            RunError::Remote {
                node,
                job,
                log,
                message,
            } => {
                write!(f, "node `{node}`: {message} ({job}")?;
                match log {
                    Some(log) => write!(f, "; its log: {log})"),
                    None => write!(f, ")"),
                }
            }
            RunError::UnknownDevice { given } => {
                write!(f, "unknown device `{given}`: expected auto, cpu or cuda")
            }
            RunError::DeviceUnavailable { asked } => write!(
                f,
                "`--device {asked}` was asked for, but libtorch sees no CUDA device; use `--device auto` or `cpu`"
            ),
            RunError::RunDirectory { path, message } => {
                write!(f, "cannot create run directory `{path}`: {message}")
            }
            RunError::CacheDirectory { path, message } => {
                write!(f, "cannot open the cache `{path}`: {message}")
            }
            RunError::PluginUnreadable { node, path } => write!(
                f,
                "cannot read plugin `{path}` to hash it for node `{node}`'s cache key"
            ),
            RunError::PathPattern {
                node,
                pattern,
                message,
            } => write!(
                f,
                "node `{node}`: `{pattern}` is not a valid glob pattern: {message}"
            ),
            RunError::NamedFileUnreadable {
                node,
                component,
                path,
            } => write!(
                f,
                "node `{node}`: cannot read `{path}`, named by `{component}`'s parameters, to hash it for the cache key"
            ),
            RunError::CacheKey {
                node,
                what,
                message,
            } => write!(
                f,
                "node `{node}`: cannot serialise {what} for its cache key: {message}; this is a bug in exp, please report it with the .exp file"
            ),
            RunError::Manifest { path, message } => {
                write!(f, "cannot write the manifest `{path}`: {message}")
            }
            RunError::WorkerThreads { message } => {
                write!(f, "cannot start worker threads: {message}")
            }
            RunError::OnlyNode { node, message } => {
                write!(f, "cannot compute node `{node}`: {message}")
            }
        }
    }
}

impl std::error::Error for RunError {}

/// Licences in words: `licence `A``, `licences `A`, `B``, or `no licence` for a blank one.
pub fn licence_words(licenses: &[String]) -> String {
    match licenses {
        [one] if one.trim().is_empty() => "no licence".to_string(),
        [] => "no licence".to_string(),
        [one] => format!("licence `{one}`"),
        many => {
            let quoted: Vec<String> = many.iter().map(|name| format!("`{name}`")).collect();
            format!("licences {}", quoted.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use tch::Tensor;

    use super::RunError;

    #[test]
    fn a_tensor_error_names_the_op_the_node_and_the_shapes() {
        let target = Tensor::zeros([2, 3], (tch::Kind::Float, tch::Device::Cpu));
        let source = Tensor::zeros([3], (tch::Kind::Float, tch::Device::Cpu));
        let error = RunError::tensor("m", "copy_", &[&target, &source], "sizes differ");
        assert_eq!(
            error.to_string(),
            "node `m`: tensor operation `copy_` on shapes [2, 3] and [3] failed: sizes differ"
        );
        assert_eq!(error.node(), Some("m"));
        assert_eq!(
            RunError::tensor("m", "item", &[], "no value").to_string(),
            "node `m`: tensor operation `item` failed: no value"
        );
    }

    #[test]
    fn errors_that_stop_the_run_name_no_node() {
        let error = RunError::DeviceUnavailable {
            asked: crate::DeviceChoice::Cuda,
        };
        assert_eq!(error.node(), None);
        assert_eq!(
            error.to_string(),
            "`--device cuda` was asked for, but libtorch sees no CUDA device; use `--device auto` or `cpu`"
        );
    }

    #[test]
    fn a_licence_refusal_names_the_dataset_its_licence_and_what_is_allowed() {
        let error = RunError::LicencePolicy {
            node: "legal".into(),
            licenses: vec!["CC-BY-NC-4.0".into()],
            allowed: vec!["CC0-1.0".into(), "MIT".into()],
        };
        assert_eq!(error.node(), Some("legal"));
        assert_eq!(
            error.to_string(),
            "dataset `legal` has licence `CC-BY-NC-4.0`, which the experiment's policy does not \
             allow (it allows `CC0-1.0`, `MIT`); nothing was trained. Leave the dataset out, or \
             add its licence to `policy { licenses: [..] }` if its terms permit this use"
        );
        let unlicensed = RunError::LicencePolicy {
            node: "mine".into(),
            licenses: vec![" ".into()],
            allowed: vec!["MIT".into()],
        };
        assert!(unlicensed
            .to_string()
            .starts_with("dataset `mine` has no licence, which"));
        // Images with licences of their own: every refused one is named.
        let mixed = RunError::LicencePolicy {
            node: "shapes".into(),
            licenses: vec!["CC-BY-NC-4.0".into(), "LicenseRef-proprietary".into()],
            allowed: vec!["CC0-1.0".into()],
        };
        assert!(mixed.to_string().starts_with(
            "dataset `shapes` has licences `CC-BY-NC-4.0`, `LicenseRef-proprietary`, which"
        ));
    }
}
