//! The plan: before anything runs, every node's key is looked up in the cache and each node is
//! decided: restored from its entry, run, or not needed. `--force` and `--explain` act here.

use std::collections::BTreeSet;

use exp_ir::{Graph, NodeKind};
use rayon::prelude::*;

use crate::cache::{self, Cache, EntryProblem, Hit, NodeKey};
use crate::observer::Observer;
use crate::run_options::RunOptions;

/// What the plan decided for one node.
pub(super) enum Decision {
    Cached(Box<Hit>),
    Run,
    NotNeeded,
}

/// Looks every node up in the cache and decides what runs; explains each decision if asked.
/// The lookups run on `pool`: each reads and hashes an entry's files, and one after another
/// they were a third of a large sweep's cached rerun.
pub(super) fn plan(
    graph: &Graph,
    keys: &[NodeKey],
    wanted: Option<&[bool]>,
    cache: Option<&Cache>,
    options: &RunOptions,
    observer: &dyn Observer,
    pool: &rayon::ThreadPool,
) -> Vec<Decision> {
    let forced = forced_nodes(graph, &options.force);
    // `only`: the node asked for runs even when cached (whoever asked decided it must).
    let target = options
        .only
        .as_ref()
        .and_then(|only| graph.find(&only.name))
        .map(|node| node.id.0);
    let looked_up = |index: usize| {
        let node = &graph.nodes[index];
        cache.is_some()
            && wanted.is_none_or(|wanted| wanted[index])
            && !matches!(node.kind, NodeKind::Dataset { .. })
            && !forced.contains(&index)
            && target != Some(index)
    };
    let mut found: Vec<Option<Result<Hit, EntryProblem>>> = match cache {
        Some(cache) => pool.install(|| {
            (0..graph.nodes.len())
                .into_par_iter()
                .map(|index| looked_up(index).then(|| cache.lookup(&keys[index].key)))
                .collect()
        }),
        None => Vec::new(),
    };
    let mut decisions: Vec<Decision> = Vec::with_capacity(graph.nodes.len());
    for (node, node_key) in graph.nodes.iter().zip(keys) {
        // Outside a one-node run's reach: not even looked up.
        if wanted.is_some_and(|wanted| !wanted[node.id.0]) {
            decisions.push(Decision::NotNeeded);
            continue;
        }
        let (decision, why) = if matches!(node.kind, NodeKind::Dataset { .. }) {
            (
                Decision::Run,
                "datasets are rebuilt when a node that reads them runs".to_string(),
            )
        } else if let Some(cache) = cache {
            match found[node.id.0].take() {
                Some(entry) => decide(
                    graph,
                    node,
                    node_key,
                    entry,
                    cache,
                    options.explain,
                    observer,
                ),
                None if forced.contains(&node.id.0) => {
                    (Decision::Run, "forced with --force".to_string())
                }
                None => (Decision::Run, "the one node asked for".to_string()),
            }
        } else {
            (
                Decision::Run,
                "runs: caching is off (--no-cache)".to_string(),
            )
        };
        if options.explain && !matches!(node.kind, NodeKind::Dataset { .. }) {
            observer.message(node, &why);
        }
        decisions.push(decision);
    }
    // A dataset is needed only if a node that reads it runs; under a licence policy every
    // dataset is built, so that its licence is checked even when all its readers are cached.
    for node in &graph.nodes {
        if matches!(node.kind, NodeKind::Dataset { .. }) && graph.policy.is_none() {
            let needed = graph
                .consumers(node.id)
                .any(|consumer| matches!(decisions[consumer.id.0], Decision::Run));
            if !needed {
                decisions[node.id.0] = Decision::NotNeeded;
            }
        }
    }
    if let Some(target) = target {
        only(graph, &mut decisions, target);
    }
    decisions
}

/// Keeps the decisions of node `target` and of what it needs: going up from it through nodes
/// that run (a cached node needs nothing above it). Every other node is not needed.
fn only(graph: &Graph, decisions: &mut [Decision], target: usize) {
    let needed = super::reach_up(graph, target, |index| {
        matches!(decisions[index], Decision::Run)
    });
    for (decision, needed) in decisions.iter_mut().zip(needed) {
        if !needed {
            *decision = Decision::NotNeeded;
        }
    }
}

/// The nodes `--force` names and everything downstream of them, by index.
fn forced_nodes(graph: &Graph, force: &[String]) -> BTreeSet<usize> {
    let mut forced: BTreeSet<usize> = graph
        .nodes
        .iter()
        .filter(|node| force.contains(&node.name))
        .map(|node| node.id.0)
        .collect();
    for node in &graph.nodes {
        if node
            .inputs
            .iter()
            .any(|input| forced.contains(&input.node.0))
        {
            forced.insert(node.id.0);
        }
    }
    forced
}

/// What one node's cache entry decides: restored when valid, else run, with the reason in
/// words (what changed since the last run only when `explain`: finding out reads that run's
/// record). A corrupt entry is removed and reported.
fn decide(
    graph: &Graph,
    node: &exp_ir::Node,
    node_key: &NodeKey,
    entry: Result<Hit, EntryProblem>,
    cache: &Cache,
    explain: bool,
    observer: &dyn Observer,
) -> (Decision, String) {
    let key = &node_key.key;
    match entry {
        Ok(hit) => (
            Decision::Cached(Box::new(hit)),
            format!("cached ({})", &key[..12]),
        ),
        Err(EntryProblem::Corrupt(problem)) => {
            cache.remove(key);
            observer.message(
                node,
                &format!(
                    "cache entry {} is corrupt ({problem}); recomputing",
                    &key[..12]
                ),
            );
            (
                Decision::Run,
                format!("runs: its cache entry was corrupt ({problem})"),
            )
        }
        Err(EntryProblem::Missing) if !explain => (Decision::Run, "runs".to_string()),
        Err(EntryProblem::Missing) => {
            let why = match cache.previous_parts(&graph.experiment, &node.name) {
                Some(previous) => {
                    let input_names: Vec<String> = node
                        .inputs
                        .iter()
                        .map(|input| graph.node(input.node).name.clone())
                        .collect();
                    let changes = match node_key.parts() {
                        Ok(parts) => cache::explain_change(&previous, &parts, &input_names),
                        Err(_) => Vec::new(),
                    };
                    if changes.is_empty() {
                        "runs: its last result is no longer in the cache".to_string()
                    } else {
                        format!("runs: {}", changes.join("; "))
                    }
                }
                None => "runs: never run before".to_string(),
            };
            (Decision::Run, why)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::graph;
    use super::{only, Decision};

    fn words(decisions: &[Decision]) -> Vec<&'static str> {
        decisions
            .iter()
            .map(|decision| match decision {
                Decision::Run => "run",
                Decision::Cached(_) => "cached",
                Decision::NotNeeded => "-",
            })
            .collect()
    }

    #[test]
    fn a_one_node_run_keeps_what_is_above_its_node_up_to_what_does_not_run() {
        // model 0 -> merge 1 -> evaluations 2 and 3 -> report 4.
        let graph = graph();
        let all_run = || (0..5).map(|_| Decision::Run).collect::<Vec<_>>();
        let mut decisions = all_run();
        only(&graph, &mut decisions, 2);
        assert_eq!(words(&decisions), ["run", "run", "run", "-", "-"]);
        let mut decisions = all_run();
        only(&graph, &mut decisions, 4);
        assert_eq!(words(&decisions), ["run"; 5]);
        // The merge is settled (here: not run), so nothing above it is needed.
        let mut decisions = all_run();
        decisions[1] = Decision::NotNeeded;
        only(&graph, &mut decisions, 3);
        assert_eq!(words(&decisions), ["-", "-", "-", "run", "-"]);
        let mut decisions = all_run();
        only(&graph, &mut decisions, 0);
        assert_eq!(words(&decisions), ["run", "-", "-", "-", "-"]);
    }
}
