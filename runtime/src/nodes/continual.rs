//! The summary of a task sequence: the accuracy matrix A (A[i][j]: the metric on task j's test
//! split after training through task i), and from it
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
//! The matrix is written as `<name>.matrix.csv` and drawn as `<name>.heatmap.png`/`.svg`.

use super::NodeRun;
use crate::artifact::{Artifact, Memory, MetricsArtifact};
use crate::error::RunError;
use crate::run_dir::RunDir;

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

/// Writes the matrix as CSV and as a heatmap; used on a fresh run and when restoring from the
/// cache.
pub fn write_matrix(
    node: &str,
    run_dir: &RunDir,
    metric: &str,
    matrix: &[Vec<f64>],
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
    let path = run_dir.path.join(format!("{node}.matrix.csv"));
    RunDir::write_atomic(&path, csv.as_bytes())
        .map_err(|error| RunError::io(node, &path, error))?;
    let stem = run_dir.path.join(format!("{node}.heatmap"));
    crate::plots::write_heatmap(&format!("{node}: {metric}"), matrix, &stem).map_err(|error| {
        RunError::Io {
            node: node.to_string(),
            path: stem.display().to_string(),
            message: error.to_string(),
        }
    })?;
    Ok(())
}

pub fn run(ctx: &NodeRun, tasks: usize, metric: &str) -> Result<Artifact, RunError> {
    let rows = ctx.inputs_with_role("rows");
    // `stages` (the model after each task) come first in the inputs; the checks below count
    // the evaluations only.
    if rows.len() != tasks * tasks {
        return Err(ctx.internal(format!(
            "a sequence of {tasks} tasks needs {} evaluations, found {}",
            tasks * tasks,
            rows.len()
        )));
    }
    let mut matrix = vec![vec![0.0; tasks]; tasks];
    for (index, artifact) in rows.iter().enumerate() {
        let Artifact::Metrics(metrics) = artifact else {
            return Err(ctx.internal("a sequence evaluation is not a metrics artifact"));
        };
        matrix[index / tasks][index % tasks] =
            metrics.values.get(metric).copied().ok_or_else(|| RunError::Mismatch {
                node: ctx.name().to_string(),
                message: format!(
                    "the evaluations report no `{metric}`; the sequence's first metric must name a value its evaluator reports"
                ),
            })?;
    }
    let mut metrics = MetricsArtifact::default();
    let mut summary: Vec<(&str, f64)> = summarize(&matrix);
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
        summary.push(("param_copies", copies));
        summary.push(("replay_examples", examples as f64));
    }
    for (name, value) in summary {
        metrics.push(name, value);
        ctx.run_dir
            .log_metric(ctx.name(), None, "test", name, value);
    }
    write_matrix(ctx.name(), ctx.run_dir, metric, &matrix)?;
    metrics.matrix = Some(matrix);
    Ok(Artifact::Metrics(metrics))
}

#[cfg(test)]
mod tests {
    use super::summarize;

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
