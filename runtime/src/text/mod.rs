//! Text as a model of token sequences reads it: documents tokenized once per (tokenizer,
//! dataset, split) and kept (`tokens`), packed into the model's windows (`packing`), and served
//! as batches of ids like any dataset's (`view`).
//!
//! Tokenization goes through the tokenizer component (a plugin); everything after it is plain
//! ids, which the runtime owns so that every model of tokens is fed the same way.

pub mod packing;
mod tokens;
mod view;

pub use tokens::{tokenize, TokenStore, TokenizedSplit};
pub use view::TokenView;
