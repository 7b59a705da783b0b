//! Giving freed memory back to the system while a large study runs.
//!
//! glibc keeps the pages it frees inside its arenas, and `process_settings` (main.rs) tells it
//! to trim the top of its heap only past 256 MiB of free memory, so that training does not
//! fault fresh pages in at every step. A sweep of thousands of small nodes then leaves its
//! long-lived records (each node's outcome, an evaluation's metrics) scattered between pages
//! its trainings freed, and the process kept about 4 KiB per node more than it held: half of
//! a 6,000-node sweep's growth. `Trimming` hands those pages back every `EVERY` nodes.

use std::sync::atomic::{AtomicUsize, Ordering};

use exp_ir::Node;
use exp_runtime::{NodeOutcome, Observer};

/// Nodes ended between two trims: a trim walks every arena (about a millisecond for a heap of
/// a few hundred MiB), so a sweep of one-step nodes pays well under 1% for it.
const EVERY: usize = 256;

/// An observer that passes everything on to `inner` and trims the heap every `EVERY` nodes.
pub struct Trimming<O> {
    inner: O,
    ended: AtomicUsize,
    /// `trim`, or what a test counts in its place.
    trim: fn(),
}

impl<O: Observer> Trimming<O> {
    pub fn new(inner: O) -> Trimming<O> {
        Trimming {
            inner,
            ended: AtomicUsize::new(0),
            trim,
        }
    }
}

impl<O: Observer> Observer for Trimming<O> {
    fn started(&self, node: &Node, total_steps: Option<u64>) {
        self.inner.started(node, total_steps);
    }

    fn progress(&self, node: &Node, step: u64, loss: Option<f64>) {
        self.inner.progress(node, step, loss);
    }

    fn finished(&self, node: &Node, outcome: &NodeOutcome) {
        self.inner.finished(node, outcome);
        if (self.ended.fetch_add(1, Ordering::Relaxed) + 1).is_multiple_of(EVERY) {
            (self.trim)();
        }
    }

    fn message(&self, node: &Node, text: &str) {
        self.inner.message(node, text);
    }
}

/// Returns the free pages of every arena to the system.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory the allocator holds free; it takes the arenas'
    // locks itself, so it is safe while other threads allocate.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use exp_ir::{ArtifactKind, Node, NodeId, NodeKind, Origin};
    use exp_runtime::{NodeOutcome, Observer};

    use super::{Trimming, EVERY};

    /// Counts what reaches it: started, progress, finished, message.
    #[derive(Default)]
    struct Counting([AtomicUsize; 4]);

    impl Observer for Counting {
        fn started(&self, _: &Node, _: Option<u64>) {
            self.0[0].fetch_add(1, Ordering::Relaxed);
        }
        fn progress(&self, _: &Node, _: u64, _: Option<f64>) {
            self.0[1].fetch_add(1, Ordering::Relaxed);
        }
        fn finished(&self, _: &Node, _: &NodeOutcome) {
            self.0[2].fetch_add(1, Ordering::Relaxed);
        }
        fn message(&self, _: &Node, _: &str) {
            self.0[3].fetch_add(1, Ordering::Relaxed);
        }
    }

    static TRIMS: AtomicUsize = AtomicUsize::new(0);

    fn counted() {
        TRIMS.fetch_add(1, Ordering::Relaxed);
    }

    #[test]
    fn everything_reaches_the_inner_observer_and_every_256th_end_trims() {
        let node = Node {
            id: NodeId(0),
            name: "r".into(),
            kind: NodeKind::Caption,
            inputs: Vec::new(),
            output: ArtifactKind::Dataset,
            seed: 0,
            origin: Origin::None,
            family: None,
            point: Vec::new(),
        };
        let trimming = Trimming {
            trim: counted,
            ..Trimming::new(Counting::default())
        };
        trimming.started(&node, Some(3));
        trimming.progress(&node, 1, None);
        trimming.message(&node, "hello");
        let trims_after = |ends: usize| {
            for _ in 0..ends {
                trimming.finished(&node, &NodeOutcome::NotNeeded);
            }
            TRIMS.load(Ordering::Relaxed)
        };
        assert_eq!(trims_after(EVERY - 1), 0);
        assert_eq!(trims_after(1), 1);
        assert_eq!(trims_after(EVERY - 1), 1);
        assert_eq!(trims_after(1), 2);
        let counts: Vec<usize> = trimming
            .inner
            .0
            .iter()
            .map(|count| count.load(Ordering::Relaxed))
            .collect();
        assert_eq!(counts, [1, 1, 2 * EVERY, 1]);
    }

    /// Resident memory in bytes, from `/proc/self/statm`.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn resident() -> usize {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
        // SAFETY: sysconf only reads a system setting.
        pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize
    }

    /// Memory freed between blocks still in use (not at the top of the heap, which glibc can
    /// shrink by itself) leaves the process only through a trim.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn a_trim_hands_pages_freed_between_live_blocks_back() {
        const BLOCK: usize = 32 * 1024;
        let blocks: Vec<Vec<u8>> = (0..3 * 1024).map(|_| vec![1u8; BLOCK]).collect();
        // Two blocks of every three freed: 64 MiB of holes between the blocks kept.
        let kept: Vec<Vec<u8>> = blocks.into_iter().step_by(3).collect();
        let before = resident();
        super::trim();
        let after = resident();
        assert!(
            before.saturating_sub(after) > 32 << 20,
            "resident {before} bytes before the trim, {after} after"
        );
        assert_eq!(kept.len(), 1024);
    }
}
