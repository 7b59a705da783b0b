//! `policy { licenses: [..] }` at run time: every dataset is built and its licence checked
//! before anything else starts, and a run that would read a forbidden source trains nothing,
//! even when everything downstream of the dataset is already in the cache.

use crate::support::{statuses, Test};

/// Two datasets, a user's notes (CC0-1.0) and the digits (CC-BY-4.0), and a phase that reads
/// only the digits; `{allowed}` is the policy's list.
fn file(allowed: &str) -> String {
    format!(
        r#"policy {{ licenses: [{allowed}] }}
dataset notes = text_files {{ paths: ["notes.txt"], source: "test notes", license: "CC0-1.0" }}
dataset d = digits
model m = mlp {{ hidden: [8] }}
train fit {{ model: m, data: d, steps: 5 steps, batch: 16, optimizer: adamw {{ lr: 0.01 }} }}
evaluate score {{ model: fit, data: d, metrics: [accuracy] }}
report table {{ rows: [score] }}
"#
    )
}

fn notes() -> String {
    "a few words of notes\n\nand another paragraph of them\n".repeat(20)
}

#[test]
fn a_forbidden_licence_refuses_the_run_before_anything_trains() {
    let test = Test::new()
        .file("notes.txt", &notes())
        .file("allowed.exp", &file(r#""cc-by-4.0", "CC0-1.0""#))
        .file("refused.exp", &file(r#""CC0-1.0""#));

    // Allowed (compared without regard to case): it trains, and its results are cached.
    let outcome = test.run_with(&["run", "allowed.exp", "--out", "first"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    let first = statuses(&test, "first");
    assert_eq!(first["fit"], "done", "{first:?}");

    // The same nodes with a policy that refuses the digits: the trained phase is in the cache,
    // but nothing is restored or run except the datasets.
    let outcome = test.run_with(&["run", "refused.exp", "--out", "second"]);
    assert_eq!(outcome.status, 1, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains(
            "dataset `d` has licence `CC-BY-4.0`, which the experiment's policy does not allow \
             (it allows `CC0-1.0`); nothing was trained"
        ),
        "{}",
        outcome.stderr
    );
    let second = statuses(&test, "second");
    assert_eq!(second["notes"], "done", "{second:?}");
    assert_eq!(second["d"], "failed", "{second:?}");
    for node in ["m", "fit", "score", "table"] {
        assert_eq!(second[node], "skipped", "{node}: {second:?}");
    }
    let manifest = std::fs::read_to_string(test.path("second/manifest.json")).unwrap();
    assert!(
        manifest.contains("the licence policy refused dataset `d` (licence `CC-BY-4.0`)"),
        "{manifest}"
    );
    assert!(!test.path("second/checkpoints/fit.safetensors").exists());
}
