//! `RunOptions`: what the caller decides about a run (where it writes, on which device, how
//! many nodes and threads, the cache, `--force`, `--explain`, one node only or a remote
//! executor, and the stop flag).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::cache::CacheFiles;
use crate::device::DeviceChoice;
use crate::remote::Remote;

pub struct RunOptions {
    /// The run directory to create and fill.
    pub run_dir: PathBuf,
    pub device: DeviceChoice,
    /// Nodes that may run at once.
    pub jobs: usize,
    /// libtorch's intra-op threads for every node. Fixed by the caller, never derived from
    /// `jobs`: CPU results depend on it, and must not depend on how many nodes run at once.
    pub threads: usize,
    /// The experiment file (as given) and its SHA-256, for the manifest.
    pub source_path: String,
    pub source_sha256: String,
    pub exp_version: String,
    /// The cache directory; `None` runs everything and stores nothing (`--no-cache`).
    pub cache_dir: Option<PathBuf>,
    /// Whether run directories link the cache's checkpoints or copy them.
    pub cache_files: CacheFiles,
    /// Nodes to recompute even when cached (`--force NODE`); their dependents recompute too.
    pub force: Vec<String>,
    /// Report, per node, whether it is cached and why not (`--explain`).
    pub explain: bool,
    /// Compute only this node and what it needs that the cache does not hold (`exp-host
    /// compute-node`, what a Slurm job runs); every other node is not needed.
    pub only: Option<OnlyNode>,
    /// Where nodes whose result the cache stores are computed, when not in this process.
    pub remote: Option<Arc<dyn Remote>>,
    /// Set by the caller (on Ctrl-C) to stop: training nodes finish their current step,
    /// checkpoint and stop; no new node starts.
    pub stop: Arc<AtomicBool>,
}

/// The one node a run computes, and the key whoever asked for it computed: a run whose own key
/// for it differs (another exp, other plugins, another device) refuses to start.
pub struct OnlyNode {
    pub name: String,
    pub key: String,
}
