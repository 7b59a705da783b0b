//! `manifest.json`: the record of a run. Written when the run starts (so even a killed run says
//! what it was) and rewritten when it ends, with each node's outcome and the data ledger.

use std::collections::HashMap;
use std::path::PathBuf;

use exp_ir::Graph;
use serde_json::{json, Value};
use tch::Device;

use crate::artifact::LedgerEntry;
use crate::node_outcome::NodeOutcome;
use crate::registry::Registry;
use crate::run_dir::RunDir;
use crate::run_options::RunOptions;

/// What the manifest describes, fixed for the whole run.
pub struct Record<'a> {
    pub graph: &'a Graph,
    pub registry: &'a Registry,
    pub options: &'a RunOptions,
    pub run_dir: &'a RunDir,
    pub device: Device,
    pub intra_op_threads: usize,
    /// Each node's cache key, in graph order.
    pub keys: &'a [crate::cache::NodeKey],
    /// In a one-node run, the nodes it may need: only those are listed (a job computing one
    /// node of 100,000 would otherwise write all of them).
    pub wanted: Option<&'a [bool]>,
}

pub struct Finished<'a> {
    pub outcomes: &'a [(String, NodeOutcome)],
    /// Per model-producing node: its checkpoint and the data that fed it.
    pub ledger: &'a [LedgerRecord],
}

/// One model-producing node's line of the ledger.
pub struct LedgerRecord {
    pub node: String,
    pub checkpoint: PathBuf,
    /// The model's size: the elements of its checkpoint's tensors (a tied embedding is one
    /// tensor; buffers such as a norm's running statistics count too).
    pub parameters: u64,
    pub sources: Vec<LedgerEntry>,
}

pub fn write<'a>(record: &Record<'a>, finished: Option<Finished>) -> std::io::Result<()> {
    let Record {
        graph,
        registry,
        options,
        run_dir,
        device,
        intra_op_threads,
        keys,
        wanted,
    } = *record;
    let plugins: Vec<Value> = registry
        .plugins()
        .iter()
        .map(|plugin| {
            json!({
                "name": plugin.name,
                "version": plugin.version,
                "path": plugin.path.display().to_string(),
                "sha256": registry.plugin_sha256(plugin),
                "libtorch": plugin.libtorch_version,
            })
        })
        .collect();
    // Looked up by name once per node: a scan of every outcome per node was quadratic, most
    // of the time of a cached rerun of a 6,000-node sweep.
    let outcomes: HashMap<&str, &NodeOutcome> = finished
        .as_ref()
        .map(|finished| {
            finished
                .outcomes
                .iter()
                .map(|(name, outcome)| (name.as_str(), outcome))
                .collect()
        })
        .unwrap_or_default();
    let listed: Vec<&exp_ir::Node> = graph
        .nodes
        .iter()
        .filter(|node| wanted.is_none_or(|wanted| wanted[node.id.0]))
        .collect();
    let node_entry = |node: &&'a exp_ir::Node| NodeEntry {
        cache_key: keys.get(node.id.0).map(|node_key| node_key.key.as_str()),
        inputs: node
            .inputs
            .iter()
            .map(|input| InputEntry {
                node: &graph.node(input.node).name,
                role: &input.role,
            })
            .collect(),
        kind: node.kind.word(),
        name: &node.name,
        outcome: outcomes
            .get(node.name.as_str())
            .map(|outcome| outcome.to_json()),
        seed: node.seed,
        spec: &node.kind,
    };
    let ledger_entry = |line: &LedgerRecord| {
        let checkpoint = &line.checkpoint;
        json!({
            "node": line.node,
            "checkpoint": checkpoint.strip_prefix(&run_dir.path).unwrap_or(checkpoint).display().to_string(),
            "parameters": line.parameters,
            "sources": line.sources,
        })
    };
    // The keys in alphabetical order, as a JSON object of them always had them. The nodes and
    // the ledger are written one entry at a time straight into the file: built whole and
    // printed into one string, a 6,000-node manifest took more memory than everything else
    // the run held.
    let manifest = Manifest {
        device: crate::device::device_name(device),
        exp_version: &options.exp_version,
        experiment: &graph.experiment,
        file: json!({ "path": options.source_path, "sha256": options.source_sha256 }),
        ledger: finished
            .as_ref()
            .map(|finished| Each(finished.ledger, &ledger_entry)),
        libtorch: exp_plugin_api::libtorch_version(),
        nodes: Each(&listed, &node_entry),
        plugins,
        seed: graph.seed,
        status: if finished.is_some() {
            "finished"
        } else {
            "running"
        },
        threads: json!({ "jobs": options.jobs, "intra_op": intra_op_threads }),
    };
    RunDir::write_atomic_with(&run_dir.path.join("manifest.json"), |writer| {
        serde_json::to_writer_pretty(writer, &manifest).map_err(std::io::Error::other)
    })
}

/// `manifest.json`'s top level, its keys in alphabetical order.
#[derive(serde::Serialize)]
struct Manifest<'a, N, L> {
    device: String,
    exp_version: &'a str,
    experiment: &'a str,
    file: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    ledger: Option<L>,
    libtorch: &'static str,
    nodes: N,
    plugins: Vec<Value>,
    seed: u64,
    status: &'static str,
    threads: Value,
}

/// One node's entry, its keys in alphabetical order (those of the JSON object it replaced),
/// written straight into the file: building a JSON value of each node's specification first
/// was most of the time of writing a large sweep's manifest.
#[derive(serde::Serialize)]
struct NodeEntry<'a> {
    cache_key: Option<&'a str>,
    inputs: Vec<InputEntry<'a>>,
    kind: &'static str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<Value>,
    seed: u64,
    spec: &'a exp_ir::NodeKind,
}

#[derive(serde::Serialize)]
struct InputEntry<'a> {
    node: &'a str,
    role: &'a str,
}

/// A JSON array of `entry` of each item, made one at a time as it is written.
struct Each<'a, T, F>(&'a [T], &'a F);

impl<T, R: serde::Serialize, F: Fn(&T) -> R> serde::Serialize for Each<'_, T, F> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq as _;
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            seq.serialize_element(&(self.1)(item))?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::{Each, Manifest};

    #[test]
    fn the_streamed_manifest_reads_as_the_json_object_it_replaces() {
        let nodes = ["a", "b"];
        let entry = |name: &&str| json!({ "name": name, "kind": "train", "seed": 1 });
        let lines = [3u64];
        let line = |parameters: &u64| json!({ "parameters": parameters });
        let manifest = |finished: bool| Manifest {
            device: "cpu".into(),
            exp_version: "0.1.0",
            experiment: "e",
            file: json!({ "path": "e.exp", "sha256": "00" }),
            ledger: finished.then_some(Each(&lines, &line)),
            libtorch: "2.13.0",
            nodes: Each(&nodes, &entry),
            plugins: vec![json!({ "name": "std" })],
            seed: 7,
            status: if finished { "finished" } else { "running" },
            threads: json!({ "jobs": 2, "intra_op": 1 }),
        };
        for finished in [false, true] {
            let streamed = serde_json::to_string_pretty(&manifest(finished)).unwrap();
            // The same document built whole, as `manifest.json` was written before: a JSON
            // object's keys come out in alphabetical order.
            let mut whole = json!({
                "device": "cpu",
                "exp_version": "0.1.0",
                "experiment": "e",
                "file": { "path": "e.exp", "sha256": "00" },
                "libtorch": "2.13.0",
                "nodes": nodes.iter().map(entry).collect::<Vec<Value>>(),
                "plugins": [{ "name": "std" }],
                "seed": 7,
                "status": if finished { "finished" } else { "running" },
                "threads": { "jobs": 2, "intra_op": 1 },
            });
            if finished {
                whole["ledger"] = Value::Array(lines.iter().map(line).collect());
            }
            assert_eq!(streamed, serde_json::to_string_pretty(&whole).unwrap());
        }
    }

    #[test]
    fn a_node_entry_has_the_fields_and_values_of_the_object_it_replaces() {
        use super::{InputEntry, NodeEntry};
        let kind = exp_ir::NodeKind::Evaluate {
            metrics: Vec::new().into(),
            splits: vec!["test".to_string()],
        };
        let entry = NodeEntry {
            cache_key: Some("abc"),
            inputs: vec![InputEntry {
                node: "t",
                role: "model",
            }],
            kind: kind.word(),
            name: "e",
            outcome: Some(json!({ "status": "cached", "key": "abc" })),
            seed: 3,
            spec: &kind,
        };
        let text = serde_json::to_string(&entry).unwrap();
        let read: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            read,
            json!({
                "name": "e",
                "kind": "evaluate",
                "seed": 3,
                "cache_key": "abc",
                "inputs": [{ "role": "model", "node": "t" }],
                "spec": kind,
                "outcome": { "status": "cached", "key": "abc" },
            })
        );
        // Keys in alphabetical order, as a JSON object had them.
        let keys = [
            "cache_key",
            "inputs",
            "kind",
            "name",
            "outcome",
            "seed",
            "spec",
        ];
        let at: Vec<usize> = keys
            .iter()
            .map(|key| text.find(&format!("\"{key}\":")).unwrap())
            .collect();
        assert!(at.windows(2).all(|pair| pair[0] < pair[1]), "{text}");
    }
}
