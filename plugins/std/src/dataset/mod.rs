//! Datasets.
pub mod digits;
