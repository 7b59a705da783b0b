//! Report nodes: gather the metrics of evaluations (or of training phases' final evaluations)
//! into a table, written as `<report>.csv` and `<report>.md` in the run directory.

use super::NodeRun;
use crate::artifact::{Artifact, MetricsArtifact};
use crate::error::RunError;
use crate::run_dir::RunDir;
use crate::table::Table;

/// Builds a table from named metric sets; columns in order of first appearance.
pub fn table_of(name: &str, rows: &[(String, &MetricsArtifact)]) -> Table {
    let mut columns: Vec<String> = Vec::new();
    for (_, metrics) in rows {
        for metric in &metrics.order {
            if !columns.contains(metric) {
                columns.push(metric.clone());
            }
        }
    }
    Table {
        name: name.to_string(),
        rows: rows
            .iter()
            .map(|(row, metrics)| {
                let values = columns
                    .iter()
                    .map(|column| metrics.values.get(column).copied())
                    .collect();
                (row.clone(), values)
            })
            .collect(),
        columns,
    }
}

pub fn write_table(node: &str, run_dir: &RunDir, table: &Table) -> Result<(), RunError> {
    for (extension, text) in [("csv", table.to_csv()), ("md", table.to_markdown())] {
        let path = run_dir.path.join(format!("{}.{extension}", table.name));
        RunDir::write_atomic(&path, text.as_bytes())
            .map_err(|error| RunError::io(node, &path, error))?;
    }
    Ok(())
}

pub fn run(ctx: &NodeRun, chart: bool) -> Result<Artifact, RunError> {
    let mut rows: Vec<(String, &MetricsArtifact)> = Vec::new();
    for (input, artifact) in ctx.node.inputs.iter().zip(&ctx.inputs) {
        let row_name = ctx.graph.node(input.node).name.clone();
        match artifact.as_ref() {
            Artifact::Metrics(metrics) => rows.push((row_name, metrics)),
            Artifact::Model(model) => rows.push((row_name, &model.metrics)),
            other => return Err(ctx.internal(format!("report row is a {}", other.kind_word()))),
        }
    }
    let table = table_of(ctx.name(), &rows);
    write_table(ctx.name(), ctx.run_dir, &table)?;
    if chart {
        let stem = ctx.run_dir.path.join(ctx.name());
        crate::plots::write_table_chart(&table, &stem).map_err(|error| RunError::Io {
            node: ctx.name().to_string(),
            path: stem.display().to_string(),
            message: error.to_string(),
        })?;
    }
    Ok(Artifact::Table(table))
}
