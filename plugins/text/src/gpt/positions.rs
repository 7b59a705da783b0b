//! Position schemes that act inside attention: rotary embeddings (`Rope`) and ALiBi slopes and
//! biases. Learned positions are just the `wpe` table, handled in [`crate::gpt::Gpt`].
//!
//! RoPE follows the GPT-NeoX/LLaMA "half-split" convention (Hugging Face's `rotate_half`):
//! dimension `i` of a head is rotated together with dimension `i + D/2`, by the angle
//! `position · base^(−2i/D)`. (The original RoFormer/GPT-J convention pairs adjacent dimensions
//! `2i, 2i+1` instead; the two are equal up to a fixed permutation of the q/k weights.)
//! The half-split form needs no interleaving: two narrows, four products and one `cat`.
//!
//! ALiBi (Press et al., 2022) adds −m_h·(i − j) to the score of query i and key j ≤ i in head h.
//! The slopes are geometric from 2^(−8/n) with ratio 2^(−8/n) for n heads, a power of two; for
//! other n, [`alibi_slopes`] follows the paper's `get_slopes`: the slopes for the largest power
//! of two below n, then every other slope of the 2·that count.

use exp_plugin_api::tch::{Device, Kind, TchError, Tensor};

/// ALiBi slopes for `heads` heads (Press et al.'s `get_slopes`).
pub fn alibi_slopes(heads: i64) -> Vec<f64> {
    fn power_of_two(n: i64) -> Vec<f64> {
        let start = 2f64.powf(-8.0 / n as f64);
        (0..n).map(|head| start.powi(head as i32 + 1)).collect()
    }
    if heads <= 0 {
        return Vec::new();
    }
    let below = 1i64 << (63 - heads.leading_zeros() as i64);
    if below == heads {
        return power_of_two(heads);
    }
    let mut slopes = power_of_two(below);
    slopes.extend(
        alibi_slopes(2 * below)
            .into_iter()
            .step_by(2)
            .take((heads - below) as usize),
    );
    slopes
}

/// The ALiBi bias for a plain causal sequence of length `t`: `[H, T, T]`, −m_h·(i − j) on and
/// below the diagonal and −∞ above it, so it is also the causal mask.
pub(crate) fn alibi_causal_bias(slopes: &Tensor, t: i64) -> Result<Tensor, TchError> {
    let options = (Kind::Int64, slopes.device());
    let query = Tensor::f_arange(t, options)?.f_unsqueeze(1)?;
    let key = Tensor::f_arange(t, options)?.f_unsqueeze(0)?;
    let future = key.f_gt_tensor(&query)?;
    // (j − i)·m_h = −m_h·(i − j).
    let distance = key.f_sub(&query)?.f_to_kind(slopes.kind())?;
    let bias = distance
        .f_unsqueeze(0)?
        .f_mul(&slopes.f_view([-1, 1, 1])?)?;
    bias.f_masked_fill(&future.f_unsqueeze(0)?, f64::NEG_INFINITY)
}

/// Precomputed rotary angles for positions `0..context_length`.
#[derive(Debug)]
pub(crate) struct Rope {
    /// `[context_length, head_dim / 2]`.
    cos: Tensor,
    sin: Tensor,
}

impl Rope {
    /// Tables computed in f64 and rounded once to `kind`, so long contexts keep exact angles.
    pub(crate) fn new(
        context_length: i64,
        head_dim: i64,
        base: f64,
        kind: Kind,
        device: Device,
    ) -> Result<Rope, TchError> {
        let half = head_dim / 2;
        let mut cos = Vec::with_capacity((context_length * half) as usize);
        let mut sin = Vec::with_capacity((context_length * half) as usize);
        for position in 0..context_length {
            for pair in 0..half {
                let frequency = base.powf(-2.0 * pair as f64 / head_dim as f64);
                let angle = position as f64 * frequency;
                cos.push(angle.cos());
                sin.push(angle.sin());
            }
        }
        let table = |values: &[f64]| -> Result<Tensor, TchError> {
            Tensor::from_slice(values)
                .f_view([context_length, half])?
                .f_to_kind(kind)?
                .f_to_device(device)
        };
        Ok(Rope {
            cos: table(&cos)?,
            sin: table(&sin)?,
        })
    }

    /// Cos and sin tables that broadcast against `[B, H, T, D/2]`: rows `0..t` when
    /// `positions` is `None`, else gathered per row from `positions` (`[B, T]`).
    pub(crate) fn tables(
        &self,
        positions: Option<&Tensor>,
        t: i64,
    ) -> Result<(Tensor, Tensor), TchError> {
        match positions {
            None => Ok((self.cos.f_narrow(0, 0, t)?, self.sin.f_narrow(0, 0, t)?)),
            Some(positions) => {
                let size = positions.size();
                let flat = positions.f_reshape([-1])?;
                let gather = |table: &Tensor| -> Result<Tensor, TchError> {
                    table
                        .f_index_select(0, &flat)?
                        .f_view([size[0], 1, size[1], -1])
                };
                Ok((gather(&self.cos)?, gather(&self.sin)?))
            }
        }
    }

    /// Rotates `x` (`[B, H, T, D]`): (x₁, x₂) ↦ (x₁·cos − x₂·sin, x₂·cos + x₁·sin) on the halves.
    pub(crate) fn rotate(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor, TchError> {
        let half = x.size()[3] / 2;
        let first = x.f_narrow(3, 0, half)?;
        let second = x.f_narrow(3, half, half)?;
        let rotated_first = first.f_mul(cos)?.f_sub(&second.f_mul(sin)?)?;
        let rotated_second = second.f_mul(cos)?.f_add(&first.f_mul(sin)?)?;
        Tensor::f_cat(&[rotated_first, rotated_second], 3)
    }
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::tch::{Device, Kind, Tensor};

    use super::{alibi_causal_bias, Rope};

    #[test]
    fn rope_pairs_dimension_i_with_i_plus_half() {
        // Head dimension 4, position 1: pair 0 turns by 1 radian, pair 1 by 1/√10000·… = 0.01.
        let rope = Rope::new(4, 4, 10_000.0, Kind::Double, Device::Cpu).unwrap();
        let (cos, sin) = rope.tables(None, 2).unwrap();
        let x = Tensor::from_slice(&[1.0f64, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]).view([1, 1, 2, 4]);
        let rotated = Rope::rotate(&x, &cos, &sin).unwrap();
        let at_one = Vec::<f64>::try_from(&rotated.get(0).get(0).get(1)).unwrap();
        // (x₀, x₂) = (1, 0) ↦ (cos 1, sin 1); dimensions 1 and 3 stay 0.
        let expected = [1f64.cos(), 0.0, 1f64.sin(), 0.0];
        for (got, want) in at_one.iter().zip(expected) {
            assert!((got - want).abs() < 1e-12, "{at_one:?}");
        }
        let at_zero = Vec::<f64>::try_from(&rotated.get(0).get(0).get(0)).unwrap();
        assert_eq!(at_zero, [1.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn rope_scores_depend_on_relative_position_only() {
        let rope = Rope::new(32, 8, 10_000.0, Kind::Double, Device::Cpu).unwrap();
        let (cos, sin) = rope.tables(None, 32).unwrap();
        let q = Tensor::from_slice(&[0.3f64, -1.2, 0.7, 0.1, 2.0, -0.4, 0.9, 1.1]);
        let k = Tensor::from_slice(&[1.0f64, 0.5, -0.3, 0.8, -1.5, 0.2, 0.6, -0.7]);
        let spread = |x: &Tensor| x.view([1, 1, 1, 8]).expand([1, 1, 32, 8], false);
        let q = Rope::rotate(&spread(&q), &cos, &sin).unwrap().get(0).get(0);
        let k = Rope::rotate(&spread(&k), &cos, &sin).unwrap().get(0).get(0);
        let score = |i: i64, j: i64| q.get(i).dot(&k.get(j)).double_value(&[]);
        for (i, j, shift) in [(5, 2, 10), (9, 9, 7), (3, 0, 20)] {
            assert!((score(i, j) - score(i + shift, j + shift)).abs() < 1e-9);
        }
        assert!((score(5, 2) - score(5, 3)).abs() > 1e-3);
    }

    #[test]
    fn alibi_bias_is_linear_in_distance_and_causal() {
        let slopes = Tensor::from_slice(&[0.5f64, 0.25]);
        let bias = alibi_causal_bias(&slopes, 3).unwrap();
        assert_eq!(bias.size(), vec![2, 3, 3]);
        let row = Vec::<f64>::try_from(&bias.get(0).get(2)).unwrap();
        assert_eq!(row, [-1.0, -0.5, 0.0]);
        let row = Vec::<f64>::try_from(&bias.get(1).get(1)).unwrap();
        assert_eq!(row, [-0.25, 0.0, f64::NEG_INFINITY]);
    }
}
