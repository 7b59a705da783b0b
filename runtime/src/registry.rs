//! `Registry`: the loaded plugins, and which provides each component. Every component, the std
//! ones included, is found here; there is no built-in shortcut.

use std::sync::Arc;

use exp_ir::{ComponentKind, ComponentSchema};
use exp_plugin_api::host::Plugin;

#[derive(Default, Clone)]
pub struct Registry {
    plugins: Vec<Arc<Plugin>>,
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
