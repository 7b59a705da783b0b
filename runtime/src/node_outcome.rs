//! `NodeOutcome`: how one node of a run ended, as the observer, the outcome journal
//! (`outcomes.jsonl`) and the manifest record it.

use serde_json::{json, Value};

use crate::error::RunError;

#[derive(Debug, Clone, PartialEq)]
pub enum NodeOutcome {
    Done {
        seconds: f64,
    },
    /// Restored from the cache entry with this key.
    Cached {
        key: String,
    },
    /// A dataset no running node needed (every reader came from the cache).
    NotNeeded,
    Failed(RunError),
    /// Not run because an input failed.
    Skipped {
        because: String,
    },
}

impl NodeOutcome {
    /// The outcome as the manifest and the outcome journal write it.
    pub fn to_json(&self) -> Value {
        match self {
            NodeOutcome::Done { seconds } => json!({ "status": "done", "seconds": seconds }),
            NodeOutcome::Cached { key } => json!({ "status": "cached", "key": key }),
            NodeOutcome::NotNeeded => json!({ "status": "not_needed" }),
            NodeOutcome::Failed(error) => {
                json!({ "status": "failed", "error": error.to_string() })
            }
            NodeOutcome::Skipped { because } => {
                json!({ "status": "skipped", "because": because })
            }
        }
    }
}
