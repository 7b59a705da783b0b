//! `ResumeError`: why a resumable checkpoint of a training phase could not be written, or could
//! not be used to continue it. Neither fails the node: a checkpoint not written leaves the
//! previous one the latest, and one not used makes the phase start at step 0; the trainer says
//! which, with this error, through the observer.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResumeError {
    /// A file or directory of the checkpoint could not be written.
    Write { path: String, message: String },
    /// A part of the checkpoint (`what`: a file, or a state inside one) could not be read.
    Unreadable { what: String, message: String },
    /// A file does not match the checksum recorded for it.
    Checksum { file: String },
    /// A part the phase needs to continue exactly as it would have is missing.
    Missing { what: String },
    /// A tensor is missing from the file that should hold it.
    MissingTensor { name: String, path: String },
    /// The mixture's saved state is for another number of datasets than this phase mixes.
    MixtureSize { saved: usize, now: usize },
    /// The progress could not be serialised: a bug in exp.
    Serialise { message: String },
}

impl fmt::Display for ResumeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResumeError::Write { path, message } => write!(f, "cannot write `{path}`: {message}"),
            ResumeError::Unreadable { what, message } => write!(f, "cannot read {what}: {message}"),
            ResumeError::Checksum { file } => write!(f, "{file} does not match its checksum"),
            ResumeError::Missing { what } => write!(f, "{what} is missing"),
            ResumeError::MissingTensor { name, path } => {
                write!(f, "`{name}` is missing from {path}")
            }
            ResumeError::MixtureSize { saved, now } => write!(
                f,
                "the mixture's state is for another number of datasets ({saved}, not {now})"
            ),
            ResumeError::Serialise { message } => write!(
                f,
                "cannot serialise the progress: {message}; this is a bug in exp, please report it with the .exp file"
            ),
        }
    }
}

impl std::error::Error for ResumeError {}
