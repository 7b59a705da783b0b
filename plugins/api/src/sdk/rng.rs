//! A small deterministic random generator (SplitMix64) for components: initialisation, dropout
//! masks and shuffles drawn from it depend only on the node's seed, never on thread timing or
//! on libtorch's global generator. Its whole state is one integer (`state`/`from_state`), so
//! it is saved with a checkpoint.

use tch::{Kind, Tensor};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// The generator's whole state.
    pub fn state(&self) -> u64 {
        self.state
    }

    /// A generator continuing from a saved state.
    pub fn from_state(state: u64) -> Rng {
        Rng { state }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal draw (Box–Muller, one of the pair; the sine half is discarded so
    /// that the generator's state stays one integer).
    pub fn next_normal(&mut self) -> f64 {
        // 1 − u is in (0, 1], so the logarithm is finite.
        let radius = (-2.0 * (1.0 - self.next_f64()).ln()).sqrt();
        radius * (std::f64::consts::TAU * self.next_f64()).cos()
    }

    /// Uniform in `0..n` without modulo bias (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        let limit = u64::MAX - u64::MAX % n;
        loop {
            let draw = self.next_u64();
            if draw < limit {
                return draw % n;
            }
        }
    }

    /// A float tensor of `shape` uniform in [low, high).
    pub fn uniform(&mut self, shape: &[i64], low: f64, high: f64) -> Tensor {
        let count: i64 = shape.iter().product();
        let values: Vec<f32> = (0..count)
            .map(|_| (low + (high - low) * self.next_f64()) as f32)
            .collect();
        Tensor::from_slice(&values)
            .reshape(shape)
            .to_kind(Kind::Float)
    }

    /// A float tensor of `shape` with entries drawn from N(0, std²).
    pub fn normal(&mut self, shape: &[i64], std: f64) -> Tensor {
        let count: i64 = shape.iter().product();
        let values: Vec<f32> = (0..count)
            .map(|_| (std * self.next_normal()) as f32)
            .collect();
        Tensor::from_slice(&values).reshape(shape)
    }

    /// A 0/1 float mask of `shape` where each entry is 1 with probability `keep`.
    pub fn bernoulli(&mut self, shape: &[i64], keep: f64) -> Tensor {
        let count: i64 = shape.iter().product();
        let values: Vec<f32> = (0..count)
            .map(|_| if self.next_f64() < keep { 1.0 } else { 0.0 })
            .collect();
        Tensor::from_slice(&values).reshape(shape)
    }

    /// A permutation of `0..n` (Fisher–Yates).
    pub fn permutation(&mut self, n: usize) -> Vec<i64> {
        let mut order: Vec<i64> = (0..n as i64).collect();
        for i in (1..n).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        order
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn splitmix64_matches_its_reference_sequence() {
        // The first outputs of SplitMix64 from seed 0 (Vigna's reference implementation).
        let mut rng = Rng::new(0);
        assert_eq!(rng.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(rng.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(rng.next_u64(), 0x06c4_5d18_8009_454f);
        assert_eq!(Rng::from_state(rng.state()).next_u64(), rng.next_u64());
    }

    #[test]
    fn normal_draws_have_zero_mean_and_unit_variance() {
        let mut rng = Rng::new(7);
        let draws: Vec<f64> = (0..20_000).map(|_| rng.next_normal()).collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let variance = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / draws.len() as f64;
        assert!(mean.abs() < 0.03, "{mean}");
        assert!((variance - 1.0).abs() < 0.05, "{variance}");
    }

    #[test]
    fn below_stays_in_range_and_hits_every_value() {
        let mut rng = Rng::new(3);
        let mut seen = [0u32; 6];
        for _ in 0..6_000 {
            seen[rng.below(6) as usize] += 1;
        }
        assert!(
            seen.iter().all(|count| (800..1200).contains(count)),
            "{seen:?}"
        );
    }
}
