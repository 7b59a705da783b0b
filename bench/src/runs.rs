//! One training run on each side, as a child process: `exp run` on a generated experiment, and
//! the model's PyTorch script from the project's virtual environment (eager, or with
//! `torch.compile` for a GPT).
//!
//! exp reports its timings in the run directory's `metrics.jsonl` (split `timing`, node `t`),
//! its intra-op thread count in `manifest.json`, its initial weights in
//! `checkpoints/m.safetensors` and a GPT's tokenizer in `tokenizers/tok.json`; the Python script
//! is given those weights (and tokenizer) and that thread count and prints its timings and
//! losses as one JSON object.
//! For a GPT the two sides' losses at the first steps must agree ([`check_agreement`]): both
//! start from the same weights and see the same tokens, so anything more than float rounding
//! means the comparison is not like for like. A U-Net's sides draw different images, timesteps
//! and noise of the same shapes, so their first losses need only be of the magnitude an
//! untrained ε-prediction gives ([`check_magnitude`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _};
use serde_json::Value;

use crate::child;
use crate::gpt_text::{self, SPECIAL_TOKENS, TEXT_FILE};
use crate::models::{BenchModel, Family, SHAPES_ATTRIBUTES, SHAPES_IMAGE};

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
    /// The training loss by step: every step for a GPT, the last step for the digits.
    pub losses: BTreeMap<u64, f64>,
}

impl Sample {
    /// The training loss at the last step logged.
    pub fn final_loss(&self) -> f64 {
        self.losses.values().last().copied().unwrap_or(f64::NAN)
    }

    /// The training loss at the first step logged.
    pub fn first_loss(&self) -> f64 {
        self.losses.values().next().copied().unwrap_or(f64::NAN)
    }
}

pub struct ExpSample {
    pub sample: Sample,
    /// The intra-op thread count exp used (`threads.intra_op` in manifest.json).
    pub threads: usize,
    pub initial_weights: PathBuf,
    /// The tokenizer exp wrote, for a GPT.
    pub tokenizer: Option<PathBuf>,
}

pub struct PythonSample {
    pub sample: Sample,
    pub torch_version: String,
    /// With `torch.compile`: the seconds its warm-up steps took beyond timed steps.
    pub compile_seconds: f64,
    /// With [`Mode::Profiled`]: where a step's time went (`gpt.py`'s `profile`).
    pub profile: Option<PythonProfile>,
}

/// Milliseconds per step by kind of work, from torch.profiler (`gpt.py --profile`).
pub struct PythonProfile {
    pub steps: u64,
    pub step: f64,
    pub matmul: f64,
    pub attention: f64,
    pub optimizer: f64,
    pub other: f64,
}

impl PythonProfile {
    fn from_json(value: &Value) -> Option<PythonProfile> {
        let number = |name: &str| value[name].as_f64();
        Some(PythonProfile {
            steps: value["steps"].as_u64()?,
            step: number("step_ms")?,
            matmul: number("matmul_ms")?,
            attention: number("attention_ms")?,
            optimizer: number("optimizer_ms")?,
            other: number("other_ms")?,
        })
    }

    pub fn line(&self, model: &str) -> String {
        let share = |ms: f64| 100.0 * ms / self.step;
        format!(
            "pytorch step profile, {model} ({} steps, ms/step under torch.profiler): step {:.1}, \
             matmul {:.1} ({:.0}%), attention {:.1} ({:.0}%), optimizer {:.1} ({:.0}%), \
             other {:.1} ({:.0}%)",
            self.steps,
            self.step,
            self.matmul,
            share(self.matmul),
            self.attention,
            share(self.attention),
            self.optimizer,
            share(self.optimizer),
            self.other,
            share(self.other)
        )
    }
}

/// How PyTorch runs a model.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Eager,
    /// `torch.compile` on the forward pass and loss (GPT rows only).
    Compiled,
    /// Eager, then this many more steps under torch.profiler (GPT rows only).
    Profiled(u64),
}

/// The steps whose losses must agree between the two sides of a GPT row, and how closely
/// (relative): both start from the same weights on the same tokens, so the first step's loss is
/// the same computation, and later ones differ only by how rounding differences grow.
pub const AGREEING_STEPS: u64 = 5;
pub const AGREEMENT: f64 = 1e-4;
/// `torch.compile` fuses operations and so rounds differently; it is held to a looser bound.
pub const COMPILED_AGREEMENT: f64 = 1e-3;
/// Where the first loss of an untrained ε-prediction model must lie: the mean squared error
/// against unit Gaussian noise is 1 for a prediction of zero, plus the variance of the
/// untrained network's output (a little above 1 at PyTorch's initialisation).
pub const INITIAL_LOSS_RANGE: (f64, f64) = (0.5, 2.0);

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

/// `exp run FILE --out OUT ARGS..` from the repository root, into an emptied `out`; an error
/// with its exit code and output when it fails.
pub fn exp_run(
    paths: &Paths,
    file: &Path,
    out: &Path,
    args: &[&str],
) -> anyhow::Result<child::Finished> {
    let _ = std::fs::remove_dir_all(out);
    let finished = child::run(
        Command::new(&paths.exp)
            .arg("run")
            .arg(file)
            .arg("--out")
            .arg(out)
            .args(args)
            .current_dir(&paths.root),
    )?;
    if !finished.success() {
        bail!(
            "`exp run {}` failed: {}",
            file.display(),
            describe(&finished)
        );
    }
    Ok(finished)
}

pub fn run_exp(
    paths: &Paths,
    model: &BenchModel,
    steps: u64,
    run: usize,
) -> anyhow::Result<ExpSample> {
    let file = paths.work.join(format!("{}.exp", model.name));
    std::fs::write(&file, model.exp_source(steps))?;
    if model.is_gpt() && !paths.work.join(TEXT_FILE).exists() {
        gpt_text::write(&paths.work)?;
    }
    let out = paths.work.join(format!("{}-exp-{run}", model.name));
    // --no-cache: every repeat must train, not replay the first one's timings. One node at a
    // time with every core as intra-op threads: the PyTorch side gets the same count.
    let threads = cores().to_string();
    let args = [
        "--jobs",
        "1",
        "--device",
        "cpu",
        "--no-cache",
        "--threads",
        &threads,
    ];
    let finished = exp_run(paths, &file, &out, &args)
        .with_context(|| format!("the exp side of {}", model.name))?;
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
    let losses: BTreeMap<u64, f64> = metrics
        .iter()
        .filter(|m| m["node"] == "t" && m["split"] == "train" && m["name"] == "loss")
        .filter_map(|m| Some((m["step"].as_u64()?, m["value"].as_f64()?)))
        .collect();
    if !losses.contains_key(&steps) {
        bail!(
            "metrics.jsonl of {} has no loss at step {steps}",
            model.name
        );
    }
    Ok(ExpSample {
        sample: Sample {
            step_median: value("timing", "step_seconds_median", None)?,
            peak_rss: finished.peak_rss,
            losses,
        },
        threads,
        initial_weights: out.join("checkpoints").join("m.safetensors"),
        tokenizer: model
            .is_gpt()
            .then(|| out.join("tokenizers").join("tok.json")),
    })
}

pub fn run_python(
    paths: &Paths,
    model: &BenchModel,
    steps: u64,
    exp: &ExpSample,
    mode: Mode,
) -> anyhow::Result<PythonSample> {
    let script = paths.root.join("bench").join("python").join(model.script);
    let mut command = Command::new(&paths.python);
    command
        .arg(&script)
        .arg("--weights")
        .arg(&exp.initial_weights)
        .args(["--batch", &model.batch.to_string()])
        .args(["--steps", &steps.to_string()])
        .args(["--seed", "1"])
        .args(["--lr", &format!("{:?}", model.lr)])
        .args(["--weight-decay", &format!("{:?}", model.weight_decay)])
        .args(["--threads", &exp.threads.to_string()])
        .current_dir(&paths.root);
    match &model.family {
        Family::Digits { .. } => {
            let warmup = (steps / 10).clamp(1, 20);
            command
                .arg("--data")
                .arg(paths.root.join("data").join("digits").join("digits.csv.gz"))
                .args(["--warmup", &warmup.to_string()])
                .args(["--log-every", &steps.to_string()]);
        }
        Family::Diffusion(shape) => {
            let list = |values: &[u64]| {
                values
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let [channels, side, _] = SHAPES_IMAGE;
            // Like a GPT's eager run: the first step is left out, as exp's median hardly sees
            // it.
            command
                .args(["--examples", &shape.examples.to_string()])
                .args(["--channels", &channels.to_string()])
                .args(["--size", &side.to_string()])
                .args(["--values", &list(&SHAPES_ATTRIBUTES)])
                .args(["--width", &shape.width.to_string()])
                .args(["--multipliers", &list(shape.multipliers)])
                .args(["--groups", &shape.groups.to_string()])
                .args(["--timesteps", &shape.timesteps.to_string()])
                .args(["--schedule", shape.schedule])
                .args([
                    "--condition-dropout",
                    &format!("{:?}", shape.condition_dropout),
                ])
                .args(["--warmup", "1"])
                .args(["--log-every", "1"]);
        }
        Family::Gpt(shape) => {
            // Compilation happens in the first steps (forward, then backward); they are left
            // out of the timing. Eager leaves out its first step, as exp's median hardly sees it.
            let warmup = match mode {
                Mode::Eager | Mode::Profiled(_) => 1,
                Mode::Compiled => 3.min(steps - 1),
            };
            command
                .arg("--text")
                .arg(paths.work.join(TEXT_FILE))
                .args(["--heads", &shape.heads.to_string()])
                .args(["--special-tokens", &SPECIAL_TOKENS.len().to_string()])
                .args(["--warmup", &warmup.to_string()]);
            if let Some(tokenizer) = &exp.tokenizer {
                command.arg("--tokenizer").arg(tokenizer);
            }
            match mode {
                Mode::Eager => {}
                Mode::Compiled => {
                    // A cache of the harness's own: the first repeat compiles from scratch.
                    command
                        .arg("--compile")
                        .env("TORCHINDUCTOR_CACHE_DIR", paths.work.join("inductor-cache"));
                }
                Mode::Profiled(profiled) => {
                    command.args(["--profile", &profiled.to_string()]);
                }
            }
        }
    }
    let finished = child::run(&mut command)?;
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
    let losses: BTreeMap<u64, f64> = report["losses"]
        .as_object()
        .map(|losses| {
            losses
                .iter()
                .filter_map(|(step, loss)| Some((step.parse().ok()?, loss.as_f64()?)))
                .collect()
        })
        .unwrap_or_default();
    if !losses.contains_key(&steps) {
        bail!("{} reported no loss at step {steps}", script.display());
    }
    Ok(PythonSample {
        sample: Sample {
            step_median: number("step_seconds_median")?,
            peak_rss: finished.peak_rss,
            losses,
        },
        torch_version: report["torch"].as_str().unwrap_or("?").to_string(),
        compile_seconds: report["compile_seconds"].as_f64().unwrap_or(0.0),
        profile: PythonProfile::from_json(&report["profile"]),
    })
}

/// The largest relative difference between the two sides' losses over the first
/// [`AGREEING_STEPS`] steps, or an error naming the first step where it exceeds `tolerance`.
pub fn check_agreement(
    name: &str,
    exp: &Sample,
    python: &Sample,
    tolerance: f64,
) -> anyhow::Result<f64> {
    let mut largest: f64 = 0.0;
    let mut compared = 0;
    for step in 1..=AGREEING_STEPS {
        let (Some(ours), Some(theirs)) = (exp.losses.get(&step), python.losses.get(&step)) else {
            continue;
        };
        compared += 1;
        let difference = (ours - theirs).abs() / theirs.abs().max(1e-6);
        if difference.is_nan() || difference > tolerance {
            bail!(
                "{name}: exp's loss at step {step} is {ours}, PyTorch's {theirs} (relative \
                 difference {difference:.2e}, allowed {tolerance:.0e}): the two sides do not \
                 train the same model on the same data, so their times cannot be compared"
            );
        }
        largest = largest.max(difference);
    }
    if compared == 0 {
        bail!("{name}: neither side logged a loss at the first steps to compare");
    }
    Ok(largest)
}

/// That both sides' first losses lie in [`INITIAL_LOSS_RANGE`], for a row whose sides draw
/// different inputs: a failure means one side does not train the model it claims to.
pub fn check_magnitude(name: &str, exp: &Sample, python: &Sample) -> anyhow::Result<()> {
    let (low, high) = INITIAL_LOSS_RANGE;
    for (side, sample) in [("exp", exp), ("PyTorch", python)] {
        let first = sample.first_loss();
        if !(low..=high).contains(&first) {
            bail!(
                "{name}: {side}'s first loss is {first}, outside {low}..{high}, where the \
                 ε-prediction loss of an untrained model lies: the two sides do not train the \
                 same kind of model, so their times cannot be compared"
            );
        }
    }
    Ok(())
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
