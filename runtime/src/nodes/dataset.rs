//! Dataset nodes: build the dataset component once; its artifact serves every consumer.

use std::sync::Mutex;

use exp_ir::ComponentRef;

use super::NodeRun;
use crate::artifact::{Artifact, DataSource, DatasetArtifact};
use crate::error::RunError;

pub fn run(ctx: &NodeRun, component: &ComponentRef) -> Result<Artifact, RunError> {
    let context = ctx.context(ctx.node.seed, None);
    let mut dataset = ctx.dataset(component, &context)?;
    let info = dataset.info().map_err(|error| ctx.plugin_error(error))?;
    Ok(Artifact::Dataset(DatasetArtifact {
        info,
        source: DataSource::Plugin(Mutex::new(dataset)),
        component: component.clone(),
        device: ctx.device,
    }))
}
