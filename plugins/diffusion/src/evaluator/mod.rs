//! Evaluators.
pub mod agreement;
