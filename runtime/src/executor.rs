//! Executes a graph: nodes start as soon as their inputs are ready, independent nodes run in
//! parallel on a rayon pool of `jobs` workers, and a failure stays local: the failed node's
//! dependents are skipped, every other node still runs, and the summary lists each failure.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Instant;

use exp_ir::{Graph, NodeKind};

use crate::artifact::{Artifact, MetricsArtifact};
use crate::device::DeviceChoice;
use crate::error::RunError;
use crate::nodes::{self, NodeRun};
use crate::observer::Observer;
use crate::registry::Registry;
use crate::run_dir::RunDir;
use crate::table::Table;

pub struct RunOptions {
    /// The run directory to create and fill.
    pub run_dir: PathBuf,
    pub device: DeviceChoice,
    /// Nodes that may run at once.
    pub jobs: usize,
    /// The experiment file (as given) and its SHA-256, for the manifest.
    pub source_path: String,
    pub source_sha256: String,
    pub exp_version: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeOutcome {
    Done {
        seconds: f64,
    },
    Failed(RunError),
    /// Not run because an input failed.
    Skipped {
        because: String,
    },
}

pub struct RunSummary {
    pub run_dir: PathBuf,
    /// Per node, in graph order.
    pub outcomes: Vec<(String, NodeOutcome)>,
    /// Every table the run wrote.
    pub tables: Vec<Table>,
}

impl RunSummary {
    pub fn failures(&self) -> impl Iterator<Item = (&str, &RunError)> {
        self.outcomes
            .iter()
            .filter_map(|(name, outcome)| match outcome {
                NodeOutcome::Failed(error) => Some((name.as_str(), error)),
                _ => None,
            })
    }

    pub fn succeeded(&self) -> bool {
        self.outcomes
            .iter()
            .all(|(_, outcome)| matches!(outcome, NodeOutcome::Done { .. }))
    }
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
    let jobs = options.jobs.max(1);
    // Split the cores between concurrent nodes so they do not oversubscribe the machine; the
    // count depends only on the machine and --jobs, so reruns compute the same numbers.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let intra_op_threads = (cores / jobs).max(1);
    tch::set_num_threads(intra_op_threads as i32);
    crate::manifest::write(
        graph,
        registry,
        options,
        &run_dir,
        device,
        intra_op_threads,
        None,
    )
    .map_err(|error| format!("cannot write the manifest: {error}"))?;

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|error| format!("cannot start worker threads: {error}"))?;

    let n_nodes = graph.nodes.len();
    let mut artifacts: Vec<Option<Arc<Artifact>>> = vec![None; n_nodes];
    let mut outcomes: Vec<Option<NodeOutcome>> = vec![None; n_nodes];
    let mut waiting: Vec<usize> = graph
        .nodes
        .iter()
        .map(|node| {
            let mut distinct: Vec<usize> = node.inputs.iter().map(|input| input.node.0).collect();
            distinct.sort_unstable();
            distinct.dedup();
            distinct.len()
        })
        .collect();

    // The coordinating loop runs on this thread; only node bodies run on the pool's workers,
    // so `--jobs 1` still has its one worker free to run them.
    pool.in_place_scope(|scope| {
        let (sender, receiver) = mpsc::channel::<(usize, Result<Artifact, RunError>, f64)>();
        let spawn = |index: usize, artifacts: &[Option<Arc<Artifact>>]| {
            let node = &graph.nodes[index];
            let inputs: Vec<Arc<Artifact>> = node
                .inputs
                .iter()
                .filter_map(|input| artifacts[input.node.0].clone())
                .collect();
            let sender = sender.clone();
            let run_dir = &run_dir;
            scope.spawn(move |_| {
                let started = Instant::now();
                observer.started(node, None);
                let result = if inputs.len() != node.inputs.len() {
                    Err(RunError::Internal {
                        node: node.name.clone(),
                        message: "an input artifact is missing".into(),
                    })
                } else {
                    let ctx = NodeRun {
                        graph,
                        node,
                        inputs,
                        registry,
                        run_dir,
                        device,
                        observer,
                    };
                    // A panic in the runtime itself fails this node only.
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
                };
                let _ = sender.send((index, result, started.elapsed().as_secs_f64()));
            });
        };

        let mut running = 0;
        for index in 0..n_nodes {
            if waiting[index] == 0 {
                spawn(index, &artifacts);
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
                Ok(artifact) => {
                    artifacts[index] = Some(Arc::new(artifact));
                    let outcome = NodeOutcome::Done { seconds };
                    observer.finished(node, &outcome);
                    outcomes[index] = Some(outcome);
                    for consumer in graph.consumers(node.id) {
                        let consumer_index = consumer.id.0;
                        waiting[consumer_index] -= 1;
                        if waiting[consumer_index] == 0 && outcomes[consumer_index].is_none() {
                            spawn(consumer_index, &artifacts);
                            running += 1;
                        }
                    }
                }
                Err(error) => {
                    let outcome = NodeOutcome::Failed(error);
                    observer.finished(node, &outcome);
                    outcomes[index] = Some(outcome);
                    skip_dependents(graph, index, &mut outcomes, observer);
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
        .any(|node| matches!(node.kind, NodeKind::Report));
    if !has_report {
        // Without a report, every evaluation and every evaluated training phase makes a row.
        let rows: Vec<(String, &MetricsArtifact)> = graph
            .nodes
            .iter()
            .zip(&artifacts)
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
            if nodes::report::write_table("results", &run_dir, &table).is_ok() {
                tables.push(table);
            }
        }
    }
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
    crate::manifest::write(
        graph,
        registry,
        options,
        &run_dir,
        device,
        intra_op_threads,
        Some(finished),
    )
    .map_err(|error| format!("cannot write the manifest: {error}"))?;
    Ok(RunSummary {
        run_dir: run_dir.path.clone(),
        outcomes,
        tables,
    })
}

/// Marks every node downstream of `failed` as skipped.
fn skip_dependents(
    graph: &Graph,
    failed: usize,
    outcomes: &mut [Option<NodeOutcome>],
    observer: &dyn Observer,
) {
    let mut stack = vec![failed];
    while let Some(index) = stack.pop() {
        let cause = graph.nodes[index].name.clone();
        for consumer in graph.consumers(graph.nodes[index].id) {
            let consumer_index = consumer.id.0;
            if outcomes[consumer_index].is_none() {
                let outcome = NodeOutcome::Skipped {
                    because: format!("its input `{cause}` did not finish"),
                };
                observer.finished(consumer, &outcome);
                outcomes[consumer_index] = Some(outcome);
                stack.push(consumer_index);
            }
        }
    }
}
