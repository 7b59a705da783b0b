//! `Slurm`: the runtime's `Remote` for a Slurm cluster.
//!
//! Each call of `compute` (one per node, from the executor's pool) submits the node's job and
//! waits for it to leave the queue. Nobody polls per job: whichever waiting call is due runs
//! one `squeue` for all of the user's jobs and wakes the others, at most every
//! `POLL_MIN` and backing off (x1.5) to `poll_max` while nothing changes, so a study of
//! thousands of jobs costs the controller one query every few seconds.
//!
//! Nodes that become ready together and ask for the same resources (the copies of a sweep) are
//! submitted as one job array: the first waits `BATCH_WINDOW` for others to join it, then
//! submits them all with one `sbatch`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use exp_ir::ResourceRequest;
use exp_runtime::remote::{self, Remote, RemoteFailure, RemoteNode};
use exp_runtime::{Observer, RunError};

use crate::job::{self, JobResult, JobStatus, Task};
use crate::queue::{self, Listed, Phase};
use crate::submit::{self, JobSpec};

/// The shortest time between two `squeue` calls.
const POLL_MIN: Duration = Duration::from_millis(250);
/// How long a job that ended may take to show its result file (a shared filesystem's
/// attribute cache can hide a file another machine just wrote).
const RESULT_GRACE: Duration = Duration::from_secs(10);
/// How long the first node of a batch waits for others to join it: the nodes a finished input
/// releases become ready within milliseconds of one another.
const BATCH_WINDOW: Duration = Duration::from_millis(100);
/// `squeue` failing this many times in a row (the controller is unreachable) ends the wait of
/// every job, as failed.
const POLL_FAILURES: u32 = 30;

/// How the head process talks to Slurm.
pub struct SlurmSettings {
    /// `exp-host`, which every job runs.
    pub program: PathBuf,
    /// The experiment file, absolute.
    pub file: PathBuf,
    pub threads: usize,
    /// `cpu` or `cuda`: the device the head resolved, part of every key.
    pub device: String,
    /// What every node asks for unless the file's `resources` say otherwise (the
    /// configuration's partition and account).
    pub defaults: ResourceRequest,
    /// More `sbatch` options, given after exp's own.
    pub sbatch_args: Vec<String>,
    /// The longest time between two `squeue` calls.
    pub poll_max: Duration,
    /// How often a job stopped from outside (cancelled, preempted, out of time) is submitted
    /// again before its node fails.
    pub resubmissions: u32,
    /// How many nodes one task of a job array computes, one after another in one process
    /// (`[slurm] nodes_per_task`, at least 1): each task pays exp's start (libtorch, the
    /// plugins, the file's check: about a third of a second) once for all of them.
    pub nodes_per_task: usize,
    /// The run's stop flag (Ctrl-C).
    pub stop: Arc<AtomicBool>,
}

pub struct Slurm {
    settings: SlurmSettings,
    state: Mutex<Queue>,
    changed: Condvar,
}

/// What the head knows of the queue.
struct Queue {
    /// Each job exp submitted and waits for, by id: where it stands.
    jobs: HashMap<String, Phase>,
    /// A call is running `squeue` now.
    polling: bool,
    next_poll: Instant,
    interval: Duration,
    failures: u32,
    last_failure: String,
    /// Jobs an earlier head process submitted into this cache that are still queued or
    /// running, by node key: the job's id and its node's directory (read once, at the first
    /// node).
    earlier: Option<HashMap<String, (String, PathBuf)>>,
    /// The stop flag was seen and the jobs were asked to stop.
    cancelled: bool,
    /// Nodes waiting to be submitted together (see `submit_batched`).
    batch: Batch,
    /// What each ticket's submission gave: the job's id, or why there is none.
    submitted: HashMap<u64, Result<String, String>>,
    next_ticket: u64,
    /// A call is gathering and submitting the batch now.
    flushing: bool,
}

/// Nodes waiting to be submitted, each with its ticket.
type Batch = Vec<(u64, Pending)>;

/// A node's job, not yet submitted.
struct Pending {
    task: Task,
    request: ResourceRequest,
    cache: PathBuf,
}

impl Slurm {
    pub fn new(settings: SlurmSettings) -> Slurm {
        Slurm {
            settings,
            state: Mutex::new(Queue {
                jobs: HashMap::new(),
                polling: false,
                next_poll: Instant::now(),
                interval: POLL_MIN,
                failures: 0,
                last_failure: String::new(),
                earlier: None,
                cancelled: false,
                batch: Vec::new(),
                submitted: HashMap::new(),
                next_ticket: 0,
                flushing: false,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The job an earlier head process left computing this node into this cache, if it is
    /// still queued or running: its id and the directory it writes its result to.
    fn earlier_job(&self, key: &str, cache: &Path) -> Option<(String, PathBuf)> {
        let mut state = self.lock();
        if state.earlier.is_none() {
            // A listing that fails adopts nothing: the nodes are submitted again (the same
            // entries computed twice, still correct), and the polling reports squeue's failure.
            let listed = list_jobs().unwrap_or_default();
            state.earlier = Some(earlier_jobs(listed, &submit::cache_digest(cache)));
        }
        let (id, work) = state.earlier.as_mut()?.remove(key)?;
        drop(state);
        self.track(std::slice::from_ref(&id));
        Some((id, work))
    }

    /// Starts waiting for jobs just submitted (or adopted): look at the queue again soon.
    fn track(&self, ids: &[String]) {
        let mut state = self.lock();
        for id in ids {
            state.jobs.insert(id.clone(), Phase::Queued);
        }
        state.interval = POLL_MIN;
    }

    /// Submits a node's job; returns its id.
    fn submit(&self, spec: &JobSpec) -> Result<String, String> {
        create_dir(spec.work)?;
        let id = self.sbatch(&submit::submission(spec), &spec.work.join("job.sh"))?;
        self.track(std::slice::from_ref(&id));
        Ok(id)
    }

    /// Runs `sbatch` on a submission, its script written to `script`; returns the job's id.
    fn sbatch(&self, submission: &submit::Submission, script: &Path) -> Result<String, String> {
        // The script is a file beside the job's logs (not sbatch's standard input): it shows
        // what the job ran, and sbatch refusing the job early cannot break a pipe.
        std::fs::write(script, &submission.script)
            .map_err(|error| format!("cannot write `{}`: {error}", script.display()))?;
        let output = Command::new("sbatch")
            .args(&submission.args)
            .arg(script)
            .stdin(Stdio::null())
            .output()
            .map_err(|error| format!("cannot run `sbatch`: {error}; is Slurm installed here?"))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        // `--parsable` prints `id` or `id;cluster`.
        let id = stdout.trim().split(';').next().unwrap_or("").to_string();
        if !output.status.success() || id.is_empty() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let said: Vec<&str> = stderr
                .lines()
                .map(|line| line.trim().trim_start_matches("sbatch: error: "))
                .filter(|line| !line.is_empty())
                .collect();
            return Err(format!(
                "sbatch refused the job: {}; check what the node asks for (`exp graph FILE --format outline` shows its resources; `[slurm]` in exp.toml sets the partition and account)",
                said.join("; ")
            ));
        }
        Ok(id)
    }

    /// Waits until job `id` leaves the queue; tells the observer when it starts running.
    /// Returns the state it ended in.
    fn wait(&self, id: &str, node: &exp_ir::Node, observer: &dyn Observer) -> String {
        let mut told_running = false;
        let mut state = self.lock();
        loop {
            if self.settings.stop.load(Ordering::SeqCst) && !state.cancelled {
                state.cancelled = true;
                let ids: Vec<(String, Phase)> = state
                    .jobs
                    .iter()
                    .map(|(id, phase)| (id.clone(), phase.clone()))
                    .collect();
                drop(state);
                if let Err(message) = cancel(&ids) {
                    observer.message(
                        node,
                        &format!("could not ask Slurm to stop this run's jobs ({message}); they run to their end"),
                    );
                }
                state = self.lock();
            }
            match state.jobs.get(id).cloned() {
                Some(Phase::Ended(how)) => {
                    state.jobs.remove(id);
                    return how;
                }
                Some(Phase::Running) if !told_running => {
                    told_running = true;
                    observer.message(node, &format!("running as Slurm job {id}"));
                }
                None => return "UNKNOWN".to_string(),
                _ => {}
            }
            let now = Instant::now();
            if !state.polling && now >= state.next_poll {
                state.polling = true;
                drop(state);
                let listed = list_jobs();
                state = self.lock();
                state.polling = false;
                self.apply(&mut state, listed);
                self.changed.notify_all();
                continue;
            }
            let timeout = if state.polling {
                POLL_MIN
            } else {
                state.next_poll.saturating_duration_since(now)
            };
            state = self
                .changed
                .wait_timeout(state, timeout.max(Duration::from_millis(10)))
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }

    /// Records what `squeue` said and when to ask next.
    fn apply(&self, state: &mut Queue, listed: Result<HashMap<String, Listed>, String>) {
        let mut changed = false;
        match listed {
            Ok(listed) => {
                state.failures = 0;
                for (id, phase) in state.jobs.iter_mut() {
                    // A job `squeue` no longer lists has ended long enough ago to be forgotten.
                    let now = listed
                        .get(id)
                        .map_or(Phase::Ended("GONE".to_string()), |job| job.phase.clone());
                    if *phase != now {
                        *phase = now;
                        changed = true;
                    }
                }
            }
            Err(message) => {
                state.failures += 1;
                state.last_failure = message;
                if state.failures >= POLL_FAILURES {
                    let why = format!("SQUEUE_FAILED: {}", state.last_failure);
                    for phase in state.jobs.values_mut() {
                        *phase = Phase::Ended(why.clone());
                    }
                }
            }
        }
        state.interval = if changed {
            POLL_MIN
        } else {
            state.interval.mul_f64(1.5).min(self.settings.poll_max)
        };
        state.next_poll = Instant::now() + state.interval;
    }
}

impl Remote for Slurm {
    fn compute(&self, remote: &RemoteNode, observer: &dyn Observer) -> Result<(), RunError> {
        let node = remote.node;
        let interrupted = |step, checkpointed| RunError::Interrupted {
            node: node.name.clone(),
            step,
            checkpointed,
        };
        let request = remote
            .graph
            .resources_for(node)
            .over(&self.settings.defaults);
        let work = absolute(&remote.run_dir.join("slurm").join(&node.name));
        let cache = absolute(remote.cache_dir);
        let spec = JobSpec {
            node: &node.name,
            key: remote.key,
            request: &request,
            work: &work,
            program: &self.settings.program,
            file: &self.settings.file,
            cache: &cache,
            threads: self.settings.threads,
            device: &self.settings.device,
            extra: &self.settings.sbatch_args,
        };
        let mut attempts = 0;
        // The job and the directory it writes to (an earlier run's, for an adopted job).
        let (mut id, mut job_work) = match self.earlier_job(remote.key, &cache) {
            Some((id, earlier_work)) => {
                observer.message(
                    node,
                    &format!("already queued as Slurm job {id} (by an earlier `exp run`); waiting for it"),
                );
                (id, earlier_work)
            }
            None => (
                queued(node, observer, self.submit_batched(&spec))?,
                work.clone(),
            ),
        };
        loop {
            let ended = self.wait(&id, node, observer);
            let failure = |message: String| {
                remote::failed(
                    node,
                    RemoteFailure {
                        job: format!("Slurm job {id}"),
                        log: Some(job::log_path(&job_work, &id)),
                        message,
                    },
                )
            };
            let result = match read_result(&job_work, &id, &ended) {
                Ok(result) => result,
                Err(message) => return Err(failure(message)),
            };
            let ending = Ending {
                node: &node.name,
                id: &id,
                ended: &ended,
                stopped_here: self.settings.stop.load(Ordering::SeqCst),
                attempts,
                resubmissions: self.settings.resubmissions,
            };
            match ending.verdict(result) {
                Verdict::Done => return Ok(()),
                Verdict::Failed(message) => return Err(failure(message)),
                Verdict::Interrupted { step, checkpointed } => {
                    return Err(interrupted(step, checkpointed))
                }
                Verdict::Again(why) => {
                    attempts += 1;
                    observer.message(node, &why);
                }
            }
            id = queued(node, observer, self.submit(&spec))?;
            job_work = work.clone();
        }
    }
}

impl Slurm {
    /// Submits a node's job together with the others that become ready within
    /// `BATCH_WINDOW`: those asking the same of Slurm go as one job array. Returns the job's
    /// id (`<array>_<task>` for a task of an array).
    fn submit_batched(&self, spec: &JobSpec) -> Result<String, String> {
        let mut state = self.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.batch.push((
            ticket,
            Pending {
                task: Task {
                    node: spec.node.to_string(),
                    key: spec.key.to_string(),
                    work: spec.work.to_path_buf(),
                },
                request: spec.request.clone(),
                cache: spec.cache.to_path_buf(),
            },
        ));
        loop {
            if let Some(submitted) = state.submitted.remove(&ticket) {
                return submitted;
            }
            if !state.flushing {
                state.flushing = true;
                drop(state);
                std::thread::sleep(BATCH_WINDOW);
                let batch = std::mem::take(&mut self.lock().batch);
                let submitted = self.submit_all(batch);
                state = self.lock();
                state.submitted.extend(submitted);
                state.flushing = false;
                self.changed.notify_all();
                continue;
            }
            state = self
                .changed
                .wait_timeout(state, BATCH_WINDOW)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }

    /// The job of a node waiting to be submitted.
    fn spec<'a>(&'a self, pending: &'a Pending) -> JobSpec<'a> {
        JobSpec {
            node: &pending.task.node,
            key: &pending.task.key,
            request: &pending.request,
            work: &pending.task.work,
            program: &self.settings.program,
            file: &self.settings.file,
            cache: &pending.cache,
            threads: self.settings.threads,
            device: &self.settings.device,
            extra: &self.settings.sbatch_args,
        }
    }

    /// Submits a batch: one job, or one job array, per set of nodes that ask the same.
    fn submit_all(&self, batch: Batch) -> Vec<(u64, Result<String, String>)> {
        let groups = grouped(batch, |pending| submit::shared_args(&self.spec(pending)));
        let mut submitted = Vec::new();
        for mut members in groups {
            // Tasks in the order of their nodes' names, whichever was ready first.
            members.sort_by(|(_, a), (_, b)| a.task.node.cmp(&b.task.node));
            let specs: Vec<JobSpec> = members
                .iter()
                .map(|(_, pending)| self.spec(pending))
                .collect();
            let ids = if specs.len() == 1 {
                self.submit(&specs[0]).map(|id| vec![id])
            } else {
                self.submit_array(&specs, &members)
            };
            match ids {
                Ok(ids) => submitted.extend(
                    members
                        .iter()
                        .zip(ids)
                        .map(|((ticket, _), id)| (*ticket, Ok(id))),
                ),
                Err(message) => submitted.extend(
                    members
                        .iter()
                        .map(|(ticket, _)| (*ticket, Err(message.clone()))),
                ),
            }
        }
        submitted
    }

    /// One job array for nodes that ask the same, `nodes_per_task` nodes to a task; returns
    /// each node's task id, in order.
    fn submit_array(
        &self,
        specs: &[JobSpec],
        members: &[(u64, Pending)],
    ) -> Result<Vec<String>, String> {
        let nodes: Vec<Task> = members
            .iter()
            .map(|(_, pending)| pending.task.clone())
            .collect();
        for task in &nodes {
            create_dir(&task.work)?;
        }
        let per_task = self.settings.nodes_per_task.max(1);
        let tasks: Vec<Vec<Task>> = nodes.chunks(per_task).map(<[Task]>::to_vec).collect();
        // Beside the nodes' own directories: `<run>/slurm/arrays/`, named by what it lists.
        let dir = nodes[0]
            .work
            .parent()
            .unwrap_or(&nodes[0].work)
            .join("arrays");
        create_dir(&dir)?;
        let listed: String = nodes.iter().map(|task| format!("{}\n", task.key)).collect();
        let name = exp_runtime::run_dir::sha256_hex(listed.as_bytes());
        let list = dir.join(format!("{}.tasks", &name[..12]));
        job::write_tasks(&list, &tasks)
            .map_err(|error| format!("cannot write `{}`: {error}", list.display()))?;
        let submission = submit::array_submission(specs, per_task, &list, &dir);
        let array = self.sbatch(&submission, &dir.join(format!("{}.sh", &name[..12])))?;
        let ids: Vec<String> = (0..tasks.len())
            .map(|task| format!("{array}_{task}"))
            .collect();
        self.track(&ids);
        Ok((0..nodes.len())
            .map(|node| ids[node / per_task].clone())
            .collect())
    }
}

/// Says that a node's job is queued; or fails the node, which has no job, with why.
fn queued(
    node: &exp_ir::Node,
    observer: &dyn Observer,
    submitted: Result<String, String>,
) -> Result<String, RunError> {
    match submitted {
        Ok(id) => {
            observer.message(node, &format!("queued as Slurm job {id}"));
            Ok(id)
        }
        Err(message) => Err(remote::failed(
            node,
            RemoteFailure {
                job: "no Slurm job".to_string(),
                log: None,
                message,
            },
        )),
    }
}

/// How a job ended, as far as its node is concerned.
struct Ending<'a> {
    node: &'a str,
    id: &'a str,
    /// The state it left the queue in (`COMPLETED`, `CANCELLED`, ...).
    ended: &'a str,
    /// This run was asked to stop (Ctrl-C).
    stopped_here: bool,
    /// Times the node's job was submitted again already.
    attempts: u32,
    resubmissions: u32,
}

/// What a job's end means for its node.
#[derive(Debug, PartialEq)]
enum Verdict {
    Done,
    Failed(String),
    /// Stopped because this run was: the node ends interrupted (its checkpoint kept).
    Interrupted {
        step: Option<u64>,
        checkpointed: bool,
    },
    /// Stopped from outside: submit it again (it resumes from its checkpoint); why, in words.
    Again(String),
}

impl Ending<'_> {
    fn verdict(&self, result: Option<JobResult>) -> Verdict {
        let Ending {
            node,
            id,
            ended,
            stopped_here,
            attempts,
            resubmissions,
        } = *self;
        let again = attempts < resubmissions;
        match result {
            Some(JobResult {
                status: JobStatus::Done,
                ..
            }) => Verdict::Done,
            Some(JobResult {
                status: JobStatus::Failed,
                message,
                ..
            }) => {
                let message = message.unwrap_or_else(|| "failed, saying nothing".to_string());
                // The job's error names the node already, as the head's message will.
                let prefix = format!("node `{node}`: ");
                Verdict::Failed(message.strip_prefix(&prefix).unwrap_or(&message).to_string())
            }
            Some(JobResult {
                status: JobStatus::Interrupted,
                step,
                checkpointed,
                ..
            }) if stopped_here => Verdict::Interrupted { step, checkpointed },
            None if stopped_here => Verdict::Interrupted {
                step: None,
                checkpointed: false,
            },
            Some(JobResult {
                status: JobStatus::Interrupted,
                step,
                ..
            }) if again => {
                let from = step.map_or(String::new(), |step| {
                    format!(", resuming from its checkpoint at step {step}")
                });
                Verdict::Again(format!(
                    "Slurm job {id} was stopped ({ended}); submitting it again{from}"
                ))
            }
            None if queue::stopped_from_outside(ended) && again => Verdict::Again(format!(
                "Slurm job {id} ended {ended} before it could say how; submitting it again (it resumes from its last checkpoint)"
            )),
            Some(JobResult {
                status: JobStatus::Interrupted,
                ..
            }) => Verdict::Failed(format!(
                "stopped from outside ({ended}) {} times; not submitting it again (raise `resubmissions` under [slurm] in exp.toml)",
                attempts + 1
            )),
            None => Verdict::Failed(format!(
                "the job ended ({}) without a result: it was killed before it could write one (out of memory or time?)",
                ended.to_lowercase()
            )),
        }
    }
}

/// The jobs of `listed` still queued or running that compute a node into the cache whose
/// digest is `digest`, by node key: a node's own job says its key in its comment and has its
/// script in its node's directory; a job array's task is the line of the task list beside the
/// array's script that its task number names.
fn earlier_jobs(
    listed: HashMap<String, Listed>,
    digest: &str,
) -> HashMap<String, (String, PathBuf)> {
    let mut earlier = HashMap::new();
    let mut lists: HashMap<PathBuf, Vec<Vec<Task>>> = HashMap::new();
    for (id, job) in listed {
        if matches!(job.phase, Phase::Ended(_)) {
            continue;
        }
        let script = Path::new(&job.script);
        if let Some(key) = job
            .comment
            .strip_prefix("exp:")
            .and_then(|rest| rest.strip_suffix(digest))
            .and_then(|rest| rest.strip_suffix(':'))
        {
            if let Some(work) = script.parent() {
                earlier.insert(key.to_string(), (id, work.to_path_buf()));
            }
        } else if job.comment.strip_prefix("exp-array:") == Some(digest) {
            let Some(index) = id.rsplit_once('_').and_then(|(_, task)| task.parse().ok()) else {
                continue;
            };
            let list = script.with_extension("tasks");
            let tasks = lists.entry(list.clone()).or_insert_with(|| {
                (0..)
                    .map_while(|index| job::read_task(&list, index).ok())
                    .collect()
            });
            for task in tasks.get::<usize>(index).into_iter().flatten() {
                earlier.insert(task.key.clone(), (id.clone(), task.work.clone()));
            }
        }
    }
    earlier
}

/// A batch in groups of nodes that ask the same of Slurm (`asks`), in the order they came.
fn grouped(batch: Batch, asks: impl Fn(&Pending) -> Vec<String>) -> Vec<Batch> {
    let mut groups: Vec<(Vec<String>, Batch)> = Vec::new();
    for (ticket, pending) in batch {
        let asked = asks(&pending);
        match groups.iter_mut().find(|(args, _)| *args == asked) {
            Some((_, members)) => members.push((ticket, pending)),
            None => groups.push((asked, vec![(ticket, pending)])),
        }
    }
    groups.into_iter().map(|(_, members)| members).collect()
}

/// The job's result file: waits a little for one that ended `COMPLETED` to show it.
fn read_result(work: &Path, id: &str, ended: &str) -> Result<Option<JobResult>, String> {
    let path = job::result_path(work, id);
    let deadline = Instant::now() + RESULT_GRACE;
    loop {
        match JobResult::read(&path)? {
            Some(result) => return Ok(Some(result)),
            None if ended == "COMPLETED" && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(200));
            }
            None => return Ok(None),
        }
    }
}

/// Every job of this user, as `squeue` lists them (recently ended ones too).
fn list_jobs() -> Result<HashMap<String, Listed>, String> {
    let output = Command::new("squeue")
        // `-r`: a job array's tasks one per line, as `<array>_<task>`.
        .args(["--me", "-r", "-h", "-t", "all", "-o", queue::FORMAT])
        .output()
        .map_err(|error| format!("cannot run `squeue`: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "squeue failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(queue::parse(&String::from_utf8_lossy(&output.stdout)))
}

/// Ctrl-C in the head: running jobs get SIGTERM (their training checkpoints and stops),
/// queued ones are cancelled.
fn cancel(jobs: &[(String, Phase)]) -> Result<(), String> {
    let of = |wanted: Phase| -> Vec<&str> {
        jobs.iter()
            .filter(|(_, phase)| *phase == wanted)
            .map(|(id, _)| id.as_str())
            .collect()
    };
    scancel(&["--batch", "--signal=TERM"], &of(Phase::Running))?;
    scancel(&[], &of(Phase::Queued))
}

/// `scancel OPTIONS IDS`, when there are ids.
fn scancel(options: &[&str], ids: &[&str]) -> Result<(), String> {
    if ids.is_empty() {
        return Ok(());
    }
    let output = Command::new("scancel")
        .args(options)
        .args(ids)
        .output()
        .map_err(|error| format!("cannot run `scancel`: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "scancel failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

fn create_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir)
        .map_err(|error| format!("cannot create `{}`: {error}", dir.display()))
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slurm(poll_max: Duration) -> Slurm {
        Slurm::new(SlurmSettings {
            program: PathBuf::from("exp-host"),
            file: PathBuf::from("/a.exp"),
            threads: 1,
            device: "cpu".into(),
            defaults: ResourceRequest::default(),
            sbatch_args: Vec::new(),
            poll_max,
            resubmissions: 3,
            nodes_per_task: 1,
            stop: Arc::new(AtomicBool::new(false)),
        })
    }

    fn listed(jobs: &[(&str, &str)]) -> Result<HashMap<String, Listed>, String> {
        Ok(jobs
            .iter()
            .map(|(id, state)| {
                (
                    id.to_string(),
                    Listed {
                        phase: Phase::of(state),
                        comment: String::new(),
                        script: String::new(),
                    },
                )
            })
            .collect())
    }

    #[test]
    fn polls_follow_the_jobs_and_back_off_while_nothing_changes() {
        let slurm = slurm(Duration::from_secs(1));
        let mut state = slurm.lock();
        state.jobs.insert("1".into(), Phase::Queued);
        state.jobs.insert("2".into(), Phase::Queued);
        state.interval = Duration::from_secs(1);
        slurm.apply(&mut state, listed(&[("1", "RUNNING"), ("2", "PENDING")]));
        assert_eq!(state.jobs["1"], Phase::Running);
        assert_eq!(state.jobs["2"], Phase::Queued);
        // Something changed: look again soon.
        assert_eq!(state.interval, POLL_MIN);
        let before = Instant::now();
        slurm.apply(&mut state, listed(&[("1", "RUNNING"), ("2", "PENDING")]));
        assert_eq!(state.interval, POLL_MIN.mul_f64(1.5));
        assert!(state.next_poll >= before + state.interval);
        for _ in 0..20 {
            slurm.apply(&mut state, listed(&[("1", "RUNNING"), ("2", "PENDING")]));
        }
        assert_eq!(state.interval, Duration::from_secs(1));
        // A job no longer listed has ended long ago; one listed as ended says how.
        slurm.apply(&mut state, listed(&[("2", "TIMEOUT")]));
        assert_eq!(state.jobs["1"], Phase::Ended("GONE".into()));
        assert_eq!(state.jobs["2"], Phase::Ended("TIMEOUT".into()));
        assert_eq!(state.interval, POLL_MIN);
    }

    #[test]
    fn a_batch_is_grouped_by_what_its_nodes_ask_in_the_order_they_came() {
        let pending = |node: &str, cpus: u32| Pending {
            task: Task {
                node: node.to_string(),
                key: format!("k{node}"),
                work: PathBuf::from(node),
            },
            request: ResourceRequest {
                cpus: Some(cpus),
                ..Default::default()
            },
            cache: PathBuf::from("/c"),
        };
        let batch = vec![
            (0, pending("a", 1)),
            (1, pending("b", 2)),
            (2, pending("c", 1)),
            (3, pending("d", 1)),
        ];
        let slurm = slurm(Duration::from_secs(1));
        let groups = grouped(batch, |pending| submit::shared_args(&slurm.spec(pending)));
        let tickets: Vec<Vec<u64>> = groups
            .iter()
            .map(|group| group.iter().map(|(ticket, _)| *ticket).collect())
            .collect();
        assert_eq!(tickets, [vec![0, 2, 3], vec![1]]);
    }

    fn ending<'a>(ended: &'a str, stopped_here: bool, attempts: u32) -> Ending<'a> {
        Ending {
            node: "t",
            id: "42",
            ended,
            stopped_here,
            attempts,
            resubmissions: 2,
        }
    }

    fn result(status: JobStatus, message: Option<&str>, step: Option<u64>) -> Option<JobResult> {
        Some(JobResult {
            status,
            message: message.map(str::to_string),
            step,
            checkpointed: step.is_some(),
        })
    }

    #[test]
    fn a_jobs_end_decides_its_node() {
        let done = result(JobStatus::Done, None, None);
        assert_eq!(ending("COMPLETED", false, 0).verdict(done), Verdict::Done);
        let failed = result(
            JobStatus::Failed,
            Some("node `t`: the loss is not finite"),
            None,
        );
        assert_eq!(
            ending("FAILED", false, 0).verdict(failed),
            Verdict::Failed("the loss is not finite".into())
        );
        assert_eq!(
            ending("FAILED", false, 0).verdict(result(JobStatus::Failed, None, None)),
            Verdict::Failed("failed, saying nothing".into())
        );
        let stopped = || result(JobStatus::Interrupted, Some("interrupted"), Some(300));
        // This run was stopped: the node ends interrupted, its checkpoint kept.
        assert_eq!(
            ending("CANCELLED", true, 0).verdict(stopped()),
            Verdict::Interrupted {
                step: Some(300),
                checkpointed: true
            }
        );
        assert_eq!(
            ending("CANCELLED", true, 0).verdict(None),
            Verdict::Interrupted {
                step: None,
                checkpointed: false
            }
        );
        // Stopped from outside: again, while resubmissions are left.
        assert_eq!(
            ending("CANCELLED", false, 1).verdict(stopped()),
            Verdict::Again(
                "Slurm job 42 was stopped (CANCELLED); submitting it again, resuming from its checkpoint at step 300".into()
            )
        );
        let Verdict::Failed(message) = ending("CANCELLED", false, 2).verdict(stopped()) else {
            panic!("submitted a third time");
        };
        assert!(message.contains("3 times"), "{message}");
        assert!(matches!(
            ending("TIMEOUT", false, 1).verdict(None),
            Verdict::Again(_)
        ));
        let Verdict::Failed(message) = ending("TIMEOUT", false, 2).verdict(None) else {
            panic!("submitted a third time");
        };
        assert!(message.contains("(timeout) without a result"), "{message}");
        // Killed for its own fault: no second try.
        let Verdict::Failed(message) = ending("OUT_OF_MEMORY", false, 0).verdict(None) else {
            panic!("an out-of-memory job was submitted again");
        };
        assert!(
            message.contains("(out_of_memory) without a result"),
            "{message}"
        );
    }

    #[test]
    fn a_restarted_head_finds_its_jobs_and_its_array_tasks_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let digest = submit::cache_digest(&cache);
        let arrays = dir.path().join("slurm/arrays");
        std::fs::create_dir_all(&arrays).unwrap();
        let task = |node: &str| Task {
            node: node.to_string(),
            key: format!("key-{node}"),
            work: dir.path().join("slurm").join(node),
        };
        // Task 1 computes two nodes, t1 and t2.
        job::write_tasks(
            &arrays.join("ab.tasks"),
            &[vec![task("t0")], vec![task("t1"), task("t2")]],
        )
        .unwrap();
        let job = |state: &str, comment: String, script: PathBuf| Listed {
            phase: Phase::of(state),
            comment,
            script: script.display().to_string(),
        };
        let own = dir.path().join("slurm/m/job.sh");
        let listed: HashMap<String, Listed> = [
            (
                "5",
                job("RUNNING", submit::comment("key-m", &cache), own.clone()),
            ),
            // Another cache's job, and one that has ended.
            (
                "6",
                job(
                    "RUNNING",
                    submit::comment("key-x", Path::new("/other")),
                    own.clone(),
                ),
            ),
            (
                "7",
                job("COMPLETED", submit::comment("key-y", &cache), own.clone()),
            ),
            (
                "8_1",
                job(
                    "PENDING",
                    format!("exp-array:{digest}"),
                    arrays.join("ab.sh"),
                ),
            ),
            (
                "8_5",
                job(
                    "PENDING",
                    format!("exp-array:{digest}"),
                    arrays.join("ab.sh"),
                ),
            ),
            ("9", job("RUNNING", "someone else's".into(), own.clone())),
        ]
        .into_iter()
        .map(|(id, job)| (id.to_string(), job))
        .collect();
        let earlier = earlier_jobs(listed, &digest);
        assert_eq!(earlier.len(), 3, "{earlier:?}");
        assert_eq!(
            earlier["key-m"],
            ("5".to_string(), dir.path().join("slurm/m"))
        );
        assert_eq!(
            earlier["key-t1"],
            ("8_1".to_string(), dir.path().join("slurm/t1"))
        );
        assert_eq!(
            earlier["key-t2"],
            ("8_1".to_string(), dir.path().join("slurm/t2"))
        );
    }

    #[test]
    fn a_failed_scancel_is_an_error_and_nothing_to_cancel_runs_nothing() {
        assert_eq!(scancel(&["--batch"], &[]), Ok(()));
        assert_eq!(
            cancel(&[("1".into(), Phase::Ended("COMPLETED".into()))]),
            Ok(())
        );
        // Not a job id (or no scancel here at all): either way, said.
        let error = scancel(&[], &["not-a-job"]).unwrap_err();
        assert!(error.contains("scancel"), "{error}");
    }

    #[test]
    fn squeue_failing_again_and_again_ends_every_wait() {
        let slurm = slurm(Duration::from_secs(5));
        let mut state = slurm.lock();
        state.jobs.insert("7".into(), Phase::Running);
        for _ in 1..POLL_FAILURES {
            slurm.apply(&mut state, Err("squeue failed: timeout".into()));
        }
        assert_eq!(state.jobs["7"], Phase::Running);
        assert_eq!(state.failures, POLL_FAILURES - 1);
        slurm.apply(&mut state, Err("squeue failed: timeout".into()));
        assert_eq!(
            state.jobs["7"],
            Phase::Ended("SQUEUE_FAILED: squeue failed: timeout".into())
        );
        // One answer and the count starts again.
        slurm.apply(&mut state, listed(&[]));
        assert_eq!(state.failures, 0);
    }

    #[test]
    fn a_result_file_is_waited_for_only_after_a_completed_job() {
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        assert_eq!(read_result(dir.path(), "3", "CANCELLED"), Ok(None));
        assert!(started.elapsed() < RESULT_GRACE / 2);
        let result = JobResult {
            status: JobStatus::Done,
            message: None,
            step: None,
            checkpointed: false,
        };
        result.write(&job::result_path(dir.path(), "3")).unwrap();
        assert_eq!(
            read_result(dir.path(), "3", "COMPLETED"),
            Ok(Some(result.clone()))
        );
        // A completed job's result that shows up late (a shared filesystem's cache) is read.
        let path = job::result_path(dir.path(), "4");
        let late = result.clone();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            late.write(&path).unwrap();
        });
        assert_eq!(read_result(dir.path(), "4", "COMPLETED"), Ok(Some(result)));
        writer.join().unwrap();
    }
}
