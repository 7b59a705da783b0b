//! Runs a child process to completion and measures it: wall time, output, exit status and peak
//! resident memory.
//!
//! The peak is the child's `VmHWM` (the kernel's high-water mark of its resident set), read from
//! `/proc/<pid>/status` while the child runs, until `wait4` reaps it. `ru_maxrss` from `wait4`
//! would be simpler but is wrong here: Linux carries the forking parent's resident set across
//! fork and exec into the child's `ru_maxrss`, so every child of this libtorch-linked harness
//! would report at least the harness's own ~115 MiB (measured: `sh -c 'echo hi'`). `VmHWM`
//! belongs to the memory map that exec creates, so it counts only the child's own program.
//! Being a high-water mark, sampling misses nothing but growth in the last poll interval
//! before exit.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How often the child's high-water mark is read: often at first, for short commands.
fn poll_interval(elapsed: Duration) -> Duration {
    if elapsed < Duration::from_millis(200) {
        Duration::from_millis(1)
    } else {
        Duration::from_millis(10)
    }
}

/// The `VmHWM` line of /proc/<pid>/status, in bytes; `None` once the child has exited.
fn high_water_mark(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

use anyhow::{bail, Context as _};

pub struct Finished {
    pub stdout: String,
    pub stderr: String,
    /// The exit code, or `None` when a signal ended the child.
    pub code: Option<i32>,
    pub wall: Duration,
    /// Peak resident set size in bytes.
    pub peak_rss: u64,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

pub fn run(command: &mut Command) -> anyhow::Result<Finished> {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {command:?}"))?;
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout_reader = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr_reader = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let pid = child.id();
    let mut peak_rss = 0;
    let mut status: libc::c_int = 0;
    let wall = loop {
        if let Some(bytes) = high_water_mark(pid) {
            peak_rss = peak_rss.max(bytes);
        }
        // SAFETY: `pid` is our own child, which nothing else waits for (the `Child` handle is
        // never waited on, and dropping it does not reap); `status` is a live local and a null
        // rusage pointer is allowed.
        let reaped = unsafe {
            libc::wait4(
                pid as libc::pid_t,
                &mut status,
                libc::WNOHANG,
                std::ptr::null_mut(),
            )
        };
        if reaped == pid as libc::pid_t {
            break started.elapsed();
        }
        if reaped == -1 {
            bail!(
                "wait4 on {command:?} failed: {}",
                std::io::Error::last_os_error()
            );
        }
        std::thread::sleep(poll_interval(started.elapsed()));
    };
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Ok(Finished {
        stdout: stdout_reader.join().unwrap_or_default(),
        stderr: stderr_reader.join().unwrap_or_default(),
        code,
        wall,
        peak_rss,
    })
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::run;

    #[test]
    fn reports_output_status_and_a_peak_that_grows_with_allocation() {
        let small = run(Command::new("sh").args(["-c", "echo hi; sleep 0.05; exit 3"])).unwrap();
        assert_eq!(small.stdout, "hi\n");
        assert_eq!(small.code, Some(3));
        // Only the shell's own memory, not the harness's (see the module doc).
        assert!(
            small.peak_rss > 0 && small.peak_rss < 32 * 1024 * 1024,
            "{}",
            small.peak_rss
        );
        // A shell string of ~64 MiB raises the peak well above a bare shell's.
        let big = run(Command::new("sh").args([
            "-c",
            "x=$(head -c 67108864 /dev/zero | tr '\\0' a); sleep 0.2; echo ${#x}",
        ]))
        .unwrap();
        assert!(big.success(), "{}", big.stderr);
        assert!(
            big.peak_rss > small.peak_rss + 32 * 1024 * 1024,
            "{} vs {}",
            big.peak_rss,
            small.peak_rss
        );
    }
}
