//! Training nodes: dataset → batches, forward, loss, backward, optimizer step, learning-rate
//! schedule, periodic evaluation on the test split, final checkpoint.
//!
//! Data order is a fresh permutation of the training split each epoch, drawn from the node's
//! seed; the last batch of an epoch may be smaller (like PyTorch's `drop_last=False`). Any
//! duration parameter of a component (`warmup: 10%`, `1 epoch`) is resolved to steps of this
//! phase before the component is built, so plugins only ever see steps.

use std::sync::Mutex;

use exp_ir::graph::TrainSpec;
use exp_ir::value::Clock;
use exp_ir::{ComponentRef, Duration, DurationUnit, Value};
use exp_plugin_api::host::{ForeignModel, ForeignOptimizer};
use exp_plugin_api::sdk::{SavedState, Split};
use tch::Tensor;

use super::batches::{steps_per_epoch, BatchOrder, MixtureSampler, ReplayBuffer, Sources};
use super::evaluate::{check_output, evaluate_model};
use super::hooks::Hooks;
use super::resume::{Progress, ResumeDir};
use super::schedules;
use super::{load_weights, save_checkpoint, snapshot, NodeRun};
use crate::artifact::{Artifact, LedgerEntry, Memory, MetricsArtifact, ModelArtifact};
use crate::error::RunError;

/// Replaces every duration in a component's parameters by its length in steps of this phase.
pub fn resolve_durations(component: &ComponentRef, clock: &Clock) -> ComponentRef {
    fn resolve(value: &Value, clock: &Clock) -> Value {
        match value {
            Value::Duration(duration) => Value::Duration(Duration {
                amount: duration.to_steps(clock) as f64,
                unit: DurationUnit::Steps,
            }),
            Value::List(items) => {
                Value::List(items.iter().map(|item| resolve(item, clock)).collect())
            }
            Value::Record(fields) => Value::Record(
                fields
                    .iter()
                    .map(|(key, value)| (key.clone(), resolve(value, clock)))
                    .collect(),
            ),
            // A scheduled parameter's scheduler, with durations of its own.
            Value::Schedule(schedule) => {
                let mut schedule = schedule.clone();
                for value in schedule.curve.params.values_mut() {
                    *value = resolve(value, clock);
                }
                Value::Schedule(schedule)
            }
            other => other.clone(),
        }
    }
    let mut resolved = component.clone();
    for value in resolved.params.values_mut() {
        *value = resolve(value, clock);
    }
    resolved
}

pub fn run(ctx: &NodeRun, spec: &TrainSpec) -> Result<Artifact, RunError> {
    let node = ctx.name();
    let source = ctx.model_input("model")?;
    // Text inputs are read as the model reads them: token windows through its tokenizer.
    let inputs = ctx.data_for_model("data", source)?;
    let sources = Sources::new(inputs.iter().map(|data| &**data).collect());
    let data = sources.datasets[0];
    let spe = steps_per_epoch(sources.train_len, spec.batch);
    let elements: i64 = data.info.input_shape.iter().product();
    let mut clock = Clock {
        phase_steps: 0,
        steps_per_epoch: spe,
        tokens_per_step: spec.batch * elements.max(1) as u64,
    };
    let total = spec.steps.to_steps(&clock);
    clock.phase_steps = total;
    ctx.observer.started(ctx.node, Some(total));

    // The model's own scheduled parameters (a masking rate, a temperature) follow the phase.
    let (architecture, mut model_schedules) = schedules::split(
        ctx,
        &resolve_durations(&source.architecture, &clock),
        &ctx.context(ctx.node.seed, Some(source.data.clone())),
        total,
    )?;
    let mut model = ctx.model_with_weights_as(source, &architecture, ctx.node.seed)?;
    let tensors = model
        .named_tensors()
        .map_err(|error| ctx.plugin_error(error))?;
    let named_trainable: Vec<(String, Tensor)> = tensors
        .iter()
        .filter(|(_, tensor)| tensor.requires_grad())
        .map(|(name, tensor)| (name.clone(), tensor.shallow_clone()))
        .collect();
    let trainable: Vec<Tensor> = named_trainable
        .iter()
        .map(|(_, tensor)| tensor.shallow_clone())
        .collect();

    let context = ctx.context(ctx.node.seed, Some(data.info.clone()));
    let (optimizer_ref, mut optimizer_schedules) = schedules::split(
        ctx,
        &resolve_durations(&spec.optimizer, &clock),
        &context,
        total,
    )?;
    let mut optimizer = ctx.optimizer(&optimizer_ref, &context)?;
    let mut evaluators = spec
        .eval
        .iter()
        .map(|evaluator| ctx.evaluator(&resolve_durations(evaluator, &clock), &context))
        .collect::<Result<Vec<_>, _>>()?;
    let eval_every = spec.eval_every.map(|every| every.to_steps(&clock).max(1));
    let log_every = spec.log_every.to_steps(&clock).max(1);
    let hook_components: Vec<ComponentRef> = spec
        .hooks
        .iter()
        .map(|hook| resolve_durations(hook, &clock))
        .collect();
    let anchor = anchor_weights(ctx, &named_trainable)?;
    let mut hooks = {
        let carried = source
            .hooks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Hooks::start(
            ctx,
            &hook_components,
            &context,
            &carried,
            anchor.as_deref().unwrap_or(&named_trainable),
            total,
        )?
    };
    let replayed = ctx.data_for_model("replay", source)?;
    let earlier = Sources::new(replayed.iter().map(|data| &**data).collect());
    let mut replay = match &spec.replay {
        Some(replay) if earlier.train_len > 0 => {
            let buffer = ReplayBuffer::new(replay, &earlier, spec.batch, ctx.node.seed);
            ctx.run_dir
                .log_metric(node, None, "replay", "buffer_examples", buffer.len() as f64);
            Some(buffer)
        }
        _ => None,
    };

    let mut order = BatchOrder::new(
        ctx.node.seed,
        sources.train_len.max(0) as usize,
        spec.batch as usize,
    );
    let mut mixture = spec
        .mixture
        .as_ref()
        .map(|mixture| MixtureSampler::new(mixture, &sources, &clock, spec.batch, ctx.node.seed));
    if let Some(sampler) = &mixture {
        // Points in different units are only comparable once resolved to steps.
        if !sampler.points_increase() {
            return Err(RunError::Mismatch {
                node: node.to_string(),
                message: "the points of `mixture.at` are not increasing once resolved to steps of this phase".to_string(),
            });
        }
    }
    let mut examples_seen: u64 = 0;
    let mut last_finite: Option<f64> = None;
    let mut final_metrics = MetricsArtifact::default();
    let mut first_step: u64 = 0;

    // Resume from the latest checkpoint of this very node (same cache key), if there is one.
    let checkpoint_every = spec
        .checkpoint_every
        .map_or((total / 10).max(1), |every| every.to_steps(&clock).max(1));
    let resume = ctx.resume_dir.clone().map(|dir| ResumeDir { dir });
    if let Some(resume) = &resume {
        match resume.load(ctx.device) {
            Ok(Some(checkpoint)) if checkpoint.progress.total == total => {
                let trainer = unpack_trainer_state(checkpoint.optimizer_state);
                // The samplers' state first, before anything is loaded: without it the run
                // would not continue as it was, so the checkpoint is not used at all.
                let samplers = match (&replay, trainer.replay_rng) {
                    (Some(_), None) => Err("it lacks the replay generator's state".to_string()),
                    _ => match &mut mixture {
                        Some(sampler) => sampler.restore(&trainer.mixture),
                        None => Ok(()),
                    },
                };
                if let Err(problem) = samplers {
                    ctx.observer.message(
                        ctx.node,
                        &format!(
                            "the latest checkpoint cannot be used ({problem}); starting at step 0"
                        ),
                    );
                } else {
                    let progress = checkpoint.progress;
                    load_weights(node, &mut model, &checkpoint.weights)?;
                    model
                        .load_state(&checkpoint.model_state)
                        .map_err(|error| ctx.plugin_error(error))?;
                    optimizer
                        .load_state(&trainer.optimizer)
                        .map_err(|error| ctx.plugin_error(error))?;
                    hooks.load(ctx, trainer.hooks)?;
                    if let (Some(buffer), Some(state)) = (&mut replay, trainer.replay_rng) {
                        buffer.restore(state);
                    }
                    order.restore(&progress.order);
                    examples_seen = progress.examples_seen;
                    last_finite = progress.last_finite;
                    final_metrics = progress.metrics;
                    ctx.run_dir.replay(node, &progress.lines);
                    first_step = progress.step;
                    ctx.observer.message(
                        ctx.node,
                        &format!(
                            "resumed from the checkpoint at step {} of {total}",
                            progress.step
                        ),
                    );
                    ctx.observer.progress(ctx.node, first_step, last_finite);
                }
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
        schedules::advance(ctx, &mut optimizer_schedules, step, total, |name, value| {
            optimizer.set_param(name, value)
        })?;
        schedules::advance(ctx, &mut model_schedules, step, total, |name, value| {
            model.set_param(name, value)
        })?;
        hooks.advance(ctx, step, total)?;
        let mixed;
        let indices = match &mut mixture {
            Some(sampler) => {
                mixed = sampler.next_batch(step);
                &mixed[..]
            }
            None => order.next_batch(),
        };
        examples_seen += indices.len() as u64;
        let (mut x, mut y) = sources
            .batch(indices)
            .map_err(|error| ctx.plugin_error_at(error, step + 1))?;
        if let Some(buffer) = &mut replay {
            let (rx, ry) = earlier
                .batch(&buffer.draw())
                .map_err(|error| ctx.plugin_error_at(error, step + 1))?;
            x = Tensor::cat(&[x, rx], 0);
            y = Tensor::cat(&[y, ry], 0);
        }
        for param in &trainable {
            let mut param = param.shallow_clone();
            param.zero_grad();
        }
        let data_loss = match model.loss(&x, &y) {
            Ok(loss) => loss,
            Err(error) => {
                // A loss that fails may be a model whose output breaks its contract (a head
                // with the wrong number of classes fails as "target out of bounds"); say so
                // with the shapes when it is. Only on this failure path, so the extra forward
                // changes no run that succeeds.
                let output = tch::no_grad(|| model.forward(&x, false));
                if let Ok(output) = output {
                    check_output(ctx, &model, &output, &y, data.info.classes)?;
                }
                return Err(ctx.plugin_error_at(error, step + 1));
            }
        };
        let loss = match hooks.penalty(ctx, &named_trainable, step + 1)? {
            Some(penalty) => data_loss + penalty,
            None => data_loss,
        };
        loss.f_backward().map_err(|error| {
            RunError::tensor(node, &format!("backward at step {}", step + 1), error)
        })?;
        optimizer
            .step(&trainable)
            .map_err(|error| ctx.plugin_error_at(error, step + 1))?;

        let done = step + 1;
        if !hooks.is_empty() && hooks.after_step(ctx, &named_trainable, done, total)? {
            optimizer = ctx.optimizer(&optimizer_ref, &context)?;
            schedules::reset(&mut optimizer_schedules, &optimizer_ref);
        }
        step_seconds.push(step_started.elapsed().as_secs_f64());
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
                let samplers = Samplers {
                    replay_rng: replay.as_ref().map(ReplayBuffer::rng_state),
                    mixture: mixture
                        .as_ref()
                        .map_or(serde_json::Value::Null, MixtureSampler::state),
                };
                let saved = checkpoint(
                    ctx,
                    resume,
                    progress,
                    &mut model,
                    &mut optimizer,
                    &mut hooks,
                    samplers,
                );
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
    let carried = hooks.finish(ctx, &mut model, &sources, spec.batch, &named_trainable)?;
    let live: usize = named_trainable
        .iter()
        .map(|(_, tensor)| tensor.numel())
        .sum();
    let memory = Memory {
        param_copies: hooks.held_elements(&carried) as f64 / live.max(1) as f64,
        replay_examples: replay.as_ref().map_or(0, |buffer| buffer.len() as u64),
    };
    let weights = snapshot(node, &mut model)?;
    let checkpoint = ctx.run_dir.checkpoint_path(node);
    save_checkpoint(node, &checkpoint, &weights)?;
    let mut ledger = source.ledger.clone();
    // Examples seen per source: the batch order draws uniformly from the joint index space,
    // so each source's share is its share of the examples (replayed ones are counted where
    // they first came from).
    // A mixture counts what it drew from each source.
    for (index, dataset) in sources.datasets.iter().enumerate() {
        let examples = match &mixture {
            Some(sampler) => sampler.drawn[index],
            None => {
                let share = dataset.info.train_len.max(0) as f64 / sources.train_len.max(1) as f64;
                (examples_seen as f64 * share).round() as u64
            }
        };
        // A window of a token view holds `context` targets (the training split drops the
        // tail that does not fill one).
        let tokens = dataset
            .info
            .tokens
            .as_ref()
            .map(|_| examples * dataset.info.input_shape.first().copied().unwrap_or(0) as u64);
        ledger.push(LedgerEntry {
            node: node.to_string(),
            source: dataset.info.source.clone(),
            license: dataset.info.license.clone(),
            examples,
            tokens,
        });
    }
    Ok(Artifact::Model(ModelArtifact {
        architecture: source.architecture.clone(),
        data: source.data.clone(),
        weights: Mutex::new(weights),
        checkpoint,
        ledger,
        metrics: final_metrics,
        hooks: Mutex::new(carried),
        memory,
        tokenizer: source.tokenizer.clone(),
    }))
}

/// The weights of the `anchor` input (what the hooks anchor to instead of the phase's start),
/// matched by name and shape to the trainable tensors; `None` without an anchor.
fn anchor_weights(
    ctx: &NodeRun,
    trainable: &[(String, Tensor)],
) -> Result<Option<Vec<(String, Tensor)>>, RunError> {
    let Some(Artifact::Model(anchor)) = ctx.inputs_with_role("anchor").into_iter().next() else {
        return Ok(None);
    };
    let weights = anchor
        .weights
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let anchor_name = ctx
        .node
        .input("anchor")
        .map_or("the anchor", |id| ctx.graph.node(id).name.as_str());
    trainable
        .iter()
        .map(|(name, tensor)| match weights.iter().find(|(other, _)| other == name) {
            Some((_, weight)) if weight.size() == tensor.size() => {
                Ok((name.clone(), weight.to_device(tensor.device())))
            }
            found => Err(RunError::Mismatch {
                node: ctx.name().to_string(),
                message: format!(
                    "tensor `{name}` {:?} has no counterpart of the same shape in the anchor `{anchor_name}`{}",
                    tensor.size(),
                    found.map_or(String::new(), |(_, weight)| format!(" (it is {:?} there)", weight.size()))
                ),
            }),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// What a resumable checkpoint keeps beside the model: the optimizer's state, the hooks'
/// state and the replay generator, packed into one `SavedState` (tensors prefixed by owner).
struct TrainerState {
    optimizer: SavedState,
    hooks: SavedState,
    replay_rng: Option<u64>,
    mixture: serde_json::Value,
}

/// The generators that pick examples beside the batch order.
struct Samplers {
    replay_rng: Option<u64>,
    mixture: serde_json::Value,
}

fn pack_trainer_state(state: TrainerState) -> SavedState {
    let mut tensors = Vec::new();
    for (owner, part) in [("optimizer/", &state.optimizer), ("hooks/", &state.hooks)] {
        for (name, tensor) in &part.tensors {
            tensors.push((format!("{owner}{name}"), tensor.shallow_clone()));
        }
    }
    SavedState {
        tensors,
        data: serde_json::json!({
            "optimizer": state.optimizer.data,
            "hooks": state.hooks.data,
            "replay_rng": state.replay_rng,
            "mixture": state.mixture,
        }),
    }
}

fn unpack_trainer_state(saved: SavedState) -> TrainerState {
    let mut optimizer = Vec::new();
    let mut hooks = Vec::new();
    for (name, tensor) in saved.tensors {
        if let Some(rest) = name.strip_prefix("optimizer/") {
            optimizer.push((rest.to_string(), tensor));
        } else if let Some(rest) = name.strip_prefix("hooks/") {
            hooks.push((rest.to_string(), tensor));
        }
    }
    TrainerState {
        optimizer: SavedState {
            tensors: optimizer,
            data: saved.data["optimizer"].clone(),
        },
        hooks: SavedState {
            tensors: hooks,
            data: saved.data["hooks"].clone(),
        },
        replay_rng: saved.data["replay_rng"].as_u64(),
        mixture: saved.data["mixture"].clone(),
    }
}

/// Writes a resumable checkpoint; a failure is reported and leaves the previous one intact.
/// Returns whether the checkpoint was written.
fn checkpoint(
    ctx: &NodeRun,
    resume: &ResumeDir,
    progress: Progress,
    model: &mut ForeignModel,
    optimizer: &mut ForeignOptimizer,
    hooks: &mut Hooks,
    samplers: Samplers,
) -> bool {
    let step = progress.step;
    let states = model
        .save_state()
        .and_then(|model_state| {
            optimizer
                .save_state()
                .map(|optimizer_state| (model_state, optimizer_state))
        })
        .map_err(|error| error.to_string())
        .and_then(|(model_state, optimizer)| {
            let hooks = hooks.save(ctx).map_err(|error| error.to_string())?;
            let trainer = pack_trainer_state(TrainerState {
                optimizer,
                hooks,
                replay_rng: samplers.replay_rng,
                mixture: samplers.mixture,
            });
            Ok((model_state, trainer))
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
