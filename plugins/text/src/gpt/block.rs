//! `Block`: one pre-LN transformer layer, and its feed-forward `Mlp`.
//!
//! `x ← x + drop(attn(ln_1(x)))`, then `x ← x + drop(mlp(ln_2(x)))`. Normalising the input of
//! each branch rather than its output (GPT-2's arrangement) keeps the residual stream an
//! untouched sum, which is what lets deep stacks train without warm-up tricks.

use exp_plugin_api::tch::{Kind, TchError, Tensor};

use crate::gpt::attention::{Attention, LayerCache, Plan};
use crate::gpt::config::MlpKind;
use crate::gpt::dropout::Dropout;
use crate::gpt::layers::{LayerNorm, Linear};

#[derive(Debug)]
pub(crate) struct Mlp {
    /// `[hidden, C]`, or `[2·hidden, C]` for SwiGLU (gate rows first, then up rows).
    pub(crate) c_fc: Linear,
    /// `[C, hidden]`, the residual output projection.
    pub(crate) c_proj: Linear,
    pub(crate) kind: MlpKind,
}

impl Mlp {
    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor, TchError> {
        let hidden = self.c_fc.forward(x)?;
        let activated = match self.kind {
            MlpKind::Gelu => hidden.f_gelu("none")?,
            MlpKind::GeluTanh => hidden.f_gelu("tanh")?,
            MlpKind::Swiglu => {
                let halves = hidden.f_chunk(2, -1)?;
                halves[0].f_silu()?.f_mul(&halves[1])?
            }
        };
        self.c_proj.forward(&activated)
    }
}

#[derive(Debug)]
pub(crate) struct Block {
    pub(crate) ln_1: LayerNorm,
    pub(crate) attn: Attention,
    pub(crate) ln_2: LayerNorm,
    pub(crate) mlp: Mlp,
}

impl Block {
    /// `index` numbers the block, which gives its dropout sites `1 + 2·index` and `2 + 2·index`
    /// (site 0 is the embedding).
    pub(crate) fn forward(
        &self,
        x: &Tensor,
        plan: &Plan,
        cache: Option<(&mut LayerCache, i64)>,
        dropout: &Dropout,
        call: Option<u64>,
        index: u64,
    ) -> Result<Tensor, TchError> {
        let attended = self.attn.forward(&self.ln_1.forward(x)?, plan, cache)?;
        let x = x.f_add(&dropout.apply(attended, call, 1 + 2 * index)?)?;
        let fed = self.mlp.forward(&self.ln_2.forward(&x)?)?;
        x.f_add(&dropout.apply(fed, call, 2 + 2 * index)?)
    }

    pub(crate) fn to_kind(&self, kind: Kind) -> Result<Block, TchError> {
        Ok(Block {
            ln_1: self.ln_1.to_kind(kind)?,
            attn: Attention {
                c_attn: self.attn.c_attn.to_kind(kind)?,
                c_proj: self.attn.c_proj.to_kind(kind)?,
                heads: self.attn.heads,
            },
            ln_2: self.ln_2.to_kind(kind)?,
            mlp: Mlp {
                c_fc: self.mlp.c_fc.to_kind(kind)?,
                c_proj: self.mlp.c_proj.to_kind(kind)?,
                kind: self.mlp.kind,
            },
        })
    }
}
