//! The values that flow along the graph's edges.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use exp_ir::ComponentRef;
use exp_plugin_api::host::ForeignDataset;
use exp_plugin_api::sdk::DataInfo;
use tch::Tensor;

use crate::weights::Weights;

pub enum Artifact {
    Dataset(DatasetArtifact),
    Model(ModelArtifact),
    Metrics(MetricsArtifact),
    Table(crate::table::Table),
    Tokenizer(Arc<TokenizerArtifact>),
    Files(FilesArtifact),
}

pub struct DatasetArtifact {
    pub info: DataInfo,
    pub source: DataSource,
    pub component: ComponentRef,
    /// The run's device: batches the host assembles itself (token windows, examples a model
    /// made, held on the CPU) are moved there; a plugin's dataset makes its own there.
    pub device: tch::Device,
}

/// Where a dataset's examples come from.
pub enum DataSource {
    /// The dataset component; nodes that read it take the lock for each call.
    Plugin(Mutex<ForeignDataset>),
    /// A text dataset read through a model's tokenizer: packed windows of token ids.
    Tokens(crate::text::TokenView),
    /// Examples a model made (`caption(..)`, `sample(..)`), held as tensors.
    Examples(Arc<Examples>),
}

/// Inputs and targets of every split, held on the CPU (`[n, ..]` each); behind a lock like a
/// model's weights.
pub struct Examples {
    splits: Mutex<[(Tensor, Tensor); 3]>,
}

impl Examples {
    /// From every split's inputs and targets, in the order of `Split::ALL`.
    pub fn new(splits: Vec<(Tensor, Tensor)>) -> Examples {
        let [train, validation, test]: [(Tensor, Tensor); 3] = splits
            .try_into()
            .unwrap_or_else(|_| panic!("examples need exactly three splits"));
        Examples {
            splits: Mutex::new([train, validation, test]),
        }
    }

    /// Shallow copies of a split's inputs and targets.
    pub fn split(&self, split: exp_plugin_api::sdk::Split) -> (Tensor, Tensor) {
        let splits = self
            .splits
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (x, y) = &splits[split.index()];
        (x.shallow_clone(), y.shallow_clone())
    }

    /// The examples at `indices` of a split.
    pub fn batch(
        &self,
        split: exp_plugin_api::sdk::Split,
        indices: &[i64],
    ) -> Result<(Tensor, Tensor), exp_plugin_api::host::PluginError> {
        let (x, y) = self.split(split);
        let len = x.size().first().copied().unwrap_or(0);
        if let Some(index) = indices.iter().find(|index| !(0..len).contains(*index)) {
            return Err(exp_plugin_api::host::PluginError::Call {
                plugin: "exp".to_string(),
                component: "examples".to_string(),
                operation: "batch",
                message: format!(
                    "index {index} is outside the {} split's {len} examples",
                    split.word()
                ),
                field: None,
            });
        }
        let indices = Tensor::from_slice(indices);
        Ok((x.index_select(0, &indices), y.index_select(0, &indices)))
    }
}

impl DatasetArtifact {
    /// The examples at `indices` of a split.
    pub fn batch(
        &self,
        split: exp_plugin_api::sdk::Split,
        indices: &[i64],
    ) -> Result<(tch::Tensor, tch::Tensor), exp_plugin_api::host::PluginError> {
        match &self.source {
            DataSource::Plugin(dataset) => dataset
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .batch(split, indices),
            // Assembled on the CPU by the host; a plugin's dataset makes its own on the device.
            DataSource::Tokens(view) => view
                .batch(split, indices)
                .map(|batch| self.on_device(batch)),
            DataSource::Examples(examples) => examples
                .batch(split, indices)
                .map(|batch| self.on_device(batch)),
        }
    }

    fn on_device(&self, (x, y): (Tensor, Tensor)) -> (Tensor, Tensor) {
        (x.to_device(self.device), y.to_device(self.device))
    }

    /// Whether this is a dataset of text documents, to be read through a tokenizer.
    pub fn is_text(&self) -> bool {
        match &self.source {
            DataSource::Plugin(dataset) => dataset
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .is_text(),
            DataSource::Tokens(_) | DataSource::Examples(_) => false,
        }
    }
}

/// A trained tokenizer: the component that made it and its `tokenizer.json`.
pub struct TokenizerArtifact {
    pub component: ComponentRef,
    pub json: String,
    pub vocabulary: exp_plugin_api::sdk::TokenInfo,
    /// The tokenizer's identity for caches of token ids: the SHA-256 of its JSON.
    pub key: String,
}

/// What an exporter wrote: the directory and its files.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FilesArtifact {
    pub dir: PathBuf,
    pub files: Vec<String>,
}

/// Model weights together with the architecture that reads them.
pub struct ModelArtifact {
    /// The model component and its parameters (the architecture).
    pub architecture: ComponentRef,
    /// The dataset info that sized the architecture.
    pub data: DataInfo,
    /// Detached copies of every tensor, by checkpoint key; a model restored from the cache
    /// reads them from its checkpoint when a node first asks.
    pub weights: Weights,
    pub checkpoint: PathBuf,
    /// The data sources that fed these weights (with example counts), for the ledger.
    pub ledger: Vec<LedgerEntry>,
    /// The final evaluation of a training phase (empty for initialisations and merges).
    pub metrics: MetricsArtifact,
    /// The state of the training hooks that produced these weights (an EWC Fisher, an L2
    /// anchor), for the next phase that lists the same hooks. Behind a lock like `weights`.
    pub hooks: Mutex<Vec<CarriedHook>>,
    /// What the method that made these weights held beyond the live model.
    pub memory: Memory,
    /// For a model of token sequences: the tokenizer it reads text through.
    pub tokenizer: Option<Arc<TokenizerArtifact>>,
}

/// The extra memory a method holds, for comparing continual-learning methods: copies of the
/// model's parameters (anchors, Fisher diagonals, checkpoints a merge reads) and stored
/// training examples (a replay buffer).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Memory {
    pub param_copies: f64,
    pub replay_examples: u64,
}

/// One hook's state after a phase: which hook (position in `hooks:` and component name) and
/// what it saved.
pub struct CarriedHook {
    pub position: usize,
    pub name: String,
    pub tensors: Vec<(String, Tensor)>,
    pub data: serde_json::Value,
}

impl CarriedHook {
    pub fn new(position: usize, name: &str, state: exp_plugin_api::sdk::SavedState) -> CarriedHook {
        CarriedHook {
            position,
            name: name.to_string(),
            tensors: state.tensors,
            data: state.data,
        }
    }

    /// The state to load into a fresh instance of the hook (tensors shared, not copied).
    pub fn state(&self) -> exp_plugin_api::sdk::SavedState {
        exp_plugin_api::sdk::SavedState {
            tensors: self
                .tensors
                .iter()
                .map(|(name, tensor)| (name.clone(), tensor.shallow_clone()))
                .collect(),
            data: self.data.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LedgerEntry {
    pub node: String,
    pub source: String,
    pub license: String,
    pub examples: u64,
    /// For text: the tokens (targets trained on) this source gave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
    /// For a source whose examples carry their own licences: how many of its examples (all
    /// splits) have each (`DataInfo::licenses`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub licenses: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct MetricsArtifact {
    /// Metric name to value, in the order the evaluators reported them.
    pub values: BTreeMap<String, f64>,
    pub order: Vec<String>,
    /// A task sequence's accuracy matrix (row i: after task i; column j: on task j).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<Vec<Vec<f64>>>,
    /// The accuracy matrices of a task sequence evaluated on other splits as well, by split
    /// (`matrix` is the test split's, or the only split's).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub split_matrices: BTreeMap<String, Vec<Vec<f64>>>,
    /// The metric in the matrices (a sequence's first metric), for their pictures' titles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix_metric: Option<String>,
    /// A placeholder for a report row whose node did not finish, saying why; never stored.
    #[serde(skip)]
    pub missing: Option<Missing>,
}

/// Why a report row has no metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Its node failed.
    Failed,
    /// Its node was skipped, because a node it depends on failed.
    Skipped,
}

impl Missing {
    /// The mark after the row's name in the table: ` (failed)`, ` (skipped)`.
    pub fn mark(self) -> &'static str {
        match self {
            Missing::Failed => " (failed)",
            Missing::Skipped => " (skipped)",
        }
    }
}

impl MetricsArtifact {
    pub fn push(&mut self, name: &str, value: f64) {
        if !self.values.contains_key(name) {
            self.order.push(name.to_string());
        }
        self.values.insert(name.to_string(), value);
    }
}

impl Artifact {
    pub fn kind_word(&self) -> &'static str {
        match self {
            Artifact::Dataset(_) => "dataset",
            Artifact::Model(_) => "model",
            Artifact::Metrics(_) => "metrics",
            Artifact::Table(_) => "table",
            Artifact::Tokenizer(_) => "tokenizer",
            Artifact::Files(_) => "files",
        }
    }
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::Split;
    use tch::Tensor;

    use super::Examples;

    #[test]
    fn examples_are_batched_by_index_and_refuse_indices_past_a_split() {
        let split = |values: &[f32]| {
            let n = values.len() as i64;
            (
                Tensor::from_slice(values).reshape([n, 1]),
                Tensor::from_slice(&(0..n).collect::<Vec<i64>>()),
            )
        };
        let examples = Examples::new(vec![split(&[1.0, 2.0, 3.0]), split(&[]), split(&[9.0])]);
        let (x, y) = examples.batch(Split::Train, &[2, 0]).unwrap();
        assert_eq!(Vec::<f32>::try_from(x.flatten(0, -1)).unwrap(), [3.0, 1.0]);
        assert_eq!(Vec::<i64>::try_from(y).unwrap(), [2, 0]);
        let (x, _) = examples.batch(Split::Test, &[0]).unwrap();
        assert_eq!(Vec::<f32>::try_from(x.flatten(0, -1)).unwrap(), [9.0]);
        let error = examples.batch(Split::Train, &[3]).unwrap_err().to_string();
        assert!(
            error.contains("index 3 is outside the train split's 3 examples"),
            "{error}"
        );
        assert!(examples.batch(Split::Validation, &[0]).is_err());
        assert!(examples.batch(Split::Train, &[-1]).is_err());
    }
}
