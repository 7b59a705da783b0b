//! Snapshot tests of the compiler: source, graph (one line per node) and diagnostics.

use exp_check::testing::{TestCatalog, TestWorld};
use exp_diag::render;
use exp_ir::{Graph, NodeKind};

use crate::{check_and_lower, compile, count_nodes};

fn world() -> TestWorld {
    TestWorld::new()
        .module(
            "std.digits",
            "dataset digits = digits { test_fraction: 0.2 }\ndataset unused = digits\n",
        )
        .module(
            "std.models",
            "import std.digits\nmodel small = mlp { hidden: [16] }\n",
        )
}

fn graph_text(graph: &Graph) -> String {
    let mut out = format!(
        "experiment {} seed {} plugins {:?}\n",
        graph.experiment, graph.seed, graph.plugins
    );
    for node in &graph.nodes {
        let inputs: Vec<String> = node
            .inputs
            .iter()
            .map(|input| format!("{}={}", input.role, graph.node(input.node).name))
            .collect();
        let detail = match &node.kind {
            NodeKind::Dataset { component }
            | NodeKind::Model { component }
            | NodeKind::Merge { component }
            | NodeKind::Tokenizer { component }
            | NodeKind::Export { component } => {
                format!("{} {}", component.name, component.params_json())
            }
            NodeKind::Train(spec) => {
                let mut detail = format!(
                    "steps={} batch={} optimizer={} {}",
                    spec.steps,
                    spec.batch,
                    spec.optimizer.name,
                    spec.optimizer.params_json(),
                );
                for hook in &spec.hooks {
                    detail.push_str(&format!(" hook={} {}", hook.name, hook.params_json()));
                }
                if let Some(replay) = &spec.replay {
                    detail.push_str(&format!(" replay={replay:?}"));
                }
                detail
            }
            NodeKind::Continual {
                tasks,
                metric,
                splits,
                heatmap,
            } => {
                let mut detail = format!("tasks={tasks} metric={metric}");
                if splits.as_slice() != ["test"] {
                    detail.push_str(&format!(" splits={}", splits.join(",")));
                }
                if let Some(heatmap) = heatmap {
                    detail.push_str(&format!(" heatmap={heatmap}"));
                }
                detail
            }
            NodeKind::Evaluate { metrics, splits } => {
                let names: Vec<&str> = metrics.iter().map(|metric| metric.name.as_str()).collect();
                format!("metrics={names:?} split={}", splits.join(","))
            }
            NodeKind::Report { choose, .. } => match choose {
                Some(choose) => format!(
                    "choose by={} over={:?} maximize={}",
                    choose.by, choose.over, choose.maximize
                ),
                None => String::new(),
            },
            NodeKind::Caption => "caption".to_string(),
            NodeKind::Sample(spec) => format!("sample {}", spec.summary()),
        };
        let point = match &node.family {
            Some(family) => format!(" family={family} point={:?}", node.point),
            None => String::new(),
        };
        out.push_str(&format!(
            "{} {} {} [{}] -> {} seed={} {}{point}\n",
            node.id.0,
            node.kind.word(),
            node.name,
            inputs.join(" "),
            node.output.as_str(),
            node.seed,
            detail
        ));
    }
    out
}

fn check(src: &str) -> String {
    let (lowered, sources, diagnostics) = check_and_lower(
        "test.exp",
        src.as_bytes(),
        &world(),
        &TestCatalog::new(),
        |program| (compile(program, "test"), count_nodes(program)),
    );
    let graph = lowered.map(|(graph, counted)| {
        assert_eq!(
            counted,
            graph.nodes.len(),
            "nodes counted against nodes made"
        );
        graph
    });
    format!(
        "--- source\n{src}\n--- graph\n{}--- diagnostics\n{}",
        graph.as_ref().map(graph_text).unwrap_or_default(),
        render(&diagnostics, &sources, false)
    )
}

const QUICKSTART: &str = r#"import std.digits
plugin "target/release/libexp_std.so"
seed 7

model net = mlp { hidden: [64], activation: "relu" }

train a {
  model: net
  data: digits
  steps: 300 steps
  batch: 64
  optimizer: adamw { lr: 3e-3 }
  schedule: cosine { warmup: 10% }
  eval: [accuracy, loss]
  eval_every: 100 steps
}
train b {
  model: net
  data: digits
  steps: 2 epochs
  seed: 1
  optimizer: sgd { lr: 1, momentum: 0.9 }
}
merge soup = average(a, b)
merge wise = wise_ft(net, a) { alpha: 0.3 }
evaluate eval_a { model: a, data: digits, metrics: [accuracy, loss] }
evaluate eval_b { model: b, data: digits, metrics: [accuracy, loss] }
evaluate eval_soup { model: soup, data: digits, metrics: [accuracy, loss], split: "train" }
report results { rows: [eval_a, eval_b, eval_soup, a] }
"#;

#[test]
fn quickstart() {
    insta::assert_snapshot!(check(QUICKSTART));
}

/// The graph of a file that must check without a diagnostic. Every graph a test looks at
/// also checks that `count_nodes` (what `exp check` reports) counts its nodes.
fn graph_of(file_name: &str, src: &str) -> Graph {
    let experiment = file_name.trim_end_matches(".exp");
    let (lowered, _, diagnostics) = check_and_lower(
        file_name,
        src.as_bytes(),
        &world(),
        &TestCatalog::new(),
        |program| (compile(program, experiment), count_nodes(program)),
    );
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let (graph, counted) = lowered.expect("a graph");
    assert_eq!(
        counted,
        graph.nodes.len(),
        "nodes counted against nodes made"
    );
    graph
}

#[test]
fn quickstart_json() {
    let graph = graph_of("quickstart.exp", QUICKSTART);
    insta::assert_snapshot!(serde_json::to_string_pretty(&graph).expect("graphs serialise"));
}

#[test]
fn forward_references_are_ordered_by_dependency() {
    insta::assert_snapshot!(check(
        r#"report r { rows: [e] }
evaluate e { model: t, data: d, metrics: [accuracy] }
train t { model: m, data: d, steps: 5 steps, optimizer: adamw }
model m = mlp
dataset d = digits
"#
    ));
}

#[test]
fn only_reachable_imports_are_included() {
    insta::assert_snapshot!(check(
        r#"import std.models
evaluate e { model: small, data: digits, metrics: [loss] }
"#
    ));
}

#[test]
fn model_without_data_has_no_input() {
    insta::assert_snapshot!(check(
        r#"model lonely = mlp
"#
    ));
}

#[test]
fn errors_give_no_graph() {
    insta::assert_snapshot!(check(
        r#"model m = mlp { dropout: 2 }
"#
    ));
}

#[test]
fn sweeps_expand_into_nodes() {
    insta::assert_snapshot!(check(
        r#"import std.digits
model net = mlp
sweep lr in [1e-3, 3e-3], seeds 2 {
  train ft { model: net, data: digits, steps: 10 steps, optimizer: sgd { lr: lr } }
}
report results { rows: [ft] }
"#
    ));
}

/// A sweep's copies of one definition hold one copy of what they have equal (its components,
/// its training specification, its metrics), and their own copy of what differs.
#[test]
fn a_sweeps_copies_share_their_equal_parts() {
    let graph = graph_of(
        "shared.exp",
        r#"import std.digits
sweep lr in [1e-3, 3e-3], seeds 2 {
  model net = mlp { hidden: [8] }
  train ft { model: net, data: digits, steps: 10 steps, optimizer: sgd { lr: lr } }
  evaluate e { model: ft, data: digits, metrics: [accuracy] }
}
model other = mlp { hidden: [9] }
"#,
    );
    let of = |family: &str| -> Vec<&NodeKind> {
        graph
            .nodes
            .iter()
            .filter(|node| node.family.as_deref() == Some(family))
            .map(|node| &node.kind)
            .collect()
    };
    let components: Vec<&std::sync::Arc<exp_ir::ComponentRef>> = of("net")
        .into_iter()
        .map(|kind| match kind {
            NodeKind::Model { component } => component,
            other => panic!("a model made {other:?}"),
        })
        .collect();
    assert_eq!(components.len(), 4);
    assert!(components
        .iter()
        .all(|component| std::sync::Arc::ptr_eq(component, components[0])));
    let Some(NodeKind::Model { component: other }) = graph.find("other").map(|node| &node.kind)
    else {
        panic!("no model `other`");
    };
    assert!(!std::sync::Arc::ptr_eq(other, components[0]));
    // Two learning rates: two specifications, each held by its two seeds.
    let specs: Vec<&std::sync::Arc<exp_ir::graph::TrainSpec>> = of("ft")
        .into_iter()
        .map(|kind| match kind {
            NodeKind::Train(spec) => spec,
            other => panic!("a training made {other:?}"),
        })
        .collect();
    assert_eq!(specs.len(), 4);
    let distinct = |items: &[&std::sync::Arc<exp_ir::graph::TrainSpec>]| {
        let mut held: Vec<*const exp_ir::graph::TrainSpec> = items
            .iter()
            .map(|spec| std::sync::Arc::as_ptr(spec))
            .collect();
        held.sort();
        held.dedup();
        held.len()
    };
    assert_eq!(distinct(&specs), 2);
    let metrics: Vec<*const [exp_ir::ComponentRef]> = of("e")
        .into_iter()
        .map(|kind| match kind {
            NodeKind::Evaluate { metrics, .. } => std::sync::Arc::as_ptr(metrics),
            other => panic!("an evaluation made {other:?}"),
        })
        .collect();
    assert_eq!(metrics.len(), 4);
    assert!(metrics.iter().all(|held| std::ptr::eq(*held, metrics[0])));
}

#[test]
fn a_sequence_expands_into_phases_evaluations_and_a_summary() {
    insta::assert_snapshot!(check(
        r#"import std.digits
model net = mlp
dataset other = digits { test_fraction: 0.3 }
sequence seq {
  model: net
  tasks: [digits, other]
  steps: 10 steps
  optimizer: sgd { lr: 0.1 }
  hooks: [l2 { lambda: 0.5 }]
  replay: { size: 20, ratio: 25% }
}
evaluate final { model: seq, data: other, metrics: [accuracy] }
report results { rows: [seq] }
"#
    ));
}

#[test]
fn a_sequences_phases_derive_their_seeds_from_its_seed_field_or_the_files() {
    let phases_seeds = |src: &str| -> Vec<u64> {
        let graph = graph_of("test.exp", src);
        ["seq.task1", "seq.task2"]
            .iter()
            .map(|name| graph.find(name).expect(name).seed)
            .collect()
    };
    let sequence = |seed_field: &str| {
        format!(
            "import std.digits\nseed 3\nmodel net = mlp\nsequence seq {{\n  model: net\n  \
             tasks: [digits, digits]\n  steps: 10 steps\n  optimizer: sgd {{ lr: 0.1 }}\n{seed_field}}}\n"
        )
    };
    let expected = |base: u64| -> Vec<u64> {
        ["seq.task1", "seq.task2"]
            .iter()
            .map(|name| exp_ir::graph::derive_seed(base, name))
            .collect()
    };
    assert_eq!(phases_seeds(&sequence("  seed: 5\n")), expected(5));
    assert_eq!(phases_seeds(&sequence("")), expected(3));
    assert_ne!(
        expected(5)[0],
        expected(5)[1],
        "each phase a seed of its own"
    );
}

#[test]
fn a_sequence_merges_after_each_task_over_the_previous_model_or_the_fine_tunes() {
    insta::assert_snapshot!(check(
        r#"import std.digits
model net = mlp
dataset b = digits { test_fraction: 0.3 }
dataset c = digits { test_fraction: 0.4 }
sequence wise {
  model: net
  tasks: [digits, b, c]
  steps: 10 steps
  optimizer: sgd { lr: 0.1 }
  merge: wise_ft { alpha: 0.5 }
}
sequence vectors {
  model: net
  tasks: [digits, b, c]
  steps: 10 steps
  optimizer: sgd { lr: 0.1 }
  merge: average
  merge_over: "fine_tunes"
}
"#
    ));
}

// Every task is evaluated on each split after each task, the test split's evaluations keeping
// their names; the summary reads them split by split. `choose` reaches the report node.
#[test]
fn a_sequence_evaluates_on_several_splits_and_a_report_chooses() {
    insta::assert_snapshot!(check(
        r#"import std.digits
model net = mlp
dataset held = digits { test_fraction: 0.3 }
sweep lr in [0.1, 0.01] {
  sequence seq {
    model: net
    tasks: [held, held]
    steps: 10 steps
    optimizer: sgd { lr: lr }
    split: ["validation", "test"]
  }
}
report best { rows: [seq], choose: { by: "validation_avg_accuracy", over: ["lr"] } }
"#
    ));
}

#[test]
fn a_text_model_reads_its_tokenizer_and_no_dataset() {
    insta::assert_snapshot!(check(
        r#"dataset corpus = corpus
tokenizer tok = bpe(corpus) { vocab_size: 300 }
model lm = gpt(tok)
train pre { model: lm, data: corpus, steps: 10 steps, optimizer: adamw }
export hf = huggingface(pre)
"#
    ));
}

/// The file's rules reach the graph, and each node resolves its own request: a sequence's
/// phases and evaluations by their kinds, its summary by `sequence` and by its name, a sweep's
/// copies by their family.
#[test]
fn resources_reach_the_graph_and_resolve_per_node() {
    let graph = graph_of(
        "cluster.exp",
        r#"import std.digits
resources {
  default: { cpus: 2, memory: 4 GB, time: 30 min, partition: "cpu" }
  train: { gpus: 1, time: 2 h, partition: "gpu" }
  sequence: { cpus: 1 }
  seq: { memory: 1 GB }
  ft: { gpu_type: "a100" }
}
model net = mlp
sweep lr in [1e-3, 3e-3] {
  train ft { model: net, data: digits, steps: 10 steps, optimizer: sgd { lr: lr } }
}
sequence seq { model: net, tasks: [digits], steps: 10 steps, optimizer: sgd { lr: 0.1 } }
"#,
    );
    assert_eq!(graph.resources.rules.len(), 5);
    let lines: Vec<String> = graph
        .nodes
        .iter()
        .map(|node| {
            let request = graph.resources_for(node);
            format!(
                "{} {}: {}",
                node.kind.keyword(),
                node.name,
                serde_json::to_string(&request).expect("requests serialise")
            )
        })
        .collect();
    insta::assert_snapshot!(lines.join("\n"));
    // Read back as written.
    let json = serde_json::to_string(&graph).expect("graphs serialise");
    assert_eq!(
        serde_json::from_str::<Graph>(&json).expect("graphs read back"),
        graph
    );
}
