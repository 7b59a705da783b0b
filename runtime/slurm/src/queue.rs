//! What `squeue` says about jobs: one call lists every job of the user (`-t all`, so jobs that
//! ended recently are listed with how they ended), one line per job (per task of a job
//! array): `id|STATE|comment|script`.

use std::collections::HashMap;

/// The `--format` the parser reads.
pub const FORMAT: &str = "%i|%T|%k|%o";

/// Where a job stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for resources (or requeued and waiting again).
    Queued,
    Running,
    /// Left the queue: `COMPLETED`, `FAILED`, `CANCELLED`, `TIMEOUT`, `PREEMPTED`, ...; the
    /// state word as Slurm spells it.
    Ended(String),
}

impl Phase {
    /// A Slurm job state word (`squeue %T`).
    pub fn of(state: &str) -> Phase {
        match state {
            "PENDING" | "REQUEUED" | "REQUEUE_FED" | "REQUEUE_HOLD" | "SUSPENDED" | "STOPPED"
            | "RESV_DEL_HOLD" => Phase::Queued,
            "RUNNING" | "CONFIGURING" | "COMPLETING" | "RESIZING" | "SIGNALING" | "STAGE_OUT" => {
                Phase::Running
            }
            ended => Phase::Ended(ended.to_string()),
        }
    }
}

/// Whether a job that ended in `state` without a result was stopped from outside (cancelled,
/// preempted, out of time, its machine lost): the node itself did not fail, so it is submitted
/// again and resumes from its checkpoint.
pub fn stopped_from_outside(state: &str) -> bool {
    matches!(
        state,
        "CANCELLED" | "PREEMPTED" | "TIMEOUT" | "NODE_FAIL" | "BOOT_FAIL" | "DEADLINE"
    )
}

/// One job as `squeue` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub phase: Phase,
    /// The job's comment: exp writes the node's key and its cache there (`submit::comment`),
    /// to find its own jobs again.
    pub comment: String,
    /// The batch script the job runs (`%o`): exp writes it beside what the job writes.
    pub script: String,
}

/// Parses `squeue -h -o FORMAT` output; lines it cannot read are left out.
pub fn parse(text: &str) -> HashMap<String, Listed> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.trim().splitn(4, '|');
            let id = fields.next()?.trim();
            let state = fields.next()?.trim();
            if id.is_empty() || state.is_empty() {
                return None;
            }
            // `CANCELLED by 0` is how some versions spell a cancelled job's state.
            let state = state.split_whitespace().next()?;
            let comment = fields.next().unwrap_or("").trim();
            let comment = if comment == "(null)" { "" } else { comment };
            let script = fields.next().unwrap_or("").trim();
            Some((
                id.to_string(),
                Listed {
                    phase: Phase::of(state),
                    comment: comment.to_string(),
                    script: script.to_string(),
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_become_phases_by_job_id() {
        let listed = parse(
            "12|PENDING|exp:abc|/r/slurm/a/job.sh\n13|RUNNING|(null)\n14|COMPLETED|exp:def|/s.sh\n15|CANCELLED by 0|\n\ngarbage\n|RUNNING|x\n16||x\n",
        );
        assert_eq!(listed.len(), 4);
        assert_eq!(listed["12"].phase, Phase::Queued);
        assert_eq!(listed["12"].comment, "exp:abc");
        assert_eq!(listed["12"].script, "/r/slurm/a/job.sh");
        assert_eq!(listed["13"].script, "");
        assert_eq!(listed["13"].phase, Phase::Running);
        assert_eq!(listed["13"].comment, "");
        assert_eq!(listed["14"].phase, Phase::Ended("COMPLETED".into()));
        assert_eq!(listed["15"].phase, Phase::Ended("CANCELLED".into()));
    }

    #[test]
    fn states_fall_into_queued_running_and_ended() {
        for state in ["PENDING", "REQUEUED", "SUSPENDED"] {
            assert_eq!(Phase::of(state), Phase::Queued, "{state}");
        }
        for state in ["RUNNING", "COMPLETING", "CONFIGURING"] {
            assert_eq!(Phase::of(state), Phase::Running, "{state}");
        }
        for state in ["COMPLETED", "FAILED", "TIMEOUT", "OUT_OF_MEMORY"] {
            assert_eq!(Phase::of(state), Phase::Ended(state.into()), "{state}");
        }
    }

    #[test]
    fn only_jobs_stopped_from_outside_are_submitted_again() {
        for state in ["CANCELLED", "PREEMPTED", "TIMEOUT", "NODE_FAIL"] {
            assert!(stopped_from_outside(state), "{state}");
        }
        for state in ["FAILED", "OUT_OF_MEMORY", "COMPLETED"] {
            assert!(!stopped_from_outside(state), "{state}");
        }
    }
}
