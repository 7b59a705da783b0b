//! Sweeps, templates and interpolated names, expanded before anything else is checked.
//!
//! The expansion is syntactic, like a macro pass: afterwards the files hold only the items the
//! rest of the checker knows (imports, plugins, seeds, lets and definitions), so a swept or
//! templated definition is checked, compiled, cached and run exactly like a written one.
//!
//! - `sweep lr in [a, b], seeds 2 { items }` copies its items once per point of the grid of its
//!   axes (`zip` pairs the lists instead). In each copy the axis names stand for the point's
//!   values, and a definition `ft` is renamed `ft[lr=a,seed=0]`, unless it is named by a
//!   string (`train "ft_{lr}"`), whose `{..}`s are filled in instead.
//! - Inside a sweep's items, a name defined there refers to the copy at the same point. Outside,
//!   the same name stands for every copy (a family): in a list (report rows, merge inputs,
//!   sequence tasks) it expands to all of them; where one definition is needed it is an error.
//! - `use run = finetune(net, 1e-3)` copies the template's items with its parameters standing
//!   for the arguments (evaluated where `use` is written) and every definition `x` of the
//!   template renamed `run.x`; `run` alone names the template's last definition, its result.
//!   A template body sees the names of the file it is written in, not those of the caller.
//! - `"{name}"` in any string is filled in with the value of a sweep axis, a template parameter
//!   or a `let` holding a literal, or with the name of a definition; `{{` and `}}` are braces.
//!
//! Every copy keeps the spans of what was written, so an error inside a sweep points at the
//! line in the file; the checker reports an error at one place once, however many copies
//! share it.

use std::collections::BTreeMap;
use std::rc::Rc;

use exp_diag::{did_you_mean, Span};
use exp_syntax::ast::{
    self, Block, DefBody, Duration, DurationUnit, Expansion, Expr, ExprKind, Item, Template,
};

use crate::check_error::CheckError;
use crate::hash::{HashMap, HashSet};

/// How deep templates may instantiate one another before it counts as runaway recursion.
const MAX_DEPTH: usize = 16;

/// How many definitions the expansion may make. A sweep's grid multiplies its axes and a
/// template that uses another several times multiplies again, so a few lines can ask for
/// billions of copies; past this bound (far beyond a study that can run) the expansion stops
/// with an error instead of filling the memory.
const MAX_DEFINITIONS: usize = 100_000;

/// The largest count `sweep seeds N` takes (a slip of the keyboard is more likely than a study
/// of more replicates); more seeds are written out as a list.
const MOST_SEEDS: i64 = 10_000;

/// The expansion's budget of steps: declaring and copying definitions, several times over when
/// sweeps and templates nest, within a small multiple of `MAX_DEFINITIONS`.
const MAX_WORK: usize = 20 * MAX_DEFINITIONS;

pub(super) struct Expanded {
    pub errors: Vec<CheckError>,
    /// Top-level lets that a sweep axis or an interpolation read; they count as used.
    pub lets_used: HashSet<String>,
    /// Definitions (by span) with an error reported here, whose bodies are not checked again.
    pub poisoned: HashSet<Span>,
    /// Nested levels whose names were kept from the first pass (read by the tests).
    #[cfg_attr(not(test), allow(dead_code))]
    pub levels_reused: usize,
}

#[derive(Clone)]
enum Binding {
    /// A sweep axis value, a template argument or a nested `let`: replaces the name.
    Value(Expr),
    /// A definition: its expanded name, or every copy of a swept one (a family).
    Defs(Vec<String>),
}

struct Scope<'p> {
    parent: Option<&'p Scope<'p>>,
    /// Ordered, so that the bindings under a prefix (`run.`) are one range, not a scan of all.
    bindings: BTreeMap<String, Binding>,
}

impl Scope<'_> {
    fn get(&self, name: &str) -> Option<&Binding> {
        self.bindings
            .get(name)
            .or_else(|| self.parent.and_then(|parent| parent.get(name)))
    }

    /// Every binding whose name starts with `prefix` (`run.` for an instance `run`), the
    /// innermost first.
    fn with_prefix(&self, prefix: &str) -> Vec<(String, Binding)> {
        let mut found: Vec<(String, Binding)> = self
            .bindings
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(name, _)| name.starts_with(prefix))
            .map(|(name, binding)| (name.clone(), binding.clone()))
            .collect();
        if let Some(parent) = self.parent {
            for (name, binding) in parent.with_prefix(prefix) {
                if !found.iter().any(|(known, _)| *known == name) {
                    found.push((name, binding));
                }
            }
        }
        found
    }
}

/// One axis's value at a sweep point, with the label the point's names show for it.
#[derive(Clone)]
struct AxisValue {
    axis: String,
    value: Expr,
    label: String,
}

/// Where the items being expanded sit: inside which template instances and sweep points.
#[derive(Clone, Default)]
struct Place {
    /// `run.` inside `use run = ..`; nested instances add up (`outer.inner.`).
    prefix: String,
    point: Vec<(String, String)>,
    /// The axes of the enclosing sweeps, where each is written, to catch one swept twice.
    /// Shared: only a sweep adds to them, and every copy made inside passes them on.
    axes: Rc<Vec<(String, Span)>>,
    /// The templates being instantiated, outermost first, to catch recursion (shared alike).
    templates: Rc<Vec<String>>,
}

struct Expander {
    /// Shared, so that each `use` borrows its template instead of copying its syntax tree.
    templates: HashMap<String, Rc<Template>>,
    /// Top-level lets, unevaluated, for sweep axes and interpolation.
    lets: HashMap<String, Expr>,
    errors: Vec<CheckError>,
    lets_used: HashSet<String>,
    /// Errors already reported for a span, so a copy does not report them again.
    seen: HashSet<(&'static str, Span)>,
    /// Errors found in a definition's body, counted to mark it poisoned.
    body_errors: usize,
    poisoned: HashSet<Span>,
    /// Steps taken so far, against `MAX_WORK`.
    work: usize,
    /// Whether the budget ran out (reported once; nothing more is expanded).
    exhausted: bool,
    /// The names given so far to copies of definitions named by strings: where each is
    /// written, and at which sweep point.
    copy_names: HashMap<String, (Span, Vec<(String, String)>)>,
    /// The top-level sweep or `use` being expanded: where running out of budget is reported,
    /// since that is the line that asks for too much, however deep the expansion has gone.
    top: Option<Span>,
    /// The names each nested level (a sweep point, a template instance) declares, found while
    /// declaring the level around it and kept for when the level's items are copied, with the
    /// work they took. Declaring them again there made the expansion's time grow with the
    /// depth of nesting: a template in a sweep in a template in a sweep declared each
    /// definition five times.
    declared_levels: HashMap<LevelKey, (Declared, usize)>,
    /// How often the expansion met something whose declared names could depend on the
    /// scope they are declared in (see `declare_level`).
    scope_dependent: usize,
    /// How many levels took their names from `declared_levels` (for the tests).
    levels_reused: usize,
}

/// The names a level declares, each with the expanded names it stands for.
type Declared = Vec<(String, Vec<String>)>;

/// A nested level: its items (by address; a template's items are shared between its
/// instances) and its place (the instance prefix and sweep point that tell copies apart).
#[derive(PartialEq, Eq, Hash)]
struct LevelKey {
    items: usize,
    prefix: String,
    point: Vec<(String, String)>,
}

impl LevelKey {
    fn new(items: &[Item], place: &Place) -> LevelKey {
        LevelKey {
            items: items.as_ptr() as usize,
            prefix: place.prefix.clone(),
            point: place.point.clone(),
        }
    }
}

/// Expands the sweeps, templates and `use` lines of all files in place.
pub(super) fn expand(files: &mut [&mut ast::File]) -> Expanded {
    let mut expander = Expander {
        templates: HashMap::default(),
        lets: HashMap::default(),
        errors: Vec::new(),
        lets_used: HashSet::default(),
        seen: HashSet::default(),
        body_errors: 0,
        poisoned: HashSet::default(),
        work: 0,
        exhausted: false,
        copy_names: HashMap::default(),
        top: None,
        declared_levels: HashMap::default(),
        scope_dependent: 0,
        levels_reused: 0,
    };
    let mut template_spans: HashMap<String, Span> = HashMap::default();
    for file in files.iter() {
        for item in &file.items {
            match item {
                Item::Template(template) => {
                    let name = template.name.name.clone();
                    if let Some(first) = template_spans.get(&name) {
                        expander.errors.push(CheckError::DuplicateDefinition {
                            name,
                            span: template.name.span,
                            first: *first,
                        });
                        continue;
                    }
                    template_spans.insert(name.clone(), template.name.span);
                    let mut used = HashSet::default();
                    names_in_items(&template.items, &mut used);
                    for param in &template.params {
                        if !used.contains(param.name.as_str()) {
                            expander.errors.push(CheckError::UnusedTemplateParam {
                                template: name.clone(),
                                param: param.name.clone(),
                                span: param.span,
                            });
                        }
                    }
                    expander.templates.insert(name, Rc::new(template.clone()));
                }
                Item::Let(binding) => {
                    expander
                        .lets
                        .entry(binding.name.name.clone())
                        .or_insert_with(|| binding.value.clone());
                }
                _ => {}
            }
        }
    }
    let needs_expansion = files.iter().any(|file| {
        file.items.iter().any(|item| {
            matches!(item, Item::Sweep(_) | Item::Template(_) | Item::Use(_))
                || matches!(item, Item::Def(def) if def.quoted || has_interpolation(def))
        })
    });
    if !needs_expansion {
        return Expanded {
            errors: expander.errors,
            lets_used: expander.lets_used,
            poisoned: expander.poisoned,
            levels_reused: expander.levels_reused,
        };
    }

    // One global scope over all files: definitions share one namespace.
    let mut global = Scope {
        parent: None,
        bindings: BTreeMap::new(),
    };
    let place = Place::default();
    for file in files.iter() {
        let declared = expander.declare(&file.items, &global, &place);
        for (name, members) in declared {
            global.bindings.insert(name, Binding::Defs(members));
        }
    }
    for file in files.iter_mut() {
        let items = std::mem::take(&mut file.items);
        let mut out = Vec::with_capacity(items.len());
        for item in &items {
            match item {
                Item::Import(_)
                | Item::Plugin(_)
                | Item::Seed(_)
                | Item::Policy(_)
                | Item::Resources(_)
                | Item::Let(_) => out.push(item.clone()),
                Item::Template(_) => {}
                _ => expander.item(item, &global, &global, &place, &mut out),
            }
        }
        file.items = out;
    }
    Expanded {
        errors: expander.errors,
        lets_used: expander.lets_used,
        poisoned: expander.poisoned,
        levels_reused: expander.levels_reused,
    }
}

/// Every name the items refer to: bare names, the first segment of dotted ones, merge inputs,
/// `{name}`s in strings, and the names inside sweep axes, `use` arguments and lets.
fn names_in_items(items: &[Item], names: &mut HashSet<String>) {
    fn in_text(text: &str, names: &mut HashSet<String>) {
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            match after.find('}') {
                Some(close) => {
                    names.insert(after[..close].trim().to_string());
                    rest = &after[close + 1..];
                }
                None => break,
            }
        }
    }
    fn in_name(name: &str, names: &mut HashSet<String>) {
        names.insert(name.split('.').next().unwrap_or(name).to_string());
    }
    fn in_expr(expr: &Expr, names: &mut HashSet<String>) {
        match &expr.kind {
            ExprKind::Str(text) => in_text(text, names),
            ExprKind::List(items) => items.iter().for_each(|item| in_expr(item, names)),
            ExprKind::Record(block) => in_block(block, names),
            ExprKind::Component(component) => {
                in_name(&component.name.name, names);
                if let Some(block) = &component.params {
                    in_block(block, names);
                }
            }
            ExprKind::Binary { lhs, rhs, .. } => {
                in_expr(lhs, names);
                in_expr(rhs, names);
            }
            ExprKind::Neg(inner) | ExprKind::Paren(inner) => in_expr(inner, names),
            _ => {}
        }
    }
    fn in_block(block: &Block, names: &mut HashSet<String>) {
        block
            .fields
            .iter()
            .for_each(|field| in_expr(&field.value, names));
    }
    for item in items {
        match item {
            Item::Def(def) => {
                if def.quoted {
                    in_text(&def.name.name, names);
                }
                match &def.body {
                    DefBody::Component(component) => {
                        in_name(&component.name.name, names);
                        if let Some(block) = &component.params {
                            in_block(block, names);
                        }
                    }
                    DefBody::Call { inputs, params, .. } => {
                        inputs.iter().for_each(|input| in_name(&input.name, names));
                        if let Some(block) = params {
                            in_block(block, names);
                        }
                    }
                    DefBody::Block(block) => in_block(block, names),
                }
            }
            Item::Sweep(sweep) => {
                sweep
                    .axes
                    .iter()
                    .for_each(|axis| in_expr(&axis.values, names));
                names_in_items(&sweep.items, names);
            }
            Item::Use(use_) => use_.args.iter().for_each(|arg| in_expr(&arg.value, names)),
            Item::Let(binding) => in_expr(&binding.value, names),
            Item::Template(template) => names_in_items(&template.items, names),
            Item::Import(_)
            | Item::Plugin(_)
            | Item::Seed(_)
            | Item::Policy(_)
            | Item::Resources(_) => {}
        }
    }
}

fn has_interpolation(def: &ast::Def) -> bool {
    fn in_expr(expr: &Expr) -> bool {
        match &expr.kind {
            ExprKind::Str(text) => text.contains('{'),
            ExprKind::List(items) => items.iter().any(in_expr),
            ExprKind::Record(block) => in_block(block),
            ExprKind::Component(component) => component.params.as_ref().is_some_and(in_block),
            ExprKind::Binary { lhs, rhs, .. } => in_expr(lhs) || in_expr(rhs),
            ExprKind::Neg(inner) | ExprKind::Paren(inner) => in_expr(inner),
            _ => false,
        }
    }
    fn in_block(block: &Block) -> bool {
        block.fields.iter().any(|field| in_expr(&field.value))
    }
    match &def.body {
        DefBody::Component(component) => component.params.as_ref().is_some_and(in_block),
        DefBody::Call { params, .. } => params.as_ref().is_some_and(in_block),
        DefBody::Block(block) => in_block(block),
    }
}

impl Expander {
    /// Whether there is budget left to expand the sweep or `use` at `span` (written at
    /// `place`); the first time there is not, says so at the top-level item being expanded.
    fn within_budget(&mut self, span: Span, place: &Place) -> bool {
        if place.prefix.is_empty() && place.point.is_empty() {
            self.top = Some(span);
        }
        if self.work > MAX_WORK && !self.exhausted {
            self.exhausted = true;
            self.error(CheckError::TooManyDefinitions {
                count: None,
                limit: MAX_DEFINITIONS,
                span: self.top.unwrap_or(span),
            });
        }
        !self.exhausted
    }

    fn error(&mut self, error: CheckError) {
        self.body_errors += 1;
        if self.seen.insert((error.code(), error.span())) {
            self.errors.push(error);
        }
    }

    /// The names `items` define at this level, each with its expanded names: one for a plain
    /// definition, one per point for a swept one, and `run.x` / `run` for a template instance.
    fn declare(&mut self, items: &[Item], scope: &Scope<'_>, place: &Place) -> Declared {
        let mut declared: Declared = Vec::new();
        // Where each name is in `declared`: a level may declare thousands of names.
        let mut positions: HashMap<String, usize> = HashMap::default();
        let mut add = |declared: &mut Declared, name: String, members: Vec<String>| match positions
            .get(&name)
        {
            Some(&position) => declared[position].1.extend(members),
            None => {
                positions.insert(name.clone(), declared.len());
                declared.push((name, members));
            }
        };
        let level = self.level_scope(items, scope);
        if items.iter().any(|item| matches!(item, Item::Let(_))) {
            // Evaluated only where the level's items are copied (see `level_scope`).
            self.scope_dependent += 1;
        }
        for item in items {
            match item {
                Item::Def(def) => {
                    self.work += 1;
                    let (local, full) = self.def_name(def, &level, place);
                    add(&mut declared, local, vec![full]);
                }
                Item::Sweep(sweep) => {
                    if !self.within_budget(sweep.header_span, place) {
                        continue;
                    }
                    if self.repeated_axis(sweep, place) {
                        continue;
                    }
                    for point in self.points(sweep, &level) {
                        let inner = self.point_scope(&level, &point);
                        let place = place.at(sweep, &point);
                        let inner_declared = self.declare_level(&sweep.items, &inner, &place);
                        self.work += size_of_declared(&inner_declared);
                        for (name, members) in inner_declared {
                            add(&mut declared, name, members);
                        }
                    }
                }
                Item::Use(use_) => {
                    if !self.within_budget(use_.span, place) {
                        continue;
                    }
                    let Some(template) = self.templates.get(&use_.template.name).cloned() else {
                        continue;
                    };
                    if place.templates.len() >= MAX_DEPTH
                        || place.templates.contains(&template.name.name)
                    {
                        continue;
                    }
                    let Some(arguments) = self.arguments(use_, &template, &level) else {
                        continue;
                    };
                    // The instance is a level of its own below the global one (whose names
                    // are being declared), so that its nested lets are evaluated: a template
                    // sweeping over a list it defines itself declares every copy.
                    let root = Scope {
                        parent: None,
                        bindings: BTreeMap::new(),
                    };
                    let inner = Scope {
                        parent: Some(&root),
                        bindings: arguments.bindings,
                    };
                    let instance = place.instance(&use_.name.name, &template.name.name);
                    let members = self.declare_level(&template.items, &inner, &instance);
                    // Each name of the instance is copied once more under its prefix here.
                    self.work += size_of_declared(&members);
                    let result = template
                        .items
                        .iter()
                        .rev()
                        .find_map(|item| match item {
                            // The result: the last definition named by a word (see `item`).
                            Item::Def(def) if !def.quoted => Some(def.name.name.clone()),
                            _ => None,
                        })
                        .and_then(|local| {
                            members
                                .iter()
                                .find(|(name, _)| *name == local)
                                .map(|(_, members)| members.clone())
                        })
                        .or_else(|| members.last().map(|(_, members)| members.clone()));
                    for (name, defs) in members {
                        add(&mut declared, format!("{}.{name}", use_.name.name), defs);
                    }
                    if let Some(result) = result {
                        add(&mut declared, use_.name.name.clone(), result);
                    }
                }
                _ => {}
            }
        }
        declared
    }

    /// `declare` for a nested level, keeping its answer for `items` when that answer cannot
    /// depend on the scope: the level here sees its template's arguments but not the global
    /// names, and not its own nested lets or sibling definitions, which are bound only where
    /// its items are copied. Names that could tell the difference (a definition named by a
    /// string, a nested `let`, a sweep over names) and levels with errors are declared
    /// again there instead.
    fn declare_level(&mut self, items: &[Item], scope: &Scope<'_>, place: &Place) -> Declared {
        let (work, errors, scope_dependent) = (self.work, self.body_errors, self.scope_dependent);
        let declared = self.declare(items, scope, place);
        if self.body_errors == errors && self.scope_dependent == scope_dependent && !self.exhausted
        {
            self.declared_levels.insert(
                LevelKey::new(items, place),
                (declared.clone(), self.work - work),
            );
        }
        declared
    }

    /// The scope of one level's nested `let`s (top-level lets are left to the let pass).
    fn level_scope<'p>(&mut self, items: &[Item], parent: &'p Scope<'p>) -> Scope<'p> {
        let mut level = Scope {
            parent: Some(parent),
            bindings: BTreeMap::new(),
        };
        if parent.parent.is_none() {
            // The global level: its lets belong to the let pass.
            return level;
        }
        for item in items {
            if let Item::Let(binding) = item {
                let value = self.subst(&binding.value, &level);
                level
                    .bindings
                    .insert(binding.name.name.clone(), Binding::Value(paren(value)));
            }
        }
        level
    }

    /// The name a definition is referred to by at its level, and its expanded name.
    fn def_name(&mut self, def: &ast::Def, scope: &Scope<'_>, place: &Place) -> (String, String) {
        if def.quoted {
            self.scope_dependent += 1;
            let errors_before = self.body_errors;
            let text = self.interpolate(&def.name.name, def.name.span, scope);
            if self.body_errors == errors_before {
                return (text.clone(), format!("{}{text}", place.prefix));
            }
            // Reported; keep the copies apart so that no "defined twice" follows.
            return (
                text.clone(),
                expanded_name(&place.prefix, &text, &place.point),
            );
        }
        let name = &def.name.name;
        (
            name.clone(),
            expanded_name(&place.prefix, name, &place.point),
        )
    }

    fn item(
        &mut self,
        item: &Item,
        scope: &Scope<'_>,
        global: &Scope<'_>,
        place: &Place,
        out: &mut Vec<Item>,
    ) {
        match item {
            Item::Def(def) => {
                let def = self.def(def, scope, place);
                out.push(Item::Def(def));
            }
            Item::Sweep(sweep) => {
                if !self.within_budget(sweep.header_span, place) {
                    return;
                }
                if self.repeated_axis(sweep, place) {
                    return;
                }
                for point in self.points(sweep, scope) {
                    let point_scope = self.point_scope(scope, &point);
                    let place = place.at(sweep, &point);
                    self.items(&sweep.items, &point_scope, global, &place, out);
                }
            }
            Item::Use(use_) => {
                if !self.within_budget(use_.span, place) {
                    return;
                }
                let Some(template) = self.templates.get(&use_.template.name).cloned() else {
                    let suggestion = did_you_mean(
                        &use_.template.name,
                        self.templates.keys().map(String::as_str),
                    )
                    .map(str::to_string);
                    self.error(CheckError::UnknownTemplate {
                        name: use_.template.name.clone(),
                        span: use_.template.span,
                        suggestion,
                    });
                    return;
                };
                if place.templates.len() >= MAX_DEPTH
                    || place.templates.contains(&template.name.name)
                {
                    let mut chain = Vec::clone(&place.templates);
                    chain.push(template.name.name.clone());
                    self.error(CheckError::RecursiveTemplate {
                        chain,
                        span: use_.template.span,
                    });
                    return;
                }
                let Some(arguments) = self.arguments(use_, &template, scope) else {
                    return;
                };
                // The template sees the global names and its parameters, not the caller's.
                let inner = Scope {
                    parent: Some(global),
                    bindings: arguments.bindings,
                };
                let instance = place.instance(&use_.name.name, &template.name.name);
                // Every definition keeps its own name as its family (`run.score`), in reports
                // and `exp graph` alike: the name it has at run time. `run` alone is only a way
                // to refer to the result.
                self.items(&template.items, &inner, global, &instance, out);
            }
            Item::Let(_) => {}
            Item::Import(_)
            | Item::Plugin(_)
            | Item::Seed(_)
            | Item::Policy(_)
            | Item::Resources(_)
            | Item::Template(_) => {
                let (what, span) = match item {
                    Item::Import(import) => ("import", import.span),
                    Item::Plugin(plugin) => ("plugin", plugin.span),
                    Item::Seed(seed) => ("seed", seed.span),
                    Item::Policy(policy) => ("policy", policy.span),
                    Item::Resources(resources) => ("resources", resources.span),
                    Item::Template(template) => ("template", template.name.span),
                    _ => return,
                };
                self.error(CheckError::NotAllowedInside { item: what, span });
            }
        }
    }

    /// The items of a sweep point or a template instance: a level of its own.
    fn items(
        &mut self,
        items: &[Item],
        parent: &Scope<'_>,
        global: &Scope<'_>,
        place: &Place,
        out: &mut Vec<Item>,
    ) {
        let mut level = self.level_scope(items, parent);
        let declared = match self.declared_levels.remove(&LevelKey::new(items, place)) {
            // Tests run with debug assertions: there every kept answer is checked against
            // declaring the level again.
            Some((declared, work)) if cfg!(debug_assertions) => {
                self.levels_reused += 1;
                let work_before = self.work;
                let again = self.declare(items, &level, place);
                assert_eq!(
                    declared, again,
                    "the names a level declares, kept and found again"
                );
                assert_eq!(
                    work,
                    self.work - work_before,
                    "the work of declaring a level"
                );
                again
            }
            Some((declared, work)) => {
                self.levels_reused += 1;
                self.work += work;
                declared
            }
            None => self.declare(items, &level, place),
        };
        for (name, members) in declared {
            level.bindings.insert(name, Binding::Defs(members));
        }
        for item in items {
            self.item(item, &level, global, place, out);
        }
    }

    /// Binds a template's parameters to the arguments of a `use`, evaluated in the caller's
    /// scope. `None` (with errors) when they do not match.
    fn arguments(
        &mut self,
        use_: &ast::Use,
        template: &Template,
        scope: &Scope<'_>,
    ) -> Option<Scope<'static>> {
        let params: Vec<&str> = template.params.iter().map(|p| p.name.as_str()).collect();
        let mut bound: BTreeMap<String, Binding> = BTreeMap::new();
        let mut ok = true;
        for (position, arg) in use_.args.iter().enumerate() {
            let name = match &arg.key {
                Some(key) => {
                    if !params.contains(&key.name.as_str()) {
                        let problem = match did_you_mean(&key.name, params.iter().copied()) {
                            Some(close) => format!(
                                "it has no parameter `{}` (did you mean `{close}`?)",
                                key.name
                            ),
                            None => format!("it has no parameter `{}`", key.name),
                        };
                        self.error(CheckError::TemplateArguments {
                            template: template.name.name.clone(),
                            problem,
                            span: key.span,
                            params: params.iter().map(|p| p.to_string()).collect(),
                        });
                        ok = false;
                        continue;
                    }
                    key.name.clone()
                }
                None => match params.get(position) {
                    Some(name) => name.to_string(),
                    None => {
                        self.error(CheckError::TemplateArguments {
                            template: template.name.name.clone(),
                            problem: format!(
                                "it takes {} argument{}, this is argument {}",
                                params.len(),
                                if params.len() == 1 { "" } else { "s" },
                                position + 1
                            ),
                            span: arg.value.span,
                            params: params.iter().map(|p| p.to_string()).collect(),
                        });
                        ok = false;
                        continue;
                    }
                },
            };
            if bound.contains_key(&name) {
                self.error(CheckError::TemplateArguments {
                    template: template.name.name.clone(),
                    problem: format!("`{name}` is given twice"),
                    span: arg.value.span,
                    params: params.iter().map(|p| p.to_string()).collect(),
                });
                ok = false;
                continue;
            }
            let value = match &arg.value.kind {
                // A bare name may stand for a family (every copy of a swept definition), and
                // may be a template instance, whose definitions the template reaches as
                // `param.x`.
                // Only a name bound to definitions can be an instance with members: looking
                // for `name.` through every enclosing scope for each value argument was a third
                // of a large sweep's expansion.
                ExprKind::Component(component) if component.params.is_none() => {
                    match scope.get(&component.name.name) {
                        Some(Binding::Defs(members)) => {
                            let members = members.clone();
                            let prefix = format!("{}.", component.name.name);
                            for (inner, binding) in scope.with_prefix(&prefix) {
                                bound.insert(format!("{name}.{}", &inner[prefix.len()..]), binding);
                            }
                            Binding::Defs(members)
                        }
                        _ => Binding::Value(self.subst(&arg.value, scope)),
                    }
                }
                _ => Binding::Value(self.subst(&arg.value, scope)),
            };
            bound.insert(name, value);
        }
        let missing: Vec<&str> = params
            .iter()
            .copied()
            .filter(|param| !bound.contains_key(*param))
            .collect();
        // An unknown or extra argument is already reported, and usually is the missing one.
        if !missing.is_empty() && ok {
            self.error(CheckError::TemplateArguments {
                template: template.name.name.clone(),
                problem: format!("no value for {}", ticks(&missing)),
                span: use_.args_span,
                params: params.iter().map(|p| p.to_string()).collect(),
            });
            ok = false;
        }
        ok.then_some(Scope {
            parent: None,
            bindings: bound,
        })
    }

    /// Whether `sweep` sweeps an axis again that it or an enclosing sweep (through templates
    /// too) already sweeps: the copies would be named `ft[seed=0,seed=1]` and the inner value
    /// would hide the outer one. Reports it.
    fn repeated_axis(&mut self, sweep: &ast::Sweep, place: &Place) -> bool {
        let mut seen = Vec::clone(&place.axes);
        for axis in &sweep.axes {
            let name = &axis.name.name;
            if let Some((_, first)) = seen.iter().find(|(known, _)| known == name) {
                self.error(CheckError::RepeatedAxis {
                    axis: name.clone(),
                    seeds: axis.seeds,
                    span: axis.name.span,
                    first: *first,
                });
                return true;
            }
            seen.push((name.clone(), axis.name.span));
        }
        false
    }

    /// The points of a sweep: for each, the axes' values in header order.
    fn points(&mut self, sweep: &ast::Sweep, scope: &Scope<'_>) -> Vec<Vec<AxisValue>> {
        let mut axes: Vec<(String, Vec<AxisValue>)> = Vec::new();
        for axis in &sweep.axes {
            let name = axis.name.name.clone();
            match self.axis_values(axis, scope) {
                Some(values) => {
                    if values.iter().any(mentions_names) {
                        // A name may stand for a family here and for one definition there.
                        self.scope_dependent += 1;
                    }
                    let labels = axis_labels(&values);
                    let values = values
                        .into_iter()
                        .zip(labels)
                        .map(|(value, label)| AxisValue {
                            axis: name.clone(),
                            label,
                            value,
                        })
                        .collect();
                    axes.push((name, values));
                }
                None => return Vec::new(),
            }
        }
        if sweep.zip {
            let lengths: Vec<usize> = axes.iter().map(|(_, values)| values.len()).collect();
            if let Some(position) = lengths.iter().position(|len| *len != lengths[0]) {
                self.error(CheckError::ZipLengths {
                    first: (axes[0].0.clone(), lengths[0]),
                    other: (axes[position].0.clone(), lengths[position]),
                    span: sweep.axes[position].span,
                });
                return Vec::new();
            }
            return (0..lengths.first().copied().unwrap_or(0))
                .map(|idx| axes.iter().map(|(_, values)| values[idx].clone()).collect())
                .collect();
        }
        let count = axes.iter().fold(1usize, |count, (_, values)| {
            count.saturating_mul(values.len())
        });
        if count > MAX_DEFINITIONS {
            self.error(CheckError::TooManyDefinitions {
                count: Some(count),
                limit: MAX_DEFINITIONS,
                span: sweep.header_span,
            });
            return Vec::new();
        }
        let mut points: Vec<Vec<AxisValue>> = vec![Vec::new()];
        for (_, values) in &axes {
            points = points
                .into_iter()
                .flat_map(|point| {
                    values.iter().map(move |value| {
                        let mut point = point.clone();
                        point.push(value.clone());
                        point
                    })
                })
                .collect();
        }
        points
    }

    fn axis_values(&mut self, axis: &ast::Axis, scope: &Scope<'_>) -> Option<Vec<Expr>> {
        let mut values = self.subst(&axis.values, scope);
        if let ExprKind::Component(component) = &values.kind {
            if component.params.is_none() {
                if let Some(value) = self.lets.get(&component.name.name).cloned() {
                    self.lets_used.insert(component.name.name.clone());
                    values = value;
                }
            }
        }
        let span = axis.values.span;
        match (&values.kind, axis.seeds) {
            (ExprKind::Int(count), true) if (1..=MOST_SEEDS).contains(count) => Some(
                (0..*count)
                    .map(|seed| Expr {
                        kind: ExprKind::Int(seed),
                        span,
                    })
                    .collect(),
            ),
            (ExprKind::List(items), _) if !items.is_empty() => Some(items.clone()),
            _ => {
                let found = match &values.kind {
                    // A count, but not one a sweep takes: say so rather than "an integer".
                    ExprKind::Int(count) if axis.seeds => format!(
                        "{count}, not a count from 1 to {MOST_SEEDS} (a longer list of seeds is written out: `seeds [..]`)"
                    ),
                    kind => kind.describe(),
                };
                self.error(CheckError::SweepValues {
                    axis: axis.name.name.clone(),
                    seeds: axis.seeds,
                    found,
                    span,
                });
                None
            }
        }
    }

    fn point_scope<'p>(&mut self, parent: &'p Scope<'p>, point: &[AxisValue]) -> Scope<'p> {
        Scope {
            parent: Some(parent),
            bindings: point
                .iter()
                .map(|value| (value.axis.clone(), Binding::Value(value.value.clone())))
                .collect(),
        }
    }

    fn def(&mut self, def: &ast::Def, scope: &Scope<'_>, place: &Place) -> ast::Def {
        self.work += 1;
        let errors_before = self.body_errors;
        let out = self.def_copy(def, scope, place);
        if self.body_errors > errors_before {
            self.poisoned.insert(def.span);
        }
        out
    }

    fn def_copy(&mut self, def: &ast::Def, scope: &Scope<'_>, place: &Place) -> ast::Def {
        let (local, mut full) = self.def_name(def, scope, place);
        if def.quoted {
            if let Some(problem) = name_problem(&local) {
                self.error(CheckError::BadName {
                    name: local.clone(),
                    problem,
                    span: def.name.span,
                });
            }
            full = self.distinct_copy_name(def, full, place);
        }
        let expansion = (!place.prefix.is_empty() || !place.point.is_empty()).then(|| Expansion {
            family: format!(
                "{}{}",
                place.prefix,
                if def.quoted { &local } else { &def.name.name }
            ),
            point: place.point.clone(),
        });
        // Built from the parts, each copied once: a copy of the whole definition whose body
        // was then replaced copied every body twice.
        let body = match &def.body {
            DefBody::Component(component) => DefBody::Component(ast::Component {
                name: component.name.clone(),
                params: self.subst_params(&component.params, scope),
                span: component.span,
            }),
            DefBody::Call {
                component,
                inputs,
                params,
                inputs_span,
            } => DefBody::Call {
                component: component.clone(),
                inputs: self.call_inputs(inputs, scope),
                params: self.subst_params(params, scope),
                inputs_span: *inputs_span,
            },
            DefBody::Block(block) => DefBody::Block(self.subst_block(block, scope)),
        };
        ast::Def {
            kind: def.kind,
            name: ast::Ident {
                name: full,
                span: def.name.span,
            },
            quoted: false,
            body,
            span: def.span,
            expansion,
        }
    }

    /// The inputs of a call, with names bound to definitions replaced by those (every copy of
    /// a family) and names bound to a bare component by its name.
    fn call_inputs(&mut self, inputs: &[ast::Ident], scope: &Scope<'_>) -> Vec<ast::Ident> {
        let mut resolved = Vec::with_capacity(inputs.len());
        for input in inputs {
            match scope.get(&input.name) {
                Some(Binding::Defs(members)) => {
                    resolved.extend(members.iter().map(|member| ast::Ident {
                        name: member.clone(),
                        span: input.span,
                    }))
                }
                Some(Binding::Value(Expr {
                    kind: ExprKind::Component(component),
                    ..
                })) if component.params.is_none() => resolved.push(ast::Ident {
                    name: component.name.name.clone(),
                    span: input.span,
                }),
                _ => resolved.push(input.clone()),
            }
        }
        resolved
    }

    fn subst_params(&mut self, params: &Option<Block>, scope: &Scope<'_>) -> Option<Block> {
        params.as_ref().map(|block| self.subst_block(block, scope))
    }

    /// The name of a copy of a definition named by a string, checked against the names its
    /// other copies got: a string that does not use an axis gives the same name at points that
    /// differ only on that axis. That is reported here, where the axis is known, and the copy
    /// gets its point appended so that no second "defined twice" follows.
    fn distinct_copy_name(&mut self, def: &ast::Def, full: String, place: &Place) -> String {
        let Some((first, first_point)) = self.copy_names.get(&full) else {
            self.copy_names
                .insert(full.clone(), (def.name.span, place.point.clone()));
            return full;
        };
        if *first != def.name.span {
            // Two written definitions: the checker's ordinary "defined twice".
            return full;
        }
        let differing: Vec<(String, String, String)> = place
            .point
            .iter()
            .zip(first_point)
            .filter(|(here, there)| here.1 != there.1)
            .map(|(here, there)| (here.0.clone(), there.1.clone(), here.1.clone()))
            .collect();
        self.error(CheckError::CopiesCollide {
            name: full.clone(),
            template: def.name.name.clone(),
            differing,
            span: def.name.span,
        });
        expanded_name("", &full, &place.point)
    }

    fn subst_block(&mut self, block: &Block, scope: &Scope<'_>) -> Block {
        Block {
            fields: block
                .fields
                .iter()
                .map(|field| ast::Field {
                    key: field.key.clone(),
                    value: self.subst(&field.value, scope),
                    span: field.span,
                })
                .collect(),
            span: block.span,
        }
    }

    /// `expr` with the names bound in `scope` replaced.
    fn subst(&mut self, expr: &Expr, scope: &Scope<'_>) -> Expr {
        let kind = match &expr.kind {
            ExprKind::Component(component) if component.params.is_none() => {
                match scope.get(&component.name.name) {
                    Some(Binding::Value(value)) => {
                        return Expr {
                            kind: value.kind.clone(),
                            span: expr.span,
                        }
                    }
                    Some(Binding::Defs(members)) if members.len() == 1 => {
                        let mut component = component.clone();
                        component.name.name = members[0].clone();
                        ExprKind::Component(component)
                    }
                    Some(Binding::Defs(members)) => {
                        self.error(CheckError::FamilyWhereOneIsNeeded {
                            name: component.name.name.clone(),
                            members: members.clone(),
                            span: expr.span,
                        });
                        expr.kind.clone()
                    }
                    None => expr.kind.clone(),
                }
            }
            ExprKind::Component(component) => ExprKind::Component(ast::Component {
                name: component.name.clone(),
                params: self.subst_params(&component.params, scope),
                span: component.span,
            }),
            ExprKind::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    if let ExprKind::Component(component) = &item.kind {
                        if component.params.is_none() {
                            if let Some(Binding::Defs(members)) = scope.get(&component.name.name) {
                                out.extend(members.iter().map(|member| {
                                    let mut component = component.clone();
                                    component.name.name = member.clone();
                                    Expr {
                                        kind: ExprKind::Component(component),
                                        span: item.span,
                                    }
                                }));
                                continue;
                            }
                        }
                    }
                    out.push(self.subst(item, scope));
                }
                ExprKind::List(out)
            }
            ExprKind::Record(block) => ExprKind::Record(self.subst_block(block, scope)),
            ExprKind::Binary { op, lhs, rhs } => ExprKind::Binary {
                op: *op,
                lhs: Box::new(self.subst(lhs, scope)),
                rhs: Box::new(self.subst(rhs, scope)),
            },
            ExprKind::Neg(inner) => ExprKind::Neg(Box::new(self.subst(inner, scope))),
            ExprKind::Paren(inner) => ExprKind::Paren(Box::new(self.subst(inner, scope))),
            ExprKind::Str(text) if text.contains('{') || text.contains('}') => {
                ExprKind::Str(self.interpolate(text, expr.span, scope))
            }
            other => other.clone(),
        };
        Expr {
            kind,
            span: expr.span,
        }
    }

    /// Fills in the `{name}`s of a string (see the module docs).
    fn interpolate(&mut self, text: &str, span: Span, scope: &Scope<'_>) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(at) = rest.find(['{', '}']) {
            out.push_str(&rest[..at]);
            let brace = rest.as_bytes()[at];
            if rest[at + 1..].starts_with(brace as char) {
                out.push(brace as char);
                rest = &rest[at + 2..];
                continue;
            }
            if brace == b'}' {
                out.push('}');
                rest = &rest[at + 1..];
                continue;
            }
            let Some(close) = rest[at..].find('}') else {
                out.push_str(&rest[at..]);
                rest = "";
                break;
            };
            let name = rest[at + 1..at + close].trim();
            let value = match scope.get(name) {
                Some(Binding::Value(value)) => literal_text(value),
                Some(Binding::Defs(members)) if members.len() == 1 => Some(members[0].clone()),
                Some(Binding::Defs(_)) => None,
                None => self.lets.get(name).cloned().and_then(|value| {
                    self.lets_used.insert(name.to_string());
                    literal_text(&value)
                }),
            };
            match value {
                Some(value) => out.push_str(&value),
                None => {
                    self.error(CheckError::Interpolation {
                        name: name.to_string(),
                        span,
                    });
                    out.push_str(&rest[at..at + close + 1]);
                }
            }
            rest = &rest[at + close + 1..];
        }
        out.push_str(rest);
        out
    }
}

impl Place {
    /// Inside `sweep`, at one of its points.
    fn at(&self, sweep: &ast::Sweep, point: &[AxisValue]) -> Place {
        let mut at = self.point.clone();
        at.extend(
            point
                .iter()
                .map(|value| (value.axis.clone(), value.label.clone())),
        );
        let mut axes = Vec::clone(&self.axes);
        axes.extend(
            sweep
                .axes
                .iter()
                .map(|axis| (axis.name.name.clone(), axis.name.span)),
        );
        Place {
            prefix: self.prefix.clone(),
            point: at,
            axes: Rc::new(axes),
            templates: Rc::clone(&self.templates),
        }
    }

    fn instance(&self, name: &str, template: &str) -> Place {
        let mut templates = Vec::clone(&self.templates);
        templates.push(template.to_string());
        Place {
            prefix: format!("{}{name}.", self.prefix),
            point: self.point.clone(),
            axes: Rc::clone(&self.axes),
            templates: Rc::new(templates),
        }
    }
}

/// How each value of an axis reads in names: its literal form, or its position (`#2`) when it has
/// none (a parameter block) or shares it with another value (`adamw { lr: 1e-3 }` and
/// `adamw { lr: 1e-2 }` both read `adamw`), so that copies never share a name.
fn axis_labels(values: &[Expr]) -> Vec<String> {
    let texts: Vec<Option<String>> = values.iter().map(literal_text).collect();
    texts
        .iter()
        .enumerate()
        .map(|(index, text)| match text {
            Some(text)
                if texts
                    .iter()
                    .filter(|other| other.as_ref() == Some(text))
                    .count()
                    == 1 =>
            {
                text.clone()
            }
            Some(text) => format!("{text}#{}", index + 1),
            None => format!("#{}", index + 1),
        })
        .collect()
}

/// What is wrong with the text of a string as a definition's name, if anything. A node's name
/// names its files in the run directory (`checkpoints/NAME.safetensors`), so it must be one
/// plain file name: the runtime refuses any other (`exp_runtime::run_dir::is_confined_name`).
fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name == "." || name == ".." {
        Some("it is a directory's name")
    } else if name.contains(['/', '\\']) {
        Some("it holds a path separator")
    } else if name.chars().any(char::is_control) {
        Some("it holds a control character")
    } else {
        None
    }
}

/// How much a level's declared names hold: one per name and one per expanded name.
/// Whether `expr` holds a name (a component, a definition, a family) anywhere.
fn mentions_names(expr: &Expr) -> bool {
    match &expr.kind {
        ExprKind::Component(_) => true,
        ExprKind::List(items) => items.iter().any(mentions_names),
        ExprKind::Record(block) => block
            .fields
            .iter()
            .any(|field| mentions_names(&field.value)),
        ExprKind::Binary { lhs, rhs, .. } => mentions_names(lhs) || mentions_names(rhs),
        ExprKind::Neg(inner) | ExprKind::Paren(inner) => mentions_names(inner),
        _ => false,
    }
}

fn size_of_declared(declared: &Declared) -> usize {
    declared.iter().map(|(_, members)| 1 + members.len()).sum()
}

/// `prefix` + `name` + the point: `run.ft[lr=0.001,seed=1]`, or no brackets outside sweeps.
/// Built in one string: every copy of every definition is named here.
fn expanded_name(prefix: &str, name: &str, point: &[(String, String)]) -> String {
    let point_len: usize = point
        .iter()
        .map(|(axis, value)| axis.len() + value.len() + 2)
        .sum();
    let mut out = String::with_capacity(prefix.len() + name.len() + point_len + 1);
    out.push_str(prefix);
    out.push_str(name);
    for (index, (axis, value)) in point.iter().enumerate() {
        out.push(if index == 0 { '[' } else { ',' });
        out.push_str(axis);
        out.push('=');
        out.push_str(value);
    }
    if !point.is_empty() {
        out.push(']');
    }
    out
}

/// A literal as it reads in a name: `0.001`, `x`, `25%`, `100steps`, `adamw`.
fn literal_text(expr: &Expr) -> Option<String> {
    match &expr.kind {
        ExprKind::Int(value) => Some(value.to_string()),
        ExprKind::Float(value) => Some(float_text(*value)),
        ExprKind::Bool(value) => Some(value.to_string()),
        ExprKind::Str(value) => Some(value.clone()),
        ExprKind::Duration(Duration { amount, unit }) => Some(match unit {
            DurationUnit::Fraction => format!("{}%", amount * 100.0),
            DurationUnit::Steps => format!("{amount}steps"),
            DurationUnit::Epochs => format!("{amount}epochs"),
            DurationUnit::Tokens => format!("{amount}tokens"),
        }),
        ExprKind::Component(component) => Some(component.name.name.clone()),
        ExprKind::Paren(inner) => literal_text(inner),
        ExprKind::Neg(inner) => literal_text(inner).map(|text| format!("-{text}")),
        // `[32,64]`, when every item has a literal form.
        ExprKind::List(items) => {
            let items: Option<Vec<String>> = items.iter().map(literal_text).collect();
            items.map(|items| format!("[{}]", items.join(",")))
        }
        _ => None,
    }
}

/// `0.001`, `3.5`, but `1e30` and `1e-7` rather than a screenful of digits.
fn float_text(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude != 0.0 && !(1e-4..1e6).contains(&magnitude) {
        format!("{value:e}")
    } else {
        value.to_string()
    }
}

fn paren(expr: Expr) -> Expr {
    match expr.kind {
        ExprKind::Binary { .. } => Expr {
            span: expr.span,
            kind: ExprKind::Paren(Box::new(expr)),
        },
        _ => expr,
    }
}

fn ticks(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
    quoted.join(", ")
}

#[cfg(test)]
mod tests {
    use exp_diag::FileId;
    use exp_syntax::ast::{ExprKind, Item};

    use super::{expand, expanded_name, mentions_names};

    fn parsed(text: &str) -> exp_syntax::ast::File {
        let (file, diagnostics) = exp_syntax::parse(FileId(0), text);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        file
    }

    #[test]
    fn names_anywhere_in_a_value_are_found() {
        let file =
            parsed("let x = [[a], { k: b }, -c, (d), e * 2, 2, \"s\", [1, { k: 2 }], -(3)]\n");
        let Some(Item::Let(binding)) = file.items.first() else {
            panic!("a let");
        };
        let ExprKind::List(items) = &binding.value.kind else {
            panic!("a list");
        };
        let found: Vec<bool> = items.iter().map(mentions_names).collect();
        assert_eq!(
            found,
            [true, true, true, true, true, false, false, false, false]
        );
    }

    #[test]
    fn nested_levels_take_their_names_from_the_first_pass() {
        let mut file = parsed(
            "template inner(m) {\n  train t { model: m }\n}\n\
             template outer(m) {\n  sweep lr in [1, 2] {\n    use i = inner(m)\n  }\n}\n\
             model net = mlp\n\
             sweep seeds 2 {\n  use o = outer(net)\n}\n",
        );
        let expanded = expand(&mut [&mut file]);
        assert!(expanded.errors.is_empty());
        // Two seed points, two instances of `outer`, four `lr` points, four of `inner`.
        assert_eq!(expanded.levels_reused, 12);
        let names: Vec<&str> = file
            .items
            .iter()
            .filter_map(|item| match item {
                Item::Def(def) => Some(def.name.name.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(names.len(), 5);
        assert!(names.contains(&"o.i.t[seed=1,lr=2]"), "{names:?}");
    }

    #[test]
    fn an_expanded_name_is_prefix_name_and_point() {
        let point = vec![
            ("lr".to_string(), "0.001".to_string()),
            ("seed".to_string(), "1".to_string()),
        ];
        assert_eq!(expanded_name("", "ft", &[]), "ft");
        assert_eq!(expanded_name("run.", "ft", &[]), "run.ft");
        assert_eq!(expanded_name("", "ft", &point[..1]), "ft[lr=0.001]");
        assert_eq!(
            expanded_name("a.b.", "ft", &point),
            "a.b.ft[lr=0.001,seed=1]"
        );
    }
}
