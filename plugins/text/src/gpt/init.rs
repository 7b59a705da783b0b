//! `Init`: the only source of randomness a [`crate::gpt::Gpt`] uses, implemented for the SDK's
//! `Rng` (SplitMix64), the generator every exp component draws from.
//!
//! The model never touches libtorch's global generator (no `randn`, no `manual_seed`): many
//! trainings run in parallel threads of one process, and each must get bit-identical weights and
//! dropout masks for its seed whatever the others do.
//! Weights are drawn on the CPU in a fixed order (that of [`crate::gpt::Gpt::named_tensors`]) and
//! then moved to the device, so a seed gives the same model on every device.
//!
//! `Init::normal` is not the SDK's `Rng::normal`: the SDK keeps only the cosine half of each
//! Box–Muller pair (so that its state stays one integer between single draws), while a weight
//! matrix needs many draws at once and uses both halves, as the standalone `gpt` crate did; its
//! weights per seed are unchanged by the move. Call it as `Init::normal(&mut rng, ..)`: on an
//! `Rng` value, `rng.normal(..)` is the SDK's inherent method.

use exp_plugin_api::sdk::Rng;
use exp_plugin_api::tch::Tensor;

/// A source of random numbers for initialisation and for seeding dropout.
pub trait Init {
    /// A CPU float32 tensor of `shape` with independent N(0, std²) entries.
    fn normal(&mut self, shape: &[i64], std: f64) -> Tensor;
    /// 64 random bits. The model draws one at construction to key its dropout masks.
    fn next_u64(&mut self) -> u64;
}

impl Init for Rng {
    /// Box–Muller: each pair of uniforms gives two normals (the second is dropped at an odd
    /// end). The arithmetic is in f64 and rounded to f32 once. `ln`, `cos` and `sin` come from
    /// the platform's libm, so weights are bit-identical per seed on one machine; another libm
    /// may differ in the last bit.
    fn normal(&mut self, shape: &[i64], std: f64) -> Tensor {
        let count = shape.iter().product::<i64>().max(0) as usize;
        let mut values: Vec<f32> = Vec::with_capacity(count + 1);
        while values.len() < count {
            // 1 − u lies in (0, 1], so the logarithm is finite.
            let radius = (-2.0 * (1.0 - self.next_f64()).ln()).sqrt() * std;
            let angle = std::f64::consts::TAU * self.next_f64();
            values.push((radius * angle.cos()) as f32);
            values.push((radius * angle.sin()) as f32);
        }
        values.truncate(count);
        Tensor::from_slice(&values).reshape(shape)
    }

    fn next_u64(&mut self) -> u64 {
        Rng::next_u64(self)
    }
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::Rng;

    use super::Init;

    #[test]
    fn both_halves_of_each_pair_are_used_and_the_first_is_the_sdks_draw() {
        let mut rng = Rng::new(5);
        let drawn = Vec::<f32>::try_from(&Init::normal(&mut rng, &[3], 1.0)).unwrap();
        // The SDK's draw is the cosine half of the same first pair.
        assert_eq!(drawn[0], Rng::new(5).next_normal() as f32);
        // Three values take two pairs: four uniforms.
        let mut expected = Rng::new(5);
        for _ in 0..4 {
            expected.next_u64();
        }
        assert_eq!(rng, expected);
    }
}
