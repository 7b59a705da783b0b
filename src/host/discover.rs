//! Plugin discovery: the plugins built in the workspace (`libexp_*` libraries beside the `exp`
//! binary),
//! every library in the directories of `EXP_PLUGIN_PATH`, and `plugin "path"` lines in the
//! experiment file. All load through the same `Plugin::load`, the std plugin included.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use exp_check::{Catalog, ParamsRejected};
use exp_ir::{ComponentKind, ComponentSchema, Value};
use exp_plugin_api::host::{Plugin, PluginError};
use exp_runtime::Registry;

/// A plugin that could not be used, with where it was named (for `plugin` lines, the index of
/// that line).
pub struct Refusal {
    pub error: PluginError,
    pub line: Option<usize>,
}

fn is_library(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|ext| ext.to_str()),
        Some("so" | "dylib" | "dll")
    )
}

fn libraries_in(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|path| path.is_file() && is_library(path))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// The directory holding the running `exp` binary: workspace-built plugins sit beside it.
fn workspace_plugin_dir() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.canonicalize().ok())
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
}

/// What discovery found: the plugins, those refused, and the entries of `EXP_PLUGIN_PATH` that
/// name nothing (most likely a typo: warned about, since the plugins a user meant to add are
/// then silently missing).
pub struct Discovered {
    pub registry: Registry,
    pub refusals: Vec<Refusal>,
    pub missing_entries: Vec<PathBuf>,
}

impl Discovered {
    /// One line per entry of `EXP_PLUGIN_PATH` that does not exist.
    pub fn warnings(&self) -> Vec<String> {
        self.missing_entries
            .iter()
            .map(|entry| {
                format!(
                    "warning: `EXP_PLUGIN_PATH` names `{}`, which does not exist; no plugin was loaded from it",
                    entry.display()
                )
            })
            .collect()
    }
}

/// Loads every plugin from the three sources. `explicit` are the `plugin` lines, already
/// resolved against the experiment's directory.
pub fn discover(explicit: &[PathBuf]) -> Discovered {
    let mut registry = Registry::new();
    let mut refusals = Vec::new();
    let mut missing_entries = Vec::new();
    for (line, path) in explicit.iter().enumerate() {
        match Plugin::load(path) {
            Ok(plugin) => registry.add(plugin),
            Err(error) => refusals.push(Refusal {
                error,
                line: Some(line),
            }),
        }
    }
    if let Some(paths) = std::env::var_os("EXP_PLUGIN_PATH") {
        for dir in std::env::split_paths(&paths).filter(|dir| !dir.as_os_str().is_empty()) {
            if !dir.exists() {
                missing_entries.push(dir);
                continue;
            }
            let candidates = if dir.is_file() {
                vec![dir.clone()]
            } else {
                libraries_in(&dir)
            };
            for path in candidates {
                match Plugin::load(&path) {
                    Ok(plugin) => registry.add(plugin),
                    Err(error) => refusals.push(Refusal { error, line: None }),
                }
            }
        }
    }
    if let Some(dir) = workspace_plugin_dir() {
        // Workspace plugin crates are named `exp-*`, so their libraries are `libexp_*`; other
        // libraries that happen to be built beside the binary are not picked up.
        let workspace_plugins = libraries_in(&dir).into_iter().filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with("libexp_") || name.starts_with("exp_"))
        });
        for path in workspace_plugins {
            // Beside the binary, a library without the entry symbol is simply not a plugin.
            match Plugin::load(&path) {
                Ok(plugin) => registry.add(plugin),
                Err(PluginError::MissingEntry { .. }) => {}
                Err(error) => refusals.push(Refusal { error, line: None }),
            }
        }
    }
    Discovered {
        registry,
        refusals,
        missing_entries,
    }
}

/// The checker's view of the loaded components.
pub struct RegistryCatalog<'a>(pub &'a Registry);

impl Catalog for RegistryCatalog<'_> {
    fn component(&self, kind: ComponentKind, name: &str) -> Option<&ComponentSchema> {
        self.0.schema(kind, name)
    }

    fn names(&self, kind: ComponentKind) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .0
            .components()
            .into_iter()
            .filter(|(_, schema)| schema.kind == kind)
            .map(|(_, schema)| schema.name.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Asks the providing plugin (`Component::check`). A scheduled parameter is checked at its
    /// scale (the number written, or 1): its values are only known inside a phase, where the
    /// plugin checks each against the parameter's bounds as it is reached.
    fn check_params(
        &self,
        kind: ComponentKind,
        name: &str,
        params: &BTreeMap<String, Value>,
    ) -> Result<(), ParamsRejected> {
        let Some(plugin) = self.0.provider(kind, name) else {
            return Ok(());
        };
        let plain: BTreeMap<String, Value> = params
            .iter()
            .map(|(key, value)| {
                let value = match value {
                    Value::Schedule(schedule) => Value::Float(schedule.scale),
                    other => other.clone(),
                };
                (key.clone(), value)
            })
            .collect();
        plugin
            .check_params(kind, name, &plain)
            .map_err(|error| match error {
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
