//! `check`: the checking pass.
//!
//! It works in five steps, reporting every error it finds instead of stopping at the first:
//! 1. parse the experiment file and, depth first, every module it imports (through `World`),
//!    adding each module's text to the `SourceMap` so diagnostics can point into it;
//! 2. evaluate the `let` lines and put their values where they are used (`lets`);
//! 3. collect the top-level lines (`seed`, `plugin`) and the definitions of all files into
//!    one namespace, where a name may be defined once;
//! 4. check each definition's body: structural fields against a fixed table, references
//!    against the namespace, components and their parameters against the `Catalog`
//!    (`components`); the rules of `train` and `sequence` blocks are in `training`, those of
//!    `report` in `report`;
//! 5. look for cycles among the references, which may point anywhere in the file (`cycles`).
//!
//! A `Program` comes back only when no error was found.

use exp_diag::{did_you_mean, Diagnostic, FileId, SourceMap, Span};
use exp_ir::graph::Policy;
use exp_ir::{ComponentKind, ComponentRef, Duration, DurationUnit};
use exp_syntax::ast::{self, DefBody, DefKind, ExprKind, Item};

use crate::check_error::{CheckError, Expect};
use crate::hash::{HashMap, HashSet};
use crate::program::{Body, CheckedDef, DefId, Program};
use crate::{Catalog, World};

mod components;
mod cycles;
mod derived;
mod expand;
mod lets;
mod policy;
mod report;
mod resources;
mod text;

pub(crate) use resources::{KIND_KEYS as RESOURCE_KIND_KEYS, RESOURCE_FIELDS};
mod training;

/// Decodes the bytes of the experiment file `name`, adds it to `sources` and checks it (see
/// `check`). A file that is not UTF-8 gets that one error and is not parsed.
pub fn check_file(
    sources: &mut SourceMap,
    name: &str,
    source: &[u8],
    world: &dyn World,
    catalog: &dyn Catalog,
) -> (Option<Program>, Vec<Diagnostic>) {
    let (main, not_utf8) = exp_syntax::add_source(sources, name, source);
    match not_utf8 {
        Some(diagnostic) => (None, vec![diagnostic]),
        None => check(sources, main, world, catalog),
    }
}

/// `check_file`, also giving the experiment file's syntax tree as written (before sweeps and
/// templates are expanded) when it parsed without error: the language server navigates it,
/// and parsing the file a second time was a twentieth of its time after each change.
pub fn check_file_keeping_syntax(
    sources: &mut SourceMap,
    name: &str,
    source: &[u8],
    world: &dyn World,
    catalog: &dyn Catalog,
) -> (Option<Program>, Vec<Diagnostic>, Option<ast::File>) {
    let (main, not_utf8) = exp_syntax::add_source(sources, name, source);
    match not_utf8 {
        Some(diagnostic) => (None, vec![diagnostic], None),
        None => check_keeping(sources, main, world, catalog, true),
    }
}

/// Checks the experiment file `main` (already in `sources`) and everything it imports.
/// Imported modules are added to `sources`. Returns the program when there are no errors,
/// and all diagnostics, ordered by file and position.
pub fn check(
    sources: &mut SourceMap,
    main: FileId,
    world: &dyn World,
    catalog: &dyn Catalog,
) -> (Option<Program>, Vec<Diagnostic>) {
    let (program, diagnostics, _) = check_keeping(sources, main, world, catalog, false);
    (program, diagnostics)
}

/// `check`, keeping a copy of the file's syntax tree as parsed when `keep_syntax` is set and
/// it parsed without error.
fn check_keeping(
    sources: &mut SourceMap,
    main: FileId,
    world: &dyn World,
    catalog: &dyn Catalog,
    keep_syntax: bool,
) -> (Option<Program>, Vec<Diagnostic>, Option<ast::File>) {
    let main_text = sources.text(main).to_string();
    let (mut main_file, mut diagnostics) = exp_syntax::parse(main, &main_text);
    let syntax = (keep_syntax && diagnostics.is_empty()).then(|| main_file.clone());
    let mut errors = Vec::new();
    if diagnostics.is_empty() && main_file.items.is_empty() {
        // Most likely the wrong file, or one cut short: an experiment that does nothing.
        errors.push(CheckError::EmptyFile {
            span: Span::new(main, main_text.len(), main_text.len()),
        });
    }
    let mut modules = Vec::new();
    let mut loaded = HashSet::default();
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

    let file_names = files
        .iter()
        .map(|(file, _)| (file.file, sources.name(file.file).to_string()))
        .collect();
    let mut checker = Checker {
        catalog,
        world,
        file_names,
        defs: Vec::new(),
        names: HashMap::default(),
        errors,
        edges: Vec::new(),
        current: 0,
        rule_answers: HashMap::default(),
    };
    let TopLevel {
        seed,
        plugins,
        policy,
        resources,
    } = checker.top_level(&files);
    checker.collect(&files);
    // Its keys may name definitions: read once all of them are known.
    let resources = resources
        .map(|block| checker.resources(block))
        .unwrap_or_default();
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
    checker.text_pairings(&bodies);

    // Sized once: grown by doubling, it held up to twice 100,000 definitions at the check's peak.
    let mut program_defs = Vec::with_capacity(checker.defs.len());
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
    let mut reported = HashSet::default();
    // A literal the parser could not read (a number beyond 64 bits) stands as 0 so that the
    // rest is still checked; what the checker then finds at the same place is about that 0.
    let unreadable: Vec<Span> = diagnostics
        .iter()
        .filter_map(Diagnostic::primary_span)
        .collect();
    let overlaps_unreadable = |span: Span| {
        unreadable.iter().any(|literal| {
            literal.file == span.file
                && literal.start < span.end.max(span.start + 1)
                && span.start < literal.end
        })
    };
    diagnostics.extend(
        checker
            .errors
            .iter()
            .filter(|error| !overlaps_unreadable(error.span()))
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
        policy,
        resources,
        defs: program_defs,
    });
    (program, diagnostics, syntax)
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
        let (file_id, not_utf8) = exp_syntax::add_source(loader.sources, name, &text);
        if let Some(diagnostic) = not_utf8 {
            loader.diagnostics.push(diagnostic);
            continue;
        }
        let text = loader.sources.text(file_id).to_string();
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

const EVALUATE_FIELDS: &[FieldSpec] = &[
    field("model", true, "model: <model name>"),
    field("data", true, "data: <dataset name>"),
    field("metrics", true, "metrics: [accuracy]"),
    field("split", false, "split: [\"validation\", \"test\"]"),
];

/// Every field each block accepts, for tools and for the test that keeps the language
/// reference complete: `("train", ["model", "data", ..])`, for the blocks written inside
/// a field, `("train mixture", ["at", ..])`, and for a request of `resources`, its fields.
pub fn block_fields() -> Vec<(&'static str, Vec<&'static str>)> {
    let names = |specs: &[FieldSpec]| specs.iter().map(|spec| spec.name).collect();
    let mut blocks = training::training_fields();
    blocks.push(("evaluate", names(EVALUATE_FIELDS)));
    blocks.push(("sample", names(derived::SAMPLE_FIELDS)));
    blocks.push(("report", names(report::REPORT_FIELDS)));
    blocks.push(("report choose", report::CHOOSE_FIELDS.to_vec()));
    blocks.push(("resources", resources::RESOURCE_FIELDS.to_vec()));
    blocks
}

/// The file's top-level lines.
struct TopLevel<'a> {
    seed: u64,
    plugins: Vec<(String, Span)>,
    policy: Option<Policy>,
    /// Read after the definitions are collected (`Checker::resources`).
    resources: Option<&'a ast::Resources>,
}

struct Checker<'a> {
    catalog: &'a dyn Catalog,
    /// Resolves the paths components' parameters name, relative to the file that wrote them.
    world: &'a dyn World,
    file_names: HashMap<FileId, String>,
    /// Every definition, with whether it is in the experiment file.
    defs: Vec<(&'a ast::Def, bool)>,
    /// The first definition of each name.
    names: HashMap<&'a str, usize>,
    errors: Vec<CheckError>,
    /// For each definition, the definitions it refers to and where.
    edges: Vec<Vec<(usize, Span)>>,
    /// The definition being checked.
    current: usize,
    /// The catalog's answers to components' check rules, per component and parameters: the
    /// copies a sweep makes ask the same questions, each one a serialisation and a lookup.
    rule_answers: RuleAnswers,
}

/// Per component name: each kind and set of parameters asked about, with the answer.
type RuleAnswers = HashMap<String, Vec<RuleAnswer>>;
type RuleAnswer = (
    ComponentKind,
    std::collections::BTreeMap<String, exp_ir::Value>,
    Result<(), crate::ParamsRejected>,
);

impl<'a> Checker<'a> {
    /// Reads `seed`, `plugin`, `policy` and `resources` lines; all belong in the experiment
    /// file only.
    fn top_level(&mut self, files: &[(&'a ast::File, bool)]) -> TopLevel<'a> {
        let mut seed: Option<(u64, Span)> = None;
        let mut plugins = Vec::new();
        let mut policy: Option<(Option<Policy>, Span)> = None;
        let mut resources: Option<&'a ast::Resources> = None;
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
                    Item::Policy(line) if !in_main => {
                        self.errors.push(CheckError::OnlyInMainFile {
                            item: "policy",
                            span: line.span,
                        })
                    }
                    Item::Policy(line) => match &policy {
                        Some((_, first)) => self.errors.push(CheckError::DuplicateLine {
                            item: "policy",
                            span: line.span,
                            first: *first,
                        }),
                        None => policy = Some((self.policy(line), line.span)),
                    },
                    Item::Resources(line) if !in_main => {
                        self.errors.push(CheckError::OnlyInMainFile {
                            item: "resources",
                            span: line.span,
                        })
                    }
                    Item::Resources(line) => match resources {
                        Some(first) => self.errors.push(CheckError::DuplicateLine {
                            item: "resources",
                            span: line.span,
                            first: first.span,
                        }),
                        None => resources = Some(line),
                    },
                    Item::Seed(line) => {
                        if let Some((_, first)) = seed {
                            self.errors.push(CheckError::DuplicateLine {
                                item: "seed",
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
        TopLevel {
            seed: seed.map_or(0, |(value, _)| value),
            plugins,
            policy: policy.and_then(|(policy, _)| policy),
            resources,
        }
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
            (DefBody::Call { .. }, DefKind::Dataset) => self.derived_dataset(def),
            (_, DefKind::Model) => self.model(def),
            (_, DefKind::Tokenizer) => self.tokenizer(def),
            (_, DefKind::Export) => self.export(def),
            (
                DefBody::Call {
                    component: merger,
                    inputs,
                    params,
                    inputs_span,
                },
                _,
            ) => {
                let merger = self.call_component(merger, params, ComponentKind::Merger);
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
            // The grammar gives every other keyword its one form.
            (DefBody::Component(_), _) => None,
        }
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
        let splits = match fields.get("split") {
            Some(field) => self.sequence_splits(field),
            None => Some(vec!["test".to_string()]),
        };
        Some(Body::Evaluate {
            model: model?,
            data: data?,
            metrics: metrics?.into(),
            splits: splits?,
        })
    }

    /// Sorts a block's fields by name, reporting unknown, repeated and missing ones.
    fn fields(
        &mut self,
        def: &ast::Def,
        block: &'a ast::Block,
        specs: &[FieldSpec],
    ) -> HashMap<&'static str, &'a ast::Field> {
        let listed: Vec<&'static str> = specs.iter().map(|spec| spec.name).collect();
        self.fields_listing(def, block, specs, &listed, None)
    }

    /// `fields`, where an unknown field's error suggests and lists `listed` (the fields of
    /// every form of the block, or of the one written, `form`).
    fn fields_listing(
        &mut self,
        def: &ast::Def,
        block: &'a ast::Block,
        specs: &[FieldSpec],
        listed: &[&'static str],
        form: Option<&'static str>,
    ) -> HashMap<&'static str, &'a ast::Field> {
        let mut found: HashMap<&'static str, &'a ast::Field> = HashMap::default();
        for field in &block.fields {
            let key = field.key.name.as_str();
            let Some(spec) = specs.iter().find(|spec| spec.name == key) else {
                self.errors.push(CheckError::UnknownField {
                    block: def.kind,
                    field: key.to_string(),
                    span: field.key.span,
                    suggestion: did_you_mean(key, listed.iter().copied()).map(str::to_string),
                    known: listed.to_vec(),
                    form,
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

    /// A boolean field: its value, `default` when absent, `None` (with an error) when it is
    /// something else.
    fn bool_field(
        &mut self,
        fields: &HashMap<&'static str, &'a ast::Field>,
        name: &str,
        default: bool,
    ) -> Option<bool> {
        let Some(field) = fields.get(name) else {
            return Some(default);
        };
        match field.value.kind {
            ExprKind::Bool(value) => Some(value),
            _ => {
                self.wrong_type(field, "a boolean", Some(format!("{name}: {}", !default)));
                None
            }
        }
    }

    /// A field of a nested block (`replay: { .. }`, `choose: { .. }`) with a value of the wrong
    /// type, named `block.key`.
    fn nested_wrong_type(
        &mut self,
        block: &str,
        inner: &ast::Field,
        expected: &str,
        example: &str,
    ) {
        self.errors.push(CheckError::WrongFieldType {
            field: format!("{block}.{}", inner.key.name),
            expected: expected.to_string(),
            found: inner.value.kind.describe(),
            span: inner.value.span,
            example: Some(example.to_string()),
        });
    }

    /// A key that a nested block does not have, with the nearest one it has.
    fn nested_unknown(&mut self, block: &str, inner: &ast::Field, known: &[&str]) {
        let key = inner.key.name.as_str();
        self.errors.push(CheckError::UnknownParam {
            component: block.to_string(),
            param: key.to_string(),
            span: inner.key.span,
            suggestion: did_you_mean(key, known.iter().copied()).map(str::to_string),
            known: known.iter().map(|name| name.to_string()).collect(),
        });
    }

    /// Whether `key` is the first field of its name in a block (`seen` holds those before
    /// it); a repeat is reported (E0012), and its caller skips it.
    fn first_of_its_name<'f>(
        &mut self,
        seen: &mut HashMap<&'f str, Span>,
        key: &'f ast::Ident,
    ) -> bool {
        if let Some(first) = seen.get(key.name.as_str()) {
            self.errors.push(CheckError::DuplicateField {
                field: key.name.clone(),
                span: key.span,
                first: *first,
            });
            return false;
        }
        seen.insert(key.name.as_str(), key.span);
        true
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

    /// A number field (an integer or a float) that `within` accepts. `kind` is what a value
    /// of the wrong type is told to be, with an example; `expected` says the accepted range.
    fn number(
        &mut self,
        field: &ast::Field,
        kind: (&str, Option<&str>),
        within: impl Fn(f64) -> bool,
        expected: &str,
    ) -> Option<f64> {
        let value = match field.value.kind {
            ExprKind::Int(value) => value as f64,
            ExprKind::Float(value) => value,
            _ => {
                self.wrong_type(field, kind.0, kind.1.map(str::to_string));
                return None;
            }
        };
        if !within(value) {
            self.errors.push(CheckError::ValueOutOfRange {
                field: field.key.name.clone(),
                value: format!("{value}"),
                expected: expected.to_string(),
                span: field.value.span,
            });
            return None;
        }
        Some(value)
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
