//! The fast check: `exp check` and `exp graph` answer from the schema cache without loading any
//! plugin (and so no libtorch) when nothing changed, hand the command to `exp-host` when
//! something did, and print the same either way.
//!
//! Whether libtorch was loaded is read from the dynamic loader itself (`LD_DEBUG=files` makes
//! it name every library it opens on stderr).

use crate::support::{build_plugin, Test};

const QUICK: &str = "dataset d = digits\nmodel m = mlp { hidden: [8] }\n\
                     train t { model: m, data: d, steps: 2 steps, optimizer: adamw { lr: 0.01 } }\n\
                     evaluate e { model: t, data: d, metrics: [accuracy] }\n";

/// Runs `exp ARGS` with the loader's trace; returns the outcome and whether libtorch was loaded.
fn traced(test: &Test, args: &[&str]) -> (i32, String, bool) {
    let output = test
        .command(args)
        .env("LD_DEBUG", "files")
        .output()
        .expect("run exp");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let loaded = stderr.contains("libtorch_cpu.so");
    // Without the loader's lines, as a user sees it.
    let shown: Vec<&str> = stderr
        .lines()
        .filter(|line| !is_loader_line(line))
        .collect();
    (output.status.code().unwrap_or(-1), shown.join("\n"), loaded)
}

/// A line of the loader's trace: `   1234:\tfile=...`.
fn is_loader_line(line: &str) -> bool {
    let trimmed = line.trim_start();
    let digits = trimmed.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && trimmed[digits..].starts_with(":\t")
}

#[test]
fn a_second_check_loads_no_plugin_and_no_libtorch() {
    let test = Test::new().file("quick.exp", QUICK);
    let (status, first, loaded) = traced(&test, &["check", "quick.exp"]);
    assert_eq!(status, 0, "{first}");
    assert!(
        loaded,
        "the first check, with an empty cache, loads the plugins"
    );
    let (status, second, loaded) = traced(&test, &["check", "quick.exp"]);
    assert_eq!(status, 0, "{second}");
    assert!(!loaded, "the second check loaded libtorch:\n{second}");
    assert_eq!(first, second);
    assert!(
        second.contains("`quick.exp` is well-formed: 4 nodes in the graph"),
        "{second}"
    );
    // The first graph builds the model to count its parameters; the second reads the count
    // from the cache.
    let (status, _, loaded) = traced(&test, &["graph", "quick.exp", "--format", "outline"]);
    assert_eq!(status, 0);
    assert!(loaded, "the first graph sizes the model with the plugin");
    let outline = test.run_with(&["graph", "quick.exp", "--format", "outline"]);
    let (status, _, loaded) = traced(&test, &["graph", "quick.exp", "--format", "outline"]);
    assert_eq!(status, 0);
    assert!(!loaded, "`exp graph` loaded libtorch");
    // 64 inputs → 8 → 10 classes, weights and biases.
    assert!(
        outline
            .stdout
            .lines()
            .any(|line| line.starts_with("  model m ") && line.ends_with("  610 parameters")),
        "{}",
        outline.stdout
    );
    let (status, _, loaded) = traced(&test, &["fmt", "--check", "quick.exp"]);
    assert!(status <= 1);
    assert!(!loaded, "`exp fmt` loaded libtorch");
}

#[test]
fn a_check_rule_is_answered_by_the_plugin_before_it_is_answered_from_the_cache() {
    // `digits` refuses to leave under 5% of the data for training: a rule in the plugin's code.
    let rejected = "dataset d = digits { test_fraction: 0.5, validation_fraction: 0.5 }\n\
                    model m = mlp\nevaluate e { model: m, data: d, metrics: [accuracy] }\n";
    let test = Test::new()
        .file("rule.exp", rejected)
        .file("other.exp", &rejected.replace("0.5 }", "0.49 }"));
    let (status, first, _) = traced(&test, &["check", "rule.exp"]);
    assert_eq!(status, 2, "{first}");
    assert!(
        first.contains("leaves under 5% of the data for training"),
        "{first}"
    );
    let (status, second, loaded) = traced(&test, &["check", "rule.exp"]);
    assert_eq!((status, &second), (2, &first));
    assert!(!loaded, "the stored answer needed no plugin");
    // Parameters the rule has not seen: only the plugin can answer.
    let (status, third, loaded) = traced(&test, &["check", "other.exp"]);
    assert_eq!(status, 2, "{third}");
    assert!(
        loaded,
        "a rule without a stored answer must be asked of the plugin"
    );
    assert!(
        third.contains("leaves under 5% of the data for training"),
        "{third}"
    );
}

#[test]
fn a_plugin_file_that_changes_is_loaded_again() {
    let good = build_plugin("good");
    let wrong = build_plugin("wrong_abi");
    let test = Test::new().file(
        "mine.exp",
        "plugin \"libmine.so\"\ndataset d = digits\nmodel lin = linear\n\
         evaluate e { model: lin, data: d, metrics: [accuracy] }\n",
    );
    std::fs::copy(&good, test.path("libmine.so")).unwrap();
    assert_eq!(traced(&test, &["check", "mine.exp"]).0, 0);
    let (status, _, loaded) = traced(&test, &["check", "mine.exp"]);
    assert_eq!(status, 0);
    assert!(!loaded);
    // Another library at the same path: its entry no longer describes the file.
    std::fs::copy(&wrong, test.path("libmine.so")).unwrap();
    let (status, stderr, loaded) = traced(&test, &["check", "mine.exp"]);
    assert_eq!(status, 2, "{stderr}");
    assert!(loaded);
    assert!(stderr.contains("error[E0100]"), "{stderr}");
    assert!(stderr.contains("mine.exp:1:8"), "{stderr}");
}

#[test]
fn every_other_command_goes_to_exp_host() {
    let test = Test::new().file("quick.exp", QUICK);
    let outcome = test.run_with(&["plugins"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    assert!(
        outcome.stdout.contains("optimizer adamw"),
        "{}",
        outcome.stdout
    );
    let outcome = test.run_with(&["run", "quick.exp", "--out", "out", "--no-cache"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    assert!(test.path("out/manifest.json").exists());
}
