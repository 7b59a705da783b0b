//! `Observer`: how the runtime reports progress without printing (only the binary prints).

use exp_ir::Node;

use crate::node_outcome::NodeOutcome;

pub trait Observer: Sync {
    /// A node started; `total_steps` is set for training nodes.
    fn started(&self, _node: &Node, _total_steps: Option<u64>) {}
    /// A training node finished `step` steps; `loss` is the latest logged training loss.
    fn progress(&self, _node: &Node, _step: u64, _loss: Option<f64>) {}
    fn finished(&self, _node: &Node, _outcome: &NodeOutcome) {}
    /// A line worth showing (what a node resumed from, a warning).
    fn message(&self, _node: &Node, _text: &str) {}
}

pub struct SilentObserver;

impl Observer for SilentObserver {}
