//! The exp runtime: executes a compiled graph (`exp_ir::Graph`) on libtorch.
//!
//! - `registry`: the loaded plugins and which one provides each component.
//! - `artifact`: the values that flow along edges (datasets, model weights, metrics, tables).
//! - `executor`: runs nodes in dependency order, independent ones in parallel on rayon, and
//!   isolates failures (a failed node's dependents are skipped, everything else still runs).
//! - `nodes`: what each kind of node does (initialise, train, merge, evaluate, report).
//! - `run_dir`: the run directory: manifest, metrics log, checkpoints, results tables.
//! - `plots`: charts of the metrics log and of results tables, as SVG and PNG.
//! - `text`: tokenized text, packed into the windows a model of token sequences reads.

pub mod artifact;
pub mod cache;
pub mod device;
pub mod error;
pub mod executor;
pub mod manifest;
pub mod nodes;
pub mod observer;
pub mod plots;
pub mod precision;
pub mod registry;
pub mod run_dir;
pub mod table;
pub mod text;

pub use device::DeviceChoice;
pub use error::RunError;
pub use executor::{execute, NodeOutcome, RunOptions, RunSummary};
pub use observer::{Observer, SilentObserver};
pub use registry::Registry;
pub use run_dir::RunDir;
pub use table::Table;
