//! Training nodes: dataset → batches, forward, loss, backward, optimizer step, learning-rate
//! schedule, periodic evaluation on the test split, final checkpoint.
//!
//! Data order is a fresh permutation of the training split each epoch, drawn from the node's
//! seed; the last batch of an epoch may be smaller (like PyTorch's `drop_last=False`). Any
//! duration parameter of a component (`warmup: 10%`, `1 epoch`) is resolved to steps of this
//! phase before the component is built, so plugins only ever see steps.

use std::sync::Mutex;

use exp_ir::graph::TrainSpec;
use exp_ir::{ComponentRef, Duration, DurationUnit, Value};
use exp_plugin_api::host::{ForeignModel, ForeignOptimizer};
use exp_plugin_api::sdk::{Rng, Split};
use tch::Tensor;

use super::evaluate::evaluate_model;
use super::resume::{OrderState, Progress, ResumeDir};
use super::{load_weights, save_checkpoint, snapshot, NodeRun};
use crate::artifact::{Artifact, LedgerEntry, MetricsArtifact, ModelArtifact};
use crate::error::RunError;

/// Steps in one pass over `examples` with batches of `batch` (the last one may be partial).
pub fn steps_per_epoch(examples: i64, batch: u64) -> u64 {
    (examples.max(0) as u64).div_ceil(batch.max(1)).max(1)
}

/// Replaces every duration in a component's parameters by its length in steps of this phase.
pub fn resolve_durations(
    component: &ComponentRef,
    phase_steps: u64,
    steps_per_epoch: u64,
) -> ComponentRef {
    fn resolve(value: &Value, phase_steps: u64, steps_per_epoch: u64) -> Value {
        match value {
            Value::Duration(duration) => Value::Duration(Duration {
                amount: duration.to_steps(phase_steps, steps_per_epoch) as f64,
                unit: DurationUnit::Steps,
            }),
            Value::List(items) => Value::List(
                items
                    .iter()
                    .map(|item| resolve(item, phase_steps, steps_per_epoch))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    let mut resolved = component.clone();
    for value in resolved.params.values_mut() {
        *value = resolve(value, phase_steps, steps_per_epoch);
    }
    resolved
}

/// Hands out batches of training indices: a new seeded permutation every epoch.
struct BatchOrder {
    rng: Rng,
    examples: usize,
    batch: usize,
    epoch: Vec<i64>,
    position: usize,
}

impl BatchOrder {
    fn new(seed: u64, examples: usize, batch: usize) -> BatchOrder {
        BatchOrder {
            rng: Rng::new(seed),
            examples,
            batch,
            epoch: Vec::new(),
            position: 0,
        }
    }

    fn state(&self) -> OrderState {
        OrderState {
            rng: self.rng.state(),
            epoch: self.epoch.clone(),
            position: self.position,
        }
    }

    fn restore(&mut self, state: &OrderState) {
        self.rng = Rng::from_state(state.rng);
        self.epoch = state.epoch.clone();
        self.position = state.position;
    }

    fn next_batch(&mut self) -> &[i64] {
        if self.position >= self.epoch.len() {
            self.epoch = self.rng.permutation(self.examples);
            self.position = 0;
        }
        let end = (self.position + self.batch).min(self.epoch.len());
        let batch = &self.epoch[self.position..end];
        self.position = end;
        batch
    }
}

pub fn run(ctx: &NodeRun, spec: &TrainSpec) -> Result<Artifact, RunError> {
    let node = ctx.name();
    let data = ctx.dataset_input("data")?;
    let source = ctx.model_input("model")?;
    let spe = steps_per_epoch(data.info.train_len, spec.batch);
    let total = spec.steps.to_steps(0, spe);
    ctx.observer.started(ctx.node, Some(total));

    let mut model = ctx.model_with_weights(source, ctx.node.seed)?;
    let tensors = model
        .named_tensors()
        .map_err(|error| ctx.plugin_error(error))?;
    let trainable: Vec<Tensor> = tensors
        .iter()
        .filter(|(_, tensor)| tensor.requires_grad())
        .map(|(_, tensor)| tensor.shallow_clone())
        .collect();

    let context = ctx.context(ctx.node.seed, Some(data.info.clone()));
    let optimizer_ref = resolve_durations(&spec.optimizer, total, spe);
    let base_lr = optimizer_ref
        .params
        .get("lr")
        .and_then(Value::as_f64)
        .ok_or_else(|| RunError::Mismatch {
            node: node.to_string(),
            message: format!(
                "optimizer `{}` has no numeric `lr` parameter, which the schedule scales",
                spec.optimizer.name
            ),
        })?;
    let mut optimizer = ctx.optimizer(&optimizer_ref, &context)?;
    let mut schedule = ctx.scheduler(&resolve_durations(&spec.schedule, total, spe), &context)?;
    let mut evaluators = spec
        .eval
        .iter()
        .map(|evaluator| ctx.evaluator(&resolve_durations(evaluator, total, spe), &context))
        .collect::<Result<Vec<_>, _>>()?;
    let eval_every = spec
        .eval_every
        .map(|every| every.to_steps(total, spe).max(1));
    let log_every = spec.log_every.to_steps(total, spe).max(1);

    let mut order = BatchOrder::new(
        ctx.node.seed,
        data.info.train_len.max(0) as usize,
        spec.batch as usize,
    );
    let mut examples_seen: u64 = 0;
    let mut last_finite: Option<f64> = None;
    let mut final_metrics = MetricsArtifact::default();
    let mut first_step: u64 = 0;

    // Resume from the latest checkpoint of this very node (same cache key), if there is one.
    let checkpoint_every = spec.checkpoint_every.map_or((total / 10).max(1), |every| {
        every.to_steps(total, spe).max(1)
    });
    let resume = ctx.resume_dir.clone().map(|dir| ResumeDir { dir });
    if let Some(resume) = &resume {
        match resume.load(ctx.device) {
            Ok(Some(checkpoint)) if checkpoint.progress.total == total => {
                let progress = checkpoint.progress;
                load_weights(node, &mut model, &checkpoint.weights)?;
                model
                    .load_state(&checkpoint.model_state)
                    .map_err(|error| ctx.plugin_error(error))?;
                optimizer
                    .load_state(&checkpoint.optimizer_state)
                    .map_err(|error| ctx.plugin_error(error))?;
                order.restore(&progress.order);
                examples_seen = progress.examples_seen;
                last_finite = progress.last_finite;
                final_metrics = progress.metrics;
                ctx.run_dir.replay(node, &progress.lines);
                first_step = progress.step;
                ctx.observer.message(
                    ctx.node,
                    &format!("resumed from the checkpoint at step {} of {total}", progress.step),
                );
                ctx.observer.progress(ctx.node, first_step, last_finite);
            }
            Ok(Some(checkpoint)) => ctx.observer.message(
                ctx.node,
                &format!(
                    "a checkpoint for {} steps does not fit this phase of {total}; starting at step 0",
                    checkpoint.progress.total
                ),
            ),
            Ok(None) => {}
            Err(problem) => ctx.observer.message(
                ctx.node,
                &format!("the latest checkpoint cannot be used ({problem}); starting at step 0"),
            ),
        }
    }

    // Wall time of each optimizer step (batch, forward, backward, update), without evaluation
    // and logging, so benchmarks compare training alone.
    let mut step_seconds: Vec<f64> = Vec::with_capacity(total as usize);
    for step in first_step..total {
        let step_started = std::time::Instant::now();
        let indices = order.next_batch();
        examples_seen += indices.len() as u64;
        let (x, y) = data
            .batch(Split::Train, indices)
            .map_err(|error| ctx.plugin_error_at(error, step + 1))?;
        for param in &trainable {
            let mut param = param.shallow_clone();
            param.zero_grad();
        }
        let loss = model
            .loss(&x, &y)
            .map_err(|error| ctx.plugin_error_at(error, step + 1))?;
        loss.f_backward().map_err(|error| {
            RunError::tensor(node, &format!("backward at step {}", step + 1), error)
        })?;
        let multiplier = schedule
            .multiplier(step, total)
            .map_err(|error| ctx.plugin_error_at(error, step + 1))?;
        optimizer
            .step(&trainable, base_lr * multiplier)
            .map_err(|error| ctx.plugin_error_at(error, step + 1))?;

        step_seconds.push(step_started.elapsed().as_secs_f64());
        let done = step + 1;
        if done % log_every == 0 || done == total {
            // Reading the loss synchronises with the device, so it happens only when logging.
            let value =
                f64::try_from(&loss).map_err(|error| RunError::tensor(node, "item", error))?;
            if !value.is_finite() {
                return Err(RunError::NonFiniteLoss {
                    node: node.to_string(),
                    step: done,
                    last_finite,
                });
            }
            last_finite = Some(value);
            ctx.run_dir
                .log_metric(node, Some(done), "train", "loss", value);
            ctx.observer.progress(ctx.node, done, Some(value));
        }
        let eval_now = eval_every.is_some_and(|every| done % every == 0) || done == total;
        if eval_now && !evaluators.is_empty() {
            let metrics = evaluate_model(ctx, &mut model, data, Split::Test, &mut evaluators)?;
            for name in &metrics.order {
                ctx.run_dir
                    .log_metric(node, Some(done), "test", name, metrics.values[name]);
            }
            final_metrics = metrics;
        }
        let stopping = ctx.stop.load(std::sync::atomic::Ordering::SeqCst) && done < total;
        if let Some(resume) = &resume {
            if (done % checkpoint_every == 0 || stopping) && done < total {
                let progress = Progress {
                    step: done,
                    total,
                    order: order.state(),
                    examples_seen,
                    last_finite,
                    metrics: final_metrics.clone(),
                    lines: ctx.run_dir.logged_by(node),
                    model_data: serde_json::Value::Null,
                    optimizer_data: serde_json::Value::Null,
                    files: Vec::new(),
                };
                let saved = checkpoint(ctx, resume, progress, &mut model, &mut optimizer);
                if stopping {
                    return Err(RunError::Interrupted {
                        node: node.to_string(),
                        step: Some(done),
                        checkpointed: saved,
                    });
                }
            }
        }
        if stopping {
            return Err(RunError::Interrupted {
                node: node.to_string(),
                step: Some(done),
                checkpointed: false,
            });
        }
    }
    if let Some(resume) = &resume {
        resume.clear();
    }

    log_timing(ctx, &mut step_seconds, examples_seen);
    let weights = snapshot(node, &mut model)?;
    let checkpoint = ctx.run_dir.checkpoint_path(node);
    save_checkpoint(node, &checkpoint, &weights)?;
    let mut ledger = source.ledger.clone();
    ledger.push(LedgerEntry {
        node: node.to_string(),
        source: data.info.source.clone(),
        license: data.info.license.clone(),
        examples: examples_seen,
    });
    Ok(Artifact::Model(ModelArtifact {
        architecture: source.architecture.clone(),
        data: source.data.clone(),
        weights: Mutex::new(weights),
        checkpoint,
        ledger,
        metrics: final_metrics,
    }))
}

/// Writes a resumable checkpoint; a failure is reported and leaves the previous one intact.
/// Returns whether the checkpoint was written.
fn checkpoint(
    ctx: &NodeRun,
    resume: &ResumeDir,
    progress: Progress,
    model: &mut ForeignModel,
    optimizer: &mut ForeignOptimizer,
) -> bool {
    let step = progress.step;
    let states = model.save_state().and_then(|model_state| {
        optimizer
            .save_state()
            .map(|optimizer_state| (model_state, optimizer_state))
    });
    let (model_state, optimizer_state) = match states {
        Ok(states) => states,
        Err(error) => {
            ctx.observer.message(
                ctx.node,
                &format!("this phase cannot be checkpointed for resuming: {error}"),
            );
            return false;
        }
    };
    let weights = match snapshot(ctx.name(), model) {
        Ok(weights) => weights,
        Err(error) => {
            ctx.observer.message(
                ctx.node,
                &format!("could not snapshot the weights at step {step}: {error}"),
            );
            return false;
        }
    };
    match resume.save(progress, &weights, &model_state, &optimizer_state) {
        Ok(()) => true,
        Err(problem) => {
            ctx.observer.message(
                ctx.node,
                &format!("could not write the checkpoint at step {step} ({problem}); the previous one is intact"),
            );
            false
        }
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

#[cfg(test)]
mod tests {
    use super::{steps_per_epoch, BatchOrder};

    #[test]
    fn batches_cover_each_epoch_once() {
        assert_eq!(steps_per_epoch(10, 4), 3);
        let mut order = BatchOrder::new(1, 10, 4);
        let mut seen: Vec<i64> = Vec::new();
        for _ in 0..3 {
            seen.extend(order.next_batch());
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        assert_eq!(order.next_batch().len(), 4);
    }
}
