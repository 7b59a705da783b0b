//! The Slurm executor: a run's nodes computed as Slurm jobs from a cache on a shared
//! filesystem (`exp run FILE --executor slurm`).
//!
//! The head process (`exp run`) keeps the executor's semantics: the plan, failure isolation,
//! reports and the manifest. Each node whose result the cache stores becomes one Slurm job as
//! soon as its inputs are done; the job runs `exp-host compute-node`, which computes that node
//! (restoring its inputs from the cache) and stores its result in the cache, then writes a
//! small result file; the head restores the result from the cache like any cached node.
//!
//! - `job`: the result file a job leaves and a job array's task list, shared by both sides.
//! - `submit`: the batch script and `sbatch`'s options for a node or a job array (resources,
//!   log, comment).
//! - `queue`: what `squeue` says, parsed; job states.
//! - `executor`: `Slurm`, the `Remote` the runtime calls: submits (nodes ready together that
//!   ask the same, as one job array), polls (one `squeue` for
//!   every job, backing off while nothing changes), resubmits a job that was cancelled,
//!   preempted or timed out (it resumes from its checkpoint), and on Ctrl-C signals the jobs to
//!   checkpoint and stop.

pub mod executor;
pub mod job;
pub mod queue;
pub mod submit;

pub use executor::{Slurm, SlurmSettings};
pub use job::{JobResult, JobStatus, Task};
