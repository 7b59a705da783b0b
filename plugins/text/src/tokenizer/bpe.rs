//! `bpe`: a byte-level BPE tokenizer (GPT-2's), trained on the documents a `tokenizer`
//! definition gives it.
//!
//! Ids: the special tokens first, in the order written (so `<|endoftext|>` is 0), then the 256
//! byte tokens, then the merges in the order training found them (see [`super::byte_level`]).
//! Until it is trained it is the `bytes` tokenizer with the same special tokens, which is what
//! training on no text gives. Training is deterministic: the same documents and parameters give
//! the same `tokenizer.json`, byte for byte, whatever the number of threads.

use exp_plugin_api::sdk::{Component, Config, Context, PluginError, Result, Tokenizer};

use super::byte_level::{bytes_tokenizer, train_bpe, N_BYTE_TOKENS};
use super::{check_special_tokens, default_special_tokens, delegate_to_held, Held};

#[derive(Debug, Clone, Config)]
pub struct BpeConfig {
    /// number of token ids: the special tokens, the 256 byte tokens, then merges; training stops early when no pair is seen `min_frequency` times
    #[param(default = 4096, min = 257)]
    pub vocab_size: usize,
    /// how often training must see a pair of tokens to merge it (0 and 1 both mean once)
    #[param(default = 2)]
    pub min_frequency: u64,
    /// special tokens, given ids 0, 1, … in this order; printable ASCII without spaces, two characters or more; the runtime puts `<|endoftext|>` between documents
    #[param(default = default_special_tokens())]
    pub special_tokens: Vec<String>,
}

pub struct Bpe {
    config: BpeConfig,
    tokenizer: Held,
}

impl Component for Bpe {
    type Config = BpeConfig;
    const NAME: &'static str = "bpe";
    const VERSION: &'static str = "1";
    const DOC: &'static str =
        "byte-level BPE tokenizer (GPT-2's), trained deterministically on the documents it is given";

    fn check(config: &BpeConfig) -> Result<()> {
        check_special_tokens(&config.special_tokens)?;
        let least = N_BYTE_TOKENS + config.special_tokens.len();
        if config.vocab_size < least {
            return Err(PluginError::in_field(
                "vocab_size",
                format!(
                    "must be at least {least}: {N_BYTE_TOKENS} byte tokens and {} special tokens",
                    config.special_tokens.len()
                ),
            ));
        }
        if u32::try_from(config.vocab_size).is_err() {
            return Err(PluginError::in_field(
                "vocab_size",
                "must fit token ids in 32 bits",
            ));
        }
        Ok(())
    }

    fn create(config: BpeConfig, _context: &Context) -> Result<Self> {
        let untrained = bytes_tokenizer(&config.special_tokens)
            .map_err(|message| PluginError::in_field("special_tokens", message))?;
        Ok(Bpe {
            config,
            tokenizer: Held(untrained),
        })
    }
}

impl Tokenizer for Bpe {
    fn train(&mut self, documents: &[&str]) -> Result<()> {
        let trained = train_bpe(
            documents,
            self.config.vocab_size,
            self.config.min_frequency,
            &self.config.special_tokens,
        )
        .map_err(PluginError::new)?;
        self.tokenizer = Held(trained);
        Ok(())
    }

    /// Training stops at `vocab_size` ids, or earlier when the text runs out of pairs.
    fn vocabulary_bound(&self) -> Option<i64> {
        i64::try_from(self.config.vocab_size).ok()
    }

    delegate_to_held!(tokenizer);
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::{build, Context, Tokenizer};
    use exp_plugin_api::serde_json::json;

    use super::Bpe;

    fn context() -> Context {
        Context {
            seed: 0,
            device: "cpu".into(),
            data: None,
        }
    }

    fn documents() -> Vec<String> {
        (0..300)
            .map(|index| format!("the cat sat on the mat {index}; the dog sat on the log.\n"))
            .collect()
    }

    #[test]
    fn trains_to_the_asked_size_with_specials_first() {
        let mut bpe = build::<Bpe>(json!({"vocab_size": 300}), &context()).unwrap();
        assert_eq!(bpe.vocabulary().vocab_size, 258);
        assert_eq!(bpe.vocabulary_bound(), Some(300));
        let texts = documents();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        bpe.train(&texts).unwrap();
        let vocabulary = bpe.vocabulary();
        assert_eq!(vocabulary.vocab_size, 300);
        assert_eq!(vocabulary.special["<|endoftext|>"], 0);
        assert_eq!(vocabulary.special["<|pad|>"], 1);
        let ids = bpe.encode(&["the cat sat", ""]).unwrap();
        assert!(
            ids[0].len() < "the cat sat".len(),
            "merges shorten the text"
        );
        assert!(ids[1].is_empty(), "no tokens are added around a text");
        assert_eq!(bpe.decode(&ids[0]).unwrap(), "the cat sat");
        // Training again on the same text gives the same bytes; a new component loads them.
        let json = bpe.to_json().unwrap();
        bpe.train(&texts).unwrap();
        assert_eq!(bpe.to_json().unwrap(), json);
        let mut other = build::<Bpe>(json!({"vocab_size": 300}), &context()).unwrap();
        other.load_json(&json).unwrap();
        assert_eq!(other.encode(&["the cat sat"]).unwrap(), ids[..1]);
    }

    #[test]
    fn bad_parameters_name_the_parameter() {
        let error = build::<Bpe>(json!({"vocab_size": 257}), &context())
            .err()
            .unwrap();
        assert_eq!(error.field.as_deref(), Some("vocab_size"));
        assert!(error.message.contains("at least 258"), "{}", error.message);
        let error = build::<Bpe>(json!({"special_tokens": ["<|eot|>", "x"]}), &context())
            .err()
            .unwrap();
        assert_eq!(error.field.as_deref(), Some("special_tokens"));
        assert!(
            error.message.contains("special_tokens[1]"),
            "{}",
            error.message
        );
    }
}
