//! The half of the `exp` command line that loads no plugin and links no libtorch: argument
//! parsing, reading and checking experiment files against cached schemas, printing
//! diagnostics and graphs, formatting, and the language server. Both binaries are built on
//! it: `exp` (src/main.rs), which answers `check`, `graph`, `fmt` and `lsp` itself, and
//! `exp-host` (src/host/), which loads plugins and runs experiments.
//!
//! Nothing here may use `exp-runtime` or `exp-plugin-api`'s host side (they link libtorch):
//! the `exp` binary would then load libtorch at start-up, which costs more than the whole check.
//! `tests/e2e/fast_check.rs` checks that `exp check` loads no libtorch.

pub mod cached_catalog;
pub mod cli;
pub mod dot;
pub mod exit;
pub mod experiment;
pub mod fmt;
pub mod host_exec;
pub mod lsp;
#[cfg(unix)]
pub mod outline;
pub mod plugin_files;
pub mod schema_cache;
pub mod world;

pub use exit::Exit;

use exp_ir::Graph;

use crate::cli::GraphFormat;

/// Prints the graph in the format asked for.
pub fn print_graph(graph: &Graph, format: GraphFormat) -> Exit {
    match format {
        GraphFormat::Dot => print!("{}", dot::to_dot(graph)),
        GraphFormat::Outline => print!("{}", outline::to_outline(graph)),
        GraphFormat::Json => match serde_json::to_string_pretty(graph) {
            Ok(json) => println!("{json}"),
            Err(error) => {
                eprintln!("error: cannot serialise the graph: {error}; this is a bug in exp");
                return Exit::Fatal;
            }
        },
    }
    Exit::Success
}
