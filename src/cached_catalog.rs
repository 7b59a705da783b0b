//! `CachedCatalog`: the checker's view of the plugins' components, read from the schema cache
//! instead of the loaded plugins.
//!
//! What a check from cached schemas verifies is everything the checker verifies from schemas:
//! names, kinds, every parameter's type, range, unit and presence, defaults filled in. What it
//! does not verify by itself is a component's own check rule (`Catalog::check_params`, code in
//! the plugin that relates parameters to each other or reads files): it answers from the
//! answers the loaded plugin gave to the same parameters before (stored in the cache by
//! `exp-host`), and otherwise accepts the parameters and remembers that a rule went unasked
//! (`unasked`). `exp check` and `exp graph` then hand the command to `exp-host`, which loads
//! the plugins and asks them, so their verdict is always the loaded plugin's; the language
//! server reports what it could verify and says nothing of unasked rules until a command that
//! loads the plugins has answered them.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use exp_check::{Catalog, ParamsRejected};
use exp_ir::{ComponentKind, ComponentSchema, Graph, Value};

use crate::plugin_files::{Named, PluginFile};
use crate::schema_cache::{
    answer_key, plain_params, AnswersByKey, CachedPlugin, Outcome, SchemaCache,
};
use crate::sizes::{self, Sized};

/// One plugin the cache knows, with the answers of its check rules.
struct Known {
    path: PathBuf,
    plugin: CachedPlugin,
    /// The answers of its check rules, and its models' sizes, by key
    /// (`Entry::into_answers_by_key`).
    answers: AnswersByKey,
}

pub struct CachedCatalog {
    plugins: Vec<Known>,
    /// Where each component name is provided, per kind: (plugin, component) positions, the
    /// first provider first. A check asks for every component of every copy a sweep makes
    /// (twice: schema, then check rule), and a scan of every plugin's list per question was a
    /// tenth of the language server's time on a large sweep.
    providers: HashMap<String, Vec<(ComponentKind, usize, usize)>>,
    unasked: AtomicBool,
}

/// A plugin file the cache could not describe: never loaded by this exp, changed since, or
/// refused when it was loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    pub file: PluginFile,
}

impl CachedCatalog {
    /// The catalog of the plugin files the cache describes, in order, and the files it does
    /// not. A library beside the binaries that is no plugin is skipped, as loading skips it.
    pub fn from_cache(
        cache: Option<&SchemaCache>,
        files: &[PluginFile],
    ) -> (CachedCatalog, Vec<Unknown>) {
        let mut plugins = Vec::new();
        let mut unknown = Vec::new();
        for file in files {
            let entry = cache.and_then(|cache| cache.lookup(&file.path));
            match entry {
                Some(entry) => match &entry.outcome {
                    Outcome::Plugin(plugin) => plugins.push(Known {
                        path: file.path.clone(),
                        plugin: plugin.clone(),
                        answers: entry.into_answers_by_key(),
                    }),
                    Outcome::NotAPlugin if file.named == Named::Beside => {}
                    // Named by the user but no plugin: loading it reports the refusal.
                    Outcome::NotAPlugin => unknown.push(Unknown { file: file.clone() }),
                },
                None => unknown.push(Unknown { file: file.clone() }),
            }
        }
        let mut providers: HashMap<String, Vec<(ComponentKind, usize, usize)>> = HashMap::new();
        for (plugin_at, known) in plugins.iter().enumerate() {
            for (component_at, component) in known.plugin.components.iter().enumerate() {
                let schema = &component.schema;
                let kinds = providers.entry(schema.name.clone()).or_default();
                if !kinds.iter().any(|(kind, _, _)| *kind == schema.kind) {
                    kinds.push((schema.kind, plugin_at, component_at));
                }
            }
        }
        let catalog = CachedCatalog {
            plugins,
            providers,
            unasked: AtomicBool::new(false),
        };
        (catalog, unknown)
    }

    /// Whether a check rule was met that the cache had no answer for.
    pub fn unasked(&self) -> bool {
        self.unasked.load(Ordering::Relaxed)
    }

    /// The plugins it describes: their paths, names and versions.
    pub fn plugins(&self) -> impl Iterator<Item = (&PathBuf, &CachedPlugin)> {
        self.plugins
            .iter()
            .map(|known| (&known.path, &known.plugin))
    }

    /// Every component, in plugin order, with the name of the plugin that provides it (the
    /// first provider of a name shadows later ones).
    pub fn components(&self) -> impl Iterator<Item = (&str, &ComponentSchema)> {
        self.plugins.iter().flat_map(|known| {
            known
                .plugin
                .components
                .iter()
                .map(move |component| (known.plugin.name.as_str(), &component.schema))
        })
    }

    /// The sizes of `graph`'s models from the stored answers (`crate::sizes`), or `None` when
    /// one is not stored, or may not be (its parameters name files): then only `exp-host`,
    /// which loads the plugins, can say.
    pub fn sizes(&self, graph: &Graph) -> Option<Sized> {
        let mut sized = Sized::default();
        for (node, question) in sizes::questions(graph) {
            if !sizes::answer_is_stable(&question, self) {
                return None;
            }
            let (known, _) = self.provider(ComponentKind::Model, &question.model.name)?;
            let answer = known.answers.sizes.get(&question.key(self))?;
            sized.record(node, &graph.node(node).name, answer);
        }
        Some(sized)
    }

    fn provider(
        &self,
        kind: ComponentKind,
        name: &str,
    ) -> Option<(&Known, &crate::schema_cache::CachedComponent)> {
        let (_, plugin_at, component_at) = self
            .providers
            .get(name)?
            .iter()
            .find(|(provided, _, _)| *provided == kind)?;
        let known = &self.plugins[*plugin_at];
        Some((known, &known.plugin.components[*component_at]))
    }
}

impl Catalog for CachedCatalog {
    fn component(&self, kind: ComponentKind, name: &str) -> Option<&ComponentSchema> {
        self.provider(kind, name)
            .map(|(_, component)| &component.schema)
    }

    fn names(&self, kind: ComponentKind) -> Vec<&str> {
        names_of_kind(self.components().map(|(_, schema)| schema), kind)
    }

    /// Answers from the stored answers of the plugin's check rule; with none, accepts and
    /// notes it (`unasked`).
    fn check_params(
        &self,
        kind: ComponentKind,
        name: &str,
        params: &BTreeMap<String, Value>,
    ) -> Result<(), ParamsRejected> {
        let Some((known, component)) = self.provider(kind, name) else {
            return Ok(());
        };
        if !component.has_check {
            return Ok(());
        }
        let key = answer_key(kind, name, &plain_params(params));
        match known.answers.checks.get(&key) {
            Some(None) if component.answers_are_stable() => Ok(()),
            Some(Some(rejection)) if component.answers_are_stable() => Err(ParamsRejected {
                param: rejection.param.clone(),
                message: rejection.message.clone(),
            }),
            _ => {
                self.unasked.store(true, Ordering::Relaxed);
                Ok(())
            }
        }
    }
}

/// The names of the components of `kind` among `schemas`, sorted, each once: what
/// `Catalog::names` answers, from the cache here and from the loaded plugins in `exp-host`.
pub fn names_of_kind<'a>(
    schemas: impl Iterator<Item = &'a ComponentSchema>,
    kind: ComponentKind,
) -> Vec<&'a str> {
    let mut names: Vec<&str> = schemas
        .filter(|schema| schema.kind == kind)
        .map(|schema| schema.name.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}
