//! The summary of a task sequence: the accuracy matrix A (A[i][j]: the metric on task j's test
//! split after training through task i; one matrix per split the sequence evaluates), and from
//! it
//! - `avg_accuracy`: the mean of the last row, the final average accuracy;
//! - `forgetting`: over the tasks before the last, the mean of (the best accuracy on the task
//!   after any earlier phase, from its own on) minus the final accuracy;
//! - `bwt` (backward transfer): the mean of A[T][j] − A[j][j] over the tasks before the last;
//! - `learning_accuracy`: the mean of the diagonal, each task right after training on it.
//!
//! - `param_copies` and `replay_examples`: the most any stage (the model after a task, input
//!   `stages`) held beyond the live model: parameter copies (anchors, Fisher diagonals, the
//!   checkpoints a merge reads) and stored examples (a replay buffer).
//!
//! The matrix is written as `<name>.matrix.csv` and drawn as `<name>.heatmap.png`/`.svg`; another
//! split's as `<name>.<split>.matrix.csv` and `<name>.<split>.heatmap.png`, and its summary
//! metrics are prefixed with the split (`validation_avg_accuracy`), so that a report shows the
//! split each number comes from.

use super::NodeRun;
use crate::artifact::{Artifact, Memory, MetricsArtifact};
use crate::error::RunError;
use crate::run_dir::RunDir;
use exp_ir::graph::Node;

/// The summary metrics of an accuracy matrix, in report order.
pub fn summarize(matrix: &[Vec<f64>]) -> Vec<(&'static str, f64)> {
    let tasks = matrix.len();
    if tasks == 0 {
        return Vec::new();
    }
    let last = &matrix[tasks - 1];
    let mean = |values: &[f64]| values.iter().sum::<f64>() / values.len().max(1) as f64;
    let earlier: Vec<usize> = (0..tasks - 1).collect();
    let forgetting: Vec<f64> = earlier
        .iter()
        .map(|&j| {
            let best = (j..tasks - 1)
                .map(|i| matrix[i][j])
                .fold(f64::NEG_INFINITY, f64::max);
            best - last[j]
        })
        .collect();
    let transfer: Vec<f64> = earlier.iter().map(|&j| last[j] - matrix[j][j]).collect();
    let diagonal: Vec<f64> = (0..tasks).map(|i| matrix[i][i]).collect();
    vec![
        ("avg_accuracy", mean(last)),
        ("forgetting", mean(&forgetting)),
        ("bwt", mean(&transfer)),
        ("learning_accuracy", mean(&diagonal)),
    ]
}

/// Writes one split's matrix as CSV in the node's folder, `nodes/NODE/SPLIT.matrix.csv`
/// (`matrix.csv` for the test split), and with `heatmap` as a picture beside it; used on a
/// fresh run and when restoring from the cache.
fn write_matrix(
    node: &str,
    run_dir: &RunDir,
    split: &str,
    metric: &str,
    matrix: &[Vec<f64>],
    heatmap: bool,
) -> Result<(), RunError> {
    let mut csv = String::from("after");
    for j in 1..=matrix.len() {
        csv.push_str(&format!(",task{j}"));
    }
    csv.push('\n');
    for (i, row) in matrix.iter().enumerate() {
        csv.push_str(&format!("task{}", i + 1));
        for value in row {
            csv.push_str(&format!(",{value}"));
        }
        csv.push('\n');
    }
    let folder = run_dir.node_dir(node);
    std::fs::create_dir_all(&folder).map_err(|error| RunError::io(node, &folder, error))?;
    let path = folder.join(format!("{}matrix.csv", split_prefix(split)));
    RunDir::write_atomic(&path, csv.as_bytes())
        .map_err(|error| RunError::io(node, &path, error))?;
    if !heatmap {
        return Ok(());
    }
    let stem = folder.join(format!("{}heatmap", split_prefix(split)));
    crate::plots::write_heatmap(&format!("{node}: {metric}"), matrix, &stem).map_err(|error| {
        RunError::Io {
            node: node.to_string(),
            path: stem.display().to_string(),
            message: error.to_string(),
        }
    })?;
    Ok(())
}

/// The name of a summary metric of `split`: the test split's keep their names, another
/// split's are prefixed with it (`validation_avg_accuracy`).
pub fn split_metric(split: &str, name: &str) -> String {
    match split {
        "test" => name.to_string(),
        other => format!("{other}_{name}"),
    }
}

/// What a split's files begin with in a sequence's folder: nothing for the test split
/// (`matrix.csv`), `SPLIT.` for another (`validation.matrix.csv`).
pub fn split_prefix(split: &str) -> String {
    match split {
        "test" => String::new(),
        other => format!("{other}."),
    }
}

/// The split whose matrix a sequence's summary carries as its `matrix` (drawn in reports):
/// the test split when evaluated, else the first.
pub fn primary_split(splits: &[String]) -> &str {
    splits
        .iter()
        .find(|split| *split == "test")
        .or(splits.first())
        .map_or("test", String::as_str)
}

/// Writes every split's matrix of a summary (`matrix` is the primary split's, the others are
/// in `split_matrices`), with heatmaps where `heatmap` says.
pub fn write_matrices(
    node: &Node,
    run_dir: &RunDir,
    metric: &str,
    splits: &[String],
    heatmap: Option<bool>,
    metrics: &MetricsArtifact,
) -> Result<(), RunError> {
    let heatmap = draws_heatmap(node, heatmap);
    let primary = primary_split(splits);
    if let Some(matrix) = &metrics.matrix {
        write_matrix(&node.name, run_dir, primary, metric, matrix, heatmap)?;
    }
    for (split, matrix) in &metrics.split_matrices {
        write_matrix(&node.name, run_dir, split, metric, matrix, heatmap)?;
    }
    Ok(())
}

/// Whether a sequence's copy draws its heatmaps: as its `heatmap:` field says, and without one
/// only outside every sweep (a copy with a sweep point, seeds included, leaves its picture to
/// the reports, which draw the mean over copies).
pub fn draws_heatmap(node: &Node, heatmap: Option<bool>) -> bool {
    heatmap.unwrap_or(node.point.is_empty())
}

pub fn run(
    ctx: &NodeRun,
    tasks: usize,
    metric: &str,
    splits: &[String],
    heatmap: Option<bool>,
) -> Result<Artifact, RunError> {
    let rows = ctx.inputs_with_role("rows");
    // `stages` (the model after each task) come first in the inputs; the checks below count
    // the evaluations only.
    let cells = tasks * tasks;
    if rows.len() != cells * splits.len() {
        return Err(ctx.internal(format!(
            "a sequence of {tasks} tasks evaluated on {} split(s) needs {} evaluations, found {}",
            splits.len(),
            cells * splits.len(),
            rows.len()
        )));
    }
    let mut metrics = MetricsArtifact {
        matrix_metric: Some(metric.to_string()),
        ..MetricsArtifact::default()
    };
    let primary = primary_split(splits);
    for (split, block) in splits.iter().zip(rows.chunks(cells)) {
        let mut matrix = vec![vec![0.0; tasks]; tasks];
        for (index, artifact) in block.iter().enumerate() {
            let Artifact::Metrics(evaluation) = artifact else {
                return Err(ctx.internal("a sequence evaluation is not a metrics artifact"));
            };
            matrix[index / tasks][index % tasks] =
                evaluation.values.get(metric).copied().ok_or_else(|| RunError::Mismatch {
                    node: ctx.name().to_string(),
                    message: format!(
                        "the evaluations report no `{metric}`; the sequence's first metric must name a value its evaluator reports"
                    ),
                })?;
        }
        for (name, value) in summarize(&matrix) {
            metrics.push(&split_metric(split, name), value);
            ctx.run_dir.log_metric(ctx.name(), None, split, name, value);
        }
        if split == primary {
            metrics.matrix = Some(matrix);
        } else {
            metrics.split_matrices.insert(split.clone(), matrix);
        }
    }
    // The most any stage held beyond its live model.
    let stages: Vec<&Memory> = ctx
        .inputs_with_role("stages")
        .into_iter()
        .filter_map(|artifact| match artifact {
            Artifact::Model(model) => Some(&model.memory),
            _ => None,
        })
        .collect();
    if !stages.is_empty() {
        let copies = stages
            .iter()
            .map(|memory| memory.param_copies)
            .fold(0.0, f64::max);
        let examples = stages
            .iter()
            .map(|memory| memory.replay_examples)
            .max()
            .unwrap_or(0);
        for (name, value) in [
            ("param_copies", copies),
            ("replay_examples", examples as f64),
        ] {
            metrics.push(name, value);
            ctx.run_dir
                .log_metric(ctx.name(), None, primary, name, value);
        }
    }
    write_matrices(ctx.node, ctx.run_dir, metric, splits, heatmap, &metrics)?;
    Ok(Artifact::Metrics(metrics))
}

#[cfg(test)]
mod tests {
    use super::{primary_split, split_metric, split_prefix, summarize};

    #[test]
    fn another_split_prefixes_its_metrics_and_suffixes_its_files() {
        assert_eq!(split_metric("test", "avg_accuracy"), "avg_accuracy");
        assert_eq!(split_metric("validation", "bwt"), "validation_bwt");
        assert_eq!(split_prefix("test"), "");
        assert_eq!(split_prefix("validation"), "validation.");
        let splits = |words: &[&str]| {
            words
                .iter()
                .map(|word| word.to_string())
                .collect::<Vec<_>>()
        };
        // The test split's matrix is the one reports draw, wherever it is listed.
        assert_eq!(primary_split(&splits(&["validation", "test"])), "test");
        assert_eq!(primary_split(&splits(&["validation"])), "validation");
        assert_eq!(primary_split(&[]), "test");
    }

    #[test]
    fn forgetting_and_transfer_on_a_small_matrix() {
        // After task 1: 0.9 on task 1. After task 2: 0.6 on task 1, 0.8 on task 2.
        // After task 3: 0.5, 0.7, 0.95.
        let matrix = vec![
            vec![0.9, 0.1, 0.1],
            vec![0.6, 0.8, 0.2],
            vec![0.5, 0.7, 0.95],
        ];
        let summary: std::collections::HashMap<_, _> = summarize(&matrix).into_iter().collect();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        // (0.5 + 0.7 + 0.95) / 3
        assert!(close(summary["avg_accuracy"], 2.15 / 3.0));
        // task 1: max(0.9, 0.6) − 0.5 = 0.4; task 2: 0.8 − 0.7 = 0.1; mean 0.25
        assert!(close(summary["forgetting"], 0.25));
        // (0.5 − 0.9 + 0.7 − 0.8) / 2 = −0.25
        assert!(close(summary["bwt"], -0.25));
        // (0.9 + 0.8 + 0.95) / 3
        assert!(close(summary["learning_accuracy"], 2.65 / 3.0));
    }
}
