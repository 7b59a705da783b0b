//! Hooks: components that run inside a training phase's loop.
//!
//! - A regularizer adds its penalty to every step's loss. At the start of a phase it is given
//!   the starting weights (`anchor`); at the end, the final weights and, when it asks, the
//!   diagonal Fisher of the phase's data (`end_task`). Its state then travels with the model to
//!   the next phase that lists the same hook at the same position (a task sequence), so EWC's
//!   Fisher accumulates from task to task.
//! - A merger that can run as a hook (SFA) merges the live weights with an anchor every
//!   `every` steps and at the end of the phase: θ ← merge(anchor, θ), in place, without
//!   gradients. The anchor is the phase's starting weights, or the latest merge's result.
//!
//! Everything here is deterministic: the Fisher's batches and sampled labels come from the
//! node's seed.

use exp_ir::ComponentRef;
use exp_plugin_api::host::{ForeignMerger, ForeignModel, ForeignRegularizer};
use exp_plugin_api::sdk::{Context, FisherEstimator, FisherRequest, HookAnchor, Rng, SavedState};
use tch::{Kind, Tensor};

use super::batches::{BatchOrder, Sources};
use super::schedules::{self, ParamSchedule};
use super::NodeRun;
use crate::artifact::CarriedHook;
use crate::error::RunError;

pub struct MergeHookRun {
    merger: ForeignMerger,
    name: String,
    every: u64,
    anchor_kind: HookAnchor,
    pub keep_optimizer: bool,
    anchor: Vec<Tensor>,
}

pub struct Hooks {
    regularizers: Vec<(usize, String, ForeignRegularizer)>,
    mergers: Vec<(usize, MergeHookRun)>,
    /// Scheduled parameters, by position in `hooks:`.
    schedules: Vec<(usize, Vec<ParamSchedule>)>,
}

/// A copy of each tensor cut off from autograd (`detach` then `copy`: libtorch's
/// `detach_copy` of a tensor that requires grad still requires grad, without a derivative).
fn copies(node: &str, tensors: &[(String, Tensor)]) -> Result<Vec<Tensor>, RunError> {
    tensors
        .iter()
        .map(|(_, tensor)| {
            tensor
                .f_detach()
                .map(|detached| detached.copy())
                .map_err(|error| RunError::tensor(node, "detach", &[tensor], error))
        })
        .collect()
}

impl Hooks {
    /// Builds the hooks (their durations already resolved to steps of this phase), gives each
    /// regularizer its carried state and the anchor weights (the phase's starting weights, or
    /// the `anchor` model's), and takes the merge anchors from them.
    pub fn start(
        ctx: &NodeRun,
        components: &[ComponentRef],
        context: &Context,
        carried: &[CarriedHook],
        anchor: &[(String, Tensor)],
        total: u64,
    ) -> Result<Hooks, RunError> {
        let node = ctx.name();
        let mut hooks = Hooks {
            regularizers: Vec::new(),
            mergers: Vec::new(),
            schedules: Vec::new(),
        };
        for (position, component) in components.iter().enumerate() {
            let (component, schedules) = schedules::split(ctx, component, context, total)?;
            if !schedules.is_empty() {
                hooks.schedules.push((position, schedules));
            }
            let component = &component;
            let carried = carried
                .iter()
                .find(|hook| hook.position == position && hook.name == component.name);
            match component.kind {
                exp_ir::ComponentKind::Regularizer => {
                    let mut regularizer = ctx.regularizer(component, context)?;
                    if let Some(carried) = carried {
                        regularizer
                            .load_state(&carried.state())
                            .map_err(|error| ctx.plugin_error(error))?;
                    }
                    regularizer
                        .anchor(anchor)
                        .map_err(|error| ctx.plugin_error(error))?;
                    hooks
                        .regularizers
                        .push((position, component.name.clone(), regularizer));
                }
                _ => {
                    let mut merger = ctx.merger(component, context)?;
                    let plan = merger
                        .as_hook()
                        .map_err(|error| ctx.plugin_error(error))?
                        .ok_or_else(|| RunError::Mismatch {
                            node: node.to_string(),
                            message: format!(
                                "the merger `{}` cannot run during training; use it in a `merge` definition instead",
                                component.name
                            ),
                        })?;
                    hooks.mergers.push((
                        position,
                        MergeHookRun {
                            merger,
                            name: component.name.clone(),
                            every: plan.every.max(1),
                            anchor_kind: plan.anchor,
                            keep_optimizer: plan.keep_optimizer,
                            anchor: copies(node, anchor)?,
                        },
                    ));
                }
            }
        }
        Ok(hooks)
    }

    /// The tensor elements the hooks hold at the end of a phase: the merge anchors, and the
    /// regularizers' state as `finish` carried it out (not saved a second time).
    pub fn held_elements(&self, carried: &[CarriedHook]) -> i64 {
        let anchors: usize = self
            .mergers
            .iter()
            .map(|(_, hook)| hook.anchor.iter().map(Tensor::numel).sum::<usize>())
            .sum();
        let states: usize = carried
            .iter()
            .map(|hook| {
                hook.tensors
                    .iter()
                    .map(|(_, tensor)| tensor.numel())
                    .sum::<usize>()
            })
            .sum();
        (anchors + states) as i64
    }

    /// Moves the hooks' scheduled parameters to `step`.
    pub fn advance(&mut self, ctx: &NodeRun, step: u64, total: u64) -> Result<(), RunError> {
        for (position, schedules) in &mut self.schedules {
            if let Some((_, _, regularizer)) = self
                .regularizers
                .iter_mut()
                .find(|(at, _, _)| at == position)
            {
                schedules::advance(ctx, schedules, step, total, |name, value| {
                    regularizer.set_param(name, value)
                })?;
            } else if let Some((_, hook)) = self.mergers.iter_mut().find(|(at, _)| at == position) {
                schedules::advance(ctx, schedules, step, total, |name, value| {
                    hook.merger.set_param(name, value)
                })?;
            }
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.regularizers.is_empty() && self.mergers.is_empty()
    }

    /// The regularizers' penalties, summed (`None` without regularizers).
    pub fn penalty(
        &mut self,
        ctx: &NodeRun,
        trainable: &[(String, Tensor)],
        step: u64,
    ) -> Result<Option<Tensor>, RunError> {
        let mut total: Option<Tensor> = None;
        for (_, _, regularizer) in &mut self.regularizers {
            let penalty = regularizer
                .penalty(trainable)
                .map_err(|error| ctx.plugin_error_at(error, step))?;
            total = Some(match total {
                Some(sum) => sum + penalty,
                None => penalty,
            });
        }
        Ok(total)
    }

    /// Runs the merge hooks due after step `done` of `total`; returns whether any merged and
    /// asked for the optimizer's state to be reset.
    pub fn after_step(
        &mut self,
        ctx: &NodeRun,
        trainable: &[(String, Tensor)],
        done: u64,
        total: u64,
    ) -> Result<bool, RunError> {
        let node = ctx.name();
        let mut reset_optimizer = false;
        for (_, hook) in &mut self.mergers {
            if !done.is_multiple_of(hook.every) && done != total {
                continue;
            }
            tch::no_grad(|| -> Result<(), RunError> {
                for ((name, live), anchor) in trainable.iter().zip(&hook.anchor) {
                    let merged = hook
                        .merger
                        .merge(name, &[anchor.shallow_clone(), live.shallow_clone()])
                        .map_err(|error| ctx.plugin_error_at(error, done))?;
                    let mut target = live.shallow_clone();
                    target.f_copy_(&merged).map_err(|error| {
                        RunError::tensor(node, "copy_", &[live, &merged], error)
                    })?;
                }
                Ok(())
            })?;
            if hook.anchor_kind == HookAnchor::PreviousMerge {
                hook.anchor = copies(node, trainable)?;
            }
            reset_optimizer |= !hook.keep_optimizer;
        }
        Ok(reset_optimizer)
    }

    /// Ends the phase: computes the Fisher for the regularizers that ask, calls `end_task`,
    /// and returns every regularizer's state to carry to the next phase.
    pub fn finish(
        &mut self,
        ctx: &NodeRun,
        model: &mut ForeignModel,
        data: &Sources<'_>,
        batch: u64,
        trainable: &[(String, Tensor)],
    ) -> Result<Vec<CarriedHook>, RunError> {
        let mut carried = Vec::new();
        for (position, name, regularizer) in &mut self.regularizers {
            let request = regularizer
                .fisher_request()
                .map_err(|error| ctx.plugin_error(error))?;
            let fisher = match request {
                Some(request) => Some(fisher(ctx, model, data, batch, trainable, &request)?),
                None => None,
            };
            regularizer
                .end_task(trainable, fisher.as_deref())
                .map_err(|error| ctx.plugin_error(error))?;
            let state = regularizer
                .save_state()
                .map_err(|error| ctx.plugin_error(error))?;
            carried.push(CarriedHook::new(*position, name, state));
        }
        Ok(carried)
    }

    /// The state a resumable checkpoint needs: each regularizer's state and each merge anchor.
    pub fn save(&mut self, ctx: &NodeRun) -> Result<SavedState, RunError> {
        let mut tensors = Vec::new();
        let mut data = serde_json::Map::new();
        for (position, _, regularizer) in &mut self.regularizers {
            let state = regularizer
                .save_state()
                .map_err(|error| ctx.plugin_error(error))?;
            for (name, tensor) in state.tensors {
                tensors.push((format!("hook{position}/{name}"), tensor));
            }
            data.insert(format!("hook{position}"), state.data);
        }
        for (position, hook) in &self.mergers {
            for (index, anchor) in hook.anchor.iter().enumerate() {
                tensors.push((
                    format!("hook{position}/anchor/{index}"),
                    anchor.shallow_clone(),
                ));
            }
            data.insert(
                format!("hook{position}"),
                serde_json::json!({ "merger": hook.name }),
            );
        }
        Ok(SavedState {
            tensors,
            data: serde_json::Value::Object(data),
        })
    }

    /// Restores what `save` wrote.
    pub fn load(&mut self, ctx: &NodeRun, mut saved: SavedState) -> Result<(), RunError> {
        for (position, _, regularizer) in &mut self.regularizers {
            let prefix = format!("hook{position}/");
            let (mine, rest): (Vec<_>, Vec<_>) = saved
                .tensors
                .into_iter()
                .partition(|(name, _)| name.starts_with(&prefix));
            saved.tensors = rest;
            let state = SavedState {
                tensors: mine
                    .into_iter()
                    .map(|(name, tensor)| (name[prefix.len()..].to_string(), tensor))
                    .collect(),
                data: saved.data[format!("hook{position}")].clone(),
            };
            regularizer
                .load_state(&state)
                .map_err(|error| ctx.plugin_error(error))?;
        }
        for (position, hook) in &mut self.mergers {
            for (index, anchor) in hook.anchor.iter_mut().enumerate() {
                let key = format!("hook{position}/anchor/{index}");
                let (_, tensor) = saved
                    .tensors
                    .iter()
                    .find(|(name, _)| *name == key)
                    .ok_or_else(|| {
                        // Resuming without it would not give the uninterrupted run's weights.
                        ctx.internal(format!("the checkpoint lacks the merge anchor `{key}`"))
                    })?;
                *anchor = tensor.shallow_clone();
            }
        }
        Ok(())
    }
}

/// The diagonal Fisher of the model's loss on `request.batches` training batches: the mean of
/// squared gradients, per example or per batch, at the true labels (`empirical`) or at labels
/// drawn from the model's own predictions (`sampled`).
fn fisher(
    ctx: &NodeRun,
    model: &mut ForeignModel,
    data: &Sources<'_>,
    batch: u64,
    trainable: &[(String, Tensor)],
    request: &FisherRequest,
) -> Result<Vec<(String, Tensor)>, RunError> {
    let node = ctx.name();
    let seed = ctx.node.seed ^ 0x4669_7368_6572;
    let mut order = BatchOrder::new(seed, data.train_len.max(0) as usize, batch as usize);
    let mut rng = Rng::new(seed.rotate_left(17));
    let mut sums: Vec<Tensor> = trainable
        .iter()
        .map(|(_, tensor)| tensor.zeros_like())
        .collect();
    let mut count = 0.0;
    let zero_grads = || {
        for (_, tensor) in trainable {
            let mut tensor = tensor.shallow_clone();
            tensor.zero_grad();
        }
    };
    let mut accumulate =
        |model: &mut ForeignModel, x: &Tensor, y: &Tensor| -> Result<(), RunError> {
            zero_grads();
            let loss = model.loss(x, y).map_err(|error| ctx.plugin_error(error))?;
            loss.f_backward()
                .map_err(|error| RunError::tensor(node, "backward (Fisher)", &[&loss], error))?;
            tch::no_grad(|| {
                for (sum, (_, tensor)) in sums.iter_mut().zip(trainable) {
                    let grad = tensor.grad();
                    if grad.defined() {
                        *sum += grad.square();
                    }
                }
            });
            count += 1.0;
            Ok(())
        };
    for _ in 0..request.batches.max(1) {
        let indices = order.next_batch().to_vec();
        let (x, y) = data
            .batch(&indices)
            .map_err(|error| ctx.plugin_error(error))?;
        let y = match request.estimator {
            FisherEstimator::Empirical => y,
            FisherEstimator::Sampled => {
                let logits = tch::no_grad(|| model.forward(&x, false))
                    .map_err(|error| ctx.plugin_error(error))?;
                sample_labels(&logits, &mut rng).map_err(|error| {
                    RunError::tensor(
                        ctx.name(),
                        "sampling labels for the Fisher estimate",
                        &[&logits],
                        error,
                    )
                })?
            }
        };
        if request.per_example {
            for i in 0..x.size()[0] {
                accumulate(model, &x.narrow(0, i, 1), &y.narrow(0, i, 1))?;
            }
        } else {
            accumulate(model, &x, &y)?;
        }
    }
    zero_grads();
    Ok(trainable
        .iter()
        .zip(sums)
        .map(|((name, _), sum)| (name.clone(), sum / count))
        .collect())
}

/// One class per row, drawn from the softmax of the logits with the node's generator.
fn sample_labels(logits: &Tensor, rng: &mut Rng) -> Result<Tensor, tch::TchError> {
    let probabilities = logits
        .f_softmax(-1, Kind::Double)?
        .f_to_device(tch::Device::Cpu)?;
    let (rows, classes) = match probabilities.size()[..] {
        [rows, classes] => (rows, classes),
        ref shape => {
            return Err(tch::TchError::Shape(format!(
                "expected logits of shape [batch, classes], found {shape:?}"
            )))
        }
    };
    let values: Vec<f64> = Vec::<f64>::try_from(probabilities.f_flatten(0, -1)?)?;
    let labels: Vec<i64> = (0..rows as usize)
        .map(|row| {
            let draw = rng.next_f64();
            let mut cumulative = 0.0;
            let row_values = &values[row * classes as usize..(row + 1) * classes as usize];
            row_values
                .iter()
                .position(|p| {
                    cumulative += p;
                    draw < cumulative
                })
                .unwrap_or(classes as usize - 1) as i64
        })
        .collect();
    Tensor::from_slice(&labels).f_to_device(logits.device())
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::Rng;
    use tch::Tensor;

    use super::sample_labels;

    #[test]
    fn sampled_labels_follow_the_predicted_distribution() {
        // Row 0 is all but certain of class 2, row 1 of class 0.
        let logits = Tensor::from_slice(&[0.0f32, 0.0, 40.0, 40.0, 0.0, 0.0]).reshape([2, 3]);
        let labels =
            Vec::<i64>::try_from(sample_labels(&logits, &mut Rng::new(1)).unwrap()).unwrap();
        assert_eq!(labels, vec![2, 0]);
        // Even logits: every class comes up, about equally often, and a seed repeats its draw.
        let even = Tensor::zeros([3000, 3], (tch::Kind::Float, tch::Device::Cpu));
        let draws = Vec::<i64>::try_from(sample_labels(&even, &mut Rng::new(2)).unwrap()).unwrap();
        for class in 0..3 {
            let count = draws.iter().filter(|label| **label == class).count();
            assert!((900..1100).contains(&count), "class {class}: {count}");
        }
        let again = Vec::<i64>::try_from(sample_labels(&even, &mut Rng::new(2)).unwrap()).unwrap();
        assert_eq!(draws, again);
        // Logits that are not [batch, classes] are an error, not an empty draw.
        let flat = Tensor::zeros([6], (tch::Kind::Float, tch::Device::Cpu));
        let error = sample_labels(&flat, &mut Rng::new(3)).unwrap_err();
        assert!(error.to_string().contains("[batch, classes]"), "{error}");
    }
}
