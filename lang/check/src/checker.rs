//! `check`: the checking pass.
//!
//! It works in five steps, reporting every error it finds instead of stopping at the first:
//! 1. parse the experiment file and, depth first, every module it imports (through `World`),
//!    adding each module's text to the `SourceMap` so diagnostics can point into it;
//! 2. evaluate the `let` lines and put their values where they are used (`lets`);
//! 3. collect the top-level lines (`seed`, `plugin`) and the definitions of all files into
//!    one namespace, where a name may be defined once;
//! 4. check each definition's body: structural fields against a fixed table, references
//!    against the namespace, components and their parameters against the `Catalog`;
//! 5. look for cycles among the references, which may point anywhere in the file.
//!
//! A `Program` comes back only when no error was found.

use std::collections::{HashMap, HashSet};

use exp_diag::{did_you_mean, Diagnostic, FileId, SourceMap, Span};
use exp_ir::graph::{Mixture, Replay, ReplaySize, TrainSpec};
use exp_ir::{ComponentKind, ComponentRef, Duration, DurationUnit};
use exp_syntax::ast::{self, DefBody, DefKind, ExprKind, Item};

use crate::check_error::{CheckError, Expect};
use crate::program::{Body, CheckedDef, DefId, Program, Stages};
use crate::{Catalog, World};

mod components;
mod expand;
mod lets;

/// Checks the experiment file `main` (already in `sources`) and everything it imports.
/// Imported modules are added to `sources`. Returns the program when there are no errors,
/// and all diagnostics, ordered by file and position.
pub fn check(
    sources: &mut SourceMap,
    main: FileId,
    world: &dyn World,
    catalog: &dyn Catalog,
) -> (Option<Program>, Vec<Diagnostic>) {
    let main_text = sources.text(main).to_string();
    let (mut main_file, mut diagnostics) = exp_syntax::parse(main, &main_text);
    let mut errors = Vec::new();
    let mut modules = Vec::new();
    let mut loaded = HashSet::new();
    load_imports(
        &main_file,
        &mut Loader {
            sources,
            world,
            loaded: &mut loaded,
            modules: &mut modules,
            errors: &mut errors,
            diagnostics: &mut diagnostics,
        },
    );

    let mut all_files: Vec<&mut ast::File> = modules.iter_mut().collect();
    all_files.push(&mut main_file);
    let mut expanded = expand::expand(&mut all_files);
    errors.append(&mut expanded.errors);
    let resolved = lets::resolve(&mut all_files, &expanded.lets_used);
    errors.extend(resolved.errors);

    let mut files: Vec<(&ast::File, bool)> = modules.iter().map(|file| (file, false)).collect();
    files.push((&main_file, true));

    let mut checker = Checker {
        catalog,
        defs: Vec::new(),
        names: HashMap::new(),
        errors,
        edges: Vec::new(),
        current: 0,
    };
    let (seed, plugins) = checker.top_level(&files);
    checker.collect(&files);
    let bodies: Vec<Option<Body>> = (0..checker.defs.len())
        .map(|idx| {
            checker.current = idx;
            let def = checker.defs[idx].0;
            if resolved.poisoned.contains(&def.span) || expanded.poisoned.contains(&def.span) {
                return None;
            }
            checker.body(def)
        })
        .collect();
    checker.cycles();

    let mut program_defs = Vec::new();
    for ((def, in_main), body) in checker.defs.iter().zip(bodies) {
        if let Some(body) = body {
            program_defs.push(CheckedDef {
                name: def.name.name.clone(),
                expansion: def.expansion.clone(),
                kind: def.kind,
                span: def.span,
                name_span: def.name.span,
                in_main: *in_main,
                body,
            });
        }
    }
    // The copies a sweep or template makes share their spans: one mistake, one report.
    let mut reported = HashSet::new();
    diagnostics.extend(
        checker
            .errors
            .iter()
            .filter(|error| reported.insert((error.code(), error.span())))
            .map(CheckError::to_diagnostic),
    );
    diagnostics.sort_by_key(|diagnostic| {
        diagnostic
            .primary_span()
            .map_or((u32::MAX, 0), |span| (span.file.0, span.start))
    });
    let program = (!diagnostics.iter().any(Diagnostic::is_error)).then_some(Program {
        main,
        seed,
        plugins,
        defs: program_defs,
    });
    (program, diagnostics)
}

struct Loader<'a> {
    sources: &'a mut SourceMap,
    world: &'a dyn World,
    loaded: &'a mut HashSet<Vec<String>>,
    modules: &'a mut Vec<ast::File>,
    errors: &'a mut Vec<CheckError>,
    diagnostics: &'a mut Vec<Diagnostic>,
}

/// Loads the modules `file` imports, depth first, so each module comes after its own imports.
fn load_imports(file: &ast::File, loader: &mut Loader<'_>) {
    for item in &file.items {
        let Item::Import(import) = item else {
            continue;
        };
        let path = import.path_strings();
        if !loader.loaded.insert(path.clone()) {
            continue;
        }
        let Some((name, text)) = loader.world.load_module(&path) else {
            loader.errors.push(CheckError::ModuleNotFound {
                path: import.dotted(),
                span: import.path_span(),
            });
            continue;
        };
        let file_id = loader.sources.add(name, text.clone());
        let (module, diagnostics) = exp_syntax::parse(file_id, &text);
        loader.diagnostics.extend(diagnostics);
        load_imports(&module, loader);
        loader.modules.push(module);
    }
}

/// What a structural field is called and whether it must be written.
struct FieldSpec {
    name: &'static str,
    required: bool,
    /// How the field is written, for help messages.
    example: &'static str,
}

const fn field(name: &'static str, required: bool, example: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        required,
        example,
    }
}

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
    field(
        "mixture",
        false,
        "mixture: { at: [0%, 80%], weights: [[0.9, 0.1], [0.5, 0.5]] }",
    ),
];

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
    field("log_every", false, "log_every: 10 steps"),
    field("checkpoint_every", false, "checkpoint_every: 100 steps"),
];

/// A sequence of given models: the model after each task, evaluated on every task.
const SEQUENCE_MODELS_FIELDS: &[FieldSpec] = &[
    field("models", true, "models: [<model after task 1>, ..]"),
    field("tasks", true, "tasks: [<dataset>, <dataset>, ..]"),
    field("metrics", false, "metrics: [accuracy]"),
];

const EVALUATE_FIELDS: &[FieldSpec] = &[
    field("model", true, "model: <model name>"),
    field("data", true, "data: <dataset name>"),
    field("metrics", true, "metrics: [accuracy]"),
    field("split", false, "split: \"test\""),
];

const REPORT_FIELDS: &[FieldSpec] = &[
    field("rows", true, "rows: [<evaluate name>, ..]"),
    field("chart", false, "chart: true"),
    field("against", false, "against: \"lr\""),
];

struct Checker<'a> {
    catalog: &'a dyn Catalog,
    /// Every definition, with whether it is in the experiment file.
    defs: Vec<(&'a ast::Def, bool)>,
    /// The first definition of each name.
    names: HashMap<&'a str, usize>,
    errors: Vec<CheckError>,
    /// For each definition, the definitions it refers to and where.
    edges: Vec<Vec<(usize, Span)>>,
    /// The definition being checked.
    current: usize,
}

impl<'a> Checker<'a> {
    /// Reads `seed` and `plugin` lines; both belong in the experiment file only.
    fn top_level(&mut self, files: &[(&'a ast::File, bool)]) -> (u64, Vec<(String, Span)>) {
        let mut seed: Option<(u64, Span)> = None;
        let mut plugins = Vec::new();
        for (file, in_main) in files {
            for item in &file.items {
                match item {
                    Item::Seed(line) if !in_main => self.errors.push(CheckError::OnlyInMainFile {
                        item: "seed",
                        span: line.span,
                    }),
                    Item::Plugin(line) if !in_main => {
                        self.errors.push(CheckError::OnlyInMainFile {
                            item: "plugin",
                            span: line.span,
                        })
                    }
                    Item::Seed(line) => {
                        if let Some((_, first)) = seed {
                            self.errors.push(CheckError::DuplicateSeed {
                                span: line.span,
                                first,
                            });
                        } else if line.value < 0 {
                            self.errors.push(CheckError::ValueOutOfRange {
                                field: "seed".to_string(),
                                value: line.value.to_string(),
                                expected: "an integer of at least 0".to_string(),
                                span: line.value_span,
                            });
                            seed = Some((0, line.span));
                        } else {
                            seed = Some((line.value as u64, line.span));
                        }
                    }
                    Item::Plugin(line) => plugins.push((line.path.clone(), line.path_span)),
                    // Sweeps, templates and `use` lines are expanded away before this pass.
                    Item::Import(_)
                    | Item::Let(_)
                    | Item::Def(_)
                    | Item::Sweep(_)
                    | Item::Template(_)
                    | Item::Use(_) => {}
                }
            }
        }
        (seed.map_or(0, |(value, _)| value), plugins)
    }

    /// Gathers all definitions into one namespace, reporting names defined twice.
    fn collect(&mut self, files: &[(&'a ast::File, bool)]) {
        for (file, in_main) in files {
            for item in &file.items {
                let Item::Def(def) = item else {
                    continue;
                };
                let idx = self.defs.len();
                self.defs.push((def, *in_main));
                self.edges.push(Vec::new());
                match self.names.get(def.name.name.as_str()) {
                    Some(&first) => self.errors.push(CheckError::DuplicateDefinition {
                        name: def.name.name.clone(),
                        span: def.name.span,
                        first: self.defs[first].0.name.span,
                    }),
                    None => {
                        self.names.insert(def.name.name.as_str(), idx);
                    }
                }
            }
        }
    }

    fn body(&mut self, def: &'a ast::Def) -> Option<Body> {
        match (&def.body, def.kind) {
            (DefBody::Component(component), DefKind::Dataset) => {
                let component = self.component(component, ComponentKind::Dataset)?;
                Some(Body::Dataset { component })
            }
            (DefBody::Component(component), _) => {
                let component = self.component(component, ComponentKind::Model)?;
                Some(Body::Model { component })
            }
            (
                DefBody::Merge {
                    merger,
                    inputs,
                    params,
                    inputs_span,
                },
                _,
            ) => {
                let span = params
                    .as_ref()
                    .map_or(merger.span, |block| merger.span.to(block.span));
                let expression = ast::Component {
                    name: merger.clone(),
                    params: params.clone(),
                    span,
                };
                let merger = self.component(&expression, ComponentKind::Merger);
                if inputs.len() < 2 {
                    self.errors.push(CheckError::MergeArity {
                        name: def.name.name.clone(),
                        count: inputs.len(),
                        span: *inputs_span,
                    });
                }
                let inputs: Vec<Option<DefId>> = inputs
                    .iter()
                    .map(|input| self.reference(input, Expect::Model))
                    .collect();
                if inputs.len() < 2 {
                    return None;
                }
                Some(Body::Merge {
                    merger: merger?,
                    inputs: inputs.into_iter().collect::<Option<Vec<_>>>()?,
                })
            }
            (DefBody::Block(block), DefKind::Train) => self.train(def, block),
            (DefBody::Block(block), DefKind::Evaluate) => self.evaluate(def, block),
            (DefBody::Block(block), DefKind::Sequence) => self.sequence(def, block),
            (DefBody::Block(block), _) => self.report(def, block),
        }
    }

    fn train(&mut self, def: &'a ast::Def, block: &'a ast::Block) -> Option<Body> {
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
        spec.mixture = mixture?;
        Some(Body::Train {
            model: model?,
            data: data?,
            spec,
            seed,
            anchor: anchor?,
        })
    }

    fn sequence(&mut self, def: &'a ast::Def, block: &'a ast::Block) -> Option<Body> {
        // With `models`, the models after each task are given and only evaluated.
        let given = block.fields.iter().any(|field| field.key.name == "models");
        let specs = if given {
            SEQUENCE_MODELS_FIELDS
        } else {
            SEQUENCE_FIELDS
        };
        let fields = self.fields(def, block, specs);
        let tasks = fields
            .get("tasks")
            .and_then(|field| self.reference_list(field, Expect::Dataset, false));
        let metrics = match fields.get("metrics") {
            Some(field) => self.component_list(field, ComponentKind::Evaluator, true),
            None => Some(vec![
                self.default_component(ComponentKind::Evaluator, "accuracy")
            ]),
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
            let phase = self.phase(&fields);
            let (mut spec, seed) = phase?;
            spec.replay = replay?;
            Some(Stages::Train {
                model: model?,
                spec,
                seed,
                anchor: anchor?,
            })
        };
        Some(Body::Sequence {
            tasks: tasks?,
            stages: stages?,
            metrics: metrics?,
        })
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
            },
            seed?,
        ))
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
        let problem = |errors: &mut Vec<CheckError>, inner: &ast::Field, expected: String| {
            errors.push(CheckError::WrongFieldType {
                field: format!("mixture.{}", inner.key.name),
                expected,
                found: inner.value.kind.describe(),
                span: inner.value.span,
                example: Some(EXAMPLE.to_string()),
            });
        };
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
                            problem(
                                &mut self.errors,
                                inner,
                                "a list of durations (`0%`, `500 steps`)".into(),
                            );
                            ok = false;
                        }
                    }
                }
                ("weights", ExprKind::List(rows)) if !rows.is_empty() => {
                    let parsed: Option<Vec<Vec<f64>>> = rows
                        .iter()
                        .map(|row| match &row.kind {
                            ExprKind::List(cells) if cells.len() == sources => cells
                                .iter()
                                .map(|cell| match cell.kind {
                                    ExprKind::Int(v) if v >= 0 => Some(v as f64),
                                    ExprKind::Float(v) if v >= 0.0 => Some(v),
                                    _ => None,
                                })
                                .collect::<Option<Vec<f64>>>()
                                .filter(|row| row.iter().sum::<f64>() > 0.0),
                            _ => None,
                        })
                        .collect();
                    match parsed {
                        Some(parsed) => weights = Some(parsed),
                        None => {
                            problem(
                                &mut self.errors,
                                inner,
                                format!("a list of rows of {sources} weights ≥ 0 (one per `data` input), each with a positive sum"),
                            );
                            ok = false;
                        }
                    }
                }
                ("interpolate", ExprKind::Bool(value)) => interpolate = *value,
                (key @ ("at" | "weights" | "interpolate"), _) => {
                    let expected = match key {
                        "at" => "a non-empty list of durations".to_string(),
                        "weights" => format!("a non-empty list of rows of {sources} weights"),
                        _ => "a boolean".to_string(),
                    };
                    problem(&mut self.errors, inner, expected);
                    ok = false;
                }
                (key, _) => {
                    self.errors.push(CheckError::UnknownParam {
                        component: "mixture".to_string(),
                        param: key.to_string(),
                        span: inner.key.span,
                        suggestion: did_you_mean(key, ["at", "weights", "interpolate"])
                            .map(str::to_string),
                        known: vec!["at".into(), "weights".into(), "interpolate".into()],
                    });
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
                ("size", ExprKind::Int(count)) if *count > 0 => {
                    size = Some(ReplaySize::Count(*count as u64))
                }
                ("size", ExprKind::Duration(d))
                    if d.unit == ast::DurationUnit::Fraction
                        && d.amount > 0.0
                        && d.amount <= 1.0 =>
                {
                    size = Some(ReplaySize::Fraction(d.amount))
                }
                ("ratio", ExprKind::Duration(d))
                    if d.unit == ast::DurationUnit::Fraction
                        && d.amount > 0.0
                        && d.amount < 1.0 =>
                {
                    ratio = Some(d.amount)
                }
                ("ratio", ExprKind::Float(r)) if *r > 0.0 && *r < 1.0 => ratio = Some(*r),
                ("selection", ExprKind::Str(word)) if word == "uniform" || word == "reservoir" => {
                    selection = Some(word.clone())
                }
                (key @ ("size" | "ratio" | "selection"), _) => {
                    let expected = match key {
                        "size" => "a count of examples greater than 0, or a percentage of the earlier tasks' examples",
                        "ratio" => "a share of each batch between 0% and 100% (exclusive)",
                        _ => "\"uniform\" or \"reservoir\"",
                    };
                    self.errors.push(CheckError::WrongFieldType {
                        field: format!("replay.{key}"),
                        expected: expected.to_string(),
                        found: inner.value.kind.describe(),
                        span: inner.value.span,
                        example: Some(EXAMPLE.to_string()),
                    });
                    ok = false;
                }
                (key, _) => {
                    self.errors.push(CheckError::UnknownParam {
                        component: "replay".to_string(),
                        param: key.to_string(),
                        span: inner.key.span,
                        suggestion: did_you_mean(key, ["size", "ratio", "selection"])
                            .map(str::to_string),
                        known: vec!["size".into(), "ratio".into(), "selection".into()],
                    });
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

    /// A name, or a list of names, of definitions of one kind; `single` allows a bare name.
    fn reference_list(
        &mut self,
        field: &'a ast::Field,
        expect: Expect,
        single: bool,
    ) -> Option<Vec<DefId>> {
        match &field.value.kind {
            ExprKind::Component(component) if component.params.is_none() && single => {
                Some(vec![self.reference(&component.name, expect)?])
            }
            ExprKind::List(items) if !items.is_empty() => {
                let ids: Vec<Option<DefId>> = items
                    .iter()
                    .map(|item| match &item.kind {
                        ExprKind::Component(component) if component.params.is_none() => {
                            self.reference(&component.name, expect)
                        }
                        _ => {
                            self.errors.push(CheckError::WrongFieldType {
                                field: field.key.name.clone(),
                                expected: format!("the name of {}", expect.words()),
                                found: item.kind.describe(),
                                span: item.span,
                                example: None,
                            });
                            None
                        }
                    })
                    .collect();
                ids.into_iter().collect()
            }
            _ => {
                let expected = format!(
                    "a non-empty list of names of {}s",
                    expect
                        .words()
                        .trim_start_matches("a ")
                        .trim_start_matches("an ")
                );
                self.wrong_type(field, &expected, None);
                None
            }
        }
    }

    /// The `model` and `data` fields that `train` and `evaluate` share.
    fn model_and_data(
        &mut self,
        fields: &HashMap<&'static str, &'a ast::Field>,
    ) -> (Option<DefId>, Option<DefId>) {
        let model = fields
            .get("model")
            .and_then(|field| self.reference_field(field, Expect::Model));
        let data = fields
            .get("data")
            .and_then(|field| self.reference_field(field, Expect::Dataset));
        (model, data)
    }

    fn evaluate(&mut self, def: &'a ast::Def, block: &'a ast::Block) -> Option<Body> {
        let fields = self.fields(def, block, EVALUATE_FIELDS);
        let (model, data) = self.model_and_data(&fields);
        let metrics = fields
            .get("metrics")
            .and_then(|field| self.component_list(field, ComponentKind::Evaluator, true));
        let split = match fields.get("split") {
            Some(field) => self.split(field),
            None => Some("test".to_string()),
        };
        Some(Body::Evaluate {
            model: model?,
            data: data?,
            metrics: metrics?,
            split: split?,
        })
    }

    fn report(&mut self, def: &'a ast::Def, block: &'a ast::Block) -> Option<Body> {
        let fields = self.fields(def, block, REPORT_FIELDS);
        let chart = match fields.get("chart") {
            Some(field) => match field.value.kind {
                ExprKind::Bool(chart) => Some(chart),
                _ => {
                    self.wrong_type(field, "a boolean", Some("chart: true".to_string()));
                    None
                }
            },
            None => Some(false),
        };
        let field = fields.get("rows")?;
        let ExprKind::List(items) = &field.value.kind else {
            self.wrong_type(field, "a list of evaluate or train names", None);
            return None;
        };
        if items.is_empty() {
            self.wrong_type(
                field,
                "a non-empty list",
                Some(REPORT_FIELDS[0].example.to_string()),
            );
            return None;
        }
        let rows: Vec<Option<DefId>> = items
            .iter()
            .map(|item| match &item.kind {
                ExprKind::Component(component) if component.params.is_none() => {
                    self.reference(&component.name, Expect::Row)
                }
                _ => {
                    self.errors.push(CheckError::WrongFieldType {
                        field: "rows".to_string(),
                        expected: "the name of an evaluate or train definition".to_string(),
                        found: item.kind.describe(),
                        span: item.span,
                        example: None,
                    });
                    None
                }
            })
            .collect();
        let against = match fields.get("against") {
            Some(field) => match &field.value.kind {
                ExprKind::Str(axis) => Some(Some(axis.clone())),
                _ => {
                    self.wrong_type(
                        field,
                        "the name of a sweep axis, as a string",
                        Some("against: \"lr\"".to_string()),
                    );
                    None
                }
            },
            None => Some(None),
        };
        Some(Body::Report {
            rows: rows.into_iter().collect::<Option<Vec<_>>>()?,
            chart: chart?,
            against: against?,
        })
    }

    /// Sorts a block's fields by name, reporting unknown, repeated and missing ones.
    fn fields(
        &mut self,
        def: &ast::Def,
        block: &'a ast::Block,
        specs: &[FieldSpec],
    ) -> HashMap<&'static str, &'a ast::Field> {
        let mut found: HashMap<&'static str, &'a ast::Field> = HashMap::new();
        for field in &block.fields {
            let key = field.key.name.as_str();
            let Some(spec) = specs.iter().find(|spec| spec.name == key) else {
                self.errors.push(CheckError::UnknownField {
                    block: def.kind,
                    field: key.to_string(),
                    span: field.key.span,
                    suggestion: did_you_mean(key, specs.iter().map(|spec| spec.name))
                        .map(str::to_string),
                    known: specs.iter().map(|spec| spec.name).collect(),
                });
                continue;
            };
            if let Some(first) = found.get(spec.name) {
                self.errors.push(CheckError::DuplicateField {
                    field: key.to_string(),
                    span: field.key.span,
                    first: first.key.span,
                });
                continue;
            }
            found.insert(spec.name, field);
        }
        for spec in specs {
            if spec.required && !found.contains_key(spec.name) {
                self.errors.push(CheckError::MissingField {
                    block: def.kind,
                    name: def.name.name.clone(),
                    field: spec.name,
                    example: spec.example,
                    span: def.name.span,
                });
            }
        }
        found
    }

    fn wrong_type(&mut self, field: &ast::Field, expected: &str, example: Option<String>) {
        self.errors.push(CheckError::WrongFieldType {
            field: field.key.name.clone(),
            expected: expected.to_string(),
            found: field.value.kind.describe(),
            span: field.value.span,
            example,
        });
    }

    fn reference_field(&mut self, field: &ast::Field, expect: Expect) -> Option<DefId> {
        match &field.value.kind {
            ExprKind::Component(component) if component.params.is_none() => {
                self.reference(&component.name, expect)
            }
            _ => {
                let expected = format!("the name of {}", expect.words());
                self.wrong_type(field, &expected, None);
                None
            }
        }
    }

    /// Resolves a name to a definition of the expected kind, and records the dependency.
    fn reference(&mut self, ident: &ast::Ident, expect: Expect) -> Option<DefId> {
        let Some(&idx) = self.names.get(ident.name.as_str()) else {
            let candidates = self
                .names
                .iter()
                .filter(|(_, idx)| expect.accepts(self.defs[**idx].0.kind))
                .map(|(name, _)| *name);
            self.errors.push(CheckError::UndefinedName {
                name: ident.name.clone(),
                expected: expect,
                span: ident.span,
                suggestion: did_you_mean(&ident.name, candidates).map(str::to_string),
            });
            return None;
        };
        let target = self.defs[idx].0;
        if !expect.accepts(target.kind) {
            self.errors.push(CheckError::WrongDefinitionKind {
                name: ident.name.clone(),
                expected: expect,
                found: target.kind,
                span: ident.span,
                definition: target.name.span,
            });
            return None;
        }
        self.edges[self.current].push((idx, ident.span));
        Some(DefId(idx))
    }

    /// A duration field; `allow_fraction` says whether a percentage fits.
    fn duration(&mut self, field: &ast::Field, allow_fraction: bool) -> Option<Duration> {
        let ExprKind::Duration(duration) = &field.value.kind else {
            let example = match &field.value.kind {
                ExprKind::Int(amount) => Some(format!("{}: {amount} steps", field.key.name)),
                _ => None,
            };
            self.wrong_type(field, "a duration such as `100 steps`", example);
            return None;
        };
        let unit = ir_unit(duration.unit);
        if unit == DurationUnit::Fraction && !allow_fraction {
            self.errors.push(CheckError::BadUnit {
                what: "field",
                field: field.key.name.clone(),
                expected: "steps or epochs, not a percentage".to_string(),
                found: "a percentage".to_string(),
                span: field.value.span,
            });
            return None;
        }
        if duration.amount <= 0.0 {
            self.errors.push(CheckError::ValueOutOfRange {
                field: field.key.name.clone(),
                value: format!("{}", duration.amount),
                expected: "a duration greater than 0".to_string(),
                span: field.value.span,
            });
            return None;
        }
        Some(Duration {
            amount: duration.amount,
            unit,
        })
    }

    fn integer(&mut self, field: &ast::Field, min: i64) -> Option<u64> {
        let ExprKind::Int(value) = field.value.kind else {
            self.wrong_type(field, "an integer", None);
            return None;
        };
        if value < min {
            self.errors.push(CheckError::ValueOutOfRange {
                field: field.key.name.clone(),
                value: value.to_string(),
                expected: format!("an integer of at least {min}"),
                span: field.value.span,
            });
            return None;
        }
        Some(value as u64)
    }

    fn split(&mut self, field: &ast::Field) -> Option<String> {
        match &field.value.kind {
            ExprKind::Str(split) if split == "train" || split == "test" => Some(split.clone()),
            ExprKind::Str(split) => {
                self.errors.push(CheckError::WrongFieldType {
                    field: "split".to_string(),
                    expected: "\"train\" or \"test\"".to_string(),
                    found: format!("{split:?}"),
                    span: field.value.span,
                    example: Some("split: \"test\"".to_string()),
                });
                None
            }
            _ => {
                self.wrong_type(
                    field,
                    "\"train\" or \"test\"",
                    Some("split: \"test\"".to_string()),
                );
                None
            }
        }
    }

    fn component_list(
        &mut self,
        field: &ast::Field,
        kind: ComponentKind,
        non_empty: bool,
    ) -> Option<Vec<ComponentRef>> {
        let ExprKind::List(items) = &field.value.kind else {
            let example = match &field.value.kind {
                ExprKind::Component(component) if component.params.is_none() => {
                    Some(format!("{}: [{}]", field.key.name, component.name.name))
                }
                _ => None,
            };
            self.wrong_type(field, &format!("a list of {kind}s"), example);
            return None;
        };
        if items.is_empty() && non_empty {
            self.wrong_type(field, &format!("a non-empty list of {kind}s"), None);
            return None;
        }
        let components: Vec<Option<ComponentRef>> = items
            .iter()
            .map(|item| self.component_value(field, item, kind))
            .collect();
        components.into_iter().collect()
    }

    /// A component written as the value of a structural field (or an item of its list).
    fn component_value(
        &mut self,
        field: &ast::Field,
        value: &ast::Expr,
        kind: ComponentKind,
    ) -> Option<ComponentRef> {
        match &value.kind {
            ExprKind::Component(component) => self.component(component, kind),
            _ => {
                self.errors.push(CheckError::WrongFieldType {
                    field: field.key.name.clone(),
                    expected: format!("the name of {}", kind_article(kind)),
                    found: value.kind.describe(),
                    span: value.span,
                    example: None,
                });
                None
            }
        }
    }

    /// Reports every cycle among the references, once each.
    fn cycles(&mut self) {
        let mut state = vec![0u8; self.defs.len()];
        let mut reported: HashSet<Vec<usize>> = HashSet::new();
        let mut found = Vec::new();
        for start in 0..self.defs.len() {
            if state[start] == 0 {
                let mut stack = Vec::new();
                let mut uses = Vec::new();
                self.visit(
                    start,
                    &mut state,
                    &mut stack,
                    &mut uses,
                    &mut reported,
                    &mut found,
                );
            }
        }
        self.errors.extend(found);
    }

    fn visit(
        &self,
        node: usize,
        state: &mut [u8],
        stack: &mut Vec<usize>,
        uses: &mut Vec<Span>,
        reported: &mut HashSet<Vec<usize>>,
        found: &mut Vec<CheckError>,
    ) {
        state[node] = 1;
        stack.push(node);
        for &(next, span) in &self.edges[node] {
            uses.push(span);
            if state[next] == 1 {
                let from = stack.iter().position(|idx| *idx == next).unwrap_or(0);
                let mut members: Vec<usize> = stack[from..].to_vec();
                members.sort_unstable();
                if reported.insert(members) {
                    let mut names: Vec<String> = stack[from..]
                        .iter()
                        .map(|idx| self.defs[*idx].0.name.name.clone())
                        .collect();
                    names.push(self.defs[next].0.name.name.clone());
                    found.push(CheckError::Cycle {
                        names,
                        uses: uses[from..].to_vec(),
                        span: self.defs[next].0.name.span,
                    });
                }
            } else if state[next] == 0 {
                self.visit(next, state, stack, uses, reported, found);
            }
            uses.pop();
        }
        stack.pop();
        state[node] = 2;
    }
}

/// The IR's unit for a unit as written.
fn ir_unit(unit: ast::DurationUnit) -> DurationUnit {
    match unit {
        ast::DurationUnit::Steps => DurationUnit::Steps,
        ast::DurationUnit::Epochs => DurationUnit::Epochs,
        ast::DurationUnit::Tokens => DurationUnit::Tokens,
        ast::DurationUnit::Fraction => DurationUnit::Fraction,
    }
}

fn kind_article(kind: ComponentKind) -> String {
    let word = kind.as_str();
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {word}")
    } else {
        format!("a {word}")
    }
}
