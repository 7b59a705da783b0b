//! `Attention`: multi-head causal self-attention through libtorch's fused
//! `scaled_dot_product_attention` (SDPA), and the `Plan` that tells it which keys each query may
//! read.
//!
//! One `c_attn` product gives q, k and v together (`[B, T, 3C]`, q first, heads contiguous
//! within each, as in GPT-2); they are viewed as `[B, H, T, D]` without copies.
//! The plan has three shapes:
//! - plain causal (no padding, no cache, no ALiBi): SDPA's own `is_causal`, the fastest path;
//! - an explicit mask, bool (true = may attend) or, for ALiBi, an additive float bias with −∞
//!   on forbidden pairs; built by [`Plan::masked`] from per-row positions and key validity when
//!   the batch is padded or keys come from a KV cache;
//! - RoPE tables, applied to q and k after the projection (and before k enters the cache).
//!
//! Padding: a query may read key j when j is not after it and j is a real token. A pad query
//! may also read itself, so that no row of scores is entirely −∞ (which would give NaN); pad
//! outputs are garbage that no real token reads and no loss should use.

use exp_plugin_api::tch::{Kind, TchError, Tensor};

use crate::gpt::layers::Linear;
use crate::gpt::positions::Rope;

/// How the attention of one forward pass sees positions and which keys each query may read.
#[derive(Debug)]
pub(crate) struct Plan {
    /// `[B, Tq]` position ids of the queries, or `None` for `0..Tq` in every row.
    pub(crate) positions: Option<Tensor>,
    /// `None`: plain causal attention. Otherwise a bool or additive float mask that
    /// broadcasts against `[B, H, Tq, S]`.
    pub(crate) mask: Option<Tensor>,
    /// RoPE cos and sin tables that broadcast against `[B, H, Tq, D/2]`.
    pub(crate) rope: Option<(Tensor, Tensor)>,
}

impl Plan {
    /// The mask for queries at cache columns `column..column + Tq` over keys `0..S`.
    ///
    /// `query_positions` is `[B, Tq]`; `key_positions` (`[B, S]`, int64) and `key_valid`
    /// (`[B, S]`, bool) describe every key, including the queries' own columns. With
    /// `alibi_slopes` (`[H]`) the mask is the additive ALiBi bias, else a bool mask.
    pub(crate) fn mask(
        query_positions: &Tensor,
        key_positions: &Tensor,
        key_valid: &Tensor,
        column: i64,
        alibi_slopes: Option<&Tensor>,
    ) -> Result<Tensor, TchError> {
        let device = key_valid.device();
        let queries = query_positions.size()[1];
        let keys = key_valid.size()[1];
        let query_column = Tensor::f_arange_start(column, column + queries, (Kind::Int64, device))?
            .f_unsqueeze(1)?;
        let key_column = Tensor::f_arange(keys, (Kind::Int64, device))?.f_unsqueeze(0)?;
        let not_after = key_column.f_le_tensor(&query_column)?;
        let itself = key_column.f_eq_tensor(&query_column)?;
        // [B, Tq, S]: a real key not after the query, or the query itself.
        let allowed = key_valid
            .f_unsqueeze(1)?
            .f_logical_or(&itself.f_unsqueeze(0)?)?
            .f_logical_and(&not_after.f_unsqueeze(0)?)?
            .f_unsqueeze(1)?;
        let Some(slopes) = alibi_slopes else {
            return Ok(allowed);
        };
        // −m_h·(pos_i − pos_j), as [B, H, Tq, S].
        let distance = key_positions
            .f_unsqueeze(1)?
            .f_sub(&query_positions.f_unsqueeze(2)?)?
            .f_to_kind(slopes.kind())?
            .f_unsqueeze(1)?;
        let bias = distance.f_mul(&slopes.f_view([1, -1, 1, 1])?)?;
        bias.f_masked_fill(&allowed.f_logical_not()?, f64::NEG_INFINITY)
    }
}

/// Keys and values of one layer for every sequence in a generation batch.
#[derive(Debug)]
pub(crate) struct LayerCache {
    /// `[B, H, S_max, D]`.
    pub(crate) keys: Tensor,
    pub(crate) values: Tensor,
}

#[derive(Debug)]
pub(crate) struct Attention {
    /// `[3C, C]`: rows `0..C` give q, `C..2C` k, `2C..3C` v.
    pub(crate) c_attn: Linear,
    /// `[C, C]`, the residual output projection.
    pub(crate) c_proj: Linear,
    pub(crate) heads: i64,
}

impl Attention {
    /// `x` is `[B, T, C]`. With `cache`, k and v are written at columns `column..column + T`
    /// and the queries attend over columns `0..column + T` of the cache.
    pub(crate) fn forward(
        &self,
        x: &Tensor,
        plan: &Plan,
        cache: Option<(&mut LayerCache, i64)>,
    ) -> Result<Tensor, TchError> {
        let (batch, time, width) = x.size3()?;
        let head_dim = width / self.heads;
        // [B, T, 3C] → three [B, H, T, D] views. `split` rather than `select` on a permuted
        // view: its backward is one `cat` into the [B, T, 3C] gradient, where three
        // `select_backward`s would each zero-fill and then sum full-size buffers.
        let qkv = self.c_attn.forward(x)?;
        let heads = |part: &Tensor| -> Result<Tensor, TchError> {
            part.f_view([batch, time, self.heads, head_dim])?
                .f_transpose(1, 2)
        };
        let parts = qkv.f_split(width, 2)?;
        let mut query = heads(&parts[0])?;
        let mut key = heads(&parts[1])?;
        let mut value = heads(&parts[2])?;
        if let Some((cos, sin)) = &plan.rope {
            query = Rope::rotate(&query, cos, sin)?;
            key = Rope::rotate(&key, cos, sin)?;
        }
        if let Some((cache, column)) = cache {
            cache.keys.f_narrow(2, column, time)?.f_copy_(&key)?;
            cache.values.f_narrow(2, column, time)?.f_copy_(&value)?;
            key = cache.keys.f_narrow(2, 0, column + time)?;
            value = cache.values.f_narrow(2, 0, column + time)?;
        }
        let causal = plan.mask.is_none();
        let y = Tensor::f_scaled_dot_product_attention(
            &query,
            &key,
            &value,
            plan.mask.as_ref(),
            0.0,
            causal,
            None,
            false,
        )?;
        let y = y.f_transpose(1, 2)?.f_reshape([batch, time, width])?;
        self.c_proj.forward(&y)
    }
}
