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
