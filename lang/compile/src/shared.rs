//! Equal parts of node kinds held once: a sweep's copies of one definition carry equal
//! components, training specifications and metrics, and a 100,000-node study's graph was
//! mostly such copies, one per node.

use std::collections::VecDeque;
use std::sync::Arc;

use exp_ir::graph::TrainSpec;
use exp_ir::{ComponentRef, NodeKind};

/// How many distinct values of one sort `Recent` compares a new one with.
const RECENT: usize = 16;

/// The values of one sort made most recently, each held once.
struct Recent<T: ?Sized>(VecDeque<Arc<T>>);

impl<T: ?Sized> Default for Recent<T> {
    fn default() -> Self {
        Recent(VecDeque::new())
    }
}

impl<T: ?Sized + PartialEq> Recent<T> {
    /// `value`, or an equal one made before.
    fn share(&mut self, value: Arc<T>) -> Arc<T> {
        if let Some(held) = self
            .0
            .iter()
            .find(|held| Arc::ptr_eq(held, &value) || ***held == *value)
        {
            return Arc::clone(held);
        }
        if self.0.len() == RECENT {
            self.0.pop_front();
        }
        self.0.push_back(Arc::clone(&value));
        value
    }
}

/// The parts of node kinds that a sweep's copies of one definition carry equal: held once, not
/// once per copy (a 100,000-node study's graph was mostly such copies). Each new value is
/// compared with the last `RECENT` distinct ones of its sort, which covers the copies a sweep
/// makes one after another (of every setting of its other axes, up to `RECENT` of them).
#[derive(Default)]
pub(crate) struct SharedParts {
    components: Recent<ComponentRef>,
    trains: Recent<TrainSpec>,
    metrics: Recent<[ComponentRef]>,
}

impl SharedParts {
    pub(crate) fn kind(&mut self, kind: NodeKind) -> NodeKind {
        match kind {
            NodeKind::Dataset { component } => NodeKind::Dataset {
                component: self.components.share(component),
            },
            NodeKind::Model { component } => NodeKind::Model {
                component: self.components.share(component),
            },
            NodeKind::Tokenizer { component } => NodeKind::Tokenizer {
                component: self.components.share(component),
            },
            NodeKind::Export { component } => NodeKind::Export {
                component: self.components.share(component),
            },
            NodeKind::Merge { component } => NodeKind::Merge {
                component: self.components.share(component),
            },
            NodeKind::Train(spec) => NodeKind::Train(self.trains.share(spec)),
            NodeKind::Evaluate { metrics, splits } => NodeKind::Evaluate {
                metrics: self.metrics.share(metrics),
                splits,
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{Recent, RECENT};

    #[test]
    fn an_equal_value_is_the_one_held_and_the_oldest_is_forgotten_past_the_limit() {
        let mut recent: Recent<String> = Recent::default();
        let first = recent.share(Arc::new("a".to_string()));
        let again = recent.share(Arc::new("a".to_string()));
        assert!(Arc::ptr_eq(&first, &again));
        let other = recent.share(Arc::new("b".to_string()));
        assert!(!Arc::ptr_eq(&first, &other));
        assert_eq!(recent.0.len(), 2);
        for index in 0..RECENT {
            recent.share(Arc::new(format!("fill {index}")));
        }
        assert_eq!(recent.0.len(), RECENT);
        // `a` was pushed out: a new `a` is held anew.
        let later = recent.share(Arc::new("a".to_string()));
        assert!(!Arc::ptr_eq(&first, &later));
        assert_eq!(*later, "a");
    }
}
