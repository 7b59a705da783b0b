//! The safe side of the plugin boundary: what a plugin author implements.
//!
//! A component is a Rust type implementing `Component` (its schema and constructor) and the
//! trait of its kind (`Dataset`, `Model`, `Optimizer`, `Scheduler`, `Evaluator`, `Merger`,
//! `Regularizer`). `export_plugin!` turns a list of such types into the library's single
//! exported symbol. Authors never write `unsafe`.

use std::collections::BTreeMap;
use std::fmt;

use exp_ir::{
    ComponentKind, ComponentSchema, Duration, DurationUnit, ParamSchema, ParamType, Value,
};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

pub use exp_ir;

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
        PluginError::new(format!("libtorch: {error}"))
    }
}

pub type Result<T, E = PluginError> = std::result::Result<T, E>;

/// Which part of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
}

/// What a dataset tells the rest of the graph about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    /// Shape of one input example, e.g. `[64]` for flattened 8×8 images.
    pub input_shape: Vec<i64>,
    /// Number of target classes (0 when targets are not class labels).
    pub classes: i64,
    pub train_len: i64,
    pub test_len: i64,
    /// Where the data comes from and under which licence; recorded in the run's ledger.
    pub source: String,
    pub license: String,
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

/// Parameters as the checker resolved them (defaults filled in), with typed getters whose
/// errors name the parameter.
#[derive(Debug, Clone, Default)]
pub struct Params {
    values: serde_json::Map<String, serde_json::Value>,
}

impl Params {
    pub fn new(values: serde_json::Map<String, serde_json::Value>) -> Params {
        Params { values }
    }

    fn get(&self, name: &str) -> Result<&serde_json::Value> {
        self.values
            .get(name)
            .ok_or_else(|| PluginError::in_field(name, format!("missing parameter `{name}`")))
    }

    pub fn f64(&self, name: &str) -> Result<f64> {
        self.get(name)?.as_f64().ok_or_else(|| {
            PluginError::in_field(name, format!("parameter `{name}` must be a number"))
        })
    }

    pub fn i64(&self, name: &str) -> Result<i64> {
        self.get(name)?.as_i64().ok_or_else(|| {
            PluginError::in_field(name, format!("parameter `{name}` must be an integer"))
        })
    }

    pub fn bool(&self, name: &str) -> Result<bool> {
        self.get(name)?.as_bool().ok_or_else(|| {
            PluginError::in_field(name, format!("parameter `{name}` must be a boolean"))
        })
    }

    pub fn str(&self, name: &str) -> Result<&str> {
        self.get(name)?.as_str().ok_or_else(|| {
            PluginError::in_field(name, format!("parameter `{name}` must be a string"))
        })
    }

    pub fn i64_list(&self, name: &str) -> Result<Vec<i64>> {
        self.list(name, "integers", serde_json::Value::as_i64)
    }

    pub fn f64_list(&self, name: &str) -> Result<Vec<f64>> {
        self.list(name, "numbers", serde_json::Value::as_f64)
    }

    pub fn duration_list(&self, name: &str) -> Result<Vec<Duration>> {
        self.list(name, "durations", |item| {
            serde_json::from_value(item.clone()).ok()
        })
    }

    /// A list parameter whose every item `read` accepts; `what` names the items for the error.
    fn list<T>(
        &self,
        name: &str,
        what: &str,
        read: impl Fn(&serde_json::Value) -> Option<T>,
    ) -> Result<Vec<T>> {
        let wrong =
            || PluginError::in_field(name, format!("parameter `{name}` must be a list of {what}"));
        self.get(name)?
            .as_array()
            .ok_or_else(wrong)?
            .iter()
            .map(|item| read(item).ok_or_else(wrong))
            .collect()
    }

    pub fn duration(&self, name: &str) -> Result<Duration> {
        serde_json::from_value(self.get(name)?.clone()).map_err(|_| {
            PluginError::in_field(name, format!("parameter `{name}` must be a duration"))
        })
    }
}

/// Every component: its self-description and its constructor.
pub trait Component: Sized + Send + 'static {
    fn schema() -> ComponentSchema;
    fn create(params: &Params, context: &Context) -> Result<Self>;
    /// A scheduled parameter (declared `ParamType::Schedule`) takes its value at the current
    /// step. `create` saw the value at the phase's start, as a plain number; the host calls this
    /// before a step when the schedule has moved. Components with such parameters override it.
    fn set_param(&mut self, name: &str, _value: &Value) -> Result<()> {
        Err(not_scheduled(name))
    }
}

/// The error for `set_param` on a parameter that does not follow a schedule.
pub fn not_scheduled(name: &str) -> PluginError {
    PluginError::in_field(
        name,
        format!("parameter `{name}` cannot change during a phase"),
    )
}

/// The number a scheduled parameter was set to, for `Component::set_param`.
pub fn scheduled_value(name: &str, value: &Value) -> Result<f64> {
    value
        .as_f64()
        .ok_or_else(|| PluginError::in_field(name, format!("parameter `{name}` must be a number")))
}

pub trait Dataset: Component {
    fn info(&self) -> DataInfo;
    /// Inputs and targets of the examples at `indices` of a split.
    fn batch(&self, split: Split, indices: &[i64]) -> Result<(Tensor, Tensor)>;
}

/// An object's training state beyond its parameters: tensors (optimizer moments) and plain
/// data (step counts, generator states), saved in checkpoints so a phase resumes exactly.
#[derive(Debug, Default)]
pub struct SavedState {
    pub tensors: Vec<(String, Tensor)>,
    pub data: serde_json::Value,
}

/// Saving and restoring training state. Models default to "nothing beyond the parameters";
/// optimizers must say (an optimizer without state returns `SavedState::default()`).
pub trait Stateful {
    fn save_state(&self) -> Result<SavedState>;
    fn load_state(&mut self, state: SavedState) -> Result<()>;
}

pub trait Model: Component + Stateful {
    /// Every tensor of the model (trainable parameters, with `requires_grad`, and buffers), by
    /// checkpoint key, sharing storage with the model.
    fn named_tensors(&self) -> Vec<(String, Tensor)>;
    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor>;
    /// The training loss of a batch; cross-entropy over class logits unless overridden.
    fn loss(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        let logits = self.forward(x, true)?;
        Ok(logits.f_cross_entropy_loss::<Tensor>(y, None, tch::Reduction::Mean, -100, 0.0)?)
    }
}

pub trait Optimizer: Component + Stateful {
    /// Updates `params` in place from their gradients.
    fn step(&mut self, params: &[Tensor], lr: f64) -> Result<()>;
}

pub trait Scheduler: Component {
    /// The learning-rate multiplier at `step` (0-based) of a phase of `total` steps.
    fn multiplier(&self, step: u64, total: u64) -> f64;
}

pub trait Evaluator: Component {
    fn reset(&mut self);
    /// Accumulates one batch of model outputs and targets.
    fn update(&mut self, output: &Tensor, target: &Tensor) -> Result<()>;
    fn compute(&self) -> BTreeMap<String, f64>;
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
            .map(|(name, inputs)| self.merge(name, inputs))
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FisherEstimator {
    /// Gradients of the loss at the true labels.
    Empirical,
    /// Gradients of the loss at labels sampled from the model's own predictions.
    Sampled,
}

/// A small deterministic random generator (SplitMix64) for components: initialisation, dropout
/// masks and shuffles drawn from it depend only on the node's seed, never on thread timing.
/// Its whole state is one integer (`state`/`from_state`), so it is saved with a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// The generator's whole state.
    pub fn state(&self) -> u64 {
        self.state
    }

    /// A generator continuing from a saved state.
    pub fn from_state(state: u64) -> Rng {
        Rng { state }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A float tensor of `shape` uniform in [low, high).
    pub fn uniform(&mut self, shape: &[i64], low: f64, high: f64) -> Tensor {
        let count: i64 = shape.iter().product();
        let values: Vec<f32> = (0..count)
            .map(|_| (low + (high - low) * self.next_f64()) as f32)
            .collect();
        Tensor::from_slice(&values)
            .reshape(shape)
            .to_kind(Kind::Float)
    }

    /// A 0/1 float mask of `shape` where each entry is 1 with probability `keep`.
    pub fn bernoulli(&mut self, shape: &[i64], keep: f64) -> Tensor {
        let count: i64 = shape.iter().product();
        let values: Vec<f32> = (0..count)
            .map(|_| if self.next_f64() < keep { 1.0 } else { 0.0 })
            .collect();
        Tensor::from_slice(&values).reshape(shape)
    }

    /// A permutation of `0..n` (Fisher–Yates).
    pub fn permutation(&mut self, n: usize) -> Vec<i64> {
        let mut order: Vec<i64> = (0..n as i64).collect();
        for i in (1..n).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        order
    }
}

/// Builders for schemas, so a component's description reads like its documentation.
pub fn schema(kind: ComponentKind, name: &str, version: &str, doc: &str) -> ComponentSchema {
    ComponentSchema {
        kind,
        name: name.into(),
        doc: doc.into(),
        version: version.into(),
        params: Vec::new(),
    }
}

/// A parameter description: `param("lr", ParamType::Float).default(1e-3).min(0.0).doc("...")`.
pub fn param(name: &str, ty: ParamType) -> ParamSchema {
    ParamSchema {
        name: name.into(),
        ty,
        doc: String::new(),
        default: None,
        min: None,
        max: None,
    }
}

pub trait ParamBuilder {
    fn doc(self, doc: &str) -> Self;
    fn default(self, value: Value) -> Self;
    fn min(self, min: f64) -> Self;
    fn max(self, max: f64) -> Self;
}

impl ParamBuilder for ParamSchema {
    fn doc(mut self, doc: &str) -> Self {
        self.doc = doc.into();
        self
    }
    fn default(mut self, value: Value) -> Self {
        self.default = Some(value);
        self
    }
    fn min(mut self, min: f64) -> Self {
        self.min = Some(min);
        self
    }
    fn max(mut self, max: f64) -> Self {
        self.max = Some(max);
        self
    }
}

pub trait SchemaBuilder {
    fn with(self, param: ParamSchema) -> Self;
}

impl SchemaBuilder for ComponentSchema {
    fn with(mut self, param: ParamSchema) -> Self {
        self.params.push(param);
        self
    }
}

/// A duration type accepting any unit.
pub fn any_duration() -> ParamType {
    ParamType::Duration {
        units: vec![
            DurationUnit::Steps,
            DurationUnit::Epochs,
            DurationUnit::Tokens,
            DurationUnit::Fraction,
        ],
    }
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
/// Every kind list is optional.
#[macro_export]
macro_rules! export_plugin {
    (
        name: $name:expr,
        version: $version:expr
        $(, datasets: [$($dataset:ty),* $(,)?])?
        $(, models: [$($model:ty),* $(,)?])?
        $(, optimizers: [$($optimizer:ty),* $(,)?])?
        $(, schedulers: [$($scheduler:ty),* $(,)?])?
        $(, evaluators: [$($evaluator:ty),* $(,)?])?
        $(, mergers: [$($merger:ty),* $(,)?])?
        $(, regularizers: [$($regularizer:ty),* $(,)?])?
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
                        $($($crate::abi::export_model::<$model>(),)*)?
                        $($($crate::abi::export_optimizer::<$optimizer>(),)*)?
                        $($($crate::abi::export_scheduler::<$scheduler>(),)*)?
                        $($($crate::abi::export_evaluator::<$evaluator>(),)*)?
                        $($($crate::abi::export_merger::<$merger>(),)*)?
                        $($($crate::abi::export_regularizer::<$regularizer>(),)*)?
                    ];
                    $crate::abi::PluginExport::new($name, $version, components)
                })
                .descriptor()
        }
    };
}
