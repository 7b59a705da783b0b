//! Datasets.
pub mod shapes;
