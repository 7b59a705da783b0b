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
pub mod config;
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
use exp_ir::{Graph, Node, ResourceRequest, Resources};
use serde::Serialize;

use crate::cli::GraphFormat;
use crate::sizes::Sizes;

/// The graph as `exp graph --format json` prints it: the graph's own serialisation (what run
/// caches and tools read back), each model node with its size where known
/// (`"parameters": {"count": n, "exact": true}` after its own fields), and, when the file has
/// a `resources` block, each node with what it asks a scheduler for (`"resources": {..}`).
pub fn graph_json(graph: &Graph, sizes: &Sizes) -> serde_json::Result<String> {
    #[derive(Serialize)]
    struct Printed<'g> {
        experiment: &'g str,
        seed: u64,
        plugins: &'g [String],
        nodes: Vec<PrintedNode<'g>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        policy: Option<&'g Policy>,
        #[serde(skip_serializing_if = "Resources::is_empty")]
        resources: &'g Resources,
    }
    #[derive(Serialize)]
    struct PrintedNode<'g> {
        #[serde(flatten)]
        node: &'g Node,
        #[serde(skip_serializing_if = "Option::is_none")]
        parameters: Option<Parameters>,
        #[serde(skip_serializing_if = "Option::is_none")]
        resources: Option<ResourceRequest>,
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
        resources,
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
                resources: (!resources.is_empty()).then(|| graph.resources_for(node)),
            })
            .collect(),
        policy: policy.as_ref(),
        resources,
    };
    serde_json::to_string_pretty(&printed)
}

/// A node's request in a few words, as `exp graph` shows it: `cpus 2, 4 GB, 1 a100 gpu, 2 h,
/// partition gpu, account lab`; empty when nothing is asked for.
pub fn resources_text(request: &ResourceRequest) -> String {
    let ResourceRequest {
        cpus,
        memory_mb,
        gpus,
        gpu_type,
        time_minutes,
        partition,
        account,
    } = request;
    let mut words = Vec::new();
    if let Some(cpus) = cpus {
        words.push(format!("cpus {cpus}"));
    }
    if let Some(mb) = memory_mb {
        words.push(match mb % 1024 {
            0 => format!("{} GB", mb / 1024),
            _ => format!("{mb} MB"),
        });
    }
    let plural = |count: u32| if count == 1 { "gpu" } else { "gpus" };
    match (gpus, gpu_type) {
        (Some(count), Some(kind)) => words.push(format!("{count} {kind} {}", plural(*count))),
        (Some(count), None) => words.push(format!("{count} {}", plural(*count))),
        (None, Some(kind)) => words.push(format!("{kind} gpus")),
        (None, None) => {}
    }
    if let Some(minutes) = time_minutes {
        words.push(match minutes % 60 {
            0 => format!("{} h", minutes / 60),
            _ => format!("{minutes} min"),
        });
    }
    if let Some(partition) = partition {
        words.push(format!("partition {partition}"));
    }
    if let Some(account) = account {
        words.push(format!("account {account}"));
    }
    words.join(", ")
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

/// `exp graph` in its three formats for a file with a `resources` block.
#[cfg(all(test, unix))]
mod resources_tests {
    use exp_ir::ResourceRequest;

    use crate::sizes::Sizes;

    const SRC: &str = r#"dataset digits = digits
resources {
  default: { cpus: 2, memory: 4 GB, time: 30 min, partition: "cpu" }
  train: { gpus: 1, time: 2 h, partition: "gpu", account: "lab" }
  ft: { gpu_type: "a100", memory: 1500 MB }
  evaluate: { time: 90 min }
}
model net = mlp
sweep lr in [0.001, 0.003] {
  train ft { model: net, data: digits, steps: 10 steps, optimizer: sgd { lr: lr } }
}
evaluate score { model: ft[lr=0.001], data: digits, metrics: [accuracy] }
"#;

    #[test]
    fn the_outline_shows_each_familys_request() {
        let graph = crate::test_graph("cluster", SRC);
        insta::assert_snapshot!(crate::outline::to_outline(&graph, &Sizes::default()));
    }

    #[test]
    fn the_json_gives_each_node_its_resolved_request() {
        let graph = crate::test_graph("cluster", SRC);
        insta::assert_snapshot!(crate::graph_json(&graph, &Sizes::default()).unwrap());
    }

    #[test]
    fn the_dot_labels_each_node_with_its_request() {
        let graph = crate::test_graph("cluster", SRC);
        insta::assert_snapshot!(crate::dot::to_dot(&graph, &Sizes::default()));
    }

    #[test]
    fn a_file_without_resources_shows_none() {
        let graph = crate::test_graph("plain", "dataset d = digits\nmodel net = mlp\n");
        assert!(!crate::graph_json(&graph, &Sizes::default())
            .unwrap()
            .contains("resources"));
        assert!(!crate::dot::to_dot(&graph, &Sizes::default()).contains("\\n["));
        assert!(!crate::outline::to_outline(&graph, &Sizes::default()).contains('['));
    }

    #[test]
    fn a_request_reads_in_a_few_words() {
        let text = |request: ResourceRequest| crate::resources_text(&request);
        assert_eq!(text(ResourceRequest::default()), "");
        assert_eq!(
            text(ResourceRequest {
                cpus: Some(2),
                memory_mb: Some(4096),
                gpus: Some(1),
                gpu_type: Some("a100".to_string()),
                time_minutes: Some(120),
                partition: Some("gpu".to_string()),
                account: Some("lab".to_string()),
            }),
            "cpus 2, 4 GB, 1 a100 gpu, 2 h, partition gpu, account lab"
        );
        assert_eq!(
            text(ResourceRequest {
                memory_mb: Some(1500),
                gpus: Some(2),
                time_minutes: Some(90),
                ..ResourceRequest::default()
            }),
            "1500 MB, 2 gpus, 90 min"
        );
        assert_eq!(
            text(ResourceRequest {
                gpus: Some(0),
                ..ResourceRequest::default()
            }),
            "0 gpus"
        );
        assert_eq!(
            text(ResourceRequest {
                gpu_type: Some("h100".to_string()),
                ..ResourceRequest::default()
            }),
            "h100 gpus"
        );
    }
}
