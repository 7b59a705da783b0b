//! Progress display: on a terminal, one bar per running training node (steps, rate, ETA, last
//! loss); otherwise plain log lines, one per event, so CI logs stay readable.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use exp_ir::{Node, NodeKind};
use exp_runtime::{NodeOutcome, Observer};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    bars: Option<MultiProgress>,
    running: Mutex<HashMap<String, ProgressBar>>,
}

impl Progress {
    pub fn new() -> Progress {
        let bars = std::io::stderr()
            .is_terminal()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Progress {
            bars,
            running: Mutex::new(HashMap::new()),
        }
    }

    fn line(&self, text: &str) {
        match &self.bars {
            Some(bars) => {
                let _ = bars.println(text);
            }
            None => {
                // One write per line: `writeln!` on unbuffered stderr wrote the text and its
                // newline apart, two system calls for each node of a large sweep.
                let _ = std::io::stderr().write_all(format!("{text}\n").as_bytes());
            }
        }
    }
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{prefix:>14} [{bar:30}] {pos}/{len} steps {per_sec} eta {eta} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

impl Observer for Progress {
    fn started(&self, node: &Node, total_steps: Option<u64>) {
        let Some(total) = total_steps else {
            if !matches!(node.kind, NodeKind::Train(_)) && self.bars.is_none() {
                self.line(&format!("[{}] {} started", node.name, node.kind.word()));
            }
            return;
        };
        match &self.bars {
            Some(bars) => {
                let bar = bars.add(ProgressBar::new(total));
                bar.set_style(bar_style());
                bar.set_prefix(node.name.clone());
                self.running
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .insert(node.name.clone(), bar);
            }
            None => self.line(&format!("[{}] training for {total} steps", node.name)),
        }
    }

    fn progress(&self, node: &Node, step: u64, loss: Option<f64>) {
        let running = self
            .running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match running.get(&node.name) {
            Some(bar) => {
                bar.set_position(step);
                if let Some(loss) = loss {
                    bar.set_message(format!("loss {loss:.4}"));
                }
            }
            None if self.bars.is_none() => {
                if let Some(loss) = loss {
                    self.line(&format!("[{}] step {step} loss {loss:.4}", node.name));
                }
            }
            None => {}
        }
    }

    fn finished(&self, node: &Node, outcome: &NodeOutcome) {
        if let Some(bar) = self
            .running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&node.name)
        {
            bar.finish_and_clear();
        }
        let text = match outcome {
            NodeOutcome::Done { seconds } => {
                format!("[{}] {} done in {seconds:.1}s", node.name, node.kind.word())
            }
            NodeOutcome::Cached { .. } => format!("[{}] {} cached", node.name, node.kind.word()),
            NodeOutcome::NotNeeded => return,
            NodeOutcome::Failed(_) => format!("[{}] {} FAILED", node.name, node.kind.word()),
            NodeOutcome::Skipped { because } => format!("[{}] skipped: {because}", node.name),
        };
        self.line(&text);
    }

    fn message(&self, node: &Node, text: &str) {
        self.line(&format!("[{}] {text}", node.name));
    }
}
