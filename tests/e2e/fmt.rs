//! `exp fmt` and `exp fmt --check` through the binary.

use crate::support::{workspace_root, Test};

/// Valid, with comments, and far from the canonical layout.
const MESSY: &str = r#"// a small experiment
dataset   d=digits   // the data
model m = mlp { hidden: [8], /* small */ activation: "relu" }
train t { model: m, data: d
  steps: 5   steps
  optimizer: sgd { lr: 0.1 } }
evaluate e { model: t, data: d, metrics: [accuracy] } // done
"#;

#[test]
fn fmt_check_passes_on_every_experiment_and_stdlib_module() {
    let mut files = Vec::new();
    for dir in ["experiments", "stdlib"] {
        for entry in std::fs::read_dir(workspace_root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|ext| ext == "exp") {
                files.push(path.display().to_string());
            }
        }
    }
    let mut args = vec!["fmt", "--check"];
    args.extend(files.iter().map(String::as_str));
    let outcome = Test::new().run_with(&args);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    assert_eq!(outcome.stderr, "");
}

#[test]
fn fmt_rewrites_a_messy_file_and_then_check_passes() {
    let test = Test::new().file("messy.exp", MESSY);
    let outcome = test.run_with(&["fmt", "messy.exp"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    assert_eq!(outcome.stdout, "");
    assert_eq!(outcome.stderr, "");
    let formatted = std::fs::read_to_string(test.path("messy.exp")).unwrap();
    insta::assert_snapshot!(formatted);
    let outcome = test.run_with(&["fmt", "--check", "messy.exp"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    // No temporary file is left beside it.
    let names: Vec<_> = std::fs::read_dir(test.dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1);
}

#[test]
fn fmt_check_on_a_messy_file_exits_1_and_changes_nothing() {
    let test = Test::new()
        .file("messy.exp", MESSY)
        .args(["fmt", "--check", "messy.exp"]);
    let outcome = test.run();
    insta::assert_snapshot!(outcome.filtered(&test));
    assert_eq!(outcome.status, 1);
    assert_eq!(
        std::fs::read_to_string(test.path("messy.exp")).unwrap(),
        MESSY
    );
}

#[test]
fn fmt_on_a_syntax_error_exits_2_and_changes_nothing() {
    let broken = "train t {\n  model: m\n";
    let test = Test::new()
        .file("broken.exp", broken)
        .args(["fmt", "broken.exp"]);
    let outcome = test.run();
    insta::assert_snapshot!(outcome.filtered(&test));
    assert_eq!(outcome.status, 2);
    assert_eq!(
        std::fs::read_to_string(test.path("broken.exp")).unwrap(),
        broken
    );
}

/// Removes the byte offsets of every span (`{ "file", "start", "end" }`) from the graph JSON.
fn without_spans(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            if map.contains_key("file") && map.contains_key("start") && map.contains_key("end") {
                map.remove("start");
                map.remove("end");
            }
            for member in map.values_mut() {
                without_spans(member);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(without_spans),
        _ => {}
    }
}

#[test]
fn formatting_leaves_the_graph_unchanged() {
    let test = Test::new().file("messy.exp", MESSY);
    let graph = |test: &Test| {
        let outcome = test.run_with(&["graph", "messy.exp", "--format", "json"]);
        assert_eq!(outcome.status, 0, "{}", outcome.stderr);
        let mut value: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
        without_spans(&mut value);
        value
    };
    let before = graph(&test);
    let outcome = test.run_with(&["fmt", "messy.exp"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    assert_ne!(
        std::fs::read_to_string(test.path("messy.exp")).unwrap(),
        MESSY
    );
    assert_eq!(graph(&test), before);
}

#[test]
fn fmt_on_a_file_that_is_not_utf8_exits_2_at_the_byte_and_changes_nothing() {
    let bytes = b"dataset d = digits\nmodel caf\xe9 = mlp\n";
    let test = Test::new().bytes("latin1.exp", bytes);
    let outcome = test.run_with(&["fmt", "latin1.exp"]);
    assert_eq!(outcome.status, 2, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("error[E0038]"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("latin1.exp:2:10"),
        "{}",
        outcome.stderr
    );
    assert_eq!(std::fs::read(test.path("latin1.exp")).unwrap(), bytes);
}

#[test]
fn a_formatted_file_with_a_byte_order_mark_is_left_alone() {
    let bytes = "\u{feff}dataset d = digits\n".as_bytes();
    let test = Test::new().bytes("bom.exp", bytes);
    let outcome = test.run_with(&["fmt", "--check", "bom.exp"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
}
