//! `RESULTS.md`: the machine it ran on and the date, a table per family of models (digits, GPT,
//! U-Net), where a GPT step goes, the plugin boundary, sweep scaling, a busy machine,
//! `exp check`, the cached rerun, the targets and the notes, rewritten on every full run.

use std::fmt::Write as _;

use crate::boundary::BoundaryResult;
use crate::busy::BusyResult;
use crate::editor::{self, milliseconds, EditorTime};
use crate::model_summary::{mib, Compiled, ModelSummary};
use crate::models::{Family, UNetShape, SHAPES_IMAGE};
use crate::phases::Phases;
use crate::runs::{PythonProfile, AGREEING_STEPS, AGREEMENT, INITIAL_LOSS_RANGE};
use crate::scale::ScaleResult;
use crate::stats::{median, range};
use crate::sweep::SweepResult;

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
- Found on a 2-core AMD EPYC (issue 11, item 8), where the conv net and the GPTs missed their \
targets: exp used to give libgomp a short spin (`GOMP_SPINCOUNT=1000`) whenever it ran several \
intra-op threads, while PyTorch keeps libgomp's default (about 300,000 spins). Idle, the short \
spin put the sleeping threads' wake-up in front of every kernel: conv net 0.96×, gpt-1m 1.04×, \
gpt-10m 0.99× PyTorch. With the same default spin on both sides the same rows measured 0.77×, \
0.98× and 0.98×. Beside a competitor the short spin was worse too (5.4× slower against 2.7× with \
libgomp's default). exp now sets no spin count; a busy machine is served by exp's default of one \
intra-op thread, which starts no OpenMP team (the busy-machine table).
- The plugin boundary (issue 11, item 8) was judged on one comparison of a static and a \
foreign copy until a control showed that two statically linked copies measured that way differ \
by up to ±1.3% on a 2-core AMD EPYC: where each copy's tensors land in memory moves a 0.7 ms \
step as much as the 1% the target allows. perf puts the boundary's own code (handles, \
`catch_unwind`, the panic bookkeeping) at about 0.03% of a step. The comparison now runs in \
rounds with both copies built afresh, the foreign one first in half of them, and reports the \
median over rounds beside the same measurement of two static copies (the control).
- The 10M GPT (target 0.91× PyTorch eager) is bound by matrix products, not by dispatch: on \
both sides about three quarters of a step is `mm`/`addmm` at roughly 78% of the measured matmul \
ceiling, and attention (SDPA) another 13–14% (see \"Where a GPT step goes\"). Both sides call \
the same libtorch kernels, so exp's savings are confined to the rest of the step (layer \
norms, GELU, residual additions, cross-entropy, the optimizer's loop and the Python around \
them), about a tenth of it: 0.91× would need that tenth to vanish entirely. What would reach it \
is fewer FLOPs or faster kernels than eager libtorch offers on CPU (fused attention backward, \
fused layer norm + matmul epilogues, lower precision), none of which `torch.compile` found on \
this CPU either (its column). On the 10M model exp's median step is within a few per cent \
of eager's, with single repeats on either side of it.
- `continual_digits.exp` (144 lines that expand to 46,928 nodes) is the slowest file for both \
targets. Found by profiling (perf with frame pointers) when both were missed (check 54–66 ms, \
language server 30–34 ms): half of `exp check` went to building the graph only to count its \
nodes, and the kernel clearing the fresh pages that took; the expander declared every \
definition once per enclosing sweep point or template instance (five times here), and std's \
SipHash was a tenth of the language server's time. `exp check` now counts the nodes without \
making them, each level's declared names are kept from the first pass (checked against a \
second declaration in debug builds), the checker's maps use foldhash, copies are built from \
their parts instead of copied and then rewritten, the language server parses each version \
once, the cached catalog finds a component through an index instead of a scan, and the \
checker asks a component's check rule once per distinct set of parameters. Same graphs byte for byte (`exp graph --format json` of every file of `experiments/` \
and `stdlib/`). This virtual machine's speed moves by a fifth from one minute to the next; \
the language server's time on this file is the figure closest to its target.
";

pub struct Machine {
    pub cpu: String,
    pub logical_cpus: usize,
    pub usable_cpus: usize,
    pub memory_gib: f64,
    /// The 1, 5 and 15 minute load averages when the benchmark started: other work on the
    /// machine slows both sides, and libtorch's OpenMP threads suffer most.
    pub load: String,
    /// The OpenMP variables set for the benchmark (they change how libtorch's threads wait).
    pub openmp: String,
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
            openmp: openmp_environment(),
        }
    }
}

/// The OpenMP variables of this process's environment, which every run inherits.
fn openmp_environment() -> String {
    let set: Vec<String> = std::env::vars()
        .filter(|(name, _)| {
            name.starts_with("OMP_") || name.starts_with("GOMP_") || name.starts_with("KMP_")
        })
        .map(|(name, value)| format!("`{name}={value}`"))
        .collect();
    if set.is_empty() {
        "none set".to_string()
    } else {
        set.join(", ")
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

/// The one-minute load average, the first field of /proc/loadavg.
fn one_minute_load() -> Option<f64> {
    one_minute(&load_average())
}

/// The first (one-minute) figure of load averages as `load_average` gives them.
fn one_minute(load: &str) -> Option<f64> {
    load.split_whitespace().next()?.parse().ok()
}

/// Whether a run that started at load averages `load` ran on a loaded machine: half its
/// logical CPUs or more already busy. Judged at the start only: the load at the end counts the
/// benchmark's own threads (the busy-machine rows run two trainings on every core).
fn loaded(load: &str, logical_cpus: usize) -> bool {
    one_minute(load).is_some_and(|load| load >= logical_cpus as f64 / 2.0)
}

/// Waits, up to `patience`, until the one-minute load average falls below a quarter of the
/// logical CPUs: work that ended just before the benchmark (a build, say) still weighs on the
/// average for a minute or two, and the first rows would be measured beside it. Returns the
/// load it started with when it had to wait.
pub fn settle(logical_cpus: usize, patience: std::time::Duration) -> Option<f64> {
    let quiet = logical_cpus as f64 / 4.0;
    let first = one_minute_load()?;
    let start = std::time::Instant::now();
    while one_minute_load().is_some_and(|load| load >= quiet) && start.elapsed() < patience {
        std::thread::sleep(std::time::Duration::from_secs(5));
    }
    (first >= quiet).then_some(first)
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

/// Where a GPT row's step goes on each side (`phases.rs`, `gpt.py --profile`).
pub struct StepProfile {
    pub exp: Phases,
    pub pytorch: PythonProfile,
}

pub struct Summary {
    pub machine: Machine,
    /// The harness's command-line arguments, each after a space (empty for none).
    pub arguments: String,
    pub date: String,
    pub libtorch: String,
    pub torch: String,
    pub threads: usize,
    pub repeats: usize,
    pub ceiling: f64,
    pub models: Vec<ModelSummary>,
    pub profiles: Vec<StepProfile>,
    /// The load averages when the benchmark finished.
    pub load_at_end: String,
    /// `None` with `--models-only`.
    pub others: Option<Others>,
}

/// The sections besides the model rows: left out with `--models-only`.
pub struct Others {
    pub boundary: BoundaryResult,
    pub checks: Vec<EditorTime>,
    pub cached_rerun: String,
    pub scale: ScaleResult,
    pub sweep: SweepResult,
    pub busy: BusyResult,
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
        self.header(&mut out);
        self.digits_table(&mut out);
        self.gpt_table(&mut out);
        self.profile_table(&mut out);
        self.diffusion_table(&mut out);
        if let Some(others) = &self.others {
            let (b, c) = (&others.boundary.foreign, &others.boundary.control);
            let _ = writeln!(out, "## Plugin boundary\n");
            let _ = writeln!(
                out,
                "`mlp {{ hidden: [128] }}` + `adamw`, batch 512, {} steps each in {} rounds, \
                 alternating: linked statically (SDK traits) {:.4} ms/step, through the C ABI \
                 (`libexp_std.so`, `ForeignModel`/`ForeignOptimizer`) {:.4} ms/step: overhead \
                 **{:+.2}%** of a step (median over rounds; rounds {:+.2}% to {:+.2}%). Weights after \
                 training bit-identical: {}. Control, two statically linked copies measured the \
                 same way: {:+.2}% (rounds {:+.2}% to {:+.2}%), what where each copy's tensors \
                 land in memory and the order of the steps give on their own.\n",
                others.boundary.steps,
                crate::boundary::ROUNDS,
                b.base_median * 1e3,
                b.other_median * 1e3,
                b.overhead_pct,
                b.overhead_range.0,
                b.overhead_range.1,
                if b.identical && c.identical { "yes" } else { "no" },
                c.overhead_pct,
                c.overhead_range.0,
                c.overhead_range.1,
            );
            others.sweep_and_busy(&mut out);
            let _ = writeln!(out, "## `exp check` and the language server\n");
            let _ = writeln!(
                out,
                "| file | `exp check` (median) | diagnostics after a change (median) |\n|---|---|---|"
            );
            for time in &others.checks {
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {} |",
                    time.file,
                    milliseconds(&time.check),
                    milliseconds(&time.diagnostics)
                );
            }
            let _ = writeln!(
                out,
                "\n`exp check`: the wall time of the whole process (start, schemas from the cache, \
                 parse, check, compile), after a first check that fills the cache. Diagnostics: \
                 from sending `textDocument/didChange` (the whole text, a comment line added or \
                 taken away) to `exp lsp`'s `publishDiagnostics` for that version.\n"
            );
            let _ = writeln!(out, "## Cached rerun\n\n{}\n", others.cached_rerun);
            let _ = writeln!(out, "## A large sweep\n");
            let _ = writeln!(
                out,
                "`sweep seeds N {{ model (mlp, hidden [4]); train (1 step, batch 8, sgd); \
                 evaluate }}` and a report over the evaluations, at two sizes, `--jobs 2`, first \
                 from an empty cache, then again with every node in it. Per-node figures are the \
                 differences between the sizes over the nodes added; memory is the peak resident \
                 set of the whole `exp run`.\n"
            );
            for line in others.scale.lines() {
                let _ = writeln!(out, "- {line}");
            }
            let _ = writeln!(out);
        }
        self.targets(&mut out);
        let _ = writeln!(out, "\n## Notes\n\n{NOTES}");
        out
    }

    fn header(&self, out: &mut String) {
        let m = &self.machine;
        let _ = writeln!(out, "# exp benchmark results\n");
        let _ = writeln!(
            out,
            "Written by `target/release/exp-bench{}` on {}; rerun it to replace this file \
             (see the README's \"Benchmarks\" section).{}\n",
            self.arguments,
            self.date,
            if self.others.is_none() {
                " `--models-only`: the model rows alone, without the plugin boundary, sweep, \
                 busy-machine, `exp check` and cached-rerun sections."
            } else {
                ""
            }
        );
        let _ = writeln!(
            out,
            "Machine: {}, {} logical CPUs ({} usable by this process), {:.1} GiB memory, \
             load average {} at the start; OpenMP environment: {}. \
             libtorch {} (exp) and torch {} (PyTorch), {} intra-op threads on both sides \
             (exp `--jobs 1`). Each model: one warm-up run of each side, then {} repeats \
             interleaved exp, PyTorch, exp, PyTorch.\n",
            m.cpu,
            m.logical_cpus,
            m.usable_cpus,
            m.memory_gib,
            m.load,
            m.openmp,
            self.libtorch,
            self.torch,
            self.threads,
            self.repeats
        );
        if loaded(&m.load, m.logical_cpus) {
            let caveat = "Each repeat's exp and PyTorch runs ran next to each other, so the \
                          ratios are steadier than the times, but a busy machine slows libgomp's \
                          spinning threads unevenly: rerun on an idle machine to judge the targets.";
            let _ = writeln!(
                out,
                "**Taken on a loaded machine** (load average {} at the start, {} at the end, on \
                 {} logical CPUs: other work was running when it started): absolute times are slower and noisier \
                 than on an idle machine. {caveat}\n",
                m.load, self.load_at_end, m.logical_cpus
            );
        }
        let _ = writeln!(
            out,
            "fp32 matmul ceiling measured in this run: {:.1} GFLOP/s.\n",
            self.ceiling / 1e9
        );
    }

    fn digits_table(&self, out: &mut String) {
        let digits = |s: &&ModelSummary| matches!(s.model.family, Family::Digits { .. });
        if !self.models.iter().any(|s| digits(&s)) {
            return;
        }
        let _ = writeln!(out, "## exp against PyTorch eager\n");
        let _ = writeln!(
            out,
            "| model | batch | steps | exp ms/step | PyTorch ms/step | exp/PyTorch (range) \
             | exp examples/s | PyTorch examples/s | exp peak RSS | PyTorch peak RSS \
             | exp % of matmul ceiling | PyTorch % | final loss exp / PyTorch |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        for s in self.models.iter().filter(digits) {
            let (low, high) = range(&s.ratios);
            let _ = writeln!(
                out,
                "| {} (`{}`) | {} | {} | {:.3} | {:.3} | {:.3} ({low:.3}–{high:.3}) | {:.0} | {:.0} \
                 | {} | {} | {:.1}% | {:.1}% | {:.5} / {:.5} |",
                s.model.name,
                s.model.model_source(),
                s.model.batch,
                s.steps,
                s.exp_median * 1e3,
                s.python_median * 1e3,
                s.ratio(),
                s.throughput(s.exp_median),
                s.throughput(s.python_median),
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
    }

    fn gpt_table(&self, out: &mut String) {
        let gpts: Vec<&ModelSummary> = self.models.iter().filter(|s| s.model.is_gpt()).collect();
        if gpts.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "## GPT: exp against PyTorch eager and `torch.compile`\n"
        );
        let _ = writeln!(
            out,
            "| model | parameters | batch × context | steps | exp ms/step | PyTorch eager ms/step \
             | `torch.compile` ms/step | exp/eager (range) | exp/compiled | exp tokens/s \
             | eager tokens/s | compiled tokens/s | exp peak RSS | eager peak RSS \
             | compiled peak RSS | % of matmul ceiling exp / eager / compiled \
             | first losses agree to | final loss exp / eager |"
        );
        let _ = writeln!(
            out,
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for s in gpts {
            let Family::Gpt(shape) = &s.model.family else {
                continue;
            };
            let (low, high) = range(&s.ratios);
            let ceiling = |step: f64| 100.0 * s.ceiling_fraction(step, self.ceiling);
            let (compiled_ms, compiled_ratio, compiled_tokens, compiled_peak, compiled_ceiling) =
                match &s.compiled {
                    Compiled::Ran(c) => (
                        format!(
                            "{:.1} (compiled in {:.0} s; first losses agree to {:.1e})",
                            c.median * 1e3,
                            c.compile_seconds,
                            c.agreement
                        ),
                        format!("{:.3}", median(&c.ratios)),
                        format!("{:.0}", s.throughput(c.median)),
                        mib(c.peak),
                        format!("{:.1}%", ceiling(c.median)),
                    ),
                    Compiled::NotRun(why) => {
                        let text = format!("not run ({why})");
                        (text, "–".into(), "–".into(), "–".into(), "–".into())
                    }
                    Compiled::Failed(why) => {
                        let text = format!("failed: {why}");
                        (text, "–".into(), "–".into(), "–".into(), "–".into())
                    }
                };
            let _ = writeln!(
                out,
                "| {} (`{}`) | {:.2}M | {} × {} | {} | {:.1} | {:.1} | {compiled_ms} \
                 | {:.3} ({low:.3}–{high:.3}) | {compiled_ratio} | {:.0} | {:.0} \
                 | {compiled_tokens} | {} | {} | {compiled_peak} | {:.1}% / {:.1}% / \
                 {compiled_ceiling} | {:.1e} | {:.4} / {:.4} |",
                s.model.name,
                s.model.model_source(),
                shape.parameters() as f64 / 1e6,
                s.model.batch,
                shape.context,
                s.steps,
                s.exp_median * 1e3,
                s.python_median * 1e3,
                s.ratio(),
                s.throughput(s.exp_median),
                s.throughput(s.python_median),
                mib(s.exp_peak),
                mib(s.python_peak),
                ceiling(s.exp_median),
                ceiling(s.python_median),
                s.agreement.unwrap_or(f64::NAN),
                s.exp_loss,
                s.python_loss,
            );
        }
        let _ = writeln!(
            out,
            "\nBoth sides train on one text file the harness writes (`bench/src/gpt_text.rs`), \
             read by exp through `text_files` and the `bytes` tokenizer and by the PyTorch script \
             (`bench/python/gpt.py`) byte by byte with the same ids, packed into the same windows \
             and drawn in exp's batch order, from the initial weights exp wrote, with AdamW \
             decaying the blocks' matrices only on both sides. Each repeat checks that the two \
             sides' losses at the first {AGREEING_STEPS} steps agree to {AGREEMENT:.0e} \
             (relative) and stops the benchmark if not; the column shows the largest difference \
             seen. `torch.compile` compiles the model's forward pass and loss (the optimizer \
             stays eager); its first steps, where compilation happens, are left out of its \
             step time, and the compile time shown is the first repeat's, with a cold cache. \
             FLOPs per token: 6·N for the parameters that multiply (all but the position \
             table) plus 12·depth·context·width for attention (nanoGPT's `estimate_mfu`).\n"
        );
    }

    fn diffusion_table(&self, out: &mut String) {
        let unets: Vec<(&ModelSummary, &UNetShape)> = self
            .models
            .iter()
            .filter_map(|s| match &s.model.family {
                Family::Diffusion(shape) => Some((s, shape)),
                _ => None,
            })
            .collect();
        if unets.is_empty() {
            return;
        }
        let _ = writeln!(out, "## U-Net (diffusion): exp against PyTorch eager\n");
        let _ = writeln!(
            out,
            "| model | parameters | batch × image | steps | exp ms/step | PyTorch ms/step \
             | exp/PyTorch (range) | exp examples/s | PyTorch examples/s | exp peak RSS \
             | PyTorch peak RSS | % of matmul ceiling exp / PyTorch \
             | first loss exp / PyTorch (magnitude only) | final loss exp / PyTorch |"
        );
        let _ = writeln!(
            out,
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for (s, shape) in unets {
            let (low, high) = range(&s.ratios);
            let [channels, height, width] = SHAPES_IMAGE;
            let _ = writeln!(
                out,
                "| {} (`{}`) | {:.3}M | {} × {channels}×{height}×{width} | {} | {:.1} | {:.1} \
                 | {:.3} ({low:.3}–{high:.3}) | {:.0} | {:.0} | {} | {} | {:.1}% / {:.1}% \
                 | {:.4} / {:.4} | {:.4} / {:.4} |",
                s.model.name,
                s.model.model_source(),
                shape.parameters() as f64 / 1e6,
                s.model.batch,
                s.steps,
                s.exp_median * 1e3,
                s.python_median * 1e3,
                s.ratio(),
                s.throughput(s.exp_median),
                s.throughput(s.python_median),
                mib(s.exp_peak),
                mib(s.python_peak),
                100.0 * s.ceiling_fraction(s.exp_median, self.ceiling),
                100.0 * s.ceiling_fraction(s.python_median, self.ceiling),
                s.exp_first_loss,
                s.python_first_loss,
                s.exp_loss,
                s.python_loss,
            );
        }
        let (low, high) = INITIAL_LOSS_RANGE;
        let _ = writeln!(
            out,
            "\nThis table compares step time, throughput and peak memory only. Both sides train \
             the same network: `bench/python/unet.py` ports the diffusion plugin's `unet` op for \
             op and loads the initial weights exp wrote by checkpoint key (a key or a shape that \
             differs stops the benchmark), with the same AdamW (no decay on biases, norms and \
             caption tables), batch size and thread count, on batches of the same shape. They \
             do not see the same numbers: exp trains on its generated `shapes` images and draws \
             the timesteps, noise and caption dropout from its own Rust random stream, while \
             the PyTorch script draws images uniform in [−1, 1], captions in range, timesteps, \
             noise and dropout with torch. So the losses are compared for magnitude only, not \
             for agreement: each repeat checks that both sides' first loss lies in \
             {low}–{high}, where the ε-prediction loss of an untrained model lies (about 1). \
             FLOPs per example: the convolutions at their levels' sizes, the time embedding \
             and the FiLM maps (3× the forward pass's multiply-adds ×2); group norms and \
             activations are left out.\n"
        );
    }

    fn profile_table(&self, out: &mut String) {
        if self.profiles.is_empty() {
            return;
        }
        let _ = writeln!(out, "## Where a GPT step goes\n");
        let _ = writeln!(
            out,
            "| model | exp: clear grads | forward + loss | backward | optimizer | step \
             | PyTorch: matmul (`mm`, `addmm`) | attention (SDPA) | optimizer | other | step |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
        for StepProfile { exp, pytorch } in &self.profiles {
            let share = |ms: f64| format!("{ms:.1} ({:.0}%)", 100.0 * ms / pytorch.step);
            let _ = writeln!(
                out,
                "| {} | {:.2} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {} | {:.1} |",
                exp.model,
                exp.clear_grads,
                exp.forward_loss,
                exp.backward,
                exp.optimizer,
                exp.step,
                share(pytorch.matmul),
                share(pytorch.attention),
                share(pytorch.optimizer),
                share(pytorch.other),
                pytorch.step,
            );
        }
        let _ = writeln!(
            out,
            "\nMilliseconds per step. exp: the trainer's step done in-process through the same \
             C ABI (`bench/src/phases.rs`), each phase timed on its own, medians over {} steps \
             after the first. PyTorch: torch.profiler over {} steps after the timed run, own \
             time of the matrix-product and attention operators, everything `Optimizer.step` \
             calls, and the rest (layer norms, GELU, additions, copies, cross-entropy, autograd \
             bookkeeping, the Python around them); the profiler's own overhead makes these \
             steps somewhat slower than the timed ones.\n",
            self.profiles[0].exp.steps, self.profiles[0].pytorch.steps
        );
    }

    fn targets(&self, out: &mut String) {
        let _ = writeln!(out, "## Targets\n");
        let _ = writeln!(out, "| target | measured | verdict |\n|---|---|---|");
        for s in &self.models {
            if let Some(target) = s.model.target {
                let _ = writeln!(
                    out,
                    "| {}: exp ≤ {target}× PyTorch eager | {:.3}× | {} |",
                    s.model.name,
                    s.judged_ratio(),
                    verdict(s.judged_ratio() <= target)
                );
            }
        }
        for s in &self.models {
            let _ = writeln!(
                out,
                "| {}: never slower than PyTorch eager | {:.3}× (worst repeat {:.3}×) | {} |",
                s.model.name,
                s.judged_ratio(),
                range(&s.ratios).1,
                verdict(s.judged_ratio() <= 1.0 && range(&s.ratios).1 <= 1.0)
            );
        }
        let Some(others) = &self.others else {
            return;
        };
        for line in editor::verdicts(&others.checks) {
            let _ = writeln!(out, "{line}");
        }
        let b = &others.boundary.foreign;
        let _ = writeln!(
            out,
            "| plugin boundary < 1% of a step | {:+.2}% | {} |",
            b.overhead_pct,
            verdict(b.overhead_pct < 1.0)
        );
        for line in scale_verdicts(&others.scale) {
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(
            out,
            "| sweep of independent runs: `--jobs 2` ≤ 0.6× `--jobs 1` | {:.3}× | {} |",
            others.sweep.judged_ratio(),
            verdict(others.sweep.judged_ratio() <= 0.6)
        );
        for row in others.busy.rows.iter().filter(|row| row.judged) {
            let _ = writeln!(
                out,
                "| busy machine, {} ({} threads): slowdown within 2× of fair ({:.0}×) | {:.2}× | {} |",
                row.name,
                row.threads,
                2.0 * crate::busy::FAIR_SLOWDOWN,
                row.slowdown(),
                verdict(row.within_target())
            );
        }
    }
}

/// The most peak memory one more node of a large sweep may add: its record (name, key, outcome,
/// metrics), not its model.
pub const BYTES_PER_NODE: f64 = 4096.0;

/// The large sweep's target rows (issue 16): a cached rerun at most a tenth of the first run,
/// and peak memory that grows by no more than a small record per node.
pub fn scale_verdicts(scale: &ScaleResult) -> Vec<String> {
    vec![
        format!(
            "| a large sweep's cached rerun ≤ 0.1× its first run | {:.3}× | {} |",
            scale.cached_ratio(),
            verdict(scale.cached_ratio() <= 0.1)
        ),
        format!(
            "| a large sweep's peak memory per node ≤ {:.0} KiB | {:.1} KiB | {} |",
            BYTES_PER_NODE / 1024.0,
            scale.bytes_per_node() / 1024.0,
            verdict(scale.bytes_per_node() <= BYTES_PER_NODE)
        ),
        format!(
            "| executor overhead of a one-step node (reported) | {:.3} ms | – |",
            scale.seconds_per_node() * 1e3
        ),
    ]
}

impl Others {
    fn sweep_and_busy(&self, out: &mut String) {
        let sweep = &self.sweep;
        let (low, high) = range(&sweep.ratios);
        let _ = writeln!(out, "## Sweep scaling\n");
        let _ = writeln!(
            out,
            "`sweep seeds {}` of `convnet {{ channels: [16, 32] }}` on the digits, {} steps \
             each, one intra-op thread per node (exp's default), `--no-cache`, wall time of the \
             whole `exp run`: `--jobs 1` {:.2} s, `--jobs 2` {:.2} s, ratio **{:.3}** \
             (range over repeats {low:.3}–{high:.3}).\n",
            sweep.runs,
            sweep.steps,
            sweep.one_job,
            sweep.two_jobs,
            median(&sweep.ratios),
        );
        let busy = &self.busy;
        let _ = writeln!(out, "## A busy machine\n");
        let _ = writeln!(
            out,
            "The {} row's experiment ({} steps) alone, then beside one competitor: the same \
             experiment in the same configuration, run in a loop by another `exp` process. Two \
             equal processes make a fair slowdown of {:.0}×; the target is within 2× of it.\n",
            busy.model,
            busy.steps,
            crate::busy::FAIR_SLOWDOWN
        );
        let _ = writeln!(
            out,
            "| configuration | intra-op threads | ms/step alone | ms/step beside a competitor \
             | slowdown | within 2× of fair |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for row in &busy.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {:.3} | {:.3} | {:.2}× | {} |",
                row.name,
                row.threads,
                row.idle * 1e3,
                row.loaded * 1e3,
                row.slowdown(),
                if row.within_target() { "yes" } else { "no" }
            );
        }
        let _ = writeln!(
            out,
            "\nexp sets no OpenMP wait policy of its own: with several intra-op threads libgomp \
             spins about 300,000 times before its threads sleep, unless the user sets \
             `GOMP_SPINCOUNT` or `OMP_WAIT_POLICY`. One intra-op thread, exp's default \
             `--threads`, starts no OpenMP team.\n"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::{loaded, today};

    #[test]
    fn a_machine_is_loaded_from_half_its_cpus_busy_at_the_start() {
        assert!(!loaded("0.48 1.23 1.34", 2));
        assert!(loaded("1.00 0.20 0.10", 2));
        assert!(!loaded("1.90 0.20 0.10", 4));
        assert!(!loaded("", 2));
    }

    #[test]
    fn today_is_a_plausible_date() {
        let date = today();
        assert_eq!(date.len(), 10);
        assert!(date.as_str() > "2024-01-01", "{date}");
    }
}
