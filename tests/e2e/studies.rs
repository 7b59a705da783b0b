//! The study constructs through the real binary: sweeps expand into nodes cached one by one and
//! reported as mean ± std over seeds; templates instantiate; task sequences train with hooks and
//! replay, carry hook state, write their accuracy matrix, and come back from the cache; a
//! report keeps the rows that finished when one fails.

use crate::support::{statuses, Test};

fn read(test: &Test, path: &str) -> String {
    std::fs::read_to_string(test.path(path)).unwrap_or_else(|error| panic!("{path}: {error}"))
}

const SWEEP: &str = r#"import std.digits
model net = mlp { hidden: [16] }
template finetune(start, lr) {
  train ft { model: start, data: digits, steps: 8 steps, optimizer: adamw { lr: lr } }
  evaluate score { model: ft, data: digits, metrics: [accuracy] }
}
sweep lr in [1e-3, 1e-2], seeds 3 {
  use run = finetune(net, lr)
}
report results { rows: [run] }
"#;

#[test]
fn a_sweep_runs_every_point_and_reports_replicates_as_mean_and_std() {
    let test = Test::new().file("sweep.exp", SWEEP);
    let outcome = test.run_with(&["run", "sweep.exp", "--out", "first", "--jobs", "2"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    let first = statuses(&test, "first");
    for lr in ["0.001", "0.01"] {
        for seed in 0..3 {
            assert_eq!(first[&format!("run.ft[lr={lr},seed={seed}]")], "done");
            assert_eq!(first[&format!("run.score[lr={lr},seed={seed}]")], "done");
        }
    }
    // One row per learning rate, the mean ± std of three seeds; every run kept beside it.
    let table = read(&test, "first/results.md");
    // Labelled with the rows' own name, `run.score`, as the graph and the outline name them.
    assert!(table.contains("| run.score[lr=0.001] "), "{table}");
    assert!(table.contains("| run.score[lr=0.01] "), "{table}");
    assert!(table.contains(" ± "), "{table}");
    assert!(table.contains("| n "), "{table}");
    let csv = read(&test, "first/results.csv");
    assert!(
        csv.starts_with("node,accuracy,accuracy_std,accuracy_ci95_low,accuracy_ci95_high,n\n"),
        "{csv}"
    );
    assert!(csv.contains("\nrun.score[lr=0.001],"), "{csv}");
    let runs = read(&test, "first/results_runs.csv");
    assert_eq!(runs.lines().count(), 1 + 6, "{runs}");

    // The mean and std in the table are those of the runs.
    let values: Vec<f64> = runs
        .lines()
        .filter(|line| line.contains("lr=0.01,"))
        .map(|line| line.rsplit(',').next().unwrap().parse().unwrap())
        .collect();
    let mean = values.iter().sum::<f64>() / 3.0;
    let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
    let row = csv
        .lines()
        .find(|line| line.starts_with("run.score[lr=0.01],"))
        .unwrap();
    let cells: Vec<f64> = row.split(',').skip(1).map(|c| c.parse().unwrap()).collect();
    assert!((cells[0] - mean).abs() < 1e-12, "{row} vs {values:?}");
    assert!((cells[1] - std).abs() < 1e-12, "{row} vs {values:?}");
    // The 95% interval of the mean of three runs: t(2) = 4.303.
    let half = 4.303 * std / 3f64.sqrt();
    assert!((cells[2] - (mean - half)).abs() < 1e-9, "{row}");
    assert!((cells[3] - (mean + half)).abs() < 1e-9, "{row}");
    assert_eq!(cells[4], 3.0);

    // One more point: only its nodes run; the others come from the cache, one by one.
    let wider = SWEEP.replace("[1e-3, 1e-2]", "[1e-3, 1e-2, 3e-2]");
    std::fs::write(test.path("sweep.exp"), wider).unwrap();
    let outcome = test.run_with(&["run", "sweep.exp", "--out", "second"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    let second = statuses(&test, "second");
    for seed in 0..3 {
        assert_eq!(second[&format!("run.ft[lr=0.001,seed={seed}]")], "cached");
        assert_eq!(second[&format!("run.ft[lr=0.03,seed={seed}]")], "done");
    }
    assert_eq!(second["results"], "done");
}

#[test]
fn graph_shows_sweeps_and_sequences_expanded() {
    let test = Test::new().file("sweep.exp", SWEEP).file(
        "seq.exp",
        "import std.continual\nsequence s { model: digits_mlp, tasks: [rotated, inverted], steps: 5 steps, optimizer: sgd { lr: 0.1 } }\n",
    );
    let outcome = test.run_with(&["graph", "sweep.exp", "--format", "json"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    let graph: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
    let nodes = graph["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2 + 12 + 1);
    let ft = nodes
        .iter()
        .find(|node| node["name"] == "run.ft[lr=0.01,seed=2]")
        .unwrap();
    assert_eq!(ft["family"], "run.ft");
    assert_eq!(
        ft["point"],
        serde_json::json!([["lr", "0.01"], ["seed", "2"]])
    );

    // The outline: one line per definition, with its copies and the axes' values.
    let outcome = test.run_with(&["graph", "sweep.exp", "--format", "outline"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    assert!(
        outcome
            .stdout
            .starts_with("sweep: 15 nodes from 5 definitions\n"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome
            .stdout
            .contains("train run.ft        ×6  lr ∈ {0.001, 0.01}; seed ∈ {0, 1, 2}"),
        "{}",
        outcome.stdout
    );
    // The template's result by its own name, which the nodes have at run time.
    assert!(
        outcome
            .stdout
            .contains("evaluate run.score  ×6  lr ∈ {0.001, 0.01}; seed ∈ {0, 1, 2}"),
        "{}",
        outcome.stdout
    );

    let outcome = test.run_with(&["graph", "seq.exp", "--format", "dot"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    for name in [
        "s.task1",
        "s.task2",
        "s.task2.on1",
        "s.task1.on2",
        "continual s",
    ] {
        assert!(outcome.stdout.contains(name), "{name}:\n{}", outcome.stdout);
    }
}

const SEQUENCE: &str = r#"import std.continual
model net = mlp { hidden: [16] }
sequence protected {
  model: net
  tasks: [rotated, inverted, permuted]
  steps: 12 steps
  optimizer: adamw { lr: 3e-3 }
  hooks: [ewc { lambda: 10, batches: 2 }, l2 { lambda: 0.01 }, sfa { every: 50%, beta: 0.5 }]
  replay: { size: 40, ratio: 25%, selection: "uniform" }
}
train joint { model: net, data: [rotated, inverted, permuted], steps: 12 steps, optimizer: adamw { lr: 3e-3 } }
sequence reference { models: [joint, joint, joint], tasks: [rotated, inverted, permuted] }
report results { rows: [protected, reference] }
"#;

#[test]
fn a_sequence_trains_with_hooks_and_replay_and_reports_its_matrix() {
    let test = Test::new().file("seq.exp", SEQUENCE);
    let outcome = test.run_with(&["run", "seq.exp", "--out", "first"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    let first = statuses(&test, "first");
    for phase in 1..=3 {
        assert_eq!(first[&format!("protected.task{phase}")], "done");
        for task in 1..=3 {
            assert_eq!(first[&format!("protected.task{phase}.on{task}")], "done");
        }
    }
    // The matrix: a header and three rows of three accuracies.
    // in the sequence's own folder, drawn since it is outside any sweep.
    let matrix = read(&test, "first/nodes/protected/matrix.csv");
    assert_eq!(matrix.lines().next(), Some("after,task1,task2,task3"));
    assert_eq!(matrix.lines().count(), 4);
    assert!(test.path("first/nodes/protected/heatmap.png").exists());
    assert!(test.path("first/results.protected.heatmap.png").exists());
    assert!(!test.path("first/protected.matrix.csv").exists());
    let shown = test.run_with(&["show", "latest", "--dir", "first"]);
    assert!(
        shown
            .stdout
            .contains("node folders (accuracy matrices):\n    first/nodes/protected/\n"),
        "{}",
        shown.stdout
    );
    // The summary's metrics, and what the method held: EWC's θ* and Fisher, L2's anchor and
    // SFA's anchor are four parameter copies; the replay buffer 40 examples.
    let table = read(&test, "first/results.csv");
    let header: Vec<&str> = table.lines().next().unwrap().split(',').collect();
    assert_eq!(
        header,
        [
            "node",
            "avg_accuracy",
            "forgetting",
            "bwt",
            "learning_accuracy",
            "param_copies",
            "replay_examples"
        ]
    );
    let protected: Vec<&str> = table.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(protected[0], "protected");
    assert_eq!(protected[5], "4");
    assert_eq!(protected[6], "40");
    // The final average is the mean of the matrix's last row.
    let last: Vec<f64> = matrix
        .lines()
        .last()
        .unwrap()
        .split(',')
        .skip(1)
        .map(|cell| cell.parse().unwrap())
        .collect();
    let average: f64 = protected[1].parse().unwrap();
    assert!((average - last.iter().sum::<f64>() / 3.0).abs() < 1e-12);
    // A replay buffer is logged by every phase after the first.
    let metrics = read(&test, "first/metrics.jsonl");
    assert!(metrics.contains(r#""node":"protected.task2","step":null,"split":"replay","name":"buffer_examples","value":40.0"#), "{metrics}");

    // Hook state travels through the cache: a second run restores every phase and gives the
    // same matrix.
    let outcome = test.run_with(&["run", "seq.exp", "--out", "second"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    // Datasets are rebuilt, not stored; everything else comes from the cache.
    assert!(statuses(&test, "second")
        .values()
        .all(|status| status == "cached" || status == "not_needed"));
    assert_eq!(matrix, read(&test, "second/nodes/protected/matrix.csv"));
    // Changing the second task's hook reruns from the first phase on, and the first phase's
    // carried state (the cached EWC Fisher) feeds the rerun.
    let changed = SEQUENCE.replace(
        "sfa { every: 50%, beta: 0.5 }",
        "sfa { every: 50%, beta: 0.25 }",
    );
    std::fs::write(test.path("seq.exp"), changed).unwrap();
    let outcome = test.run_with(&["run", "seq.exp", "--out", "third", "--no-cache"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    assert_ne!(matrix, read(&test, "third/nodes/protected/matrix.csv"));
}

/// A row whose node failed is marked `(failed)`, and one skipped because of it `(skipped)`, as
/// the run's summary counts them.
#[test]
fn a_report_keeps_the_rows_that_finished_when_one_fails() {
    let test = Test::new().file(
        "partial.exp",
        r#"import std.digits
model net = mlp { hidden: [16] }
sweep lr in [0.1, 1e30] {
  train ft { model: net, data: digits, steps: 10 steps, optimizer: sgd { lr: lr } }
  evaluate score { model: ft, data: digits, metrics: [accuracy] }
}
report results { rows: [score] }
report phases { rows: [ft] }
"#,
    );
    let outcome = test.run_with(&["run", "partial.exp", "--out", "out"]);
    assert_eq!(outcome.status, 1, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("the training loss is not finite"),
        "{}",
        outcome.stderr
    );
    let table = read(&test, "out/results.csv");
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "node,accuracy");
    assert!(lines[1].starts_with("score[lr=0.1],0."), "{table}");
    assert_eq!(lines[2], "score[lr=1e30] (skipped),");
    assert!(
        outcome.stderr.contains("1 node failed, 1 node skipped"),
        "{}",
        outcome.stderr
    );
    let phases = read(&test, "out/phases.csv");
    assert!(
        phases.lines().any(|line| line == "ft[lr=1e30] (failed)"),
        "{phases}"
    );
    let statuses = statuses(&test, "out");
    assert_eq!(statuses["results"], "done");
    assert_eq!(statuses["ft[lr=1e30]"], "failed");
    assert_eq!(statuses["score[lr=1e30]"], "skipped");
}

#[test]
fn a_mixture_schedule_switches_the_data_at_its_point() {
    let test = Test::new().file(
        "mix.exp",
        r#"import std.continual
model net = mlp { hidden: [16] }
train upsampled {
  model: net
  data: [digits, rotated]
  steps: 10 steps
  batch: 10
  optimizer: sgd { lr: 0.1 }
  mixture: { at: [0%, 60%], weights: [[1, 0], [0, 1]] }
}
"#,
    );
    let outcome = test.run_with(&["run", "mix.exp", "--out", "out"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    let manifest: serde_json::Value =
        serde_json::from_str(&read(&test, "out/manifest.json")).unwrap();
    let text = manifest.to_string();
    // Six steps of ten from the plain digits, then four of ten from the rotated ones: the
    // ledger counts what each source fed the phase.
    let checkpoint = manifest["ledger"]
        .as_array()
        .unwrap_or_else(|| panic!("no ledger in {text}"))
        .iter()
        .find(|entry| entry["node"] == "upsampled")
        .unwrap_or_else(|| panic!("no ledger for the phase in {text}"));
    let ledger: Vec<(String, u64)> = checkpoint["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["node"] == "upsampled")
        .map(|entry| {
            (
                entry["source"].as_str().unwrap().to_string(),
                entry["examples"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(ledger.len(), 2, "{ledger:?}");
    assert_eq!(ledger[0].1, 60, "{ledger:?}");
    assert_eq!(ledger[1].1, 40, "{ledger:?}");
    assert!(ledger[1].0.contains("rotate 90"), "{ledger:?}");
}

#[test]
fn hooks_anchor_to_a_given_model() {
    // With beta 1 and one merge at the end, SFA replaces the weights by its anchor's: the
    // phase ends exactly at the `anchor` model, not at where it started.
    let test = Test::new().file(
        "anchor.exp",
        r#"dataset d = digits
model net = mlp { hidden: [8] }
train other { model: net, data: d, steps: 5 steps, optimizer: sgd { lr: 0.5 } }
train pulled {
  model: net
  data: d
  steps: 5 steps
  seed: 3
  optimizer: sgd { lr: 0.5 }
  hooks: [sfa { every: 100%, beta: 1.0 }, l2 { lambda: 0.1 }]
  anchor: other
}
"#,
    );
    let outcome = test.run_with(&["run", "anchor.exp", "--out", "out", "--no-cache"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    let read = |node: &str| {
        std::fs::read(test.path(&format!("out/checkpoints/{node}.safetensors"))).unwrap()
    };
    assert!(
        read("pulled") == read("other"),
        "the phase should end at its anchor"
    );
    assert!(read("pulled") != read("net"));
}

#[test]
fn a_hook_parameter_follows_its_schedule() {
    // SFA merges once, at the end of the phase, with beta read from a schedule at that step:
    // rising to 1 (the weights become the anchor's), or falling to 0 (they stay trained).
    let file = |values: &str| {
        format!(
            r#"dataset d = digits
model net = mlp {{ hidden: [8] }}
train other {{ model: net, data: d, steps: 5 steps, optimizer: sgd {{ lr: 0.5 }} }}
train pulled {{
  model: net
  data: d
  steps: 6 steps
  seed: 3
  optimizer: sgd {{ lr: 0.5 }}
  hooks: [sfa {{ every: 100%, beta: piecewise {{ at: [0%, 50%], values: {values}, interpolate: false }} }}]
  anchor: other
}}
train free {{ model: net, data: d, steps: 6 steps, seed: 3, optimizer: sgd {{ lr: 0.5 }} }}
"#
        )
    };
    let test = Test::new()
        .file("rising.exp", &file("[0.0, 1.0]"))
        .file("falling.exp", &file("[1.0, 0.0]"));
    for (name, ends_at) in [("rising", "other"), ("falling", "free")] {
        let outcome = test.run_with(&["run", &format!("{name}.exp"), "--out", name, "--no-cache"]);
        assert_eq!(outcome.status, 0, "{}", outcome.stderr);
        let read = |node: &str| {
            std::fs::read(test.path(&format!("{name}/checkpoints/{node}.safetensors"))).unwrap()
        };
        assert!(
            read("pulled") == read(ends_at),
            "{name}: should end at `{ends_at}`"
        );
    }
}

#[test]
fn an_optimizer_parameter_follows_its_schedule() {
    // A constant schedule is the number itself, bit for bit; a schedule that moves changes the
    // result.
    let test = Test::new().file(
        "decay.exp",
        r#"dataset d = digits
model net = mlp { hidden: [8] }
train plain { model: net, data: d, steps: 6 steps, seed: 1, optimizer: adamw { lr: 0.01, weight_decay: 0.5 } }
train held { model: net, data: d, steps: 6 steps, seed: 1, optimizer: adamw { lr: 0.01, weight_decay: constant } }
train once { model: net, data: d, steps: 6 steps, seed: 1, optimizer: adamw { lr: 0.01, weight_decay: 1.0 } }
train moving {
  model: net
  data: d
  steps: 6 steps
  seed: 1
  optimizer: adamw { lr: 0.01, weight_decay: piecewise { at: [0%, 50%], values: [1.0, 0.5], interpolate: false } }
}
"#,
    );
    let outcome = test.run_with(&["run", "decay.exp", "--out", "out", "--no-cache"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    let read = |node: &str| {
        std::fs::read(test.path(&format!("out/checkpoints/{node}.safetensors"))).unwrap()
    };
    // `constant` is 1 at every step: the same as `weight_decay: 1.0`.
    assert!(read("held") == read("once"));
    assert!(read("moving") != read("once"));
    assert!(read("moving") != read("plain"));
}

/// A template instance's result appears under one name everywhere: the report's table, the
/// outline of the graph, and the node itself (`slow.score`), as docs/language.md says.
#[test]
fn a_template_result_has_one_name_in_tables_outline_and_nodes() {
    let test = Test::new().file(
        "templates.exp",
        r#"import std.digits
model net = mlp { hidden: [16] }
template finetune(start, data, lr) {
  train ft { model: start, data: data, steps: 5 steps, optimizer: adamw { lr: lr } }
  evaluate score { model: ft, data: data, metrics: [accuracy] }
}
use slow = finetune(net, digits, 1e-3)
report results { rows: [slow] }
"#,
    );
    let outcome = test.run_with(&["graph", "templates.exp", "--format", "outline"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    assert!(
        outcome.stdout.contains("  evaluate slow.score\n"),
        "{}",
        outcome.stdout
    );
    assert!(
        !outcome.stdout.contains("evaluate slow\n"),
        "{}",
        outcome.stdout
    );
    let outcome = test.run_with(&["run", "templates.exp", "--out", "out", "--no-cache"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    let table = read(&test, "out/results.csv");
    assert!(
        table.lines().any(|line| line.starts_with("slow.score,")),
        "{table}"
    );
    assert_eq!(statuses(&test, "out")["slow.score"], "done");
}

const CHOOSE: &str = r#"import std.continual
model net = mlp { hidden: [16] }
sweep lr in [1e-6, 1e-2], seeds 2 {
  sequence seq {
    model: net
    tasks: [rotated, inverted]
    steps: 15 steps
    optimizer: adamw { lr: lr }
    split: ["validation", "test"]
  }
}
report best { rows: [seq], choose: { by: "validation_avg_accuracy", over: ["lr"] } }
"#;

/// A sequence evaluated on the validation and the test split summarizes each; a report that
/// chooses by the validation summary keeps the setting with the best mean over its seeds, and
/// reports its test numbers.
#[test]
fn a_report_chooses_on_the_validation_split_and_reports_the_test_split() {
    let test = Test::new().file("choose.exp", CHOOSE);
    let outcome = test.run_with(&["run", "choose.exp", "--out", "first", "--jobs", "2"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    let statuses = statuses(&test, "first");
    for name in [
        "seq[lr=0.01,seed=1].task2.on1",
        "seq[lr=0.01,seed=1].task2.on1.validation",
    ] {
        assert_eq!(statuses[name], "done", "{name}");
    }

    // One summary per split: the validation split's metrics are prefixed, and its matrix is
    // written beside the test split's.
    let run = "first/nodes/seq[lr=0.01,seed=0]";
    let validation = read(&test, &format!("{run}/validation.matrix.csv"));
    let matrix = read(&test, &format!("{run}/matrix.csv"));
    // A swept copy draws no picture of its own unless asked; the report draws the mean.
    assert!(!test.path(&format!("{run}/heatmap.png")).exists());
    assert_eq!(validation.lines().next(), Some("after,task1,task2"));
    assert_ne!(validation, matrix);
    let last_mean = |matrix: &str| {
        let last: Vec<f64> = matrix
            .lines()
            .last()
            .unwrap()
            .split(',')
            .skip(1)
            .map(|cell| cell.parse().unwrap())
            .collect();
        last.iter().sum::<f64>() / last.len() as f64
    };
    let runs = read(&test, "first/best_runs.csv");
    let header: Vec<&str> = runs.lines().next().unwrap().split(',').collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|column| *column == name)
            .unwrap_or_else(|| panic!("no {name} in {header:?}"))
    };
    for name in [
        "validation_avg_accuracy",
        "validation_forgetting",
        "validation_bwt",
        "avg_accuracy",
        "forgetting",
    ] {
        column(name);
    }
    // A label with a comma is quoted: `"seq[lr=0.01,seed=0]",0.32,..`.
    let row: Vec<&str> = runs
        .lines()
        .find(|line| line.starts_with("\"seq[lr=0.01,seed=0]\","))
        .unwrap_or_else(|| panic!("{runs}"))
        .split("\",")
        .nth(1)
        .unwrap()
        .split(',')
        .collect();
    // The label is gone: the cells are the columns after `node`.
    let column = |name: &str| column(name) - 1;
    let value = |name: &str| row[column(name)].parse::<f64>().unwrap();
    assert!((value("validation_avg_accuracy") - last_mean(&validation)).abs() < 1e-12);
    assert!((value("avg_accuracy") - last_mean(&matrix)).abs() < 1e-12);

    // Every candidate's mean validation score, the best one chosen; the table keeps it alone,
    // with both of its seeds, and reports its test numbers.
    let choices = read(&test, "first/best_choices.csv");
    let scored: Vec<(String, f64)> = choices
        .lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            (cells[0].to_string(), cells[1].parse().unwrap())
        })
        .collect();
    assert_eq!(scored.len(), 2, "{choices}");
    let best = scored.iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
    assert!(best.0.ends_with(" (chosen)"), "{choices}");
    assert_eq!(
        scored
            .iter()
            .filter(|(label, _)| label.ends_with(" (chosen)"))
            .count(),
        1
    );
    // Trained at lr 1e-2, the model beats one that barely moved from its initialisation.
    assert_eq!(best.0, "seq[lr=0.01] (chosen)", "{choices}");
    let table = read(&test, "first/best.csv");
    assert_eq!(table.lines().count(), 2, "{table}");
    let chosen: Vec<&str> = table.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(chosen[0], "seq[lr=0.01]", "{table}");
    assert_eq!(*chosen.last().unwrap(), "2", "{table}");
    let table_header: Vec<&str> = table.lines().next().unwrap().split(',').collect();
    let mean_of = |name: &str| {
        let at = table_header
            .iter()
            .position(|column| *column == name)
            .unwrap();
        chosen[at].parse::<f64>().unwrap()
    };
    assert!(
        (mean_of("validation_avg_accuracy") - best.1).abs() < 1e-12,
        "{table}\n{choices}"
    );
    let test_mean: f64 = runs
        .lines()
        .filter(|line| line.starts_with("\"seq[lr=0.01,"))
        .map(|line| {
            let cells = line.split("\",").nth(1).unwrap();
            cells
                .split(',')
                .nth(column("avg_accuracy"))
                .unwrap()
                .parse::<f64>()
                .unwrap()
        })
        .sum::<f64>()
        / 2.0;
    assert!(
        (mean_of("avg_accuracy") - test_mean).abs() < 1e-12,
        "{table}"
    );
    assert!(read(&test, "first/best.md").contains("seq[lr=0.01]"));

    // From the cache, the same tables.
    let outcome = test.run_with(&["run", "choose.exp", "--out", "second"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    assert_eq!(table, read(&test, "second/best.csv"));
    assert_eq!(choices, read(&test, "second/best_choices.csv"));
    assert!(test
        .path("second/nodes/seq[lr=0.01,seed=0]/validation.matrix.csv")
        .exists());

    // Asked for, every copy draws its pictures, on each split.
    let drawn = CHOOSE.replace("split: [", "heatmap: true\n    split: [");
    let test = test.file("drawn.exp", &drawn);
    let outcome = test.run_with(&["run", "drawn.exp", "--out", "third"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    for picture in ["heatmap.png", "heatmap.svg", "validation.heatmap.png"] {
        let path = format!("third/nodes/seq[lr=0.01,seed=1]/{picture}");
        assert!(test.path(&path).exists(), "{path}");
    }
}
