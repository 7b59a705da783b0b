//! `exp-bench`: exp against PyTorch eager, side by side, in one run.
//!
//! For each model of the table in `models.rs` it writes an experiment, runs `exp run` and the
//! model's PyTorch eager script (`bench/python/`, from the project's `.venv`, so the same
//! libtorch) with the same initial weights, data, batch order, optimizer and thread count,
//! interleaved exp, PyTorch, exp, PyTorch over several repeats after one warm-up run of each.
//! It also measures the machine's fp32 matmul ceiling, the plugin boundary (`boundary.rs`),
//! `exp check` per file of `experiments/`, and prints one line per model. The full run rewrites
//! `bench/RESULTS.md`; `--smoke` (one repeat, few steps, no warm-up) writes to a temporary
//! directory instead.

mod boundary;
mod ceiling;
mod child;
mod models;
mod report;
mod runs;
mod stats;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::Parser;

use crate::models::MODELS;
use crate::report::{CheckTime, Machine, ModelSummary, Summary};
use crate::runs::Paths;
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
    for (path, fix) in [
        (&paths.exp, "cargo build --release -p exp -p exp-std"),
        (&paths.plugin, "cargo build --release -p exp-std"),
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

fn check_times(paths: &Paths, repeats: usize) -> anyhow::Result<Vec<CheckTime>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(paths.root.join("experiments"))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "exp"))
        .collect();
    files.sort();
    let mut times = Vec::new();
    for file in files {
        let mut walls = Vec::new();
        let mut failure = None;
        for _ in 0..repeats {
            let finished = child::run(
                Command::new(&paths.exp)
                    .arg("check")
                    .arg(&file)
                    .current_dir(&paths.root),
            )?;
            if !finished.success() {
                failure = Some(format!("failed (exit {:?})", finished.code));
                break;
            }
            walls.push(finished.wall.as_secs_f64());
        }
        let name = file
            .strip_prefix(&paths.root)
            .unwrap_or(&file)
            .display()
            .to_string();
        println!(
            "check {name}: {}",
            failure
                .clone()
                .unwrap_or_else(|| format!("{:.1} ms", median(&walls) * 1e3))
        );
        times.push(CheckTime {
            file: name,
            median: failure.map_or_else(|| Ok(median(&walls)), Err),
        });
    }
    Ok(times)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let paths = paths()?;
    let machine = Machine::describe();
    println!("load average at start: {}", machine.load);
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
    let mut threads = 1;
    let mut torch = String::from("?");
    for model in MODELS {
        let steps = if args.smoke {
            model.smoke_steps
        } else {
            model.steps
        };
        let (mut exp_samples, mut python_samples) = (Vec::new(), Vec::new());
        for run in 0..warmups + repeats {
            let exp = runs::run_exp(&paths, model, steps, run)?;
            let python = runs::run_python(&paths, model, steps, &exp)?;
            threads = exp.threads;
            torch = python.torch_version.clone();
            if run >= warmups {
                exp_samples.push(exp);
                python_samples.push(python);
            }
        }
        summaries.push(ModelSummary::new(
            model,
            steps,
            &exp_samples,
            &python_samples,
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

    let boundary_steps = if args.smoke { 20 } else { 2000 };
    let boundary = boundary::measure(&paths.plugin, boundary_steps, 512)?;
    println!(
        "plugin boundary: static {:.4} ms/step, foreign {:.4} ms/step, overhead {:+.2}% \
         (blocks {:+.2}% to {:+.2}%), identical weights: {}",
        boundary.static_median * 1e3,
        boundary.foreign_median * 1e3,
        boundary.overhead_pct,
        boundary.overhead_range.0,
        boundary.overhead_range.1,
        boundary.identical
    );
    let checks = check_times(&paths, if args.smoke { 1 } else { 5 })?;
    let rerun = cached_rerun(&paths, if args.smoke { 1 } else { 3 })?;
    println!("cached rerun: {rerun}");

    let summary = Summary {
        machine,
        date: report::today(),
        libtorch: exp_plugin_api::libtorch_version().to_string(),
        torch,
        threads,
        repeats,
        ceiling,
        models: summaries,
        boundary,
        checks,
        cached_rerun: rerun,
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
