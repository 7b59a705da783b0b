//! `exp run --executor slurm` against a real one-host Slurm cluster (munged, slurmctld and
//! slurmd, started by `tests/slurm/cluster.sh up`): the same results as a local run, bit for
//! bit; a job cancelled mid-training submitted again and resumed; a failing job's id and log
//! reported; a cached rerun that submits nothing. These tests start the cluster when it is not
//! running (which needs root, as CI has); without it they fail, saying why.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::support::{workspace_root, Outcome, Test};

/// The cluster's `SLURM_CONF`: `EXP_SLURM_CONF` when set (test.sh starts the cluster), else
/// the one `cluster.sh up` starts or finds running.
fn slurm_conf() -> &'static str {
    static CONF: OnceLock<String> = OnceLock::new();
    CONF.get_or_init(|| {
        if let Ok(conf) = std::env::var("EXP_SLURM_CONF") {
            return conf;
        }
        let script = workspace_root().join("tests/slurm/cluster.sh");
        let output = Command::new(&script)
            .arg("up")
            .output()
            .expect("run tests/slurm/cluster.sh");
        assert!(
            output.status.success(),
            "the Slurm tests need the one-host cluster, and `{} up` failed:\n{}",
            script.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    })
}

/// A test whose commands reach the cluster.
fn slurm_test() -> Test {
    Test::new().env("SLURM_CONF", slurm_conf())
}

fn run(test: &Test, args: &[&str]) -> Outcome {
    let outcome = test.run_within(600, args);
    assert_eq!(
        outcome.status,
        0,
        "exp {} failed:\n{}{}",
        args.join(" "),
        outcome.stdout,
        outcome.stderr
    );
    outcome
}

/// Every checkpoint of a run directory, by file name, with its bytes.
fn checkpoints(run_dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(run_dir.join("checkpoints"))
        .expect("a checkpoints directory")
        .flatten()
        .map(|entry| {
            (
                entry.file_name().to_string_lossy().into_owned(),
                std::fs::read(entry.path()).expect("read a checkpoint"),
            )
        })
        .collect();
    files.sort();
    files
}

/// Runs `file` locally and through Slurm, each with its own cache, and checks that both wrote
/// the same checkpoints and tables; returns the Slurm run's output.
fn same_as_local(test: &Test, file: &str) -> Outcome {
    run(
        test,
        &["run", file, "--out", "local", "--cache", "local-cache"],
    );
    let slurm = run(
        test,
        &[
            "run",
            file,
            "--out",
            "slurm",
            "--cache",
            "slurm-cache",
            "--executor",
            "slurm",
        ],
    );
    let local = checkpoints(&test.path("local"));
    let remote = checkpoints(&test.path("slurm"));
    assert!(!local.is_empty());
    let names = |files: &[(String, Vec<u8>)]| {
        files
            .iter()
            .map(|(name, _)| name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&local), names(&remote));
    for ((name, local), (_, remote)) in local.iter().zip(&remote) {
        assert!(
            local == remote,
            "checkpoint {name} differs between the local and the Slurm run"
        );
    }
    for table in ["results.csv"] {
        if test.path("local").join(table).exists() {
            assert_eq!(
                std::fs::read_to_string(test.path("local").join(table)).unwrap(),
                std::fs::read_to_string(test.path("slurm").join(table)).unwrap(),
                "{table}"
            );
        }
    }
    slurm
}

/// The Slurm job ids the head process submitted, from its messages.
fn submitted(outcome: &Outcome) -> Vec<String> {
    submitted_in(&outcome.stderr)
}

/// Each node the head said it queued, with its job's id, in the order said.
fn queued(stderr: &str) -> Vec<(String, String)> {
    stderr
        .lines()
        .filter_map(|line| {
            let (node, id) = line
                .strip_prefix('[')?
                .split_once("] queued as Slurm job ")?;
            Some((node.to_string(), id.trim().to_string()))
        })
        .collect()
}

#[test]
fn the_quickstart_through_slurm_gives_the_local_runs_checkpoints_and_a_cached_rerun_submits_nothing(
) {
    let quickstart = std::fs::read_to_string(workspace_root().join("experiments/quickstart.exp"))
        .expect("the quickstart");
    let test = slurm_test().file("quickstart.exp", &quickstart);
    let first = same_as_local(&test, "quickstart.exp");
    // Every node whose result the cache keeps was a job: the initialisation, two trainings,
    // two merges and five evaluations.
    assert_eq!(submitted(&first).len(), 10, "{}", first.stderr);
    assert!(test.path("slurm/manifest.json").exists());
    let again = run(
        &test,
        &[
            "run",
            "quickstart.exp",
            "--out",
            "again",
            "--cache",
            "slurm-cache",
            "--executor",
            "slurm",
        ],
    );
    assert_eq!(submitted(&again), Vec::<String>::new(), "{}", again.stderr);
    assert!(!test.path("again/slurm").exists());
    assert_eq!(
        checkpoints(&test.path("again")),
        checkpoints(&test.path("slurm"))
    );
}

#[test]
fn a_sweep_through_slurm_set_in_exp_toml_gives_the_local_runs_checkpoints() {
    let test = slurm_test()
        .file(
            "sweep.exp",
            r#"dataset d = digits
model m = mlp { hidden: [16] }
sweep seeds 3 {
  train t {
    model: m
    data: d
    steps: 30 steps
    batch: 32
    optimizer: sgd { lr: 0.1 }
  }
  evaluate e { model: t, data: d, metrics: [accuracy] }
}
resources {
  default: { cpus: 1, memory: 512 MB, time: 10 min }
}
"#,
        )
        // The project's settings: local runs ask for the local executor on the command line.
        .file(
            "exp.toml",
            "[run]\nexecutor = \"slurm\"\n[slurm]\npoll_seconds = 1\n",
        );
    run(
        &test,
        &[
            "run",
            "sweep.exp",
            "--out",
            "local",
            "--cache",
            "local-cache",
            "--executor",
            "local",
        ],
    );
    let slurm = run(
        &test,
        &[
            "run",
            "sweep.exp",
            "--out",
            "slurm",
            "--cache",
            "slurm-cache",
        ],
    );
    let ids = submitted(&slurm);
    assert_eq!(ids.len(), 7, "{}", slurm.stderr);
    // The sweep's copies became ready together (when `m` was done) and ask the same: they went
    // as tasks of job arrays, and their logs are beside each node's results all the same.
    let tasks: Vec<&String> = ids.iter().filter(|id| id.contains('_')).collect();
    assert!(tasks.len() >= 2, "no job array: {}", slurm.stderr);
    for line in slurm
        .stderr
        .lines()
        .filter(|line| line.contains("] queued as Slurm job "))
    {
        let node = &line[1..line.find("] queued").unwrap()];
        let id = line.rsplit(' ').next().unwrap();
        let log = test.path(&format!("slurm/slurm/{node}/job-{id}.log"));
        assert!(log.exists(), "no log {}", log.display());
    }
    let local = checkpoints(&test.path("local"));
    assert_eq!(local.len(), 4);
    assert_eq!(local, checkpoints(&test.path("slurm")));
    // The jobs asked for what the file's resources say.
    let id = &submitted(&slurm)[0];
    let job = scontrol_job(id);
    assert!(
        job.contains("MinMemoryNode=512M") || job.contains("mem=512M"),
        "{job}"
    );
    assert!(job.contains("TimeLimit=00:10:00"), "{job}");
}

/// `[slurm] nodes_per_task`: the copies that became ready together go as one task computing
/// them in turn, with the local run's results, each node's log beside its results, and the
/// task given their time together.
#[test]
fn a_task_of_several_nodes_computes_them_in_turn_with_the_local_runs_checkpoints() {
    let test = slurm_test()
        .file(
            "batched.exp",
            r#"dataset d = digits
model m = mlp { hidden: [8] }
sweep seeds 3 {
  train t { model: m, data: d, steps: 5 steps, batch: 32, optimizer: sgd { lr: 0.1 } }
}
resources {
  train: { time: 10 min }
}
"#,
        )
        .file(
            "exp.toml",
            "[slurm]\npoll_seconds = 1\nnodes_per_task = 4\n",
        );
    let slurm = same_as_local(&test, "batched.exp");
    let trainings: Vec<(String, String)> = queued(&slurm.stderr)
        .into_iter()
        .filter(|(node, _)| node.starts_with("t["))
        .collect();
    assert_eq!(trainings.len(), 3, "{}", slurm.stderr);
    let task = trainings[0].1.clone();
    assert!(task.ends_with("_0"), "{}", slurm.stderr);
    assert!(
        trainings.iter().all(|(_, id)| *id == task),
        "the trainings went as more than one task: {}",
        slurm.stderr
    );
    for (node, id) in &trainings {
        let log = test.path(&format!("slurm/slurm/{node}/job-{id}.log"));
        assert!(log.exists(), "no log {}", log.display());
    }
    // Three nodes' time for the task (their time limit is 10 minutes each).
    let job = scontrol_job(&task);
    assert!(job.contains("TimeLimit=00:30:00"), "{job}");
}

/// `scontrol show job` for a job (kept by the controller for a while after it ends).
fn scontrol_job(id: &str) -> String {
    let output = Command::new("scontrol")
        .args(["show", "job", id])
        .env("SLURM_CONF", slurm_conf())
        .output()
        .expect("run scontrol");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_failing_node_names_its_slurm_job_and_log_and_the_healthy_branch_finishes() {
    let test = slurm_test().file(
        "fails.exp",
        r#"dataset d = digits
model m = mlp { hidden: [16] }
train bad { model: m, data: d, steps: 20 steps, batch: 32, optimizer: sgd { lr: 1e30 } }
evaluate bad_eval { model: bad, data: d, metrics: [accuracy] }
train good { model: m, data: d, steps: 5 steps, batch: 32, optimizer: sgd { lr: 0.1 } }
evaluate good_eval { model: good, data: d, metrics: [accuracy] }
"#,
    );
    let outcome = test.run_within(
        600,
        &["run", "fails.exp", "--out", "run", "--executor", "slurm"],
    );
    assert_eq!(outcome.status, 1, "{}{}", outcome.stdout, outcome.stderr);
    let ids = submitted(&outcome);
    let bad_job = ids
        .iter()
        .find(|id| {
            outcome
                .stderr
                .contains(&format!("Slurm job {id}; its log: "))
        })
        .unwrap_or_else(|| panic!("no failure names its job:\n{}", outcome.stderr));
    let log = test.path(&format!("run/slurm/bad/job-{bad_job}.log"));
    assert!(
        outcome.stderr.contains(&log.display().to_string()),
        "{}",
        outcome.stderr
    );
    let log_text = std::fs::read_to_string(&log).expect("the job's log");
    assert!(log_text.contains("not finite"), "{log_text}");
    assert!(
        outcome.stderr.contains("1 node failed, 1 node skipped"),
        "{}",
        outcome.stderr
    );
    assert!(test.path("run/checkpoints/good.safetensors").exists());
}

/// A training long enough to be stopped in the middle, checkpointed often. Each test names
/// it differently: they share the cluster, and find their job by its name.
fn long(name: &str) -> String {
    format!(
        r#"dataset d = digits
model m = mlp {{ hidden: [64] }}
train {name} {{
  model: m
  data: d
  steps: 4000 steps
  batch: 64
  optimizer: adamw {{ lr: 0.003 }}
  log_every: 100 steps
  checkpoint_every: 50 steps
}}
"#
    )
}

/// Starts `exp run long.exp --executor slurm --out OUT` with its stderr in `head.log`, and
/// waits until its training has a checkpoint at step 100 or later; returns the head and the
/// training's job.
fn start_long(test: &Test, name: &str, out: &str) -> (std::process::Child, String) {
    // Into a file: a pipe nobody reads while the run goes on could fill and stall it.
    let log = std::fs::File::create(test.path("head.log")).expect("create head.log");
    let head = test
        .command(&["run", "long.exp", "--out", out, "--executor", "slurm"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start exp run");
    let cache = test.path("runs/.cache");
    let deadline = Instant::now() + Duration::from_secs(300);
    while latest_step(&cache).is_none_or(|step| step < 100) {
        assert!(Instant::now() < deadline, "no checkpoint within 300 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    let job = running_job(name).expect("the training's job is running");
    (head, job)
}

/// The step of a training node's latest checkpoint in a cache, if any.
fn latest_step(cache: &Path) -> Option<u64> {
    std::fs::read_dir(cache.join("partial"))
        .ok()?
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("LATEST")).ok())
        .filter_map(|latest| latest.trim().strip_prefix("step-")?.parse().ok())
        .max()
}

/// Cancels job `job` with scancel and waits for the head to finish the run (its jobs submitted
/// again as they must be); returns what the head said.
fn cancel_and_finish(test: &Test, head: &mut std::process::Child, job: &str) -> String {
    let status = Command::new("scancel")
        .arg(job)
        .env("SLURM_CONF", slurm_conf())
        .status()
        .expect("run scancel");
    assert!(status.success());
    let status = wait_for(head, Duration::from_secs(600));
    let stderr = std::fs::read_to_string(test.path("head.log")).expect("read head.log");
    assert!(status.success(), "{stderr}");
    stderr
}

/// Runs `long.exp` locally and checks that the run through Slurm (`slurm`) left the same
/// checkpoints, bit for bit.
fn assert_slurm_run_is_the_local_runs(test: &Test) {
    run(
        test,
        &[
            "run",
            "long.exp",
            "--out",
            "local",
            "--cache",
            "local-cache",
            "--executor",
            "local",
        ],
    );
    assert_eq!(
        checkpoints(&test.path("local")),
        checkpoints(&test.path("slurm"))
    );
}

#[test]
fn a_job_cancelled_mid_training_is_submitted_again_and_resumes_to_the_same_weights() {
    let test = slurm_test().file("long.exp", &long("cancelled"));
    let (mut head, job) = start_long(&test, "cancelled", "slurm");
    let cache = test.path("runs/.cache");
    let cancelled_at = latest_step(&cache).unwrap();
    let stderr = cancel_and_finish(&test, &mut head, &job);
    // Said by the job's result (it checkpointed on SIGTERM), or, had Slurm killed it before
    // it could write one, by its state.
    assert!(
        stderr.contains(&format!("Slurm job {job} was stopped (CANCELLED)"))
            || stderr.contains(&format!("Slurm job {job} ended CANCELLED")),
        "{stderr}"
    );
    assert_eq!(submitted_in(&stderr).len(), 3, "{stderr}");
    assert!(cancelled_at < 4000);
    // The job submitted again resumed, and ended where an uninterrupted run ends.
    let resumed = std::fs::read_to_string(test.path(&format!(
        "slurm/slurm/cancelled/job-{}.log",
        submitted_in(&stderr).last().unwrap()
    )))
    .unwrap();
    assert!(resumed.contains("resum"), "{resumed}");
    assert_slurm_run_is_the_local_runs(&test);
}

/// A task of several nodes cancelled while its first trains: that node resumes from its
/// checkpoint and the one it had not started runs from the start, each in a job of its own,
/// and both end where a local run ends.
#[test]
fn a_task_of_several_nodes_cancelled_sends_each_node_again_on_its_own() {
    // Three times the steps of `long`: the first node must still be training when the task is
    // cancelled, however fast the machine, for the second to be one it had not started.
    let sweep = long("cancelled")
        .replace("train cancelled {", "sweep seeds 2 {\ntrain cancelled {")
        .replace("steps: 4000 steps", "steps: 12000 steps")
        + "}\n";
    let test = slurm_test().file("long.exp", &sweep).file(
        "exp.toml",
        "[slurm]\npoll_seconds = 1\nnodes_per_task = 2\n",
    );
    let (mut head, task) = start_long(&test, "cancelled", "slurm");
    let stderr = cancel_and_finish(&test, &mut head, &task);
    let jobs = queued(&stderr);
    let trainings: Vec<&(String, String)> = jobs
        .iter()
        .filter(|(node, _)| node.starts_with("cancelled["))
        .collect();
    // Both in the cancelled task first, then each in a job of its own.
    assert_eq!(trainings.len(), 4, "{stderr}");
    assert!(trainings[..2].iter().all(|(_, id)| *id == task), "{stderr}");
    assert!(trainings[2..].iter().all(|(_, id)| *id != task), "{stderr}");
    assert_ne!(trainings[2].1, trainings[3].1, "{stderr}");
    assert_slurm_run_is_the_local_runs(&test);
}

#[test]
fn ctrl_c_in_the_head_stops_its_jobs_at_a_checkpoint_and_the_rerun_resumes_there() {
    let test = slurm_test().file("long.exp", &long("interrupted"));
    let (mut head, job) = start_long(&test, "interrupted", "first");
    let cache = test.path("runs/.cache");
    // SAFETY: kill(2) on the child's process id, which has not been waited for.
    unsafe { libc::kill(head.id() as i32, libc::SIGINT) };
    let status = wait_for(&mut head, Duration::from_secs(120));
    let stderr = std::fs::read_to_string(test.path("head.log")).expect("read head.log");
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted after step"), "{stderr}");
    assert!(
        stderr.contains("resume with:\n  exp run long.exp --out first --executor slurm"),
        "{stderr}"
    );
    // The job is gone: it checkpointed and ended, and nothing was left queued.
    assert_eq!(running_job("interrupted"), None);
    let stopped_at = latest_step(&cache).expect("a checkpoint");
    assert!(stopped_at < 4000);
    let rerun = run(
        &test,
        &["run", "long.exp", "--out", "second", "--executor", "slurm"],
    );
    let resumed = submitted(&rerun);
    assert_eq!(
        resumed.len(),
        1,
        "only the training runs again: {}",
        rerun.stderr
    );
    assert_ne!(resumed[0], job);
    let job_log = std::fs::read_to_string(
        test.path(&format!("second/slurm/interrupted/job-{}.log", resumed[0])),
    )
    .expect("the resumed job's log");
    assert!(
        job_log.contains(&format!("resumed from the checkpoint at step {stopped_at}")),
        "{job_log}"
    );
}

#[test]
fn a_head_killed_and_started_again_waits_for_the_jobs_it_left_running() {
    // Two copies of a training, ready together: one job array, whose tasks are adopted too.
    let swept =
        long("orphaned").replace("train orphaned {", "sweep seeds 2 {\ntrain orphaned {") + "}\n";
    let test = slurm_test().file("long.exp", &swept);
    // The array is named for the definition its tasks are copies of.
    let (mut head, job) = start_long(&test, "orphaned", "first");
    assert!(job.contains('_'), "not a task of a job array: {job}");
    head.kill().expect("SIGKILL the head");
    let _ = head.wait();
    // Nobody cancelled the jobs: they still run, and the next head adopts them.
    assert!(running_jobs("orphaned").contains(&job));
    let again = run(
        &test,
        &["run", "long.exp", "--out", "second", "--executor", "slurm"],
    );
    assert!(
        again
            .stderr
            .contains(&format!("already queued as Slurm job {job}")),
        "{}",
        again.stderr
    );
    assert_eq!(
        again.stderr.matches("already queued as Slurm job").count(),
        2,
        "{}",
        again.stderr
    );
    assert_eq!(submitted(&again), Vec::<String>::new(), "{}", again.stderr);
    for seed in 0..2 {
        assert!(test
            .path(&format!(
                "second/checkpoints/orphaned[seed={seed}].safetensors"
            ))
            .exists());
    }
}

fn submitted_in(stderr: &str) -> Vec<String> {
    queued(stderr).into_iter().map(|(_, id)| id).collect()
}

/// The id of a running job named `name`.
fn running_job(name: &str) -> Option<String> {
    running_jobs(name).into_iter().next()
}

/// The ids of the running jobs (and array tasks) named `name`.
fn running_jobs(name: &str) -> Vec<String> {
    let Ok(output) = Command::new("squeue")
        .args(["-h", "-r", "-t", "RUNNING", "-n", name, "-o", "%i"])
        .env("SLURM_CONF", slurm_conf())
        .output()
    else {
        return Vec::new();
    };
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|id| id.trim().to_string())
        .collect()
}

fn wait_for(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("poll exp run") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("exp run did not finish within {} s", limit.as_secs());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
