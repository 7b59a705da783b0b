//! `Remote`: where a node's body can run other than in this process. A remote executor (the
//! Slurm one, `exp-slurm`) computes a node somewhere else from the shared cache and leaves its
//! result there; the run then restores it from the cache like any cached node. Everything else
//! (the plan, failure isolation, reports, the manifest) stays the executor's.

use std::path::PathBuf;

use exp_ir::{ArtifactKind, Graph, Node};

use crate::error::RunError;
use crate::observer::Observer;

/// A node to compute elsewhere, with what the computing side must agree on.
pub struct RemoteNode<'a> {
    pub graph: &'a Graph,
    pub node: &'a Node,
    /// The node's cache key as this process computed it: the remote side computes it again
    /// and refuses to run if it differs (another exp, other plugins, another device).
    pub key: &'a str,
    /// The cache directory both sides share.
    pub cache_dir: &'a std::path::Path,
    /// The run directory: a remote executor keeps its logs under it.
    pub run_dir: &'a std::path::Path,
}

/// How a remote computation ended without a result.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteFailure {
    /// The job as its scheduler names it (`Slurm job 42`).
    pub job: String,
    /// Where the job's output went.
    pub log: Option<PathBuf>,
    pub message: String,
}

pub trait Remote: Send + Sync {
    /// Computes `node` elsewhere; returns once its result is in the cache. Blocks the calling
    /// worker thread: the executor calls it from its pool.
    /// When the run's stop flag is set it asks the computation to checkpoint and stop, and
    /// returns `RunError::Interrupted`.
    fn compute(&self, node: &RemoteNode, observer: &dyn Observer) -> Result<(), RunError>;
}

/// Whether a node is computed remotely when the run has a remote executor: nodes whose
/// result the cache stores (models, metrics, tokenizers). Datasets are rebuilt where they are
/// read, reports need every row in this process, and an export writes files into this run
/// directory.
pub fn runs_remotely(node: &Node) -> bool {
    matches!(
        node.output,
        ArtifactKind::Model | ArtifactKind::Metrics | ArtifactKind::Tokenizer
    )
}

/// `RunError::Remote` for a node.
pub fn failed(node: &Node, failure: RemoteFailure) -> RunError {
    RunError::Remote {
        node: node.name.clone(),
        job: failure.job,
        log: failure.log.map(|path| path.display().to_string()),
        message: failure.message,
    }
}
