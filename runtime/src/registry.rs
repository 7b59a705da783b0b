//! `Registry`: the loaded plugins, and which provides each component. Every component, the std
//! ones included, is found here; there is no built-in shortcut.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use exp_ir::{ComponentKind, ComponentSchema};
use exp_plugin_api::host::Plugin;

#[derive(Default, Clone)]
pub struct Registry {
    plugins: Vec<Arc<Plugin>>,
    /// Each plugin file's SHA-256 once read (`None`: unreadable). Every cache key and the
    /// manifest name it; reading every plugin for each was a tenth of a small run's time.
    hashes: Arc<Mutex<HashMap<PathBuf, Option<String>>>>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Adds a plugin. When two plugins provide the same component, the first added wins.
    pub fn add(&mut self, plugin: Plugin) {
        if !self.plugins.iter().any(|loaded| loaded.path == plugin.path) {
            self.plugins.push(Arc::new(plugin));
        }
    }

    pub fn plugins(&self) -> &[Arc<Plugin>] {
        &self.plugins
    }

    /// The SHA-256 of a plugin's file, read the first time it is asked for; `None` if the file
    /// cannot be read.
    pub fn plugin_sha256(&self, plugin: &Plugin) -> Option<String> {
        let mut hashes = self
            .hashes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        hashes
            .entry(plugin.path.clone())
            .or_insert_with(|| crate::run_dir::file_sha256(&plugin.path))
            .clone()
    }

    pub fn provider(&self, kind: ComponentKind, name: &str) -> Option<&Arc<Plugin>> {
        self.plugins
            .iter()
            .find(|plugin| plugin.schema(kind, name).is_some())
    }

    pub fn schema(&self, kind: ComponentKind, name: &str) -> Option<&ComponentSchema> {
        self.plugins
            .iter()
            .find_map(|plugin| plugin.schema(kind, name))
    }

    /// Every component, in plugin order, with the plugin that provides it.
    pub fn components(&self) -> Vec<(&Arc<Plugin>, &ComponentSchema)> {
        self.plugins
            .iter()
            .flat_map(|plugin| plugin.schemas().map(move |schema| (plugin, schema)))
            .collect()
    }
}
