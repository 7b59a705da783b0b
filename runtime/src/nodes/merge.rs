//! Merge nodes: check the inputs share an architecture (same tensor names and shapes), then hand
//! the merger every tensor of every input in one call, so a merger can look at the whole model
//! (TIES trims over all of it).

use std::sync::Mutex;

use exp_ir::ComponentRef;
use tch::Tensor;

use super::{save_checkpoint, NodeRun};
use crate::artifact::{Artifact, Memory, MetricsArtifact, ModelArtifact};
use crate::error::RunError;
use crate::weights::Weights;

pub fn run(ctx: &NodeRun, component: &ComponentRef) -> Result<Artifact, RunError> {
    let node = ctx.name();
    let models: Vec<&ModelArtifact> = ctx
        .inputs_with_role("inputs")
        .into_iter()
        .map(|artifact| match artifact {
            Artifact::Model(model) => Ok(model),
            other => Err(ctx.internal(format!("merge input is a {}", other.kind_word()))),
        })
        .collect::<Result<_, _>>()?;
    let first = models
        .first()
        .ok_or_else(|| ctx.internal("a merge without inputs"))?;
    let input_names: Vec<&str> = ctx
        .node
        .inputs
        .iter()
        .map(|input| ctx.graph.node(input.node).name.as_str())
        .collect();
    for (position, model) in models.iter().enumerate().skip(1) {
        let tokenizer_key = |model: &ModelArtifact| model.tokenizer.as_ref().map(|t| t.key.clone());
        if tokenizer_key(model) != tokenizer_key(first) {
            return Err(RunError::Mismatch {
                node: node.to_string(),
                message: format!(
                    "`{}` and `{}` read text through different tokenizers; only models of one \
                     vocabulary can be merged",
                    input_names[0], input_names[position]
                ),
            });
        }
        if model.architecture.name != first.architecture.name
            || model.architecture.params != first.architecture.params
        {
            return Err(RunError::Mismatch {
                node: node.to_string(),
                message: format!(
                    "`{}` and `{}` have different architectures (`{}` vs `{}` or different parameters); only models of one architecture can be merged",
                    input_names[0], input_names[position], first.architecture.name, model.architecture.name
                ),
            });
        }
    }
    // Each input's weights are read one at a time, as shallow clones (`Weights::read`): holding
    // every input's lock at once deadlocked a merge that lists an input twice (`average(a,
    // a)`), and two merges that take the same inputs in opposite orders.
    let read: Vec<Vec<(String, Tensor)>> = models
        .iter()
        .map(|model| ctx.weights_of(model))
        .collect::<Result<_, _>>()?;
    let context = ctx.context(ctx.node.seed, Some(first.data.clone()));
    let mut merger = ctx.merger(component, &context)?;
    let mut tensors: Vec<(String, Vec<Tensor>)> = Vec::with_capacity(read[0].len());
    for (index, (name, tensor)) in read[0].iter().enumerate() {
        let mut inputs: Vec<Tensor> = vec![tensor.shallow_clone()];
        for (position, weights) in read.iter().enumerate().skip(1) {
            match weights.get(index) {
                Some((other_name, other))
                    if other_name == name && other.size() == tensor.size() =>
                {
                    inputs.push(other.shallow_clone())
                }
                _ => {
                    return Err(RunError::Mismatch {
                        node: node.to_string(),
                        message: format!(
                        "tensor `{name}` {:?} of `{}` has no counterpart of the same shape in `{}`",
                        tensor.size(),
                        input_names[0],
                        input_names[position]
                    ),
                    })
                }
            }
        }
        tensors.push((name.clone(), inputs));
    }
    let outputs = merger
        .merge_model(&tensors)
        .map_err(|error| ctx.plugin_error(error))?;
    let merged: Vec<(String, Tensor)> = tensors
        .into_iter()
        .map(|(name, _)| name)
        .zip(outputs)
        .collect();
    let checkpoint = ctx.run_dir.checkpoint_path(node);
    save_checkpoint(node, &checkpoint, &merged)?;
    let ledger = models
        .iter()
        .flat_map(|model| model.ledger.iter().cloned())
        .collect();
    Ok(Artifact::Model(ModelArtifact {
        architecture: first.architecture.clone(),
        data: first.data.clone(),
        weights: Weights::new(merged),
        checkpoint,
        ledger,
        metrics: MetricsArtifact::default(),
        hooks: Mutex::new(Vec::new()),
        // A merge holds every input but one beside the result.
        memory: Memory {
            param_copies: models.len().saturating_sub(1) as f64,
            replay_examples: 0,
        },
        tokenizer: first.tokenizer.clone(),
    }))
}
