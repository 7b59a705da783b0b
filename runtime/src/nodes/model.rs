//! Model nodes: initialise an architecture from the node's seed, sized by its dataset, and save
//! the initial weights (the θ_pre every fine-tune of this model starts from).

use std::sync::Mutex;

use exp_ir::ComponentRef;
use exp_plugin_api::sdk::DataInfo;

use super::{save_checkpoint, snapshot, NodeRun};
use crate::artifact::{Artifact, ModelArtifact};
use crate::error::RunError;
use crate::sizing::token_data_info;
use crate::weights::Weights;

pub fn run(ctx: &NodeRun, component: &ComponentRef) -> Result<Artifact, RunError> {
    let tokenizer = match ctx.input("tokenizer") {
        Ok(Artifact::Tokenizer(tokenizer)) => Some(tokenizer.clone()),
        _ => None,
    };
    let data: Option<DataInfo> = match (&tokenizer, ctx.node.input("data")) {
        // A model of token sequences is sized by its tokenizer's vocabulary and its own
        // window length, whatever text it will read.
        (Some(tokenizer), _) => Some(token_data_info(
            ctx.sequence_length(component),
            tokenizer.vocabulary.clone(),
        )),
        (None, Some(_)) => Some(ctx.dataset_input("data")?.info.clone()),
        (None, None) => None,
    };
    let context = ctx.context(ctx.node.seed, data.clone());
    let mut model = ctx.model(component, &context)?;
    let weights = snapshot(ctx.name(), &mut model)?;
    let checkpoint = ctx.run_dir.checkpoint_path(ctx.name());
    save_checkpoint(ctx.name(), &checkpoint, &weights)?;
    Ok(Artifact::Model(ModelArtifact {
        architecture: component.clone(),
        data: data.unwrap_or_else(|| DataInfo {
            input_shape: Vec::new(),
            classes: 0,
            train_len: 0,
            validation_len: 0,
            test_len: 0,
            source: String::new(),
            license: String::new(),
            tokens: None,
            ..Default::default()
        }),
        weights: Weights::new(weights),
        checkpoint,
        ledger: Vec::new(),
        metrics: crate::artifact::MetricsArtifact::default(),
        hooks: Mutex::new(Vec::new()),
        memory: crate::artifact::Memory::default(),
        tokenizer,
    }))
}
