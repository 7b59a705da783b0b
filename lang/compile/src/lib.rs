//! Lowers a checked program to the `exp-ir` dataflow graph, and ties the language phases into
//! one call for the binary (`check_and_compile`).
//!
//! How the lowering works:
//! 1. every definition of the experiment file is kept, together with every imported
//!    definition it reaches, directly or through others;
//! 2. each `model` definition gets a `data` input: the dataset of the first `train` (in file
//!    order) that starts from it, else of the first `evaluate` that reads it, else none (a
//!    model of tokens has its `tokenizer` input instead, whose vocabulary sizes it);
//! 3. nodes are ordered topologically with Kahn's algorithm, always taking the earliest
//!    definition among those whose inputs are placed, so the order is stable: dependencies
//!    first, otherwise file order.
//!
//! Compiling cannot fail: the checker has already rejected everything that would not lower.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use exp_check::{Body, Catalog, CheckedDef, DefId, MergeOver, Program, Stages, World};
use exp_diag::{Diagnostic, SourceMap};
use exp_ir::graph::derive_seed;
use exp_ir::{ArtifactKind, Graph, Input, Node, NodeId, NodeKind, Origin};

use crate::shared::SharedParts;

/// Decodes, parses, checks and compiles an experiment file, given as the bytes read from it.
/// The graph is there when no error was found; the `SourceMap` holds the file and every
/// module it imported, for rendering the diagnostics.
pub fn check_and_compile(
    file_name: &str,
    source: &[u8],
    experiment: &str,
    world: &dyn World,
    catalog: &dyn Catalog,
) -> (Option<Graph>, SourceMap, Vec<Diagnostic>) {
    check_and_lower(file_name, source, world, catalog, |program| {
        compile(program, experiment)
    })
}

/// Decodes, parses and checks an experiment file, and when no error was found hands the
/// checked program to `lower`: `compile` for a graph, `count_nodes` for a check that only
/// reports the graph's size (building a large sweep's nodes is most of a check's time).
pub fn check_and_lower<T>(
    file_name: &str,
    source: &[u8],
    world: &dyn World,
    catalog: &dyn Catalog,
    lower: impl FnOnce(&Program) -> T,
) -> (Option<T>, SourceMap, Vec<Diagnostic>) {
    let mut sources = SourceMap::new();
    let (program, diagnostics) =
        exp_check::check_file(&mut sources, file_name, source, world, catalog);
    (program.as_ref().map(lower), sources, diagnostics)
}

/// How many nodes `compile` makes of `program`, without making them.
pub fn count_nodes(program: &Program) -> usize {
    let inputs = def_inputs(program);
    let included = included(program, &inputs);
    (0..program.defs.len())
        .filter(|idx| included[*idx])
        .map(|idx| nodes_made(&program.defs[idx].body))
        .sum()
}

/// Lowers a checked program to a graph named `experiment`.
pub fn compile(program: &Program, experiment: &str) -> Graph {
    let n_defs = program.defs.len();
    let inputs = def_inputs(program);
    let included = included(program, &inputs);

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

    // A large sweep makes tens of thousands of nodes: one allocation of the right size
    // instead of a doubling vector that copies them all into fresh memory every time.
    let capacity = order
        .iter()
        .map(|idx| nodes_made(&program.defs[*idx].body))
        .sum();
    let mut lowering = Lowering {
        program,
        nodes: Vec::with_capacity(capacity),
        model_of: HashMap::new(),
        row_of: HashMap::new(),
        interned: HashMap::new(),
        shared: SharedParts::default(),
    };
    for idx in &order {
        lowering.def(*idx, &inputs[*idx]);
    }
    // Counted right, the vector never grew (and holds no unused room).
    debug_assert_eq!(
        lowering.nodes.len(),
        capacity,
        "nodes made against nodes counted"
    );
    Graph {
        experiment: experiment.to_string(),
        seed: program.seed,
        plugins: program
            .plugins
            .iter()
            .map(|(path, _)| path.clone())
            .collect(),
        nodes: lowering.nodes,
        policy: program.policy.clone(),
        resources: program.resources.clone(),
    }
}

/// A sweep point: axis and value, both shared between the nodes that carry them.
type Point = Vec<(Arc<str>, Arc<str>)>;

/// The family a node belongs to, its definition's sweep point, and its coordinates beyond it (a
/// sequence's phases are indexed by `task`, its evaluations by `task` and `on`).
struct Lineage<'a> {
    family: Option<Arc<str>>,
    base: &'a [(Arc<str>, Arc<str>)],
    extra: &'a [(Arc<str>, Arc<str>)],
}

/// Turns definitions into nodes, in an order where inputs come first. Most definitions are one
/// node; a sequence of N tasks is N training phases, N×N evaluations and its summary.
struct Lowering<'p> {
    program: &'p Program,
    nodes: Vec<Node>,
    /// The node that stands for a definition where a model (or a dataset) is read.
    model_of: HashMap<usize, NodeId>,
    /// The node that stands for a definition as a report row.
    row_of: HashMap<usize, NodeId>,
    /// One shared copy of every family name, axis and value the nodes carry.
    interned: HashMap<String, Arc<str>>,
    /// One shared copy of equal components and specifications.
    shared: SharedParts,
}

impl Lowering<'_> {
    fn push(
        &mut self,
        name: String,
        kind: NodeKind,
        inputs: Vec<Input>,
        seed: u64,
        def: &CheckedDef,
        lineage: Lineage<'_>,
    ) -> NodeId {
        let Lineage {
            family,
            base,
            extra,
        } = lineage;
        let id = NodeId(self.nodes.len());
        let kind = self.shared.kind(kind);
        let output = match &kind {
            NodeKind::Dataset { .. } | NodeKind::Caption | NodeKind::Sample(_) => {
                ArtifactKind::Dataset
            }
            NodeKind::Model { .. } | NodeKind::Train(_) | NodeKind::Merge { .. } => {
                ArtifactKind::Model
            }
            NodeKind::Evaluate { .. } | NodeKind::Continual { .. } => ArtifactKind::Metrics,
            NodeKind::Report { .. } => ArtifactKind::Table,
            NodeKind::Tokenizer { .. } => ArtifactKind::Tokenizer,
            NodeKind::Export { .. } => ArtifactKind::Files,
        };
        self.nodes.push(Node {
            id,
            name,
            kind,
            inputs,
            output,
            seed,
            origin: Origin::Source(def.span),
            family,
            point: base.iter().chain(extra).cloned().collect(),
        });
        id
    }

    fn intern(&mut self, text: &str) -> Arc<str> {
        if let Some(shared) = self.interned.get(text) {
            return Arc::clone(shared);
        }
        let shared: Arc<str> = Arc::from(text);
        self.interned.insert(text.to_string(), Arc::clone(&shared));
        shared
    }

    fn input(&self, role: &'static str, def: DefId) -> Option<Input> {
        let node = if role == "rows" {
            self.row_of.get(&def.0)
        } else {
            self.model_of.get(&def.0)
        }?;
        Some(Input {
            role: Cow::Borrowed(role),
            node: *node,
            artifact: self.nodes[node.0].output,
        })
    }

    fn def(&mut self, idx: usize, uses: &[(&'static str, DefId)]) {
        let program = self.program;
        let def = &program.defs[idx];
        let family = def
            .expansion
            .as_ref()
            .map(|expansion| self.intern(&expansion.family));
        let base: Point = match &def.expansion {
            Some(expansion) => expansion
                .point
                .iter()
                .map(|(axis, value)| (self.intern(axis), self.intern(value)))
                .collect(),
            None => Vec::new(),
        };
        // A node a definition makes under a name of its own (a sequence's phases) derives its
        // seed from the definition's `seed:` when written, else from the file's.
        let derived =
            |name: &str, explicit: Option<u64>| derive_seed(explicit.unwrap_or(program.seed), name);
        if let Body::Sequence {
            tasks,
            stages,
            metrics,
            splits,
            ..
        } = &def.body
        {
            // A sequence's phases and evaluations form two families of their own, indexed by
            // the task (and the task evaluated on), like a sweep's copies.
            let written = family.as_deref().unwrap_or(&def.name).to_string();
            let mut sub_family = |suffix: &str| Some(self.intern(&format!("{written}.{suffix}")));
            let task_family = sub_family("task");
            let merge_family = sub_family("merge");
            let eval_families: Vec<Option<Arc<str>>> = splits
                .iter()
                .map(|split| match split.as_str() {
                    "test" => sub_family("task.on"),
                    other => sub_family(&format!("task.on.{other}")),
                })
                .collect();
            let (task_axis, on_axis) = (self.intern("task"), self.intern("on"));
            let numbers: Vec<Arc<str>> = (1..=tasks.len())
                .map(|number| self.intern(&number.to_string()))
                .collect();
            let start = match stages {
                Stages::Train { model, .. } => self.model_of.get(&model.0).copied(),
                Stages::Given(_) => None,
            };
            let mut previous_node = start;
            let mut fine_tunes: Vec<NodeId> = Vec::new();
            // The evaluations on each split, in the order the splits are written.
            let mut rows: Vec<Vec<NodeId>> = vec![Vec::new(); splits.len()];
            let mut stage_nodes = Vec::new();
            for (i, task) in tasks.iter().enumerate() {
                let name = format!("{}.task{}", def.name, i + 1);
                let stage = match stages {
                    Stages::Train {
                        spec,
                        seed,
                        anchor,
                        merge,
                        ..
                    } => {
                        // Over fine-tunes, every task trains from the start.
                        let from = match merge {
                            Some(merge) if merge.over == MergeOver::FineTunes => start,
                            _ => previous_node,
                        };
                        let mut inputs: Vec<Input> = Vec::new();
                        if let Some(node) = from {
                            inputs.push(model_input("model", node));
                        }
                        inputs.extend(self.input("data", *task));
                        if let Some(anchor) = anchor {
                            inputs.extend(self.input("anchor", *anchor));
                        }
                        if spec.replay.is_some() {
                            inputs.extend(
                                tasks[..i]
                                    .iter()
                                    .filter_map(|earlier| self.input("replay", *earlier)),
                            );
                        }
                        let seed = derived(&name, *seed);
                        let trained = self.push(
                            name.clone(),
                            NodeKind::Train(Arc::clone(spec)),
                            inputs,
                            seed,
                            def,
                            Lineage {
                                family: task_family.clone(),
                                base: &base,
                                extra: &[(task_axis.clone(), numbers[i].clone())],
                            },
                        );
                        fine_tunes.push(trained);
                        match merge {
                            None => trained,
                            Some(merge) => {
                                let merged: Vec<NodeId> = match merge.over {
                                    MergeOver::Previous => {
                                        previous_node.into_iter().chain([trained]).collect()
                                    }
                                    MergeOver::FineTunes => {
                                        start.into_iter().chain(fine_tunes.clone()).collect()
                                    }
                                };
                                let merge_name = format!("{}.merge{}", def.name, i + 1);
                                let seed = derived(&merge_name, None);
                                self.push(
                                    merge_name,
                                    NodeKind::Merge {
                                        component: Arc::new(merge.merger.clone()),
                                    },
                                    merged
                                        .into_iter()
                                        .map(|node| model_input("inputs", node))
                                        .collect(),
                                    seed,
                                    def,
                                    Lineage {
                                        family: merge_family.clone(),
                                        base: &base,
                                        extra: &[(task_axis.clone(), numbers[i].clone())],
                                    },
                                )
                            }
                        }
                    }
                    Stages::Given(models) => match self.model_of.get(&models[i].0) {
                        Some(node) => *node,
                        None => continue,
                    },
                };
                let train = stage;
                stage_nodes.push(stage);
                for ((split_rows, split), eval_family) in
                    rows.iter_mut().zip(splits).zip(&eval_families)
                {
                    // The test split's evaluations keep the plain names; another split's
                    // names end in it (`NAME.task2.on1.validation`).
                    let suffix = match split.as_str() {
                        "test" => String::new(),
                        other => format!(".{other}"),
                    };
                    for (j, other) in tasks.iter().enumerate() {
                        let eval_name = format!("{name}.on{}{suffix}", j + 1);
                        let mut inputs = vec![model_input("model", train)];
                        inputs.extend(self.input("data", *other));
                        let seed = derived(&eval_name, None);
                        let node = self.push(
                            eval_name,
                            NodeKind::Evaluate {
                                metrics: metrics.clone(),
                                splits: vec![split.clone()],
                            },
                            inputs,
                            seed,
                            def,
                            Lineage {
                                family: eval_family.clone(),
                                base: &base,
                                extra: &[
                                    (task_axis.clone(), numbers[i].clone()),
                                    (on_axis.clone(), numbers[j].clone()),
                                ],
                            },
                        );
                        split_rows.push(node);
                    }
                }
                previous_node = Some(train);
            }
            let inputs = stage_nodes
                .iter()
                .map(|stage| Input {
                    role: Cow::Borrowed("stages"),
                    node: *stage,
                    artifact: ArtifactKind::Model,
                })
                .chain(rows.iter().flatten().map(|row| Input {
                    role: Cow::Borrowed("rows"),
                    node: *row,
                    artifact: ArtifactKind::Metrics,
                }))
                .collect();
            let summary = self.push(
                def.name.clone(),
                node_kind(&def.body).0,
                inputs,
                derived(&def.name, None),
                def,
                Lineage {
                    family,
                    base: &base,
                    extra: &[],
                },
            );
            if let Some(last) = previous_node {
                self.model_of.insert(idx, last);
            }
            self.row_of.insert(idx, summary);
            return;
        }
        let (kind, seed) = node_kind(&def.body);
        let inputs = uses
            .iter()
            .filter_map(|(role, id)| self.input(role, *id))
            .collect();
        let seed = seed.unwrap_or_else(|| derive_seed(program.seed, &def.name));
        let lineage = Lineage {
            family,
            base: &base,
            extra: &[],
        };
        let id = self.push(def.name.clone(), kind, inputs, seed, def, lineage);
        self.model_of.insert(idx, id);
        self.row_of.insert(idx, id);
    }
}

/// The inputs of every definition, by role, in the order written.
fn def_inputs(program: &Program) -> Vec<Vec<(&'static str, DefId)>> {
    let model_data = model_data_inputs(program);
    (0..program.defs.len())
        .map(|idx| {
            let mut uses = program.defs[idx].body.uses();
            if let Some(data) = model_data.get(&DefId(idx)) {
                uses.push(("data", *data));
            }
            uses
        })
        .collect()
}

/// 1. The experiment file's definitions and whatever they reach.
fn included(program: &Program, inputs: &[Vec<(&'static str, DefId)>]) -> Vec<bool> {
    let mut included = vec![false; program.defs.len()];
    let mut pending: Vec<usize> = (0..program.defs.len())
        .filter(|idx| program.defs[*idx].in_main)
        .collect();
    while let Some(idx) = pending.pop() {
        if std::mem::replace(&mut included[idx], true) {
            continue;
        }
        pending.extend(inputs[idx].iter().map(|(_, id)| id.0));
    }
    included
}

/// How many nodes a definition lowers to: one, or for a sequence of N tasks its N phases (and
/// N merges; none when the models are given), N×N evaluations per split and its summary.
fn nodes_made(body: &Body) -> usize {
    match body {
        Body::Sequence {
            tasks,
            stages,
            splits,
            ..
        } => {
            let per_task = match stages {
                Stages::Train { merge: Some(_), .. } => 2,
                Stages::Train { merge: None, .. } => 1,
                Stages::Given(_) => 0,
            };
            tasks.len() * (per_task + tasks.len() * splits.len()) + 1
        }
        _ => 1,
    }
}

/// An input that reads a model.
fn model_input(role: &'static str, node: NodeId) -> Input {
    Input {
        role: Cow::Borrowed(role),
        node,
        artifact: ArtifactKind::Model,
    }
}

/// 2. The dataset that sizes each model definition.
fn model_data_inputs(program: &Program) -> HashMap<DefId, DefId> {
    let mut from_train = HashMap::new();
    let mut from_evaluate = HashMap::new();
    for def in &program.defs {
        match &def.body {
            Body::Train { model, data, .. } => {
                from_train.entry(*model).or_insert(data[0]);
            }
            Body::Sequence {
                stages: Stages::Train { model, .. },
                tasks,
                ..
            } => {
                from_train.entry(*model).or_insert(tasks[0]);
            }
            Body::Evaluate { model, data, .. } => {
                from_evaluate.entry(*model).or_insert(*data);
            }
            _ => {}
        }
    }
    (0..program.defs.len())
        .map(DefId)
        // A model of tokens is sized by its tokenizer's vocabulary, not by a dataset.
        .filter(|id| {
            matches!(
                program.def(*id).body,
                Body::Model {
                    tokenizer: None,
                    ..
                }
            )
        })
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
                component: Arc::new(component.clone()),
            },
            None,
        ),
        Body::Caption { .. } => (NodeKind::Caption, None),
        Body::Sample { spec, .. } => (NodeKind::Sample(Arc::clone(spec)), None),
        Body::Model { component, .. } => (
            NodeKind::Model {
                component: Arc::new(component.clone()),
            },
            None,
        ),
        Body::Tokenizer { component, .. } => (
            NodeKind::Tokenizer {
                component: Arc::new(component.clone()),
            },
            None,
        ),
        Body::Export { component, .. } => (
            NodeKind::Export {
                component: Arc::new(component.clone()),
            },
            None,
        ),
        Body::Train { spec, seed, .. } => (NodeKind::Train(Arc::clone(spec)), *seed),
        Body::Merge { merger, .. } => (
            NodeKind::Merge {
                component: Arc::new(merger.clone()),
            },
            None,
        ),
        Body::Evaluate {
            metrics, splits, ..
        } => (
            NodeKind::Evaluate {
                metrics: metrics.clone(),
                splits: splits.clone(),
            },
            None,
        ),
        Body::Report {
            chart,
            against,
            choose,
            html,
            ..
        } => (
            NodeKind::Report {
                chart: *chart,
                against: against.clone(),
                choose: choose.clone(),
                html: *html,
            },
            None,
        ),
        // `Lowering::def` lowers a sequence into several nodes; this is its summary's kind.
        Body::Sequence {
            tasks,
            metrics,
            splits,
            heatmap,
            ..
        } => (
            NodeKind::Continual {
                tasks: tasks.len(),
                metric: metrics
                    .first()
                    .map_or_else(|| "accuracy".to_string(), |metric| metric.name.clone()),
                splits: splits.clone(),
                heatmap: *heatmap,
            },
            None,
        ),
    }
}

mod shared;
#[cfg(test)]
mod tests;
