//! Kill-anywhere resume: a training node killed with SIGKILL at several points, then started
//! again with the same command, ends with weights bit-identical to an uninterrupted run, and
//! says what it resumed from.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{exp_binary, Outcome, Test};

const LONG: &str = r#"dataset d = digits
model m = mlp { hidden: [32], dropout: 0.1 }
train t {
  model: m
  data: d
  steps: 1200 steps
  batch: 64
  optimizer: adamw { lr: 0.003 }
  eval: [accuracy]
  eval_every: 400 steps
  log_every: 100 steps
  checkpoint_every: 100 steps
  // The loss scale and its count of skipped steps are part of what must survive a kill.
  precision: "fp16"
  clip: 1.0
}
"#;

/// The step of the latest checkpoint, if any.
fn latest_step(test: &Test) -> Option<u64> {
    let partial = test.path("runs/.cache/partial");
    let entries = std::fs::read_dir(partial).ok()?;
    entries
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("LATEST")).ok())
        .filter_map(|latest| {
            latest
                .trim()
                .strip_prefix("step-")
                .and_then(|step| step.parse().ok())
        })
        .max()
}

/// A task sequence whose phases carry hook state (an EWC Fisher, an SFA anchor that moves
/// with each merge) and replay earlier examples: all of it must survive a kill.
const HOOKS: &str = r#"dataset d = digits
dataset r = digits { rotate: 90 }
model m = mlp { hidden: [32] }
sequence s {
  model: m
  tasks: [d, r]
  steps: 600 steps
  batch: 64
  optimizer: adamw { lr: 0.003 }
  hooks: [ewc { lambda: 10, batches: 2 }, sfa { every: 30%, beta: 0.3, anchor: "previous_merge" }]
  replay: { size: 100, ratio: 25% }
  accumulate: 2
  log_every: 100 steps
  checkpoint_every: 50 steps
}
"#;

/// Starts `exp run`, and kills it with SIGKILL once a checkpoint at `after` steps or later
/// exists. Returns false if the run finished first.
fn run_and_kill(test: &Test, out: &str, after: u64) -> bool {
    run_file_and_kill(test, "long.exp", out, after)
}

fn run_file_and_kill(test: &Test, file: &str, out: &str, after: u64) -> bool {
    let mut child = Command::new(exp_binary())
        .args(["run", file, "--out", out])
        .current_dir(test.dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if latest_step(test).is_some_and(|step| step >= after) {
            child.kill().unwrap(); // SIGKILL on Unix
            child.wait().unwrap();
            return true;
        }
        if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Runs `file` uninterrupted into `reference`, then starts it and kills it with SIGKILL once
/// past each of `afters` steps, then runs it to the end into `resumed`, which it returns.
fn reference_then_kills_then_resume(test: &Test, file: &str, afters: &[u64]) -> Outcome {
    let reference = test.run_with(&["run", file, "--out", "reference", "--no-cache"]);
    assert_eq!(reference.status, 0, "{}", reference.stderr);
    let kills = afters
        .iter()
        .enumerate()
        .filter(|(attempt, after)| {
            run_file_and_kill(test, file, &format!("killed{attempt}"), **after)
        })
        .count();
    assert!(
        kills > 0,
        "the run always finished before it could be killed"
    );
    let resumed = test.run_with(&["run", file, "--out", "resumed"]);
    assert_eq!(resumed.status, 0, "{}", resumed.stderr);
    resumed
}

#[test]
fn a_run_killed_at_several_points_resumes_to_the_same_weights() {
    let test = Test::new().file("long.exp", LONG);
    let resumed = reference_then_kills_then_resume(&test, "long.exp", &[200, 500, 800]);
    let step = latest_step_from(&resumed.stderr);
    assert!(
        step >= 200,
        "the run should say what it resumed from:\n{}",
        resumed.stderr
    );

    let read =
        |out: &str| std::fs::read(test.path(&format!("{out}/checkpoints/t.safetensors"))).unwrap();
    assert!(
        read("reference") == read("resumed"),
        "resumed weights differ from an uninterrupted run"
    );
    // The metrics log is whole: the values logged before the kill are there too.
    let lines = |out: &str| -> Vec<String> {
        std::fs::read_to_string(test.path(&format!("{out}/metrics.jsonl")))
            .unwrap()
            .lines()
            .filter(|line| !line.contains("\"timing\""))
            .map(String::from)
            .collect()
    };
    assert_eq!(lines("reference"), lines("resumed"));
    // A finished node leaves no checkpoints behind, and a rerun is served from the cache.
    assert_eq!(latest_step(&test), None);
    let again = test.run_with(&["run", "long.exp", "--out", "again"]);
    assert!(
        again.stderr.contains("[t] train cached"),
        "{}",
        again.stderr
    );
}

#[test]
fn a_sequence_with_hooks_and_replay_resumes_to_the_same_weights() {
    let test = Test::new().file("hooks.exp", HOOKS);
    let resumed = reference_then_kills_then_resume(&test, "hooks.exp", &[150, 400]);
    assert!(
        resumed
            .stderr
            .contains("resumed from the checkpoint at step "),
        "{}",
        resumed.stderr
    );
    for phase in ["s.task1", "s.task2"] {
        let read = |out: &str| {
            std::fs::read(test.path(&format!("{out}/checkpoints/{phase}.safetensors"))).unwrap()
        };
        assert!(
            read("reference") == read("resumed"),
            "{phase}: resumed weights differ from an uninterrupted run"
        );
    }
    let matrix = |out: &str| {
        std::fs::read_to_string(test.path(&format!("{out}/nodes/s/matrix.csv"))).unwrap()
    };
    assert_eq!(matrix("reference"), matrix("resumed"));
}

fn latest_step_from(stderr: &str) -> u64 {
    stderr
        .lines()
        .find_map(|line| line.strip_prefix("[t] resumed from the checkpoint at step "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|step| step.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_corrupt_checkpoint_is_reported_and_not_used() {
    let test = Test::new().file("long.exp", LONG);
    assert!(
        run_and_kill(&test, "killed", 200),
        "the run finished before it could be killed: this test needs a longer phase"
    );
    let partial = test.path("runs/.cache/partial");
    let node_dir = std::fs::read_dir(&partial)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let latest = std::fs::read_to_string(node_dir.join("LATEST")).unwrap();
    let weights = node_dir.join(latest.trim()).join("weights.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&weights, bytes).unwrap();
    let outcome = test.run_with(&["run", "long.exp", "--out", "after"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("the latest checkpoint cannot be used (weights.safetensors does not match its checksum); starting at step 0"),
        "{}",
        outcome.stderr
    );
    let reference = test.run_with(&["run", "long.exp", "--out", "reference", "--no-cache"]);
    assert_eq!(reference.status, 0);
    let read =
        |out: &str| std::fs::read(test.path(&format!("{out}/checkpoints/t.safetensors"))).unwrap();
    assert!(read("reference") == read("after"));
}

#[test]
fn ctrl_c_checkpoints_stops_and_the_same_command_resumes() {
    let test = Test::new().file("long.exp", LONG);
    let reference = test.run_with(&["run", "long.exp", "--out", "reference", "--no-cache"]);
    assert_eq!(reference.status, 0, "{}", reference.stderr);
    let child = Command::new(exp_binary())
        .args(["run", "long.exp", "--out", "interrupted"])
        .current_dir(test.dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for training to be under way (a first checkpoint), then press Ctrl-C.
    let deadline = Instant::now() + Duration::from_secs(120);
    while latest_step(&test).is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    // SAFETY: sending SIGINT to our own child process, which is still running (not waited).
    let signalled = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(signalled, 0, "could not send SIGINT");
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(
        output.status.code(),
        Some(0),
        "the run finished before Ctrl-C arrived: this test needs a longer phase\n{stderr}"
    );
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("stopping after the current step"),
        "{stderr}"
    );
    assert!(stderr.contains("interrupted after step"), "{stderr}");
    assert!(stderr.contains("checkpointed there"), "{stderr}");
    assert!(stderr.contains("resume with:"), "{stderr}");
    let resumed = test.run_with(&["run", "long.exp", "--out", "resumed"]);
    assert_eq!(resumed.status, 0, "{}", resumed.stderr);
    assert!(
        resumed
            .stderr
            .contains("[t] resumed from the checkpoint at step "),
        "{}",
        resumed.stderr
    );
    let read =
        |out: &str| std::fs::read(test.path(&format!("{out}/checkpoints/t.safetensors"))).unwrap();
    assert!(
        read("reference") == read("resumed"),
        "resumed weights differ from an uninterrupted run"
    );
}

/// Resuming into the same `--out` directory: the metrics log holds each line once (the killed
/// run's lines come back from the checkpoint, not also from the old file), and while a run is
/// incomplete `exp runs` counts the nodes that had finished.
#[test]
fn resuming_into_the_same_directory_logs_each_metric_once() {
    let test = Test::new().file("long.exp", LONG);
    let reference = test.run_with(&["run", "long.exp", "--out", "reference", "--no-cache"]);
    assert_eq!(reference.status, 0, "{}", reference.stderr);
    assert!(
        run_and_kill(&test, "runs/long/killed", 300),
        "the run finished before it could be killed: this test needs a longer phase"
    );
    // Killed during `t`: the dataset and the model had finished, and the journal says so.
    let listing = test.run_with(&["runs", "--json"]);
    assert_eq!(listing.status, 0, "{}", listing.stderr);
    let runs: serde_json::Value = serde_json::from_str(&listing.stdout).unwrap();
    let killed = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|run| run["id"] == "killed")
        .unwrap_or_else(|| panic!("{}", listing.stdout));
    assert_eq!(killed["status"], "incomplete");
    assert_eq!(killed["nodes"]["done"], 2, "{killed}");
    let resumed = test.run_with(&["run", "long.exp", "--out", "runs/long/killed"]);
    assert_eq!(resumed.status, 0, "{}", resumed.stderr);
    assert!(
        resumed
            .stderr
            .contains("resumed from the checkpoint at step"),
        "{}",
        resumed.stderr
    );
    let lines = |out: &str| -> Vec<String> {
        std::fs::read_to_string(test.path(&format!("{out}/metrics.jsonl")))
            .unwrap()
            .lines()
            .filter(|line| !line.contains("\"timing\""))
            .map(String::from)
            .collect()
    };
    assert_eq!(lines("reference"), lines("runs/long/killed"));
}
