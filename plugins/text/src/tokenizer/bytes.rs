//! `bytes`: one token per byte of UTF-8, plus the special tokens first; nothing to learn.
//!
//! It is exactly the `bpe` tokenizer with no merges (the same `tokenizer.json`), so the two agree
//! on every id they share. `train` ignores its documents.

use exp_plugin_api::sdk::{Component, Config, Context, PluginError, Result, Tokenizer};

use super::byte_level::bytes_tokenizer;
use super::{check_special_tokens, default_special_tokens, delegate_to_held, Held};

#[derive(Debug, Clone, Config)]
pub struct BytesConfig {
    /// special tokens, given ids 0, 1, … in this order, before the 256 byte tokens; printable ASCII without spaces, two characters or more
    #[param(default = default_special_tokens())]
    pub special_tokens: Vec<String>,
}

pub struct Bytes {
    tokenizer: Held,
}

impl Component for Bytes {
    type Config = BytesConfig;
    const NAME: &'static str = "bytes";
    const VERSION: &'static str = "1";
    const DOC: &'static str =
        "one token per byte of UTF-8 text, after the special tokens; needs no training";

    fn check(config: &BytesConfig) -> Result<()> {
        check_special_tokens(&config.special_tokens)
    }

    fn create(config: BytesConfig, _context: &Context) -> Result<Self> {
        let tokenizer = bytes_tokenizer(&config.special_tokens)
            .map_err(|message| PluginError::in_field("special_tokens", message))?;
        Ok(Bytes {
            tokenizer: Held(tokenizer),
        })
    }
}

impl Tokenizer for Bytes {
    const TRAINED: bool = false;

    /// Nothing to learn: the vocabulary is the bytes.
    fn train(&mut self, _documents: &[&str]) -> Result<()> {
        Ok(())
    }

    delegate_to_held!(tokenizer);
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::{build, Context, Tokenizer};
    use exp_plugin_api::serde_json::json;

    use super::Bytes;

    #[test]
    fn one_token_per_byte_after_the_specials() {
        let context = Context {
            seed: 0,
            device: "cpu".into(),
            data: None,
        };
        let mut bytes = build::<Bytes>(
            json!({"special_tokens": ["<|endoftext|>", "<|pad|>", "<|mask|>"]}),
            &context,
        )
        .unwrap();
        let before = bytes.to_json().unwrap();
        bytes.train(&["anything at all"]).unwrap();
        assert_eq!(bytes.to_json().unwrap(), before, "training changes nothing");
        let vocabulary = bytes.vocabulary();
        assert_eq!(vocabulary.vocab_size, 259);
        assert_eq!(vocabulary.special["<|mask|>"], 2);
        let text = "héllo\n";
        let ids = bytes.encode(&[text]).unwrap();
        assert_eq!(ids[0].len(), text.len());
        assert!(ids[0].iter().all(|id| *id >= 3));
        assert_eq!(bytes.decode(&ids[0]).unwrap(), text);
        // A special token written in the text is read as that token.
        assert_eq!(bytes.encode(&["<|endoftext|>"]).unwrap(), vec![vec![0]]);
    }
}
