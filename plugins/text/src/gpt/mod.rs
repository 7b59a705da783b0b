//! A GPT-style decoder on libtorch (through `tch`), moved here from the standalone `gpt` crate;
//! `crate::model::gpt` wraps it as the `gpt` model component and `crate::exporter::huggingface`
//! writes it for Hugging Face `transformers`.
//!
//! # Architecture
//! ```text
//! ids [B, T] ─ wte (+ wpe) ─ drop ─┬─ block 0 … block depth−1 ─ ln_f ─ lm_head ─ logits [B, T, V]
//! block:  x ← x + drop(c_proj(attn(ln_1(x))))      attn: one c_attn product → q, k, v
//!         x ← x + drop(c_proj(act(c_fc(ln_2(x)))))  (SDPA, causal; RoPE / ALiBi inside)
//! ```
//! Pre-LN blocks as in GPT-2, with these switches in [`GptConfig`]: positions `learned`,
//! `rope`, `alibi` or `none`; MLP `gelu` (exact erf, nanoGPT's), `gelu_tanh` (the tanh
//! approximation of the original GPT-2) or `swiglu`; tied or untied head; biases on or off;
//! dropout.
//!
//! # Conventions
//! - Parameter names and order follow nanoGPT and Hugging Face GPT-2 (`wte.weight`,
//!   `h.0.attn.c_attn.weight`, …, `ln_f.weight`, `lm_head.weight` when untied); weights are
//!   `[out, in]` like `nn.Linear`. [`Gpt::named_tensors`] returns handles that share storage.
//! - A tied head is the `wte` tensor itself, listed once as `wte.weight`.
//! - Attention is libtorch's fused `scaled_dot_product_attention`: `is_causal` for plain
//!   batches; an explicit bool mask for padding and the KV cache; for ALiBi, an additive float
//!   bias (−m_h·(i − j), −∞ above the diagonal). RoPE uses the GPT-NeoX/LLaMA half-split
//!   pairing (dimension i with i + D/2), base 10000 by default.
//! - Randomness comes only from an [`Init`] (the SDK's `Rng`, SplitMix64): weights are drawn
//!   on the CPU and moved to the device, and dropout masks come from a counter-based hash keyed
//!   by a seed drawn from the same `Init` (see [`dropout`]). Nothing reads libtorch's global
//!   generator, so parallel trainings in one process are bit-identical per seed.
//! - Dropout applies to the embedding sum and to each residual branch (nanoGPT's `drop` and
//!   `resid_dropout`), not to attention probabilities: the fused kernel would draw that mask
//!   from the global generator, and a deterministic one would need the T×T matrix materialised.
//! - Padding: training batches are right-padded and need no mask (attention is causal; give
//!   pad targets −100). [`Gpt::hidden`] and [`Gpt::last_hidden`] take an attention mask that
//!   also supports left padding; [`Gpt::generate`] left-pads internally.
//! - Weight decay ([`Gpt::decays`]): projection matrices only, not norms, biases or
//!   embeddings; the tied `wte` counts as an embedding. [`DecayRule::MatricesAndEmbeddings`]
//!   gives nanoGPT's grouping instead.
//! - Errors are [`GptError`]s naming the config field, the method, or the graph node and shapes
//!   of a failed tensor op. A config is validated before anything is built.

mod attention;
mod block;
pub mod config;
pub mod dropout;
pub mod error;
pub mod export;
mod generate;
pub mod init;
mod layers;
pub mod model;
mod parameters;
mod positions;

pub use config::{GptConfig, MlpKind, Positions};
pub use error::GptError;
pub use export::{export_hf_gpt2, write_hf_gpt2};
pub use init::Init;
pub use model::Gpt;
pub use parameters::{decays, decays_under, tensor_shapes, DecayRule};
pub use positions::alibi_slopes;
