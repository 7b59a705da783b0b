//! The end of a run: every node's outcome (one that never became ready is skipped), the tables
//! the run made, the data ledger, and the manifest rewritten with status `finished`.

use std::sync::Arc;

use exp_ir::{Graph, NodeKind};

use super::dispatch::{Board, Kept};
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
    let tables = collect_tables(graph, &board.artifacts, &board.kept, &run.run_dir);
    let ledger: Vec<LedgerRecord> = board
        .kept
        .into_iter()
        .flatten()
        .map(|kept| kept.ledger)
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
    kept: &[Option<Kept>],
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
            .zip(artifacts.iter().zip(kept))
            .filter_map(
                |(node, (artifact, kept))| match (artifact.as_deref(), kept) {
                    (Some(Artifact::Metrics(metrics)), _) => Some((node.name.clone(), metrics)),
                    (
                        _,
                        Some(Kept {
                            metrics: Some(metrics),
                            ..
                        }),
                    ) => Some((node.name.clone(), metrics)),
                    _ => None,
                },
            )
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
