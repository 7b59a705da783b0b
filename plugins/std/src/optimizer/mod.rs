//! Optimizers. Each updates parameters in place, under no-grad, from their `.grad`; parameters
//! without a gradient (frozen, or unused in the loss) are skipped.
pub mod adamw;
pub mod sgd;
