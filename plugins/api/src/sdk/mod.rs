//! The safe side of the plugin boundary: what a plugin author implements.
//!
//! A component is a Rust type implementing `Component` (its name, version, doc, its `Config` of
//! parameters and its constructor) and the trait of its kind (`Dataset`, `Model`, `Optimizer`,
//! `Scheduler`, `Evaluator`, `Merger`, `Regularizer`). Parameters are declared once, as the
//! fields of a struct deriving `Config`; `create` receives that struct, checked and typed.
//! `export_plugin!` turns a list of components into the library's single exported symbol.
//! Authors never write `unsafe`.
//!
//! ```text
//! /// Stochastic gradient descent.
//! #[derive(Clone, Config)]
//! pub struct SgdConfig {
//!     /// learning rate
//!     #[param(min = 0.0, learning_rate)]
//!     pub lr: f64,
//! }
//!
//! pub struct Sgd { config: SgdConfig }
//!
//! impl Component for Sgd {
//!     type Config = SgdConfig;
//!     const NAME: &'static str = "sgd";
//!     const VERSION: &'static str = "1";
//!     const DOC: &'static str = "stochastic gradient descent";
//!     fn create(config: SgdConfig, _context: &Context) -> Result<Self> { Ok(Sgd { config }) }
//!     fn reconfigure(&mut self, config: &SgdConfig) -> Result<()> {
//!         self.config = config.clone();
//!         Ok(())
//!     }
//! }
//! ```

pub mod config;
pub(crate) mod panics;
mod rng;

use std::collections::BTreeMap;
use std::fmt;

use exp_ir::{ComponentKind, ComponentSchema};
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

pub use config::{fraction, steps, Config, NoParams, Params};
pub use exp_ir;
pub use exp_ir::{Duration, DurationUnit};
pub use exp_plugin_derive::{Choice, Config};
pub use rng::Rng;

/// An error a component reports; `field` names the parameter at fault, if one is.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginError {
    pub message: String,
    pub field: Option<String>,
}

impl PluginError {
    pub fn new(message: impl Into<String>) -> PluginError {
        PluginError {
            message: message.into(),
            field: None,
        }
    }

    pub fn in_field(field: &str, message: impl Into<String>) -> PluginError {
        PluginError {
            message: message.into(),
            field: Some(field.to_string()),
        }
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<tch::TchError> for PluginError {
    fn from(error: tch::TchError) -> PluginError {
        PluginError::new(format!(
            "libtorch: {}",
            short_torch_error(&error.to_string())
        ))
    }
}

/// The first line of a libtorch error: its C++ backtrace and source locations are for exp's
/// developers, not for the message a researcher reads (the full text stays in the log).
pub fn short_torch_error(message: &str) -> &str {
    let first = message.lines().next().unwrap_or(message);
    first
        .split(" (Exception raised from")
        .next()
        .unwrap_or(first)
        .trim_end()
}

pub type Result<T, E = PluginError> = std::result::Result<T, E>;

/// Which part of a dataset (`Split::from_word("validation")`, `split.word()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    Train,
    Validation,
    Test,
}

impl Split {
    /// Every split, in the order datasets hold them.
    pub const ALL: [Split; 3] = [Split::Train, Split::Validation, Split::Test];

    /// The split's place in `ALL`: an index into a per-split array.
    pub fn index(self) -> usize {
        match self {
            Split::Train => 0,
            Split::Validation => 1,
            Split::Test => 2,
        }
    }
}

/// What a dataset tells the rest of the graph about itself.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DataInfo {
    /// Shape of one input example, e.g. `[64]` for flattened 8×8 images.
    pub input_shape: Vec<i64>,
    /// Number of target classes (0 when targets are not class labels).
    pub classes: i64,
    pub train_len: i64,
    /// Examples held out for choosing settings; 0 when the dataset has no validation split.
    #[serde(default)]
    pub validation_len: i64,
    pub test_len: i64,
    /// Where the data comes from and under which licence; recorded in the run's ledger.
    pub source: String,
    pub license: String,
    /// For data the host tokenized (a text dataset read through a model's tokenizer): the
    /// vocabulary. `input_shape` is then `[window length]` and `classes` the vocabulary size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<TokenInfo>,
    /// For a dataset whose examples carry licences of their own (images gathered from many
    /// places): how many examples of all splits have each licence. `license` then names them
    /// all; a licence policy must allow every one, and the run's ledger lists them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub licenses: BTreeMap<String, i64>,
    /// For targets that are several labels per example (`[batch, attributes]`, a caption
    /// made of attributes such as shape, colour and size): each attribute's name and values,
    /// in the order of the target's last dimension. `classes` is then the most values any
    /// attribute has, and a target of −100 means the example has no label for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
}

/// One labelled attribute of an example (see `DataInfo::attributes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    pub name: String,
    /// The values, by target id.
    pub values: Vec<String>,
}

/// A tokenizer's vocabulary, as a model sized by it sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub vocab_size: i64,
    /// Special tokens by name (`<|endoftext|>`, `<|pad|>`, `<|mask|>`) and their ids.
    pub special: BTreeMap<String, i64>,
}

/// What a tokenizer says of its vocabulary across the C ABI: the vocabulary now, and before
/// training the most ids training can give (`Tokenizer::vocabulary_bound`). The bound is an
/// optional field of the same JSON object, so a host that does not know it reads the
/// vocabulary alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DescribedVocabulary {
    #[serde(flatten)]
    pub vocabulary: TokenInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound: Option<i64>,
}

/// One document of a text dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub text: String,
    /// For a document with an answer to check (an arithmetic problem, a question): the byte
    /// offset in `text` where the answer starts; the prompt is what comes before it.
    #[serde(default)]
    pub answer_at: Option<usize>,
}

impl Document {
    pub fn new(text: impl Into<String>) -> Document {
        Document {
            text: text.into(),
            answer_at: None,
        }
    }

    /// The prompt and the answer of a document that has one.
    pub fn prompt_and_answer(&self) -> Option<(&str, &str)> {
        let at = self.answer_at?;
        self.text
            .is_char_boundary(at)
            .then(|| self.text.split_at(at))
    }
}

impl DataInfo {
    /// The number of examples in a split.
    pub fn len(&self, split: Split) -> i64 {
        match split {
            Split::Train => self.train_len,
            Split::Validation => self.validation_len,
            Split::Test => self.test_len,
        }
    }

    /// Sets the number of examples in a split.
    pub fn set_len(&mut self, split: Split, len: i64) {
        match split {
            Split::Train => self.train_len = len,
            Split::Validation => self.validation_len = len,
            Split::Test => self.test_len = len,
        }
    }
}

/// What the host tells a component when building it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// The node's seed. Components draw all their randomness from it (see `Rng`), never from
    /// libtorch's global generator, so parallel nodes stay deterministic.
    pub seed: u64,
    /// `cpu` or `cuda:N`.
    pub device: String,
    /// For models: the dataset that sizes them.
    pub data: Option<DataInfo>,
}

impl Context {
    pub fn device(&self) -> Device {
        match self.device.strip_prefix("cuda:") {
            Some(index) => Device::Cuda(index.parse().unwrap_or(0)),
            None if self.device == "cuda" => Device::Cuda(0),
            None => Device::Cpu,
        }
    }

    /// The dataset info, or an error saying the component needs one.
    pub fn data(&self) -> Result<&DataInfo> {
        self.data.as_ref().ok_or_else(|| {
            PluginError::new("this component needs a dataset to size it, and none was given")
        })
    }
}

/// Every component: its identity, its parameters and its constructor.
pub trait Component: Sized + Send + 'static {
    /// The parameters, as a struct deriving `Config`.
    type Config: Config;
    /// The name files use (`adamw`).
    const NAME: &'static str;
    /// The component's own version: part of its identity in run records and cache keys, so
    /// bump it when the same parameters would compute something else.
    const VERSION: &'static str;
    /// One line saying what the component does.
    const DOC: &'static str;

    /// Rules between parameters that their schemas cannot state (one value per point);
    /// `exp check` runs it, and the host again before `create`. Durations are as written
    /// (`50%`): only `create` sees them in steps.
    fn check(_config: &Self::Config) -> Result<()> {
        Ok(())
    }

    fn create(config: Self::Config, context: &Context) -> Result<Self>;

    /// A scheduled parameter (`#[param(schedule)]`) moved: `config` holds its new value (its
    /// bounds checked). Components with scheduled parameters take it over; the default refuses,
    /// so a forgotten override fails loudly instead of training with a frozen value.
    fn reconfigure(&mut self, _config: &Self::Config) -> Result<()> {
        Err(PluginError::new(format!(
            "`{}` declares a scheduled parameter but does not implement `Component::reconfigure`",
            Self::NAME
        )))
    }
}

/// Builds a component from parameters written as JSON (see `Params::from_json`) the way the
/// host does: defaults filled in, read into its config, checked, created. For tests and tools.
pub fn build<T: Component>(params: serde_json::Value, context: &Context) -> Result<T> {
    let params = Params::from_json(&params)?.with_defaults(&T::Config::params());
    let config = T::Config::from_params(&params)?;
    T::check(&config)?;
    T::create(config, context)
}

/// The schema a component describes itself with.
pub fn schema_of<T: Component>(kind: ComponentKind) -> ComponentSchema {
    ComponentSchema {
        kind,
        name: T::NAME.to_string(),
        doc: T::DOC.to_string(),
        version: T::VERSION.to_string(),
        params: T::Config::params(),
        text: false,
        trained: false,
    }
}

pub trait Dataset: Component {
    fn info(&self) -> DataInfo;
    /// Inputs and targets of the examples at `indices` of a split.
    fn batch(&self, split: Split, indices: &[i64]) -> Result<(Tensor, Tensor)>;
}

/// A dataset of text documents (exported under `text_datasets`). The host tokenizes them
/// with the tokenizer of the model that reads them, once per tokenizer, and packs them into
/// the model's windows; `info`'s lengths count documents.
pub trait TextDataset: Component {
    fn info(&self) -> DataInfo;
    /// Every document of a split, in a fixed order.
    fn documents(&self, split: Split) -> Result<Vec<Document>>;
}

/// An object's training state beyond its parameters: tensors (optimizer moments) and plain
/// data (step counts, generator states), saved in checkpoints so a phase resumes exactly.
#[derive(Debug, Default)]
pub struct SavedState {
    pub tensors: Vec<(String, Tensor)>,
    pub data: serde_json::Value,
}

/// Saving and restoring training state. Optimizers and regularizers must say what theirs is;
/// a model with nothing beyond its parameters says `impl Stateless for MyModel {}`.
pub trait Stateful {
    fn save_state(&self) -> Result<SavedState>;
    fn load_state(&mut self, state: SavedState) -> Result<()>;
}

/// A component with no training state beyond its parameters.
pub trait Stateless {}

impl<T: Stateless> Stateful for T {
    fn save_state(&self) -> Result<SavedState> {
        Ok(SavedState::default())
    }

    fn load_state(&mut self, state: SavedState) -> Result<()> {
        if state.tensors.is_empty() && state.data.is_null() {
            Ok(())
        } else {
            Err(PluginError::new(
                "a saved state was given to a component that keeps none",
            ))
        }
    }
}

pub trait Model: Component + Stateful {
    /// Every tensor of the model (trainable parameters, with `requires_grad`, and buffers), by
    /// checkpoint key, sharing storage with the model.
    fn named_tensors(&self) -> Vec<(String, Tensor)>;
    /// The model's output for a batch; a classifier returns logits `[batch, classes]`.
    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor>;
    /// The training loss of a batch; cross-entropy over class logits unless overridden (the
    /// last dimension holds the classes, as for token logits `[batch, length, vocabulary]`;
    /// targets of −100 are ignored).
    fn loss(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        let logits = panics::in_method("forward", || self.forward(x, true))?;
        let classes = logits.size().last().copied().unwrap_or(1);
        Ok(logits
            .f_reshape([-1, classes])?
            .f_cross_entropy_loss::<Tensor>(
                &y.f_reshape([-1])?,
                None,
                tch::Reduction::Mean,
                -100,
                0.0,
            )?)
    }

    /// The names of the tensors weight decay must leave alone. By default none (decay, where
    /// the optimizer has it, applies to every tensor); a transformer names its norms, biases
    /// and embeddings, as nanoGPT and LLM Foundry do.
    fn no_decay(&self) -> Vec<String> {
        Vec::new()
    }

    /// Whether `parameter_count` is implemented: set it to `true` where it is overridden.
    const COUNTS_PARAMETERS: bool = false;

    /// The elements of every tensor (`named_tensors`) a model of `config` sized by `data`
    /// would hold, computed without building it, so that `exp graph` can size a large model
    /// without allocating it. Without it (`COUNTS_PARAMETERS` false) the host builds the model
    /// once on the CPU and counts.
    fn parameter_count(_config: &Self::Config, _data: Option<&DataInfo>) -> Result<u64> {
        Err(PluginError::new(format!(
            "`{}` does not count its parameters (its `COUNTS_PARAMETERS` is false)",
            Self::NAME
        )))
    }

    /// Whether `generate` is implemented (a model of token sequences that can continue a
    /// prompt): set it to `true` where it is overridden.
    const GENERATES: bool = false;

    /// Greedy continuations of `prompts` (token ids), at most `max_new` new tokens each,
    /// stopping after `stop`; the new tokens only.
    fn generate(
        &self,
        _prompts: &[Vec<i64>],
        _max_new: usize,
        _stop: Option<i64>,
    ) -> Result<Vec<Vec<i64>>> {
        Err(PluginError::new(format!(
            "`{}` does not generate text (its `GENERATES` is false)",
            Self::NAME
        )))
    }

    /// Whether `sample` is implemented (a generative model of its inputs, such as a diffusion
    /// model): set it to `true` where it is overridden.
    const SAMPLES: bool = false;

    /// One input drawn for each row of `conditions`, which are targets as the model's dataset
    /// gives them (`[n, ..]`, caption attributes; −100 for "no condition"): `[n, ..input
    /// shape]`, on the model's device. The same model, conditions and `options` give the same
    /// samples.
    fn sample(&self, _conditions: &Tensor, _options: &Sampling) -> Result<Tensor> {
        Err(PluginError::new(format!(
            "`{}` does not draw samples (its `SAMPLES` is false)",
            Self::NAME
        )))
    }
}

/// How a generative model of inputs draws samples (`Model::sample`): what a `sample(..)`
/// dataset definition says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    /// Denoising steps (for a diffusion model; a model without steps ignores it).
    pub steps: u64,
    /// Classifier-free guidance weight w: the prediction used is
    /// `unconditional + w·(conditional − unconditional)`, so 0 is the unconditional model, 1
    /// the conditional one, and above 1 pushes further toward the condition.
    pub guidance: f64,
    /// The sampler's stochasticity: 0 is deterministic DDIM, 1 matches DDPM's variance.
    pub eta: f64,
    /// Every random draw of the sampling comes from this seed.
    pub seed: u64,
}

pub trait Optimizer: Component + Stateful {
    /// Updates `params` in place from their gradients, at the learning rate the config holds
    /// now (it follows its schedule through `Component::reconfigure`).
    fn step(&mut self, params: &[Tensor]) -> Result<()>;

    /// Which of the parameters `step` receives (by position) weight decay must leave alone,
    /// as the model says (`Model::no_decay`); called before the first step. An optimizer with
    /// weight decay honours it; by default it is ignored.
    fn set_no_decay(&mut self, _exempt: &[bool]) -> Result<()> {
        Ok(())
    }
}

pub trait Scheduler: Component {
    /// The schedule's value at `step` (0-based) of a phase of `total` steps. For a learning
    /// rate written with the phase's `schedule:` it multiplies the optimizer's `lr`.
    fn value(&self, step: u64, total: u64) -> f64;
}

pub trait Evaluator: Component {
    fn reset(&mut self);
    /// Accumulates one batch of model outputs and targets.
    fn update(&mut self, output: &Tensor, target: &Tensor) -> Result<()>;
    fn compute(&self) -> BTreeMap<String, f64>;

    /// `Some` for an evaluator of generated text: the host then greedily continues the
    /// prompt of every document that has an answer and calls `update_text` instead of
    /// `update`.
    fn generation(&self) -> Option<Generation> {
        None
    }

    /// One generation: the prompt, the model's continuation (cut at the stop), and the
    /// reference answer.
    fn update_text(&mut self, _prompt: &str, _generated: &str, _reference: &str) -> Result<()> {
        Err(PluginError::new(format!(
            "`{}` evaluates model outputs, not generated text",
            Self::NAME
        )))
    }
}

/// How an evaluator of generated text wants its generations made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generation {
    pub max_new_tokens: u64,
    pub stop: Stop,
    /// A document without an answer is prompted with its first `prompt_tokens` tokens (the
    /// rest of it is the reference); `None` leaves such documents out.
    #[serde(default)]
    pub prompt_tokens: Option<u64>,
    /// At most this many documents of the split, the first ones; `None` for all.
    #[serde(default)]
    pub max_documents: Option<u64>,
}

/// Where a generation ends (besides `max_new_tokens`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// At the tokenizer's end-of-text token.
    EndOfText,
    /// At the first newline (included), or the end-of-text token.
    Newline,
}

/// Turns text into token ids and back. A `tokenizer` definition trains one on datasets (a
/// node of the graph, cached like any other), and a model built with it reads text.
pub trait Tokenizer: Component {
    /// Whether it learns its vocabulary from the datasets a `tokenizer` definition builds it
    /// on (`bpe(corpus)`); `false` for one that needs none (`bytes`, a file), which the checker
    /// then refuses datasets for.
    const TRAINED: bool = true;
    /// Learns the vocabulary from documents; a tokenizer that needs no training ignores them.
    fn train(&mut self, documents: &[&str]) -> Result<()>;
    /// The tokenizer in Hugging Face's `tokenizer.json` format.
    fn to_json(&self) -> Result<String>;
    /// Becomes the tokenizer `to_json` wrote.
    fn load_json(&mut self, json: &str) -> Result<()>;
    fn vocabulary(&self) -> TokenInfo;
    /// Before training: the most token ids training can give (a `bpe`'s `vocab_size`), so that
    /// `exp graph` can size a model before its tokenizer is trained; the model's size is then
    /// shown as at most that. `None` (the default) where the parameters do not say. A
    /// tokenizer that needs no training (`TRAINED` false) is sized by `vocabulary` instead.
    fn vocabulary_bound(&self) -> Option<i64> {
        None
    }
    fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>>;
    fn decode(&self, ids: &[u32]) -> Result<String>;
}

/// What an exporter receives of a trained model.
pub struct ExportedModel {
    /// The model component's name (`gpt`) and its parameters.
    pub architecture: String,
    pub params: Params,
    /// The dataset info that sized it (with the vocabulary, for a model of tokens).
    pub data: DataInfo,
    /// Every tensor, by checkpoint key.
    pub tensors: Vec<(String, Tensor)>,
    /// Its tokenizer's `tokenizer.json`, if it has one.
    pub tokenizer_json: Option<String>,
}

/// Writes a trained model in another ecosystem's format.
pub trait Exporter: Component {
    /// Writes `model` into `dir` (existing and empty); returns the files written.
    fn export(&self, model: &ExportedModel, dir: &std::path::Path) -> Result<Vec<String>>;
}

pub trait Merger: Component {
    /// Merges the tensors called `name` of every input model (in the file's order).
    fn merge(&self, name: &str, inputs: &[Tensor]) -> Result<Tensor>;

    /// Merges whole models: for each tensor name, that tensor of every input model (in the
    /// file's order); returns the merged tensors in the same order. Override it when a tensor's
    /// result depends on the others (e.g. a top-k over the whole model); by default each tensor
    /// is merged on its own.
    fn merge_model(&self, tensors: &[(String, Vec<Tensor>)]) -> Result<Vec<Tensor>> {
        tensors
            .iter()
            .map(|(name, inputs)| panics::in_method("merge", || self.merge(name, inputs)))
            .collect()
    }

    /// `Some` for a merger that can also run inside a training phase: every `every` steps, and
    /// once more at the end of the phase, the host calls `merge(name, &[anchor, current])` for
    /// each trainable tensor and writes the result into the live weights in place.
    fn as_hook(&self) -> Option<MergeHook> {
        None
    }
}

/// How a merger runs as a training hook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeHook {
    /// Steps between merges. The host resolves the merger's durations (`25%`, `1 epoch`) to
    /// steps of the phase before `create`, so a component only ever sees steps here.
    pub every: u64,
    pub anchor: HookAnchor,
    /// Whether the optimizer's state (moments) survives a merge; when false the host resets it.
    pub keep_optimizer: bool,
}

/// Which weights a hook merges the live ones with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "snake_case")]
pub enum HookAnchor {
    /// The weights at the start of the phase, fixed for all of it.
    TaskStart,
    /// The result of the latest merge (the phase's start before the first).
    PreviousMerge,
}

/// A penalty added to the training loss. Its state (anchors, Fisher estimates) is carried from
/// one task to the next in a task sequence and saved in resumable checkpoints, hence `Stateful`.
pub trait Regularizer: Component + Stateful {
    /// Called at the start of every training phase with the starting trainable tensors.
    fn anchor(&mut self, params: &[(String, Tensor)]) -> Result<()>;

    /// The penalty for the current trainable tensors: a scalar the host adds to the loss, so it
    /// must be differentiable with respect to `params`.
    fn penalty(&self, params: &[(String, Tensor)]) -> Result<Tensor>;

    /// `Some` when `end_task` needs the diagonal Fisher of the finished phase, which the host
    /// then estimates as asked.
    fn fisher_request(&self) -> Option<FisherRequest> {
        None
    }

    /// Called at the end of a phase with the final trainable tensors and, when `fisher_request`
    /// asked for it, the diagonal Fisher of each (same names, same shapes).
    fn end_task(
        &mut self,
        _params: &[(String, Tensor)],
        _fisher: Option<&[(String, Tensor)]>,
    ) -> Result<()> {
        Ok(())
    }
}

/// How the host should estimate a diagonal Fisher for a regularizer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FisherRequest {
    pub estimator: FisherEstimator,
    /// Squared gradients of each example (true) or of each batch's mean loss (false).
    pub per_example: bool,
    /// How many training batches to average over.
    pub batches: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Choice)]
#[serde(rename_all = "snake_case")]
pub enum FisherEstimator {
    /// Gradients of the loss at the true labels.
    Empirical,
    /// Gradients of the loss at labels sampled from the model's own predictions.
    Sampled,
}

/// Exports a plugin: its name, version, and its components grouped by kind.
///
/// ```text
/// exp_plugin_api::export_plugin! {
///     name: "my_plugin",
///     version: "0.1.0",
///     datasets: [MyData],
///     models: [MyNet],
/// }
/// ```
/// Every kind list is optional; they come in this order: `datasets`, `text_datasets`,
/// `models`, `optimizers`, `schedulers`, `evaluators`, `mergers`, `regularizers`,
/// `tokenizers`, `exporters`.
#[macro_export]
macro_rules! export_plugin {
    (
        name: $name:expr,
        version: $version:expr
        $(, datasets: [$($dataset:ty),* $(,)?])?
        $(, text_datasets: [$($text_dataset:ty),* $(,)?])?
        $(, models: [$($model:ty),* $(,)?])?
        $(, optimizers: [$($optimizer:ty),* $(,)?])?
        $(, schedulers: [$($scheduler:ty),* $(,)?])?
        $(, evaluators: [$($evaluator:ty),* $(,)?])?
        $(, mergers: [$($merger:ty),* $(,)?])?
        $(, regularizers: [$($regularizer:ty),* $(,)?])?
        $(, tokenizers: [$($tokenizer:ty),* $(,)?])?
        $(, exporters: [$($exporter:ty),* $(,)?])?
        $(,)?
    ) => {
        /// The plugin's entry point: the one symbol the exp host looks up.
        #[no_mangle]
        pub extern "C" fn exp_plugin_entry() -> *const $crate::abi::FfiPlugin {
            static EXPORT: ::std::sync::OnceLock<$crate::abi::PluginExport> =
                ::std::sync::OnceLock::new();
            EXPORT
                .get_or_init(|| {
                    let components = vec![
                        $($($crate::abi::export_dataset::<$dataset>(),)*)?
                        $($($crate::abi::export_text_dataset::<$text_dataset>(),)*)?
                        $($($crate::abi::export_model::<$model>(),)*)?
                        $($($crate::abi::export_optimizer::<$optimizer>(),)*)?
                        $($($crate::abi::export_scheduler::<$scheduler>(),)*)?
                        $($($crate::abi::export_evaluator::<$evaluator>(),)*)?
                        $($($crate::abi::export_merger::<$merger>(),)*)?
                        $($($crate::abi::export_regularizer::<$regularizer>(),)*)?
                        $($($crate::abi::export_tokenizer::<$tokenizer>(),)*)?
                        $($($crate::abi::export_exporter::<$exporter>(),)*)?
                    ];
                    $crate::abi::PluginExport::new($name, $version, components)
                })
                .descriptor()
        }
    };
}
