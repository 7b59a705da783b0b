//! Evaluating generated text: a model of token sequences greedily continues the prompt of
//! every document of a split (the text before its answer, or its first tokens), each
//! continuation is decoded and cut at the evaluator's stop, and the evaluator compares it with
//! the reference. Every generation is kept in the run directory, in
//! `generations/<node>.<evaluator>.jsonl` (`prompt`, `generated`, `reference`).

use exp_plugin_api::host::{ForeignEvaluator, ForeignModel};
use exp_plugin_api::sdk::{Document, Generation, Split, Stop};

use super::NodeRun;
use crate::artifact::{Artifact, DataSource, MetricsArtifact, ModelArtifact};
use crate::error::RunError;
use crate::run_dir::RunDir;

/// Prompts generated in one call: bounds the model's cache, not the result.
const GENERATE_BATCH: usize = 64;

/// One prompt to continue: its ids, its text and the reference continuation.
struct Prompt {
    ids: Vec<i64>,
    text: String,
    reference: String,
}

pub fn evaluate_generations(
    ctx: &NodeRun,
    model: &mut ForeignModel,
    source: &ModelArtifact,
    split: Split,
    (name, evaluator): (&str, &mut ForeignEvaluator),
    generation: &Generation,
) -> Result<MetricsArtifact, RunError> {
    let mismatch = |message: String| RunError::Mismatch {
        node: ctx.name().to_string(),
        message,
    };
    let tokenizer = source.tokenizer.as_ref().ok_or_else(|| {
        mismatch(format!(
            "`{name}` evaluates generated text, and model `{}` has no tokenizer to write it with",
            source.architecture.name
        ))
    })?;
    let (input, dataset) = ctx
        .node
        .inputs
        .iter()
        .zip(&ctx.inputs)
        .find_map(|(input, artifact)| match artifact.as_ref() {
            Artifact::Dataset(dataset) if input.role == "data" => Some((input, dataset)),
            _ => None,
        })
        .ok_or_else(|| ctx.internal("missing input `data`"))?;
    let DataSource::Plugin(plugin) = &dataset.source else {
        return Err(ctx.internal("a token view has no documents"));
    };
    let documents = plugin
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .documents(split)
        .map_err(|error| {
            mismatch(format!(
                "`{name}` evaluates generated text, so its data must be a text dataset: {error}"
            ))
        })?;
    let dataset_key = &ctx.keys[input.node.0].key;
    let tokenized = ctx.tokenized(tokenizer, dataset_key, dataset, split)?;
    let mut object = ctx.tokenizer_object(tokenizer)?;
    let eot = tokenizer.vocabulary.special.get("<|endoftext|>").copied();
    let context = ctx
        .sequence_length(&source.architecture)
        .unwrap_or(usize::MAX);
    let max_new = generation.max_new_tokens as usize;
    let limit = generation
        .max_documents
        .map_or(documents.len(), |limit| limit as usize);
    let mut prompts = Vec::new();
    for ((document, ids), answer_at) in documents
        .iter()
        .zip(&tokenized.docs)
        .zip(&tokenized.answer_at)
        .take(limit)
    {
        if let Some(prompt) = prompt(document, ids, *answer_at, generation, &mut object, ctx)? {
            prompts.push(prompt);
        }
    }
    // The prompt keeps its last tokens when it and the continuation would not fit the window.
    let room = context.saturating_sub(max_new).max(1);
    for prompt in &mut prompts {
        let excess = prompt.ids.len().saturating_sub(room);
        prompt.ids.drain(..excess);
    }
    evaluator.reset().map_err(|error| ctx.plugin_error(error))?;
    let mut lines = String::new();
    for chunk in prompts.chunks(GENERATE_BATCH) {
        let ids: Vec<Vec<i64>> = chunk.iter().map(|prompt| prompt.ids.clone()).collect();
        let generated = model
            .generate(&ids, max_new, eot)
            .map_err(|error| ctx.plugin_error(error))?;
        for (prompt, new_ids) in chunk.iter().zip(generated) {
            let kept: Vec<u32> = new_ids
                .iter()
                .take_while(|id| Some(**id) != eot)
                .filter_map(|id| u32::try_from(*id).ok())
                .collect();
            let mut text = object
                .decode(&kept)
                .map_err(|error| ctx.plugin_error(error))?;
            if generation.stop == Stop::Newline {
                if let Some(end) = text.find('\n') {
                    text.truncate(end + 1);
                }
            }
            evaluator
                .update_text(&prompt.text, &text, &prompt.reference)
                .map_err(|error| ctx.plugin_error(error))?;
            let line = serde_json::json!({
                "prompt": prompt.text,
                "generated": text,
                "reference": prompt.reference,
            });
            lines.push_str(&format!("{line}\n"));
        }
    }
    write_generations(ctx, name, &lines)?;
    let mut metrics = MetricsArtifact::default();
    for (metric, value) in evaluator
        .compute()
        .map_err(|error| ctx.plugin_error(error))?
    {
        metrics.push(&metric, value);
    }
    Ok(metrics)
}

/// The prompt of one document: the text before its answer, or, for a document without one,
/// its first `prompt_tokens` tokens (with the rest of it as the reference); `None` to leave
/// the document out.
fn prompt(
    document: &Document,
    ids: &[u32],
    answer_at: Option<u32>,
    generation: &Generation,
    tokenizer: &mut exp_plugin_api::host::ForeignTokenizer,
    ctx: &NodeRun,
) -> Result<Option<Prompt>, RunError> {
    let to_i64 = |ids: &[u32]| ids.iter().map(|id| i64::from(*id)).collect::<Vec<_>>();
    if let (Some((prompt, answer)), Some(at)) = (document.prompt_and_answer(), answer_at) {
        return Ok(Some(Prompt {
            ids: to_i64(&ids[..at as usize]),
            text: prompt.to_string(),
            reference: answer.to_string(),
        }));
    }
    let Some(length) = generation.prompt_tokens else {
        return Ok(None);
    };
    let length = (length as usize).min(ids.len());
    if length == 0 {
        return Ok(None);
    }
    let decode = |tokenizer: &mut exp_plugin_api::host::ForeignTokenizer, ids: &[u32]| {
        tokenizer
            .decode(ids)
            .map_err(|error| ctx.plugin_error(error))
    };
    Ok(Some(Prompt {
        ids: to_i64(&ids[..length]),
        text: decode(tokenizer, &ids[..length])?,
        reference: decode(tokenizer, &ids[length..])?,
    }))
}

fn write_generations(ctx: &NodeRun, evaluator: &str, lines: &str) -> Result<(), RunError> {
    let dir = ctx.run_dir.path.join("generations");
    let path = dir.join(format!("{}.{evaluator}.jsonl", ctx.name()));
    std::fs::create_dir_all(&dir)
        .and_then(|()| RunDir::write_atomic(&path, lines.as_bytes()))
        .map_err(|error| RunError::io(ctx.name(), &path, error))
}
