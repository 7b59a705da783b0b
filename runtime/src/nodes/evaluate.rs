//! Evaluation nodes, and the evaluation loop training nodes share: forward passes without
//! gradients over a split in fixed batches, fed to each evaluator.

use exp_ir::ComponentRef;
use exp_plugin_api::host::{ForeignEvaluator, ForeignModel};
use exp_plugin_api::sdk::Split;

use super::NodeRun;
use crate::artifact::{Artifact, DatasetArtifact, MetricsArtifact};
use crate::error::RunError;

/// Examples per forward pass when evaluating.
pub const EVAL_BATCH: i64 = 512;

pub fn evaluate_model(
    ctx: &NodeRun,
    model: &mut ForeignModel,
    data: &DatasetArtifact,
    split: Split,
    evaluators: &mut [ForeignEvaluator],
) -> Result<MetricsArtifact, RunError> {
    let len = data.info.len(split);
    for evaluator in evaluators.iter_mut() {
        evaluator.reset().map_err(|error| ctx.plugin_error(error))?;
    }
    let mut start = 0;
    while start < len {
        let indices: Vec<i64> = (start..(start + EVAL_BATCH).min(len)).collect();
        let (x, y) = data
            .batch(split, &indices)
            .map_err(|error| ctx.plugin_error(error))?;
        let output =
            tch::no_grad(|| model.forward(&x, false)).map_err(|error| ctx.plugin_error(error))?;
        check_output(ctx, model, &output, &y, data.info.classes)?;
        for evaluator in evaluators.iter_mut() {
            evaluator
                .update(&output, &y)
                .map_err(|error| ctx.plugin_error(error))?;
        }
        start += EVAL_BATCH;
    }
    let mut metrics = MetricsArtifact::default();
    for evaluator in evaluators.iter_mut() {
        for (name, value) in evaluator
            .compute()
            .map_err(|error| ctx.plugin_error(error))?
        {
            metrics.push(&name, value);
        }
    }
    Ok(metrics)
}

/// The model output contract (docs/plugin-abi.md): for a classifier, the targets' shape plus
/// one trailing dimension of `classes` scores. Checked before any evaluator sees the output,
/// so a model with the wrong number of classes fails with its shapes instead of a plausible
/// but meaningless accuracy.
pub fn check_output(
    ctx: &NodeRun,
    model: &ForeignModel,
    output: &tch::Tensor,
    targets: &tch::Tensor,
    classes: i64,
) -> Result<(), RunError> {
    if classes <= 0 {
        return Ok(());
    }
    let mut expected = targets.size();
    expected.push(classes);
    if output.size() == expected {
        return Ok(());
    }
    let (component, plugin) = model.identity();
    Err(RunError::Contract {
        node: ctx.name().to_string(),
        component: component.to_string(),
        plugin: plugin.to_string(),
        message: format!(
            "broke the model output contract: `forward` returned shape {:?} for targets of \
             shape {:?}; expected {expected:?} (the targets' shape plus one score per class, \
             {classes} classes)",
            output.size(),
            targets.size()
        ),
    })
}

/// An evaluation of a split the dataset does not hold out (its fraction is 0): nothing to
/// evaluate, and a number computed from no examples would be meaningless.
fn empty_split(ctx: &NodeRun, split: Split) -> RunError {
    let dataset = ctx.input_name("data");
    let hint = match split {
        Split::Validation => "; hold one out in its definition, such as `validation_fraction: 0.1`",
        Split::Test => "; hold one out in its definition, such as `test_fraction: 0.2`",
        Split::Train => "",
    };
    RunError::Mismatch {
        node: ctx.name().to_string(),
        message: format!(
            "`{dataset}` has no {} split to evaluate on{hint}",
            split.word()
        ),
    }
}

/// Evaluates on each of `splits`. With one, the metrics keep their names; with several, the
/// test split's keep them and another split's are prefixed with it (`validation_accuracy`).
pub fn run(
    ctx: &NodeRun,
    metrics: &[ComponentRef],
    splits: &[String],
) -> Result<Artifact, RunError> {
    let source = ctx.model_input("model")?;
    let mut model = ctx.model_with_weights(source, ctx.node.seed)?;
    let data = ctx.dataset_for_model("data", source)?;
    let mut result = MetricsArtifact::default();
    for word in splits {
        let split = Split::from_word(word).ok_or_else(|| {
            ctx.internal(format!("`{word}` is not a split (this is a bug in exp)"))
        })?;
        let prefix = if splits.len() > 1 && split != Split::Test {
            format!("{word}_")
        } else {
            String::new()
        };
        let metrics = evaluate_split(ctx, &mut model, source, &data, split, metrics)?;
        for name in &metrics.order {
            let value = metrics.values[name];
            ctx.run_dir
                .log_metric(ctx.name(), None, split.word(), name, value);
            result.push(&format!("{prefix}{name}"), value);
        }
    }
    Ok(Artifact::Metrics(result))
}

/// Every metric of `metrics` on one split.
fn evaluate_split(
    ctx: &NodeRun,
    model: &mut ForeignModel,
    source: &crate::artifact::ModelArtifact,
    data: &DatasetArtifact,
    split: Split,
    metrics: &[ComponentRef],
) -> Result<MetricsArtifact, RunError> {
    if data.info.len(split) == 0 {
        return Err(empty_split(ctx, split));
    }
    let context = ctx.context(ctx.node.seed, Some(data.info.clone()));
    // Evaluators of generated text are fed the model's continuations of prompts; the others
    // read the model's outputs on batches of the split.
    let mut reading = Vec::new();
    let mut generating = Vec::new();
    for component in metrics {
        let mut evaluator = ctx.evaluator(component, &context)?;
        match evaluator
            .generation()
            .map_err(|error| ctx.plugin_error(error))?
        {
            Some(generation) => generating.push((component.name.as_str(), evaluator, generation)),
            None => reading.push(evaluator),
        }
    }
    let mut result = if reading.is_empty() {
        MetricsArtifact::default()
    } else {
        evaluate_model(ctx, model, data, split, &mut reading)?
    };
    for (name, mut evaluator, generation) in generating {
        let metrics = super::generate::evaluate_generations(
            ctx,
            model,
            source,
            split,
            (name, &mut evaluator),
            &generation,
        )?;
        for metric in &metrics.order {
            result.push(metric, metrics.values[metric]);
        }
    }
    Ok(result)
}
