//! Regularizers: penalties added to the training loss.
pub mod l2;
