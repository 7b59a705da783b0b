//! Tokenizer nodes: train a tokenizer on the training splits of their input datasets (text
//! datasets, in the order given), and keep its `tokenizer.json` in the run directory
//! (`tokenizers/<name>.json`), where Python's `tokenizers` loads it.

use std::sync::Arc;

use exp_ir::ComponentRef;
use exp_plugin_api::host::ForeignTokenizer;
use exp_plugin_api::sdk::Split;

use super::NodeRun;
use crate::artifact::{Artifact, DataSource, TokenizerArtifact};
use crate::error::RunError;
use crate::run_dir::{sha256_hex, RunDir};

pub fn run(ctx: &NodeRun, component: &ComponentRef) -> Result<Artifact, RunError> {
    let mut documents = Vec::new();
    for (input, artifact) in ctx.node.inputs.iter().zip(&ctx.inputs) {
        let Artifact::Dataset(dataset) = artifact.as_ref() else {
            return Err(ctx.internal("a tokenizer input is not a dataset"));
        };
        let DataSource::Plugin(plugin) = &dataset.source else {
            return Err(ctx.internal("a tokenizer input is already tokenized"));
        };
        let mut plugin = plugin
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !plugin.is_text() {
            return Err(RunError::Mismatch {
                node: ctx.name().to_string(),
                message: format!(
                    "`{}` is not a text dataset: a tokenizer learns from documents",
                    ctx.graph.node(input.node).name
                ),
            });
        }
        documents.extend(
            plugin
                .documents(Split::Train)
                .map_err(|error| ctx.plugin_error(error))?,
        );
    }
    let context = ctx.context(ctx.node.seed, None);
    let mut tokenizer = ForeignTokenizer::new(ctx.instantiate(component, &context)?)
        .map_err(|error| ctx.plugin_error(error))?;
    let texts: Vec<&str> = documents
        .iter()
        .map(|document| document.text.as_str())
        .collect();
    tokenizer
        .train(&texts)
        .map_err(|error| ctx.plugin_error(error))?;
    let json = tokenizer
        .to_json()
        .map_err(|error| ctx.plugin_error(error))?;
    let vocabulary = tokenizer
        .vocabulary()
        .map_err(|error| ctx.plugin_error(error))?;
    write_json(ctx, &json)?;
    ctx.run_dir.log_metric(
        ctx.name(),
        None,
        "tokenizer",
        "vocab_size",
        vocabulary.vocab_size as f64,
    );
    Ok(Artifact::Tokenizer(Arc::new(TokenizerArtifact {
        component: component.clone(),
        key: sha256_hex(json.as_bytes()),
        json,
        vocabulary,
    })))
}

/// `tokenizers/<name>.json` in the run directory.
pub fn write_json(ctx: &NodeRun, json: &str) -> Result<(), RunError> {
    let path = ctx.run_dir.tokenizer_path(ctx.name());
    std::fs::create_dir_all(path.parent().unwrap_or(&ctx.run_dir.path))
        .and_then(|()| RunDir::write_atomic(&path, json.as_bytes()))
        .map_err(|error| RunError::io(ctx.name(), &path, error))
}
