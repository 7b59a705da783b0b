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
            "`explode` (plugin `panicky`) panicked in `update`: the explode evaluator blew up on purpose"
        ),
        "{}",
        outcome.stderr
    );
    // One clean message: no panic text or backtrace of the plugin's own on stderr; where it
    // panicked is in the node's log.
    assert!(!outcome.stderr.contains("thread '"), "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("logs/boom.log"),
        "{}",
        outcome.stderr
    );
    let log = std::fs::read_to_string(test.path("out/logs/boom.log")).unwrap();
    assert!(log.contains("at src/lib.rs:"), "{log}");
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
        outcome.stderr.contains(&format!(
            "was built against libtorch 1.0.0, but this exp runs libtorch {}",
            exp_plugin_api::libtorch_release()
        )),
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
            "node `t` at step 7: `explode_at` (plugin `panicky`) panicked in `value`: the schedule blew up at step 6"
        ),
        "{}",
        outcome.stderr
    );
}

#[test]
fn a_panic_inside_forward_called_by_the_default_loss_names_forward() {
    let library = build_plugin("panicky");
    let body = r#"dataset d = digits
model m = fragile
train t { model: m, data: d, steps: 3 steps, optimizer: sgd { lr: 0.1 } }
"#;
    let test = Test::new()
        .file("fragile.exp", &with_plugin_line(&library, body))
        .args(["run", "fragile.exp", "--out", "out"]);
    let outcome = test.run();
    assert_eq!(outcome.status, 1, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains(
            "node `t` at step 1: `fragile` (plugin `panicky`) panicked in `forward`: index out of bounds"
        ),
        "{}",
        outcome.stderr
    );
    assert!(!outcome.stderr.contains("thread '"), "{}", outcome.stderr);
}

/// Compiles `tests/plugins/cpp/plugin.cpp` as a C++ author would: the system C++ compiler,
/// `include/exp_plugin.h`, and the headers and libraries the torch wheel ships. Once per test
/// run; returns the directory holding the library, for `EXP_PLUGIN_PATH`.
fn build_cpp_plugin() -> std::path::PathBuf {
    static BUILT: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = crate::support::workspace_root();
            let libtorch = root.join(".libtorch");
            let dir = crate::support::exp_binary()
                .parent()
                .expect("the exp binary lives in target/<profile>/")
                .join("cpp-plugin");
            std::fs::create_dir_all(&dir).unwrap();
            // The C++ library ABI libtorch was built with (the wheel says, not a guess).
            let abi = std::process::Command::new(root.join(".venv/bin/python"))
                .args([
                    "-c",
                    "import torch; print(int(torch.compiled_with_cxx11_abi()))",
                ])
                .output()
                .expect("the project's venv runs python (./setup.sh makes it)");
            let abi = String::from_utf8_lossy(&abi.stdout).trim().to_string();
            let library = dir.join("libcpp_example.so");
            let output = std::process::Command::new("c++")
                .args(["-std=c++20", "-O1", "-shared", "-fPIC", "-Wall", "-Werror"])
                .arg(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"))
                // libtorch's headers as system headers: their warnings are not the plugin's.
                .arg("-isystem")
                .arg(libtorch.join("include"))
                .arg("-I")
                .arg(root.join("plugins/api/include"))
                .arg(root.join("tests/plugins/cpp/plugin.cpp"))
                .arg("-o")
                .arg(&library)
                .arg("-L")
                .arg(libtorch.join("lib"))
                .args(["-ltorch_cpu", "-lc10"])
                .arg(format!("-Wl,-rpath,{}", libtorch.join("lib").display()))
                .output()
                .expect("a C++ compiler (`c++`; Debian: build-essential) builds the C++ plugin");
            assert!(
                output.status.success(),
                "the C++ plugin does not compile:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            dir
        })
        .clone()
}

const USES_CPP: &str = r#"dataset d = digits
model m = mlp { hidden: [32] }
train a { model: m, data: d, steps: 60 steps, optimizer: adamw { lr: 1e-2 }, seed: 1 }
train b { model: m, data: d, steps: 60 steps, optimizer: adamw { lr: 1e-2 }, seed: 2 }
merge s = slerp(a, b) { t: 0.3 }
evaluate e { model: s, data: d, metrics: [brier, accuracy] }
evaluate flat { model: s, data: d, metrics: [brier { temperature: 1e9 }] }
"#;

#[test]
fn a_cpp_plugin_merges_and_evaluates_in_a_run() {
    let dir = build_cpp_plugin();
    let test = Test::new()
        .env("EXP_PLUGIN_PATH", &dir.display().to_string())
        .file("cpp.exp", USES_CPP)
        .args(["run", "cpp.exp", "--out", "out"]);
    let outcome = test.run();
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);

    // slerp, computed here from the two fine-tunes with the formula (in f64).
    let read = |node: &str| {
        tch::Tensor::read_safetensors(test.path(&format!("out/checkpoints/{node}.safetensors")))
            .unwrap()
    };
    let (a, b, merged) = (read("a"), read("b"), read("s"));
    assert!(!a.is_empty());
    for (name, first) in &a {
        let second = &b.iter().find(|(other, _)| other == name).unwrap().1;
        let got = &merged.iter().find(|(other, _)| other == name).unwrap().1;
        let (x, y) = (
            first.to_kind(tch::Kind::Double).flatten(0, -1),
            second.to_kind(tch::Kind::Double).flatten(0, -1),
        );
        let cosine = f64::try_from((&x / x.norm()).dot(&(&y / y.norm()))).unwrap();
        let t = 0.3;
        let expected = if cosine.abs() > 0.9995 {
            &x * (1.0 - t) + &y * t
        } else {
            let angle = cosine.acos();
            &x * (((1.0 - t) * angle).sin() / angle.sin()) + &y * ((t * angle).sin() / angle.sin())
        };
        let difference = f64::try_from(
            (got.to_kind(tch::Kind::Double).flatten(0, -1) - expected)
                .abs()
                .max(),
        )
        .unwrap();
        assert!(difference < 1e-6, "tensor {name} differs by {difference}");
    }

    // The Brier score of a trained model is below that of knowing nothing; at an enormous
    // temperature every probability is 1/10, and the score is 0.9² + 9·0.1² = 0.9 exactly.
    let csv = std::fs::read_to_string(test.path("out/results.csv")).unwrap();
    let value = |row: &str, column: &str| -> f64 {
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let at = header.iter().position(|name| *name == column).unwrap();
        let line = lines
            .find(|line| line.starts_with(&format!("{row},")))
            .unwrap();
        line.split(',').nth(at).unwrap().parse().unwrap()
    };
    assert!(value("e", "accuracy") > 0.5, "{csv}");
    assert!(value("e", "brier") < 0.6, "{csv}");
    assert!((value("flat", "brier") - 0.9).abs() < 1e-6, "{csv}");
}

#[test]
fn a_cpp_plugin_states_a_rule_that_exp_check_enforces() {
    let dir = build_cpp_plugin();
    let outcome = Test::new()
        .env("EXP_PLUGIN_PATH", &dir.display().to_string())
        .file(
            "rule.exp",
            "dataset d = digits\nmodel m = mlp\n\
             train a { model: m, data: d, steps: 1 steps, optimizer: sgd { lr: 0.1 } }\n\
             train b { model: m, data: d, steps: 1 steps, optimizer: sgd { lr: 0.1 } }\n\
             merge s = slerp(a, b) { t: 1 }\n",
        )
        .args(["check", "rule.exp"])
        .run();
    assert_eq!(outcome.status, 2, "{}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .contains("error[E0048]: `slerp` does not accept these parameters"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("t = 1 returns one input unchanged"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("rule.exp:5:28"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn a_model_output_that_does_not_fit_its_classes_fails_with_the_shapes() {
    let library = build_plugin("panicky");
    let body = r#"dataset d = digits
model m = misfit
evaluate untrained { model: m, data: d, metrics: [accuracy] }
train t { model: m, data: d, steps: 3 steps, optimizer: sgd { lr: 0.1 } }
"#;
    let test = Test::new()
        .file("misfit.exp", &with_plugin_line(&library, body))
        .args(["run", "misfit.exp", "--out", "out"]);
    let outcome = test.run();
    assert_eq!(outcome.status, 1, "{}", outcome.stderr);
    // Evaluation: no accuracy is computed from the wrong columns.
    assert!(
        outcome.stderr.contains(
            "node `untrained`: `misfit` (plugin `panicky`) broke the model output contract: \
             `forward` returned shape [359, 9] for targets of shape [359]; expected [359, 10]"
        ),
        "{}",
        outcome.stderr
    );
    // Training: the shapes, not libtorch's "target out of bounds" and its C++ backtrace.
    assert!(
        outcome.stderr.contains(
            "node `t`: `misfit` (plugin `panicky`) broke the model output contract: \
             `forward` returned shape [32, 9] for targets of shape [32]; expected [32, 10]"
        ),
        "{}",
        outcome.stderr
    );
    assert!(
        !outcome.stderr.contains("Exception raised from"),
        "{}",
        outcome.stderr
    );
    let manifest = std::fs::read_to_string(test.path("out/manifest.json")).unwrap();
    assert!(!manifest.contains("Exception raised from"), "{manifest}");
    assert!(
        !test.path("out/results.csv").exists() || {
            let csv = std::fs::read_to_string(test.path("out/results.csv")).unwrap();
            !csv.contains("untrained,0.")
        }
    );
}
