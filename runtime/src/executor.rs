//! Executes a graph: nodes start as soon as their inputs are ready, independent nodes run in
//! parallel on a rayon pool of `jobs` workers, and a failure stays local: the failed node's
//! dependents are skipped, every other node still runs, and the summary lists each failure.
//!
//! Before anything runs, every node's cache key is computed and looked up (see `cache`). A node
//! whose entry is valid is restored from the cache without waiting for its inputs; a dataset is
//! built only when some node that reads it actually runs.

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Instant;

use exp_ir::{Graph, NodeKind};

use crate::artifact::{Artifact, MetricsArtifact, Missing};
use crate::cache::{self, Cache, EntryProblem, Hit, NodeKey};
use crate::error::RunError;
use crate::node_outcome::NodeOutcome;
use crate::nodes::{self, NodeRun};
use crate::observer::Observer;
use crate::registry::Registry;
use crate::run_dir::RunDir;
use crate::run_options::RunOptions;
use crate::run_summary::RunSummary;
use crate::table::Table;
use crate::text::TokenStore;

/// What the plan decided for one node.
enum Decision {
    Cached(Box<Hit>),
    Run,
    NotNeeded,
}

/// Looks every node up in the cache and decides what runs; explains each decision if asked.
fn plan(
    graph: &Graph,
    keys: &[NodeKey],
    cache: Option<&Cache>,
    options: &RunOptions,
    observer: &dyn Observer,
) -> Vec<Decision> {
    // Forced nodes and everything downstream of them.
    let mut forced: BTreeSet<usize> = graph
        .nodes
        .iter()
        .filter(|node| options.force.contains(&node.name))
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
    let mut decisions: Vec<Decision> = Vec::with_capacity(graph.nodes.len());
    for (node, node_key) in graph.nodes.iter().zip(keys) {
        let key = &node_key.key;
        let (decision, why) = if matches!(node.kind, NodeKind::Dataset { .. }) {
            (
                Decision::Run,
                "datasets are rebuilt when a node that reads them runs".to_string(),
            )
        } else if let Some(cache) = cache {
            if forced.contains(&node.id.0) {
                (Decision::Run, "forced with --force".to_string())
            } else {
                match cache.lookup(key) {
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
                    Err(EntryProblem::Missing) => {
                        let why = match cache.previous_parts(&graph.experiment, &node.name) {
                            Some(previous) => {
                                let input_names: Vec<String> = node
                                    .inputs
                                    .iter()
                                    .map(|input| graph.node(input.node).name.clone())
                                    .collect();
                                let changes =
                                    cache::explain_change(&previous, &node_key.parts, &input_names);
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
    // A dataset is needed only if a node that reads it runs.
    for node in &graph.nodes {
        if matches!(node.kind, NodeKind::Dataset { .. }) {
            let needed = graph
                .consumers(node.id)
                .any(|consumer| matches!(decisions[consumer.id.0], Decision::Run));
            if !needed {
                decisions[node.id.0] = Decision::NotNeeded;
            }
        }
    }
    decisions
}

/// Runs the whole graph. `Err` only for problems that stop everything before any node runs
/// (no such device, run directory not writable).
pub fn execute(
    graph: &Graph,
    registry: &Registry,
    options: &RunOptions,
    observer: &dyn Observer,
) -> Result<RunSummary, String> {
    let device = options.device.resolve()?;
    let run_dir = RunDir::create(&options.run_dir).map_err(|error| {
        format!(
            "cannot create run directory `{}`: {error}",
            options.run_dir.display()
        )
    })?;
    let cache = match &options.cache_dir {
        Some(dir) => Some(
            Cache::open(dir)
                .map_err(|error| format!("cannot open the cache `{}`: {error}", dir.display()))?,
        ),
        None => None,
    };
    let jobs = options.jobs.max(1);
    // Every node computes with the same intra-op thread count whatever `jobs` is: a kernel's
    // reduction order follows its thread count, so deriving it from `jobs` (as exp once did)
    // made `--jobs 1` and `--jobs 2` write different checkpoints. The count is in every key.
    let intra_op_threads = options.threads.max(1);
    tch::set_num_threads(intra_op_threads as i32);
    let keys = cache::node_keys(
        graph,
        registry,
        device,
        intra_op_threads,
        &options.exp_version,
    )?;
    let record = crate::manifest::Record {
        graph,
        registry,
        options,
        run_dir: &run_dir,
        device,
        intra_op_threads,
        keys: &keys,
    };
    crate::manifest::write(&record, None)
        .map_err(|error| format!("cannot write the manifest: {error}"))?;

    let mut decisions = plan(graph, &keys, cache.as_ref(), options, observer);
    // Tokenized text outlives the run in the cache directory, beside the entries it feeds.
    let tokens = TokenStore::new(options.cache_dir.as_ref().map(|dir| dir.join("tokens")));

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|error| format!("cannot start worker threads: {error}"))?;

    let n_nodes = graph.nodes.len();
    let mut artifacts: Vec<Option<Arc<Artifact>>> = vec![None; n_nodes];
    let mut outcomes: Vec<Option<NodeOutcome>> = vec![None; n_nodes];
    // A node restored from the cache waits for nothing; one that runs waits for its inputs.
    let mut waiting: Vec<usize> = graph
        .nodes
        .iter()
        .zip(&decisions)
        .map(|(node, decision)| match decision {
            Decision::Run => {
                let mut distinct: Vec<usize> =
                    node.inputs.iter().map(|input| input.node.0).collect();
                distinct.sort_unstable();
                distinct.dedup();
                distinct.len()
            }
            Decision::Cached(_) | Decision::NotNeeded => 0,
        })
        .collect();
    for (index, decision) in decisions.iter().enumerate() {
        if matches!(decision, Decision::NotNeeded) {
            outcomes[index] = Some(NodeOutcome::NotNeeded);
        }
    }

    // The coordinating loop runs on this thread; only node bodies run on the pool's workers,
    // so `--jobs 1` still has its one worker free to run them.
    pool.in_place_scope(|scope| {
        type Finished = (usize, Result<(Artifact, bool), RunError>, f64);
        let (sender, receiver) = mpsc::channel::<Finished>();
        let spawn = |index: usize,
                     artifacts: &[Option<Arc<Artifact>>],
                     outcomes: &[Option<NodeOutcome>],
                     decisions: &mut [Decision]| {
                let node = &graph.nodes[index];
                let hit = match std::mem::replace(&mut decisions[index], Decision::Run) {
                    Decision::Cached(hit) => Some(hit),
                    _ => None,
                };
                // Only a report runs with an input missing (a row whose node failed or was
                // skipped); it gets a placeholder row saying which, and its partial table is
                // not cached.
                let partial = node
                    .inputs
                    .iter()
                    .any(|input| artifacts[input.node.0].is_none());
                let inputs: Vec<Arc<Artifact>> = node
                    .inputs
                    .iter()
                    .map(|input| {
                        artifacts[input.node.0].clone().unwrap_or_else(|| {
                            let missing = match outcomes[input.node.0] {
                                Some(NodeOutcome::Skipped { .. }) => Missing::Skipped,
                                _ => Missing::Failed,
                            };
                            Arc::new(Artifact::Metrics(crate::artifact::MetricsArtifact {
                                missing: Some(missing),
                                ..Default::default()
                            }))
                        })
                    })
                    .collect();
                let sender = sender.clone();
                let run_dir = &run_dir;
                let stop = &options.stop;
                let cache = cache.as_ref();
                let node_key = &keys[index];
                let (all_keys, tokens) = (&keys, &tokens);
                scope.spawn(move |_| {
                    let started = Instant::now();
                    let result = match hit {
                    _ if !crate::run_dir::is_confined_name(&node.name) => Err(RunError::Mismatch {
                        node: node.name.clone(),
                        message: format!(
                            "the name `{}` would write outside the run directory; name nodes with plain identifiers",
                            node.name
                        ),
                    }),
                        _ if stop.load(Ordering::SeqCst) => Err(RunError::Interrupted {
                            node: node.name.clone(),
                            step: None,
                            checkpointed: false,
                        }),
                        Some(hit) => hit
                            .restore(node, run_dir, device)
                            .map(|artifact| (artifact, true))
                            .map_err(|message| RunError::Io {
                                node: node.name.clone(),
                                path: "the cache".into(),
                                message,
                            }),
                        None => {
                            observer.started(node, None);
                            let resume_dir = cache.map(|cache| cache.partial_dir(&node_key.key));
                            let context = NodeContext {
                                registry,
                                run_dir,
                                device,
                                observer,
                                resume_dir,
                                stop,
                                keys: all_keys,
                                tokens,
                            };
                            run_node(graph, node, inputs, &context).map(|artifact| {
                                if let Some(cache) = cache.filter(|_| !partial) {
                                    if let Err(error) =
                                        cache.store(node_key, &artifact, run_dir.logged_by(&node.name))
                                    {
                                        observer.message(
                                            node,
                                            &format!(
                                                "could not store the result in the cache: {error}"
                                            ),
                                        );
                                    }
                                }
                                (artifact, false)
                            })
                        }
                    };
                    if let (Some(cache), Ok(_)) = (cache, &result) {
                        cache.remember(&graph.experiment, &node.name, &node_key.parts);
                    }
                    let _ = sender.send((index, result, started.elapsed().as_secs_f64()));
                });
            };

        let mut running = 0;
        for index in 0..n_nodes {
            if waiting[index] == 0 && outcomes[index].is_none() {
                spawn(index, &artifacts, &outcomes, &mut decisions);
                running += 1;
            }
        }
        while running > 0 {
            let Ok((index, result, seconds)) = receiver.recv() else {
                break;
            };
            running -= 1;
            let node = &graph.nodes[index];
            match result {
                Ok((artifact, from_cache)) => {
                    artifacts[index] = Some(Arc::new(artifact));
                    let outcome = if from_cache {
                        NodeOutcome::Cached {
                            key: keys[index].key.clone(),
                        }
                    } else {
                        NodeOutcome::Done { seconds }
                    };
                    observer.finished(node, &outcome);
                    record_outcome(&run_dir, &node.name, &outcome);
                    outcomes[index] = Some(outcome);
                    for consumer in graph.consumers(node.id) {
                        let consumer_index = consumer.id.0;
                        if outcomes[consumer_index].is_some() || waiting[consumer_index] == 0 {
                            continue;
                        }
                        waiting[consumer_index] -= 1;
                        if waiting[consumer_index] == 0 {
                            spawn(consumer_index, &artifacts, &outcomes, &mut decisions);
                            running += 1;
                        }
                    }
                }
                Err(error) => {
                    if crate::run_dir::is_confined_name(&node.name) {
                        // The log keeps what the one-line message leaves out; a log that cannot
                        // be written loses only that, never the failure itself.
                        let _ = run_dir.write_log(&node.name, &error.log_text());
                    }
                    let outcome = NodeOutcome::Failed(error);
                    observer.finished(node, &outcome);
                    record_outcome(&run_dir, &node.name, &outcome);
                    outcomes[index] = Some(outcome);
                    for report in skip_dependents(graph, index, &mut outcomes, &mut waiting, observer)
                    {
                        spawn(report, &artifacts, &outcomes, &mut decisions);
                        running += 1;
                    }
                }
            }
        }
    });

    let outcomes: Vec<(String, NodeOutcome)> = graph
        .nodes
        .iter()
        .zip(outcomes)
        .map(|(node, outcome)| {
            let outcome = outcome.unwrap_or(NodeOutcome::Skipped {
                because: "it never became ready".into(),
            });
            (node.name.clone(), outcome)
        })
        .collect();

    let tables = collect_tables(graph, &artifacts, &run_dir);
    let ledger: Vec<_> = graph
        .nodes
        .iter()
        .zip(&artifacts)
        .filter_map(|(node, artifact)| match artifact.as_deref() {
            Some(Artifact::Model(model)) => Some((
                node.name.clone(),
                model.checkpoint.clone(),
                model.ledger.clone(),
            )),
            _ => None,
        })
        .collect();
    let finished = crate::manifest::Finished {
        outcomes: &outcomes,
        ledger: &ledger,
    };
    crate::manifest::write(&record, Some(finished))
        .map_err(|error| format!("cannot write the manifest: {error}"))?;
    Ok(RunSummary {
        run_dir: run_dir.path.clone(),
        outcomes,
        tables,
    })
}

/// Journals how a node ended (`outcomes.jsonl`), as the manifest will record it.
fn record_outcome(run_dir: &RunDir, name: &str, outcome: &NodeOutcome) {
    let mut line = outcome.to_json();
    line["node"] = serde_json::Value::from(name);
    run_dir.record_outcome(&line);
}

/// What a node body needs besides the graph and its inputs.
struct NodeContext<'a> {
    registry: &'a Registry,
    run_dir: &'a RunDir,
    device: tch::Device,
    observer: &'a dyn Observer,
    resume_dir: Option<PathBuf>,
    stop: &'a AtomicBool,
    keys: &'a [NodeKey],
    tokens: &'a TokenStore,
}

/// Runs one node's body; a panic in the runtime itself fails this node only.
fn run_node(
    graph: &Graph,
    node: &exp_ir::Node,
    inputs: Vec<Arc<Artifact>>,
    context: &NodeContext,
) -> Result<Artifact, RunError> {
    if inputs.len() != node.inputs.len() {
        return Err(RunError::Internal {
            node: node.name.clone(),
            message: "an input artifact is missing".into(),
        });
    }
    let ctx = NodeRun {
        graph,
        node,
        inputs,
        registry: context.registry,
        run_dir: context.run_dir,
        device: context.device,
        observer: context.observer,
        resume_dir: context.resume_dir.clone(),
        stop: context.stop,
        keys: context.keys,
        tokens: context.tokens,
    };
    catch_unwind(AssertUnwindSafe(|| nodes::run(&ctx))).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|text| text.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(RunError::Internal {
            node: node.name.clone(),
            message: format!("panicked: {message}"),
        })
    })
}

/// The tables of the report nodes; without a report, every evaluation and every evaluated
/// training phase makes a row of `results`.
fn collect_tables(
    graph: &Graph,
    artifacts: &[Option<Arc<Artifact>>],
    run_dir: &RunDir,
) -> Vec<Table> {
    let mut tables: Vec<Table> = artifacts
        .iter()
        .filter_map(|artifact| match artifact.as_deref() {
            Some(Artifact::Table(table)) => Some(table.clone()),
            _ => None,
        })
        .collect();
    let has_report = graph
        .nodes
        .iter()
        .any(|node| matches!(node.kind, NodeKind::Report { .. }));
    if !has_report {
        let rows: Vec<(String, &MetricsArtifact)> = graph
            .nodes
            .iter()
            .zip(artifacts)
            .filter_map(|(node, artifact)| match artifact.as_deref() {
                Some(Artifact::Metrics(metrics)) => Some((node.name.clone(), metrics)),
                Some(Artifact::Model(model)) if !model.metrics.order.is_empty() => {
                    Some((node.name.clone(), &model.metrics))
                }
                _ => None,
            })
            .collect();
        if !rows.is_empty() {
            let table = nodes::report::table_of("results", &rows);
            if nodes::report::write_table("results", run_dir, &table).is_ok() {
                tables.push(table);
            }
        }
    }
    tables
}

/// Marks every node downstream of `failed` that was waiting on it as skipped, except reports:
/// a report still runs with the rows that finished (the failed ones are marked in its table),
/// so one failed run does not lose a study's table. Returns the reports now ready to run.
fn skip_dependents(
    graph: &Graph,
    failed: usize,
    outcomes: &mut [Option<NodeOutcome>],
    waiting: &mut [usize],
    observer: &dyn Observer,
) -> Vec<usize> {
    let mut ready_reports = Vec::new();
    let mut stack = vec![failed];
    while let Some(index) = stack.pop() {
        let cause = graph.nodes[index].name.clone();
        for consumer in graph.consumers(graph.nodes[index].id) {
            let consumer_index = consumer.id.0;
            if matches!(consumer.kind, exp_ir::NodeKind::Report { .. })
                && outcomes[consumer_index].is_none()
                && waiting[consumer_index] > 0
            {
                // `waiting` counts distinct inputs, as `graph.consumers` yields each once.
                waiting[consumer_index] -= 1;
                if waiting[consumer_index] == 0 {
                    ready_reports.push(consumer_index);
                }
                continue;
            }
            // A consumer restored from the cache does not depend on this run of its input.
            if outcomes[consumer_index].is_none() && waiting[consumer_index] > 0 {
                let outcome = NodeOutcome::Skipped {
                    because: format!("its input `{cause}` did not finish"),
                };
                observer.finished(consumer, &outcome);
                outcomes[consumer_index] = Some(outcome);
                stack.push(consumer_index);
            }
        }
    }
    ready_reports
}
