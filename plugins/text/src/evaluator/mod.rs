//! Evaluators of language models: `perplexity` (from logits), and `exact_match` and `samples`
//! (from generated text).

pub mod exact_match;
pub mod perplexity;
pub mod samples;
