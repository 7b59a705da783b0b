//! Evaluators: accumulate model outputs and targets batch by batch, then report metrics.
pub mod accuracy;
pub mod loss;
