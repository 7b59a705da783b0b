//! Tokenizers: the components `bpe` (trained byte-level BPE), `bytes` (one token per byte, no
//! training) and `tokenizer_file` (an existing `tokenizer.json`), all over [`byte_level`], the
//! Hugging Face `tokenizers` pipeline GPT-2 uses.
//!
//! Every component holds one [`Tokenizer`] and answers the SDK's `Tokenizer` trait through
//! [`Held`]; they differ only in how that tokenizer is made and whether `train` replaces it.
//! `encode` never adds tokens of its own (no beginning- or end-of-text markers, whatever a
//! loaded file's post-processor says): the runtime puts end-of-text between documents itself.
//! A special token written out in a text (`<|endoftext|>`) is still read as that special token.

mod bpe;
pub mod byte_level;
mod bytes;
mod file;

use std::collections::BTreeMap;

use exp_plugin_api::sdk::{PluginError, Result, TokenInfo};

pub use bpe::{Bpe, BpeConfig};
pub use byte_level::Tokenizer;
pub use bytes::{Bytes, BytesConfig};
pub use file::{TokenizerFile, TokenizerFileConfig};

/// The special tokens `bpe` and `bytes` get unless a file says otherwise: end-of-text (id 0),
/// which the runtime puts between documents, and padding (id 1).
pub fn default_special_tokens() -> Vec<String> {
    vec!["<|endoftext|>".to_string(), "<|pad|>".to_string()]
}

/// Checks `special_tokens` as `byte_level` requires, naming the parameter.
fn check_special_tokens(special_tokens: &[String]) -> Result<()> {
    byte_level::validate_special_tokens(special_tokens)
        .map_err(|message| PluginError::in_field("special_tokens", message))
}

/// The tokenizer a component holds, with the SDK's `Tokenizer` methods that every component
/// shares.
pub struct Held(pub Tokenizer);

impl Held {
    pub fn to_json(&self) -> Result<String> {
        self.0.to_json().map_err(PluginError::new)
    }

    pub fn load_json(&mut self, json: &str) -> Result<()> {
        self.0 = Tokenizer::from_json(json).map_err(PluginError::new)?;
        Ok(())
    }

    pub fn vocabulary(&self) -> TokenInfo {
        let special: BTreeMap<String, i64> = self
            .0
            .special_tokens()
            .into_iter()
            .map(|(content, id)| (content, i64::from(id)))
            .collect();
        TokenInfo {
            vocab_size: self.0.vocab_size() as i64,
            special,
        }
    }

    pub fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        self.0.encode_batch(texts).map_err(PluginError::new)
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.0.decode(ids).map_err(PluginError::new)
    }
}

/// The `Tokenizer` methods a component delegates to its [`Held`] field, all but `train`.
macro_rules! delegate_to_held {
    ($field:ident) => {
        fn to_json(&self) -> exp_plugin_api::sdk::Result<String> {
            self.$field.to_json()
        }
        fn load_json(&mut self, json: &str) -> exp_plugin_api::sdk::Result<()> {
            self.$field.load_json(json)
        }
        fn vocabulary(&self) -> exp_plugin_api::sdk::TokenInfo {
            self.$field.vocabulary()
        }
        fn encode(&self, texts: &[&str]) -> exp_plugin_api::sdk::Result<Vec<Vec<u32>>> {
            self.$field.encode(texts)
        }
        fn decode(&self, ids: &[u32]) -> exp_plugin_api::sdk::Result<String> {
            self.$field.decode(ids)
        }
    };
}
use delegate_to_held;
