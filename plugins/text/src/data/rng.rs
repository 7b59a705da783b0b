//! The draws every generator makes, built on the SDK's generator.
//!
//! `Rng` is `exp_plugin_api::sdk::Rng` (SplitMix64), the generator every exp component draws from.
//! The standalone `textdata` crate had its own copy of the same algorithm; switching to the SDK's kept
//! every generator's output byte-identical (the fingerprints in `tests/text/pinned.rs` prove it).
//! The draws (`choose`, `shuffle`, ...) live in the `Draw` trait rather than on `Rng` itself, because
//! `Rng` belongs to the SDK.
//! Uniform integers come from the SDK's `Rng::below`, so a generator and any other component draw
//! `0..n` the same way.
//! Every draw uses integer arithmetic only (no float formatting or platform-dependent math), so the
//! same seed gives the same sequence on every machine.

pub use exp_plugin_api::sdk::Rng;

/// Draws built on a stream of uniform 64-bit words.
pub trait Draw {
    /// The next uniform 64-bit word.
    fn next_word(&mut self) -> u64;

    /// Uniform in `0..n`, without modulo bias.
    /// Panics if `n == 0`.
    fn below(&mut self, n: u64) -> u64;

    /// Uniform in `low..=high`. Panics if `low > high`.
    fn range_inclusive(&mut self, low: u64, high: u64) -> u64 {
        assert!(low <= high, "empty range {low}..={high}");
        let span = high - low;
        if span == u64::MAX {
            return self.next_word();
        }
        low + self.below(span + 1)
    }

    /// A uniform index into a collection of `len` items. Panics if `len == 0`.
    fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// A uniformly chosen item. Panics on an empty slice.
    fn choose<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// True with probability `numerator / denominator` (exact, integer-only).
    fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.below(denominator) < numerator
    }

    /// Fisher–Yates shuffle in place: every permutation equally likely.
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for last in (1..items.len()).rev() {
            let other = self.index(last + 1);
            items.swap(last, other);
        }
    }

    /// `count` distinct indices from `0..len`, in the order drawn (a partial Fisher–Yates shuffle).
    /// Panics if `count > len`.
    fn sample_indices(&mut self, len: usize, count: usize) -> Vec<usize> {
        assert!(
            count <= len,
            "cannot draw {count} distinct indices from {len}"
        );
        let mut pool: Vec<usize> = (0..len).collect();
        for position in 0..count {
            let other = position + self.index(len - position);
            pool.swap(position, other);
        }
        pool.truncate(count);
        pool
    }

    /// A fresh seed for an independent sub-stream, so one part of a generator can change how many
    /// draws it makes without shifting the draws of another.
    fn fork(&mut self) -> Rng {
        Rng::new(self.next_word())
    }
}

impl Draw for Rng {
    fn next_word(&mut self) -> u64 {
        self.next_u64()
    }

    /// The SDK's rejection sampling. `textdata` rejected the lowest `2^64 mod n` words where the SDK
    /// rejects the highest ones; both return `word % n` for every other word, so the two differ only
    /// on a draw that one of them rejects, with probability below `n / 2^64` per draw.
    fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0) has no value to return");
        Rng::below(self, n)
    }
}

#[cfg(test)]
mod tests {
    use super::{Draw, Rng};

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // Reference values of SplitMix64 from seed 0 (as in Vigna's splitmix64.c).
        let mut rng = Rng::new(0);
        assert_eq!(rng.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(rng.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(rng.next_u64(), 0x06c4_5d18_8009_454f);
    }

    #[test]
    fn next_f64_is_in_the_unit_interval() {
        let mut rng = Rng::new(7);
        for _ in 0..10_000 {
            let value = rng.next_f64();
            assert!((0.0..1.0).contains(&value));
        }
    }

    #[test]
    fn below_stays_in_range_and_covers_it_evenly() {
        let mut rng = Rng::new(42);
        let mut counts = [0u32; 6];
        for _ in 0..60_000 {
            counts[rng.below(6) as usize] += 1;
        }
        // Each bucket expects 10,000; five standard deviations is about 456.
        for count in counts {
            assert!((9_500..=10_500).contains(&count), "{counts:?}");
        }
        assert_eq!(rng.below(1), 0);
        let big = rng.below(u64::MAX);
        assert!(big < u64::MAX);
    }

    #[test]
    fn range_inclusive_reaches_both_ends() {
        let mut rng = Rng::new(3);
        let draws: Vec<u64> = (0..1000).map(|_| rng.range_inclusive(5, 7)).collect();
        assert!(draws.iter().all(|value| (5..=7).contains(value)));
        assert!(draws.contains(&5) && draws.contains(&7));
        assert_eq!(rng.range_inclusive(9, 9), 9);
    }

    #[test]
    fn shuffle_is_a_permutation_and_seeded() {
        let mut first: Vec<u32> = (0..50).collect();
        let mut second = first.clone();
        Rng::new(11).shuffle(&mut first);
        Rng::new(11).shuffle(&mut second);
        assert_eq!(first, second);
        assert_ne!(first, (0..50).collect::<Vec<u32>>());
        let mut sorted = first.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<u32>>());
    }

    #[test]
    fn sample_indices_are_distinct_and_in_range() {
        let mut rng = Rng::new(5);
        let picked = rng.sample_indices(10, 10);
        let mut sorted = picked.clone();
        sorted.sort();
        assert_eq!(sorted, (0..10).collect::<Vec<usize>>());
        assert_eq!(rng.sample_indices(3, 0), Vec::<usize>::new());
    }

    #[test]
    fn chance_matches_its_probability() {
        let mut rng = Rng::new(9);
        let hits = (0..40_000).filter(|_| rng.chance(1, 4)).count();
        assert!((9_500..=10_500).contains(&hits), "{hits}");
    }
}
