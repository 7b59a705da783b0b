//! The end of a run: every node's outcome (one that never became ready is skipped), the tables
//! the run made, the data ledger, and the manifest rewritten with status `finished`.

use std::sync::Arc;

use exp_ir::{Graph, NodeKind};

use super::dispatch::Board;
use super::Run;
use crate::artifact::{Artifact, MetricsArtifact};
use crate::error::RunError;
use crate::manifest::{Finished, LedgerRecord};
use crate::node_outcome::NodeOutcome;
use crate::nodes;
use crate::run_dir::RunDir;
use crate::run_summary::RunSummary;
use crate::table::Table;

/// Writes what the run ended with and hands it back.
pub(super) fn finish(run: &Run, board: Board) -> Result<RunSummary, RunError> {
    let graph = run.graph;
    let outcomes: Vec<(String, NodeOutcome)> = graph
        .nodes
        .iter()
        .zip(board.outcomes)
        .map(|(node, outcome)| {
            let outcome = outcome.unwrap_or(NodeOutcome::Skipped {
                because: "it never became ready".into(),
            });
            (node.name.clone(), outcome)
        })
        .collect();
    let artifacts = board.artifacts;
    let tables = collect_tables(graph, &artifacts, &run.run_dir);
    let ledger: Vec<_> = graph
        .nodes
        .iter()
        .zip(&artifacts)
        .filter_map(|(node, artifact)| match artifact.as_deref() {
            Some(Artifact::Model(model)) => Some(LedgerRecord {
                node: node.name.clone(),
                checkpoint: model.checkpoint.clone(),
                parameters: model.parameter_count(),
                sources: model.ledger.clone(),
            }),
            _ => None,
        })
        .collect();
    let finished = Finished {
        outcomes: &outcomes,
        ledger: &ledger,
    };
    run.write_manifest(Some(finished))?;
    Ok(RunSummary {
        run_dir: run.run_dir.path.clone(),
        outcomes,
        tables,
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
