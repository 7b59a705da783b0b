//! `GptConfig`: the architecture of a [`crate::gpt::Gpt`], as plain serde data.
//!
//! The `gpt` component's parameters (`crate::model::gpt::GptParams`, the `.exp` syntax) are these
//! fields less `vocab_size`, which comes from the tokenizer, and with `context_length` written
//! `context`; each field is documented with its unit and default.
//! [`GptConfig::validate`] checks every constraint the model relies on and names the field at
//! fault, so no user-written config can reach a panic inside the model.
//!
//! A config in JSON, with every optional field at its default:
//! ```json
//! { "vocab_size": 4096, "context_length": 256, "width": 384, "depth": 6, "heads": 6,
//!   "positions": "learned", "mlp": "gelu", "mlp_hidden": null, "tie_embeddings": true,
//!   "dropout": 0.0, "bias": true, "layer_norm_eps": 1e-5, "rope_base": 10000.0 }
//! ```

use exp_plugin_api::sdk::Choice;
use serde::{Deserialize, Serialize};

use crate::gpt::error::GptError;

/// How the model learns where a token sits in the sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, Choice)]
#[serde(rename_all = "lowercase")]
pub enum Positions {
    /// A learned table `wpe` of `context_length × width`, added to the token embeddings (GPT-2).
    #[default]
    Learned,
    /// Rotary embeddings on queries and keys, GPT-NeoX/LLaMA half-split convention (the first
    /// half of each head's dimensions is paired with the second half), base `rope_base`.
    Rope,
    /// ALiBi: no position embedding; each head adds −m_h·(i − j) to its attention scores.
    Alibi,
    /// No position information besides the causal mask (NoPE).
    None,
}

/// The feed-forward block of each layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, Choice)]
#[serde(rename_all = "snake_case")]
pub enum MlpKind {
    /// `c_proj(gelu(c_fc(x)))` with the exact erf GELU, as nanoGPT's `nn.GELU()` (Hugging
    /// Face's `activation_function = "gelu"`). The default: libtorch's erf kernel costs about
    /// half the tanh one on the CPU (forward + backward).
    #[default]
    Gelu,
    /// The same with the tanh approximation of GELU, as in the original GPT-2 (Hugging Face's
    /// `"gelu_new"`); use it to match GPT-2 checkpoints exactly.
    GeluTanh,
    /// SwiGLU: `c_proj(silu(x·W_gate) ⊙ (x·W_up))`; `c_fc` holds `W_gate` and `W_up` stacked
    /// (rows `0..hidden` are the gate), so both come from one matrix product.
    Swiglu,
}

fn yes() -> bool {
    true
}

fn default_layer_norm_eps() -> f64 {
    1e-5
}

fn default_rope_base() -> f64 {
    10_000.0
}

/// The architecture of a GPT-style decoder. See the crate docs for how the fields are used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GptConfig {
    /// Number of token ids; inputs must lie in `0..vocab_size`.
    pub vocab_size: i64,
    /// The longest sequence the model reads (rows of `wpe`, entries of the RoPE table); also
    /// bounds prompt plus generated tokens in [`crate::gpt::Gpt::generate`].
    pub context_length: i64,
    /// Width of the residual stream (`n_embd`, d_model).
    pub width: i64,
    /// Number of transformer blocks (`n_layer`).
    pub depth: i64,
    /// Attention heads per block (`n_head`); `width` must be a multiple of it.
    pub heads: i64,
    /// Position scheme: `learned` (default), `rope`, `alibi` or `none`.
    #[serde(default)]
    pub positions: Positions,
    /// Feed-forward block: `gelu` (exact erf, default), `gelu_tanh` or `swiglu`.
    #[serde(default)]
    pub mlp: MlpKind,
    /// Hidden size of the feed-forward block. Default: 4·width for GELU; for SwiGLU
    /// 8/3·width rounded up to a multiple of 64 (LLaMA's rule, which keeps the parameter count
    /// close to a 4·width GELU block).
    #[serde(default)]
    pub mlp_hidden: Option<i64>,
    /// Whether the output head reuses the token embedding `wte` (the same tensor). Default true.
    #[serde(default = "yes")]
    pub tie_embeddings: bool,
    /// Dropout probability on the embeddings and on each residual branch, during training only.
    /// Attention probabilities are not dropped (see the crate docs). Default 0.
    #[serde(default)]
    pub dropout: f64,
    /// Whether linear layers and layer norms have biases. Default true (GPT-2).
    #[serde(default = "yes")]
    pub bias: bool,
    /// The ε added to the variance in every layer norm. Default 1e-5.
    #[serde(default = "default_layer_norm_eps")]
    pub layer_norm_eps: f64,
    /// Base of the rotary frequencies, used when `positions = rope`. Default 10000.
    #[serde(default = "default_rope_base")]
    pub rope_base: f64,
}

impl GptConfig {
    /// A GPT-2 style config (learned positions, GELU, biases, tied head, no dropout).
    pub fn new(vocab_size: i64, context_length: i64, width: i64, depth: i64, heads: i64) -> Self {
        GptConfig {
            vocab_size,
            context_length,
            width,
            depth,
            heads,
            positions: Positions::Learned,
            mlp: MlpKind::Gelu,
            mlp_hidden: None,
            tie_embeddings: true,
            dropout: 0.0,
            bias: true,
            layer_norm_eps: default_layer_norm_eps(),
            rope_base: default_rope_base(),
        }
    }

    /// Dimensions per attention head.
    pub fn head_dim(&self) -> i64 {
        self.width / self.heads.max(1)
    }

    /// The feed-forward hidden size, explicit or by the default rule of `mlp`.
    pub fn mlp_hidden_size(&self) -> i64 {
        match (self.mlp_hidden, self.mlp) {
            (Some(hidden), _) => hidden,
            (None, MlpKind::Gelu | MlpKind::GeluTanh) => 4 * self.width,
            (None, MlpKind::Swiglu) => {
                let raw = 8 * self.width / 3;
                (raw + 63) / 64 * 64
            }
        }
    }

    /// Parameters of the model this config builds, embeddings included (a tied head once):
    /// what [`crate::gpt::Gpt::parameter_count`] will report, known before building anything
    /// (e.g. for scaling-law grids). `None` when the sizes overflow `i64`.
    pub fn parameter_count(&self) -> Option<i64> {
        let (vocab, width) = (self.vocab_size, self.width);
        let embeddings = vocab
            .checked_mul(width)?
            .checked_add(match self.positions {
                Positions::Learned => self.context_length.checked_mul(width)?,
                _ => 0,
            })?;
        let head = match self.tie_embeddings {
            true => 0,
            false => vocab.checked_mul(width)?,
        };
        self.non_embedding_parameter_count()?
            .checked_add(embeddings)?
            .checked_add(head)
    }

    /// Parameters outside `wte`, `wpe` and an untied `lm_head`: the blocks and `ln_f`
    /// (what [`crate::gpt::Gpt::non_embedding_parameter_count`] reports). `None` on overflow.
    pub fn non_embedding_parameter_count(&self) -> Option<i64> {
        let width = self.width;
        let hidden = self.mlp_hidden_size();
        let fc_rows = match self.mlp {
            MlpKind::Swiglu => hidden.checked_mul(2)?,
            MlpKind::Gelu | MlpKind::GeluTanh => hidden,
        };
        let bias = |count: i64| if self.bias { count } else { 0 };
        let norm = width.checked_add(bias(width))?;
        let attention = width
            .checked_mul(width)?
            .checked_mul(4)?
            .checked_add(bias(width.checked_mul(4)?))?;
        let mlp = fc_rows
            .checked_add(hidden)?
            .checked_mul(width)?
            .checked_add(bias(fc_rows.checked_add(width)?))?;
        let block = norm
            .checked_mul(2)?
            .checked_add(attention)?
            .checked_add(mlp)?;
        block.checked_mul(self.depth)?.checked_add(norm)
    }

    /// Checks every constraint the model relies on; the error names the field at fault.
    pub fn validate(&self) -> Result<(), GptError> {
        let at_least_one = [
            ("vocab_size", self.vocab_size),
            ("context_length", self.context_length),
            ("width", self.width),
            ("depth", self.depth),
            ("heads", self.heads),
        ];
        for (field, value) in at_least_one {
            if value < 1 {
                return Err(GptError::config(
                    field,
                    format!("must be at least 1, got {value}"),
                ));
            }
        }
        if self.width % self.heads != 0 {
            return Err(GptError::config(
                "heads",
                format!(
                    "`width` ({}) must be a multiple of `heads` ({})",
                    self.width, self.heads
                ),
            ));
        }
        if self.positions == Positions::Rope && self.head_dim() % 2 != 0 {
            return Err(GptError::config(
                "positions",
                format!(
                    "rope needs an even head dimension, but `width` / `heads` = {} / {} = {}",
                    self.width,
                    self.heads,
                    self.head_dim()
                ),
            ));
        }
        if let Some(hidden) = self.mlp_hidden {
            if hidden < 1 {
                return Err(GptError::config(
                    "mlp_hidden",
                    format!("must be at least 1, got {hidden}"),
                ));
            }
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(GptError::config(
                "dropout",
                format!("must lie in [0, 1), got {}", self.dropout),
            ));
        }
        if !(self.layer_norm_eps.is_finite() && self.layer_norm_eps > 0.0) {
            return Err(GptError::config(
                "layer_norm_eps",
                format!("must be a positive number, got {}", self.layer_norm_eps),
            ));
        }
        if !(self.rope_base.is_finite() && self.rope_base > 1.0) {
            return Err(GptError::config(
                "rope_base",
                format!("must be a number above 1, got {}", self.rope_base),
            ));
        }
        if self.parameter_count().is_none() {
            return Err(GptError::config(
                "width",
                "the parameter count overflows a 64-bit integer: the sizes are far too large",
            ));
        }
        Ok(())
    }
}
