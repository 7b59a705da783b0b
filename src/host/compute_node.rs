//! `exp-host compute-node`: what each Slurm job of `exp run --executor slurm` runs. It checks
//! and compiles the experiment file as the head did, computes the one node it was given (its
//! inputs restored from the shared cache, its datasets built here), stores the result in the
//! cache, and leaves a result file the head reads once the job has left the queue.
//!
//! SIGTERM (scancel, preemption, the job's time limit) asks the node to stop after its current
//! step with a checkpoint, as Ctrl-C does locally; the result then says `interrupted`, and the
//! job submitted again resumes from that checkpoint.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use exp::cli::MessageFormat;
use exp::Exit;
use exp_runtime::run_options::OnlyNode;
use exp_runtime::{DeviceChoice, NodeOutcome, RunError, RunOptions};
use exp_slurm::job;
use exp_slurm::{JobResult, JobStatus, Task};

/// What `compute-node` was given: a node, or a job array's task list.
pub struct Asked {
    pub file: PathBuf,
    pub node: Option<String>,
    pub key: Option<String>,
    pub work: Option<PathBuf>,
    pub tasks: Option<PathBuf>,
    pub cache: PathBuf,
    pub threads: usize,
    pub device: DeviceChoice,
}

pub fn compute_node_command(asked: Asked, color: bool) -> Exit {
    let (tasks, id) = match which_tasks(&asked) {
        Ok(found) => found,
        Err(message) => {
            eprintln!("error: {message}");
            return Exit::InvalidInput;
        }
    };
    // SIGTERM stops the node computing and, in a task of several nodes, the ones after it,
    // which then say `interrupted` and are submitted again on their own.
    let stop = Arc::new(AtomicBool::new(false));
    crate::install_ctrl_c(stop.clone());
    let mut loaded = None;
    let mut exit = Exit::Success;
    for task in tasks {
        if asked.tasks.is_some() {
            // A job array has one output file pattern for all its tasks; each node's log goes
            // beside its results, where a node's own job writes it.
            if let Err(error) = log_to(&job::log_path(&task.work, &id)) {
                eprintln!("warning: this task's output stays in Slurm's file: {error}");
            }
        }
        // Checked once for all the task's nodes (the first node's log shows its diagnostics).
        let loaded =
            loaded.get_or_insert_with(|| crate::load(&asked.file, MessageFormat::Human, color));
        let result_path = job::result_path(&task.work, &id);
        let result = match loaded {
            Ok(loaded) => compute(&asked, loaded, &stop, task, &id),
            Err(_) => failed(format!(
                "`{}` no longer checks (its diagnostics are in the log of the task's first node); was it changed since the run started?",
                asked.file.display()
            )),
        };
        if let Some(message) = &result.message {
            eprintln!("{message}");
        }
        let this = match result.status {
            JobStatus::Done => Exit::Success,
            JobStatus::Failed => Exit::NodesFailed,
            JobStatus::Interrupted => Exit::Interrupted,
        };
        if let Err(error) = result.write(&result_path) {
            eprintln!(
                "error: cannot write the job's result `{}`: {error}",
                result_path.display()
            );
            exit = Exit::Fatal;
        } else if exit == Exit::Success {
            exit = this;
        }
    }
    exit
}

fn failed(message: String) -> JobResult {
    JobResult {
        status: JobStatus::Failed,
        message: Some(message),
        step: None,
        checkpointed: false,
    }
}

/// The nodes this job computes, in order, and the job's id (`<array>_<task>` for a task of an
/// array; run by hand, to debug one node, `local-<pid>`).
fn which_tasks(asked: &Asked) -> Result<(Vec<Task>, String), String> {
    let variable = |name: &str| std::env::var(name).ok();
    match &asked.tasks {
        Some(list) => {
            let (Some(array), Some(index)) = (
                variable("SLURM_ARRAY_JOB_ID"),
                variable("SLURM_ARRAY_TASK_ID"),
            ) else {
                return Err(
                    "`--tasks` is for a task of a Slurm job array (SLURM_ARRAY_TASK_ID is not set)"
                        .to_string(),
                );
            };
            let number: usize = index
                .parse()
                .map_err(|_| format!("SLURM_ARRAY_TASK_ID `{index}` is not a task number"))?;
            Ok((job::read_task(list, number)?, format!("{array}_{index}")))
        }
        None => {
            let id =
                variable("SLURM_JOB_ID").unwrap_or_else(|| format!("local-{}", std::process::id()));
            // clap requires all three without `--tasks`.
            let task = Task {
                node: asked.node.clone().unwrap_or_default(),
                key: asked.key.clone().unwrap_or_default(),
                work: asked.work.clone().unwrap_or_default(),
            };
            Ok((vec![task], id))
        }
    }
}

/// Sends this process's standard output and error to the end of `path`.
fn log_to(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    for target in [libc::STDOUT_FILENO, libc::STDERR_FILENO] {
        // SAFETY: dup2 on a descriptor this function owns for its duration onto the standard
        // ones; nothing else in the process holds them open for writing in between.
        if unsafe { libc::dup2(file.as_raw_fd(), target) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Computes `task`'s node as `asked`, from the checked file; what the result file will say.
fn compute(
    asked: &Asked,
    loaded: &crate::Loaded,
    stop: &Arc<AtomicBool>,
    task: Task,
    id: &str,
) -> JobResult {
    // Asked to stop before this node started (a task of several, stopped during an earlier
    // one): it says so, and the head submits it again on its own.
    let stopped = || JobResult {
        status: JobStatus::Interrupted,
        message: Some(format!(
            "node `{}`: not started: the job was asked to stop",
            task.node
        )),
        step: None,
        checkpointed: false,
    };
    if stop.load(Ordering::SeqCst) {
        return stopped();
    }
    let options = RunOptions {
        run_dir: job::run_path(&task.work, id),
        device: asked.device,
        jobs: 1,
        threads: asked.threads,
        source_path: asked.file.display().to_string(),
        source_sha256: exp_runtime::run_dir::sha256_hex(&loaded.bytes),
        exp_version: env!("CARGO_PKG_VERSION").to_string(),
        cache_dir: Some(asked.cache.clone()),
        // A job's own run directory is scratch: its checkpoint is the cache's.
        cache_files: exp_runtime::cache::CacheFiles::Link,
        force: Vec::new(),
        explain: false,
        only: Some(OnlyNode {
            name: task.node.clone(),
            key: task.key,
        }),
        remote: None,
        stop: stop.clone(),
    };
    let observer = crate::progress::Progress::new();
    let summary = match exp_runtime::execute(&loaded.graph, &loaded.registry, &options, &observer) {
        Ok(summary) => summary,
        Err(error) => return failed(error.to_string()),
    };
    // The checkpoints live on in the cache (the head restores them into its run directory from
    // there); the job's copies, and those of the inputs it restored, would double the disk a
    // study takes. Its manifest, metrics and logs stay, for a look at what the job did.
    let _ = std::fs::remove_dir_all(summary.run_dir.join("checkpoints"));
    let outcome = summary
        .outcomes
        .iter()
        .find(|(name, _)| *name == task.node)
        .map(|(_, outcome)| outcome);
    match outcome {
        Some(NodeOutcome::Done { .. } | NodeOutcome::Cached { .. }) => JobResult {
            status: JobStatus::Done,
            message: None,
            step: None,
            checkpointed: false,
        },
        Some(NodeOutcome::Failed(
            error @ RunError::Interrupted {
                step, checkpointed, ..
            },
        )) => JobResult {
            status: JobStatus::Interrupted,
            message: Some(error.to_string()),
            step: *step,
            checkpointed: *checkpointed,
        },
        Some(NodeOutcome::Failed(error)) => failed(first_failure(&summary, error)),
        // An input refused to start because of the stop.
        Some(NodeOutcome::Skipped { .. }) if stop.load(Ordering::SeqCst) => stopped(),
        Some(NodeOutcome::Skipped { because }) => failed(format!("not computed: {because}")),
        Some(NodeOutcome::NotNeeded) | None => failed(format!(
            "the run computed no node `{}`; this is a bug in exp",
            task.node
        )),
    }
}

/// The node's failure; when an input computed in the job (a dataset) failed first, that one.
fn first_failure(summary: &exp_runtime::RunSummary, error: &RunError) -> String {
    summary
        .failures()
        .map(|(_, error)| error.to_string())
        .next()
        .unwrap_or_else(|| error.to_string())
}
