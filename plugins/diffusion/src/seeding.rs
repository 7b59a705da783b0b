//! Independent random streams: one `Rng` per (seed, index), so that a draw never depends on
//! how many draws came before it in another stream (an example's pixels do not depend on which
//! examples a licence filter dropped; a training call's noise does not depend on the batch size
//! of the calls before it).

use exp_plugin_api::sdk::Rng;

/// SplitMix64's output function: a bijective scramble of one 64-bit value.
fn mix(value: u64) -> u64 {
    Rng::new(value).next_u64()
}

/// The stream numbered `index` under `seed`. Seed and index are scrambled separately before
/// they are combined, so neighbouring seeds and neighbouring indices give unrelated streams.
pub fn stream(seed: u64, index: u64) -> Rng {
    Rng::new(mix(mix(seed) ^ index))
}

#[cfg(test)]
mod tests {
    use super::stream;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let first = |seed, index| stream(seed, index).next_u64();
        assert_eq!(first(3, 5), first(3, 5));
        assert_ne!(first(3, 5), first(3, 6));
        assert_ne!(first(3, 5), first(4, 5));
        // Swapping seed and index does not give the same stream.
        assert_ne!(first(3, 5), first(5, 3));
    }
}
