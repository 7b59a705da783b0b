//! Report nodes: gather the metrics of evaluations (or of training phases' final evaluations)
//! into a table, written as `<report>.csv` and `<report>.md` in the run directory.

use exp_ir::Node;

use super::NodeRun;
use crate::artifact::{Artifact, MetricsArtifact, Missing};
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
        points: Vec::new(),
        matrices: rows
            .iter()
            .map(|(_, metrics)| metrics.matrix.clone())
            .collect(),
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
    if !rows
        .iter()
        .any(|node| node.point.iter().any(|(axis, _)| axis == "seed"))
    {
        return None;
    }
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    let mut points: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for (index, node) in rows.iter().enumerate() {
        let kept: Vec<(String, String)> = node
            .point
            .iter()
            .filter(|(axis, _)| axis != "seed")
            .cloned()
            .collect();
        let family = node.family.as_deref().unwrap_or(&node.name);
        let label = if kept.is_empty() {
            family.to_string()
        } else {
            let words: Vec<String> = kept
                .iter()
                .map(|(axis, value)| format!("{axis}={value}"))
                .collect();
            format!("{family}[{}]", words.join(","))
        };
        match groups.iter_mut().find(|(known, _)| *known == label) {
            Some((_, members)) => members.push(index),
            None => {
                groups.push((label, vec![index]));
                points.push((family.to_string(), kept));
            }
        }
    }
    let mut aggregated = Table {
        name: table.name.clone(),
        columns: table.columns.clone(),
        rows: Vec::new(),
        spread: Vec::new(),
        runs: None,
        points: Vec::new(),
        matrices: Vec::new(),
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
        let finished = members
            .iter()
            .filter(|row| {
                let label = &table.rows[**row].0;
                ![Missing::Failed, Missing::Skipped]
                    .iter()
                    .any(|missing| label.ends_with(missing.mark()))
            })
            .count();
        aggregated.rows.push((label, means));
        aggregated.spread.push((finished, stds));
        let matrices: Vec<&Vec<Vec<f64>>> = members
            .iter()
            .filter_map(|row| table.matrices.get(*row).and_then(Option::as_ref))
            .collect();
        aggregated.matrices.push(mean_matrix(&matrices));
    }
    aggregated.points = points;
    Some(aggregated)
}

/// Writes a report's files: the table (and its runs), the bar chart with `chart`, and a chart
/// of every metric against a sweep axis with `against`. Used on a fresh run and when the table
/// comes from the cache.
pub fn write_report(
    node: &str,
    run_dir: &RunDir,
    table: &Table,
    chart: bool,
    against: Option<&str>,
) -> Result<(), RunError> {
    write_table(node, run_dir, table)?;
    let plot_error = |stem: &std::path::Path, error: crate::plots::PlotError| RunError::Io {
        node: node.to_string(),
        path: stem.display().to_string(),
        message: error.to_string(),
    };
    if chart {
        let stem = run_dir.path.join(node);
        crate::plots::write_table_chart(table, &stem).map_err(|error| plot_error(&stem, error))?;
    }
    // A task sequence's accuracy matrix per row (the mean over its replicates).
    for ((label, _), matrix) in table.rows.iter().zip(&table.matrices) {
        let Some(matrix) = matrix else {
            continue;
        };
        let stem = run_dir.path.join(format!("{node}.{label}.heatmap"));
        crate::plots::write_heatmap(&format!("{label}: accuracy after each task"), matrix, &stem)
            .map_err(|error| plot_error(&stem, error))?;
    }
    if let Some(axis) = against {
        for (column_index, column) in table.columns.iter().enumerate() {
            let series = series_against(table, column_index, axis);
            if series.is_empty() {
                continue;
            }
            let stem = run_dir.path.join(format!("{node}.{column}_vs_{axis}"));
            crate::plots::write_line_chart(
                &format!("{node}: {column}"),
                axis,
                column,
                &series,
                &stem,
            )
            .map_err(|error| plot_error(&stem, error))?;
        }
    }
    Ok(())
}

/// The element-wise mean of matrices of one shape; `None` without any (or with mixed shapes).
fn mean_matrix(matrices: &[&Vec<Vec<f64>>]) -> Option<Vec<Vec<f64>>> {
    let first = matrices.first()?;
    let same_shape = matrices.iter().all(|matrix| {
        matrix.len() == first.len()
            && matrix
                .iter()
                .zip(first.iter())
                .all(|(a, b)| a.len() == b.len())
    });
    if !same_shape {
        return None;
    }
    let count = matrices.len() as f64;
    Some(
        first
            .iter()
            .enumerate()
            .map(|(i, row)| {
                (0..row.len())
                    .map(|j| matrices.iter().map(|matrix| matrix[i][j]).sum::<f64>() / count)
                    .collect()
            })
            .collect(),
    )
}

/// One line per family and setting of the other axes: (x = the axis value, mean, std).
fn series_against(table: &Table, column: usize, axis: &str) -> Vec<crate::plots::AxisSeries> {
    let mut series: Vec<crate::plots::AxisSeries> = Vec::new();
    for (row, (family, point)) in table.points.iter().enumerate() {
        let Some(x) = point
            .iter()
            .find(|(name, _)| name == axis)
            .and_then(|(_, value)| exp_ir::graph::axis_number(value))
        else {
            continue;
        };
        let Some(mean) = table.rows[row].1[column] else {
            continue;
        };
        let std = table.spread.get(row).and_then(|(_, stds)| stds[column]);
        let others: Vec<String> = point
            .iter()
            .filter(|(name, _)| name != axis)
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        let label = if others.is_empty() {
            family.clone()
        } else {
            format!("{family} {}", others.join(","))
        };
        match series.iter_mut().find(|line| line.label == label) {
            Some(line) => line.points.push((x, mean, std)),
            None => series.push(crate::plots::AxisSeries {
                label,
                points: vec![(x, mean, std)],
            }),
        }
    }
    for line in &mut series {
        line.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    series
}

pub fn run(ctx: &NodeRun, chart: bool, against: Option<&str>) -> Result<Artifact, RunError> {
    let mut rows: Vec<(String, &MetricsArtifact)> = Vec::new();
    let mut nodes: Vec<&Node> = Vec::new();
    for (input, artifact) in ctx.node.inputs.iter().zip(&ctx.inputs) {
        let row = ctx.graph.node(input.node);
        nodes.push(row);
        match artifact.as_ref() {
            // A row whose node failed or was skipped stays in the table, marked, without numbers.
            Artifact::Metrics(metrics) => {
                let mark = metrics.missing.map_or("", Missing::mark);
                rows.push((format!("{}{mark}", row.name), metrics))
            }
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
    write_report(ctx.name(), ctx.run_dir, &table, chart, against)?;
    Ok(Artifact::Table(table))
}
