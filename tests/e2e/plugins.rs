//! Out-of-tree plugins, built here as a third party would build them, loaded through `plugin`
//! lines and `EXP_PLUGIN_PATH`: a good one is used, a panicking component fails only its node,
//! and a plugin for another ABI version is refused with a located error.

use crate::support::{build_plugin, Test};

fn with_plugin_line(path: &std::path::Path, body: &str) -> String {
    format!("plugin \"{}\"\n{body}", path.display())
}

const USES_GOOD: &str = r#"dataset d = digits
model lin = linear
train t {
  model: lin
  data: d
  steps: 40 steps
  optimizer: sgd { lr: 0.5 }
  schedule: halving { every: 20 }
}
evaluate e { model: t, data: d, metrics: [accuracy] }
"#;

#[test]
fn a_third_party_model_parameter_follows_its_schedule() {
    // The plugin's `linear` divides its logits by `temperature`, a scheduled parameter. The
    // same file with three temperatures (same names, so the same seeds): a schedule that holds
    // 1 is the default bit for bit; one that moves changes the training.
    let library = build_plugin("good");
    let file = |temperature: &str| {
        with_plugin_line(
            &library,
            &format!(
                "dataset d = digits\nmodel net = linear {{ temperature: {temperature} }}\n\
                 train t {{ model: net, data: d, steps: 8 steps, optimizer: sgd {{ lr: 0.5 }} }}\n"
            ),
        )
    };
    let test = Test::new()
        .file("plain.exp", &file("1.0"))
        .file("held.exp", &file("constant"))
        .file(
            "moving.exp",
            &file("piecewise { at: [0%, 50%], values: [1.0, 4.0], interpolate: false }"),
        );
    for name in ["plain", "held", "moving"] {
        let outcome = test.run_with(&["run", &format!("{name}.exp"), "--out", name, "--no-cache"]);
        assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    }
    let read =
        |out: &str| std::fs::read(test.path(&format!("{out}/checkpoints/t.safetensors"))).unwrap();
    assert!(
        read("plain") == read("held"),
        "a schedule holding 1 is the default"
    );
    assert!(
        read("plain") != read("moving"),
        "a moving schedule changes training"
    );
}

#[test]
fn a_third_party_plugin_provides_components_through_a_plugin_line() {
    let library = build_plugin("good");
    let test = Test::new()
        .file("third.exp", &with_plugin_line(&library, USES_GOOD))
        .args(["run", "third.exp", "--out", "out"]);
    let outcome = test.run();
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    let csv = std::fs::read_to_string(test.path("out/results.csv")).unwrap();
    let accuracy: f64 = csv
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        accuracy > 0.6,
        "logistic regression should learn digits: {accuracy}"
    );
    let manifest = std::fs::read_to_string(test.path("out/manifest.json")).unwrap();
    assert!(
        manifest.contains("libthird_party_good.so"),
        "the manifest records the plugin file"
    );
}

#[test]
fn a_plugin_directory_in_exp_plugin_path_is_discovered() {
    let library = build_plugin("good");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&library, dir.path().join("libgood.so")).unwrap();
    let listing = Test::new()
        .env("EXP_PLUGIN_PATH", &dir.path().display().to_string())
        .args(["plugins"])
        .run();
    assert_eq!(listing.status, 0, "{}", listing.stderr);
    assert!(
        listing.stdout.contains("plugin good 0.1.0"),
        "{}",
        listing.stdout
    );
    assert!(
        listing.stdout.contains("scheduler halving"),
        "{}",
        listing.stdout
    );
    let checked = Test::new()
        .env("EXP_PLUGIN_PATH", &dir.path().display().to_string())
        .file("third.exp", USES_GOOD)
        .args(["check", "third.exp"])
        .run();
    assert_eq!(checked.status, 0, "{}", checked.stderr);
}

#[test]
fn without_the_plugin_its_components_are_unknown() {
    let outcome = Test::new()
        .file("third.exp", USES_GOOD)
        .args(["check", "third.exp"])
        .run();
    assert_eq!(outcome.status, 2);
    // Without the plugin, `linear` is only std's learning-rate schedule, and `halving` is nothing.
    assert!(
        outcome
            .stderr
            .contains("`linear` is a scheduler, not a model"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("unknown scheduler `halving`"),
        "{}",
        outcome.stderr
    );
    // `halving` is no typo of a std component: the error says how to load another plugin.
    assert!(
        outcome.stderr.contains(
            "= note: if `halving` comes from another plugin, load it with a `plugin \"path/to/library\"` line in this file, or put its directory in `EXP_PLUGIN_PATH`"
        ),
        "{}",
        outcome.stderr
    );
}

#[test]
fn an_exp_plugin_path_entry_that_does_not_exist_is_warned_about() {
    let test = Test::new()
        .env("EXP_PLUGIN_PATH", "no/such/plugins")
        .file("a.exp", "dataset d = digits\n");
    for args in [["check", "a.exp"].as_slice(), ["plugins"].as_slice()] {
        let outcome = test.run_with(args);
        assert_eq!(outcome.status, 0, "{args:?}: {}", outcome.stderr);
        assert!(
            outcome.stderr.starts_with(
                "warning: `EXP_PLUGIN_PATH` names `no/such/plugins`, which does not exist; no plugin was loaded from it\n"
            ),
            "{args:?}: {}",
            outcome.stderr
        );
    }
}

#[test]
fn a_panicking_component_fails_its_node_and_the_rest_still_runs() {
    let library = build_plugin("panicky");
    let body = r#"dataset d = digits
model m = mlp { hidden: [8] }
train t {
  model: m
  data: d
  steps: 5 steps
  optimizer: sgd { lr: 0.1 }
}
evaluate fine { model: t, data: d, metrics: [accuracy] }
evaluate boom { model: t, data: d, metrics: [explode] }
report results { rows: [fine] }
"#;
    let test = Test::new()
        .file("panic.exp", &with_plugin_line(&library, body))
        .args(["run", "panic.exp", "--out", "out"]);
    let outcome = test.run();
    assert_eq!(outcome.status, 1, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains(
            "`explode` (plugin `panicky`) panicked in update: panicked: the explode evaluator blew up on purpose"
        ),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("panic.exp:11:1"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("1 node failed, 0 nodes skipped"),
        "{}",
        outcome.stderr
    );
    let csv = std::fs::read_to_string(test.path("out/results.csv")).unwrap();
    assert!(csv.starts_with("node,accuracy\nfine,"), "{csv}");
}

#[test]
fn a_plugin_for_another_abi_version_is_refused_at_its_plugin_line() {
    let library = build_plugin("wrong_abi");
    let test = Test::new()
        .file(
            "abi.exp",
            &with_plugin_line(&library, "dataset d = digits\n"),
        )
        .args(["check", "abi.exp"]);
    let outcome = test.run();
    assert_eq!(outcome.status, 2, "{}", outcome.stderr);
    let major = exp_plugin_api::abi::ABI_MAJOR;
    let expected = format!(
        "was built for plugin ABI {}.0, but this exp speaks ABI {major}.0",
        major + 1
    );
    assert!(outcome.stderr.contains(&expected), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("abi.exp:1:8"), "{}", outcome.stderr);
    let run = test.run_with(&["run", "abi.exp", "--out", "out"]);
    assert_eq!(run.status, 2);
    assert!(
        !test.path("out").exists(),
        "nothing runs when a plugin is refused"
    );
}

#[test]
fn a_library_that_is_not_a_plugin_is_refused() {
    let test = Test::new()
        .file("not.exp", "plugin \"libnothing.so\"\ndataset d = digits\n")
        .args(["check", "not.exp"]);
    let outcome = test.run();
    assert_eq!(outcome.status, 2);
    assert!(
        outcome.stderr.contains("cannot load plugin"),
        "{}",
        outcome.stderr
    );
    assert!(outcome.stderr.contains("not.exp:1:8"), "{}", outcome.stderr);
}

#[test]
fn a_plugin_built_against_another_libtorch_is_refused() {
    let library = build_plugin("wrong_build");
    let test = Test::new()
        .file(
            "build.exp",
            &with_plugin_line(&library, "dataset d = digits\n"),
        )
        .args(["check", "build.exp"]);
    let outcome = test.run();
    assert_eq!(outcome.status, 2, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("libtorch 1.0.0-was-2.13.0"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome
            .stderr
            .contains("rebuild the plugin against the same tch and libtorch"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn a_library_without_the_entry_symbol_is_refused() {
    // Any shared library that is not an exp plugin: libtorch's own c10 will do.
    let c10 = crate::support::workspace_root().join(".libtorch/lib/libc10.so");
    let test = Test::new()
        .file("c10.exp", &with_plugin_line(&c10, "dataset d = digits\n"))
        .args(["check", "c10.exp"]);
    let outcome = test.run();
    assert_eq!(outcome.status, 2, "{}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .contains("is not an exp plugin: it has no `exp_plugin_entry` symbol"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn a_failure_during_training_names_the_node_and_the_step() {
    let library = build_plugin("panicky");
    let body = r#"dataset d = digits
model m = mlp { hidden: [8] }
train t {
  model: m
  data: d
  steps: 10 steps
  optimizer: sgd { lr: 0.1 }
  schedule: explode_at { step: 6 }
}
"#;
    let test = Test::new()
        .file("step.exp", &with_plugin_line(&library, body))
        .args(["run", "step.exp", "--out", "out"]);
    let outcome = test.run();
    assert_eq!(outcome.status, 1, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains(
            "node `t` at step 7: `explode_at` (plugin `panicky`) panicked in multiplier: panicked: the schedule blew up at step 6"
        ),
        "{}",
        outcome.stderr
    );
}
