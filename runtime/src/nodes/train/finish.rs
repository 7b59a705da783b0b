//! The end of a phase: timing, the hooks' carried state, memory accounting, the final
//! checkpoint, and the data ledger — turned into the node's model artifact.

use std::sync::Mutex;

use super::Trainer;
use crate::artifact::{Artifact, LedgerEntry, Memory, ModelArtifact};
use crate::error::RunError;
use crate::nodes::{save_checkpoint, snapshot, NodeRun};
use crate::weights::Weights;

impl<'a, 'r> Trainer<'a, 'r> {
    pub fn finish(mut self) -> Result<Artifact, RunError> {
        let ctx = self.ctx;
        let node = ctx.name();
        if let Some(resume) = &self.resume_dir {
            resume.clear();
        }
        log_timing(ctx, &mut self.step_seconds, self.examples_seen);
        // An fp16 phase says how many steps overflowed and were skipped.
        if let Some(scale) = &self.loss_scale {
            ctx.run_dir
                .log_metric(node, None, "train", "skipped_steps", scale.skipped as f64);
        }
        let carried = self.hooks.finish(
            ctx,
            &mut self.model,
            &self.sources,
            self.spec.batch,
            &self.named_trainable,
        )?;
        let live: usize = self
            .named_trainable
            .iter()
            .map(|(_, tensor)| tensor.numel())
            .sum();
        let memory = Memory {
            param_copies: self.hooks.held_elements(&carried) as f64 / live.max(1) as f64,
            replay_examples: self.replay.as_ref().map_or(0, |buffer| buffer.len() as u64),
        };
        let weights = snapshot(node, &mut self.model)?;
        let checkpoint = ctx.run_dir.checkpoint_path(node);
        save_checkpoint(node, &checkpoint, &weights)?;
        let mut ledger = self.source.ledger.clone();
        ledger.extend(self.ledger());
        Ok(Artifact::Model(ModelArtifact {
            architecture: self.source.architecture.clone(),
            data: self.source.data.clone(),
            weights: Weights::new(weights),
            checkpoint,
            ledger,
            metrics: self.final_metrics,
            hooks: Mutex::new(carried),
            memory,
            tokenizer: self.source.tokenizer.clone(),
        }))
    }

    /// Examples (and tokens) seen per source in this phase. The batch order draws uniformly
    /// from the joint index space, so each source's share is its share of the examples; a
    /// mixture counts what it drew from each. Replayed examples are counted where they first
    /// came from.
    fn ledger(&self) -> Vec<LedgerEntry> {
        let sources = &self.sources;
        sources
            .datasets
            .iter()
            .enumerate()
            .map(|(index, dataset)| {
                let examples = match &self.mixture {
                    Some(sampler) => sampler.drawn[index],
                    None => {
                        let share =
                            dataset.info.train_len.max(0) as f64 / sources.train_len.max(1) as f64;
                        (self.examples_seen as f64 * share).round() as u64
                    }
                };
                // A window of a token view holds `context` targets (the training split drops
                // the tail that does not fill one).
                let tokens = dataset.info.tokens.as_ref().map(|_| {
                    examples * dataset.info.input_shape.first().copied().unwrap_or(0) as u64
                });
                LedgerEntry {
                    node: self.ctx.name().to_string(),
                    source: dataset.info.source.clone(),
                    license: dataset.info.license.clone(),
                    examples,
                    tokens,
                    licenses: dataset.info.licenses.clone(),
                }
            })
            .collect()
    }
}

/// Logs the median and mean step time and the training throughput (split `timing`).
fn log_timing(ctx: &NodeRun, step_seconds: &mut [f64], examples: u64) {
    if step_seconds.is_empty() {
        return;
    }
    let total: f64 = step_seconds.iter().sum();
    step_seconds.sort_by(f64::total_cmp);
    let median = step_seconds[step_seconds.len() / 2];
    let node = ctx.name();
    ctx.run_dir
        .log_metric(node, None, "timing", "step_seconds_median", median);
    ctx.run_dir.log_metric(
        node,
        None,
        "timing",
        "step_seconds_mean",
        total / step_seconds.len() as f64,
    );
    ctx.run_dir.log_metric(
        node,
        None,
        "timing",
        "examples_per_second",
        examples as f64 / total.max(1e-12),
    );
}
