//! Where a training phase's batches come from: the order of examples (a fresh seeded
//! permutation each epoch), several datasets trained on together (their training splits
//! concatenated), and a replay buffer of earlier tasks' examples mixed into every batch.

use exp_ir::graph::{Mixture, Replay, ReplaySize};
use exp_ir::value::Clock;
use exp_plugin_api::host::PluginError;
use exp_plugin_api::sdk::{Rng, Split};
use tch::Tensor;

use super::resume::OrderState;
use super::resume_error::ResumeError;
use crate::artifact::DatasetArtifact;

/// Steps in one pass over `examples` with batches of `batch` (the last one may be partial).
pub fn steps_per_epoch(examples: i64, batch: u64) -> u64 {
    (examples.max(0) as u64).div_ceil(batch.max(1)).max(1)
}

/// Hands out batches of training indices: a new seeded permutation every epoch.
pub struct BatchOrder {
    rng: Rng,
    examples: usize,
    batch: usize,
    epoch: Vec<i64>,
    position: usize,
}

impl BatchOrder {
    pub fn new(seed: u64, examples: usize, batch: usize) -> BatchOrder {
        BatchOrder {
            rng: Rng::new(seed),
            examples,
            batch,
            epoch: Vec::new(),
            position: 0,
        }
    }

    pub fn state(&self) -> OrderState {
        OrderState {
            rng: self.rng.state(),
            epoch: self.epoch.clone(),
            position: self.position,
        }
    }

    pub fn restore(&mut self, state: &OrderState) {
        self.rng = Rng::from_state(state.rng);
        self.epoch = state.epoch.clone();
        self.position = state.position;
    }

    pub fn next_batch(&mut self) -> &[i64] {
        if self.position >= self.epoch.len() {
            self.epoch = self.rng.permutation(self.examples);
            self.position = 0;
        }
        let end = (self.position + self.batch).min(self.epoch.len());
        let batch = &self.epoch[self.position..end];
        self.position = end;
        batch
    }
}

/// The training splits of one or more datasets as one index space, in the order given.
pub struct Sources<'a> {
    pub datasets: Vec<&'a DatasetArtifact>,
    /// Where each dataset's examples start in the joint index space.
    offsets: Vec<i64>,
    pub train_len: i64,
}

impl<'a> Sources<'a> {
    pub fn new(datasets: Vec<&'a DatasetArtifact>) -> Sources<'a> {
        let mut offsets = Vec::with_capacity(datasets.len());
        let mut total = 0;
        for dataset in &datasets {
            offsets.push(total);
            total += dataset.info.train_len.max(0);
        }
        Sources {
            datasets,
            offsets,
            train_len: total,
        }
    }

    /// Where dataset `source`'s examples start in the joint index space.
    pub fn offset(&self, source: usize) -> i64 {
        self.offsets[source]
    }

    /// The dataset and its own index for a joint index.
    fn locate(&self, index: i64) -> (usize, i64) {
        let source = self.offsets.partition_point(|offset| *offset <= index) - 1;
        (source, index - self.offsets[source])
    }

    /// The training examples at joint `indices`, grouped by dataset (each group in the order
    /// given). One dataset is passed straight through.
    pub fn batch(&self, indices: &[i64]) -> Result<(Tensor, Tensor), PluginError> {
        if self.datasets.len() == 1 {
            return self.datasets[0].batch(Split::Train, indices);
        }
        let mut groups: Vec<Vec<i64>> = vec![Vec::new(); self.datasets.len()];
        for index in indices {
            let (source, local) = self.locate(*index);
            groups[source].push(local);
        }
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for (source, group) in groups.iter().enumerate() {
            if group.is_empty() {
                continue;
            }
            let (x, y) = self.datasets[source].batch(Split::Train, group)?;
            xs.push(x);
            ys.push(y);
        }
        Ok((Tensor::cat(&xs, 0), Tensor::cat(&ys, 0)))
    }
}

/// Batches drawn from several datasets with weights that change over the phase (a mixture
/// schedule): each example picks a dataset with probability proportional to its weight at this
/// step, then takes that dataset's next example in its own seeded order (a fresh permutation
/// each time it runs out).
pub struct MixtureSampler {
    points: Vec<u64>,
    weights: Vec<Vec<f64>>,
    interpolate: bool,
    offsets: Vec<i64>,
    orders: Vec<BatchOrder>,
    rng: Rng,
    batch: usize,
    /// Examples drawn from each dataset so far, for the data ledger.
    pub drawn: Vec<u64>,
}

impl MixtureSampler {
    pub fn new(
        mixture: &Mixture,
        sources: &Sources<'_>,
        clock: &Clock,
        batch: u64,
        seed: u64,
    ) -> MixtureSampler {
        let orders = sources
            .datasets
            .iter()
            .enumerate()
            .map(|(index, dataset)| {
                BatchOrder::new(
                    seed ^ (0x4d69_7874 + index as u64).rotate_left(32),
                    dataset.info.train_len.max(0) as usize,
                    1,
                )
            })
            .collect();
        MixtureSampler {
            points: mixture.at.iter().map(|at| at.to_steps(clock)).collect(),
            weights: mixture.weights.clone(),
            interpolate: mixture.interpolate,
            offsets: (0..sources.datasets.len())
                .map(|source| sources.offset(source))
                .collect(),
            orders,
            rng: Rng::new(seed ^ 0x4d69_7875_7265),
            batch: batch as usize,
            drawn: vec![0; sources.datasets.len()],
        }
    }

    pub fn points_increase(&self) -> bool {
        self.points.windows(2).all(|pair| pair[0] < pair[1])
    }

    /// The weights at `step`: the row of the last point at or before it (the first row before
    /// the first point), or with `interpolate` the line between the points around it.
    pub fn weights_at(&self, step: u64) -> Vec<f64> {
        let after = self.points.partition_point(|point| *point <= step);
        if after == 0 {
            return self.weights[0].clone();
        }
        let current = after - 1;
        match (self.interpolate, self.points.get(after)) {
            (true, Some(next)) if *next > self.points[current] => {
                let t = (step - self.points[current]) as f64 / (next - self.points[current]) as f64;
                self.weights[current]
                    .iter()
                    .zip(&self.weights[after])
                    .map(|(a, b)| a + (b - a) * t)
                    .collect()
            }
            _ => self.weights[current].clone(),
        }
    }

    /// Joint indices of the batch for `step` (0-based).
    pub fn next_batch(&mut self, step: u64) -> Vec<i64> {
        let weights = self.weights_at(step);
        let total: f64 = weights.iter().sum();
        (0..self.batch)
            .map(|_| {
                let mut draw = self.rng.next_f64() * total;
                let mut source = weights.len() - 1;
                for (index, weight) in weights.iter().enumerate() {
                    if draw < *weight {
                        source = index;
                        break;
                    }
                    draw -= weight;
                }
                self.drawn[source] += 1;
                self.offsets[source] + self.orders[source].next_batch()[0]
            })
            .collect()
    }

    pub fn state(&self) -> serde_json::Value {
        serde_json::json!({
            "rng": self.rng.state(),
            "drawn": self.drawn,
            "orders": self.orders.iter().map(BatchOrder::state).collect::<Vec<_>>(),
        })
    }

    /// Restores what `state` wrote; `Err` says what is missing, since resuming without it
    /// would not continue the uninterrupted run.
    pub fn restore(&mut self, state: &serde_json::Value) -> Result<(), ResumeError> {
        let unreadable = |what: &str, error: serde_json::Error| ResumeError::Unreadable {
            what: what.to_string(),
            message: error.to_string(),
        };
        let rng = state["rng"].as_u64().ok_or_else(|| ResumeError::Missing {
            what: "the mixture's generator state".to_string(),
        })?;
        let drawn: Vec<u64> = serde_json::from_value(state["drawn"].clone())
            .map_err(|error| unreadable("the mixture's counts", error))?;
        let orders: Vec<OrderState> = serde_json::from_value(state["orders"].clone())
            .map_err(|error| unreadable("the mixture's orders", error))?;
        if orders.len() != self.orders.len() || drawn.len() != self.drawn.len() {
            return Err(ResumeError::MixtureSize {
                saved: orders.len(),
                now: self.orders.len(),
            });
        }
        self.rng = Rng::from_state(rng);
        self.drawn = drawn;
        for (order, saved) in self.orders.iter_mut().zip(&orders) {
            order.restore(saved);
        }
        Ok(())
    }
}

/// A fixed buffer of earlier tasks' examples, chosen once at the start of a phase, and the
/// generator that draws from it for each batch.
pub struct ReplayBuffer {
    /// Joint indices into the earlier tasks' `Sources`.
    chosen: Vec<i64>,
    /// Replayed examples added to every batch.
    per_batch: usize,
    rng: Rng,
}

/// `size` of the joint indices `0..total`, sorted: a uniform sample (`uniform`), or what
/// reservoir sampling keeps after seeing them in order (`reservoir`).
fn choose(total: usize, size: usize, selection: &str, rng: &mut Rng) -> Vec<i64> {
    let mut chosen: Vec<i64> = if selection == "uniform" {
        rng.permutation(total).into_iter().take(size).collect()
    } else {
        let mut reservoir: Vec<i64> = (0..size as i64).collect();
        for index in size..total {
            let slot = (rng.next_u64() % (index as u64 + 1)) as usize;
            if slot < size {
                reservoir[slot] = index as i64;
            }
        }
        reservoir
    };
    chosen.sort_unstable();
    chosen
}

impl ReplayBuffer {
    /// Chooses the buffer: `uniform` samples it from all earlier examples at once;
    /// `reservoir` runs reservoir sampling over them in task order, as a stream would.
    /// The replayed share of each batch is `ratio`, so `batch · ratio / (1 − ratio)` examples
    /// are added to the `batch` new ones: every method sees the same new data per step.
    pub fn new(replay: &Replay, earlier: &Sources<'_>, batch: u64, seed: u64) -> ReplayBuffer {
        let total = earlier.train_len.max(0) as usize;
        let size = match replay.size {
            ReplaySize::Count(count) => (count as usize).min(total),
            ReplaySize::Fraction(fraction) => {
                ((fraction * total as f64).round() as usize).min(total)
            }
        };
        let mut rng = Rng::new(seed ^ 0x5265_706c_6179);
        let chosen = choose(total, size, &replay.selection, &mut rng);
        let per_batch = if chosen.is_empty() {
            0
        } else {
            ((batch as f64 * replay.ratio / (1.0 - replay.ratio)).round() as usize).max(1)
        };
        ReplayBuffer {
            chosen,
            per_batch,
            rng,
        }
    }

    pub fn len(&self) -> usize {
        self.chosen.len()
    }

    /// Joint indices of the examples to replay with the next batch (drawn with replacement).
    pub fn draw(&mut self) -> Vec<i64> {
        (0..self.per_batch)
            .map(|_| self.chosen[(self.rng.next_u64() % self.chosen.len() as u64) as usize])
            .collect()
    }

    pub fn rng_state(&self) -> u64 {
        self.rng.state()
    }

    pub fn restore(&mut self, state: u64) {
        self.rng = Rng::from_state(state);
    }
}

#[cfg(test)]
mod tests {
    use super::{steps_per_epoch, BatchOrder, MixtureSampler};
    use exp_plugin_api::sdk::Rng;

    fn sampler(weights: Vec<Vec<f64>>, points: Vec<u64>, interpolate: bool) -> MixtureSampler {
        MixtureSampler {
            orders: vec![BatchOrder::new(1, 100, 1), BatchOrder::new(2, 50, 1)],
            points,
            weights,
            interpolate,
            offsets: vec![0, 100],
            rng: Rng::new(3),
            batch: 1000,
            drawn: vec![0, 0],
        }
    }

    #[test]
    fn replay_buffers_are_distinct_in_range_and_seeded() {
        for selection in ["uniform", "reservoir"] {
            let chosen = super::choose(1000, 50, selection, &mut Rng::new(7));
            assert_eq!(chosen.len(), 50);
            let mut distinct = chosen.clone();
            distinct.dedup();
            assert_eq!(distinct, chosen, "{selection}: sorted and without repeats");
            assert!(chosen.iter().all(|index| (0..1000).contains(index)));
            assert_eq!(chosen, super::choose(1000, 50, selection, &mut Rng::new(7)));
            assert_ne!(chosen, super::choose(1000, 50, selection, &mut Rng::new(8)));
            // Asking for everything keeps everything.
            let all = super::choose(30, 30, selection, &mut Rng::new(7));
            assert_eq!(all, (0..30).collect::<Vec<i64>>());
        }
        // A reservoir sees the stream in order: late examples get in as often as early ones,
        // so over many draws each half of the stream fills about half the buffer.
        let late: usize = (0..200)
            .map(|seed| {
                super::choose(100, 10, "reservoir", &mut Rng::new(seed))
                    .iter()
                    .filter(|index| **index >= 50)
                    .count()
            })
            .sum();
        assert!((800..1200).contains(&late), "{late} of 2000");
    }

    #[test]
    fn mixture_weights_switch_at_their_points() {
        let mut mixture = sampler(vec![vec![1.0, 0.0], vec![1.0, 1.0]], vec![0, 10], false);
        assert_eq!(mixture.weights_at(9), vec![1.0, 0.0]);
        assert_eq!(mixture.weights_at(10), vec![1.0, 1.0]);
        // Before the switch every example comes from the first dataset.
        assert!(mixture.next_batch(5).iter().all(|index| *index < 100));
        assert_eq!(mixture.drawn, vec![1000, 0]);
        // After it, about half from each (the second dataset's indices start at 100).
        let second = mixture
            .next_batch(20)
            .iter()
            .filter(|index| **index >= 100)
            .count();
        assert!((400..600).contains(&second), "{second}");
        let linear = sampler(vec![vec![1.0, 0.0], vec![0.0, 1.0]], vec![0, 10], true);
        assert_eq!(linear.weights_at(5), vec![0.5, 0.5]);
        assert_eq!(linear.weights_at(30), vec![0.0, 1.0]);
    }

    #[test]
    fn batches_cover_each_epoch_once() {
        assert_eq!(steps_per_epoch(10, 4), 3);
        let mut order = BatchOrder::new(1, 10, 4);
        let mut seen: Vec<i64> = Vec::new();
        for _ in 0..3 {
            seen.extend(order.next_batch());
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        assert_eq!(order.next_batch().len(), 4);
    }
}
