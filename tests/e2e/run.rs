//! `exp run`: the run directory, checkpoints loaded back, determinism, failure isolation.

use std::path::Path;

use tch::Tensor;

use crate::support::{exp_binary, workspace_root, Test};

const TWO_RUNS: &str = r#"// Two short fine-tunes of one initialisation, merged and evaluated.
dataset d = digits
model m = mlp { hidden: [16] }
train a {
  model: m
  data: d
  steps: 30 steps
  batch: 32
  seed: 1
  optimizer: adamw { lr: 0.01 }
  schedule: cosine { warmup: 10% }
  eval: [accuracy]
  eval_every: 15 steps
  log_every: 5 steps
}
train b {
  model: m
  data: d
  steps: 1 epochs
  batch: 64
  seed: 2
  optimizer: sgd { lr: 0.5, momentum: 0.9 }
}
merge soup = average(a, b)
evaluate a_eval { model: a, data: d, metrics: [accuracy, loss] }
evaluate soup_eval { model: soup, data: d, metrics: [accuracy, loss] }
report results { rows: [a_eval, soup_eval, a], chart: true }
"#;

fn read_checkpoint(path: &Path) -> Vec<(String, Tensor)> {
    let mut tensors = Tensor::read_safetensors(path).expect("a readable safetensors checkpoint");
    tensors.sort_by(|left, right| left.0.cmp(&right.0));
    tensors
}

fn read_json_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn a_run_writes_manifest_metrics_checkpoints_and_tables() {
    let test = Test::new()
        .file("two.exp", TWO_RUNS)
        .args(["run", "two.exp", "--out", "out", "--device", "cpu"]);
    let outcome = test.run();
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    let out = test.path("out");

    // Checkpoints for every model-producing node, loadable, with the architecture's keys.
    for node in ["m", "a", "b", "soup"] {
        let tensors = read_checkpoint(&out.join("checkpoints").join(format!("{node}.safetensors")));
        let names: Vec<&str> = tensors.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            [
                "layers.0.bias",
                "layers.0.weight",
                "layers.1.bias",
                "layers.1.weight"
            ]
        );
        assert_eq!(tensors[1].1.size(), vec![16, 64]);
    }
    // The soup is the average of a and b, computed here independently.
    let a = read_checkpoint(&out.join("checkpoints/a.safetensors"));
    let b = read_checkpoint(&out.join("checkpoints/b.safetensors"));
    let soup = read_checkpoint(&out.join("checkpoints/soup.safetensors"));
    for ((name, ta), ((_, tb), (_, ts))) in a.iter().zip(b.iter().zip(&soup)) {
        let expected = (ta + tb) / 2.0;
        let gap = f64::try_from((ts - expected).abs().max()).unwrap();
        assert!(
            gap < 1e-6,
            "soup tensor {name} differs from (a + b) / 2 by {gap}"
        );
        assert!(!ta.equal(tb), "a and b should have trained apart");
    }
    // Training moved the weights away from the shared initialisation.
    let init = read_checkpoint(&out.join("checkpoints/m.safetensors"));
    assert!(!init[1].1.equal(&a[1].1));

    // metrics.jsonl: one object per value, with node, step, name, value.
    let metrics = read_json_lines(&out.join("metrics.jsonl"));
    let a_losses: Vec<u64> = metrics
        .iter()
        .filter(|line| line["node"] == "a" && line["name"] == "loss" && line["split"] == "train")
        .map(|line| line["step"].as_u64().unwrap())
        .collect();
    assert_eq!(a_losses, [5, 10, 15, 20, 25, 30]);
    let a_evals: Vec<u64> = metrics
        .iter()
        .filter(|line| line["node"] == "a" && line["name"] == "accuracy")
        .map(|line| line["step"].as_u64().unwrap())
        .collect();
    assert_eq!(a_evals, [15, 30]);
    assert!(metrics.iter().all(|line| line["value"].is_f64()));

    // The manifest: file hash, resolved parameters including defaults, plugins, seeds, device.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["experiment"], "two");
    assert_eq!(manifest["status"], "finished");
    assert_eq!(manifest["device"], "cpu");
    assert_eq!(manifest["file"]["sha256"].as_str().unwrap().len(), 64);
    assert!(manifest["libtorch"].as_str().unwrap().starts_with("2.13.0"));
    let plugin = manifest["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|plugin| plugin["name"] == "std")
        .expect("the std plugin in the manifest");
    assert_eq!(plugin["sha256"].as_str().unwrap().len(), 64);
    let node_a = manifest["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["name"] == "a")
        .unwrap();
    assert_eq!(node_a["seed"], 1);
    assert_eq!(node_a["outcome"]["status"], "done");
    assert_eq!(
        node_a["spec"]["optimizer"]["params"]["beta2"]["value"],
        0.999
    );
    let ledger = manifest["ledger"].as_array().unwrap();
    let soup_ledger = ledger.iter().find(|entry| entry["node"] == "soup").unwrap();
    let examples: Vec<u64> = soup_ledger["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|source| source["examples"].as_u64().unwrap())
        .collect();
    // a: 30 steps of 32; b: one epoch of the 1,438 training examples.
    assert_eq!(examples, [960, 1438]);
    assert_eq!(soup_ledger["sources"][0]["license"], "CC-BY-4.0");

    // The results table, as CSV and Markdown, with a training node's final evaluation as a row.
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "node,accuracy,loss");
    assert!(lines[1].starts_with("a_eval,"));
    assert!(
        lines[3].starts_with("a,") && lines[3].ends_with(','),
        "{csv}"
    );
    let a_eval_accuracy: f64 = lines[1].split(',').nth(1).unwrap().parse().unwrap();
    let a_final_accuracy: f64 = lines[3].split(',').nth(1).unwrap().parse().unwrap();
    assert_eq!(
        a_eval_accuracy, a_final_accuracy,
        "evaluating a's checkpoint repeats its final evaluation"
    );
    assert!(
        a_eval_accuracy > 0.5,
        "30 steps of adamw should learn digits: {a_eval_accuracy}"
    );
    assert!(std::fs::read_to_string(out.join("results.md"))
        .unwrap()
        .starts_with("| node"));
    // The report asked for a chart of its table.
    assert!(std::fs::read(out.join("results.png"))
        .unwrap()
        .starts_with(b"\x89PNG"));
    assert!(std::fs::read_to_string(out.join("results.svg"))
        .unwrap()
        .contains("soup_eval"));
    // And every logged curve is plotted.
    assert!(out.join("plots/train_loss.png").exists());
    assert!(out.join("plots/test_accuracy.svg").exists());
    assert!(
        outcome.stdout.contains("| soup_eval |"),
        "{}",
        outcome.stdout
    );
}

#[test]
fn python_loads_the_checkpoints() {
    let python = workspace_root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "./setup.sh makes .venv; the suite needs it"
    );
    let test = Test::new()
        .file("two.exp", TWO_RUNS)
        .args(["run", "two.exp", "--out", "out"]);
    assert_eq!(test.run().status, 0);
    let script = "import sys, torch\nfrom safetensors.torch import load_file\nt = load_file(sys.argv[1])\nprint(sorted(t), tuple(t['layers.0.weight'].shape), t['layers.0.weight'].dtype)";
    let output = std::process::Command::new(python)
        .args(["-c", script])
        .arg(test.path("out/checkpoints/soup.safetensors"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout.trim(),
        "['layers.0.bias', 'layers.0.weight', 'layers.1.bias', 'layers.1.weight'] (16, 64) torch.float32"
    );
}

#[test]
fn the_same_file_and_seed_give_bit_identical_checkpoints_whatever_the_jobs() {
    let test = Test::new().file("two.exp", TWO_RUNS);
    // At one intra-op thread (the default) and at two: a node's thread count is fixed by
    // `--threads`, never by `--jobs`, so on every CPU the jobs cannot change the numbers.
    for threads in ["1", "2"] {
        for (out, jobs) in [("one", "2"), ("two", "2"), ("three", "1")] {
            let out = format!("{out}-{threads}");
            // --no-cache: each run must compute, or the comparison would read the cache back.
            let outcome = test.run_with(&[
                "run",
                "two.exp",
                "--out",
                &out,
                "--jobs",
                jobs,
                "--threads",
                threads,
                "--no-cache",
            ]);
            assert_eq!(outcome.status, 0, "{}", outcome.stderr);
        }
        for node in ["a", "b", "soup"] {
            let read = |out: &str| {
                std::fs::read(test.path(&format!("{out}-{threads}/checkpoints/{node}.safetensors")))
                    .unwrap()
            };
            assert!(
                read("one") == read("two"),
                "checkpoint {node} differs between two runs of the same file ({threads} threads)"
            );
            assert!(
                read("one") == read("three"),
                "checkpoint {node} differs between --jobs 2 and --jobs 1 ({threads} threads)"
            );
        }
        let table = |out: &str| {
            std::fs::read_to_string(test.path(&format!("{out}-{threads}/results.csv"))).unwrap()
        };
        assert_eq!(table("one"), table("two"));
        let manifest: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(test.path(&format!("three-{threads}/manifest.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(manifest["threads"]["intra_op"].to_string(), threads);
    }
}

#[test]
fn the_thread_count_is_part_of_the_cache_key() {
    let test = Test::new().file("two.exp", TWO_RUNS);
    let first = test.run_with(&["run", "two.exp", "--out", "first"]);
    assert_eq!(first.status, 0, "{}", first.stderr);
    // The same file with two threads per node computes again, and says why.
    let second = test.run_with(&[
        "run",
        "two.exp",
        "--out",
        "second",
        "--threads",
        "2",
        "--explain",
    ]);
    assert_eq!(second.status, 0, "{}", second.stderr);
    assert!(
        second
            .stderr
            .contains("intra-op threads 1 → 2 (`--threads`)"),
        "{}",
        second.stderr
    );
    assert!(!second.stderr.contains("cached ("), "{}", second.stderr);
    // And back at one thread, everything comes from the cache.
    let third = test.run_with(&["run", "two.exp", "--out", "third", "--explain"]);
    assert_eq!(third.status, 0, "{}", third.stderr);
    assert!(!third.stderr.contains("runs:"), "{}", third.stderr);
}

#[test]
fn the_default_run_directory_is_runs_experiment_id() {
    let test = Test::new()
        .file("two.exp", TWO_RUNS)
        .args(["run", "two.exp"]);
    let outcome = test.run();
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    let runs: Vec<_> = std::fs::read_dir(test.path("runs/two")).unwrap().collect();
    assert_eq!(runs.len(), 1);
    let run_dir = runs[0].as_ref().unwrap().path();
    assert!(run_dir.join("manifest.json").exists());
    let id = run_dir.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(id.len(), "20261127-040000-0000".len(), "{id}");
}

#[test]
fn a_diverging_node_fails_alone_with_its_step_and_last_finite_loss() {
    let file = r#"dataset d = digits
model m = mlp { hidden: [16] }
train good {
  model: m
  data: d
  steps: 10 steps
  optimizer: sgd { lr: 0.1 }
}
train diverging {
  model: m
  data: d
  steps: 40 steps
  optimizer: sgd { lr: 1e12 }
  log_every: 1 steps
}
evaluate good_eval { model: good, data: d, metrics: [accuracy] }
evaluate diverging_eval { model: diverging, data: d, metrics: [accuracy] }
"#;
    let test = Test::new()
        .file("nan.exp", file)
        .args(["run", "nan.exp", "--out", "out"]);
    let outcome = test.run();
    assert_eq!(outcome.status, 1, "{}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .contains("node `diverging`: the training loss is not finite at step"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("last finite loss"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("nan.exp:9:1"),
        "the failure points at the definition:\n{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("1 node failed, 1 node skipped"),
        "{}",
        outcome.stderr
    );
    // The healthy branch finished and its results are there.
    assert!(test.path("out/checkpoints/good.safetensors").exists());
    let csv = std::fs::read_to_string(test.path("out/results.csv")).unwrap();
    assert!(csv.contains("good_eval,"), "{csv}");
    assert!(!csv.contains("diverging_eval"), "{csv}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(test.path("out/manifest.json")).unwrap())
            .unwrap();
    let outcome_of = |name: &str| {
        manifest["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|node| node["name"] == name)
            .unwrap()["outcome"]["status"]
            .clone()
    };
    assert_eq!(outcome_of("diverging"), "failed");
    assert_eq!(outcome_of("diverging_eval"), "skipped");
    assert_eq!(outcome_of("good_eval"), "done");
}

#[test]
fn asking_for_cuda_without_a_gpu_is_a_clear_error() {
    if tch::Cuda::is_available() {
        return;
    }
    let test = Test::new()
        .file("two.exp", TWO_RUNS)
        .args(["run", "two.exp", "--device", "cuda"]);
    let outcome = test.run();
    assert_eq!(outcome.status, 3);
    assert!(
        outcome.stderr.contains("libtorch sees no CUDA device"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn a_full_disk_while_writing_a_checkpoint_is_a_clear_error_and_keeps_the_previous_one() {
    let file = "dataset d = digits\nmodel m = mlp { hidden: [8] }\ntrain t {\n  model: m\n  data: d\n  steps: 5 steps\n  optimizer: sgd { lr: 0.1 }\n}\n";
    let test = Test::new().file("full.exp", file);
    let first = test.run_with(&["run", "full.exp", "--out", "out", "--no-cache"]);
    assert_eq!(first.status, 0, "{}", first.stderr);
    let checkpoint = test.path("out/checkpoints/t.safetensors");
    let before = std::fs::read(&checkpoint).unwrap();
    // The checkpoint is written to a temporary file first; make that file the full device.
    std::os::unix::fs::symlink("/dev/full", test.path("out/checkpoints/t.safetensors.tmp"))
        .unwrap();
    let changed = file.replace("lr: 0.1", "lr: 0.2");
    std::fs::write(test.path("full.exp"), changed).unwrap();
    let second = test.run_with(&["run", "full.exp", "--out", "out", "--no-cache"]);
    assert_eq!(second.status, 1, "{}", second.stderr);
    assert!(
        second.stderr.contains("node `t`: cannot write"),
        "{}",
        second.stderr
    );
    assert!(
        second.stderr.contains("No space left on device"),
        "{}",
        second.stderr
    );
    assert_eq!(
        std::fs::read(&checkpoint).unwrap(),
        before,
        "the previous checkpoint must stay intact"
    );
}

/// The same phase four ways: as written, in four micro-batches, in bfloat16, and in float16
/// with clipping. Accumulation is the same step up to float rounding; the low-precision
/// phases train as well; clipping and the loss scale are logged.
const PRECISIONS: &str = r#"dataset d = digits
model m = mlp { hidden: [32] }
let phase = 40
train plain { model: m, data: d, steps: phase * 1 steps, batch: 64, seed: 1, optimizer: adamw { lr: 0.01 }, log_every: 10 steps }
train accumulated { model: m, data: d, steps: phase * 1 steps, batch: 64, seed: 1, optimizer: adamw { lr: 0.01 }, log_every: 10 steps, accumulate: 4 }
train bf16 { model: m, data: d, steps: phase * 1 steps, batch: 64, seed: 1, optimizer: adamw { lr: 0.01 }, log_every: 10 steps, precision: "bf16" }
train fp16 { model: m, data: d, steps: phase * 1 steps, batch: 64, seed: 1, optimizer: adamw { lr: 0.01 }, log_every: 10 steps, precision: "fp16", clip: 0.5 }
evaluate on_plain { model: plain, data: d, metrics: [accuracy] }
evaluate on_bf16 { model: bf16, data: d, metrics: [accuracy] }
evaluate on_fp16 { model: fp16, data: d, metrics: [accuracy] }
"#;

#[test]
fn accumulation_precision_and_clipping_train_as_documented() {
    let test = Test::new()
        .file("p.exp", PRECISIONS)
        .args(["run", "p.exp", "--out", "out", "--device", "cpu"]);
    let outcome = test.run();
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    let weights =
        |node: &str| read_checkpoint(&test.path(&format!("out/checkpoints/{node}.safetensors")));
    let largest_difference = |a: &str, b: &str| {
        weights(a)
            .iter()
            .zip(weights(b))
            .map(|((_, x), (_, y))| f64::try_from((x - y).abs().max()).unwrap())
            .fold(0.0, f64::max)
    };
    let accumulated = largest_difference("plain", "accumulated");
    assert!(
        accumulated < 1e-4,
        "accumulation moved the weights by {accumulated}"
    );
    let bf16 = largest_difference("plain", "bf16");
    assert!(
        bf16 > 0.0,
        "bf16 computed exactly what fp32 did: autocast is off"
    );

    let metrics = read_json_lines(&test.path("out/metrics.jsonl"));
    let value = |node: &str, name: &str| -> Vec<f64> {
        metrics
            .iter()
            .filter(|line| line["node"] == node && line["name"] == name)
            .map(|line| line["value"].as_f64().unwrap())
            .collect()
    };
    for node in ["on_plain", "on_bf16", "on_fp16"] {
        let accuracy = value(node, "accuracy")[0];
        assert!(accuracy > 0.8, "{node}: accuracy {accuracy}");
    }
    // Clipping reads the norm before it clips, every logged step; fp16 logs its scale.
    assert_eq!(value("fp16", "grad_norm").len(), 4);
    assert!(value("plain", "grad_norm").is_empty());
    assert_eq!(value("fp16", "loss_scale").len(), 4);
    assert_eq!(value("fp16", "skipped_steps").len(), 1);
}

/// The spin count libgomp (libtorch's OpenMP runtime) read, as it prints it when
/// `OMP_DISPLAY_ENV=VERBOSE`, for a one-step run with `threads` intra-op threads and `env` set
/// (and no other OpenMP variable).
fn libgomp_spin_count(threads: &str, env: &[(&str, &str)]) -> String {
    let test = Test::new().file(
        "one.exp",
        "dataset d = digits\nmodel m = mlp { hidden: [8] }\n\
         train t { model: m, data: d, steps: 1 steps, optimizer: adamw }\n",
    );
    let mut command = std::process::Command::new(exp_binary());
    command
        .args([
            "run",
            "one.exp",
            "--out",
            "out",
            "--no-cache",
            "--device",
            "cpu",
        ])
        .args(["--threads", threads])
        .current_dir(test.path(""))
        .env_remove("EXP_PLUGIN_PATH")
        .env_remove("OMP_WAIT_POLICY")
        .env_remove("GOMP_SPINCOUNT")
        .env("OMP_DISPLAY_ENV", "VERBOSE");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let line = stderr
        .lines()
        .find_map(|line| line.trim().strip_prefix("GOMP_SPINCOUNT = "))
        .unwrap_or_else(|| panic!("libgomp printed no spin count:\n{stderr}"));
    line.trim_matches('\'').to_string()
}

#[test]
fn a_run_leaves_libgomps_waiting_to_libgomp_and_the_user() {
    // exp sets no wait policy of its own: libgomp's default spin (300,000) measured fastest
    // idle and degraded least beside a competitor (exp-bench's busy-machine rows), and exp's
    // default of one intra-op thread starts no OpenMP team at all.
    assert_eq!(libgomp_spin_count("2", &[]), "300000");
    assert_eq!(libgomp_spin_count("1", &[]), "300000");
    // The user's own settings reach libgomp unchanged.
    assert_eq!(libgomp_spin_count("2", &[("GOMP_SPINCOUNT", "77")]), "77");
    assert_eq!(
        libgomp_spin_count("2", &[("OMP_WAIT_POLICY", "passive")]),
        "0"
    );
}
