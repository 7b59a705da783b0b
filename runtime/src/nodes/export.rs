//! Export nodes: an exporter writes its input model (architecture, weights, tokenizer) into
//! `exports/<name>/` in the run directory, in another ecosystem's format.

use exp_ir::ComponentRef;
use exp_plugin_api::host::ForeignExporter;
use exp_plugin_api::sdk::{ExportedModel, Params};

use super::NodeRun;
use crate::artifact::{Artifact, FilesArtifact};
use crate::error::RunError;

pub fn run(ctx: &NodeRun, component: &ComponentRef) -> Result<Artifact, RunError> {
    let model = ctx.model_input("model")?;
    let dir = ctx.run_dir.path.join("exports").join(ctx.name());
    // An exporter writes into an empty directory: a rerun into the same run directory
    // replaces what the last one wrote.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|error| RunError::io(ctx.name(), &dir, error))?;
    let tensors = ctx.weights_of(model)?;
    let exported = ExportedModel {
        architecture: model.architecture.name.clone(),
        params: Params::new(model.architecture.params.clone()),
        data: model.data.clone(),
        tensors,
        tokenizer_json: model
            .tokenizer
            .as_ref()
            .map(|tokenizer| tokenizer.json.clone()),
    };
    let context = ctx.context(ctx.node.seed, Some(model.data.clone()));
    let mut exporter = ForeignExporter::new(ctx.instantiate(component, &context)?)
        .map_err(|error| ctx.plugin_error(error))?;
    let files = exporter
        .export(&exported, &dir)
        .map_err(|error| ctx.plugin_error(error))?;
    Ok(Artifact::Files(FilesArtifact { dir, files }))
}
