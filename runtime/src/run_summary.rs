//! `RunSummary`: what a finished run hands back to the caller: where it wrote, how each node
//! ended, and the tables it made.

use std::path::PathBuf;

use crate::error::RunError;
use crate::node_outcome::NodeOutcome;
use crate::table::Table;

pub struct RunSummary {
    pub run_dir: PathBuf,
    /// Per node, in graph order.
    pub outcomes: Vec<(String, NodeOutcome)>,
    /// Every table the run wrote.
    pub tables: Vec<Table>,
}

impl RunSummary {
    pub fn failures(&self) -> impl Iterator<Item = (&str, &RunError)> {
        self.outcomes
            .iter()
            .filter_map(|(name, outcome)| match outcome {
                NodeOutcome::Failed(error) => Some((name.as_str(), error)),
                _ => None,
            })
    }

    /// Whether the run stopped because it was asked to (Ctrl-C).
    pub fn interrupted(&self) -> bool {
        self.failures()
            .any(|(_, error)| matches!(error, RunError::Interrupted { .. }))
    }

    pub fn succeeded(&self) -> bool {
        self.outcomes.iter().all(|(_, outcome)| {
            matches!(
                outcome,
                NodeOutcome::Done { .. } | NodeOutcome::Cached { .. } | NodeOutcome::NotNeeded
            )
        })
    }
}
