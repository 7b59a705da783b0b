//! `exp-bench`: exp against PyTorch eager, side by side, in one run.
//!
//! For each model of the table in `models.rs` it writes an experiment, runs `exp run` and the
//! model's PyTorch eager script (`bench/python/`, from the project's `.venv`, so the same
//! libtorch) with the same initial weights, data, batch order, optimizer and thread count,
//! interleaved exp, PyTorch, exp, PyTorch over several repeats after one warm-up run of each;
//! a GPT row also runs `torch.compile` in each repeat and must agree with PyTorch on its first
//! losses (`runs::check_agreement`), and gets a profile of where each side's step goes
//! (`phases.rs` for exp, torch.profiler for PyTorch). A U-Net row's PyTorch side draws its own
//! images and noise (the same shapes), so its first losses need only be of the same magnitude
//! (`runs::check_magnitude`).
//! It also measures the machine's fp32 matmul ceiling, the plugin boundary (`boundary.rs`),
//! sweep scaling with `--jobs` (`sweep.rs`), training beside a competing process (`busy.rs`),
//! `exp check` per file of `experiments/`, and prints one line per model. The full run rewrites
//! `bench/RESULTS.md`; `--smoke` (one repeat, few steps, no warm-up, no `torch.compile`) writes
//! to a temporary directory instead.

mod boundary;
mod busy;
mod ceiling;
mod child;
mod editor;
mod gpt_text;
mod model_summary;
mod models;
mod phases;
mod report;
mod runs;
mod scale;
mod stats;
mod sweep;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::Parser;

use crate::model_summary::{Compiled, CompiledSummary, ModelSummary};
use crate::models::{BenchModel, FirstLosses, MODELS};
use crate::report::{Machine, Others, Summary};
use crate::runs::{Mode, Paths, AGREEMENT, COMPILED_AGREEMENT};
use crate::stats::median;

#[derive(Parser)]
#[command(name = "exp-bench", about = "exp against PyTorch eager, side by side")]
struct Args {
    /// One repeat of a few steps, no warm-up, results to a temporary directory.
    #[arg(long)]
    smoke: bool,
    /// Interleaved repeats per model after the warm-up.
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Where to write the results (default: bench/RESULTS.md; with --smoke, a temporary path).
    #[arg(long)]
    results: Option<PathBuf>,
    /// Leave out the `torch.compile` column (it compiles in every repeat, minutes on 2 cores).
    #[arg(long)]
    no_compile: bool,
    /// Only the models whose names contain this (e.g. `gpt`); the other sections still run.
    #[arg(long)]
    only: Option<String>,
    /// Only the model rows (and the matmul ceiling): no plugin boundary, sweep, busy machine,
    /// `exp check` or cached rerun.
    #[arg(long)]
    models_only: bool,
    /// Only `exp check` and the language server's diagnostics on each file of `experiments/`,
    /// printed with their verdicts; no results file is written
    #[arg(long, conflicts_with = "models_only")]
    editor_only: bool,
    /// Only the large sweep's per-node figures and cached-rerun ratio, printed with their
    /// verdicts; no results file is written
    #[arg(long, conflicts_with_all = ["models_only", "editor_only"])]
    scale_only: bool,
}

fn paths() -> anyhow::Result<Paths> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("the bench crate has no parent directory")?
        .to_path_buf();
    let current = std::env::current_exe().context("cannot find the exp-bench binary")?;
    let bin_dir = current
        .parent()
        .context("the exp-bench binary has no directory")?
        .to_path_buf();
    let paths = Paths {
        exp: bin_dir.join("exp"),
        plugin: bin_dir.join("libexp_std.so"),
        python: root.join(".venv").join("bin").join("python"),
        work: std::env::temp_dir().join(format!("exp-bench-{}", std::process::id())),
        root,
    };
    // exp loads the `libexp_*` plugins beside it; the U-Net row needs the diffusion plugin.
    let diffusion = bin_dir.join("libexp_diffusion.so");
    for (path, fix) in [
        (&paths.exp, "cargo build --release -p exp -p exp-std"),
        (&paths.plugin, "cargo build --release -p exp-std"),
        (&diffusion, "cargo build --release -p exp-diffusion"),
        (&paths.python, "./setup.sh"),
    ] {
        if !path.exists() {
            bail!("`{}` is missing; run `{fix}` first", path.display());
        }
    }
    std::fs::create_dir_all(&paths.work)?;
    Ok(paths)
}

/// The wall time of rerunning a finished experiment (`experiments/quickstart.exp`) whose every
/// node is in the cache, against its first, uncached run, with a cache of its own.
fn cached_rerun(paths: &Paths, repeats: usize) -> anyhow::Result<String> {
    let file = paths.root.join("experiments").join("quickstart.exp");
    let cache = paths.work.join("rerun-cache");
    let _ = std::fs::remove_dir_all(&cache);
    let mut walls = Vec::new();
    for run in 0..=repeats {
        let out = paths.work.join(format!("rerun-{run}"));
        let finished = child::run(
            Command::new(&paths.exp)
                .arg("run")
                .arg(&file)
                .arg("--out")
                .arg(&out)
                .arg("--cache")
                .arg(&cache)
                .args(["--jobs", "2"])
                .current_dir(&paths.root),
        )?;
        if !finished.success() {
            bail!(
                "exp run failed for the cached rerun: exit {:?}",
                finished.code
            );
        }
        walls.push(finished.wall.as_secs_f64());
    }
    let first = walls.remove(0);
    Ok(format!(
        "`experiments/quickstart.exp`: first run {:.2} s, cached rerun {:.2} s (median of {repeats}; every node from the cache)",
        first,
        median(&walls)
    ))
}

/// Where a GPT row's step goes on each side: exp's phases (in-process, `phases.rs`) and
/// PyTorch's operators (torch.profiler), a few steps each after the timed repeats.
fn profile(
    paths: &Paths,
    model: &'static BenchModel,
    exp: &[runs::ExpSample],
    smoke: bool,
) -> anyhow::Result<report::StepProfile> {
    let steps = if smoke { 2 } else { 6 };
    let exp_sample = exp.last().context("no exp run to profile")?;
    let threads = exp_sample.threads;
    let python = runs::run_python(paths, model, 2, exp_sample, Mode::Profiled(steps))?;
    let pytorch = python
        .profile
        .context("gpt.py --profile reported no profile")?;
    let bin_dir = paths
        .exp
        .parent()
        .context("the exp binary has no directory")?;
    let exp = phases::measure(bin_dir, model, threads, steps as usize + 1)?;
    println!("{}", exp.line());
    println!("{}", pytorch.line(model.name));
    Ok(report::StepProfile { exp, pytorch })
}

/// The two sizes of the large sweep (`scale.rs`), in seeds: 1,502 and 6,002 nodes.
const SCALE_SEEDS: (usize, usize) = (500, 2000);

/// The sections besides the model rows: the plugin boundary, `exp check`, the cached rerun,
/// sweep scaling and the busy machine.
fn others(paths: &Paths, smoke: bool) -> anyhow::Result<Others> {
    let boundary_steps = if smoke { 20 } else { 2000 };
    let boundary = boundary::measure(&paths.plugin, boundary_steps, 512)?;
    let (foreign, control) = (&boundary.foreign, &boundary.control);
    println!(
        "plugin boundary: static {:.4} ms/step, foreign {:.4} ms/step, overhead {:+.2}% \
         (rounds {:+.2}% to {:+.2}%), identical weights: {}; two static copies {:+.2}% \
         (rounds {:+.2}% to {:+.2}%)",
        foreign.base_median * 1e3,
        foreign.other_median * 1e3,
        foreign.overhead_pct,
        foreign.overhead_range.0,
        foreign.overhead_range.1,
        foreign.identical,
        control.overhead_pct,
        control.overhead_range.0,
        control.overhead_range.1,
    );
    let checks = editor::measure(&paths.exp, &paths.root, if smoke { 1 } else { 5 })?;
    let rerun = cached_rerun(paths, if smoke { 1 } else { 3 })?;
    println!("cached rerun: {rerun}");

    let scale = scale::measure(
        paths,
        if smoke { 2 } else { SCALE_SEEDS.0 },
        if smoke { 6 } else { SCALE_SEEDS.1 },
    )?;
    for line in scale.lines() {
        println!("{line}");
    }
    let sweep = sweep::measure(
        paths,
        if smoke { 10 } else { 400 },
        if smoke { 1 } else { 3 },
    )?;
    println!("{}", sweep.line());
    let busy_model = MODELS
        .iter()
        .find(|model| model.name == "digits-convnet")
        .context("no digits-convnet row for the busy-machine measurement")?;
    let busy = busy::measure(
        paths,
        busy_model,
        if smoke { 20 } else { 300 },
        if smoke { 1 } else { 3 },
    )?;
    for line in busy.lines() {
        println!("{line}");
    }
    Ok(Others {
        boundary,
        checks,
        cached_rerun: rerun,
        scale,
        sweep,
        busy,
    })
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let paths = paths()?;
    // A smoke run (the test suite's) measures nothing worth waiting for, and the editor
    // timings are short enough to rerun.
    if !args.smoke && !args.editor_only {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        if let Some(load) = report::settle(cpus, Duration::from_secs(180)) {
            println!("waited for the machine to settle (load average was {load:.2})");
        }
    }
    let machine = Machine::describe();
    println!("load average at start: {}", machine.load);
    if args.editor_only {
        let times = editor::measure(&paths.exp, &paths.root, args.repeats.max(1))?;
        for line in editor::verdicts(&times) {
            println!("{line}");
        }
        return Ok(());
    }
    if args.scale_only {
        let scale = scale::measure(&paths, SCALE_SEEDS.0, SCALE_SEEDS.1)?;
        for line in scale.lines().iter().chain(&report::scale_verdicts(&scale)) {
            println!("{line}");
        }
        return Ok(());
    }
    let repeats = if args.smoke { 1 } else { args.repeats.max(1) };
    let warmups = usize::from(!args.smoke);
    let results_path = match (&args.results, args.smoke) {
        (Some(path), _) => path.clone(),
        (None, true) => paths.work.join("RESULTS.md"),
        (None, false) => paths.root.join("bench").join("RESULTS.md"),
    };

    // The reference scripts must train on exactly exp's split; checked on every run.
    let (_, labels) =
        exp_std::dataset::digits::load_raw().map_err(|error| anyhow::anyhow!("{error}"))?;
    let split = exp_std::dataset::digits::split_indices(&labels, 0.2, 0.0, 0);
    if runs::python_split(&paths)? != (split.train, split.test) {
        bail!("bench/python/common.py computes another digits split than exp's `digits`");
    }

    let mut summaries = Vec::new();
    let mut threads = runs::cores();
    let mut torch = String::from("?");
    let mut profiles = Vec::new();
    for model in MODELS {
        if args
            .only
            .as_ref()
            .is_some_and(|only| !model.name.contains(only.as_str()))
        {
            continue;
        }
        if args.smoke && model.smoke_steps == 0 {
            continue;
        }
        let steps = if args.smoke {
            model.smoke_steps
        } else {
            model.steps
        };
        let compile = match (model.is_gpt(), args.smoke, args.no_compile) {
            (false, _, _) => Some(Compiled::NotRun("not a GPT row")),
            (true, true, _) => Some(Compiled::NotRun("--smoke")),
            (true, false, true) => Some(Compiled::NotRun("--no-compile")),
            (true, false, false) => None,
        };
        let mut compile_failure = None;
        let (mut exp_samples, mut python_samples, mut compiled_samples) =
            (Vec::new(), Vec::new(), Vec::new());
        let (mut agreement, mut compiled_agreement): (Option<f64>, f64) = (None, 0.0);
        for run in 0..warmups + repeats {
            let exp = runs::run_exp(&paths, model, steps, run)?;
            let python = runs::run_python(&paths, model, steps, &exp, Mode::Eager)?;
            match model.first_losses() {
                FirstLosses::Shown => {}
                FirstLosses::Agree => {
                    let found =
                        runs::check_agreement(model.name, &exp.sample, &python.sample, AGREEMENT)?;
                    agreement = Some(agreement.unwrap_or(0.0).max(found));
                }
                FirstLosses::Magnitude => {
                    runs::check_magnitude(model.name, &exp.sample, &python.sample)?;
                }
            }
            threads = exp.threads;
            torch = python.torch_version.clone();
            let measured = run >= warmups;
            if measured && compile.is_none() && compile_failure.is_none() {
                match runs::run_python(&paths, model, steps, &exp, Mode::Compiled).and_then(
                    |compiled| {
                        let found = runs::check_agreement(
                            &format!("{} (torch.compile)", model.name),
                            &exp.sample,
                            &compiled.sample,
                            COMPILED_AGREEMENT,
                        )?;
                        Ok((compiled, found))
                    },
                ) {
                    Ok((compiled, found)) => {
                        compiled_agreement = compiled_agreement.max(found);
                        compiled_samples.push(compiled);
                    }
                    Err(error) => {
                        let first = format!("{error:#}")
                            .lines()
                            .next()
                            .unwrap_or("")
                            .to_string();
                        println!("torch.compile failed for {}: {error:#}", model.name);
                        compile_failure = Some(first);
                    }
                }
            }
            if measured {
                exp_samples.push(exp);
                python_samples.push(python);
            }
        }
        let compiled = match (compile, compile_failure) {
            (Some(not_run), _) => not_run,
            (None, Some(failure)) => Compiled::Failed(failure),
            (None, None) => Compiled::Ran(CompiledSummary::new(
                &exp_samples,
                &compiled_samples,
                compiled_agreement,
            )),
        };
        if model.is_gpt() {
            profiles.push(profile(&paths, model, &exp_samples, args.smoke)?);
        }
        summaries.push(ModelSummary::new(
            model,
            steps,
            &exp_samples,
            &python_samples,
            agreement,
            compiled,
        ));
    }

    let (sizes, budget): (&[i64], _) = if args.smoke {
        (&[256], Duration::from_millis(50))
    } else {
        (&[512, 1024, 2048], Duration::from_millis(400))
    };
    let ceiling = ceiling::matmul_flops(threads, sizes, budget);
    println!(
        "matmul ceiling: {:.1} GFLOP/s fp32 ({threads} threads)",
        ceiling / 1e9
    );
    for summary in &summaries {
        println!("{}", summary.line(ceiling));
    }

    let others = if args.models_only {
        None
    } else {
        Some(others(&paths, args.smoke)?)
    };

    let summary = Summary {
        machine,
        arguments: std::env::args()
            .skip(1)
            .map(|arg| format!(" {arg}"))
            .collect(),
        date: report::today(),
        libtorch: exp_plugin_api::libtorch_version().to_string(),
        torch,
        threads,
        repeats,
        ceiling,
        models: summaries,
        profiles,
        load_at_end: report::load_average(),
        others,
    };
    if let Some(parent) = results_path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&results_path, summary.markdown())
        .with_context(|| format!("cannot write `{}`", results_path.display()))?;
    println!("results: {}", results_path.display());
    // The smoke run's results stay in the work directory for inspection; a full run's go to
    // bench/RESULTS.md, so its work directory (run directories, experiments) is removed.
    if !args.smoke {
        let _ = std::fs::remove_dir_all(&paths.work);
    }
    Ok(())
}
