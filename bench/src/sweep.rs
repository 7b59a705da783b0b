//! Sweep scaling: a sweep of independent training runs (`sweep seeds 4`), run with `--jobs 2`
//! against `--jobs 1`, one intra-op thread per node (exp's default), interleaved over repeats.
//! The wall time of the whole `exp run` process counts, start-up included, as a user sees it.

use std::path::Path;

use crate::runs::{self, Paths};
use crate::stats::{median, range};

/// The sweep's training runs: each a few seconds of one core, so that start-up is small beside
/// them.
const RUNS: usize = 4;

pub struct SweepResult {
    pub runs: usize,
    pub steps: u64,
    pub one_job: f64,
    pub two_jobs: f64,
    /// jobs 2 / jobs 1 per repeat.
    pub ratios: Vec<f64>,
}

impl SweepResult {
    /// The ratio the target (≤ 0.6) is judged on: the larger of the median paired ratio and the
    /// ratio of the medians.
    pub fn judged_ratio(&self) -> f64 {
        median(&self.ratios).max(self.two_jobs / self.one_job)
    }

    pub fn line(&self) -> String {
        let (low, high) = range(&self.ratios);
        format!(
            "sweep of {} runs: --jobs 1 {:.2} s, --jobs 2 {:.2} s, ratio {:.3} (range {low:.3}-{high:.3})",
            self.runs,
            self.one_job,
            self.two_jobs,
            median(&self.ratios)
        )
    }
}

fn source(steps: u64) -> String {
    format!(
        "dataset d = digits\n\
         model net = convnet {{ channels: [16, 32] }}\n\
         sweep seeds {RUNS} {{\n  \
           train t {{ model: net, data: d, steps: {steps} steps, batch: 128, optimizer: adamw, \
         log_every: {steps} steps }}\n\
         }}\n"
    )
}

fn wall(paths: &Paths, file: &Path, jobs: usize) -> anyhow::Result<f64> {
    let out = paths.work.join(format!("sweep-jobs{jobs}"));
    let jobs = jobs.to_string();
    let args = ["--jobs", &jobs, "--device", "cpu", "--no-cache"];
    Ok(runs::exp_run(paths, file, &out, &args)?.wall.as_secs_f64())
}

pub fn measure(paths: &Paths, steps: u64, repeats: usize) -> anyhow::Result<SweepResult> {
    let file = paths.work.join("sweep.exp");
    std::fs::write(&file, source(steps))?;
    let (mut one, mut two) = (Vec::new(), Vec::new());
    for repeat in 0..repeats {
        // Alternate which goes first, so drift in the machine's speed hits both alike.
        for jobs in if repeat % 2 == 0 { [1, 2] } else { [2, 1] } {
            let seconds = wall(paths, &file, jobs)?;
            if jobs == 1 {
                one.push(seconds);
            } else {
                two.push(seconds);
            }
        }
    }
    Ok(SweepResult {
        runs: RUNS,
        steps,
        one_job: median(&one),
        two_jobs: median(&two),
        ratios: two.iter().zip(&one).map(|(t, o)| t / o).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::source;

    #[test]
    fn the_sweep_has_independent_runs() {
        let text = source(9);
        assert!(text.contains("sweep seeds 4 {"), "{text}");
        assert!(text.contains("steps: 9 steps"), "{text}");
    }
}
