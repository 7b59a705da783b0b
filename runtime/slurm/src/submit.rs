//! What `sbatch` is given for one node: its options (name, resources, log, the node's key as
//! the job's comment) and the batch script, which `exec`s `exp-host compute-node` so that the
//! signals Slurm sends the job (SIGTERM on scancel, preemption or time limit) reach exp itself.

use std::path::Path;

use exp_ir::ResourceRequest;

/// One node's job, as the head process knows it.
#[derive(Clone)]
pub struct JobSpec<'a> {
    pub node: &'a str,
    pub key: &'a str,
    /// What the node asks for: the file's `resources` rules over the configured defaults.
    pub request: &'a ResourceRequest,
    /// The node's directory for its jobs' logs, results and run directories (absolute).
    pub work: &'a Path,
    /// `exp-host`, the program the job runs (absolute).
    pub program: &'a Path,
    /// The experiment file (absolute).
    pub file: &'a Path,
    pub cache: &'a Path,
    /// libtorch's intra-op threads, part of every key: the job computes with the same count.
    pub threads: usize,
    /// The device the head resolved (`cpu` or `cuda`), part of every key.
    pub device: &'a str,
    /// More `sbatch` options from the configuration (`[slurm] sbatch_args`), given last.
    pub extra: &'a [String],
}

/// `sbatch`'s arguments (before the script's path) and the script.
#[derive(Debug, PartialEq)]
pub struct Submission {
    pub args: Vec<String>,
    pub script: String,
}

/// The job for a node.
pub fn submission(spec: &JobSpec) -> Submission {
    let mut args = vec![
        "--parsable".to_string(),
        format!("--job-name={}", spec.node),
        format!("--comment={}", comment(spec.key, spec.cache)),
        format!("--output={}", spec.work.join("job-%j.log").display()),
        "--open-mode=append".to_string(),
    ];
    args.extend(shared_args(spec));
    let mut command = command_prefix(spec);
    command.extend([
        "--node".to_string(),
        spec.node.to_string(),
        "--key".to_string(),
        spec.key.to_string(),
        "--work".to_string(),
        spec.work.display().to_string(),
    ]);
    Submission {
        args,
        script: script(
            &format!("node {} of {}", spec.node, spec.file.display()),
            &command,
        ),
    }
}

/// What a node's job asks of Slurm besides its name, comment and output: nodes whose jobs
/// ask the same can be one job array. The job asks for as many CPUs as the node computes
/// with threads unless the file asks for more (or fewer).
pub fn shared_args(spec: &JobSpec) -> Vec<String> {
    let request = spec.request;
    let mut args = vec![
        // Preempted or lost with its machine, the job goes back in the queue and resumes.
        "--requeue".to_string(),
        format!(
            "--cpus-per-task={}",
            request
                .cpus
                .map_or(spec.threads.max(1), |cpus| cpus as usize)
        ),
    ];
    if let Some(memory) = request.memory_mb {
        args.push(format!("--mem={memory}M"));
    }
    if let Some(minutes) = request.time_minutes {
        args.push(format!("--time={minutes}"));
    }
    if let Some(partition) = &request.partition {
        args.push(format!("--partition={partition}"));
    }
    if let Some(account) = &request.account {
        args.push(format!("--account={account}"));
    }
    if let Some(gpus) = request.gpus.filter(|&gpus| gpus > 0) {
        match &request.gpu_type {
            Some(kind) => args.push(format!("--gres=gpu:{kind}:{gpus}")),
            None => args.push(format!("--gres=gpu:{gpus}")),
        }
    }
    args.extend(spec.extra.iter().cloned());
    args
}

/// One job array for nodes whose jobs ask the same (`shared_args`): task `i` computes the
/// nodes on line `i + 1` of `tasks` (written by `job::write_tasks`), `per_task` of them (the
/// last task fewer), one after another, so it asks for that many times a node's time. Each
/// task writes each node's log beside that node's results, as a node's own job does; Slurm's
/// output file (in `dir`, named by array and task) keeps only what a task said before it knew
/// its nodes.
pub fn array_submission(
    specs: &[JobSpec],
    per_task: usize,
    tasks: &Path,
    dir: &Path,
) -> Submission {
    let first = &specs[0];
    // The most nodes a task computes.
    let per_task = per_task.clamp(1, specs.len());
    let task_count = specs.len().div_ceil(per_task);
    let mut args = vec![
        "--parsable".to_string(),
        format!("--job-name={}", array_name(specs)),
        format!("--comment=exp-array:{}", cache_digest(first.cache)),
        format!("--output={}", dir.join("job-%A_%a.log").display()),
        "--open-mode=append".to_string(),
        format!("--array=0-{}", task_count - 1),
    ];
    args.extend(shared_args(first).into_iter().map(|arg| {
        match arg
            .strip_prefix("--time=")
            .and_then(|minutes| minutes.parse::<u64>().ok())
        {
            Some(minutes) => format!("--time={}", minutes * per_task as u64),
            None => arg,
        }
    }));
    let mut command = command_prefix(first);
    command.extend(["--tasks".to_string(), tasks.display().to_string()]);
    let each = if per_task == 1 {
        "one per task".to_string()
    } else {
        format!("{per_task} per task")
    };
    Submission {
        args,
        script: script(
            &format!(
                "{} nodes of {}, {each}, listed in {}",
                specs.len(),
                first.file.display(),
                tasks.display()
            ),
            &command,
        ),
    }
}

/// A job array's name: its nodes' common name without the sweep point (`t` for `t[seed=0]`,
/// `t[seed=1]`), else its first node's.
fn array_name(specs: &[JobSpec]) -> String {
    let family = |node: &str| node.split('[').next().unwrap_or(node).to_string();
    let first = family(specs[0].node);
    if specs.iter().all(|spec| family(spec.node) == first) {
        first
    } else {
        specs[0].node.to_string()
    }
}

/// `exp-host compute-node` and what every job of a run gives it.
fn command_prefix(spec: &JobSpec) -> Vec<String> {
    vec![
        spec.program.display().to_string(),
        "compute-node".to_string(),
        spec.file.display().to_string(),
        "--cache".to_string(),
        spec.cache.display().to_string(),
        "--threads".to_string(),
        spec.threads.to_string(),
        "--device".to_string(),
        spec.device.to_string(),
    ]
}

/// The batch script: `exec`, so that Slurm's signals reach exp itself.
fn script(what: &str, command: &[String]) -> String {
    let command: Vec<String> = command.iter().map(|word| quoted(word)).collect();
    format!("#!/bin/sh\n# exp: {what}\nexec {}\n", command.join(" "))
}

/// A digest of the cache directory's path, to tell runs into different caches apart.
pub fn cache_digest(cache: &Path) -> String {
    let digest = exp_runtime::run_dir::sha256_hex(cache.display().to_string().as_bytes());
    digest[..12].to_string()
}

/// The job's comment: the node's key and the cache the result goes to (a digest of its path),
/// so that a head process started again finds the jobs computing its nodes into its cache.
pub fn comment(key: &str, cache: &Path) -> String {
    format!("exp:{key}:{}", cache_digest(cache))
}

/// A word for `sh`, quoted so that nothing in it is interpreted.
fn quoted(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec<'a>(request: &'a ResourceRequest, extra: &'a [String]) -> JobSpec<'a> {
        JobSpec {
            node: "ft[lr=0.1,seed=1]",
            key: "abc123",
            request,
            work: Path::new("/shared/runs/x/slurm/ft[lr=0.1,seed=1]"),
            program: Path::new("/opt/exp/exp-host"),
            file: Path::new("/home/a/it's.exp"),
            cache: Path::new("/shared/cache"),
            threads: 2,
            device: "cpu",
            extra,
        }
    }

    #[test]
    fn a_node_without_resources_asks_for_its_threads_and_nothing_else() {
        let request = ResourceRequest::default();
        let submission = submission(&spec(&request, &[]));
        assert_eq!(
            submission.args,
            [
                "--parsable",
                "--job-name=ft[lr=0.1,seed=1]",
                "--comment=exp:abc123:d8ba76393464",
                "--output=/shared/runs/x/slurm/ft[lr=0.1,seed=1]/job-%j.log",
                "--open-mode=append",
                "--requeue",
                "--cpus-per-task=2",
            ]
        );
        assert_eq!(
            submission.script,
            "#!/bin/sh\n# exp: node ft[lr=0.1,seed=1] of /home/a/it's.exp\nexec '/opt/exp/exp-host' 'compute-node' '/home/a/it'\\''s.exp' '--cache' '/shared/cache' '--threads' '2' '--device' 'cpu' '--node' 'ft[lr=0.1,seed=1]' '--key' 'abc123' '--work' '/shared/runs/x/slurm/ft[lr=0.1,seed=1]'\n"
        );
    }

    #[test]
    fn nodes_that_ask_the_same_go_as_one_array_whose_tasks_read_a_list() {
        let request = ResourceRequest {
            memory_mb: Some(512),
            ..Default::default()
        };
        let one = spec(&request, &[]);
        let two = JobSpec {
            node: "ft[lr=0.1,seed=2]",
            key: "def456",
            ..spec(&request, &[])
        };
        assert_eq!(shared_args(&one), shared_args(&two));
        let submission = array_submission(
            &[one.clone(), two.clone()],
            1,
            Path::new("/shared/runs/x/slurm/arrays/0a1b.tasks"),
            Path::new("/shared/runs/x/slurm/arrays"),
        );
        assert_eq!(
            submission.args,
            [
                "--parsable",
                "--job-name=ft",
                "--comment=exp-array:d8ba76393464",
                "--output=/shared/runs/x/slurm/arrays/job-%A_%a.log",
                "--open-mode=append",
                "--array=0-1",
                "--requeue",
                "--cpus-per-task=2",
                "--mem=512M",
            ]
        );
        assert!(submission
            .script
            .ends_with("'--device' 'cpu' '--tasks' '/shared/runs/x/slurm/arrays/0a1b.tasks'\n"));
        assert!(submission
            .script
            .contains("# exp: 2 nodes of /home/a/it's.exp, one per task"));
        // Two nodes to a task: five nodes are three tasks, each given two nodes' time.
        let timed = ResourceRequest {
            time_minutes: Some(30),
            ..Default::default()
        };
        let five: Vec<JobSpec> = (0..5)
            .map(|_| JobSpec {
                request: &timed,
                ..one.clone()
            })
            .collect();
        let array = |specs: &[JobSpec], per_task| {
            array_submission(
                specs,
                per_task,
                Path::new("/shared/runs/x/slurm/arrays/0a1b.tasks"),
                Path::new("/shared/runs/x/slurm/arrays"),
            )
        };
        let batched = array(&five, 2);
        let asks = |submission: &Submission, arg: &str| submission.args.iter().any(|a| a == arg);
        assert!(asks(&batched, "--array=0-2"), "{:?}", batched.args);
        assert!(asks(&batched, "--time=60"), "{:?}", batched.args);
        assert!(!asks(&batched, "--time=30"));
        assert!(batched
            .script
            .contains("# exp: 5 nodes of /home/a/it's.exp, 2 per task"));
        // Fewer nodes than a task may hold: one task, their time only.
        let few = array(&five[..3], 8);
        assert!(asks(&few, "--array=0-0"), "{:?}", few.args);
        assert!(asks(&few, "--time=90"), "{:?}", few.args);
    }

    #[test]
    fn the_comment_tells_caches_apart() {
        let here = comment("abc", Path::new("/shared/cache"));
        assert!(here.starts_with("exp:abc:"));
        assert_eq!(here, comment("abc", Path::new("/shared/cache")));
        assert_ne!(here, comment("abc", Path::new("/shared/other")));
        assert_ne!(here, comment("abd", Path::new("/shared/cache")));
    }

    #[test]
    fn resources_become_sbatch_options_and_configured_ones_come_last() {
        let request = ResourceRequest {
            cpus: Some(8),
            memory_mb: Some(16384),
            gpus: Some(2),
            gpu_type: Some("a100".into()),
            time_minutes: Some(90),
            partition: Some("gpu".into()),
            account: Some("lab".into()),
        };
        let extra = ["--qos=high".to_string()];
        let args = submission(&spec(&request, &extra)).args;
        assert_eq!(
            args[6..],
            [
                "--cpus-per-task=8",
                "--mem=16384M",
                "--time=90",
                "--partition=gpu",
                "--account=lab",
                "--gres=gpu:a100:2",
                "--qos=high",
            ]
        );
        let untyped = ResourceRequest {
            gpus: Some(1),
            ..Default::default()
        };
        assert!(submission(&spec(&untyped, &[]))
            .args
            .contains(&"--gres=gpu:1".to_string()));
        let none = ResourceRequest {
            gpus: Some(0),
            ..Default::default()
        };
        assert!(!submission(&spec(&none, &[]))
            .args
            .iter()
            .any(|arg| arg.starts_with("--gres")));
    }
}
