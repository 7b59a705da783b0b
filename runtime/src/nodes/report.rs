//! Report nodes: gather the metrics of evaluations (or of training phases' final evaluations)
//! into a table, written as `<report>.csv` and `<report>.md` in the run directory.

use exp_ir::Node;

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
        spread: Vec::new(),
        runs: None,
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
    if let Some(runs) = &table.runs {
        write_table(node, run_dir, runs)?;
    }
    for (extension, text) in [("csv", table.to_csv()), ("md", table.to_markdown())] {
        let path = run_dir.path.join(format!("{}.{extension}", table.name));
        RunDir::write_atomic(&path, text.as_bytes())
            .map_err(|error| RunError::io(node, &path, error))?;
    }
    Ok(())
}

/// Groups replicates: rows whose nodes share a family and differ only in their `seed` axis
/// become one row of means with their standard deviations. `None` when no row has a seed axis.
pub fn replicate_table(table: &Table, rows: &[&Node]) -> Option<Table> {
    if !rows.iter().any(|node| node.point.iter().any(|(axis, _)| axis == "seed")) {
        return None;
    }
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (index, node) in rows.iter().enumerate() {
        let kept: Vec<String> = node
            .point
            .iter()
            .filter(|(axis, _)| axis != "seed")
            .map(|(axis, value)| format!("{axis}={value}"))
            .collect();
        let family = node.family.as_deref().unwrap_or(&node.name);
        let label = if kept.is_empty() {
            family.to_string()
        } else {
            format!("{family}[{}]", kept.join(","))
        };
        match groups.iter_mut().find(|(known, _)| *known == label) {
            Some((_, members)) => members.push(index),
            None => groups.push((label, vec![index])),
        }
    }
    let mut aggregated = Table {
        name: table.name.clone(),
        columns: table.columns.clone(),
        rows: Vec::new(),
        spread: Vec::new(),
        runs: None,
    };
    for (label, members) in groups {
        let mut means = Vec::new();
        let mut stds = Vec::new();
        for column in 0..table.columns.len() {
            let values: Vec<f64> = members
                .iter()
                .filter_map(|row| table.rows[*row].1[column])
                .collect();
            if values.is_empty() {
                means.push(None);
                stds.push(None);
                continue;
            }
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            means.push(Some(mean));
            stds.push((values.len() > 1).then(|| {
                let square: f64 = values.iter().map(|value| (value - mean).powi(2)).sum();
                (square / (values.len() - 1) as f64).sqrt()
            }));
        }
        aggregated.rows.push((label, means));
        aggregated.spread.push((members.len(), stds));
    }
    Some(aggregated)
}

pub fn run(ctx: &NodeRun, chart: bool) -> Result<Artifact, RunError> {
    let mut rows: Vec<(String, &MetricsArtifact)> = Vec::new();
    let mut nodes: Vec<&Node> = Vec::new();
    for (input, artifact) in ctx.node.inputs.iter().zip(&ctx.inputs) {
        let row = ctx.graph.node(input.node);
        nodes.push(row);
        match artifact.as_ref() {
            Artifact::Metrics(metrics) => rows.push((row.name.clone(), metrics)),
            Artifact::Model(model) => rows.push((row.name.clone(), &model.metrics)),
            other => return Err(ctx.internal(format!("report row is a {}", other.kind_word()))),
        }
    }
    let runs = table_of(ctx.name(), &rows);
    let table = match replicate_table(&runs, &nodes) {
        Some(mut aggregated) => {
            // Every run's own numbers, beside the table of means.
            let mut runs = runs;
            runs.name = format!("{}_runs", ctx.name());
            aggregated.runs = Some(Box::new(runs));
            aggregated
        }
        None => runs,
    };
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
