//! The dataflow graph: what the compiler produces from a checked `.exp` file and the only thing
//! the runtime reads. Nodes are definitions (a dataset, a model initialisation, a training
//! phase, a merge, an evaluation, a report); edges are the artifacts that flow between them.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use exp_diag::Span;
use serde::{Deserialize, Serialize};

use crate::schema::ComponentKind;
use crate::value::{Duration, Value};

/// A whole experiment, ready to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    /// The experiment's name: the file stem unless the file says otherwise.
    pub experiment: String,
    /// The base seed; every node's seed derives from it unless the file sets one.
    pub seed: u64,
    /// Plugin files named in the file with `plugin "path"`, as written; the binary resolves
    /// them relative to the file.
    pub plugins: Vec<String>,
    /// Nodes in a topological order: every input of a node comes before it.
    pub nodes: Vec<Node>,
    /// `policy { .. }`: rules the whole run keeps, checked before any training.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
    /// `resources { .. }`: what each node asks a cluster's scheduler for (`resources_for`).
    /// Read by a scheduler only: it is no part of any node, so of any cache key.
    #[serde(default, skip_serializing_if = "Resources::is_empty")]
    pub resources: Resources,
}

/// What a run may read: every dataset's licence must be one of `licenses` (compared without
/// regard to case), or the run is refused before anything trains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub licenses: Vec<String>,
}

impl Policy {
    pub fn allows(&self, license: &str) -> bool {
        self.licenses
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(license.trim()))
    }
}

/// The rules of `resources { .. }`, in the order the file writes them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    pub rules: Vec<ResourceRule>,
}

impl Resources {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// One key of `resources { .. }` and the request written under it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceRule {
    pub scope: ResourceScope,
    pub request: ResourceRequest,
}

/// The nodes a rule is for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceScope {
    /// `default`: every node.
    Default,
    /// A definition keyword (`train`, `evaluate`, ..): the nodes such definitions make. A
    /// sequence's summary is a `sequence` node; its phases and evaluations are `train` and
    /// `evaluate` nodes.
    Kind(String),
    /// A definition's name: the node of that name, or every node of that family (the copies a
    /// sweep makes of a definition).
    Name(String),
}

/// What a node asks a cluster's scheduler for; a field not set is left to the scheduler.
/// Memory is in MB of 1024 × 1024 bytes and time in whole minutes, rounded up (Slurm's units).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_minutes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

impl ResourceRequest {
    /// `self`'s fields where set, else `base`'s.
    pub fn over(&self, base: &ResourceRequest) -> ResourceRequest {
        ResourceRequest {
            cpus: self.cpus.or(base.cpus),
            memory_mb: self.memory_mb.or(base.memory_mb),
            gpus: self.gpus.or(base.gpus),
            gpu_type: self.gpu_type.clone().or_else(|| base.gpu_type.clone()),
            time_minutes: self.time_minutes.or(base.time_minutes),
            partition: self.partition.clone().or_else(|| base.partition.clone()),
            account: self.account.clone().or_else(|| base.account.clone()),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == ResourceRequest::default()
    }
}

/// A model's parameter count, as `exp graph` shows it: exact, or the most it can be (sized by a
/// tokenizer that has not learnt its vocabulary yet, whose vocabulary can come out smaller).
/// The runtime computes it (`exp_runtime::sizing`), the command line prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSize {
    pub parameters: u64,
    pub exact: bool,
}

impl std::fmt::Display for ModelSize {
    /// `1.06M parameters`, `≤ 12.32M parameters`, `650 parameters`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.exact {
            f.write_str("≤ ")?;
        }
        let count = self.parameters;
        // Each unit up to where its rounded figure would read as the next unit.
        match count {
            0..=9_999 => write!(f, "{count}")?,
            10_000..=999_949 => write!(f, "{:.1}K", count as f64 / 1e3)?,
            999_950..=999_994_999 => write!(f, "{:.2}M", count as f64 / 1e6)?,
            _ => write!(f, "{:.2}B", count as f64 / 1e9)?,
        }
        f.write_str(" parameters")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NodeId(pub usize);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub id: NodeId,
    /// The definition's name in the file; unique within a graph.
    pub name: String,
    pub kind: NodeKind,
    /// Incoming edges, in the order the file lists them (merge inputs are ordered).
    pub inputs: Vec<Input>,
    /// What this node produces.
    pub output: ArtifactKind,
    /// The node's seed: initialisation, data order and dropout all derive from it.
    pub seed: u64,
    /// Where the node was defined, for runtime errors that point at the file.
    pub origin: Origin,
    /// For a node a sweep or a template made: the name it was written with, without the
    /// sweep point (`ft` for `ft[lr=0.001,seed=1]`). Reports group replicates by it.
    ///
    /// Family names, axes and values are shared (`Arc<str>`) between the many nodes that carry
    /// the same ones: a 50,000-node sweep then holds each once instead of once per node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<Arc<str>>,
    /// The node's point in the sweeps around it, axis by axis (`[("lr", "0.001"), ("seed", "1")]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub point: Vec<(Arc<str>, Arc<str>)>,
}

/// Where a node comes from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Written in a file at this span.
    Source(Span),
    /// Made by the compiler on behalf of another node.
    Derived(NodeId),
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Input {
    /// The field that names this input: `model`, `data`, `inputs`, `rows`. Borrowed from
    /// the compiler's fixed set of roles; owned only when read back from JSON.
    pub role: Cow<'static, str>,
    pub node: NodeId,
    pub artifact: ArtifactKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactKind {
    /// A dataset with train and test splits.
    Dataset,
    /// Model weights together with the architecture that reads them.
    Model,
    /// Named metric values.
    Metrics,
    /// A results table.
    Table,
    /// A trained tokenizer (its `tokenizer.json`).
    Tokenizer,
    /// Files an exporter wrote.
    Files,
}

impl ArtifactKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactKind::Dataset => "dataset",
            ArtifactKind::Model => "model",
            ArtifactKind::Metrics => "metrics",
            ArtifactKind::Table => "table",
            ArtifactKind::Tokenizer => "tokenizer",
            ArtifactKind::Files => "files",
        }
    }
}

/// A component chosen by name, with every parameter resolved (defaults filled in).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentRef {
    pub kind: ComponentKind,
    pub name: String,
    pub params: BTreeMap<String, Value>,
    pub span: Option<Span>,
}

impl ComponentRef {
    /// The parameters as one JSON object, the form a plugin constructor receives.
    pub fn params_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.params
                .iter()
                .map(|(key, value)| (key.clone(), value.to_json()))
                .collect(),
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NodeKind {
    /// Loads or generates a dataset. No inputs.
    Dataset { component: Arc<ComponentRef> },
    /// Initialises an architecture's weights. Input `data` (optional): the dataset whose
    /// shape (features, classes) sizes the model; input `tokenizer` (optional): the tokenizer
    /// a model of token sequences reads text through, which sizes its vocabulary instead.
    Model { component: Arc<ComponentRef> },
    /// Trains a tokenizer on the training splits of its inputs `data` (text datasets).
    Tokenizer { component: Arc<ComponentRef> },
    /// Writes its input `model` (with its tokenizer) in another format, into the run
    /// directory's `exports/<name>/`.
    Export { component: Arc<ComponentRef> },
    /// Trains a model on a dataset. Inputs `model` and `data`.
    Train(Arc<TrainSpec>),
    /// Merges two or more models of one architecture. Inputs `inputs`, in order.
    Merge { component: Arc<ComponentRef> },
    /// Evaluates a model on a split of a dataset. Inputs `model` and `data`.
    /// With several splits, the test split's metrics keep their names and another split's
    /// are prefixed with it (`validation_accuracy`), so that a report can choose settings by
    /// one and show the other.
    Evaluate {
        metrics: Arc<[ComponentRef]>,
        /// Serialised as `split`, a plain string when there is one (as before there could be
        /// several), so that the cache keys of one-split evaluations do not change.
        #[serde(rename = "split", with = "one_or_many")]
        splits: Vec<String>,
    },
    /// Gathers metrics into a table. Inputs `rows` (evaluations or training phases). With
    /// `chart`, the table is also drawn as a grouped bar chart. Rows that differ only in their
    /// `seed` axis are replicates: the table shows their mean ± std, and a second table
    /// (`<report>_runs`) keeps every run's numbers.
    Report {
        #[serde(default)]
        chart: bool,
        /// A sweep axis to plot every metric against (one line per setting of the other axes,
        /// replicates as mean with a std error bar): `<report>.<metric>_vs_<axis>.png`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        against: Option<String>,
        /// Settings chosen per method: the table keeps, of the rows that differ only in the
        /// axes of `over`, the one with the best mean of `by`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        choose: Option<Choose>,
        /// Write the run's HTML page (`report.html`) when the run ends. It changes nothing in
        /// the table, so it is left out of the serialised node (and so of cache keys) when false.
        #[serde(default, skip_serializing_if = "is_false")]
        html: bool,
    },
    /// The summary of a task sequence: inputs `stages` are the models after each task, `rows`
    /// the evaluations after task i on task j, row-major (`tasks` × `tasks`), one such block
    /// per split of `splits`, in its order. Computes, per split, the accuracy matrix of
    /// `metric`, the final average, average forgetting and backward transfer, and draws the
    /// matrix as a heatmap. The test split's summary metrics keep their names; another split's
    /// are prefixed with it (`validation_avg_accuracy`).
    Continual {
        tasks: usize,
        metric: String,
        /// The splits evaluated; `["test"]` when absent (graphs written before splits).
        #[serde(
            default = "test_split_only",
            skip_serializing_if = "is_test_split_only"
        )]
        splits: Vec<String>,
        /// Whether this copy draws its matrices as heatmaps beside their CSV files. `None`
        /// (not written in the file): drawn for a sequence outside any sweep, not for the
        /// copies a sweep or seed replicates make, so that a study of hundreds of copies leaves
        /// its pictures to its reports.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        heatmap: Option<bool>,
    },
    /// A dataset made from input `data` by input `model` (`caption(data, model)`): every
    /// example of every split, with the labels `data` lacks (targets of −100) filled in by the
    /// model's predictions (the most likely class of each). Labels it has are kept.
    Caption,
    /// A dataset drawn from a generative model (`sample(model, prompts) { .. }`): one input
    /// per example of input `data`'s split, conditioned on that example's targets, which it
    /// keeps. Inputs `model` and `data`.
    Sample(Arc<SampleSpec>),
}

/// A list of strings written as a plain string when it holds one.
mod one_or_many {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(items: &[String], serializer: S) -> Result<S::Ok, S::Error> {
        match items {
            [one] => one.serialize(serializer),
            many => many.serialize(serializer),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<String>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        Ok(match OneOrMany::deserialize(deserializer)? {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        })
    }
}

/// How a `sample(..)` dataset draws its examples (`Sampling` in the SDK).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleSpec {
    /// The splits of the prompts read; the samples of each form the same split of the new
    /// dataset, whose other splits are empty.
    #[serde(rename = "split", with = "one_or_many")]
    pub splits: Vec<String>,
    /// The first `count` examples of each split; all of them when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    pub steps: u64,
    /// Classifier-free guidance weight: 0 unconditional, 1 conditional.
    pub guidance: f64,
    /// 0 for deterministic DDIM.
    pub eta: f64,
    /// How many of the samples the picture of the dataset (a grid) shows.
    pub grid: u64,
}

impl NodeKind {
    /// The keyword of the definitions that make such nodes: `word`, except that a sequence's
    /// summary is made by `sequence`.
    pub fn keyword(&self) -> &'static str {
        match self {
            NodeKind::Continual { .. } => "sequence",
            other => other.word(),
        }
    }

    pub fn word(&self) -> &'static str {
        match self {
            NodeKind::Dataset { .. } | NodeKind::Caption | NodeKind::Sample(_) => "dataset",
            NodeKind::Model { .. } => "model",
            NodeKind::Train(_) => "train",
            NodeKind::Merge { .. } => "merge",
            NodeKind::Evaluate { .. } => "evaluate",
            NodeKind::Report { .. } => "report",
            NodeKind::Continual { .. } => "continual",
            NodeKind::Tokenizer { .. } => "tokenizer",
            NodeKind::Export { .. } => "export",
        }
    }
}

/// Everything a training phase needs besides its inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSpec {
    /// Length of the phase: steps or epochs (never a fraction: there is no enclosing phase).
    pub steps: Duration,
    pub batch: u64,
    /// The optimizer. Its scheduled parameters (`Value::Schedule`) follow their schedules
    /// through the phase; the phase's `schedule:` field is folded into its learning rate.
    pub optimizer: ComponentRef,
    /// Evaluators run on the test split every `eval_every` and at the end.
    pub eval: Vec<ComponentRef>,
    pub eval_every: Option<Duration>,
    /// How often the training loss is logged.
    pub log_every: Duration,
    /// How often the full training state is checkpointed for resuming; `None` lets the
    /// runtime choose (a tenth of the phase).
    #[serde(default)]
    pub checkpoint_every: Option<Duration>,
    /// Components that run inside the training loop: regularizers add a penalty to the loss;
    /// mergers that can run as hooks (SFA) merge the live weights with an anchor at intervals.
    /// Their state (an anchor, a Fisher) travels with the model to the next phase.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<ComponentRef>,
    /// Replay of earlier tasks' examples (inputs `replay`): a buffer mixed into each batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<Replay>,
    /// How batches draw from several `data` inputs over the phase; without it their training
    /// splits are concatenated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mixture: Option<Mixture>,
    /// Before each optimizer step the gradients are scaled down, together, to this global L2
    /// norm when theirs is larger (PyTorch's `clip_grad_norm_`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip: Option<f64>,
    /// Each step's batch is computed in this many micro-batches, whose gradients add up to the
    /// whole batch's: the same step in less memory.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub accumulate: u64,
    /// The number format of the forward pass.
    #[serde(default, skip_serializing_if = "Precision::is_fp32")]
    pub precision: Precision,
}

impl SampleSpec {
    /// The settings in words, for graphs and sources: `20 steps, guidance 2, eta 0, test`.
    pub fn summary(&self) -> String {
        let count = self
            .count
            .map_or_else(String::new, |count| format!("{count} of "));
        format!(
            "{count}{}, {} steps, guidance {}, eta {}",
            self.splits.join(" and "),
            self.steps,
            self.guidance,
            self.eta
        )
    }
}

/// A report's `choose: { by, over, maximize }`: of the rows of one family that differ only in
/// the sweep axes `over` (their replicates averaged first), the table keeps the one whose mean
/// of the metric `by` is highest (lowest with `maximize: false`). Choosing by a validation
/// metric and reporting the others is choosing settings on the validation split and reporting
/// the test split once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choose {
    pub by: String,
    pub over: Vec<String>,
    #[serde(default = "yes", skip_serializing_if = "is_yes")]
    pub maximize: bool,
}

fn yes() -> bool {
    true
}

fn is_yes(value: &bool) -> bool {
    *value
}

fn one() -> u64 {
    1
}

fn is_one(value: &u64) -> bool {
    *value == 1
}

fn test_split_only() -> Vec<String> {
    vec!["test".to_string()]
}

fn is_test_split_only(splits: &[String]) -> bool {
    splits == ["test"]
}

/// The number format a phase's forward pass computes in. Weights, gradients and the optimizer
/// stay in 32-bit floats in every case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// 32-bit floats throughout.
    #[default]
    Fp32,
    /// libtorch's autocast to bfloat16: matrix products and convolutions in bfloat16, what
    /// needs the range (softmax, losses, norms) in 32 bits.
    Bf16,
    /// Autocast to float16, with the loss scaled to keep small gradients from vanishing (the
    /// scale halves when a step's gradients overflow, and that step is skipped).
    Fp16,
}

impl Precision {
    pub const ALL: [Precision; 3] = [Precision::Fp32, Precision::Bf16, Precision::Fp16];

    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
            Precision::Fp16 => "fp16",
        }
    }

    fn is_fp32(&self) -> bool {
        *self == Precision::Fp32
    }
}

/// A schedule of data-mixture weights: at each point of `at` (from the start of the phase) the
/// weights become the matching row of `weights` (one weight per `data` input), held until the
/// next point, or moved linearly toward it with `interpolate`. Before the first point the first
/// row holds. Each example of a batch comes from input i with probability weight i / sum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mixture {
    pub at: Vec<Duration>,
    pub weights: Vec<Vec<f64>>,
    #[serde(default)]
    pub interpolate: bool,
}

/// A replay buffer: `size` examples drawn from the earlier tasks' training splits, of which
/// `ratio` of every batch is made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replay {
    /// A number of examples, or a fraction of the earlier tasks' training examples.
    pub size: ReplaySize,
    /// The share of each batch taken from the buffer, in [0, 1).
    pub ratio: f64,
    /// `uniform` (a uniform sample of all earlier examples) or `reservoir` (reservoir sampling
    /// over the earlier tasks in order, as a stream would see them).
    pub selection: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplaySize {
    Count(u64),
    Fraction(f64),
}

impl Graph {
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0]
    }

    pub fn find(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|node| node.name == name)
    }

    /// The nodes that read `id`'s output.
    pub fn consumers(&self, id: NodeId) -> impl Iterator<Item = &Node> {
        self.nodes
            .iter()
            .filter(move |node| node.inputs.iter().any(|input| input.node == id))
    }

    /// What node `node` asks a scheduler for: `default`, overridden by its kind's rule, by its
    /// family's, by its own name's.
    pub fn resources_for(&self, node: &Node) -> ResourceRequest {
        let keyword = node.kind.keyword();
        let family = node.family.as_deref();
        // How specific a rule is for this node; `None` when it is not for it.
        let rank = |scope: &ResourceScope| match scope {
            ResourceScope::Default => Some(0),
            ResourceScope::Kind(kind) if kind == keyword => Some(1),
            ResourceScope::Name(name) if Some(name.as_str()) == family => Some(2),
            ResourceScope::Name(name) if *name == node.name => Some(3),
            _ => None,
        };
        let mut request = ResourceRequest::default();
        for level in 0..=3 {
            for rule in &self.resources.rules {
                if rank(&rule.scope) == Some(level) {
                    request = rule.request.over(&request);
                }
            }
        }
        request
    }
}

impl Node {
    /// The value of sweep axis `axis` at this node's point, if it has that axis.
    pub fn axis(&self, axis: &str) -> Option<&str> {
        self.point
            .iter()
            .find(|(name, _)| &**name == axis)
            .map(|(_, value)| &**value)
    }

    /// The first input with this role.
    pub fn input(&self, role: &str) -> Option<NodeId> {
        self.inputs
            .iter()
            .find(|input| input.role == role)
            .map(|input| input.node)
    }

    pub fn inputs_with_role<'a>(&'a self, role: &'a str) -> impl Iterator<Item = NodeId> + 'a {
        self.inputs
            .iter()
            .filter(move |input| input.role == role)
            .map(|input| input.node)
    }
}

/// A sweep point's value as a number, for charts against an axis: `0.25`, `1e-3`, `25%`
/// (0.25), `100steps` (100). `None` for values that are not numbers (`relu`, `#2`). The checker
/// uses it to refuse a report's `against` axis that could not be plotted, the runtime to plot.
pub fn axis_number(label: &str) -> Option<f64> {
    if let Some(percent) = label.strip_suffix('%') {
        return percent.parse::<f64>().ok().map(|number| number / 100.0);
    }
    let digits = label.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    digits.parse().ok()
}

/// Derives a node's seed from the experiment's base seed and the node's name, so that seeds are
/// stable when nodes are added or reordered (SplitMix64 over an FNV-1a hash of the name).
pub fn derive_seed(base: u64, name: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = base ^ hash;
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    // Keep seeds in the positive i64 range: libtorch's manual_seed takes an i64.
    (z ^ (z >> 31)) >> 1
}

fn is_false(value: &bool) -> bool {
    !*value
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{
        axis_number, derive_seed, ArtifactKind, Graph, Node, NodeId, NodeKind, Origin,
        ResourceRequest, ResourceRule, ResourceScope, Resources,
    };

    fn node(name: &str, kind: NodeKind, family: Option<&str>) -> Node {
        Node {
            id: NodeId(0),
            name: name.to_string(),
            kind,
            inputs: Vec::new(),
            output: ArtifactKind::Metrics,
            seed: 0,
            origin: Origin::None,
            family: family.map(Arc::from),
            point: Vec::new(),
        }
    }

    fn evaluate() -> NodeKind {
        NodeKind::Evaluate {
            metrics: Arc::from(Vec::new()),
            splits: vec!["test".to_string()],
        }
    }

    fn rule(scope: ResourceScope, request: ResourceRequest) -> ResourceRule {
        ResourceRule { scope, request }
    }

    /// Every field set, each to a value of its own.
    fn full() -> ResourceRequest {
        ResourceRequest {
            cpus: Some(2),
            memory_mb: Some(4096),
            gpus: Some(1),
            gpu_type: Some("a100".to_string()),
            time_minutes: Some(30),
            partition: Some("gpu".to_string()),
            account: Some("lab".to_string()),
        }
    }

    #[test]
    fn a_request_keeps_its_own_fields_and_takes_the_rest_from_its_base() {
        let base = full();
        let empty = ResourceRequest::default();
        assert_eq!(empty.over(&base), base);
        assert_eq!(base.over(&empty), base);
        let own = ResourceRequest {
            cpus: Some(8),
            memory_mb: Some(1),
            gpus: Some(0),
            gpu_type: Some("h100".to_string()),
            time_minutes: Some(120),
            partition: Some("long".to_string()),
            account: Some("other".to_string()),
        };
        assert_eq!(own.over(&base), own);
        // Field by field: each one set alone wins over the base's and leaves the others.
        let one = |request: ResourceRequest| request.over(&base);
        assert_eq!(
            one(ResourceRequest {
                cpus: Some(8),
                ..ResourceRequest::default()
            }),
            ResourceRequest {
                cpus: Some(8),
                ..full()
            }
        );
        assert_eq!(
            one(ResourceRequest {
                memory_mb: Some(1),
                ..ResourceRequest::default()
            }),
            ResourceRequest {
                memory_mb: Some(1),
                ..full()
            }
        );
        assert_eq!(
            one(ResourceRequest {
                gpus: Some(0),
                ..ResourceRequest::default()
            }),
            ResourceRequest {
                gpus: Some(0),
                ..full()
            }
        );
        assert_eq!(
            one(ResourceRequest {
                time_minutes: Some(1),
                ..ResourceRequest::default()
            }),
            ResourceRequest {
                time_minutes: Some(1),
                ..full()
            }
        );
    }

    #[test]
    fn a_request_is_empty_only_with_no_field_set() {
        assert!(ResourceRequest::default().is_empty());
        assert!(!full().is_empty());
        let only: [ResourceRequest; 7] = [
            ResourceRequest {
                cpus: Some(1),
                ..ResourceRequest::default()
            },
            ResourceRequest {
                memory_mb: Some(1),
                ..ResourceRequest::default()
            },
            ResourceRequest {
                gpus: Some(0),
                ..ResourceRequest::default()
            },
            ResourceRequest {
                gpu_type: Some("a100".to_string()),
                ..ResourceRequest::default()
            },
            ResourceRequest {
                time_minutes: Some(1),
                ..ResourceRequest::default()
            },
            ResourceRequest {
                partition: Some("cpu".to_string()),
                ..ResourceRequest::default()
            },
            ResourceRequest {
                account: Some("lab".to_string()),
                ..ResourceRequest::default()
            },
        ];
        for request in only {
            assert!(!request.is_empty(), "{request:?}");
        }
        assert!(Resources::default().is_empty());
        assert!(!Resources {
            rules: vec![rule(ResourceScope::Default, ResourceRequest::default())],
        }
        .is_empty());
    }

    /// `default`, then the kind's rule, the family's and the name's, whatever order the file
    /// writes them in; a rule for another kind or name is not applied.
    #[test]
    fn a_node_asks_for_the_most_specific_rule_of_each_field() {
        let cpus = |n| ResourceRequest {
            cpus: Some(n),
            ..ResourceRequest::default()
        };
        let graph = |rules: Vec<ResourceRule>| Graph {
            experiment: "e".to_string(),
            seed: 0,
            plugins: Vec::new(),
            nodes: Vec::new(),
            policy: None,
            resources: Resources { rules },
        };
        let swept = node("score[lr=1]", evaluate(), Some("score"));
        let plain = node("final", evaluate(), None);
        let trained = node(
            "ft",
            NodeKind::Train(Arc::new(super::TrainSpec {
                steps: crate::Duration {
                    amount: 1.0,
                    unit: crate::DurationUnit::Steps,
                },
                batch: 1,
                optimizer: super::ComponentRef {
                    kind: crate::ComponentKind::Optimizer,
                    name: "sgd".to_string(),
                    params: Default::default(),
                    span: None,
                },
                eval: Vec::new(),
                eval_every: None,
                log_every: crate::Duration {
                    amount: 1.0,
                    unit: crate::DurationUnit::Steps,
                },
                checkpoint_every: None,
                hooks: Vec::new(),
                replay: None,
                mixture: None,
                clip: None,
                accumulate: 1,
                precision: Default::default(),
            })),
            None,
        );
        let rules = vec![
            rule(ResourceScope::Name("final".to_string()), cpus(4)),
            rule(ResourceScope::Name("score".to_string()), cpus(3)),
            rule(ResourceScope::Kind("evaluate".to_string()), cpus(2)),
            rule(
                ResourceScope::Default,
                ResourceRequest {
                    cpus: Some(1),
                    partition: Some("cpu".to_string()),
                    ..ResourceRequest::default()
                },
            ),
            rule(
                ResourceScope::Kind("train".to_string()),
                ResourceRequest {
                    gpus: Some(1),
                    ..ResourceRequest::default()
                },
            ),
        ];
        let with = |cpus: u32, gpus: Option<u32>| ResourceRequest {
            cpus: Some(cpus),
            gpus,
            partition: Some("cpu".to_string()),
            ..ResourceRequest::default()
        };
        let all = graph(rules.clone());
        assert_eq!(all.resources_for(&plain), with(4, None));
        assert_eq!(all.resources_for(&swept), with(3, None));
        assert_eq!(all.resources_for(&trained), with(1, Some(1)));
        // Without the name rules, the kind's; without that, the default.
        let kind_and_default = graph(rules[2..].to_vec());
        assert_eq!(kind_and_default.resources_for(&plain), with(2, None));
        assert_eq!(kind_and_default.resources_for(&swept), with(2, None));
        let default = graph(rules[3..4].to_vec());
        assert_eq!(default.resources_for(&swept), with(1, None));
        // The family's rule is less specific than the node's own name's.
        let both = graph(vec![
            rule(ResourceScope::Name("score[lr=1]".to_string()), cpus(9)),
            rule(ResourceScope::Name("score".to_string()), cpus(3)),
        ]);
        assert_eq!(both.resources_for(&swept), cpus(9));
        assert_eq!(
            graph(Vec::new()).resources_for(&swept),
            ResourceRequest::default()
        );
        // A sequence's summary is a `sequence` node.
        let summary = node(
            "seq",
            NodeKind::Continual {
                tasks: 2,
                metric: "accuracy".to_string(),
                splits: vec!["test".to_string()],
                heatmap: None,
            },
            None,
        );
        let sequence = graph(vec![rule(
            ResourceScope::Kind("sequence".to_string()),
            cpus(5),
        )]);
        assert_eq!(sequence.resources_for(&summary), cpus(5));
        assert_eq!(sequence.resources_for(&plain), ResourceRequest::default());
    }

    #[test]
    fn rules_read_back_as_written_and_an_empty_block_is_left_out() {
        let resources = Resources {
            rules: vec![
                rule(ResourceScope::Default, full()),
                rule(
                    ResourceScope::Kind("train".to_string()),
                    ResourceRequest {
                        gpus: Some(1),
                        ..ResourceRequest::default()
                    },
                ),
                rule(
                    ResourceScope::Name("ft".to_string()),
                    ResourceRequest::default(),
                ),
            ],
        };
        let json = serde_json::to_string(&resources).unwrap();
        assert_eq!(
            json,
            r#"{"rules":[{"scope":"default","request":{"cpus":2,"memory_mb":4096,"gpus":1,"gpu_type":"a100","time_minutes":30,"partition":"gpu","account":"lab"}},{"scope":{"kind":"train"},"request":{"gpus":1}},{"scope":{"name":"ft"},"request":{}}]}"#
        );
        assert_eq!(serde_json::from_str::<Resources>(&json).unwrap(), resources);
        let graph = Graph {
            experiment: "e".to_string(),
            seed: 0,
            plugins: Vec::new(),
            nodes: Vec::new(),
            policy: None,
            resources: Resources::default(),
        };
        let json = serde_json::to_string(&graph).unwrap();
        assert!(!json.contains("resources"), "{json}");
        assert_eq!(serde_json::from_str::<Graph>(&json).unwrap(), graph);
    }

    #[test]
    fn axis_values_read_as_numbers_where_they_are() {
        assert_eq!(axis_number("0.001"), Some(0.001));
        assert_eq!(axis_number("1e-3"), Some(0.001));
        assert_eq!(axis_number("25%"), Some(0.25));
        assert_eq!(axis_number("100steps"), Some(100.0));
        assert_eq!(axis_number("relu"), None);
        assert_eq!(axis_number("#2"), None);
        assert_eq!(axis_number("adamw#1"), None);
    }

    #[test]
    fn seeds_are_stable_and_distinct() {
        assert_eq!(derive_seed(0, "a"), derive_seed(0, "a"));
        assert_ne!(derive_seed(0, "a"), derive_seed(0, "b"));
        assert_ne!(derive_seed(0, "a"), derive_seed(1, "a"));
        assert!(derive_seed(7, "run") <= i64::MAX as u64);
    }
}
