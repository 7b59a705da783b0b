//! A model's size before anything runs, for `exp graph`: the model is built as its model node
//! builds it, sized by what sizes it there, and its tensors are counted as the manifest counts
//! the checkpoint's.
//!
//! What sizes a model: its tokenizer's vocabulary (with the window length its schema marks), or
//! its dataset's example shape and classes, or nothing. A tokenizer that learns its vocabulary
//! is not trained for this (that is a node of the graph, and may take minutes): it is asked the
//! most ids training can give (`Tokenizer::vocabulary_bound`), and the size is then a bound.

use exp_ir::value::plain_params;
use exp_ir::{ComponentKind, ComponentRef, ModelSize};
use exp_plugin_api::host::{Foreign, ForeignDataset, ForeignModel, ForeignTokenizer};
use exp_plugin_api::sdk::{Context, DataInfo, TokenInfo};

use crate::registry::Registry;

/// The size of `model` sized by `by` (a tokenizer or a dataset; `None` for a model sized by
/// nothing): the elements of every tensor of the model as built from seed 0 on the CPU. The
/// error says why it cannot be known, in words that follow "cannot size the model: ".
pub fn model_size(
    registry: &Registry,
    model: &ComponentRef,
    by: Option<&ComponentRef>,
) -> Result<ModelSize, String> {
    let (data, exact) = match by {
        None => (None, true),
        Some(by) if by.kind == ComponentKind::Tokenizer => {
            let (vocabulary, exact) = planned_vocabulary(registry, by)?;
            let length = sequence_length(registry, model);
            (Some(token_data_info(length, vocabulary)), exact)
        }
        Some(dataset) => {
            let mut dataset = ForeignDataset::new(build(registry, dataset, None)?)
                .map_err(|error| error.to_string())?;
            (
                Some(dataset.info().map_err(|error| error.to_string())?),
                true,
            )
        }
    };
    if let Some(counted) = counted(registry, model, data.as_ref()) {
        return counted.map(|parameters| ModelSize { parameters, exact });
    }
    let mut built =
        ForeignModel::new(build(registry, model, data)?).map_err(|error| error.to_string())?;
    let tensors = built.named_tensors().map_err(|error| error.to_string())?;
    let parameters = tensors
        .iter()
        .map(|(_, tensor)| tensor.numel() as u64)
        .sum();
    Ok(ModelSize { parameters, exact })
}

/// The model's own count, where it computes one without being built
/// (`Model::parameter_count`): a large model is then sized without allocating it.
fn counted(
    registry: &Registry,
    model: &ComponentRef,
    data: Option<&DataInfo>,
) -> Option<Result<u64, String>> {
    let plugin = registry.provider(ComponentKind::Model, &model.name)?;
    let counted = plugin.parameter_count(&model.name, &plain_params(&model.params), data)?;
    Some(counted.map_err(|error| error.to_string()))
}

/// A tokenizer's vocabulary before training, and whether it is the vocabulary (a tokenizer
/// that needs no training) or the most training can give.
fn planned_vocabulary(
    registry: &Registry,
    tokenizer: &ComponentRef,
) -> Result<(TokenInfo, bool), String> {
    let trained = registry
        .schema(ComponentKind::Tokenizer, &tokenizer.name)
        .is_some_and(|schema| schema.trained);
    let mut built = ForeignTokenizer::new(build(registry, tokenizer, None)?)
        .map_err(|error| error.to_string())?;
    let mut vocabulary = built.vocabulary().map_err(|error| error.to_string())?;
    if !trained {
        return Ok((vocabulary, true));
    }
    let bound = built
        .vocabulary_bound()
        .map_err(|error| error.to_string())?
        .ok_or_else(|| {
            format!(
                "tokenizer `{}` does not say how many ids training can give it \
                 (`Tokenizer::vocabulary_bound`)",
                tokenizer.name
            )
        })?;
    vocabulary.vocab_size = bound.max(vocabulary.vocab_size);
    Ok((vocabulary, false))
}

/// What a model of token sequences is sized by: its window length (`[length]`, or no shape
/// for a model that reads no windows) and its tokenizer's vocabulary as its classes.
pub fn token_data_info(length: Option<usize>, vocabulary: TokenInfo) -> DataInfo {
    DataInfo {
        input_shape: length.map_or_else(Vec::new, |length| vec![length as i64]),
        classes: vocabulary.vocab_size,
        train_len: 0,
        validation_len: 0,
        test_len: 0,
        source: String::new(),
        license: String::new(),
        tokens: Some(vocabulary),
        ..Default::default()
    }
}

/// The window length a model of token sequences reads: the value of the parameter its schema
/// marks `sequence_length`, or `None` for a model that reads no token windows.
pub fn sequence_length(registry: &Registry, architecture: &ComponentRef) -> Option<usize> {
    let param = registry
        .schema(ComponentKind::Model, &architecture.name)?
        .sequence_length()?;
    let length = architecture.params.get(&param.name)?.as_i64()?;
    usize::try_from(length).ok().filter(|length| *length > 0)
}

/// Builds a component on the CPU from seed 0.
fn build(
    registry: &Registry,
    component: &ComponentRef,
    data: Option<DataInfo>,
) -> Result<Foreign, String> {
    let plugin = registry
        .provider(component.kind, &component.name)
        .ok_or_else(|| format!("no plugin provides {} `{}`", component.kind, component.name))?;
    let params = plain_params(&component.params);
    let context = Context {
        seed: 0,
        device: "cpu".to_string(),
        data,
    };
    plugin
        .instantiate(component.kind, &component.name, &params, &context)
        .map_err(|error| error.to_string())
}
