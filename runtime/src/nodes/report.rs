//! Report nodes: gather the metrics of evaluations (or of training phases' final evaluations)
//! into a table, written as `<report>.csv` and `<report>.md` in the run directory.
//!
//! Replicates (rows that differ only in their `seed` axis) become one row of means, standard
//! deviations and 95% intervals. With `choose`, the rows are first narrowed to one setting per
//! method, chosen by a metric (see [`choose_rows`]); every candidate's score is written beside
//! the table as `<report>_choices`.

use exp_ir::graph::Choose;
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
        matrices: rows
            .iter()
            .map(|(_, metrics)| metrics.matrix.clone())
            .collect(),
        matrix_metric: rows
            .iter()
            .find_map(|(_, metrics)| metrics.matrix_metric.clone()),
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
        ..Table::default()
    }
}

pub fn write_table(node: &str, run_dir: &RunDir, table: &Table) -> Result<(), RunError> {
    for companion in [&table.runs, &table.choices].into_iter().flatten() {
        write_table(node, run_dir, companion)?;
    }
    for (extension, text) in [("csv", table.to_csv()), ("md", table.to_markdown())] {
        let path = run_dir.path.join(format!("{}.{extension}", table.name));
        RunDir::write_atomic(&path, text.as_bytes())
            .map_err(|error| RunError::io(node, &path, error))?;
    }
    Ok(())
}

/// Rows of one family at one point of the sweep besides `seed`: replicates of one setting.
struct Group {
    /// `family[axis=value,..]` without the seed, or the family alone.
    label: String,
    family: String,
    /// The point without the seed.
    point: Vec<(String, String)>,
    /// The indices of its rows, in order.
    members: Vec<usize>,
}

/// Groups rows whose nodes share a family and differ only in their `seed` axis, in order of
/// first appearance.
fn group_replicates(rows: &[&Node]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for (index, node) in rows.iter().enumerate() {
        let kept: Vec<(String, String)> = node
            .point
            .iter()
            .filter(|(axis, _)| &**axis != "seed")
            .map(|(axis, value)| (axis.to_string(), value.to_string()))
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
        match groups.iter_mut().find(|group| group.label == label) {
            Some(group) => group.members.push(index),
            None => groups.push(Group {
                label,
                family: family.to_string(),
                point: kept,
                members: vec![index],
            }),
        }
    }
    groups
}

/// Groups replicates: rows whose nodes share a family and differ only in their `seed` axis
/// become one row of means with their standard deviations. `None` when no row has a seed axis.
pub fn replicate_table(table: &Table, rows: &[&Node]) -> Option<Table> {
    if !rows.iter().any(|node| node.axis("seed").is_some()) {
        return None;
    }
    let groups = group_replicates(rows);
    let mut aggregated = Table {
        name: table.name.clone(),
        columns: table.columns.clone(),
        matrix_metric: table.matrix_metric.clone(),
        ..Table::default()
    };
    for group in groups {
        let members = &group.members;
        let mut means = Vec::new();
        let mut stds = Vec::new();
        for column in 0..table.columns.len() {
            let values: Vec<f64> = members
                .iter()
                .filter_map(|row| table.rows[*row].1[column])
                .collect();
            let (mean, std) = mean_and_std(&values);
            means.push(mean);
            stds.push(std);
        }
        let finished = members
            .iter()
            .filter(|row| !is_missing(&table.rows[**row].0))
            .count();
        aggregated.rows.push((group.label, means));
        aggregated.spread.push((finished, stds));
        let matrices: Vec<&Vec<Vec<f64>>> = members
            .iter()
            .filter_map(|row| table.matrices.get(*row).and_then(Option::as_ref))
            .collect();
        aggregated.matrices.push(mean_matrix(&matrices));
        aggregated.points.push((group.family, group.point));
    }
    Some(aggregated)
}

/// The mean of some values and their sample standard deviation (none for fewer than two).
fn mean_and_std(values: &[f64]) -> (Option<f64>, Option<f64>) {
    if values.is_empty() {
        return (None, None);
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let std = (values.len() > 1).then(|| {
        let square: f64 = values.iter().map(|value| (value - mean).powi(2)).sum();
        (square / (values.len() - 1) as f64).sqrt()
    });
    (Some(mean), std)
}

/// Whether a row's label marks a node that failed or was skipped.
fn is_missing(label: &str) -> bool {
    [Missing::Failed, Missing::Skipped]
        .iter()
        .any(|missing| label.ends_with(missing.mark()))
}

/// What `choose` kept: the rows of the chosen settings (every replicate), their nodes, and the
/// table of every candidate's mean `by`, the chosen ones marked.
pub struct Chosen<'n> {
    pub rows: Table,
    pub nodes: Vec<&'n Node>,
    pub choices: Table,
}

/// Chooses a setting per method: groups the rows into settings (replicates together), and of
/// the settings of one family that differ only in the axes of `choose.over`, keeps the one
/// whose mean `by` is best. A setting with a run that failed, was skipped or lacks `by` is not
/// chosen; where no setting can be, the first is kept, so the table shows what went wrong.
/// Ties go to the setting listed first.
pub fn choose_rows<'n>(
    runs: &Table,
    nodes: &[&'n Node],
    choose: &Choose,
) -> Result<Chosen<'n>, String> {
    let Some(column) = runs.columns.iter().position(|column| *column == choose.by) else {
        let known: Vec<String> = runs
            .columns
            .iter()
            .map(|column| format!("`{column}`"))
            .collect();
        return Err(format!(
            "`choose` is by `{}`, which no row reports; the rows report {}",
            choose.by,
            if known.is_empty() {
                "nothing".to_string()
            } else {
                known.join(", ")
            }
        ));
    };
    let groups = group_replicates(nodes);
    // Each setting's values of `by`, and whether it may be chosen.
    let scored: Vec<(Vec<f64>, bool)> = groups
        .iter()
        .map(|group| {
            let values: Vec<f64> = group
                .members
                .iter()
                .filter_map(|row| runs.rows[*row].1[column])
                .collect();
            let eligible = values.len() == group.members.len()
                && values.iter().all(|value| value.is_finite())
                && group
                    .members
                    .iter()
                    .all(|row| !is_missing(&runs.rows[*row].0));
            (values, eligible)
        })
        .collect();
    // The candidates of one method: the family and the point outside `over`.
    let key = |group: &Group| {
        let outside: Vec<&(String, String)> = group
            .point
            .iter()
            .filter(|(axis, _)| !choose.over.contains(axis))
            .collect();
        (group.family.clone(), format!("{outside:?}"))
    };
    let mut methods: Vec<((String, String), Vec<usize>)> = Vec::new();
    for (index, group) in groups.iter().enumerate() {
        let method = key(group);
        match methods.iter_mut().find(|(known, _)| *known == method) {
            Some((_, candidates)) => candidates.push(index),
            None => methods.push((method, vec![index])),
        }
    }
    let mean = |index: usize| {
        let values = &scored[index].0;
        values.iter().sum::<f64>() / values.len().max(1) as f64
    };
    let mut winners: Vec<usize> = Vec::new();
    for (_, candidates) in &methods {
        let mut best: Option<usize> = None;
        for &candidate in candidates.iter().filter(|index| scored[**index].1) {
            let better = match best {
                None => true,
                Some(best) if choose.maximize => mean(candidate) > mean(best),
                Some(best) => mean(candidate) < mean(best),
            };
            if better {
                best = Some(candidate);
            }
        }
        winners.push(best.unwrap_or(candidates[0]));
    }
    winners.sort_unstable();

    let mut kept: Vec<usize> = winners
        .iter()
        .flat_map(|winner| groups[*winner].members.iter().copied())
        .collect();
    kept.sort_unstable();
    let rows = Table {
        name: runs.name.clone(),
        columns: runs.columns.clone(),
        rows: kept.iter().map(|row| runs.rows[*row].clone()).collect(),
        matrices: kept
            .iter()
            .map(|row| runs.matrices.get(*row).cloned().flatten())
            .collect(),
        matrix_metric: runs.matrix_metric.clone(),
        ..Table::default()
    };
    let mut choices = Table {
        name: format!("{}_choices", runs.name),
        columns: vec![choose.by.clone()],
        ..Table::default()
    };
    let replicated = groups.iter().any(|group| group.members.len() > 1)
        || nodes.iter().any(|node| node.axis("seed").is_some());
    for (index, group) in groups.iter().enumerate() {
        let mark = if winners.contains(&index) {
            " (chosen)"
        } else {
            ""
        };
        let (mean, std) = mean_and_std(&scored[index].0);
        choices
            .rows
            .push((format!("{}{mark}", group.label), vec![mean]));
        if replicated {
            choices.spread.push((scored[index].0.len(), vec![std]));
        }
    }
    Ok(Chosen {
        rows,
        nodes: kept.iter().map(|row| nodes[*row]).collect(),
        choices,
    })
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
        let metric = table.matrix_metric.as_deref().unwrap_or("accuracy");
        crate::plots::write_heatmap(&format!("{label}: {metric} after each task"), matrix, &stem)
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

pub fn run(
    ctx: &NodeRun,
    chart: bool,
    against: Option<&str>,
    choose: Option<&Choose>,
) -> Result<Artifact, RunError> {
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
    let mut runs = table_of(ctx.name(), &rows);
    let mut choices = None;
    if let Some(choose) = choose {
        let chosen = choose_rows(&runs, &nodes, choose).map_err(|message| RunError::Mismatch {
            node: ctx.name().to_string(),
            message,
        })?;
        runs = chosen.rows;
        nodes = chosen.nodes;
        choices = Some(Box::new(chosen.choices));
    }
    let mut table = match replicate_table(&runs, &nodes) {
        Some(mut aggregated) => {
            // Every run's own numbers, beside the table of means.
            let mut runs = runs;
            runs.name = format!("{}_runs", ctx.name());
            aggregated.runs = Some(Box::new(runs));
            aggregated
        }
        None => runs,
    };
    table.choices = choices;
    write_report(ctx.name(), ctx.run_dir, &table, chart, against)?;
    Ok(Artifact::Table(table))
}

#[cfg(test)]
mod tests {
    use exp_ir::graph::{ArtifactKind, Choose, NodeId, NodeKind, Origin};
    use exp_ir::Node;

    use super::{choose_rows, replicate_table};
    use crate::table::Table;

    fn node(index: usize, family: &str, point: &[(&str, &str)]) -> Node {
        Node {
            id: NodeId(index),
            name: format!("{family}{index}"),
            kind: NodeKind::Evaluate {
                metrics: Vec::new().into(),
                splits: vec!["test".to_string()],
            },
            inputs: Vec::new(),
            output: ArtifactKind::Metrics,
            seed: 0,
            origin: Origin::None,
            family: Some(family.into()),
            point: point
                .iter()
                .map(|(axis, value)| ((*axis).into(), (*value).into()))
                .collect(),
        }
    }

    fn choose(by: &str, over: &[&str], maximize: bool) -> Choose {
        Choose {
            by: by.to_string(),
            over: over.iter().map(|axis| axis.to_string()).collect(),
            maximize,
        }
    }

    #[test]
    fn a_node_answers_the_value_of_an_axis_of_its_point() {
        let node = node(0, "ft", &[("lr", "0.1"), ("seed", "2")]);
        assert_eq!(node.axis("seed"), Some("2"));
        assert_eq!(node.axis("lr"), Some("0.1"));
        assert_eq!(node.axis("se"), None);
    }

    /// The setting of lambda with the best (or lowest) mean validation accuracy.
    fn by_validation(maximize: bool) -> Choose {
        choose("validation_avg_accuracy", &["lambda"], maximize)
    }

    /// Two methods: `l2` over lambda (two seeds each) and `plain`, not swept. Validation and
    /// test disagree on purpose: lambda 0.1 wins on validation, lambda 1 on test.
    fn study() -> (Table, Vec<Node>) {
        let rows = [
            ("l2", "0.1", "1", 0.8, 0.5),
            ("l2", "0.1", "2", 0.7, 0.5),
            ("l2", "1", "1", 0.6, 0.9),
            ("l2", "1", "2", 0.6, 0.9),
        ];
        let mut nodes: Vec<Node> = rows
            .iter()
            .enumerate()
            .map(|(index, (family, lambda, seed, _, _))| {
                node(index, family, &[("seed", seed), ("lambda", lambda)])
            })
            .collect();
        nodes.push(node(4, "plain", &[]));
        let mut table = Table {
            name: "methods".to_string(),
            columns: vec!["validation_avg_accuracy".into(), "avg_accuracy".into()],
            ..Table::default()
        };
        for (index, (_, lambda, seed, validation, test)) in rows.iter().enumerate() {
            table.rows.push((
                format!("l2[seed={seed},lambda={lambda}] {index}"),
                vec![Some(*validation), Some(*test)],
            ));
        }
        table
            .rows
            .push(("plain".to_string(), vec![Some(0.1), Some(0.2)]));
        (table, nodes)
    }

    /// The metric a sequence's matrix holds reaches the report's table, and stays through
    /// choosing and grouping replicates, so that its heatmaps are titled by it.
    #[test]
    fn the_matrices_metric_goes_through_choose_and_replicates() {
        let sequence = crate::artifact::MetricsArtifact {
            matrix: Some(vec![vec![0.5]]),
            matrix_metric: Some("likelihood".to_string()),
            ..Default::default()
        };
        let plain = crate::artifact::MetricsArtifact::default();
        let table = super::table_of(
            "t",
            &[("p".to_string(), &plain), ("s".to_string(), &sequence)],
        );
        assert_eq!(table.matrix_metric.as_deref(), Some("likelihood"));
        assert!(super::table_of("t", &[("p".to_string(), &plain)])
            .matrix_metric
            .is_none());

        let (mut study, nodes) = study();
        study.matrix_metric = Some("likelihood".to_string());
        let nodes: Vec<&Node> = nodes.iter().collect();
        let chosen = choose_rows(&study, &nodes, &by_validation(true)).unwrap();
        assert_eq!(chosen.rows.matrix_metric.as_deref(), Some("likelihood"));
        let grouped = replicate_table(&chosen.rows, &chosen.nodes).unwrap();
        assert_eq!(grouped.matrix_metric.as_deref(), Some("likelihood"));
    }

    #[test]
    fn choose_keeps_the_best_mean_on_the_metric_with_every_replicate() {
        let (table, nodes) = study();
        let nodes: Vec<&Node> = nodes.iter().collect();
        let chosen = choose_rows(&table, &nodes, &by_validation(true)).unwrap();
        // lambda 0.1 (mean 0.75 on validation) over lambda 1 (0.6), though its test is worse.
        let labels: Vec<&str> = chosen
            .rows
            .rows
            .iter()
            .map(|(label, _)| label.as_str())
            .collect();
        assert_eq!(
            labels,
            [
                "l2[seed=1,lambda=0.1] 0",
                "l2[seed=2,lambda=0.1] 1",
                "plain"
            ]
        );
        assert_eq!(chosen.nodes.len(), 3);
        let choices: Vec<(&str, Option<f64>)> = chosen
            .choices
            .rows
            .iter()
            .map(|(label, values)| (label.as_str(), values[0]))
            .collect();
        assert_eq!(choices[0].0, "l2[lambda=0.1] (chosen)");
        assert!((choices[0].1.unwrap() - 0.75).abs() < 1e-12);
        assert_eq!(choices[1], ("l2[lambda=1]", Some(0.6)));
        assert_eq!(choices[2], ("plain (chosen)", Some(0.1)));
        assert_eq!(chosen.choices.name, "methods_choices");
        // The replicates of the chosen setting then become one row of means.
        let aggregated = replicate_table(&chosen.rows, &chosen.nodes).unwrap();
        assert_eq!(aggregated.rows[0].0, "l2[lambda=0.1]");
        assert_eq!(aggregated.rows[0].1[1], Some(0.5));
        assert_eq!(aggregated.spread[0].0, 2);
    }

    #[test]
    fn choose_can_minimize_and_skips_settings_with_a_failed_run() {
        let (mut table, nodes) = study();
        let nodes: Vec<&Node> = nodes.iter().collect();
        let lowest = choose_rows(&table, &nodes, &by_validation(false)).unwrap();
        assert_eq!(lowest.rows.rows[0].0, "l2[seed=1,lambda=1] 2");
        // A failed replicate rules its setting out, whatever its other runs say.
        table.rows[0].0.push_str(" (failed)");
        table.rows[0].1 = vec![None, None];
        table.rows[1].1[0] = Some(0.99);
        let chosen = choose_rows(&table, &nodes, &by_validation(true)).unwrap();
        assert_eq!(chosen.rows.rows[0].0, "l2[seed=1,lambda=1] 2");
        // Where no setting can be chosen, the first is kept, to show what went wrong.
        for row in &mut table.rows[2..4] {
            row.0.push_str(" (skipped)");
        }
        let none = choose_rows(&table, &nodes, &by_validation(true)).unwrap();
        assert_eq!(none.rows.rows[0].0, "l2[seed=1,lambda=0.1] 0 (failed)");
    }

    #[test]
    fn choose_by_a_metric_no_row_reports_is_an_error_naming_the_columns() {
        let (table, nodes) = study();
        let nodes: Vec<&Node> = nodes.iter().collect();
        let Err(message) = choose_rows(&table, &nodes, &choose("val_accuracy", &["lambda"], true))
        else {
            panic!("a metric no row reports was chosen by");
        };
        assert_eq!(
            message,
            "`choose` is by `val_accuracy`, which no row reports; the rows report \
             `validation_avg_accuracy`, `avg_accuracy`"
        );
    }
}
