//! What each kind of node does. Every function takes the node, its input artifacts and the run
//! context, and returns its output artifact or the reason it failed.

mod batches;
pub mod continual;
mod dataset;
pub mod derived;
mod evaluate;
mod export;
mod generate;
mod hooks;
mod merge;
mod model;
pub mod report;
mod resume;
mod resume_error;
mod schedules;
mod text;
mod tokenizer;
mod train;

use std::path::Path;
use std::sync::Arc;

use exp_ir::{ComponentRef, Graph, Node, NodeKind};
use exp_plugin_api::host::{
    Foreign, ForeignDataset, ForeignEvaluator, ForeignMerger, ForeignModel, ForeignOptimizer,
    ForeignRegularizer, ForeignScheduler,
};
use exp_plugin_api::sdk::{Context, DataInfo};
use tch::{Device, Tensor};

use crate::artifact::{Artifact, DatasetArtifact, ModelArtifact};
use crate::error::RunError;
use crate::observer::Observer;
use crate::registry::Registry;
use crate::run_dir::RunDir;

pub use evaluate::EVAL_BATCH;

/// Everything a node can see while it runs.
pub struct NodeRun<'a> {
    pub graph: &'a Graph,
    pub node: &'a Node,
    /// Output artifacts of the node's inputs, in the order of `node.inputs`.
    pub inputs: Vec<Arc<Artifact>>,
    pub registry: &'a Registry,
    pub run_dir: &'a RunDir,
    pub device: Device,
    pub observer: &'a dyn Observer,
    /// Where a training node keeps its resumable checkpoints (none without a cache).
    pub resume_dir: Option<std::path::PathBuf>,
    /// Set when the run should stop (Ctrl-C): training checkpoints after its current step.
    pub stop: &'a std::sync::atomic::AtomicBool,
    /// Every node's cache key, by node id: what a node's inputs are, for keying what it
    /// derives from them (tokenized text).
    pub keys: &'a [crate::cache::NodeKey],
    /// Tokenized text, shared by the nodes of the run and kept in the cache directory.
    pub tokens: &'a crate::text::TokenStore,
}

/// Runs one node.
pub fn run(ctx: &NodeRun) -> Result<Artifact, RunError> {
    match &ctx.node.kind {
        NodeKind::Dataset { component } => dataset::run(ctx, component),
        NodeKind::Caption => derived::caption(ctx),
        NodeKind::Sample(spec) => derived::sample(ctx, spec),
        NodeKind::Model { component } => model::run(ctx, component),
        NodeKind::Train(spec) => train::run(ctx, spec),
        NodeKind::Merge { component } => merge::run(ctx, component),
        NodeKind::Evaluate { metrics, splits } => evaluate::run(ctx, metrics, splits),
        NodeKind::Report {
            chart,
            against,
            choose,
            ..
        } => report::run(ctx, *chart, against.as_deref(), choose.as_ref()),
        NodeKind::Continual {
            tasks,
            metric,
            splits,
            heatmap,
        } => continual::run(ctx, *tasks, metric, splits, *heatmap),
        NodeKind::Tokenizer { component } => tokenizer::run(ctx, component),
        NodeKind::Export { component } => export::run(ctx, component),
    }
}

impl NodeRun<'_> {
    fn name(&self) -> &str {
        &self.node.name
    }

    fn internal(&self, message: impl Into<String>) -> RunError {
        RunError::Internal {
            node: self.node.name.clone(),
            message: message.into(),
        }
    }

    /// The artifact of the first input with this role.
    fn input(&self, role: &str) -> Result<&Artifact, RunError> {
        self.node
            .inputs
            .iter()
            .position(|input| input.role == role)
            .map(|index| self.inputs[index].as_ref())
            .ok_or_else(|| self.internal(format!("missing input `{role}`")))
    }

    /// The name of the node behind the first input with this role, for messages; `?` where
    /// there is none.
    fn input_name(&self, role: &str) -> &str {
        self.node
            .inputs
            .iter()
            .find(|input| input.role == role)
            .map_or("?", |input| self.graph.node(input.node).name.as_str())
    }

    fn inputs_with_role(&self, role: &str) -> Vec<&Artifact> {
        self.node
            .inputs
            .iter()
            .zip(&self.inputs)
            .filter(|(input, _)| input.role == role)
            .map(|(_, artifact)| artifact.as_ref())
            .collect()
    }

    fn dataset_input(&self, role: &str) -> Result<&DatasetArtifact, RunError> {
        match self.input(role)? {
            Artifact::Dataset(dataset) => Ok(dataset),
            other => Err(self.internal(format!(
                "input `{role}` is a {}, not a dataset",
                other.kind_word()
            ))),
        }
    }

    fn model_input(&self, role: &str) -> Result<&ModelArtifact, RunError> {
        match self.input(role)? {
            Artifact::Model(model) => Ok(model),
            other => Err(self.internal(format!(
                "input `{role}` is a {}, not a model",
                other.kind_word()
            ))),
        }
    }

    /// A model input's tensors (read from its checkpoint if it came from the cache and no
    /// node has read them yet).
    fn weights_of(&self, model: &ModelArtifact) -> Result<Vec<(String, Tensor)>, RunError> {
        model.weights.read().map_err(|message| RunError::Mismatch {
            node: self.name().to_string(),
            message: format!("cannot read an input's weights: {message}"),
        })
    }

    fn context(&self, seed: u64, data: Option<DataInfo>) -> Context {
        Context {
            seed,
            device: crate::device::device_name(self.device),
            data,
        }
    }

    /// Builds a component through the plugin that provides it.
    fn instantiate(
        &self,
        component: &ComponentRef,
        context: &Context,
    ) -> Result<Foreign, RunError> {
        // Outside a training phase (which splits them off first), a schedule is read at its
        // start.
        if schedules::has_schedules(component) {
            // Measured against a phase of one step: its start.
            let start = exp_ir::value::Clock {
                phase_steps: 1,
                steps_per_epoch: 1,
                tokens_per_step: 1,
            };
            let resolved = train::resolve_durations(component, &start);
            let (plain, _) = schedules::split(self, &resolved, context, 1)?;
            return self.instantiate(&plain, context);
        }
        let plugin = self
            .registry
            .provider(component.kind, &component.name)
            .ok_or_else(|| RunError::MissingComponent {
                node: self.name().to_string(),
                kind: component.kind.to_string(),
                name: component.name.clone(),
            })?;
        plugin
            .instantiate(component.kind, &component.name, &component.params, context)
            .map_err(|error| self.plugin_error(error))
    }

    fn plugin_error(&self, error: exp_plugin_api::host::PluginError) -> RunError {
        RunError::Plugin {
            node: self.name().to_string(),
            error,
            step: None,
        }
    }

    /// A plugin failure during training step `step` (1-based, as logged).
    fn plugin_error_at(&self, error: exp_plugin_api::host::PluginError, step: u64) -> RunError {
        RunError::Plugin {
            node: self.name().to_string(),
            error,
            step: Some(step),
        }
    }

    fn dataset(
        &self,
        component: &ComponentRef,
        context: &Context,
    ) -> Result<ForeignDataset, RunError> {
        ForeignDataset::new(self.instantiate(component, context)?)
            .map_err(|error| self.plugin_error(error))
    }

    fn model(&self, component: &ComponentRef, context: &Context) -> Result<ForeignModel, RunError> {
        ForeignModel::new(self.instantiate(component, context)?)
            .map_err(|error| self.plugin_error(error))
    }

    fn optimizer(
        &self,
        component: &ComponentRef,
        context: &Context,
    ) -> Result<ForeignOptimizer, RunError> {
        ForeignOptimizer::new(self.instantiate(component, context)?)
            .map_err(|error| self.plugin_error(error))
    }

    fn scheduler(
        &self,
        component: &ComponentRef,
        context: &Context,
    ) -> Result<ForeignScheduler, RunError> {
        ForeignScheduler::new(self.instantiate(component, context)?)
            .map_err(|error| self.plugin_error(error))
    }

    fn evaluator(
        &self,
        component: &ComponentRef,
        context: &Context,
    ) -> Result<ForeignEvaluator, RunError> {
        ForeignEvaluator::new(self.instantiate(component, context)?)
            .map_err(|error| self.plugin_error(error))
    }

    fn merger(
        &self,
        component: &ComponentRef,
        context: &Context,
    ) -> Result<ForeignMerger, RunError> {
        ForeignMerger::new(self.instantiate(component, context)?)
            .map_err(|error| self.plugin_error(error))
    }

    fn regularizer(
        &self,
        component: &ComponentRef,
        context: &Context,
    ) -> Result<ForeignRegularizer, RunError> {
        ForeignRegularizer::new(self.instantiate(component, context)?)
            .map_err(|error| self.plugin_error(error))
    }

    /// A fresh instance of a model artifact's architecture holding the artifact's weights.
    fn model_with_weights(
        &self,
        source: &ModelArtifact,
        seed: u64,
    ) -> Result<ForeignModel, RunError> {
        self.model_with_weights_as(source, &source.architecture, seed)
    }

    /// The same, built from `architecture` (the source's, with its scheduled parameters at a
    /// phase's start).
    fn model_with_weights_as(
        &self,
        source: &ModelArtifact,
        architecture: &ComponentRef,
        seed: u64,
    ) -> Result<ForeignModel, RunError> {
        let context = self.context(seed, Some(source.data.clone()));
        let mut model = self.model(architecture, &context)?;
        let weights = self.weights_of(source)?;
        load_weights(self.name(), &mut model, &weights)?;
        Ok(model)
    }
}

/// Copies `weights` into the model's own tensors, in place; names and shapes must match.
pub fn load_weights(
    node: &str,
    model: &mut ForeignModel,
    weights: &[(String, Tensor)],
) -> Result<(), RunError> {
    let targets = model.named_tensors().map_err(|error| RunError::Plugin {
        node: node.to_string(),
        error,
        step: None,
    })?;
    if targets.len() != weights.len() {
        return Err(RunError::Mismatch {
            node: node.to_string(),
            message: format!(
                "the model has {} tensors but the weights have {}",
                targets.len(),
                weights.len()
            ),
        });
    }
    tch::no_grad(|| {
        for ((target_name, target), (source_name, source)) in targets.iter().zip(weights) {
            if target_name != source_name || target.size() != source.size() {
                return Err(RunError::Mismatch {
                    node: node.to_string(),
                    message: format!(
                        "tensor `{target_name}` {:?} does not match `{source_name}` {:?}",
                        target.size(),
                        source.size()
                    ),
                });
            }
            let mut target = target.shallow_clone();
            target
                .f_copy_(source)
                .map_err(|error| RunError::tensor(node, "copy_", &[&target, source], error))?;
        }
        Ok(())
    })
}

/// Detached copies of every tensor of a model.
pub fn snapshot(node: &str, model: &mut ForeignModel) -> Result<Vec<(String, Tensor)>, RunError> {
    let tensors = model.named_tensors().map_err(|error| RunError::Plugin {
        node: node.to_string(),
        error,
        step: None,
    })?;
    tensors
        .into_iter()
        .map(|(name, tensor)| {
            let copy = tensor
                .f_detach_copy()
                .map_err(|error| RunError::tensor(node, "detach_copy", &[&tensor], error))?;
            Ok((name, copy))
        })
        .collect()
}

/// Writes weights as a safetensors file (on CPU, contiguous), atomically: a reader never sees
/// half a checkpoint, and a failed write leaves any previous file intact.
pub fn save_checkpoint(
    node: &str,
    path: &Path,
    weights: &[(String, Tensor)],
) -> Result<(), RunError> {
    let cpu: Vec<(String, Tensor)> = weights
        .iter()
        .map(|(name, tensor)| (name.clone(), tensor.to_device(Device::Cpu).contiguous()))
        .collect();
    let temporary = path.with_extension("safetensors.tmp");
    Tensor::write_safetensors(&cpu, &temporary).map_err(|error| RunError::io(node, path, error))?;
    std::fs::File::open(&temporary)
        .and_then(|file| file.sync_all())
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|error| RunError::io(node, path, error))
}
