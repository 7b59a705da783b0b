//! The content-addressed cache: a finished experiment reruns nothing, one changed parameter
//! reruns exactly what depends on it, comments and whitespace rerun nothing, a corrupted entry
//! is detected and recomputed, and `--explain`, `--force` and `--no-cache` do what they say.

use crate::support::{statuses, Test};

const FILE: &str = r#"// A small experiment for the cache tests.
dataset d = digits
model m = mlp { hidden: [16] }
train a {
  model: m
  data: d
  steps: 20 steps
  seed: 1
  optimizer: adamw { lr: 0.01 }
  eval: [accuracy]
}
train b {
  model: m
  data: d
  steps: 20 steps
  seed: 2
  optimizer: adamw { lr: 0.01 }
}
merge soup = average(a, b)
evaluate a_eval { model: a, data: d, metrics: [accuracy] }
evaluate soup_eval { model: soup, data: d, metrics: [accuracy, loss] }
report results { rows: [a_eval, soup_eval] }
"#;

fn run(test: &Test, file: &str, out: &str, extra: &[&str]) -> crate::support::Outcome {
    let mut args = vec!["run", file, "--out", out];
    args.extend_from_slice(extra);
    let outcome = test.run_with(&args);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    outcome
}

fn expect(test: &Test, out: &str, cached: &[&str], ran: &[&str]) {
    let statuses = statuses(test, out);
    for node in cached {
        assert_eq!(statuses[*node], "cached", "{node} in {out}: {statuses:?}");
    }
    for node in ran {
        assert_eq!(statuses[*node], "done", "{node} in {out}: {statuses:?}");
    }
}

#[test]
fn a_finished_experiment_reruns_nothing_and_gives_the_same_files() {
    let test = Test::new().file("exp.exp", FILE);
    run(&test, "exp.exp", "first", &[]);
    expect(
        &test,
        "first",
        &[],
        &["d", "m", "a", "b", "soup", "a_eval", "soup_eval", "results"],
    );
    let outcome = run(&test, "exp.exp", "second", &[]);
    // What a cached rerun says is one line per node, nothing else.
    let lines: Vec<&str> = outcome.stderr.lines().collect();
    assert_eq!(lines.len(), 7, "{}", outcome.stderr);
    assert!(
        lines
            .iter()
            .all(|line| line.starts_with('[') && line.ends_with(" cached")),
        "{}",
        outcome.stderr
    );
    expect(
        &test,
        "second",
        &["m", "a", "b", "soup", "a_eval", "soup_eval", "results"],
        &[],
    );
    // No dataset was even built: nothing that reads it ran.
    assert_eq!(statuses(&test, "second")["d"], "not_needed");
    for node in ["a", "b", "soup"] {
        let read = |out: &str| {
            std::fs::read(test.path(&format!("{out}/checkpoints/{node}.safetensors"))).unwrap()
        };
        assert!(
            read("first") == read("second"),
            "cached checkpoint {node} differs"
        );
    }
    for file in ["results.csv", "metrics.jsonl"] {
        let read =
            |out: &str| std::fs::read_to_string(test.path(&format!("{out}/{file}"))).unwrap();
        let mut first: Vec<String> = read("first").lines().map(String::from).collect();
        let mut second: Vec<String> = read("second").lines().map(String::from).collect();
        first.sort();
        second.sort();
        assert_eq!(first, second, "{file} of the cached run differs");
    }
}

/// A cached rerun's run directory holds the cache's checkpoints as read-only links (one file,
/// no copy written); `[cache] files = "copy"` in `exp.toml` gives a run copies of its own. exp
/// never writes through a link: a node computed again replaces its file.
#[test]
fn cached_checkpoints_are_read_only_links_or_copies_as_exp_toml_says() {
    use std::os::unix::fs::MetadataExt;
    let test = Test::new().file("exp.exp", FILE);
    run(&test, "exp.exp", "first", &[]);
    run(&test, "exp.exp", "second", &[]);
    let checkpoint =
        |out: &str, node: &str| test.path(&format!("{out}/checkpoints/{node}.safetensors"));
    let inode = |out: &str, node: &str| std::fs::metadata(checkpoint(out, node)).unwrap().ino();
    let bytes = |out: &str, node: &str| std::fs::read(checkpoint(out, node)).unwrap();
    for node in ["m", "a", "b", "soup"] {
        assert_eq!(inode("first", node), inode("second", node), "{node}");
        let permissions = std::fs::metadata(checkpoint("second", node))
            .unwrap()
            .permissions();
        assert!(permissions.readonly(), "{node}");
    }
    std::fs::write(test.path("exp.toml"), "[cache]\nfiles = \"copy\"\n").unwrap();
    run(&test, "exp.exp", "third", &[]);
    expect(&test, "third", &["m", "a", "b", "soup"], &[]);
    for node in ["m", "a", "b", "soup"] {
        assert_ne!(inode("first", node), inode("third", node), "{node}");
        assert!(bytes("first", node) == bytes("third", node), "{node}");
    }
    std::fs::remove_file(test.path("exp.toml")).unwrap();
    let (before, first_a) = (inode("first", "a"), bytes("first", "a"));
    run(&test, "exp.exp", "second", &["--force", "a"]);
    expect(&test, "second", &["m", "b"], &["a", "soup"]);
    assert_ne!(inode("second", "a"), before);
    assert_eq!(inode("first", "a"), before);
    assert!(bytes("first", "a") == first_a);
    assert!(bytes("second", "a") == first_a);
}

#[test]
fn one_changed_parameter_reruns_exactly_its_dependents() {
    let test = Test::new().file("exp.exp", FILE);
    run(&test, "exp.exp", "first", &[]);
    // b's learning rate changes: b, the soup and what reads them rerun; a and a_eval do not.
    let changed = FILE.replacen(
        "seed: 2\n  optimizer: adamw { lr: 0.01 }",
        "seed: 2\n  optimizer: adamw { lr: 0.02 }",
        1,
    );
    assert_ne!(changed, FILE);
    std::fs::write(test.path("exp.exp"), &changed).unwrap();
    let outcome = run(&test, "exp.exp", "second", &["--explain"]);
    expect(
        &test,
        "second",
        &["m", "a", "a_eval"],
        &["b", "soup", "soup_eval", "results"],
    );
    assert!(
        outcome
            .stderr
            .contains("[b] runs: optimizer.params.lr: 0.01 → 0.02"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome
            .stderr
            .contains("[soup] runs: its input `b` changed"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("[a] cached ("),
        "{}",
        outcome.stderr
    );
}

#[test]
fn comments_and_whitespace_rerun_nothing() {
    let test = Test::new().file("exp.exp", FILE);
    run(&test, "exp.exp", "first", &[]);
    let edited = format!(
        "// a new first line\n\n{}",
        FILE.replace("  steps: 20 steps", "     steps:   20 steps   // same")
    )
    .replace('\n', "\n\n");
    std::fs::write(test.path("exp.exp"), edited).unwrap();
    run(&test, "exp.exp", "second", &[]);
    expect(
        &test,
        "second",
        &["m", "a", "b", "soup", "a_eval", "soup_eval", "results"],
        &[],
    );
}

#[test]
fn a_corrupted_entry_is_detected_reported_and_recomputed() {
    let test = Test::new().file("exp.exp", FILE);
    run(&test, "exp.exp", "first", &[]);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(test.path("first/manifest.json")).unwrap())
            .unwrap();
    let key_of = |name: &str| {
        manifest["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|node| node["name"] == name)
            .unwrap()["cache_key"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // Truncate a's weights and flip a byte in b's metadata (the run directory's checkpoint is
    // the same file as the entry's, so it is damaged too: keep what it was).
    let a_weights = test.path(&format!(
        "runs/.cache/entries/{}/weights.safetensors",
        key_of("a")
    ));
    // Entries are read-only: what damages them here is not exp (nor a user who is not root).
    let writable = |path: &std::path::Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    };
    let bytes = std::fs::read(&a_weights).unwrap();
    writable(&a_weights);
    std::fs::write(&a_weights, &bytes[..bytes.len() / 2]).unwrap();
    let b_meta = test.path(&format!("runs/.cache/entries/{}/meta.json", key_of("b")));
    let mut meta = std::fs::read(&b_meta).unwrap();
    let last = meta.len() - 3;
    meta[last] ^= 1;
    writable(&b_meta);
    std::fs::write(&b_meta, meta).unwrap();

    let outcome = run(&test, "exp.exp", "second", &[]);
    assert!(
        outcome.stderr.contains("[a] cache entry"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome
            .stderr
            .contains("is corrupt (weights.safetensors does not match its checksum); recomputing"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome
            .stderr
            .contains("is corrupt (meta.json does not match its checksum); recomputing"),
        "{}",
        outcome.stderr
    );
    expect(
        &test,
        "second",
        &["soup", "a_eval", "soup_eval", "results"],
        &["a", "b"],
    );
    // Recomputed deterministically: the same weights as the first run.
    let second = std::fs::read(test.path("second/checkpoints/a.safetensors")).unwrap();
    assert!(second == bytes);
    // And the entry is whole again.
    run(&test, "exp.exp", "third", &[]);
    expect(&test, "third", &["a", "b"], &[]);
}

#[test]
fn force_and_no_cache() {
    let test = Test::new().file("exp.exp", FILE);
    run(&test, "exp.exp", "first", &[]);
    run(&test, "exp.exp", "forced", &["--force", "a"]);
    expect(
        &test,
        "forced",
        &["m", "b"],
        &["a", "soup", "a_eval", "soup_eval", "results"],
    );
    run(&test, "exp.exp", "uncached", &["--no-cache"]);
    expect(
        &test,
        "uncached",
        &[],
        &["d", "m", "a", "b", "soup", "a_eval", "soup_eval", "results"],
    );
    let unknown = test.run_with(&["run", "exp.exp", "--force", "sooup"]);
    assert_eq!(unknown.status, 2);
    assert!(
        unknown
            .stderr
            .contains("`--force sooup` names no node of `exp.exp`; did you mean `soup`?"),
        "{}",
        unknown.stderr
    );
}
