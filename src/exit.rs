//! `Exit`: the exit codes of both binaries, decided here and nowhere else (STYLE E8).

use std::process::ExitCode;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success,
    /// Stopped by Ctrl-C after checkpointing; the same command resumes.
    Interrupted,
    /// The run happened, but at least one node failed or was skipped.
    NodesFailed,
    /// `exp fmt --check`: a file is not in the canonical layout.
    Unformatted,
    /// The experiment file (or a plugin it needs) has errors; nothing ran.
    InvalidInput,
    /// exp could not do its job (unreadable file, unwritable run directory, no such device).
    Fatal,
}

impl Exit {
    pub fn code(self) -> ExitCode {
        ExitCode::from(self.number())
    }

    /// The number the process exits with.
    pub fn number(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Interrupted => 130,
            Exit::NodesFailed | Exit::Unformatted => 1,
            Exit::InvalidInput => 2,
            Exit::Fatal => 3,
        }
    }
}
