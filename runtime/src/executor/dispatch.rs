//! The dispatch loop: node bodies run on a rayon pool of `jobs` workers, as soon as their
//! inputs are ready; the loop itself runs on the calling thread, so `--jobs 1` still has its
//! one worker free for them.
//!
//! Of the nodes ready, the one that became ready last starts first, and only a few more than
//! `jobs` are handed to the pool at once: a sweep then runs depth first, each seed's chain to
//! its end before the next seed's starts, so the models alive at once are a few chains' worth
//! whatever the sweep's size. Handing every ready node to the pool at once initialised all of
//! a 2,000-seed sweep's models before training any of them.
//!
//! The loop keeps a `Board`: per node, the plan's decision, its artifact, its outcome, and how
//! many distinct inputs it still waits for. Each finished body comes back over a channel as a
//! `Completion`; the loop records its outcome (observer, outcome journal, the log of a failure),
//! counts down the inputs of the nodes that read it and starts those now ready. A failure skips
//! every node downstream of it, except reports, which still run with a placeholder row for
//! what is missing.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Instant;

use exp_ir::graph::Policy;
use exp_ir::{Graph, Node, NodeKind};

use super::plan::Decision;
use super::Run;
use crate::artifact::{Artifact, MetricsArtifact, Missing};
use crate::error::RunError;
use crate::manifest::LedgerRecord;
use crate::node_outcome::NodeOutcome;
use crate::nodes::{self, NodeRun};
use crate::observer::Observer;
use crate::text::TokenStore;

/// Where every node stands. Only the coordinating loop reads or changes it.
pub(super) struct Board {
    decisions: Vec<Decision>,
    /// Each node's result while a node that reads it has not ended. A model's or a dataset's
    /// is then released (it lives on in the cache and the run directory), so that a study's
    /// memory does not grow with its nodes; what the end of the run needs of it is in `kept`.
    pub(super) artifacts: Vec<Option<Arc<Artifact>>>,
    /// What the end of the run reads of each model a node made: its ledger line and the
    /// metrics of its training phase.
    pub(super) kept: Vec<Option<Kept>>,
    pub(super) outcomes: Vec<Option<NodeOutcome>>,
    /// Distinct inputs each node still waits for; 0 for one restored from the cache.
    waiting: Vec<usize>,
    /// The distinct nodes that read each node, in graph order (computed once: asking the
    /// graph scans every node, which a study of 100,000 nodes cannot afford per node).
    consumers: Vec<Vec<usize>>,
    /// Whether each node runs in this run (rather than coming from the cache or not being
    /// needed): only such a node reads its inputs' results.
    runs: Vec<bool>,
    /// The consumers of each node that run and have not ended yet; at 0 its result is
    /// released (at once for a result only cached nodes consume).
    open_consumers: Vec<usize>,
    /// Under a licence policy, what holds every other node until the datasets are checked.
    gate: Option<Gate>,
}

/// `policy { licenses: [..] }`: no node but a dataset starts (or is restored from the cache)
/// until every dataset has been built and its licence checked, so a run that would read a
/// forbidden source is refused before anything trains.
struct Gate {
    policy: Policy,
    /// Datasets not yet built and checked.
    datasets_left: usize,
    /// Nodes ready to start, held until the datasets are checked.
    held: Vec<usize>,
    /// The first dataset the policy refused, and its licences.
    refused: Option<(String, Vec<String>)>,
}

/// What node bodies share while they run on the pool.
struct Shared<'r> {
    run: &'r Run<'r>,
    observer: &'r dyn Observer,
    /// Tokenized text outlives the run in the cache directory, beside the entries it feeds.
    tokens: TokenStore,
}

/// A node body's end, sent back to the coordinating loop.
struct Completion {
    index: usize,
    /// The node's artifact, and whether it came from the cache.
    result: Result<(Artifact, bool), RunError>,
    seconds: f64,
}

/// Runs every node the plan did not settle, on a pool of `jobs` workers.
pub(super) fn dispatch(
    run: &Run,
    decisions: Vec<Decision>,
    observer: &dyn Observer,
    pool: &rayon::ThreadPool,
) -> Result<Board, RunError> {
    let shared = Shared {
        run,
        observer,
        tokens: TokenStore::new(run.options.cache_dir.as_ref().map(|dir| dir.join("tokens"))),
    };
    let mut board = Board::new(run.graph, decisions);
    // One queued body per worker beside the running one, so no worker waits for this loop.
    let in_flight = 2 * run.options.jobs.max(1);
    pool.in_place_scope(|scope| {
        let (sender, receiver) = mpsc::channel::<Completion>();
        let mut ready = Ready::default();
        ready.push(board.ready_at_start(run.graph));
        let mut running = 0;
        loop {
            while running < in_flight {
                let Some(index) = ready.pop() else { break };
                // Skipped while it waited (a licence the policy refused).
                if board.outcomes[index].is_some() {
                    continue;
                }
                board.spawn(&shared, index, scope, &sender);
                running += 1;
            }
            if running == 0 {
                break;
            }
            let Ok(first) = receiver.recv() else {
                break;
            };
            // With every other node that ended meanwhile, before their outcomes are written out.
            for completion in std::iter::once(first).chain(receiver.try_iter()) {
                running -= 1;
                ready.push(board.complete(&shared, completion));
            }
            run.run_dir.flush_outcomes();
        }
    });
    Ok(board)
}

/// The nodes ready to start and not yet handed to the pool: last ready, first started.
#[derive(Default)]
struct Ready {
    stack: Vec<usize>,
}

impl Ready {
    /// Adds nodes that became ready together; the first of them (in graph order) starts first.
    fn push(&mut self, mut nodes: Vec<usize>) {
        nodes.reverse();
        self.stack.extend(nodes);
    }

    fn pop(&mut self) -> Option<usize> {
        self.stack.pop()
    }
}

impl Board {
    fn new(graph: &Graph, decisions: Vec<Decision>) -> Board {
        let n_nodes = graph.nodes.len();
        // A node restored from the cache waits for nothing; one that runs waits for its inputs.
        let waiting: Vec<usize> = graph
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
        let outcomes = decisions
            .iter()
            .map(|decision| {
                matches!(decision, Decision::NotNeeded).then_some(NodeOutcome::NotNeeded)
            })
            .collect();
        // Every dataset is built under a policy, except those a one-node run does not need.
        let gate = graph.policy.clone().map(|policy| Gate {
            policy,
            datasets_left: graph
                .nodes
                .iter()
                .zip(&decisions)
                .filter(|(node, decision)| {
                    is_dataset(node) && !matches!(decision, Decision::NotNeeded)
                })
                .count(),
            held: Vec::new(),
            refused: None,
        });
        let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); n_nodes];
        for node in &graph.nodes {
            for input in &node.inputs {
                let readers = &mut consumers[input.node.0];
                if readers.last() != Some(&node.id.0) {
                    readers.push(node.id.0);
                }
            }
        }
        let runs: Vec<bool> = decisions
            .iter()
            .map(|decision| matches!(decision, Decision::Run))
            .collect();
        let open_consumers = consumers
            .iter()
            .map(|readers| readers.iter().filter(|&&reader| runs[reader]).count())
            .collect();
        Board {
            decisions,
            artifacts: vec![None; n_nodes],
            kept: (0..n_nodes).map(|_| None).collect(),
            outcomes,
            waiting,
            consumers,
            runs,
            open_consumers,
            gate,
        }
    }

    /// Node `index` ended (done, cached, failed or skipped): an input whose every reader has
    /// now ended is released, unless the end of the run reads it whole (metrics, tables).
    fn ended(&mut self, graph: &Graph, index: usize, outcome: NodeOutcome) {
        self.outcomes[index] = Some(outcome);
        if !self.runs[index] {
            // A cached node read none of its inputs, and was not counted as their reader.
            return;
        }
        let mut inputs: Vec<usize> = graph.nodes[index]
            .inputs
            .iter()
            .map(|input| input.node.0)
            .collect();
        inputs.sort_unstable();
        inputs.dedup();
        for input in inputs {
            self.open_consumers[input] = self.open_consumers[input].saturating_sub(1);
            self.release_if_read(input);
        }
    }

    /// Releases node `index`'s result once no node that runs will read it any more, unless the
    /// end of the run reads it whole (metrics, tables).
    fn release_if_read(&mut self, index: usize) {
        let releasable = matches!(
            self.artifacts[index].as_deref(),
            Some(
                Artifact::Model(_)
                    | Artifact::Dataset(_)
                    | Artifact::Tokenizer(_)
                    | Artifact::Files(_)
            )
        );
        if self.open_consumers[index] == 0 && releasable {
            self.artifacts[index] = None;
        }
    }

    /// The nodes that can start at once: restored from the cache, or with no inputs.
    fn ready_at_start(&mut self, graph: &Graph) -> Vec<usize> {
        let ready = (0..self.waiting.len())
            .filter(|&index| self.waiting[index] == 0 && self.outcomes[index].is_none())
            .collect();
        self.admit(graph, ready)
    }

    /// Of the nodes now ready, those that may start: all of them, unless the licence gate is
    /// still closed, which holds every node but the datasets.
    fn admit(&mut self, graph: &Graph, ready: Vec<usize>) -> Vec<usize> {
        match &mut self.gate {
            Some(gate) if gate.datasets_left > 0 => {
                let (datasets, others): (Vec<usize>, Vec<usize>) = ready
                    .into_iter()
                    .partition(|&index| is_dataset(&graph.nodes[index]));
                gate.held.extend(others);
                datasets
            }
            _ => ready,
        }
    }

    /// A dataset built (or failed): under a licence policy, checks its licence (turning a
    /// refused one into its failure), and once every dataset is checked opens the gate:
    /// releases the held nodes, or, when one was refused, skips every node that is not a
    /// dataset. Returns the nodes released.
    fn check_dataset(
        &mut self,
        graph: &Graph,
        index: usize,
        result: &mut Result<(Artifact, bool), RunError>,
        observer: &dyn Observer,
    ) -> Vec<usize> {
        let Some(gate) = &mut self.gate else {
            return Vec::new();
        };
        let node = &graph.nodes[index];
        if let Ok((Artifact::Dataset(dataset), _)) = &*result {
            // A dataset whose examples carry their own licences must have every one allowed.
            let licenses: Vec<String> = if dataset.info.licenses.is_empty() {
                vec![dataset.info.license.clone()]
            } else {
                dataset.info.licenses.keys().cloned().collect()
            };
            let refused: Vec<String> = licenses
                .into_iter()
                .filter(|license| !gate.policy.allows(license))
                .collect();
            if !refused.is_empty() {
                gate.refused
                    .get_or_insert((node.name.clone(), refused.clone()));
                *result = Err(RunError::LicencePolicy {
                    node: node.name.clone(),
                    licenses: refused,
                    allowed: gate.policy.licenses.clone(),
                });
            }
        }
        gate.datasets_left -= 1;
        if gate.datasets_left > 0 {
            return Vec::new();
        }
        let held = std::mem::take(&mut gate.held);
        let Some((dataset, licenses)) = gate.refused.clone() else {
            return held;
        };
        let because = format!(
            "the licence policy refused dataset `{dataset}` ({}), so nothing trains",
            crate::error::licence_words(&licenses)
        );
        for other in &graph.nodes {
            if !is_dataset(other) && self.outcomes[other.id.0].is_none() {
                let outcome = NodeOutcome::Skipped {
                    because: because.clone(),
                };
                observer.finished(other, &outcome);
                self.ended(graph, other.id.0, outcome);
            }
        }
        Vec::new()
    }

    /// Starts node `index` on the pool with the artifacts of its inputs.
    fn spawn<'s>(
        &mut self,
        shared: &'s Shared<'s>,
        index: usize,
        scope: &rayon::Scope<'s>,
        sender: &mpsc::Sender<Completion>,
    ) {
        let node = &shared.run.graph.nodes[index];
        let hit = match std::mem::replace(&mut self.decisions[index], Decision::Run) {
            Decision::Cached(hit) => Some(hit),
            _ => None,
        };
        // Only a report runs with an input missing (a row whose node failed or was skipped);
        // it gets a placeholder row saying which, and its partial table is not cached.
        let partial = node
            .inputs
            .iter()
            .any(|input| self.artifacts[input.node.0].is_none());
        let inputs: Vec<Arc<Artifact>> = node
            .inputs
            .iter()
            .map(|input| {
                self.artifacts[input.node.0].clone().unwrap_or_else(|| {
                    let missing = match self.outcomes[input.node.0] {
                        Some(NodeOutcome::Skipped { .. }) => Missing::Skipped,
                        _ => Missing::Failed,
                    };
                    Arc::new(Artifact::Metrics(MetricsArtifact {
                        missing: Some(missing),
                        ..Default::default()
                    }))
                })
            })
            .collect();
        let sender = sender.clone();
        scope.spawn(move |_| {
            let started = Instant::now();
            let result = match hit {
                Some(hit) => shared.restore(index, &hit),
                None => shared.run_body(index, inputs, partial),
            };
            let _ = sender.send(Completion {
                index,
                result,
                seconds: started.elapsed().as_secs_f64(),
            });
        });
    }

    /// Records how a node ended and returns the nodes that became ready through it.
    fn complete(&mut self, shared: &Shared, completion: Completion) -> Vec<usize> {
        let Completion {
            index,
            mut result,
            seconds,
        } = completion;
        let run = shared.run;
        let graph = run.graph;
        let node = &graph.nodes[index];
        let released = if is_dataset(node) {
            self.check_dataset(graph, index, &mut result, shared.observer)
        } else {
            Vec::new()
        };
        let ready = self.record(shared, index, result, seconds);
        let mut ready = self.admit(graph, ready);
        ready.extend(released);
        ready
    }

    /// Records a node's outcome and returns its consumers that became ready through it.
    fn record(
        &mut self,
        shared: &Shared,
        index: usize,
        result: Result<(Artifact, bool), RunError>,
        seconds: f64,
    ) -> Vec<usize> {
        let run = shared.run;
        let graph = run.graph;
        let node = &graph.nodes[index];
        match result {
            Ok((artifact, from_cache)) => {
                self.kept[index] = Kept::of(node, &artifact);
                self.artifacts[index] = Some(Arc::new(artifact));
                self.release_if_read(index);
                let outcome = if from_cache {
                    NodeOutcome::Cached {
                        key: run.keys[index].key.clone(),
                    }
                } else {
                    NodeOutcome::Done { seconds }
                };
                shared.observer.finished(node, &outcome);
                record_outcome(run, &node.name, &outcome);
                self.ended(graph, index, outcome);
                let mut ready = Vec::new();
                for &consumer_index in &self.consumers[index] {
                    if self.outcomes[consumer_index].is_some() || self.waiting[consumer_index] == 0
                    {
                        continue;
                    }
                    self.waiting[consumer_index] -= 1;
                    if self.waiting[consumer_index] == 0 {
                        ready.push(consumer_index);
                    }
                }
                ready
            }
            Err(error) => {
                if crate::run_dir::is_confined_name(&node.name) {
                    // The log keeps what the one-line message leaves out; a log that cannot be
                    // written loses only that, never the failure itself.
                    let _ = run.run_dir.write_log(&node.name, &error.log_text());
                }
                let outcome = NodeOutcome::Failed(error);
                shared.observer.finished(node, &outcome);
                record_outcome(run, &node.name, &outcome);
                self.ended(graph, index, outcome);
                self.skip_dependents(graph, index, shared.observer)
            }
        }
    }

    /// Marks every node downstream of `failed` that was waiting on it as skipped, except
    /// reports: a report still runs with the rows that finished (the failed ones are marked in
    /// its table), so one failed run does not lose a study's table. Returns the reports now
    /// ready to run.
    fn skip_dependents(
        &mut self,
        graph: &Graph,
        failed: usize,
        observer: &dyn Observer,
    ) -> Vec<usize> {
        let mut ready_reports = Vec::new();
        let mut stack = vec![failed];
        while let Some(index) = stack.pop() {
            let cause = graph.nodes[index].name.clone();
            for consumer_index in self.consumers[index].clone() {
                let consumer = &graph.nodes[consumer_index];
                if matches!(consumer.kind, NodeKind::Report { .. })
                    && self.outcomes[consumer_index].is_none()
                    && self.waiting[consumer_index] > 0
                {
                    // `waiting` counts distinct inputs, as `graph.consumers` yields each once.
                    self.waiting[consumer_index] -= 1;
                    if self.waiting[consumer_index] == 0 {
                        ready_reports.push(consumer_index);
                    }
                    continue;
                }
                // A consumer restored from the cache does not depend on this run of its input.
                if self.outcomes[consumer_index].is_none() && self.waiting[consumer_index] > 0 {
                    let outcome = NodeOutcome::Skipped {
                        because: format!("its input `{cause}` did not finish"),
                    };
                    observer.finished(consumer, &outcome);
                    self.ended(graph, consumer_index, outcome);
                    stack.push(consumer_index);
                }
            }
        }
        ready_reports
    }
}

impl Shared<'_> {
    /// Why node `index` may not start at all: a name that would write outside the run
    /// directory, or a stop asked for.
    fn refusal(&self, index: usize) -> Option<RunError> {
        let node = &self.run.graph.nodes[index];
        if !crate::run_dir::is_confined_name(&node.name) {
            return Some(RunError::Mismatch {
                node: node.name.clone(),
                message: format!(
                    "the name `{}` would write outside the run directory; name nodes with plain identifiers",
                    node.name
                ),
            });
        }
        if self.run.options.stop.load(Ordering::SeqCst) {
            return Some(RunError::Interrupted {
                node: node.name.clone(),
                step: None,
                checkpointed: false,
            });
        }
        None
    }

    /// Node `index` from its cache entry: its artifact, with its files written into the run
    /// directory.
    fn restore(&self, index: usize, hit: &crate::cache::Hit) -> Result<(Artifact, bool), RunError> {
        let run = self.run;
        let node = &run.graph.nodes[index];
        if let Some(error) = self.refusal(index) {
            return Err(error);
        }
        let result = hit
            .restore(node, &run.run_dir, run.device)
            .map(|artifact| (artifact, true));
        self.remember(index, &result);
        result
    }

    /// Runs node `index`'s body, and stores its result in the cache (unless it is a report
    /// with rows missing).
    fn run_body(
        &self,
        index: usize,
        inputs: Vec<Arc<Artifact>>,
        partial: bool,
    ) -> Result<(Artifact, bool), RunError> {
        let run = self.run;
        let node = &run.graph.nodes[index];
        if let Some(error) = self.refusal(index) {
            return Err(error);
        }
        let cache = run.cache.as_ref();
        if let (Some(remote), Some(cache)) = (&run.options.remote, cache) {
            if crate::remote::runs_remotely(node) {
                return self.compute_remotely(index, remote.as_ref(), cache);
            }
        }
        self.observer.started(node, None);
        let node_key = &run.keys[index];
        let ctx = NodeRun {
            graph: run.graph,
            node,
            inputs,
            registry: run.registry,
            run_dir: &run.run_dir,
            device: run.device,
            observer: self.observer,
            resume_dir: cache.map(|cache| cache.partial_dir(&node_key.key)),
            stop: &run.options.stop,
            keys: &run.keys,
            tokens: &self.tokens,
        };
        let result = run_node(&ctx).map(|artifact| {
            if let Some(cache) = cache.filter(|_| !partial) {
                if let Err(error) =
                    cache.store(node_key, &artifact, run.run_dir.take_logged(&node.name))
                {
                    self.observer.message(
                        node,
                        &format!("could not store the result in the cache: {error}"),
                    );
                }
            }
            (artifact, false)
        });
        self.remember(index, &result);
        result
    }

    /// Node `index` computed elsewhere: once the remote executor says its result is in the
    /// cache, it is restored from there like a cached node (its files into this run
    /// directory), but counts as done in this run.
    fn compute_remotely(
        &self,
        index: usize,
        remote: &dyn crate::remote::Remote,
        cache: &crate::cache::Cache,
    ) -> Result<(Artifact, bool), RunError> {
        let run = self.run;
        let node = &run.graph.nodes[index];
        let key = &run.keys[index].key;
        let remote_node = crate::remote::RemoteNode {
            graph: run.graph,
            node,
            key,
            cache_dir: cache.root(),
            run_dir: &run.run_dir.path,
        };
        remote.compute(&remote_node, self.observer)?;
        let result = match cache.lookup(key) {
            Ok(hit) => hit
                .restore(node, &run.run_dir, run.device)
                .map(|artifact| (artifact, false)),
            Err(problem) => Err(RunError::Restore {
                node: node.name.clone(),
                entry: key[..12].to_string(),
                message: format!(
                    "its job finished but left no usable cache entry ({}); is the cache directory on a filesystem the cluster's nodes share?",
                    problem.words()
                ),
            }),
        };
        self.remember(index, &result);
        result
    }

    /// Keeps the key parts of a node that finished, for the next `--explain`.
    fn remember(&self, index: usize, result: &Result<(Artifact, bool), RunError>) {
        let run = self.run;
        if let (Some(cache), Ok(_)) = (&run.cache, result) {
            let node = &run.graph.nodes[index];
            cache.remember(&run.graph.experiment, &node.name, &run.keys[index]);
        }
    }
}

/// What the end of a run reads of a model once the model itself is released.
pub(super) struct Kept {
    pub(super) ledger: LedgerRecord,
    /// The final evaluation of a training phase, for the default results table.
    pub(super) metrics: Option<MetricsArtifact>,
}

impl Kept {
    fn of(node: &Node, artifact: &Artifact) -> Option<Kept> {
        let Artifact::Model(model) = artifact else {
            return None;
        };
        Some(Kept {
            ledger: LedgerRecord {
                node: node.name.clone(),
                checkpoint: model.checkpoint.clone(),
                parameters: model.weights.parameters(),
                sources: model.ledger.clone(),
            },
            metrics: (!model.metrics.order.is_empty()).then(|| model.metrics.clone()),
        })
    }
}

fn is_dataset(node: &Node) -> bool {
    matches!(node.kind, NodeKind::Dataset { .. })
}

/// Journals how a node ended (`outcomes.jsonl`), as the manifest will record it.
fn record_outcome(run: &Run, name: &str, outcome: &NodeOutcome) {
    let mut line = outcome.to_json();
    line["node"] = serde_json::Value::from(name);
    run.run_dir.record_outcome(&line);
}

/// Runs one node's body; a panic in the runtime itself fails this node only.
fn run_node(ctx: &NodeRun) -> Result<Artifact, RunError> {
    let node = ctx.node;
    if ctx.inputs.len() != node.inputs.len() {
        return Err(RunError::Internal {
            node: node.name.clone(),
            message: "an input artifact is missing".into(),
        });
    }
    catch_unwind(AssertUnwindSafe(|| nodes::run(ctx))).unwrap_or_else(|payload| {
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use exp_ir::ComponentKind;

    use super::super::testing::{component, graph};
    use super::{Board, Decision, Ready};
    use crate::artifact::{Artifact, MetricsArtifact, ModelArtifact};
    use crate::node_outcome::NodeOutcome;

    fn model() -> Arc<Artifact> {
        Arc::new(Artifact::Model(ModelArtifact {
            architecture: component(ComponentKind::Model, "mlp"),
            data: Default::default(),
            weights: crate::weights::Weights::new(Vec::new()),
            checkpoint: "m.safetensors".into(),
            ledger: Vec::new(),
            metrics: MetricsArtifact::default(),
            hooks: Mutex::new(Vec::new()),
            memory: Default::default(),
            tokenizer: None,
        }))
    }

    fn done() -> NodeOutcome {
        NodeOutcome::Done { seconds: 0.0 }
    }

    #[test]
    fn a_model_is_released_when_its_last_reader_ends_and_metrics_are_kept() {
        let graph = graph();
        let mut board = Board::new(&graph, (0..5).map(|_| Decision::Run).collect());
        // Each reader once, however many times it reads a node.
        assert_eq!(
            board.consumers,
            [vec![1], vec![2, 3], vec![4], vec![4], vec![]]
        );
        board.artifacts[0] = Some(model());
        board.ended(&graph, 0, done());
        board.artifacts[1] = Some(model());
        // The merge read the model twice and ended once: the model goes.
        board.ended(&graph, 1, done());
        assert!(board.artifacts[0].is_none());
        board.artifacts[2] = Some(Arc::new(Artifact::Metrics(MetricsArtifact::default())));
        board.ended(&graph, 2, done());
        // One evaluation of the merge is still open: it stays.
        assert!(board.artifacts[1].is_some());
        board.artifacts[3] = Some(Arc::new(Artifact::Metrics(MetricsArtifact::default())));
        board.ended(
            &graph,
            3,
            NodeOutcome::Skipped {
                because: "test".into(),
            },
        );
        assert!(board.artifacts[1].is_none());
        // Metrics are what the end of the run reads whole: the report's ending keeps them.
        board.ended(&graph, 4, done());
        assert!(board.artifacts[2].is_some() && board.artifacts[3].is_some());
        assert!(board.outcomes.iter().all(Option::is_some));
    }

    #[test]
    fn a_result_no_running_node_reads_is_released_as_it_ends() {
        let graph = graph();
        // The merge (1) is read by two evaluations (2, 3), of which only 3 runs; the report
        // (4) reads both. The initialisation (0) is read by the merge only.
        let decisions = [
            Decision::NotNeeded,
            Decision::Run,
            Decision::NotNeeded,
            Decision::Run,
            Decision::Run,
        ];
        let mut board = Board::new(&graph, decisions.into_iter().collect());
        assert_eq!(board.open_consumers, [1, 1, 1, 1, 0]);
        board.artifacts[1] = Some(model());
        // Evaluation 2 does not run: its end reads nothing and releases nothing.
        board.ended(&graph, 2, done());
        assert!(board.artifacts[1].is_some());
        assert_eq!(board.open_consumers[1], 1);
        board.ended(&graph, 3, done());
        assert!(board.artifacts[1].is_none());
        // A model no node that runs reads goes as soon as it is recorded.
        let decisions = [
            Decision::Run,
            Decision::NotNeeded,
            Decision::Run,
            Decision::Run,
            Decision::Run,
        ];
        let mut board = Board::new(&graph, decisions.into_iter().collect());
        assert_eq!(board.open_consumers[0], 0);
        board.artifacts[0] = Some(model());
        board.release_if_read(0);
        assert!(board.artifacts[0].is_none());
        // Metrics stay for the end of the run, read or not.
        board.artifacts[4] = Some(Arc::new(Artifact::Metrics(MetricsArtifact::default())));
        board.release_if_read(4);
        assert!(board.artifacts[4].is_some());
    }

    #[test]
    fn the_node_ready_last_starts_first_and_nodes_ready_together_in_graph_order() {
        let mut ready = Ready::default();
        ready.push(vec![1, 2, 3]);
        assert_eq!(ready.pop(), Some(1));
        // 1 ended and made 7 and 8 ready: its chain goes on before 2 starts.
        ready.push(vec![7, 8]);
        assert_eq!(ready.pop(), Some(7));
        assert_eq!(ready.pop(), Some(8));
        assert_eq!(ready.pop(), Some(2));
        assert_eq!(ready.pop(), Some(3));
        assert_eq!(ready.pop(), None);
    }
}
