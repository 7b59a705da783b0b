//! Run records: `exp runs` lists past runs, `exp show` tells one, and `exp run` leaves charts of
//! its metrics in `plots/`.

use crate::support::{Outcome, Test};

const TINY: &str = r#"dataset d = digits
model m = mlp { hidden: [8] }
train t {
  model: m
  data: d
  steps: 20 steps
  batch: 32
  optimizer: adamw { lr: 0.01 }
  eval: [accuracy]
  eval_every: 10 steps
}
evaluate t_eval { model: t, data: d, metrics: [accuracy, loss] }
"#;

/// Runs `tiny.exp` twice into the default `runs/` and returns the test and both run ids, older
/// first.
fn two_runs() -> (Test, [String; 2]) {
    let test = Test::new().file("tiny.exp", TINY);
    for _ in 0..2 {
        let outcome = test.run_with(&["run", "tiny.exp", "--device", "cpu"]);
        assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    }
    let mut ids: Vec<String> = std::fs::read_dir(test.path("runs/tiny"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .collect();
    ids.sort();
    assert_eq!(ids.len(), 2, "{ids:?}");
    (test, [ids[0].clone(), ids[1].clone()])
}

/// The text of every `<text>` element of an SVG document.
fn svg_texts(svg: &str) -> Vec<&str> {
    svg.split("<text")
        .skip(1)
        .filter_map(|element| {
            let (_, rest) = element.split_once('>')?;
            let (text, _) = rest.split_once("</text>")?;
            Some(text.trim())
        })
        .collect()
}

fn success(outcome: Outcome) -> String {
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    outcome.stdout
}

#[test]
fn runs_are_listed_shown_and_plotted() {
    let (test, [older, newer]) = two_runs();

    // Charts of the training loss and of the evaluations during training, as SVG and PNG.
    let run_dir = test.path("runs/tiny").join(&newer);
    for chart in ["train_loss", "test_accuracy"] {
        let svg = std::fs::read_to_string(run_dir.join(format!("plots/{chart}.svg"))).unwrap();
        assert!(
            svg_texts(&svg).contains(&"t"),
            "no legend for `t` in {chart}.svg: {svg}"
        );
        let png = std::fs::read(run_dir.join(format!("plots/{chart}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{chart}.png");
    }

    // `exp runs`: both, newest first, with status and node counts.
    let listing = success(test.run_with(&["runs"]));
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 3, "{listing}");
    assert!(lines[0].starts_with("RUN "), "{listing}");
    let rows: Vec<Vec<&str>> = lines[1..]
        .iter()
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0][..3],
        [newer.as_str(), "tiny", "finished"],
        "{listing}"
    );
    assert!(rows[0][6].ends_with(&format!("tiny/{newer}")), "{listing}");
    // The first run ran every node: 4 done, 0 failed, 0 skipped.
    assert_eq!(
        rows[1][..6],
        [older.as_str(), "tiny", "finished", "4", "0", "0"],
        "{listing}"
    );
    assert!(rows[1][6].ends_with(&format!("tiny/{older}")), "{listing}");
    let json: serde_json::Value =
        serde_json::from_str(&success(test.run_with(&["runs", "--json"]))).unwrap();
    assert_eq!(json[0]["id"], newer.as_str());
    assert_eq!(json[1]["id"], older.as_str());
    assert_eq!(json[0]["status"], "finished");
    assert_eq!(json[1]["nodes"]["done"], 4);
    assert_eq!(json[1]["nodes"]["total"], 4);

    // `exp show ID`: what ran, the table, and where the files are.
    let shown = success(test.run_with(&["show", &older]));
    assert!(
        shown.starts_with(&format!("run {older} (finished)\n")),
        "{shown}"
    );
    assert!(shown.contains("experiment: tiny\n"), "{shown}");
    assert!(shown.contains("file: tiny.exp (sha256 "), "{shown}");
    assert!(shown.contains("device: cpu\n"), "{shown}");
    assert!(
        shown.contains("nodes: 4 (4 done, 0 failed, 0 skipped)\n"),
        "{shown}"
    );
    assert!(shown.contains("\nresults:\n| node"), "{shown}");
    assert!(shown.contains("| t_eval |"), "{shown}");
    assert!(!shown.contains("failures:"), "{shown}");
    assert!(shown.contains("checkpoints/t.safetensors ("), "{shown}");
    for chart in [
        "test_accuracy.png",
        "test_accuracy.svg",
        "train_loss.png",
        "train_loss.svg",
    ] {
        assert!(
            shown.contains(&format!("plots/{chart}\n")),
            "{chart} missing: {shown}"
        );
    }
    // `latest` and a run directory's path name runs too.
    assert!(success(test.run_with(&["show", "latest"])).starts_with(&format!("run {newer} ")));
    let by_path = format!("runs/tiny/{older}");
    assert!(success(test.run_with(&["show", &by_path])).starts_with(&format!("run {older} ")));

    // An unknown run: exit 2, saying what was searched.
    let unknown = test.run_with(&["show", "nosuchrun"]);
    assert_eq!(unknown.status, 2, "{}", unknown.stderr);
    assert!(
        unknown
            .stderr
            .starts_with("error: no run `nosuchrun`: it is not a run directory"),
        "{}",
        unknown.stderr
    );
    assert!(
        unknown.stderr.contains("2 runs under `runs`"),
        "{}",
        unknown.stderr
    );
    // A typo in a run id gets a did-you-mean.
    let typo = format!("{}x", &newer[..newer.len() - 1]);
    let misspelt = test.run_with(&["show", &typo]);
    assert_eq!(misspelt.status, 2);
    assert!(
        misspelt.stderr.contains("did you mean `"),
        "{}",
        misspelt.stderr
    );
}

#[test]
fn no_runs_yet_and_a_run_that_did_not_finish() {
    let test = Test::new();
    let outcome = test.run_with(&["runs"]);
    assert_eq!(outcome.status, 0);
    assert_eq!(outcome.stdout, "");
    assert_eq!(outcome.stderr, "no runs under `runs`\n");
    let nothing = test.run_with(&["show", "latest"]);
    assert_eq!(nothing.status, 2);
    assert!(
        nothing
            .stderr
            .contains("`exp run FILE` writes runs under `runs`"),
        "{}",
        nothing.stderr
    );

    // A run killed midway leaves a manifest that still says `running`, and nodes without outcomes.
    let test = Test::new().file(
        "elsewhere/exp1/20260101-000000-0001/manifest.json",
        r#"{"experiment": "exp1", "status": "running", "device": "cpu",
            "nodes": [{"name": "a", "outcome": {"status": "failed", "error": "node `a`: out of memory"}},
                      {"name": "b"}]}"#,
    );
    let listing = test.run_with(&["runs", "--dir", "elsewhere"]);
    assert_eq!(listing.status, 0, "{}", listing.stderr);
    let cells: Vec<&str> = listing
        .stdout
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        cells[..6],
        ["20260101-000000-0001", "exp1", "incomplete", "0", "1", "0"]
    );
    let shown = test.run_with(&["show", "exp1/latest", "--dir", "elsewhere"]);
    assert_eq!(shown.status, 0, "{}", shown.stderr);
    assert!(
        shown
            .stdout
            .starts_with("run 20260101-000000-0001 (incomplete)\n"),
        "{}",
        shown.stdout
    );
    assert!(
        shown
            .stdout
            .contains("\nfailures:\n  a: node `a`: out of memory\n"),
        "{}",
        shown.stdout
    );
}

/// A run written elsewhere with `--out` is recorded where `exp runs` and `exp show` look by
/// default, and `--dir` also reads an `--out` directory, or a directory of them, directly.
#[test]
fn runs_written_with_out_are_found() {
    let test = Test::new().file("tiny.exp", TINY);
    let outcome = test.run_with(&[
        "run",
        "tiny.exp",
        "--device",
        "cpu",
        "--out",
        "elsewhere/first",
    ]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    let outcome = test.run_with(&["run", "tiny.exp", "--device", "cpu", "--no-cache"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);

    // By default: both, the one in `runs/` newest first, the other by its record.
    let json: serde_json::Value =
        serde_json::from_str(&success(test.run_with(&["runs", "--json"]))).unwrap();
    let runs = json.as_array().unwrap();
    assert_eq!(runs.len(), 2, "{json}");
    assert!(
        runs[0]["path"].as_str().unwrap().contains("runs/tiny/"),
        "{json}"
    );
    assert!(
        runs[1]["path"]
            .as_str()
            .unwrap()
            .ends_with("elsewhere/first"),
        "{json}"
    );
    assert_eq!(runs[1]["experiment"], "tiny");
    assert_eq!(runs[1]["status"], "finished");
    let older = runs[1]["id"].as_str().unwrap().to_string();
    let shown = success(test.run_with(&["show", &older]));
    assert!(
        shown.starts_with(&format!("run {older} (finished)\n")),
        "{shown}"
    );
    assert!(shown.contains("elsewhere/first/manifest.json"), "{shown}");

    // `--dir` on the `--out` directory, and on the directory above it.
    for dir in ["elsewhere/first", "elsewhere"] {
        let json: serde_json::Value =
            serde_json::from_str(&success(test.run_with(&["runs", "--dir", dir, "--json"])))
                .unwrap();
        assert_eq!(json.as_array().unwrap().len(), 1, "{dir}: {json}");
        assert!(json[0]["path"]
            .as_str()
            .unwrap()
            .ends_with("elsewhere/first"));
        let shown = success(test.run_with(&["show", "latest", "--dir", dir]));
        assert!(shown.contains("experiment: tiny\n"), "{dir}: {shown}");
        assert!(
            shown.contains("elsewhere/first/manifest.json"),
            "{dir}: {shown}"
        );
    }
}

/// A run killed before it wrote its manifest again: what its nodes did is in the journal it
/// appends to as each one ends, and `exp runs` counts from there.
#[test]
fn a_killed_run_is_counted_from_its_outcome_journal() {
    let test = Test::new()
        .file(
            "elsewhere/exp1/20260101-000000-0002/manifest.json",
            r#"{"experiment": "exp1", "status": "running", "device": "cpu",
                "nodes": [{"name": "a"}, {"name": "b"}, {"name": "c"}, {"name": "d"}]}"#,
        )
        .file(
            "elsewhere/exp1/20260101-000000-0002/outcomes.jsonl",
            concat!(
                r#"{"node": "b", "status": "done", "seconds": 1.0}"#,
                "\n",
                r#"{"node": "a", "status": "cached"}"#,
                "\n",
                r#"{"node": "d", "status": "failed", "error": "node `d`: out of memory"}"#,
                "\n",
                "{\"node\": \"c\", \"sta", // the line the kill cut short
            ),
        );
    let listing = test.run_with(&["runs", "--dir", "elsewhere"]);
    assert_eq!(listing.status, 0, "{}", listing.stderr);
    let cells: Vec<&str> = listing
        .stdout
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        cells[..6],
        ["20260101-000000-0002", "exp1", "incomplete", "2", "1", "0"]
    );
}
