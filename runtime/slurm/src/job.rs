//! The result file a job leaves beside its log: `<work>/job-<id>.result.json`, written
//! atomically (a temporary name, then a rename) as the job's last act. The head reads it once
//! the job has left the queue; a job that ends without one was killed before it could write it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// The node's result is in the cache.
    Done,
    /// The node failed; `message` says why.
    Failed,
    /// The job was asked to stop (SIGTERM: scancel, preemption, its time limit) and stopped,
    /// after writing a checkpoint if it was training.
    Interrupted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobResult {
    pub status: JobStatus,
    /// What went wrong, in one line, for a failed or interrupted node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// For an interrupted training node: the last step done, and whether a checkpoint was
    /// written there to resume from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<u64>,
    #[serde(default)]
    pub checkpointed: bool,
}

/// Where job `job` of a node whose work directory is `work` writes its output.
pub fn log_path(work: &Path, job: &str) -> PathBuf {
    work.join(format!("job-{job}.log"))
}

/// Where job `job` writes its result file.
pub fn result_path(work: &Path, job: &str) -> PathBuf {
    work.join(format!("job-{job}.result.json"))
}

/// Where job `job` writes its own run directory (its manifest and the files of the node).
pub fn run_path(work: &Path, job: &str) -> PathBuf {
    work.join(format!("job-{job}"))
}

/// A node a job computes: its name, its key and its directory. A job array's task list has a
/// line per array task: one such object, or a list of them when each task computes several
/// nodes in turn (`[slurm] nodes_per_task`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub node: String,
    pub key: String,
    pub work: PathBuf,
}

/// A line of a task list, as written.
#[derive(Deserialize)]
#[serde(untagged)]
enum Line {
    One(Task),
    Several(Vec<Task>),
}

/// Writes a job array's task list: a line per array task, with the nodes it computes.
pub fn write_tasks(path: &Path, tasks: &[Vec<Task>]) -> std::io::Result<()> {
    let mut text = String::new();
    for nodes in tasks {
        let line = match nodes.as_slice() {
            [one] => serde_json::to_string(one),
            several => serde_json::to_string(several),
        };
        text.push_str(&line.map_err(std::io::Error::other)?);
        text.push('\n');
    }
    std::fs::write(path, text)
}

/// The nodes task `index` of a job array computes, in order.
pub fn read_task(path: &Path, index: usize) -> Result<Vec<Task>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read the task list `{}`: {error}", path.display()))?;
    let line = text.lines().nth(index).ok_or_else(|| {
        format!(
            "the task list `{}` has no task {index} (it lists {})",
            path.display(),
            text.lines().count()
        )
    })?;
    match serde_json::from_str(line)
        .map_err(|error| format!("task {index} of `{}` is malformed: {error}", path.display()))?
    {
        Line::One(task) => Ok(vec![task]),
        Line::Several(tasks) if !tasks.is_empty() => Ok(tasks),
        Line::Several(_) => Err(format!(
            "task {index} of `{}` lists no node",
            path.display()
        )),
    }
}

impl JobResult {
    /// Writes the result file atomically: a reader sees all of it or none.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        let temporary = path.with_extension("json.tmp");
        std::fs::write(&temporary, bytes)?;
        std::fs::rename(&temporary, path)
    }

    /// The result file, if the job wrote one; `Err` for one that cannot be read as such.
    pub fn read(path: &Path) -> Result<Option<JobResult>, String> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|error| format!("`{}` is not a job result: {error}", path.display())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(format!("cannot read `{}`: {error}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_is_read_back_as_written_and_a_missing_one_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = result_path(dir.path(), "42");
        assert_eq!(JobResult::read(&path), Ok(None));
        let result = JobResult {
            status: JobStatus::Failed,
            message: Some("node `a`: the loss became NaN".into()),
            step: Some(3),
            checkpointed: true,
        };
        result.write(&path).unwrap();
        assert_eq!(JobResult::read(&path), Ok(Some(result)));
        assert!(!path.with_extension("json.tmp").exists());
        std::fs::write(&path, "{").unwrap();
        assert!(JobResult::read(&path)
            .unwrap_err()
            .contains("is not a job result"));
        // A result that exists but cannot be read is an error, not a job without a result.
        assert!(JobResult::read(dir.path())
            .unwrap_err()
            .contains("cannot read"));
    }

    #[test]
    fn a_task_list_is_read_back_task_by_task() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks");
        let task = |node: &str| Task {
            node: node.to_string(),
            key: format!("key of {node}"),
            work: dir.path().join(node),
        };
        let tasks = vec![
            vec![task("t[seed=0]")],
            vec![task("t[seed=1]"), task("t[seed=2]")],
        ];
        write_tasks(&path, &tasks).unwrap();
        // A task of one node is one object, as before tasks could hold several.
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("{\"node\":\"t[seed=0]\""), "{text}");
        assert!(text.lines().nth(1).unwrap().starts_with('['), "{text}");
        assert_eq!(read_task(&path, 0), Ok(tasks[0].clone()));
        assert_eq!(read_task(&path, 1), Ok(tasks[1].clone()));
        assert!(read_task(&path, 2)
            .unwrap_err()
            .contains("no task 2 (it lists 2)"));
        assert!(read_task(&dir.path().join("none"), 0)
            .unwrap_err()
            .contains("cannot read the task list"));
        std::fs::write(&path, "[]\n").unwrap();
        assert!(read_task(&path, 0).unwrap_err().contains("lists no node"));
        std::fs::write(&path, "{\n").unwrap();
        assert!(read_task(&path, 0).unwrap_err().contains("malformed"));
    }

    #[test]
    fn a_jobs_files_are_named_by_its_id() {
        let work = Path::new("/runs/x/slurm/a");
        assert_eq!(log_path(work, "7"), Path::new("/runs/x/slurm/a/job-7.log"));
        assert_eq!(
            result_path(work, "7"),
            Path::new("/runs/x/slurm/a/job-7.result.json")
        );
        assert_eq!(run_path(work, "7"), Path::new("/runs/x/slurm/a/job-7"));
    }
}
