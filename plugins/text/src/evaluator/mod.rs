//! Evaluators of language models: `perplexity` and `likelihood` (from logits), and `exact_match`
//! and `samples` (from generated text).

pub mod exact_match;
pub mod likelihood;
pub mod perplexity;
pub mod samples;
