//! Executes a graph: nodes start as soon as their inputs are ready, independent nodes run in
//! parallel on a rayon pool of `jobs` workers, and a failure stays local: the failed node's
//! dependents are skipped, every other node still runs, and the summary lists each failure.
//!
//! A run goes through four parts, in this order:
//!
//! - `Run::start` (here): resolves the device, creates the run directory, opens the cache, fixes
//!   libtorch's intra-op threads, computes every node's cache key, and writes `manifest.json`
//!   with status `running`.
//! - `plan`: looks every key up and decides, per node, whether it is restored from the cache,
//!   runs, or is not needed (a dataset whose readers all come from the cache); explains each
//!   decision when asked.
//! - `dispatch`: the coordinating loop. A node restored from the cache waits for nothing; one
//!   that runs waits for its inputs. Node bodies run on the pool; the loop, on the calling
//!   thread, records each outcome, releases the nodes that were waiting on it, and skips the
//!   dependents of a failure (except reports, which run with the rows they have).
//! - `finish`: gathers the outcomes, the tables (a default `results` table when the file has no
//!   report but something was evaluated) and the data ledger, and rewrites the manifest with
//!   status `finished`.

mod dispatch;
mod finish;
mod plan;
#[cfg(test)]
mod testing;

use exp_ir::Graph;
use tch::Device;

use crate::cache::{self, Cache, NodeKey};
use crate::error::RunError;
use crate::manifest::{Finished, Record};
use crate::observer::Observer;
use crate::registry::Registry;
use crate::run_dir::RunDir;
use crate::run_options::{OnlyNode, RunOptions};
use crate::run_summary::RunSummary;

/// Runs the whole graph. `Err` only for problems that stop everything before any node runs
/// (no such device, run directory not writable), or that keep the run's record from being
/// written at the end.
pub fn execute(
    graph: &Graph,
    registry: &Registry,
    options: &RunOptions,
    observer: &dyn Observer,
) -> Result<RunSummary, RunError> {
    let run = Run::start(graph, registry, options)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.jobs.max(1))
        .build()
        .map_err(|error| RunError::WorkerThreads {
            message: error.to_string(),
        })?;
    let decisions = plan::plan(
        graph,
        &run.keys,
        run.wanted.as_deref(),
        run.cache.as_ref(),
        options,
        observer,
        &pool,
    );
    let board = dispatch::dispatch(&run, decisions, observer, &pool)?;
    finish::finish(&run, board)
}

/// The node a one-node run was asked for, by index.
fn only_index(graph: &Graph, only: &OnlyNode) -> Result<usize, RunError> {
    graph
        .find(&only.name)
        .map(|node| node.id.0)
        .ok_or_else(|| RunError::OnlyNode {
            node: only.name.clone(),
            message: "the experiment file has no such node (was it changed since the run started?)"
                .to_string(),
        })
}

/// Node `index` and every node above it (its inputs, theirs, ...), by index.
fn above(graph: &Graph, index: usize) -> Vec<bool> {
    reach_up(graph, index, |_| true)
}

/// Node `index` and the nodes above it reached going up through those `through` accepts
/// (a node it refuses is reached, but not what is above it), by index.
fn reach_up(graph: &Graph, index: usize, through: impl Fn(usize) -> bool) -> Vec<bool> {
    let mut reached = vec![false; graph.nodes.len()];
    let mut stack = vec![index];
    while let Some(index) = stack.pop() {
        if !std::mem::replace(&mut reached[index], true) && through(index) {
            stack.extend(graph.nodes[index].inputs.iter().map(|input| input.node.0));
        }
    }
    reached
}

/// A one-node run (a Slurm job) computes the node its head process asked for, under the same
/// key; anything else would store a result under a key nobody looks up.
fn check_key(keys: &[NodeKey], index: usize, only: &OnlyNode) -> Result<(), RunError> {
    let here = &keys[index].key;
    if *here != only.key {
        return Err(RunError::OnlyNode {
            node: only.name.clone(),
            message: format!(
                "its key here is {} but the run that asked for it computed {}: the file, exp, its plugins or the device differ between the two machines; run both from one installation on the shared filesystem",
                &here[..12.min(here.len())],
                &only.key[..12.min(only.key.len())]
            ),
        });
    }
    Ok(())
}

/// What every part of a run shares once it has started.
struct Run<'a> {
    graph: &'a Graph,
    registry: &'a Registry,
    options: &'a RunOptions,
    device: Device,
    run_dir: RunDir,
    cache: Option<Cache>,
    intra_op_threads: usize,
    /// Each node's cache key, in graph order (empty for a node not `wanted`).
    keys: Vec<NodeKey>,
    /// In a one-node run, the nodes it may need: that node and everything above it.
    wanted: Option<Vec<bool>>,
}

impl<'a> Run<'a> {
    /// Everything before the first node is looked at: the device, the run directory, the
    /// cache, the thread count, the keys, and the manifest of a run under way.
    fn start(
        graph: &'a Graph,
        registry: &'a Registry,
        options: &'a RunOptions,
    ) -> Result<Run<'a>, RunError> {
        let device = options.device.resolve()?;
        let run_dir = RunDir::create(&options.run_dir).map_err(|error| RunError::RunDirectory {
            path: options.run_dir.display().to_string(),
            message: error.to_string(),
        })?;
        let cache = match &options.cache_dir {
            Some(dir) => Some(Cache::open(dir, options.cache_files).map_err(|error| {
                RunError::CacheDirectory {
                    path: dir.display().to_string(),
                    message: error.to_string(),
                }
            })?),
            None => None,
        };
        // Every node computes with the same intra-op thread count whatever `jobs` is: a
        // kernel's reduction order follows its thread count, so deriving it from `jobs` (as exp
        // once did) made `--jobs 1` and `--jobs 2` write different checkpoints. The count is in
        // every key.
        let intra_op_threads = options.threads.max(1);
        tch::set_num_threads(intra_op_threads as i32);
        // A one-node run looks at nothing but that node and what is above it.
        let only = match &options.only {
            Some(only) => Some((only, only_index(graph, only)?)),
            None => None,
        };
        let wanted = only.map(|(_, index)| above(graph, index));
        let keys = cache::node_keys(
            graph,
            registry,
            device,
            intra_op_threads,
            &options.exp_version,
            wanted.as_deref(),
        )?;
        if let Some((only, index)) = only {
            check_key(&keys, index, only)?;
        }
        let run = Run {
            graph,
            registry,
            options,
            device,
            run_dir,
            cache,
            intra_op_threads,
            keys,
            wanted,
        };
        run.write_manifest(None)?;
        Ok(run)
    }

    /// What the manifest describes, fixed for the whole run.
    fn record(&self) -> Record<'_> {
        Record {
            graph: self.graph,
            registry: self.registry,
            options: self.options,
            run_dir: &self.run_dir,
            device: self.device,
            intra_op_threads: self.intra_op_threads,
            keys: &self.keys,
            wanted: self.wanted.as_deref(),
        }
    }

    /// Writes `manifest.json`: under way, or `finished` with how each node ended.
    fn write_manifest(&self, finished: Option<Finished>) -> Result<(), RunError> {
        crate::manifest::write(&self.record(), finished).map_err(|error| RunError::Manifest {
            path: self
                .run_dir
                .path
                .join("manifest.json")
                .display()
                .to_string(),
            message: error.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::testing::graph;
    use super::{above, check_key, only_index};
    use crate::cache::NodeKey;
    use crate::error::RunError;
    use crate::run_options::OnlyNode;

    fn asked(name: &str, key: &str) -> OnlyNode {
        OnlyNode {
            name: name.to_string(),
            key: key.to_string(),
        }
    }

    #[test]
    fn above_a_node_are_its_inputs_and_theirs() {
        // model 0 -> merge 1 -> evaluations 2 and 3 -> report 4.
        let graph = graph();
        assert_eq!(above(&graph, 0), [true, false, false, false, false]);
        assert_eq!(above(&graph, 3), [true, true, false, true, false]);
        assert_eq!(above(&graph, 4), [true; 5]);
    }

    #[test]
    fn a_one_node_run_refuses_a_node_it_lacks_or_a_key_it_computes_otherwise() {
        let graph = graph();
        assert_eq!(only_index(&graph, &asked("n3", "k")), Ok(3));
        let Err(RunError::OnlyNode { node, message }) = only_index(&graph, &asked("n9", "k"))
        else {
            panic!("a missing node was found");
        };
        assert_eq!(node, "n9");
        assert!(message.contains("no such node"), "{message}");
        let keys: Vec<NodeKey> = ["aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"]
            .iter()
            .map(|key| NodeKey::bare(key))
            .collect();
        assert_eq!(
            check_key(&keys, 1, &asked("n1", "bbbbbbbbbbbbbbbb")),
            Ok(())
        );
        let Err(RunError::OnlyNode { node, message }) =
            check_key(&keys, 1, &asked("n1", "cccccccccccccccc"))
        else {
            panic!("a different key was accepted");
        };
        assert_eq!(node, "n1");
        assert!(
            message.contains("bbbbbbbbbbbb") && message.contains("cccccccccccc"),
            "{message}"
        );
    }
}
