//! Loading plugins: every file `plugin_files::find` lists (`plugin` lines, `EXP_PLUGIN_PATH`,
//! the `libexp_*` libraries beside the binaries) goes through the same `Plugin::load`, the std
//! plugin included. What each load gives is stored in the schema cache, and the answers the
//! plugins' check rules give during a check are stored there too (`RecordingCatalog`), so that
//! `exp` can answer the next check without loading anything.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use exp::plugin_files::{Named, PluginFile};
use exp::schema_cache::{
    answer_key, plain_params, CachedComponent, CachedPlugin, Outcome, Rejection, SchemaCache,
};
use exp_check::{Catalog, ParamsRejected};
use exp_ir::{ComponentKind, ComponentSchema, Value};
use exp_plugin_api::host::{Plugin, PluginError};
use exp_runtime::Registry;

/// A plugin that could not be used, with where it was named.
pub struct Refusal {
    pub path: PathBuf,
    pub error: PluginError,
    pub named: Named,
}

/// What discovery loaded, and what it refused.
pub struct Discovered {
    pub registry: Registry,
    pub refusals: Vec<Refusal>,
}

/// What the cache records of a loaded plugin.
fn cached(plugin: &Plugin) -> CachedPlugin {
    CachedPlugin {
        name: plugin.name.clone(),
        version: plugin.version.clone(),
        components: plugin
            .schemas()
            .map(|schema| CachedComponent {
                schema: schema.clone(),
                has_check: plugin.has_check(schema.kind, &schema.name),
            })
            .collect(),
    }
}

/// Loads every file, in order, storing each outcome in `cache` unless it already holds it.
pub fn discover(files: &[PluginFile], cache: Option<&SchemaCache>) -> Discovered {
    let mut registry = Registry::new();
    let mut refusals = Vec::new();
    for file in files {
        let loaded = Plugin::load(&file.path);
        if let Some(cache) = cache {
            let outcome = match &loaded {
                Ok(plugin) => Some(Outcome::Plugin(cached(plugin))),
                Err(PluginError::MissingEntry { .. }) => Some(Outcome::NotAPlugin),
                // A refusal is not cached: the next command loads the file again and says why.
                Err(_) => None,
            };
            if let Some(outcome) = outcome {
                let known = cache
                    .lookup(&file.path)
                    .is_some_and(|entry| entry.outcome == outcome);
                if !known {
                    // The cache only saves time: a command never fails because it is not writable.
                    let _ = cache.store(&file.path, outcome);
                }
            }
        }
        match loaded {
            Ok(plugin) => registry.add(plugin),
            // Beside the binary, a library without the entry symbol is simply not a plugin.
            Err(PluginError::MissingEntry { .. }) if file.named == Named::Beside => {}
            Err(error) => refusals.push(Refusal {
                path: file.path.clone(),
                error,
                named: file.named,
            }),
        }
    }
    Discovered { registry, refusals }
}

/// A plugin file's check-rule answers: the parameters asked about (as JSON) and the refusal,
/// if any.
type Answers = Vec<(String, Option<Rejection>)>;

/// The checker's view of the loaded components, which also notes every answer a check rule
/// gives, for the schema cache.
pub struct RecordingCatalog<'a> {
    registry: &'a Registry,
    /// Per plugin file, the answers in the order they were given.
    answers: Mutex<BTreeMap<PathBuf, Answers>>,
}

impl<'a> RecordingCatalog<'a> {
    pub fn new(registry: &'a Registry) -> RecordingCatalog<'a> {
        RecordingCatalog {
            registry,
            answers: Mutex::new(BTreeMap::new()),
        }
    }

    /// Stores the answers in the cache entries of their plugins.
    pub fn store_answers(&self, cache: &SchemaCache) {
        let answers = std::mem::take(
            &mut *self
                .answers
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        for (path, answers) in answers {
            let _ = cache.add_answers(&path, answers);
        }
    }
}

impl Catalog for RecordingCatalog<'_> {
    fn component(&self, kind: ComponentKind, name: &str) -> Option<&ComponentSchema> {
        self.registry.schema(kind, name)
    }

    fn names(&self, kind: ComponentKind) -> Vec<&str> {
        exp::cached_catalog::names_of_kind(
            self.registry
                .components()
                .into_iter()
                .map(|(_, schema)| schema),
            kind,
        )
    }

    /// Asks the providing plugin (`Component::check`), with scheduled parameters at their
    /// scale (`plain_params`).
    fn check_params(
        &self,
        kind: ComponentKind,
        name: &str,
        params: &BTreeMap<String, Value>,
    ) -> Result<(), ParamsRejected> {
        let Some(plugin) = self.registry.provider(kind, name) else {
            return Ok(());
        };
        let plain = plain_params(params);
        let answer = plugin.check_params(kind, name, &plain);
        let stored = match &answer {
            Ok(()) => Some(None),
            Err(PluginError::Call { message, field, .. }) => Some(Some(Rejection {
                param: field.clone(),
                message: message.clone(),
            })),
            // A panic or a value that cannot cross is not an answer worth keeping.
            Err(_) => None,
        };
        let stable = plugin
            .schema(kind, name)
            .is_some_and(|schema| !schema.reads_files());
        if let (Some(stored), true) = (stored, stable) {
            self.answers
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .entry(plugin.path.clone())
                .or_default()
                .push((answer_key(kind, name, &plain), stored));
        }
        answer.map_err(|error| match error {
            PluginError::Call { message, field, .. } => ParamsRejected {
                param: field,
                message,
            },
            PluginError::Panic {
                method, message, ..
            } => ParamsRejected {
                param: None,
                message: format!("its check panicked in `{method}`: {message}"),
            },
            other => ParamsRejected {
                param: None,
                message: other.to_string(),
            },
        })
    }
}
