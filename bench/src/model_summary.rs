//! `ModelSummary`: one model's repeats reduced to what the report shows: the median step time
//! of each side, the paired ratios, throughput, peak memory, the fraction of the matmul ceiling,
//! the losses (the first ones too, for a row that compares them) and, for a GPT, how closely the
//! first losses agreed and the `torch.compile` column.

use crate::models::{BenchModel, FirstLosses};
use crate::runs::{ExpSample, PythonSample};
use crate::stats::{median, range};

/// The `torch.compile` column of a GPT row: its repeats, or why it could not run.
pub enum Compiled {
    /// Not attempted (a smoke run, or a digits row).
    NotRun(&'static str),
    Failed(String),
    Ran(CompiledSummary),
}

pub struct CompiledSummary {
    pub median: f64,
    /// exp / compiled per repeat.
    pub ratios: Vec<f64>,
    pub peak: u64,
    /// Compilation in the first repeat (a cold inductor cache), seconds.
    pub compile_seconds: f64,
    /// The largest relative difference from exp's losses at the first steps.
    pub agreement: f64,
}

impl CompiledSummary {
    pub fn new(exp: &[ExpSample], compiled: &[PythonSample], agreement: f64) -> CompiledSummary {
        let medians: Vec<f64> = compiled.iter().map(|s| s.sample.step_median).collect();
        CompiledSummary {
            median: median(&medians),
            ratios: exp
                .iter()
                .zip(&medians)
                .map(|(e, c)| e.sample.step_median / c)
                .collect(),
            peak: compiled
                .iter()
                .map(|s| s.sample.peak_rss)
                .max()
                .unwrap_or(0),
            compile_seconds: compiled.first().map_or(0.0, |s| s.compile_seconds),
            agreement,
        }
    }
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
    /// The losses at the first step logged (step 1 for a GPT or a U-Net).
    pub exp_first_loss: f64,
    pub python_first_loss: f64,
    /// For a GPT: the largest relative difference of the two sides' losses at the first steps.
    pub agreement: Option<f64>,
    pub compiled: Compiled,
}

impl ModelSummary {
    pub fn new(
        model: &'static BenchModel,
        steps: u64,
        exp: &[ExpSample],
        python: &[PythonSample],
        agreement: Option<f64>,
        compiled: Compiled,
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
            exp_loss: exp.last().map_or(f64::NAN, |s| s.sample.final_loss()),
            python_loss: python.last().map_or(f64::NAN, |s| s.sample.final_loss()),
            exp_first_loss: exp.last().map_or(f64::NAN, |s| s.sample.first_loss()),
            python_first_loss: python.last().map_or(f64::NAN, |s| s.sample.first_loss()),
            agreement,
            compiled,
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

    /// Examples (digits) or tokens (GPT) per second at a step of `step` seconds.
    pub fn throughput(&self, step: f64) -> f64 {
        self.model.units_per_step().0 / step
    }

    /// The fraction of the matmul ceiling a step of `step` seconds achieves.
    pub fn ceiling_fraction(&self, step: f64, ceiling: f64) -> f64 {
        self.model.flops_per_step() / step / ceiling
    }

    /// The line printed per model.
    pub fn line(&self, ceiling: f64) -> String {
        let (low, high) = range(&self.ratios);
        let unit = self.model.units_per_step().1;
        let mut line = format!(
            "model {}: exp {:.3} ms/step, pytorch {:.3} ms/step, ratio exp/pytorch {:.3} \
             (range {low:.3}-{high:.3}), {:.0} vs {:.0} {unit}/s, peak rss {} vs {}, \
             matmul ceiling {:.1}% vs {:.1}%, final loss {:.5} vs {:.5}",
            self.model.name,
            self.exp_median * 1e3,
            self.python_median * 1e3,
            self.ratio(),
            self.throughput(self.exp_median),
            self.throughput(self.python_median),
            mib(self.exp_peak),
            mib(self.python_peak),
            100.0 * self.ceiling_fraction(self.exp_median, ceiling),
            100.0 * self.ceiling_fraction(self.python_median, ceiling),
            self.exp_loss,
            self.python_loss,
        );
        match self.model.first_losses() {
            FirstLosses::Shown => {}
            FirstLosses::Agree => line.push_str(&format!(
                ", first losses agree to {:.1e}",
                self.agreement.unwrap_or(f64::NAN)
            )),
            FirstLosses::Magnitude => line.push_str(&format!(
                ", first loss {:.4} vs {:.4} (different inputs and noise: magnitude only)",
                self.exp_first_loss, self.python_first_loss
            )),
        }
        match &self.compiled {
            Compiled::NotRun(_) if !self.model.is_gpt() => {}
            Compiled::NotRun(why) => line.push_str(&format!(", torch.compile not run ({why})")),
            Compiled::Failed(why) => line.push_str(&format!(", torch.compile failed: {why}")),
            Compiled::Ran(compiled) => line.push_str(&format!(
                ", torch.compile {:.3} ms/step (exp/compiled {:.3}, compiled in {:.0} s, \
                 peak rss {})",
                compiled.median * 1e3,
                median(&compiled.ratios),
                compiled.compile_seconds,
                mib(compiled.peak)
            )),
        }
        line
    }
}

pub fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}
