//! `exp check`, `exp graph` and `exp plugins` through the binary.

use crate::support::Test;

const SMALL: &str = r#"dataset d = digits
model m = mlp { hidden: [8] }
train t {
  model: m
  data: d
  steps: 5 steps
  optimizer: sgd { lr: 0.1 }
}
evaluate e { model: t, data: d, metrics: [accuracy] }
"#;

#[test]
fn check_accepts_a_valid_file() {
    let test = Test::new()
        .file("small.exp", SMALL)
        .args(["check", "small.exp"]);
    let outcome = test.run();
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("4 nodes in the graph"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn check_reports_every_error_with_location_and_exits_2() {
    let test = Test::new()
        .file(
            "bad.exp",
            "dataset d = digits { test_fraction: 2.0 }\nmodel m = mlp { hiden: [8] }\ntrain t {\n  model: d\n  data: d\n  steps: 5 steps\n  optimizer: sgd\n}\n",
        )
        .args(["check", "bad.exp"]);
    let outcome = test.run();
    assert_eq!(outcome.status, 2);
    insta::assert_snapshot!(outcome.filtered(&test));
}

#[test]
fn check_can_emit_json_diagnostics() {
    let test = Test::new().file("bad.exp", "model m = mlpp\n").args([
        "check",
        "bad.exp",
        "--message-format",
        "json",
    ]);
    let outcome = test.run();
    assert_eq!(outcome.status, 2);
    let first: serde_json::Value =
        serde_json::from_str(outcome.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["code"], "E0018");
    assert_eq!(first["location"]["line"], 1);
    assert_eq!(first["location"]["column"], 11);
    assert_eq!(first["help"], "did you mean `mlp`?");
}

#[test]
fn graph_prints_json_and_dot() {
    let test =
        Test::new()
            .file("small.exp", SMALL)
            .args(["graph", "small.exp", "--format", "json"]);
    let outcome = test.run();
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    let graph: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
    let names: Vec<&str> = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| node["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["d", "m", "t", "e"]);
    // Defaults are resolved into the graph: sgd's momentum is there although the file omits it.
    assert_eq!(
        graph["nodes"][2]["kind"]["optimizer"]["params"]["momentum"]["value"],
        0.0
    );

    let dot = Test::new()
        .file("small.exp", SMALL)
        .args(["graph", "small.exp", "--format", "dot"]);
    let outcome = dot.run();
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    insta::assert_snapshot!(outcome.stdout);
}

#[test]
fn plugins_lists_every_std_component_with_parameters() {
    let outcome = Test::new().args(["plugins"]).run();
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    for component in [
        "dataset digits",
        "model mlp",
        "optimizer sgd",
        "optimizer adamw",
        "scheduler constant",
        "scheduler linear",
        "scheduler cosine",
        "evaluator accuracy",
        "evaluator loss",
        "merger average",
        "merger wise_ft",
        "regularizer l2",
    ] {
        assert!(
            outcome.stdout.contains(component),
            "missing {component} in\n{}",
            outcome.stdout
        );
    }
    assert!(
        outcome
            .stdout
            .contains("lr: a number or a schedule (required, a value of at least 0)"),
        "{}",
        outcome.stdout
    );
    // An exclusive bound reads as one.
    assert!(
        outcome
            .stdout
            .contains("density: a number (default 0.2, a value above 0 and at most 1)"),
        "{}",
        outcome.stdout
    );

    let json = Test::new().args(["plugins", "--json"]).run();
    let entries: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let adamw = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["component"]["name"] == "adamw")
        .expect("adamw listed");
    assert_eq!(adamw["plugin"], "std");
    assert_eq!(adamw["component"]["kind"], "optimizer");
    let param = |name: &str| {
        adamw["component"]["params"]
            .as_array()
            .unwrap()
            .iter()
            .find(|param| param["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("adamw has no `{name}`"))
    };
    // The schema JSON is the same as before for a plain parameter, and richer where a
    // parameter follows schedules, is the learning rate, or excludes a bound.
    let eps = param("eps");
    assert_eq!(eps["type"], "float");
    assert_eq!(eps["min"], 0.0);
    assert!(eps.get("schedule").is_none() && eps.get("min_exclusive").is_none());
    assert_eq!(param("weight_decay")["schedule"], true);
    assert_eq!(param("lr")["learning_rate"], true);
    assert_eq!(param("beta1")["max_exclusive"], true);
}

#[test]
fn windows_line_endings_and_a_byte_order_mark_are_accepted() {
    let crlf = SMALL.replace('\n', "\r\n");
    let with_bom = format!("\u{feff}{SMALL}");
    for (name, text) in [("crlf.exp", crlf.as_str()), ("bom.exp", with_bom.as_str())] {
        let test = Test::new().file(name, text).args(["check", name]);
        let outcome = test.run();
        assert_eq!(outcome.status, 0, "{name}: {}", outcome.stderr);
    }
    // Errors in such a file still point at the right line and column.
    let bad = "\u{feff}dataset d = digits\r\nmodel m = mlpp\r\n";
    let outcome = Test::new()
        .file("bad.exp", bad)
        .args(["check", "bad.exp"])
        .run();
    assert_eq!(outcome.status, 2);
    assert!(
        outcome.stderr.contains("bad.exp:2:11"),
        "{}",
        outcome.stderr
    );
}
