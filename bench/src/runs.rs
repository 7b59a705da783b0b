//! One training run on each side, as a child process: `exp run` on a generated experiment, and
//! the model's PyTorch eager script from the project's virtual environment.
//!
//! exp reports its timings in the run directory's `metrics.jsonl` (split `timing`, node `t`),
//! its intra-op thread count in `manifest.json` and its initial weights in
//! `checkpoints/m.safetensors`; the Python script is given those weights and that thread count
//! and prints its timings as one JSON object.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _};
use serde_json::Value;

use crate::child;
use crate::models::BenchModel;

/// Where the pieces of a benchmark are.
pub struct Paths {
    pub root: PathBuf,
    pub exp: PathBuf,
    pub plugin: PathBuf,
    pub python: PathBuf,
    pub work: PathBuf,
}

/// What one run of either side measured.
pub struct Sample {
    pub step_median: f64,
    pub peak_rss: u64,
    /// The training loss at the last step.
    pub final_loss: f64,
}

pub struct ExpSample {
    pub sample: Sample,
    /// The intra-op thread count exp used (`threads.intra_op` in manifest.json).
    pub threads: usize,
    pub initial_weights: PathBuf,
}

pub struct PythonSample {
    pub sample: Sample,
    pub torch_version: String,
}

fn read_json_lines(path: &Path) -> anyhow::Result<Vec<Value>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).context("malformed metrics line"))
        .collect()
}

fn describe(finished: &child::Finished) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        finished.code, finished.stdout, finished.stderr
    )
}

pub fn run_exp(
    paths: &Paths,
    model: &BenchModel,
    steps: u64,
    run: usize,
) -> anyhow::Result<ExpSample> {
    let file = paths.work.join(format!("{}.exp", model.name));
    std::fs::write(&file, model.exp_source(steps))?;
    let out = paths.work.join(format!("{}-exp-{run}", model.name));
    let _ = std::fs::remove_dir_all(&out);
    let finished = child::run(
        Command::new(&paths.exp)
            .arg("run")
            .arg(&file)
            .arg("--out")
            .arg(&out)
            // --no-cache: every repeat must train, not replay the first one's timings. One node
            // at a time with every core as intra-op threads: the PyTorch side gets the same count.
            .args(["--jobs", "1", "--device", "cpu", "--no-cache"])
            .args(["--threads", &cores().to_string()])
            .current_dir(&paths.root),
    )?;
    if !finished.success() {
        bail!("exp run failed for {}: {}", model.name, describe(&finished));
    }
    let metrics = read_json_lines(&out.join("metrics.jsonl"))?;
    let value = |split: &str, name: &str, step: Option<u64>| {
        metrics
            .iter()
            .find(|m| {
                m["node"] == "t"
                    && m["split"] == split
                    && m["name"] == name
                    && m["step"].as_u64() == step
            })
            .and_then(|m| m["value"].as_f64())
            .with_context(|| format!("metrics.jsonl of {} has no {split}/{name}", model.name))
    };
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json"))?)?;
    let threads = manifest["threads"]["intra_op"]
        .as_u64()
        .context("manifest.json has no threads.intra_op")? as usize;
    Ok(ExpSample {
        sample: Sample {
            step_median: value("timing", "step_seconds_median", None)?,
            peak_rss: finished.peak_rss,
            final_loss: value("train", "loss", Some(steps))?,
        },
        threads,
        initial_weights: out.join("checkpoints").join("m.safetensors"),
    })
}

pub fn run_python(
    paths: &Paths,
    model: &BenchModel,
    steps: u64,
    exp: &ExpSample,
) -> anyhow::Result<PythonSample> {
    let script = paths.root.join("bench").join("python").join(model.script);
    let warmup = (steps / 10).clamp(1, 20);
    let finished = child::run(
        Command::new(&paths.python)
            .arg(&script)
            .arg("--data")
            .arg(paths.root.join("data").join("digits").join("digits.csv.gz"))
            .arg("--weights")
            .arg(&exp.initial_weights)
            .args(["--batch", &model.batch.to_string()])
            .args(["--steps", &steps.to_string()])
            .args(["--warmup", &warmup.to_string()])
            .args(["--log-every", &steps.to_string()])
            .args(["--seed", "1"])
            .args(["--lr", &format!("{:?}", model.lr)])
            .args(["--weight-decay", &format!("{:?}", model.weight_decay)])
            .args(["--threads", &exp.threads.to_string()])
            .current_dir(&paths.root),
    )?;
    if !finished.success() {
        bail!("{} failed: {}", script.display(), describe(&finished));
    }
    let report: Value = finished
        .stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .with_context(|| {
            format!(
                "{} printed no JSON: {}",
                script.display(),
                describe(&finished)
            )
        })?;
    let number = |name: &str| {
        report[name]
            .as_f64()
            .with_context(|| format!("{} reported no `{name}`", script.display()))
    };
    Ok(PythonSample {
        sample: Sample {
            step_median: number("step_seconds_median")?,
            peak_rss: finished.peak_rss,
            final_loss: report["losses"][steps.to_string()]
                .as_f64()
                .context("the script reported no final loss")?,
        },
        torch_version: report["torch"].as_str().unwrap_or("?").to_string(),
    })
}

/// The train split the Python scripts compute, as (train, test) indices.
pub fn python_split(paths: &Paths) -> anyhow::Result<(Vec<usize>, Vec<usize>)> {
    let finished = child::run(
        Command::new(&paths.python)
            .arg(paths.root.join("bench").join("python").join("mlp.py"))
            .arg("--data")
            .arg(paths.root.join("data").join("digits").join("digits.csv.gz"))
            .arg("--print-split"),
    )?;
    if !finished.success() {
        bail!("printing the split failed: {}", describe(&finished));
    }
    let split: Value = serde_json::from_str(finished.stdout.trim())?;
    let indices = |key: &str| -> Vec<usize> {
        split[key]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|v| v.as_u64().map(|v| v as usize))
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok((indices("train"), indices("test")))
}

/// The cores this machine offers: the intra-op threads both sides of a training row use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::{python_split, Paths};

    #[test]
    fn the_python_split_equals_exps() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let paths = Paths {
            python: root.join(".venv").join("bin").join("python"),
            exp: PathBuf::new(),
            plugin: PathBuf::new(),
            work: std::env::temp_dir(),
            root,
        };
        let (_, labels) = exp_std::dataset::digits::load_raw().unwrap();
        let split = exp_std::dataset::digits::split_indices(&labels, 0.2, 0.0, 0);
        let (train, test) = (split.train, split.test);
        let (python_train, python_test) = python_split(&paths).unwrap();
        assert_eq!(python_train.len(), train.len());
        assert_eq!(python_train[..10], train[..10]);
        assert_eq!((python_train, python_test), (train, test));
    }
}
