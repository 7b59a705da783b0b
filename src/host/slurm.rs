//! Which executor `exp run` uses, and for Slurm, the settings the head process hands it: the
//! command line over the project's and the user's `exp.toml` (see `exp::config`).

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use exp::config::{Config, Executor};
use exp_ir::ResourceRequest;
use exp_runtime::remote::Remote;
use exp_runtime::DeviceChoice;
use exp_slurm::{Slurm, SlurmSettings};

/// Nodes at once when neither the command line nor the configuration says.
const LOCAL_JOBS: usize = 2;
const SLURM_JOBS: usize = 64;
const POLL_SECONDS: f64 = 5.0;
const RESUBMISSIONS: u32 = 3;

/// What the command line said that the choice depends on.
pub struct Asked<'a> {
    pub jobs: Option<usize>,
    pub threads: usize,
    pub device: DeviceChoice,
    pub cache: Option<&'a Path>,
}

/// How many nodes run at once, and the remote executor (none for a local run).
pub fn executor(
    file: &Path,
    config: Config,
    asked_executor: Option<Executor>,
    asked: &Asked,
    stop: &Arc<AtomicBool>,
) -> Result<(usize, Option<Arc<dyn Remote>>), String> {
    let executor = asked_executor
        .or(config.run.executor)
        .unwrap_or(Executor::Local);
    if executor == Executor::Local {
        return Ok((asked.jobs.unwrap_or(LOCAL_JOBS), None));
    }
    if asked.cache.is_none() {
        return Err("`--executor slurm` needs the cache: its jobs hand their results to this process through it; drop `--no-cache` (use `--force NODE` to recompute)".to_string());
    }
    let device = match asked.device.resolve() {
        Ok(device) if device.is_cuda() => "cuda",
        Ok(_) => "cpu",
        Err(error) => return Err(error.to_string()),
    };
    let program = std::env::current_exe()
        .map_err(|error| format!("cannot find this program to run in the jobs: {error}"))?;
    let file = std::path::absolute(file)
        .map_err(|error| format!("cannot make `{}` absolute: {error}", file.display()))?;
    let slurm = config.slurm;
    let settings = SlurmSettings {
        program,
        file,
        threads: asked.threads,
        device: device.to_string(),
        defaults: ResourceRequest {
            partition: slurm.partition,
            account: slurm.account,
            ..Default::default()
        },
        sbatch_args: slurm.sbatch_args.unwrap_or_default(),
        poll_max: Duration::from_secs_f64(slurm.poll_seconds.unwrap_or(POLL_SECONDS)),
        resubmissions: slurm.resubmissions.unwrap_or(RESUBMISSIONS),
        nodes_per_task: slurm.nodes_per_task.unwrap_or(1),
        stop: stop.clone(),
    };
    let jobs = asked.jobs.or(slurm.max_jobs).unwrap_or(SLURM_JOBS);
    Ok((jobs, Some(Arc::new(Slurm::new(settings)))))
}
