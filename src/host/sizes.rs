//! Model sizes in `exp-host`: the graph's models sized with the loaded plugins
//! (`exp_runtime::sizing`), and the answers stored in the schema cache, so that `exp graph`
//! answers from the cache next time (`exp::sizes`). Only `exp graph` sizes models: a model is
//! built to be counted, which a check should not pay for.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use exp::schema_cache::SchemaCache;
use exp::sizes::{answer_is_stable, questions, SizeAnswer, Sized};
use exp_ir::{ComponentKind, Graph};
use exp_runtime::sizing::model_size;
use exp_runtime::Registry;

use crate::discover::RecordingCatalog;

/// The size of every model of `graph`, each distinct question asked once.
pub fn size_models(graph: &Graph, registry: &Registry, cache: Option<&SchemaCache>) -> Sized {
    let catalog = RecordingCatalog::new(registry);
    let mut answered: HashMap<String, SizeAnswer> = HashMap::new();
    let mut to_store: BTreeMap<PathBuf, Vec<(String, SizeAnswer)>> = BTreeMap::new();
    let mut sized = Sized::default();
    for (node, question) in questions(graph) {
        let key = question.key(&catalog);
        if !answered.contains_key(&key) {
            let answer = model_size(registry, question.model, question.by);
            let provider = registry.provider(ComponentKind::Model, &question.model.name);
            if let (Some(plugin), true) = (provider, answer_is_stable(&question, &catalog)) {
                to_store
                    .entry(plugin.path.clone())
                    .or_default()
                    .push((key.clone(), answer.clone()));
            }
            answered.insert(key.clone(), answer);
        }
        sized.record(node, &graph.node(node).name, &answered[&key]);
    }
    if let Some(cache) = cache {
        for (path, answers) in to_store {
            // The cache only saves time: a command never fails because it is not writable.
            let _ = cache.add_sizes(&path, answers);
        }
    }
    sized
}
