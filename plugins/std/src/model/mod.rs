//! Models.
pub mod mlp;
