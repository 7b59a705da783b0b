//! The exp runtime: executes a compiled graph (`exp_ir::Graph`) on libtorch.
//!
//! - `registry`: the loaded plugins and which one provides each component.
//! - `artifact`: the values that flow along edges (datasets, model weights, metrics, tables);
//!   `weights`: a model's tensors, read from its checkpoint only when a node asks for them.
//! - `executor`: runs nodes in dependency order, independent ones in parallel on rayon, and
//!   isolates failures (a failed node's dependents are skipped, everything else still runs).
//!   What it is asked (`run_options`), says of each node (`node_outcome`) and hands back
//!   (`run_summary`) sit in their own modules, which `manifest` and `observer` read too.
//! - `nodes`: what each kind of node does (initialise, train, merge, evaluate, report).
//! - `remote`: the boundary to a remote executor (Slurm): nodes computed elsewhere from the
//!   shared cache.
//! - `run_dir`: the run directory: manifest, metrics log, checkpoints, results tables.
//! - `plots`: charts of the metrics log and of results tables, as SVG and PNG.
//! - `sizing`: a model's parameter count before anything runs, for `exp graph`.
//! - `text`: tokenized text, packed into the windows a model of token sequences reads.

pub mod artifact;
pub mod cache;
pub mod device;
pub mod error;
pub mod executor;
pub mod manifest;
pub mod node_outcome;
pub mod nodes;
pub mod observer;
pub mod plots;
pub mod precision;
pub mod registry;
pub mod remote;
pub mod run_dir;
pub mod run_options;
pub mod run_summary;
pub mod sizing;
pub mod table;
pub mod text;
pub mod weights;

pub use device::DeviceChoice;
pub use error::RunError;
pub use executor::execute;
pub use node_outcome::NodeOutcome;
pub use observer::{Observer, SilentObserver};
pub use registry::Registry;
pub use run_dir::RunDir;
pub use run_options::RunOptions;
pub use run_summary::RunSummary;
pub use table::Table;
