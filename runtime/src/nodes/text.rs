//! Text inside nodes: a model of token sequences reads a text dataset through its tokenizer, as
//! windows of its sequence length. A node's text inputs are turned into token views here (the
//! tokenized splits come from the run's `TokenStore`, made once per tokenizer and dataset);
//! other inputs pass through as they are.

use std::ops::Deref;

use exp_ir::ComponentRef;
use exp_plugin_api::host::ForeignTokenizer;
use exp_plugin_api::sdk::{DataInfo, Split};

use super::NodeRun;
use crate::artifact::{Artifact, DataSource, DatasetArtifact, ModelArtifact, TokenizerArtifact};
use crate::error::RunError;
use crate::text::{tokenize, TokenStore, TokenView, TokenizedSplit};

/// A dataset as a node reads it: an input as it is, or a text input as token windows.
pub enum Data<'a> {
    Input(&'a DatasetArtifact),
    Tokens(Box<DatasetArtifact>),
}

impl Deref for Data<'_> {
    type Target = DatasetArtifact;

    fn deref(&self) -> &DatasetArtifact {
        match self {
            Data::Input(dataset) => dataset,
            Data::Tokens(view) => view,
        }
    }
}

impl NodeRun<'_> {
    /// A tokenizer object holding a trained tokenizer.
    pub(super) fn tokenizer_object(
        &self,
        tokenizer: &TokenizerArtifact,
    ) -> Result<ForeignTokenizer, RunError> {
        let context = self.context(self.node.seed, None);
        let mut object = ForeignTokenizer::new(self.instantiate(&tokenizer.component, &context)?)
            .map_err(|error| self.plugin_error(error))?;
        object
            .load_json(&tokenizer.json)
            .map_err(|error| self.plugin_error(error))?;
        Ok(object)
    }

    /// The window length a model of token sequences reads: the value of the parameter its
    /// schema marks `sequence_length`, or `None` for a model that reads no token windows.
    pub(super) fn sequence_length(&self, architecture: &ComponentRef) -> Option<usize> {
        crate::sizing::sequence_length(self.registry, architecture)
    }

    /// The datasets of inputs `role`, text ones as `model` reads them (through its tokenizer,
    /// in windows of its sequence length).
    pub(super) fn data_for_model(
        &self,
        role: &str,
        model: &ModelArtifact,
    ) -> Result<Vec<Data<'_>>, RunError> {
        let mut data = Vec::new();
        for (input, artifact) in self.node.inputs.iter().zip(&self.inputs) {
            if input.role != role {
                continue;
            }
            let Artifact::Dataset(dataset) = artifact.as_ref() else {
                return Err(self.internal(format!("input `{role}` is not a dataset")));
            };
            if !dataset.is_text() {
                data.push(Data::Input(dataset));
                continue;
            }
            let name = &self.graph.node(input.node).name;
            let key = &self.keys[input.node.0].key;
            data.push(Data::Tokens(Box::new(
                self.token_view(name, key, dataset, model)?,
            )));
        }
        Ok(data)
    }

    /// The first dataset of inputs `role`, as `model` reads it.
    pub(super) fn dataset_for_model(
        &self,
        role: &str,
        model: &ModelArtifact,
    ) -> Result<Data<'_>, RunError> {
        self.data_for_model(role, model)?
            .into_iter()
            .next()
            .ok_or_else(|| self.internal(format!("missing input `{role}`")))
    }

    /// One split of a text dataset tokenized by a tokenizer: from the run's store, or made.
    pub(super) fn tokenized(
        &self,
        tokenizer: &TokenizerArtifact,
        dataset_key: &str,
        dataset: &DatasetArtifact,
        split: Split,
    ) -> Result<std::sync::Arc<TokenizedSplit>, RunError> {
        let key = TokenStore::key(&tokenizer.key, dataset_key, split.word());
        self.tokens.get_or_make(&key, || {
            let DataSource::Plugin(plugin) = &dataset.source else {
                return Err(self.internal("a token view cannot be tokenized again"));
            };
            let documents = plugin
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .documents(split)
                .map_err(|error| self.plugin_error(error))?;
            let mut object = self.tokenizer_object(tokenizer)?;
            tokenize(&mut object, &documents).map_err(|error| self.plugin_error(error))
        })
    }

    fn token_view(
        &self,
        name: &str,
        dataset_key: &str,
        dataset: &DatasetArtifact,
        model: &ModelArtifact,
    ) -> Result<DatasetArtifact, RunError> {
        let mismatch = |message: String| RunError::Mismatch {
            node: self.name().to_string(),
            message,
        };
        let tokenizer = model.tokenizer.as_ref().ok_or_else(|| {
            mismatch(format!(
                "`{name}` is a text dataset, and model `{}` has no tokenizer to read it with: \
                 build the model with one, as in `model m = {}(tok) {{ .. }}`",
                model.architecture.name, model.architecture.name
            ))
        })?;
        let context = self.sequence_length(&model.architecture).ok_or_else(|| {
            mismatch(format!(
                "`{name}` is a text dataset, and model `{}` reads no token windows (its schema \
                 marks no `sequence_length` parameter)",
                model.architecture.name
            ))
        })?;
        let [train, validation, test] = [Split::Train, Split::Validation, Split::Test]
            .map(|split| self.tokenized(tokenizer, dataset_key, dataset, split));
        let (train, validation, test) = (train?, validation?, test?);
        let special = |names: &[&str]| {
            names
                .iter()
                .find_map(|name| tokenizer.vocabulary.special.get(*name))
                .and_then(|id| u32::try_from(*id).ok())
        };
        let eot = special(&["<|endoftext|>", "</s>", "[SEP]"]).ok_or_else(|| {
            mismatch(format!(
                "the tokenizer of model `{}` has no end-of-text token (`<|endoftext|>`) to join \
                 documents with; give it one in `special_tokens`",
                model.architecture.name
            ))
        })?;
        let pad = special(&["<|pad|>", "<pad>", "[PAD]"]).unwrap_or(eot);
        let view = TokenView::new(
            self.name(),
            name,
            [&train, &validation, &test],
            context,
            eot,
            pad,
        )?;
        let info = DataInfo {
            input_shape: vec![context as i64],
            classes: tokenizer.vocabulary.vocab_size,
            train_len: view.windows(Split::Train),
            validation_len: view.windows(Split::Validation),
            test_len: view.windows(Split::Test),
            tokens: Some(tokenizer.vocabulary.clone()),
            ..dataset.info.clone()
        };
        Ok(DatasetArtifact {
            info,
            source: DataSource::Tokens(view),
            component: dataset.component.clone(),
            device: dataset.device,
        })
    }
}
