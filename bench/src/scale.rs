//! A large sweep's executor overhead (issue 16): `sweep seeds N` of one-step trainings of a tiny
//! MLP and their evaluations, at two sizes, first from an empty cache and then again with every
//! node in it. The differences between the sizes give what one more node costs (time and peak
//! memory) with the training itself negligible; the rerun gives the cached-rerun ratio.

use std::path::Path;

use crate::runs::{self, Paths};

/// Time and peak memory of one `exp run`.
#[derive(Clone, Copy)]
pub struct Measured {
    pub seconds: f64,
    pub peak_bytes: u64,
}

/// One size of the sweep: its first run and its cached rerun.
pub struct SizeResult {
    pub seeds: usize,
    pub nodes: usize,
    pub first: Measured,
    pub cached: Measured,
}

pub struct ScaleResult {
    pub small: SizeResult,
    pub large: SizeResult,
}

impl ScaleResult {
    /// Seconds one more node adds to a first run (a one-step training or its evaluation).
    pub fn seconds_per_node(&self) -> f64 {
        (self.large.first.seconds - self.small.first.seconds) / self.added_nodes()
    }

    /// Peak bytes one more node adds to a first run.
    pub fn bytes_per_node(&self) -> f64 {
        (self.large.first.peak_bytes as f64 - self.small.first.peak_bytes as f64)
            / self.added_nodes()
    }

    /// Peak bytes one more node adds to a cached rerun.
    pub fn cached_bytes_per_node(&self) -> f64 {
        (self.large.cached.peak_bytes as f64 - self.small.cached.peak_bytes as f64)
            / self.added_nodes()
    }

    /// The cached rerun of the larger sweep against its first run.
    pub fn cached_ratio(&self) -> f64 {
        self.large.cached.seconds / self.large.first.seconds
    }

    fn added_nodes(&self) -> f64 {
        (self.large.nodes as f64 - self.small.nodes as f64).max(1.0)
    }

    pub fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = [&self.small, &self.large]
            .iter()
            .map(|size| {
                format!(
                    "sweep seeds {} ({} nodes): first run {:.2} s, {:.0} MiB; cached rerun {:.2} s, {:.0} MiB",
                    size.seeds,
                    size.nodes,
                    size.first.seconds,
                    mib(size.first.peak_bytes),
                    size.cached.seconds,
                    mib(size.cached.peak_bytes)
                )
            })
            .collect();
        lines.push(format!(
            "per node: {:.3} ms and {:.1} KiB in a first run, {:.1} KiB in a cached rerun; cached rerun {:.3}× the first run",
            self.seconds_per_node() * 1e3,
            self.bytes_per_node() / 1024.0,
            self.cached_bytes_per_node() / 1024.0,
            self.cached_ratio()
        ));
        lines
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The sweep: per seed an initialisation, a one-step training and an evaluation; plus the
/// dataset and a report over every evaluation, `3 × seeds + 2` nodes.
fn source(seeds: usize) -> String {
    format!(
        "import std.digits\n\
         sweep seeds {seeds} {{\n  \
           model net = mlp {{ hidden: [4] }}\n  \
           train t {{ model: net, data: digits, steps: 1 steps, batch: 8, optimizer: sgd {{ lr: 0.1 }} }}\n  \
           evaluate e {{ model: t, data: digits, metrics: [accuracy] }}\n\
         }}\n\
         report r {{ rows: [e] }}\n"
    )
}

fn nodes(seeds: usize) -> usize {
    3 * seeds + 2
}

fn run(paths: &Paths, file: &Path, out: &Path, cache: &Path) -> anyhow::Result<Measured> {
    let cache = cache.display().to_string();
    let args = ["--cache", &cache, "--jobs", "2", "--device", "cpu"];
    let finished = runs::exp_run(paths, file, out, &args)?;
    Ok(Measured {
        seconds: finished.wall.as_secs_f64(),
        peak_bytes: finished.peak_rss,
    })
}

fn measure_size(paths: &Paths, seeds: usize) -> anyhow::Result<SizeResult> {
    let dir = paths.work.join(format!("scale-{seeds}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("scale.exp");
    std::fs::write(&file, source(seeds))?;
    let cache = dir.join("cache");
    let first = run(paths, &file, &dir.join("first"), &cache)?;
    let cached = run(paths, &file, &dir.join("cached"), &cache)?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(SizeResult {
        seeds,
        nodes: nodes(seeds),
        first,
        cached,
    })
}

/// Measures the sweep at `small` and `large` seeds.
pub fn measure(paths: &Paths, small: usize, large: usize) -> anyhow::Result<ScaleResult> {
    Ok(ScaleResult {
        small: measure_size(paths, small)?,
        large: measure_size(paths, large)?,
    })
}

#[cfg(test)]
mod tests {
    use super::{nodes, source, Measured, ScaleResult, SizeResult};

    #[test]
    fn the_sweep_has_three_nodes_per_seed_and_two_more() {
        let text = source(7);
        assert!(text.contains("sweep seeds 7 {"), "{text}");
        assert!(text.contains("steps: 1 steps"), "{text}");
        assert!(text.contains("report r { rows: [e] }"), "{text}");
        assert_eq!(nodes(7), 23);
    }

    #[test]
    fn per_node_figures_are_differences_between_the_sizes() {
        let size = |seeds, seconds, peak_bytes, cached_seconds| SizeResult {
            seeds,
            nodes: nodes(seeds),
            first: Measured {
                seconds,
                peak_bytes,
            },
            cached: Measured {
                seconds: cached_seconds,
                peak_bytes: peak_bytes / 2,
            },
        };
        let result = ScaleResult {
            small: size(100, 1.0, 100 << 20, 0.5),
            large: size(1100, 4.0, 130 << 20, 0.8),
        };
        // 3,000 more nodes: 3 s and 30 MiB more.
        assert!((result.seconds_per_node() - 1e-3).abs() < 1e-12);
        assert!((result.bytes_per_node() - (30u64 << 20) as f64 / 3000.0).abs() < 1e-6);
        assert!((result.cached_bytes_per_node() - (15u64 << 20) as f64 / 3000.0).abs() < 1e-6);
        assert!((result.cached_ratio() - 0.2).abs() < 1e-12);
        assert_eq!(result.lines().len(), 3);
    }
}
