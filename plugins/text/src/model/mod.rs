//! Models: `gpt`, the decoder of `crate::gpt` as a component.

pub mod gpt;
