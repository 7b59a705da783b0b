//! The results: one summary per model, the printed line per model, and `RESULTS.md` with the
//! machine it ran on and the date, rewritten on every full run.

use std::fmt::Write as _;

use crate::boundary::BoundaryResult;
use crate::models::BenchModel;
use crate::runs::{ExpSample, PythonSample};
use crate::stats::{median, range};

/// What the harness found about a result it cannot measure, or about a missed target; kept here
/// so every rewrite of RESULTS.md carries it.
const NOTES: &str = "\
- Both sides run the same libtorch kernels (the PyPI torch wheel's), so the difference is the \
per-op dispatch overhead around them: Python's autograd and optimizer loop against exp's Rust \
loop. The gap is largest where kernels are shortest (the MLP) and shrinks as compute grows \
(the conv net, where most of a step is convolution).
- PyTorch's `torch.optim.AdamW` runs its default single-tensor loop on CPU (`foreach` and \
`fused` are opt-in there); exp's `adamw` also updates one tensor at a time.
- Peak memory includes each process's libtorch and, for PyTorch, the Python interpreter and \
the `torch` module; it is the resident high-water mark (`VmHWM` in `/proc/<pid>/status`, \
polled while the process runs).
- A target is judged on the larger of the median paired ratio and the ratio of median step \
times; \"never slower\" also needs every repeat at or below 1.
- Found by profiling (perf) when the conv net missed its target (exp 3.8 ms against PyTorch's \
3.3 ms): a quarter of exp's step went to page faults and `madvise`. Training runs on a worker \
thread, whose glibc malloc arena gave the activation buffers back to the system after every \
step and faulted fresh pages in on the next. `exp` now sets `M_MMAP_THRESHOLD` (32 MiB) and \
`M_TRIM_THRESHOLD` (256 MiB) with `mallopt` at start-up (`process_settings` in `src/main.rs`); \
the conv net went from 1.08× to about 0.81× PyTorch. The same run found `adamw` doing 14 \
kernels and 8 temporaries per tensor; it now does 9 and 2 (`lerp_`, `addcmul_`, one fused \
`addcdiv_`).
";

pub struct Machine {
    pub cpu: String,
    pub logical_cpus: usize,
    pub usable_cpus: usize,
    pub memory_gib: f64,
    /// The 1, 5 and 15 minute load averages when the benchmark started: other work on the
    /// machine slows both sides, and libtorch's OpenMP threads suffer most.
    pub load: String,
}

impl Machine {
    pub fn describe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix("model name"))
            .and_then(|rest| rest.split_once(':'))
            .map_or_else(
                || "unknown".to_string(),
                |(_, name)| name.trim().to_string(),
            );
        let logical_cpus = cpuinfo
            .lines()
            .filter(|line| line.starts_with("processor"))
            .count();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_kib: f64 = meminfo
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .unwrap_or(0.0);
        Machine {
            cpu,
            logical_cpus,
            usable_cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_gib: memory_kib / (1024.0 * 1024.0),
            load: load_average(),
        }
    }
}

/// The first three fields of /proc/loadavg.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Today's date (UTC) as YYYY-MM-DD, from the days since the epoch (Hinnant's civil_from_days).
pub fn today() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs()) as i64;
    let z = seconds.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

pub struct ModelSummary {
    pub model: &'static BenchModel,
    pub steps: u64,
    pub exp_median: f64,
    pub python_median: f64,
    /// exp/PyTorch per repeat.
    pub ratios: Vec<f64>,
    pub exp_peak: u64,
    pub python_peak: u64,
    pub exp_loss: f64,
    pub python_loss: f64,
}

impl ModelSummary {
    pub fn new(
        model: &'static BenchModel,
        steps: u64,
        exp: &[ExpSample],
        python: &[PythonSample],
    ) -> ModelSummary {
        let exp_medians: Vec<f64> = exp.iter().map(|s| s.sample.step_median).collect();
        let python_medians: Vec<f64> = python.iter().map(|s| s.sample.step_median).collect();
        ModelSummary {
            model,
            steps,
            exp_median: median(&exp_medians),
            python_median: median(&python_medians),
            ratios: exp_medians
                .iter()
                .zip(&python_medians)
                .map(|(e, p)| e / p)
                .collect(),
            exp_peak: exp.iter().map(|s| s.sample.peak_rss).max().unwrap_or(0),
            python_peak: python.iter().map(|s| s.sample.peak_rss).max().unwrap_or(0),
            exp_loss: exp.last().map_or(f64::NAN, |s| s.sample.final_loss),
            python_loss: python.last().map_or(f64::NAN, |s| s.sample.final_loss),
        }
    }

    pub fn ratio(&self) -> f64 {
        median(&self.ratios)
    }

    /// The ratio a target is judged on: the larger of the median paired ratio and the ratio of
    /// the two sides' median step times, so a noisy pairing cannot flatter exp.
    pub fn judged_ratio(&self) -> f64 {
        self.ratio().max(self.exp_median / self.python_median)
    }

    pub fn examples_per_second(&self, step: f64) -> f64 {
        self.model.batch as f64 / step
    }

    /// The fraction of the matmul ceiling a step of `step` seconds achieves.
    pub fn ceiling_fraction(&self, step: f64, ceiling: f64) -> f64 {
        self.model.flops_per_example * self.model.batch as f64 / step / ceiling
    }

    /// The line printed per model.
    pub fn line(&self, ceiling: f64) -> String {
        let (low, high) = range(&self.ratios);
        format!(
            "model {}: exp {:.3} ms/step, pytorch {:.3} ms/step, ratio exp/pytorch {:.3} \
             (range {low:.3}-{high:.3}), {:.0} vs {:.0} examples/s, peak rss {} vs {}, \
             matmul ceiling {:.1}% vs {:.1}%, final loss {:.5} vs {:.5}",
            self.model.name,
            self.exp_median * 1e3,
            self.python_median * 1e3,
            self.ratio(),
            self.examples_per_second(self.exp_median),
            self.examples_per_second(self.python_median),
            mib(self.exp_peak),
            mib(self.python_peak),
            100.0 * self.ceiling_fraction(self.exp_median, ceiling),
            100.0 * self.ceiling_fraction(self.python_median, ceiling),
            self.exp_loss,
            self.python_loss,
        )
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// `exp check` wall time of one experiment file, or why it failed.
pub struct CheckTime {
    pub file: String,
    pub median: Result<f64, String>,
}

pub struct Summary {
    pub machine: Machine,
    pub date: String,
    pub libtorch: String,
    pub torch: String,
    pub threads: usize,
    pub repeats: usize,
    pub ceiling: f64,
    pub models: Vec<ModelSummary>,
    pub boundary: BoundaryResult,
    pub checks: Vec<CheckTime>,
    pub cached_rerun: String,
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "**missed**"
    }
}

impl Summary {
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(out, "# exp benchmark results\n");
        let _ = writeln!(
            out,
            "Written by `target/release/exp-bench` on {}; rerun it to replace this file \
             (see the README's \"Benchmarks\" section).\n",
            self.date
        );
        let _ = writeln!(
            out,
            "Machine: {}, {} logical CPUs ({} usable by this process), {:.1} GiB memory, \
             load average {} at the start. \
             libtorch {} (exp) and torch {} (PyTorch), {} intra-op threads on both sides \
             (exp `--jobs 1`). Each model: one warm-up run of each side, then {} repeats \
             interleaved exp, PyTorch, exp, PyTorch.\n",
            m.cpu,
            m.logical_cpus,
            m.usable_cpus,
            m.memory_gib,
            m.load,
            self.libtorch,
            self.torch,
            self.threads,
            self.repeats
        );
        let _ = writeln!(
            out,
            "fp32 matmul ceiling measured in this run: {:.1} GFLOP/s.\n",
            self.ceiling / 1e9
        );
        let _ = writeln!(out, "## exp against PyTorch eager\n");
        let _ = writeln!(
            out,
            "| model | batch | steps | exp ms/step | PyTorch ms/step | exp/PyTorch (range) \
             | exp examples/s | PyTorch examples/s | exp peak RSS | PyTorch peak RSS \
             | exp % of matmul ceiling | PyTorch % | final loss exp / PyTorch |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        for s in &self.models {
            let (low, high) = range(&s.ratios);
            let _ = writeln!(
                out,
                "| {} (`{}`) | {} | {} | {:.3} | {:.3} | {:.3} ({low:.3}–{high:.3}) | {:.0} | {:.0} \
                 | {} | {} | {:.1}% | {:.1}% | {:.5} / {:.5} |",
                s.model.name,
                s.model.model,
                s.model.batch,
                s.steps,
                s.exp_median * 1e3,
                s.python_median * 1e3,
                s.ratio(),
                s.examples_per_second(s.exp_median),
                s.examples_per_second(s.python_median),
                mib(s.exp_peak),
                mib(s.python_peak),
                100.0 * s.ceiling_fraction(s.exp_median, self.ceiling),
                100.0 * s.ceiling_fraction(s.python_median, self.ceiling),
                s.exp_loss,
                s.python_loss,
            );
        }
        let _ = writeln!(
            out,
            "\nStep time: the median over a run's steps (exp's `step_seconds_median`; PyTorch \
             leaves out its first steps as warm-up), then the median over repeats; the ratio's \
             range is over repeats. Examples/s is batch / median step. Same initial weights, \
             data split, batch order, AdamW hyper-parameters and thread count on both sides; \
             the final losses agreeing shows the two trained the same way.\n"
        );
        let b = &self.boundary;
        let _ = writeln!(out, "## Plugin boundary\n");
        let _ = writeln!(
            out,
            "`mlp {{ hidden: [128] }}` + `adamw`, batch 512, {} steps each, alternating: linked \
             statically (SDK traits) {:.4} ms/step, through the C ABI (`libexp_std.so`, \
             `ForeignModel`/`ForeignOptimizer`) {:.4} ms/step: overhead **{:+.2}%** of a step \
             (per block of steps {:+.2}% to {:+.2}%). Weights after training bit-identical: {}.\n",
            b.steps,
            b.static_median * 1e3,
            b.foreign_median * 1e3,
            b.overhead_pct,
            b.overhead_range.0,
            b.overhead_range.1,
            if b.identical { "yes" } else { "no" },
        );
        let _ = writeln!(out, "## `exp check`\n");
        let _ = writeln!(out, "| file | wall time (median) |\n|---|---|");
        for check in &self.checks {
            let time = match &check.median {
                Ok(seconds) => format!("{:.1} ms", seconds * 1e3),
                Err(error) => error.clone(),
            };
            let _ = writeln!(out, "| `{}` | {time} |", check.file);
        }
        let _ = writeln!(
            out,
            "\nThe wall time of the whole process (start, plugin loading, parse, check).\n"
        );
        let _ = writeln!(out, "## Cached rerun\n\n{}\n", self.cached_rerun);
        let _ = writeln!(out, "## Targets\n");
        let _ = writeln!(out, "| target | measured | verdict |\n|---|---|---|");
        for s in self.models.iter().filter(|s| s.model.tiny) {
            let _ = writeln!(
                out,
                "| {}: exp ≤ 0.87× PyTorch | {:.3}× | {} |",
                s.model.name,
                s.judged_ratio(),
                verdict(s.judged_ratio() <= 0.87)
            );
        }
        for s in &self.models {
            let _ = writeln!(
                out,
                "| {}: never slower than PyTorch | {:.3}× (worst repeat {:.3}×) | {} |",
                s.model.name,
                s.judged_ratio(),
                range(&s.ratios).1,
                verdict(s.judged_ratio() <= 1.0 && range(&s.ratios).1 <= 1.0)
            );
        }
        let _ = writeln!(
            out,
            "| plugin boundary < 1% of a step | {:+.2}% | {} |",
            b.overhead_pct,
            verdict(b.overhead_pct < 1.0)
        );
        let _ = writeln!(out, "\n## Notes\n\n{NOTES}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::today;

    #[test]
    fn today_is_a_plausible_date() {
        let date = today();
        assert_eq!(date.len(), 10);
        assert!(date.as_str() > "2024-01-01", "{date}");
    }
}
