//! Building a training phase: the clock its durations resolve against, the model with its
//! input's weights, the optimizer, every scheduled parameter, the evaluators, the hooks, the
//! replay buffer and the batch order (or mixture).

use exp_ir::graph::{Precision, TrainSpec};
use exp_ir::value::Clock;
use exp_ir::ComponentRef;
use exp_plugin_api::host::{ForeignEvaluator, ForeignModel, ForeignOptimizer};
use exp_plugin_api::sdk::Context;
use tch::Tensor;

use super::resolve_durations;
use crate::artifact::{Artifact, DatasetArtifact, MetricsArtifact, ModelArtifact};
use crate::error::RunError;
use crate::nodes::batches::{steps_per_epoch, BatchOrder, MixtureSampler, ReplayBuffer, Sources};
use crate::nodes::hooks::Hooks;
use crate::nodes::resume::ResumeDir;
use crate::nodes::schedules::{self, ParamSchedule};
use crate::nodes::text::Data;
use crate::nodes::NodeRun;
use crate::precision::LossScale;

/// A training phase under way.
pub struct Trainer<'a, 'r> {
    pub(super) ctx: &'a NodeRun<'r>,
    pub(super) spec: &'a TrainSpec,
    /// The model the phase starts from.
    pub(super) source: &'a ModelArtifact,
    /// The training data (every `data` input, as one index space) and the replayed data.
    pub(super) sources: Sources<'a>,
    pub(super) earlier: Sources<'a>,
    /// The phase's length in steps, and the next step to take (0-based).
    pub total: u64,
    pub step: u64,
    pub(super) context: Context,
    pub(super) model: ForeignModel,
    /// The trainable tensors by name, sharing storage with the model.
    pub(super) named_trainable: Vec<(String, Tensor)>,
    pub(super) trainable: Vec<Tensor>,
    /// The optimizer as built (its scheduled parameters at their starting values), to build
    /// it again when a hook resets it.
    pub(super) optimizer_ref: ComponentRef,
    pub(super) optimizer: ForeignOptimizer,
    /// For each trainable tensor, whether weight decay must leave it alone (as the model says).
    pub(super) no_decay: Vec<bool>,
    pub(super) optimizer_schedules: Vec<ParamSchedule>,
    pub(super) model_schedules: Vec<ParamSchedule>,
    pub(super) evaluators: Vec<ForeignEvaluator>,
    pub(super) eval_every: Option<u64>,
    pub(super) log_every: u64,
    pub(super) checkpoint_every: u64,
    pub(super) hooks: Hooks,
    pub(super) replay: Option<ReplayBuffer>,
    pub(super) order: BatchOrder,
    pub(super) mixture: Option<MixtureSampler>,
    pub(super) resume_dir: Option<ResumeDir>,
    pub(super) examples_seen: u64,
    pub(super) last_finite: Option<f64>,
    pub(super) final_metrics: MetricsArtifact,
    /// The loss scale of an `fp16` phase.
    pub(super) loss_scale: Option<LossScale>,
    /// The last step's global gradient norm before clipping, where it was computed.
    pub(super) grad_norm: Option<Tensor>,
    /// Wall time of each optimizer step (batch, forward, backward, update), without
    /// evaluation and logging, so benchmarks compare training alone.
    pub(super) step_seconds: Vec<f64>,
}

impl<'a, 'r> Trainer<'a, 'r> {
    pub fn setup(
        ctx: &'a NodeRun<'r>,
        spec: &'a TrainSpec,
        source: &'a ModelArtifact,
        inputs: &'a [Data<'a>],
        replayed: &'a [Data<'a>],
    ) -> Result<Trainer<'a, 'r>, RunError> {
        let sources = Sources::new(inputs.iter().map(|data| &**data).collect());
        let earlier = Sources::new(replayed.iter().map(|data| &**data).collect());
        let data: &DatasetArtifact = sources.datasets[0];
        let elements: i64 = data.info.input_shape.iter().product();
        let mut clock = Clock {
            phase_steps: 0,
            steps_per_epoch: steps_per_epoch(sources.train_len, spec.batch),
            tokens_per_step: spec.batch * elements.max(1) as u64,
        };
        let total = spec.steps.to_steps(&clock);
        clock.phase_steps = total;
        ctx.observer.started(ctx.node, Some(total));

        // The model's own scheduled parameters (a masking rate, a temperature) follow the phase.
        let (architecture, model_schedules) = schedules::split(
            ctx,
            &resolve_durations(&source.architecture, &clock),
            &ctx.context(ctx.node.seed, Some(source.data.clone())),
            total,
        )?;
        let mut model = ctx.model_with_weights_as(source, &architecture, ctx.node.seed)?;
        let named_trainable: Vec<(String, Tensor)> = model
            .named_tensors()
            .map_err(|error| ctx.plugin_error(error))?
            .into_iter()
            .filter(|(_, tensor)| tensor.requires_grad())
            .collect();
        let trainable: Vec<Tensor> = named_trainable
            .iter()
            .map(|(_, tensor)| tensor.shallow_clone())
            .collect();

        let context = ctx.context(ctx.node.seed, Some(data.info.clone()));
        let (optimizer_ref, optimizer_schedules) = schedules::split(
            ctx,
            &resolve_durations(&spec.optimizer, &clock),
            &context,
            total,
        )?;
        let no_decay = no_decay_flags(ctx, &mut model, &named_trainable)?;
        let optimizer = build_optimizer(ctx, &optimizer_ref, &context, &no_decay)?;
        let evaluators = spec
            .eval
            .iter()
            .map(|evaluator| ctx.evaluator(&resolve_durations(evaluator, &clock), &context))
            .collect::<Result<Vec<_>, _>>()?;
        let hooks = start_hooks(ctx, spec, source, &clock, &context, &named_trainable, total)?;
        let replay = match &spec.replay {
            Some(replay) if earlier.train_len > 0 => {
                let buffer = ReplayBuffer::new(replay, &earlier, spec.batch, ctx.node.seed);
                ctx.run_dir.log_metric(
                    ctx.name(),
                    None,
                    "replay",
                    "buffer_examples",
                    buffer.len() as f64,
                );
                Some(buffer)
            }
            _ => None,
        };
        let order = BatchOrder::new(
            ctx.node.seed,
            sources.train_len.max(0) as usize,
            spec.batch as usize,
        );
        let mixture = match &spec.mixture {
            Some(mixture) => {
                let sampler =
                    MixtureSampler::new(mixture, &sources, &clock, spec.batch, ctx.node.seed);
                // Points in different units are only comparable once resolved to steps.
                if !sampler.points_increase() {
                    return Err(RunError::Mismatch {
                        node: ctx.name().to_string(),
                        message: "the points of `mixture.at` are not increasing once resolved \
                                  to steps of this phase"
                            .to_string(),
                    });
                }
                Some(sampler)
            }
            None => None,
        };
        Ok(Trainer {
            ctx,
            spec,
            source,
            eval_every: spec.eval_every.map(|every| every.to_steps(&clock).max(1)),
            log_every: spec.log_every.to_steps(&clock).max(1),
            checkpoint_every: spec
                .checkpoint_every
                .map_or((total / 10).max(1), |every| every.to_steps(&clock).max(1)),
            resume_dir: ctx.resume_dir.clone().map(|dir| ResumeDir { dir }),
            sources,
            earlier,
            total,
            step: 0,
            context,
            model,
            named_trainable,
            trainable,
            optimizer_ref,
            optimizer,
            no_decay,
            optimizer_schedules,
            model_schedules,
            evaluators,
            hooks,
            replay,
            order,
            mixture,
            examples_seen: 0,
            last_finite: None,
            final_metrics: MetricsArtifact::default(),
            loss_scale: (spec.precision == Precision::Fp16).then(LossScale::default),
            grad_norm: None,
            step_seconds: Vec::with_capacity(total as usize),
        })
    }

    /// Training tokens seen so far, for a phase on text: every window holds as many targets as
    /// it is long (the training split drops the tail that does not fill one).
    pub(super) fn tokens_seen(&self) -> Option<u64> {
        let data = self.data();
        data.info.tokens.as_ref()?;
        Some(self.examples_seen * data.info.input_shape.first().copied().unwrap_or(0) as u64)
    }

    /// The first training dataset: the one evaluations during the phase read.
    pub(super) fn data(&self) -> &'a DatasetArtifact {
        self.sources.datasets[0]
    }
}

/// The optimizer, told which parameters weight decay leaves alone.
pub(super) fn build_optimizer(
    ctx: &NodeRun,
    optimizer_ref: &ComponentRef,
    context: &Context,
    no_decay: &[bool],
) -> Result<ForeignOptimizer, RunError> {
    let mut optimizer = ctx.optimizer(optimizer_ref, context)?;
    if no_decay.iter().any(|exempt| *exempt) {
        optimizer
            .set_no_decay(no_decay)
            .map_err(|error| ctx.plugin_error(error))?;
    }
    Ok(optimizer)
}

/// For each trainable tensor, whether the model exempts it from weight decay. A name the
/// model gives that is none of its tensors is a broken contract, said with the names it has.
fn no_decay_flags(
    ctx: &NodeRun,
    model: &mut ForeignModel,
    trainable: &[(String, Tensor)],
) -> Result<Vec<bool>, RunError> {
    let exempt = model.no_decay().map_err(|error| ctx.plugin_error(error))?;
    let all = model
        .named_tensors()
        .map_err(|error| ctx.plugin_error(error))?;
    if let Some(unknown) = exempt
        .iter()
        .find(|name| !all.iter().any(|(other, _)| other == *name))
    {
        return Err(RunError::Mismatch {
            node: ctx.name().to_string(),
            message: format!(
                "the model names `{unknown}` as exempt from weight decay, but has no tensor of                  that name (it has {})",
                all.iter()
                    .take(8)
                    .map(|(name, _)| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    Ok(trainable
        .iter()
        .map(|(name, _)| exempt.contains(name))
        .collect())
}

/// The phase's hooks, anchored to the `anchor` input when there is one (else to the phase's
/// starting weights), with the state the source model carried from its own phase.
fn start_hooks(
    ctx: &NodeRun,
    spec: &TrainSpec,
    source: &ModelArtifact,
    clock: &Clock,
    context: &Context,
    named_trainable: &[(String, Tensor)],
    total: u64,
) -> Result<Hooks, RunError> {
    let hook_components: Vec<ComponentRef> = spec
        .hooks
        .iter()
        .map(|hook| resolve_durations(hook, clock))
        .collect();
    let anchor = anchor_weights(ctx, named_trainable)?;
    let carried = source
        .hooks
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Hooks::start(
        ctx,
        &hook_components,
        context,
        &carried,
        anchor.as_deref().unwrap_or(named_trainable),
        total,
    )
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
    let weights = ctx.weights_of(anchor)?;
    let anchor_name = ctx
        .node
        .input("anchor")
        .map_or("the anchor", |id| ctx.graph.node(id).name.as_str());
    trainable
        .iter()
        .map(
            |(name, tensor)| match weights.iter().find(|(other, _)| other == name) {
                Some((_, weight)) if weight.size() == tensor.size() => {
                    Ok((name.clone(), weight.to_device(tensor.device())))
                }
                found => Err(RunError::Mismatch {
                    node: ctx.name().to_string(),
                    message: format!(
                        "tensor `{name}` {:?} has no counterpart of the same shape in the anchor \
                     `{anchor_name}`{}",
                        tensor.size(),
                        found.map_or(String::new(), |(_, weight)| format!(
                            " (it is {:?} there)",
                            weight.size()
                        ))
                    ),
                }),
            },
        )
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}
