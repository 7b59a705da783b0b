//! `Program`: the result of checking, with every name resolved to a definition and every
//! component to a full parameter set (defaults filled in, numbers coerced per schema).
//! `exp-compile` lowers it to the graph; nothing in it can fail any more.

use std::sync::Arc;

use exp_diag::{FileId, Span};
use exp_ir::graph::TrainSpec;
use exp_ir::ComponentRef;
use exp_syntax::ast::DefKind;

/// Index into `Program::defs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DefId(pub usize);

#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    /// The experiment file; its definitions are always part of the graph.
    pub main: FileId,
    /// The base seed (`seed N`), 0 when the file does not set one.
    pub seed: u64,
    /// `plugin "path"` lines as written, in order.
    pub plugins: Vec<(String, Span)>,
    /// `policy { .. }`: what the run may read.
    pub policy: Option<exp_ir::graph::Policy>,
    /// `resources { .. }`: what each node asks a cluster's scheduler for; empty without one.
    pub resources: exp_ir::graph::Resources,
    /// Every definition of the experiment file and its imports: imported modules first (in the
    /// order they were imported), then the experiment file, each in file order.
    pub defs: Vec<CheckedDef>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CheckedDef {
    pub name: String,
    /// For a copy made by a sweep or a template: its family and sweep point.
    pub expansion: Option<exp_syntax::ast::Expansion>,
    pub kind: DefKind,
    /// The whole definition.
    pub span: Span,
    pub name_span: Span,
    /// Whether the definition is written in the experiment file (not an imported module).
    pub in_main: bool,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Dataset {
        component: ComponentRef,
    },
    /// `caption(data, model)`: `data` with the labels it lacks filled in by `model`.
    Caption {
        data: DefId,
        model: DefId,
    },
    /// `sample(model, prompts) { .. }`: inputs drawn from `model`, one per example of
    /// `data`'s split, conditioned on its targets.
    Sample {
        model: DefId,
        data: DefId,
        spec: Arc<exp_ir::graph::SampleSpec>,
    },
    Model {
        component: ComponentRef,
        /// A model of token sequences reads text through this tokenizer (`gpt(tok)`); its
        /// vocabulary sizes the model.
        tokenizer: Option<DefId>,
    },
    /// A tokenizer, trained on the training splits of `data` when it learns (`bpe(corpus)`).
    Tokenizer {
        component: ComponentRef,
        data: Vec<DefId>,
    },
    /// A trained model written in another ecosystem's format.
    Export {
        component: ComponentRef,
        model: DefId,
    },
    Train {
        model: DefId,
        /// One dataset, or several trained on together (their training splits concatenated).
        data: Vec<DefId>,
        spec: Arc<TrainSpec>,
        /// The `seed:` field, when written.
        seed: Option<u64>,
        /// The model the hooks anchor to, instead of the phase's starting weights.
        anchor: Option<DefId>,
    },
    /// One model trained through `tasks` in order (or given models, one per task), evaluated
    /// on every task after each.
    Sequence {
        tasks: Vec<DefId>,
        stages: Stages,
        metrics: Arc<[ComponentRef]>,
        /// The splits every task is evaluated on after each task, in the order written
        /// (`["test"]` unless the file says otherwise).
        splits: Vec<String>,
        /// `heatmap:` as written: whether each copy draws its accuracy matrix.
        heatmap: Option<bool>,
    },
    Merge {
        merger: ComponentRef,
        inputs: Vec<DefId>,
    },
    Evaluate {
        model: DefId,
        data: DefId,
        metrics: Arc<[ComponentRef]>,
        /// The splits evaluated, in the order written (`["test"]` unless the file says
        /// otherwise); with several, the test split's metrics keep their names and the others
        /// are prefixed with their split.
        splits: Vec<String>,
    },
    Report {
        rows: Vec<DefId>,
        /// A sweep axis to plot the metrics against.
        against: Option<String>,
        /// Draw the table as a grouped bar chart beside it.
        chart: bool,
        /// Keep one setting per method, chosen by a metric.
        choose: Option<exp_ir::graph::Choose>,
        /// Write the run's HTML page when the run ends.
        html: bool,
    },
}

/// Where a sequence's model after each task comes from.
#[derive(Debug, Clone, PartialEq)]
// One per sequence definition: the size of `Train` is not worth a `Box` in every match.
#[allow(clippy::large_enum_variant)]
pub enum Stages {
    /// Trained here, task after task, from `model`.
    Train {
        model: DefId,
        spec: Arc<TrainSpec>,
        seed: Option<u64>,
        anchor: Option<DefId>,
        /// A merge after each task, whose result is the model after it.
        merge: Option<SequenceMerge>,
    },
    /// Given: the model after task i is `models[i]` (made by any method, such as merges).
    Given(Vec<DefId>),
}

/// `merge: MERGER { .. }` in a sequence: what the model after each task is.
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceMerge {
    pub merger: ComponentRef,
    pub over: MergeOver,
}

/// What a sequence merges after each task (`merge_over:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeOver {
    /// The model after the previous task (the start, first) and this task's fine-tune of it,
    /// which the next task starts from: WiSE-FT in a sequence.
    Previous,
    /// The start and every task's fine-tune of the start so far, each task trained from the
    /// start: task arithmetic and TIES over the task vectors seen so far.
    FineTunes,
}

impl MergeOver {
    pub const ALL: [MergeOver; 2] = [MergeOver::Previous, MergeOver::FineTunes];

    pub fn as_str(self) -> &'static str {
        match self {
            MergeOver::Previous => "previous",
            MergeOver::FineTunes => "fine_tunes",
        }
    }
}

impl Body {
    /// The definitions this one reads, with the role each plays, in the order written.
    pub fn uses(&self) -> Vec<(&'static str, DefId)> {
        match self {
            Body::Dataset { .. } => Vec::new(),
            Body::Caption { data, model } => vec![("data", *data), ("model", *model)],
            Body::Sample { model, data, .. } => vec![("model", *model), ("data", *data)],
            Body::Model { tokenizer, .. } => tokenizer
                .iter()
                .map(|tokenizer| ("tokenizer", *tokenizer))
                .collect(),
            Body::Tokenizer { data, .. } => data.iter().map(|data| ("data", *data)).collect(),
            Body::Export { model, .. } => vec![("model", *model)],
            Body::Train {
                model,
                data,
                anchor,
                ..
            } => std::iter::once(("model", *model))
                .chain(data.iter().map(|data| ("data", *data)))
                .chain(anchor.iter().map(|anchor| ("anchor", *anchor)))
                .collect(),
            Body::Sequence { tasks, stages, .. } => {
                let models: Vec<(&'static str, DefId)> = match stages {
                    Stages::Train { model, anchor, .. } => std::iter::once(("model", *model))
                        .chain(anchor.iter().map(|anchor| ("anchor", *anchor)))
                        .collect(),
                    Stages::Given(models) => {
                        models.iter().map(|model| ("models", *model)).collect()
                    }
                };
                models
                    .into_iter()
                    .chain(tasks.iter().map(|task| ("tasks", *task)))
                    .collect()
            }
            Body::Evaluate { model, data, .. } => vec![("model", *model), ("data", *data)],
            Body::Merge { inputs, .. } => inputs.iter().map(|input| ("inputs", *input)).collect(),
            Body::Report { rows, .. } => rows.iter().map(|row| ("rows", *row)).collect(),
        }
    }
}

impl Program {
    pub fn def(&self, id: DefId) -> &CheckedDef {
        &self.defs[id.0]
    }
}
