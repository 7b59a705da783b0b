//! A busy machine (issue 11, item 9): how much slower exp trains when another training competes
//! for the cores, against its fair share.
//!
//! The workload is the digits-convnet row's experiment with every core as intra-op threads,
//! where libtorch's OpenMP threads matter (with exp's default of one thread there is no OpenMP
//! team to wait in). Each configuration is measured alone and then beside one competitor: the
//! same experiment, in the same configuration, run in a loop by another `exp` process for as
//! long as the measured run lasts. Two equal processes on the machine make a fair share of half
//! of it, so a fair slowdown is 2×; the target is within 2× of that (a slowdown of at most 4×).
//! The measure is the median step time exp reports, so start-up is left out.
//!
//! The configurations: every core as intra-op threads with libgomp's own wait policy (spinning
//! about 300,000 times before sleeping; exp sets none of its own), the short spin exp used to
//! set for several threads (`GOMP_SPINCOUNT=1000`, kept to show why it went: slower idle and
//! slower beside a competitor), `OMP_WAIT_POLICY=PASSIVE` (sleep at once), and exp's default of
//! one intra-op thread. The harness removes both variables from the environment of every run
//! but the one that sets them.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};

use crate::child;
use crate::models::BenchModel;
use crate::runs::{cores, Paths};
use crate::stats::median;

/// The OpenMP variables the configurations set; removed from every other run.
const OPENMP_VARIABLES: [&str; 2] = ["OMP_WAIT_POLICY", "GOMP_SPINCOUNT"];

/// The slowdown beside one equal competitor that a fair share gives.
pub const FAIR_SLOWDOWN: f64 = 2.0;

struct Configuration {
    name: &'static str,
    /// `None`: every core.
    threads: Option<usize>,
    env: &'static [(&'static str, &'static str)],
    /// Whether the target applies (exp as users get it).
    judged: bool,
}

const CONFIGURATIONS: &[Configuration] = &[
    Configuration {
        name: "every core, libgomp's wait policy",
        threads: None,
        env: &[],
        judged: true,
    },
    Configuration {
        name: "every core, a short spin (`GOMP_SPINCOUNT=1000`)",
        threads: None,
        env: &[("GOMP_SPINCOUNT", "1000")],
        judged: false,
    },
    Configuration {
        name: "every core, `OMP_WAIT_POLICY=PASSIVE`",
        threads: None,
        env: &[("OMP_WAIT_POLICY", "PASSIVE")],
        judged: false,
    },
    Configuration {
        name: "exp's default (`--threads 1`)",
        threads: Some(1),
        env: &[],
        judged: true,
    },
];

pub struct BusyRow {
    pub name: &'static str,
    pub threads: usize,
    pub idle: f64,
    pub loaded: f64,
    pub judged: bool,
}

impl BusyRow {
    pub fn slowdown(&self) -> f64 {
        self.loaded / self.idle
    }

    /// Whether the slowdown is within 2× of the fair share.
    pub fn within_target(&self) -> bool {
        self.slowdown() <= 2.0 * FAIR_SLOWDOWN
    }
}

pub struct BusyResult {
    pub model: &'static str,
    pub steps: u64,
    pub rows: Vec<BusyRow>,
}

impl BusyResult {
    pub fn lines(&self) -> Vec<String> {
        self.rows
            .iter()
            .map(|row| {
                format!(
                    "busy machine, {} ({} threads): {:.3} ms/step alone, {:.3} ms/step beside \
                     one competitor, slowdown {:.2}x (fair {FAIR_SLOWDOWN:.0}x)",
                    row.name,
                    row.threads,
                    row.idle * 1e3,
                    row.loaded * 1e3,
                    row.slowdown()
                )
            })
            .collect()
    }
}

fn command(paths: &Paths, file: &Path, out: &Path, config: &Configuration) -> Command {
    let threads = config.threads.unwrap_or_else(cores);
    let mut command = Command::new(&paths.exp);
    command
        .arg("run")
        .arg(file)
        .arg("--out")
        .arg(out)
        .args(["--jobs", "1", "--device", "cpu", "--no-cache"])
        .args(["--threads", &threads.to_string()])
        .current_dir(&paths.root);
    for name in OPENMP_VARIABLES {
        command.env_remove(name);
    }
    for (name, value) in config.env {
        command.env(name, value);
    }
    command
}

/// The median step time of one measured run.
fn step_median(paths: &Paths, file: &Path, config: &Configuration) -> anyhow::Result<f64> {
    let out = paths.work.join("busy-measured");
    let _ = std::fs::remove_dir_all(&out);
    let finished = child::run(&mut command(paths, file, &out, config))?;
    if !finished.success() {
        bail!(
            "the busy-machine run failed ({}): exit {:?}\n{}",
            config.name,
            finished.code,
            finished.stderr
        );
    }
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl"))?;
    metrics
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|line| line["split"] == "timing" && line["name"] == "step_seconds_median")
        .and_then(|line| line["value"].as_f64())
        .context("the busy-machine run logged no step time")
}

/// Runs `file` in `config` again and again until `stop` is set, then kills the run under way.
fn compete(
    paths: &Paths,
    file: &Path,
    config: &Configuration,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let out = paths.work.join("busy-competitor");
    while !stop.load(Ordering::SeqCst) {
        let mut running: Child = command(paths, file, &out, config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start the competing exp run")?;
        loop {
            if stop.load(Ordering::SeqCst) {
                let _ = running.kill();
                let _ = running.wait();
                return Ok(());
            }
            if running.try_wait()?.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Ok(())
}

pub fn measure(
    paths: &Paths,
    model: &BenchModel,
    steps: u64,
    repeats: usize,
) -> anyhow::Result<BusyResult> {
    let file = paths.work.join("busy.exp");
    std::fs::write(&file, model.exp_source(steps))?;
    // The competitor trains longer, so that it rarely restarts while the measured run lasts.
    let competitor_file = paths.work.join("busy-competitor.exp");
    std::fs::write(&competitor_file, model.exp_source(steps * 20))?;
    let mut rows = Vec::new();
    for config in CONFIGURATIONS {
        let (mut idle, mut loaded) = (Vec::new(), Vec::new());
        for _ in 0..repeats {
            idle.push(step_median(paths, &file, config)?);
            let stop = Arc::new(AtomicBool::new(false));
            let measured = std::thread::scope(|scope| {
                let competitor = scope.spawn(|| compete(paths, &competitor_file, config, &stop));
                // Past the competitor's start-up (plugin loading, the dataset), into training.
                std::thread::sleep(Duration::from_millis(1500));
                let measured = step_median(paths, &file, config);
                stop.store(true, Ordering::SeqCst);
                let competed = competitor
                    .join()
                    .map_err(|_| anyhow::anyhow!("the competing thread panicked"));
                competed.and_then(|result| result).and(measured)
            })?;
            loaded.push(measured);
        }
        rows.push(BusyRow {
            name: config.name,
            threads: config.threads.unwrap_or_else(cores),
            idle: median(&idle),
            loaded: median(&loaded),
            judged: config.judged,
        });
    }
    Ok(BusyResult {
        model: model.name,
        steps,
        rows,
    })
}
