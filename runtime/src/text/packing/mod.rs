//! Turning token ids into training batches: packed windows for causal language modelling
//! ([`causal`]) and padded batches of whole examples ([`padded`]).
//!
//! This module knows nothing about tokenizers: it takes plain `u32` ids and hands out row-major
//! `i64` buffers shaped `[batch, time]`, ready for `Tensor::from_slice(..).view([b, t])`.
//! `i64` because that is the dtype libtorch's embedding lookups and `cross_entropy` targets take.
//!
//! Both halves share one target convention: targets are already shifted, so `targets[b][t]` is
//! the token that should follow `inputs[b][..=t]`, and the loss is
//! `cross_entropy(logits.view([-1, V]), targets.view([-1]), ignore_index = IGNORE_INDEX)` with no
//! shifting inside the model (nanoGPT's convention, not the Hugging Face one where labels equal
//! inputs and the model shifts).
//! Positions that must not count toward the loss hold [`IGNORE_INDEX`].
//! What cannot be packed or padded is a [`PackingError`].

pub mod causal;
mod packing_error;
pub mod padded;

pub use causal::{pack_causal, CausalBatch, PackedStream, Remainder, TokenizedDocument};
pub use packing_error::PackingError;
pub use padded::{
    pad_batch, pad_supervised_batch, PadConfig, PadSide, PaddedBatch, SupervisedBatch,
    SupervisedExample, Truncation,
};

/// The target value that the loss ignores: PyTorch's default `ignore_index`.
pub const IGNORE_INDEX: i64 = -100;
