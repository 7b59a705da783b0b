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
pub mod sizes;
pub mod world;

pub use exit::Exit;

use exp_ir::graph::Policy;
use exp_ir::{Graph, Node};
use serde::Serialize;

use crate::cli::GraphFormat;
use crate::sizes::Sizes;

/// The graph as `exp graph --format json` prints it: the graph's own serialisation (what run
/// caches and tools read back), each model node with its size where known
/// (`"parameters": {"count": n, "exact": true}` after its own fields).
pub fn graph_json(graph: &Graph, sizes: &Sizes) -> serde_json::Result<String> {
    #[derive(Serialize)]
    struct Printed<'g> {
        experiment: &'g str,
        seed: u64,
        plugins: &'g [String],
        nodes: Vec<PrintedNode<'g>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        policy: Option<&'g Policy>,
    }
    #[derive(Serialize)]
    struct PrintedNode<'g> {
        #[serde(flatten)]
        node: &'g Node,
        #[serde(skip_serializing_if = "Option::is_none")]
        parameters: Option<Parameters>,
    }
    #[derive(Serialize)]
    struct Parameters {
        count: u64,
        exact: bool,
    }
    // Taken apart field by field, so that a field added to `Graph` fails to compile here
    // until it is printed.
    let Graph {
        experiment,
        seed,
        plugins,
        nodes,
        policy,
    } = graph;
    let printed = Printed {
        experiment,
        seed: *seed,
        plugins,
        nodes: nodes
            .iter()
            .map(|node| PrintedNode {
                node,
                parameters: sizes.get(&node.id).map(|size| Parameters {
                    count: size.parameters,
                    exact: size.exact,
                }),
            })
            .collect(),
        policy: policy.as_ref(),
    };
    serde_json::to_string_pretty(&printed)
}

/// The file `experiment.exp` holding `src`, compiled against the checker's test catalog: for
/// the tests of what reads graphs.
#[cfg(test)]
pub(crate) fn test_graph(experiment: &str, src: &str) -> Graph {
    let (graph, _, diagnostics) = exp_compile::check_and_compile(
        &format!("{experiment}.exp"),
        src.as_bytes(),
        experiment,
        &exp_check::testing::TestWorld::new(),
        &exp_check::testing::TestCatalog::new(),
    );
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    graph.expect("a graph")
}

/// Prints the graph in the format asked for, with the sizes of its models that are known.
pub fn print_graph(graph: &Graph, format: GraphFormat, sizes: &Sizes) -> Exit {
    match format {
        GraphFormat::Dot => print!("{}", dot::to_dot(graph, sizes)),
        GraphFormat::Outline => print!("{}", outline::to_outline(graph, sizes)),
        GraphFormat::Json => match graph_json(graph, sizes) {
            Ok(json) => println!("{json}"),
            Err(error) => {
                eprintln!("error: cannot serialise the graph: {error}; this is a bug in exp");
                return Exit::Fatal;
            }
        },
    }
    Exit::Success
}
