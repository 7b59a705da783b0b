//! `manifest.json`: the record of a run. Written when the run starts (so even a killed run says
//! what it was) and rewritten when it ends, with each node's outcome and the data ledger.

use std::path::PathBuf;

use exp_ir::Graph;
use serde_json::{json, Value};
use tch::Device;

use crate::artifact::LedgerEntry;
use crate::node_outcome::NodeOutcome;
use crate::registry::Registry;
use crate::run_dir::{file_sha256, RunDir};
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

pub fn write(record: &Record, finished: Option<Finished>) -> std::io::Result<()> {
    let Record {
        graph,
        registry,
        options,
        run_dir,
        device,
        intra_op_threads,
        keys,
    } = *record;
    let plugins: Vec<Value> = registry
        .plugins()
        .iter()
        .map(|plugin| {
            json!({
                "name": plugin.name,
                "version": plugin.version,
                "path": plugin.path.display().to_string(),
                "sha256": file_sha256(&plugin.path),
                "libtorch": plugin.libtorch_version,
            })
        })
        .collect();
    let nodes: Vec<Value> = graph
        .nodes
        .iter()
        .map(|node| {
            let inputs: Vec<Value> = node
                .inputs
                .iter()
                .map(|input| json!({ "role": input.role, "node": graph.node(input.node).name }))
                .collect();
            let mut entry = json!({
                "name": node.name,
                "kind": node.kind.word(),
                "seed": node.seed,
                "cache_key": keys.get(node.id.0).map(|node_key| &node_key.key),
                "inputs": inputs,
                "spec": node.kind,
            });
            if let Some(finished) = &finished {
                if let Some((_, outcome)) = finished
                    .outcomes
                    .iter()
                    .find(|(name, _)| *name == node.name)
                {
                    entry["outcome"] = outcome.to_json();
                }
            }
            entry
        })
        .collect();
    let mut manifest = json!({
        "exp_version": options.exp_version,
        "experiment": graph.experiment,
        "file": { "path": options.source_path, "sha256": options.source_sha256 },
        "seed": graph.seed,
        "device": crate::device::device_name(device),
        "libtorch": exp_plugin_api::libtorch_version(),
        "threads": { "jobs": options.jobs, "intra_op": intra_op_threads },
        "plugins": plugins,
        "nodes": nodes,
        "status": if finished.is_some() { "finished" } else { "running" },
    });
    if let Some(finished) = &finished {
        let ledger: Vec<Value> = finished
            .ledger
            .iter()
            .map(|line| {
                let checkpoint = &line.checkpoint;
                json!({
                    "node": line.node,
                    "checkpoint": checkpoint.strip_prefix(&run_dir.path).unwrap_or(checkpoint).display().to_string(),
                    "parameters": line.parameters,
                    "sources": line.sources,
                })
            })
            .collect();
        manifest["ledger"] = Value::Array(ledger);
    }
    let text = serde_json::to_string_pretty(&manifest).map_err(std::io::Error::other)?;
    RunDir::write_atomic(&run_dir.path.join("manifest.json"), text.as_bytes())
}
