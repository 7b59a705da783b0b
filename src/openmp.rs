//! libgomp's waiting, for `exp run --threads N` with N > 1.
//!
//! libgomp (libtorch's OpenMP runtime) spins about 300,000 times waiting for work before its
//! threads sleep, milliseconds of a core: between two parallel kernels its threads keep
//! spinning, so the next kernel starts at once. That is right on an idle machine and ruinous on
//! a busy one: a thread spins on a core while the thread it waits for is descheduled, and every
//! `--threads` > 1 run became about ten times slower beside two other runs (issue 11, item 9).
//! `OMP_WAIT_POLICY=PASSIVE` (no spinning) fixes that but wakes the sleeping threads for every
//! kernel, tens of times per step of a small model. 1,000 spins (tens of microseconds) bridge
//! the gaps between the kernels of one step and give the core up soon after: on a loaded 2-core
//! machine a conv net's step time with 2 threads measured the same as with `PASSIVE` (40 ms,
//! against 90–120 ms with libgomp's default). exp-bench's busy-machine rows measure it.
//!
//! libgomp reads its environment once, when it is loaded, so the variable must be in the
//! environment of the process that loads libtorch: `exp` (which links neither) puts it in the
//! environment it hands to `exp-host` (`host_exec`), unless the user set `OMP_WAIT_POLICY` or
//! `GOMP_SPINCOUNT` themselves. One thread, the default, starts no OpenMP team and is left alone.

/// The variable and the value `exp-host` gets.
pub const SPIN_COUNT: (&str, &str) = ("GOMP_SPINCOUNT", "1000");

/// Whether `argv` (the program name first) asks for `exp run` with more than one intra-op
/// thread: the only command that starts OpenMP teams. Read loosely, before clap: any argument
/// `run`, and `--threads N` or `--threads=N`.
pub fn runs_openmp_teams(args: &[&[u8]]) -> bool {
    let threads = args.iter().enumerate().find_map(|(index, arg)| {
        let value = match arg.strip_prefix(b"--threads") {
            Some([]) => args.get(index + 1).copied()?,
            Some([b'=', value @ ..]) => value,
            _ => return None,
        };
        std::str::from_utf8(value).ok()?.parse::<u64>().ok()
    });
    args.iter().skip(1).any(|arg| *arg == b"run") && threads.is_some_and(|threads| threads > 1)
}

/// Whether an environment (the names of its variables) leaves libgomp's waiting to exp: it sets
/// neither `OMP_WAIT_POLICY` nor `GOMP_SPINCOUNT`.
pub fn leaves_openmp_waiting_to_exp(names: &[&[u8]]) -> bool {
    !names
        .iter()
        .any(|name| *name == b"OMP_WAIT_POLICY" || *name == b"GOMP_SPINCOUNT")
}

/// The variable to add to `exp-host`'s environment for this process's arguments and
/// environment, if any.
pub fn spin_count_for_host() -> Option<(&'static str, &'static str)> {
    use std::os::unix::ffi::OsStrExt as _;
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let args: Vec<&[u8]> = args.iter().map(|arg| arg.as_bytes()).collect();
    let names: Vec<std::ffi::OsString> = std::env::vars_os().map(|(name, _)| name).collect();
    let names: Vec<&[u8]> = names.iter().map(|name| name.as_bytes()).collect();
    (runs_openmp_teams(&args) && leaves_openmp_waiting_to_exp(&names)).then_some(SPIN_COUNT)
}

#[cfg(test)]
mod tests {
    use super::{leaves_openmp_waiting_to_exp as leaves, runs_openmp_teams};

    #[test]
    fn only_a_run_with_several_threads_starts_openmp_teams() {
        let args = |line: &'static str| -> Vec<&'static [u8]> {
            line.split(' ').map(str::as_bytes).collect()
        };
        assert!(runs_openmp_teams(&args("exp run a.exp --threads 2")));
        assert!(runs_openmp_teams(&args(
            "exp --color never run a.exp --threads=4"
        )));
        assert!(!runs_openmp_teams(&args("exp run a.exp")));
        assert!(!runs_openmp_teams(&args("exp run a.exp --threads 1")));
        assert!(!runs_openmp_teams(&args("exp check a.exp --threads 2")));
        assert!(!runs_openmp_teams(&args("exp run a.exp --threads")));
        assert!(!runs_openmp_teams(&args("run --threads 2")));
    }

    #[test]
    fn a_user_who_set_either_openmp_wait_variable_keeps_it() {
        assert!(leaves(&[b"HOME", b"OMP_NUM_THREADS", b"GOMP_SPINCOUNTS"]));
        assert!(leaves(&[]));
        assert!(!leaves(&[b"HOME", b"OMP_WAIT_POLICY"]));
        assert!(!leaves(&[b"GOMP_SPINCOUNT"]));
    }
}
