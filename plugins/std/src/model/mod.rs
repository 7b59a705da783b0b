//! Models.
pub mod convnet;
pub mod mlp;
