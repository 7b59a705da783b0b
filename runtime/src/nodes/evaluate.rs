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
    let len = match split {
        Split::Train => data.info.train_len,
        Split::Test => data.info.test_len,
    };
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

pub fn run(ctx: &NodeRun, metrics: &[ComponentRef], split: &str) -> Result<Artifact, RunError> {
    let data = ctx.dataset_input("data")?;
    let source = ctx.model_input("model")?;
    let split = if split == "train" {
        Split::Train
    } else {
        Split::Test
    };
    let mut model = ctx.model_with_weights(source, ctx.node.seed)?;
    let context = ctx.context(ctx.node.seed, Some(data.info.clone()));
    let mut evaluators = metrics
        .iter()
        .map(|component| ctx.evaluator(component, &context))
        .collect::<Result<Vec<_>, _>>()?;
    let result = evaluate_model(ctx, &mut model, data, split, &mut evaluators)?;
    let split_word = if split == Split::Train {
        "train"
    } else {
        "test"
    };
    for name in &result.order {
        ctx.run_dir
            .log_metric(ctx.name(), None, split_word, name, result.values[name]);
    }
    Ok(Artifact::Metrics(result))
}
