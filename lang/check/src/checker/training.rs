//! The training rules: `train` and `sequence` blocks, and the pieces of a phase they share
//! (length, batch, seed, optimizer and schedule, evaluations, hooks and their anchor), with the
//! data mixture of a `train` and the replay buffer of a `sequence`.

use std::sync::Arc;

use exp_diag::did_you_mean;
use exp_ir::graph::{Mixture, Precision, Replay, ReplaySize, TrainSpec};
use exp_ir::{ComponentKind, ComponentRef, Duration, DurationUnit};
use exp_syntax::ast::{self, DefKind, ExprKind};

use super::{field, ir_unit, Checker, FieldSpec};
use crate::check_error::{CheckError, Expect};
use crate::hash::HashMap;
use crate::program::{Body, DefId, MergeOver, SequenceMerge, Stages};

const TRAIN_FIELDS: &[FieldSpec] = &[
    field("model", true, "model: <model name>"),
    field("data", true, "data: <dataset name> or [<dataset>, ..]"),
    field("steps", true, "steps: 1000 steps"),
    field("batch", false, "batch: 32"),
    field("seed", false, "seed: 0"),
    field("optimizer", true, "optimizer: adamw { lr: 1e-3 }"),
    field("schedule", false, "schedule: cosine { warmup: 10% }"),
    field("eval", false, "eval: [accuracy, loss]"),
    field("eval_every", false, "eval_every: 100 steps"),
    field("log_every", false, "log_every: 10 steps"),
    field("checkpoint_every", false, "checkpoint_every: 500 steps"),
    field("hooks", false, "hooks: [l2 { lambda: 1.0 }]"),
    field("anchor", false, "anchor: <model name>"),
    field("clip", false, "clip: 1.0"),
    field("accumulate", false, "accumulate: 4"),
    field("precision", false, "precision: \"bf16\""),
    field(
        "mixture",
        false,
        "mixture: { at: [0%, 80%], weights: [[0.9, 0.1], [0.5, 0.5]] }",
    ),
];

/// The fields of a `train`'s `mixture: { .. }`.
const MIXTURE_FIELDS: [&str; 3] = ["at", "weights", "interpolate"];

/// The fields of a `sequence`'s `replay: { .. }`.
const REPLAY_FIELDS: [&str; 3] = ["size", "ratio", "selection"];

/// Every field the training blocks accept, by block (`train`, `sequence`, in all their forms)
/// and by block inside a field (`train mixture`, `sequence replay`).
pub(super) fn training_fields() -> Vec<(&'static str, Vec<&'static str>)> {
    let names = |specs: &[&[FieldSpec]]| {
        let mut names: Vec<&'static str> = Vec::new();
        for spec in specs.iter().flat_map(|specs| specs.iter()) {
            if !names.contains(&spec.name) {
                names.push(spec.name);
            }
        }
        names
    };
    vec![
        ("train", names(&[TRAIN_FIELDS])),
        ("train mixture", MIXTURE_FIELDS.to_vec()),
        (
            "sequence",
            names(&[SEQUENCE_FIELDS, SEQUENCE_MODELS_FIELDS]),
        ),
        ("sequence replay", REPLAY_FIELDS.to_vec()),
    ]
}

/// A sequence trains one model through `tasks` in order, each phase as a `train` block says.
const SEQUENCE_FIELDS: &[FieldSpec] = &[
    field("model", true, "model: <model name>"),
    field("tasks", true, "tasks: [<dataset>, <dataset>, ..]"),
    field("steps", true, "steps: 300 steps"),
    field("batch", false, "batch: 32"),
    field("seed", false, "seed: 0"),
    field("optimizer", true, "optimizer: adamw { lr: 1e-3 }"),
    field("schedule", false, "schedule: cosine { warmup: 10% }"),
    field("hooks", false, "hooks: [ewc { lambda: 100 }]"),
    field("anchor", false, "anchor: <model name>"),
    field("replay", false, "replay: { size: 200, ratio: 25% }"),
    field("metrics", false, "metrics: [accuracy]"),
    field("split", false, "split: [\"validation\", \"test\"]"),
    field("heatmap", false, "heatmap: true"),
    field("log_every", false, "log_every: 10 steps"),
    field("checkpoint_every", false, "checkpoint_every: 100 steps"),
    field("clip", false, "clip: 1.0"),
    field("accumulate", false, "accumulate: 4"),
    field("precision", false, "precision: \"bf16\""),
    field("merge", false, "merge: wise_ft { alpha: 0.5 }"),
    field("merge_over", false, "merge_over: \"fine_tunes\""),
];

/// A sequence of given models: the model after each task, evaluated on every task.
const SEQUENCE_MODELS_FIELDS: &[FieldSpec] = &[
    field("models", true, "models: [<model after task 1>, ..]"),
    field("tasks", true, "tasks: [<dataset>, <dataset>, ..]"),
    field("metrics", false, "metrics: [accuracy]"),
    field("split", false, "split: [\"validation\", \"test\"]"),
    field("heatmap", false, "heatmap: true"),
];

impl<'a> Checker<'a> {
    pub(super) fn train(&mut self, def: &'a ast::Def, block: &'a ast::Block) -> Option<Body> {
        let fields = self.fields(def, block, TRAIN_FIELDS);
        let model = fields
            .get("model")
            .and_then(|field| self.reference_field(field, Expect::Model));
        let data = fields
            .get("data")
            .and_then(|field| self.reference_list(field, Expect::Dataset, true));
        let mixture = match (fields.get("mixture"), &data) {
            (Some(field), Some(data)) => self.mixture(field, data.len()).map(Some),
            (Some(_), None) => None,
            (None, _) => Some(None),
        };
        let anchor = self.anchor(&fields);
        let phase = self.phase(&fields);
        let (mut spec, seed) = phase?;
        if let (Some(field), Some(Some(_))) = (fields.get("mixture"), &mixture) {
            if let ExprKind::Record(block) = &field.value.kind {
                for inner in block.fields.iter().filter(|inner| inner.key.name == "at") {
                    self.past_the_phase("a mixture point", &inner.value, spec.steps);
                }
            }
        }
        spec.mixture = mixture?;
        Some(Body::Train {
            model: model?,
            data: data?,
            spec: Arc::new(spec),
            seed,
            anchor: anchor?,
        })
    }

    pub(super) fn sequence(&mut self, def: &'a ast::Def, block: &'a ast::Block) -> Option<Body> {
        // With `models`, the models after each task are given and only evaluated.
        let given = block.fields.iter().any(|field| field.key.name == "models");
        let fields = if given {
            // Given models are only evaluated: the fields of a phase have no place here.
            let listed: Vec<&'static str> = SEQUENCE_MODELS_FIELDS
                .iter()
                .map(|spec| spec.name)
                .collect();
            self.fields_listing(
                def,
                block,
                SEQUENCE_MODELS_FIELDS,
                &listed,
                Some("with `models`, which trains nothing"),
            )
        } else {
            // `models` is a field too: written, it makes the other form.
            let listed: Vec<&'static str> = SEQUENCE_FIELDS
                .iter()
                .chain(SEQUENCE_MODELS_FIELDS)
                .map(|spec| spec.name)
                .fold(Vec::new(), |mut names, name| {
                    if !names.contains(&name) {
                        names.push(name);
                    }
                    names
                });
            self.fields_listing(def, block, SEQUENCE_FIELDS, &listed, None)
        };
        let tasks = fields
            .get("tasks")
            .and_then(|field| self.reference_list(field, Expect::Dataset, false));
        let metrics = match fields.get("metrics") {
            Some(field) => self.component_list(field, ComponentKind::Evaluator, true),
            None => Some(vec![
                self.default_component(ComponentKind::Evaluator, "accuracy")
            ]),
        };
        let splits = match fields.get("split") {
            Some(field) => self.sequence_splits(field),
            None => Some(vec!["test".to_string()]),
        };
        let heatmap = match fields.get("heatmap") {
            Some(_) => self.bool_field(&fields, "heatmap", false).map(Some),
            None => Some(None),
        };
        let stages = if given {
            let field = fields.get("models")?;
            let models = self.reference_list(field, Expect::Model, false)?;
            if let Some(tasks) = &tasks {
                if models.len() != tasks.len() {
                    self.errors.push(CheckError::WrongFieldType {
                        field: "models".to_string(),
                        expected: format!("one model per task ({})", tasks.len()),
                        found: match models.len() {
                            1 => "1 model".to_string(),
                            count => format!("{count} models"),
                        },
                        span: field.value.span,
                        example: None,
                    });
                    return None;
                }
            }
            Some(Stages::Given(models))
        } else {
            let model = fields
                .get("model")
                .and_then(|field| self.reference_field(field, Expect::Model));
            let replay = match fields.get("replay") {
                Some(field) => self.replay(field).map(Some),
                None => Some(None),
            };
            let anchor = self.anchor(&fields);
            let merge = self.sequence_merge(def, &fields);
            let phase = self.phase(&fields);
            let (mut spec, seed) = phase?;
            spec.replay = replay?;
            Some(Stages::Train {
                model: model?,
                spec: Arc::new(spec),
                seed,
                anchor: anchor?,
                merge: merge?,
            })
        };
        Some(Body::Sequence {
            tasks: tasks?,
            stages: stages?,
            metrics: metrics?.into(),
            splits: splits?,
            heatmap: heatmap?,
        })
    }

    /// `split: "validation"` or `split: ["validation", "test"]`: the splits a sequence
    /// evaluates every task on after each task, each split once.
    pub(super) fn sequence_splits(&mut self, field: &ast::Field) -> Option<Vec<String>> {
        const EXAMPLE: &str = "split: [\"validation\", \"test\"]";
        const SPLITS: [&str; 3] = ["train", "validation", "test"];
        let items = match &field.value.kind {
            ExprKind::List(items) if !items.is_empty() => items,
            ExprKind::List(_) => {
                self.wrong_type(
                    field,
                    "a split, or a non-empty list of splits",
                    Some(EXAMPLE.into()),
                );
                return None;
            }
            _ => std::slice::from_ref(&field.value),
        };
        let mut splits: Vec<String> = Vec::new();
        let mut ok = true;
        for item in items {
            let found = match &item.kind {
                ExprKind::Str(word) if SPLITS.contains(&word.as_str()) => {
                    if splits.contains(word) {
                        self.errors.push(CheckError::WrongFieldType {
                            field: "split".to_string(),
                            expected: "each split once".to_string(),
                            found: format!("{word:?} again"),
                            span: item.span,
                            example: Some(EXAMPLE.to_string()),
                        });
                        ok = false;
                    } else {
                        splits.push(word.clone());
                    }
                    continue;
                }
                ExprKind::Str(word) => format!("{word:?}"),
                other => other.describe(),
            };
            self.errors.push(CheckError::WrongFieldType {
                field: "split".to_string(),
                expected: "\"train\", \"validation\" or \"test\"".to_string(),
                found,
                span: item.span,
                example: Some(EXAMPLE.to_string()),
            });
            ok = false;
        }
        ok.then_some(splits)
    }

    /// `merge: MERGER { .. }` and `merge_over: "previous" | "fine_tunes"`: the merge after each
    /// task of a sequence. `merge_over` without `merge` is an error: it would do nothing.
    fn sequence_merge(
        &mut self,
        def: &ast::Def,
        fields: &HashMap<&'static str, &'a ast::Field>,
    ) -> Option<Option<SequenceMerge>> {
        let over = match fields.get("merge_over") {
            Some(field) => {
                let choices = MergeOver::ALL.map(|over| (over, over.as_str()));
                self.word_choice(field, &choices, "merge_over: \"fine_tunes\"")
            }
            None => Some(MergeOver::Previous),
        };
        let Some(field) = fields.get("merge") else {
            if let Some(field) = fields.get("merge_over") {
                self.errors.push(CheckError::MissingField {
                    block: DefKind::Sequence,
                    name: def.name.name.clone(),
                    field: "merge",
                    example: "merge: task_arithmetic { lambda: 0.3 }",
                    span: field.key.span,
                });
                return None;
            }
            return Some(None);
        };
        let merger = self.component_value(field, &field.value, ComponentKind::Merger);
        Some(Some(SequenceMerge {
            merger: merger?,
            over: over?,
        }))
    }

    /// `anchor: <model>`: what the hooks anchor to instead of each phase's starting weights.
    fn anchor(&mut self, fields: &HashMap<&'static str, &'a ast::Field>) -> Option<Option<DefId>> {
        match fields.get("anchor") {
            Some(field) => self.reference_field(field, Expect::Model).map(Some),
            None => Some(None),
        }
    }

    /// The fields of a training phase that `train` and `sequence` share.
    fn phase(
        &mut self,
        fields: &HashMap<&'static str, &'a ast::Field>,
    ) -> Option<(TrainSpec, Option<u64>)> {
        let steps = fields
            .get("steps")
            .and_then(|field| self.duration(field, false));
        let batch = match fields.get("batch") {
            Some(field) => self.integer(field, 1),
            None => Some(32),
        };
        let seed = match fields.get("seed") {
            Some(field) => self.integer(field, 0).map(Some),
            None => Some(None),
        };
        let optimizer = fields
            .get("optimizer")
            .and_then(|field| self.component_value(field, &field.value, ComponentKind::Optimizer));
        // `schedule:` is the short way to write the learning rate's schedule.
        let optimizer = match (optimizer, fields.get("schedule")) {
            (optimizer, Some(field)) => {
                let schedule = self.component_value(field, &field.value, ComponentKind::Scheduler);
                match (optimizer, schedule) {
                    (Some(optimizer), Some(schedule)) => {
                        self.schedule_learning_rate(optimizer, schedule, field)
                    }
                    _ => None,
                }
            }
            (optimizer, None) => optimizer,
        };
        let eval = match fields.get("eval") {
            Some(field) => self.component_list(field, ComponentKind::Evaluator, false),
            None => Some(Vec::new()),
        };
        let eval_every = match fields.get("eval_every") {
            Some(field) => self.duration(field, true).map(Some),
            None => Some(None),
        };
        let log_every = match fields.get("log_every") {
            Some(field) => self.duration(field, true),
            None => Some(Duration {
                amount: 10.0,
                unit: DurationUnit::Steps,
            }),
        };
        let checkpoint_every = match fields.get("checkpoint_every") {
            Some(field) => self.duration(field, true).map(Some),
            None => Some(None),
        };
        let hooks = match fields.get("hooks") {
            Some(field) => self.hooks(field),
            None => Some(Vec::new()),
        };
        let clip = match fields.get("clip") {
            Some(field) => self.clip(field).map(Some),
            None => Some(None),
        };
        let accumulate = match fields.get("accumulate") {
            Some(field) => self.accumulate(field, batch),
            None => Some(1),
        };
        let precision = match fields.get("precision") {
            Some(field) => self.precision(field),
            None => Some(Precision::Fp32),
        };
        if let Some(steps) = steps {
            // Schedules (of the learning rate, or of any scheduled parameter) are measured
            // against the phase: a warmup or a point past its end is never reached.
            for key in ["schedule", "optimizer", "hooks"] {
                if let Some(field) = fields.get(key) {
                    self.schedules_past_the_phase(&field.value, steps);
                }
            }
        }
        Some((
            TrainSpec {
                steps: steps?,
                batch: batch?,
                optimizer: optimizer?,
                eval: eval?,
                eval_every: eval_every?,
                log_every: log_every?,
                checkpoint_every: checkpoint_every?,
                hooks: hooks?,
                replay: None,
                mixture: None,
                clip: clip?,
                accumulate: accumulate?,
                precision: precision?,
            },
            seed?,
        ))
    }

    /// `clip: 1.0`: the largest global gradient norm, a number greater than 0.
    fn clip(&mut self, field: &ast::Field) -> Option<f64> {
        self.number(
            field,
            ("a number (the largest gradient norm)", Some("clip: 1.0")),
            |value| value > 0.0 && value.is_finite(),
            "a gradient norm greater than 0",
        )
    }

    /// `accumulate: 4`: micro-batches per step, which must split the batch evenly.
    fn accumulate(&mut self, field: &ast::Field, batch: Option<u64>) -> Option<u64> {
        let count = self.integer(field, 1)?;
        let batch = batch?;
        if batch % count != 0 {
            let fits: Vec<String> = (1..=batch.min(64))
                .filter(|divisor| batch % divisor == 0)
                .map(|divisor| divisor.to_string())
                .collect();
            self.errors.push(CheckError::ValueOutOfRange {
                field: "accumulate".to_string(),
                value: count.to_string(),
                expected: format!(
                    "a number of micro-batches that divides the batch of {batch} ({})",
                    fits.join(", ")
                ),
                span: field.value.span,
            });
            return None;
        }
        Some(count)
    }

    /// `precision: "bf16"`.
    fn precision(&mut self, field: &ast::Field) -> Option<Precision> {
        let choices = Precision::ALL.map(|precision| (precision, precision.as_str()));
        self.word_choice(field, &choices, "precision: \"bf16\"")
    }

    /// A field whose value is one of a few words, written as a string.
    pub(super) fn word_choice<T: Copy>(
        &mut self,
        field: &ast::Field,
        choices: &[(T, &str)],
        example: &str,
    ) -> Option<T> {
        let words: Vec<String> = choices
            .iter()
            .map(|(_, word)| format!("\"{word}\""))
            .collect();
        let expected = match words.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        };
        let found = match &field.value.kind {
            ExprKind::Str(word) => {
                if let Some((choice, _)) = choices.iter().find(|(_, known)| known == word) {
                    return Some(*choice);
                }
                format!("{word:?}")
            }
            other => other.describe(),
        };
        self.errors.push(CheckError::WrongFieldType {
            field: field.key.name.clone(),
            expected,
            found,
            span: field.value.span,
            example: Some(example.to_string()),
        });
        None
    }

    /// Reports the `warmup` and `at` points of every component written in `expr` (a schedule,
    /// or a scheduled parameter inside an optimizer or a hook) that lie past the end of a phase
    /// of length `steps`.
    fn schedules_past_the_phase(&mut self, expr: &ast::Expr, steps: Duration) {
        match &expr.kind {
            ExprKind::List(items) => {
                for item in items {
                    self.schedules_past_the_phase(item, steps);
                }
            }
            ExprKind::Component(component) => {
                let Some(block) = &component.params else {
                    return;
                };
                for param in &block.fields {
                    match param.key.name.as_str() {
                        "warmup" => {
                            let what = format!("the warmup of `{}`", component.name.name);
                            self.past_the_phase(&what, &param.value, steps);
                        }
                        "at" => {
                            let what = format!("a point of `{}`", component.name.name);
                            self.past_the_phase(&what, &param.value, steps);
                        }
                        _ => self.schedules_past_the_phase(&param.value, steps),
                    }
                }
            }
            _ => {}
        }
    }

    /// Reports each duration in `expr` (one, or a list) that lies past the end of a phase of
    /// length `steps`. Only what can be compared before the run is: percentages, and durations
    /// in the unit of `steps` (an epoch's length in steps depends on the data).
    fn past_the_phase(&mut self, what: &str, expr: &ast::Expr, steps: Duration) {
        let points = match &expr.kind {
            ExprKind::List(items) => items.iter().collect(),
            _ => vec![expr],
        };
        for point in points {
            let ExprKind::Duration(duration) = &point.kind else {
                continue;
            };
            let unit = ir_unit(duration.unit);
            let past = match unit {
                // A hair over 100% is rounding, not a mistake.
                DurationUnit::Fraction => duration.amount > 1.0 + 1e-9,
                _ => unit == steps.unit && duration.amount > steps.amount,
            };
            if past {
                self.errors.push(CheckError::PastThePhase {
                    what: what.to_string(),
                    point: Duration {
                        amount: duration.amount,
                        unit,
                    },
                    phase: steps,
                    span: point.span,
                });
            }
        }
    }

    /// `hooks: [..]`: regularizers, and mergers that can run during training (those with an
    /// `every` parameter saying how often).
    fn hooks(&mut self, field: &'a ast::Field) -> Option<Vec<ComponentRef>> {
        let ExprKind::List(items) = &field.value.kind else {
            self.wrong_type(
                field,
                "a list of hooks",
                Some("hooks: [l2 { lambda: 1.0 }]".into()),
            );
            return None;
        };
        let catalog = self.catalog;
        let mut hooks = Vec::new();
        let mut ok = true;
        for item in items {
            let ExprKind::Component(component) = &item.kind else {
                self.errors.push(CheckError::WrongFieldType {
                    field: "hooks".to_string(),
                    expected: "a regularizer or a merger".to_string(),
                    found: item.kind.describe(),
                    span: item.span,
                    example: None,
                });
                ok = false;
                continue;
            };
            let name = component.name.name.as_str();
            let is_hook_merger = |name: &str| {
                catalog
                    .component(ComponentKind::Merger, name)
                    .is_some_and(|schema| schema.param("every").is_some())
            };
            let kind = if catalog
                .component(ComponentKind::Regularizer, name)
                .is_some()
            {
                ComponentKind::Regularizer
            } else if is_hook_merger(name) {
                ComponentKind::Merger
            } else {
                let mut available: Vec<String> = catalog
                    .names(ComponentKind::Regularizer)
                    .into_iter()
                    .chain(
                        catalog
                            .names(ComponentKind::Merger)
                            .into_iter()
                            .filter(|name| is_hook_merger(name)),
                    )
                    .map(str::to_string)
                    .collect();
                available.sort();
                let found = ComponentKind::ALL
                    .into_iter()
                    .find(|kind| catalog.component(*kind, name).is_some());
                self.errors.push(CheckError::NotAHook {
                    name: name.to_string(),
                    found,
                    span: component.name.span,
                    suggestion: did_you_mean(name, available.iter().map(String::as_str))
                        .map(str::to_string),
                    available,
                });
                ok = false;
                continue;
            };
            match self.component(component, kind) {
                Some(hook) => hooks.push(hook),
                None => ok = false,
            }
        }
        ok.then_some(hooks)
    }

    /// `mixture: { at: [0%, 80%], weights: [[0.9, 0.1], [0.5, 0.5]], interpolate: false }`:
    /// a schedule of weights over the `data` inputs (`sources` of them).
    fn mixture(&mut self, field: &'a ast::Field, sources: usize) -> Option<Mixture> {
        const EXAMPLE: &str = "mixture: { at: [0%, 80%], weights: [[0.9, 0.1], [0.5, 0.5]] }";
        let ExprKind::Record(block) = &field.value.kind else {
            self.wrong_type(
                field,
                "a block `{ at: [..], weights: [[..], ..] }`",
                Some(EXAMPLE.into()),
            );
            return None;
        };
        let mut at: Option<Vec<Duration>> = None;
        let mut weights: Option<Vec<Vec<f64>>> = None;
        let mut interpolate = false;
        let mut ok = true;
        for inner in &block.fields {
            match (inner.key.name.as_str(), &inner.value.kind) {
                ("at", ExprKind::List(items)) if !items.is_empty() => {
                    let points: Option<Vec<Duration>> = items
                        .iter()
                        .map(|item| match &item.kind {
                            ExprKind::Duration(d) if d.amount >= 0.0 => Some(Duration {
                                amount: d.amount,
                                unit: ir_unit(d.unit),
                            }),
                            _ => None,
                        })
                        .collect();
                    match points {
                        Some(points) => at = Some(points),
                        None => {
                            self.nested_wrong_type(
                                "mixture",
                                inner,
                                "a list of durations (`0%`, `500 steps`)",
                                EXAMPLE,
                            );
                            ok = false;
                        }
                    }
                }
                ("weights", ExprKind::List(rows)) if !rows.is_empty() => {
                    match self.mixture_weights(rows, sources) {
                        Some(parsed) => weights = Some(parsed),
                        None => ok = false,
                    }
                }
                ("interpolate", ExprKind::Bool(value)) => interpolate = *value,
                (key @ ("at" | "weights" | "interpolate"), _) => {
                    let expected = match key {
                        "at" => "a non-empty list of durations".to_string(),
                        "weights" => format!("a non-empty list of rows of {sources} weights"),
                        _ => "a boolean".to_string(),
                    };
                    self.nested_wrong_type("mixture", inner, &expected, EXAMPLE);
                    ok = false;
                }
                _ => {
                    self.nested_unknown("mixture", inner, &MIXTURE_FIELDS);
                    ok = false;
                }
            }
        }
        if !ok {
            return None;
        }
        let (Some(at), Some(weights)) = (at, weights) else {
            self.errors.push(CheckError::MissingParam {
                component: "mixture".to_string(),
                param: "at` and `weights".to_string(),
                expected: "a list of points and a row of weights per point".to_string(),
                span: field.value.span,
            });
            return None;
        };
        let same_unit = at.iter().all(|point| point.unit == at[0].unit);
        if same_unit && at.windows(2).any(|pair| pair[1].amount <= pair[0].amount) {
            self.errors.push(CheckError::WrongFieldType {
                field: "mixture.at".to_string(),
                expected: "increasing points".to_string(),
                found: "points out of order".to_string(),
                span: field.value.span,
                example: Some(EXAMPLE.to_string()),
            });
            return None;
        }
        if at.len() != weights.len() {
            self.errors.push(CheckError::WrongFieldType {
                field: "mixture.weights".to_string(),
                expected: format!("one row per point of `at` ({})", at.len()),
                found: match weights.len() {
                    1 => "1 row".to_string(),
                    rows => format!("{rows} rows"),
                },
                span: field.value.span,
                example: Some(EXAMPLE.to_string()),
            });
            return None;
        }
        Some(Mixture {
            at,
            weights,
            interpolate,
        })
    }

    /// The rows of a mixture's `weights`, each checked on its own so that an error names the
    /// row (or the weight) that is wrong: a list of one weight ≥ 0 per `data` input, not all 0.
    fn mixture_weights(&mut self, rows: &[ast::Expr], sources: usize) -> Option<Vec<Vec<f64>>> {
        // An even mixture, as the example of a row of the right shape.
        let even_row = format!("[{}]", vec!["1"; sources].join(", "));
        let mut parsed = Vec::new();
        for (index, row) in rows.iter().enumerate() {
            let field = format!("mixture.weights[{}]", index + 1);
            let ExprKind::List(cells) = &row.kind else {
                self.errors.push(CheckError::WrongFieldType {
                    field,
                    expected: format!("a row of {sources} weights, one per `data` input"),
                    found: row.kind.describe(),
                    span: row.span,
                    example: Some(even_row.clone()),
                });
                continue;
            };
            if cells.len() != sources {
                self.errors.push(CheckError::WrongFieldType {
                    field,
                    expected: format!("{sources} weights, one per `data` input"),
                    found: match cells.len() {
                        1 => "1 weight".to_string(),
                        count => format!("{count} weights"),
                    },
                    span: row.span,
                    example: Some(even_row.clone()),
                });
                continue;
            }
            let mut weights = Vec::new();
            for cell in cells {
                let weight = match cell.kind {
                    ExprKind::Int(value) => value as f64,
                    ExprKind::Float(value) => value,
                    _ => {
                        self.errors.push(CheckError::WrongFieldType {
                            field: field.clone(),
                            expected: "a number".to_string(),
                            found: cell.kind.describe(),
                            span: cell.span,
                            example: None,
                        });
                        continue;
                    }
                };
                if weight < 0.0 {
                    self.errors.push(CheckError::ValueOutOfRange {
                        field: field.clone(),
                        value: weight.to_string(),
                        expected: "a weight of at least 0".to_string(),
                        span: cell.span,
                    });
                    continue;
                }
                weights.push(weight);
            }
            if weights.len() != sources {
                continue;
            }
            if weights.iter().sum::<f64>() <= 0.0 {
                self.errors.push(CheckError::ValueOutOfRange {
                    field,
                    value: "a row of zeros".to_string(),
                    expected: "at least one weight above 0 in each row: batches draw from the inputs in proportion to their weights".to_string(),
                    span: row.span,
                });
                continue;
            }
            parsed.push(weights);
        }
        (parsed.len() == rows.len()).then_some(parsed)
    }

    /// E0014 for a field inside a block (`replay.ratio`).
    fn out_of_range(&mut self, inner: &ast::Field, value: String, expected: &str) {
        self.errors.push(CheckError::ValueOutOfRange {
            field: format!("replay.{}", inner.key.name),
            value,
            expected: expected.to_string(),
            span: inner.value.span,
        });
    }

    /// `replay: { size: 200 | 10%, ratio: 25%, selection: "uniform" | "reservoir" }`.
    fn replay(&mut self, field: &'a ast::Field) -> Option<Replay> {
        const EXAMPLE: &str = "replay: { size: 200, ratio: 25% }";
        let ExprKind::Record(block) = &field.value.kind else {
            self.wrong_type(
                field,
                "a block `{ size: .., ratio: .. }`",
                Some(EXAMPLE.into()),
            );
            return None;
        };
        let mut size = None;
        let mut ratio = None;
        let mut selection = Some("reservoir".to_string());
        let mut ok = true;
        for inner in &block.fields {
            match (inner.key.name.as_str(), &inner.value.kind) {
                ("size", ExprKind::Int(count)) => {
                    if *count > 0 {
                        size = Some(ReplaySize::Count(*count as u64));
                    } else {
                        self.out_of_range(inner, count.to_string(), "a count of at least 1");
                        ok = false;
                    }
                }
                ("size", ExprKind::Duration(d)) if d.unit == ast::DurationUnit::Fraction => {
                    if d.amount > 0.0 && d.amount <= 1.0 {
                        size = Some(ReplaySize::Fraction(d.amount));
                    } else {
                        self.out_of_range(
                            inner,
                            percent_text(d.amount),
                            "a share of the earlier tasks' examples above 0% and up to 100%",
                        );
                        ok = false;
                    }
                }
                ("ratio", ExprKind::Duration(d)) if d.unit == ast::DurationUnit::Fraction => {
                    if d.amount > 0.0 && d.amount < 1.0 {
                        ratio = Some(d.amount);
                    } else {
                        self.out_of_range(
                            inner,
                            percent_text(d.amount),
                            "a share of each batch above 0% and below 100% (at 100% no new example would be seen)",
                        );
                        ok = false;
                    }
                }
                ("ratio", ExprKind::Float(r)) => {
                    if *r > 0.0 && *r < 1.0 {
                        ratio = Some(*r);
                    } else {
                        self.out_of_range(
                            inner,
                            r.to_string(),
                            "a share of each batch above 0 and below 1, such as `25%`",
                        );
                        ok = false;
                    }
                }
                ("selection", ExprKind::Str(word)) if word == "uniform" || word == "reservoir" => {
                    selection = Some(word.clone())
                }
                (key @ ("size" | "ratio" | "selection"), _) => {
                    let expected = match key {
                        "size" => "a count of examples greater than 0, or a percentage of the earlier tasks' examples",
                        "ratio" => "a share of each batch between 0% and 100% (exclusive)",
                        _ => "\"uniform\" or \"reservoir\"",
                    };
                    self.nested_wrong_type("replay", inner, expected, EXAMPLE);
                    ok = false;
                }
                _ => {
                    self.nested_unknown("replay", inner, &REPLAY_FIELDS);
                    ok = false;
                }
            }
        }
        for (key, missing) in [("size", size.is_none()), ("ratio", ratio.is_none())] {
            if missing && ok {
                self.errors.push(CheckError::MissingParam {
                    component: "replay".to_string(),
                    param: key.to_string(),
                    expected: if key == "size" {
                        "a count or a percentage"
                    } else {
                        "a percentage"
                    }
                    .to_string(),
                    span: field.value.span,
                });
                ok = false;
            }
        }
        if !ok {
            return None;
        }
        Some(Replay {
            size: size?,
            ratio: ratio?,
            selection: selection?,
        })
    }
}

/// A fraction as written: `1.5` is `150%`.
fn percent_text(fraction: f64) -> String {
    // Rounded: `110%` is stored as 1.1, which times 100 is not quite 110.
    format!("{}%", (fraction * 100.0 * 1e9).round() / 1e9)
}
