//! Lowers a checked program to the `exp-ir` dataflow graph, and ties the language phases into
//! one call for the binary (`check_and_compile`).
//!
//! How the lowering works:
//! 1. every definition of the experiment file is kept, together with every imported
//!    definition it reaches, directly or through others;
//! 2. each `model` definition gets a `data` input: the dataset of the first `train` (in file
//!    order) that starts from it, else of the first `evaluate` that reads it, else none;
//! 3. nodes are ordered topologically with Kahn's algorithm, always taking the earliest
//!    definition among those whose inputs are placed, so the order is stable: dependencies
//!    first, otherwise file order.
//!
//! Compiling cannot fail: the checker has already rejected everything that would not lower.

use std::collections::{BTreeSet, HashMap};

use exp_check::{Body, Catalog, DefId, Program, World};
use exp_diag::{Diagnostic, SourceMap};
use exp_ir::graph::derive_seed;
use exp_ir::{ArtifactKind, Graph, Input, Node, NodeId, NodeKind, Origin};

/// Parses, checks and compiles an experiment file. The graph is there when no error was found;
/// the `SourceMap` holds the file and every module it imported, for rendering the diagnostics.
pub fn check_and_compile(
    file_name: &str,
    text: &str,
    experiment: &str,
    world: &dyn World,
    catalog: &dyn Catalog,
) -> (Option<Graph>, SourceMap, Vec<Diagnostic>) {
    let mut sources = SourceMap::new();
    let main = sources.add(file_name, text);
    let (program, diagnostics) = exp_check::check(&mut sources, main, world, catalog);
    let graph = program.map(|program| compile(&program, experiment));
    (graph, sources, diagnostics)
}

/// Lowers a checked program to a graph named `experiment`.
pub fn compile(program: &Program, experiment: &str) -> Graph {
    let n_defs = program.defs.len();
    let model_data = model_data_inputs(program);

    // The inputs of every definition, by role, in the order written.
    let inputs: Vec<Vec<(&'static str, DefId)>> = (0..n_defs)
        .map(|idx| {
            let mut uses = program.defs[idx].body.uses();
            if let Some(data) = model_data.get(&DefId(idx)) {
                uses.push(("data", *data));
            }
            uses
        })
        .collect();

    // 1. Keep the experiment file's definitions and whatever they reach.
    let mut included = vec![false; n_defs];
    let mut pending: Vec<usize> = (0..n_defs)
        .filter(|idx| program.defs[*idx].in_main)
        .collect();
    while let Some(idx) = pending.pop() {
        if std::mem::replace(&mut included[idx], true) {
            continue;
        }
        pending.extend(inputs[idx].iter().map(|(_, id)| id.0));
    }

    // 3. Kahn's algorithm, earliest definition first.
    let mut waiting_on: Vec<usize> = (0..n_defs)
        .map(|idx| inputs[idx].iter().filter(|(_, id)| included[id.0]).count())
        .collect();
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); n_defs];
    for idx in (0..n_defs).filter(|idx| included[*idx]) {
        for (_, id) in &inputs[idx] {
            readers[id.0].push(idx);
        }
    }
    let mut ready: BTreeSet<usize> = (0..n_defs)
        .filter(|idx| included[*idx] && waiting_on[*idx] == 0)
        .collect();
    let mut order = Vec::new();
    while let Some(idx) = ready.pop_first() {
        order.push(idx);
        for reader in &readers[idx] {
            waiting_on[*reader] -= 1;
            if waiting_on[*reader] == 0 {
                ready.insert(*reader);
            }
        }
    }
    // The checker rejects cycles, so every included definition is placed; should one not be,
    // keep it rather than lose it.
    let placed: BTreeSet<usize> = order.iter().copied().collect();
    let unplaced: Vec<usize> = (0..n_defs)
        .filter(|idx| included[*idx] && !placed.contains(idx))
        .collect();
    order.extend(unplaced);

    let node_of: HashMap<usize, NodeId> = order
        .iter()
        .enumerate()
        .map(|(position, idx)| (*idx, NodeId(position)))
        .collect();
    let nodes = order
        .iter()
        .enumerate()
        .map(|(position, idx)| {
            let def = &program.defs[*idx];
            let (kind, seed) = node_kind(&def.body);
            Node {
                id: NodeId(position),
                name: def.name.clone(),
                kind,
                inputs: inputs[*idx]
                    .iter()
                    .filter_map(|(role, id)| {
                        Some(Input {
                            role: role.to_string(),
                            node: *node_of.get(&id.0)?,
                            artifact: output(&program.def(*id).body),
                        })
                    })
                    .collect(),
                output: output(&def.body),
                seed: seed.unwrap_or_else(|| derive_seed(program.seed, &def.name)),
                origin: Origin::Source(def.span),
            }
        })
        .collect();
    Graph {
        experiment: experiment.to_string(),
        seed: program.seed,
        plugins: program
            .plugins
            .iter()
            .map(|(path, _)| path.clone())
            .collect(),
        nodes,
    }
}

/// 2. The dataset that sizes each model definition.
fn model_data_inputs(program: &Program) -> HashMap<DefId, DefId> {
    let mut from_train = HashMap::new();
    let mut from_evaluate = HashMap::new();
    for def in &program.defs {
        match &def.body {
            Body::Train { model, data, .. } => {
                from_train.entry(*model).or_insert(*data);
            }
            Body::Evaluate { model, data, .. } => {
                from_evaluate.entry(*model).or_insert(*data);
            }
            _ => {}
        }
    }
    (0..program.defs.len())
        .map(DefId)
        .filter(|id| matches!(program.def(*id).body, Body::Model { .. }))
        .filter_map(|id| {
            let data = from_train.get(&id).or_else(|| from_evaluate.get(&id))?;
            Some((id, *data))
        })
        .collect()
}

/// The node kind, and the seed the file set explicitly, if any.
fn node_kind(body: &Body) -> (NodeKind, Option<u64>) {
    match body {
        Body::Dataset { component } => (
            NodeKind::Dataset {
                component: component.clone(),
            },
            None,
        ),
        Body::Model { component } => (
            NodeKind::Model {
                component: component.clone(),
            },
            None,
        ),
        Body::Train { spec, seed, .. } => (NodeKind::Train(spec.clone()), *seed),
        Body::Merge { merger, .. } => (
            NodeKind::Merge {
                component: merger.clone(),
            },
            None,
        ),
        Body::Evaluate { metrics, split, .. } => (
            NodeKind::Evaluate {
                metrics: metrics.clone(),
                split: split.clone(),
            },
            None,
        ),
        Body::Report { chart, .. } => (NodeKind::Report { chart: *chart }, None),
    }
}

fn output(body: &Body) -> ArtifactKind {
    match body {
        Body::Dataset { .. } => ArtifactKind::Dataset,
        Body::Model { .. } | Body::Train { .. } | Body::Merge { .. } => ArtifactKind::Model,
        Body::Evaluate { .. } => ArtifactKind::Metrics,
        Body::Report { .. } => ArtifactKind::Table,
    }
}

#[cfg(test)]
mod tests;
