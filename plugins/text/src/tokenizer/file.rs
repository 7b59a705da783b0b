//! `tokenizer_file`: a tokenizer read from an existing `tokenizer.json` (Hugging Face's format,
//! as `tokenizer.save` in Python or this plugin's own tokenizers write it). `train` ignores its
//! documents: the vocabulary is the file's.
//!
//! The file is read by `check` (so `exp check` reports a missing or broken file) and again by
//! `create`.

use std::path::Path;

use exp_plugin_api::sdk::{Component, Config, Context, PluginError, Result, Tokenizer};

use super::byte_level::{load, Tokenizer as Loaded};
use super::{delegate_to_held, Held};

#[derive(Debug, Clone, Config)]
pub struct TokenizerFileConfig {
    /// the `tokenizer.json` file, relative to the experiment file
    #[param(path)]
    pub path: String,
}

pub struct TokenizerFile {
    tokenizer: Held,
}

fn read(config: &TokenizerFileConfig) -> Result<Loaded> {
    load(Path::new(&config.path)).map_err(|message| PluginError::in_field("path", message))
}

impl Component for TokenizerFile {
    type Config = TokenizerFileConfig;
    const NAME: &'static str = "tokenizer_file";
    const VERSION: &'static str = "1";
    const DOC: &'static str = "a tokenizer read from an existing tokenizer.json; needs no training";

    fn check(config: &TokenizerFileConfig) -> Result<()> {
        read(config).map(|_| ())
    }

    fn create(config: TokenizerFileConfig, _context: &Context) -> Result<Self> {
        Ok(TokenizerFile {
            tokenizer: Held(read(&config)?),
        })
    }
}

impl Tokenizer for TokenizerFile {
    const TRAINED: bool = false;

    /// Nothing to learn: the vocabulary is the file's.
    fn train(&mut self, _documents: &[&str]) -> Result<()> {
        Ok(())
    }

    delegate_to_held!(tokenizer);
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::{build, Context, Tokenizer};
    use exp_plugin_api::serde_json::json;

    use super::TokenizerFile;
    use crate::tokenizer::byte_level::{save, train_bpe};

    fn context() -> Context {
        Context {
            seed: 0,
            device: "cpu".into(),
            data: None,
        }
    }

    #[test]
    fn loads_a_saved_tokenizer_and_ignores_training() {
        let documents = ["low lower lowest", "new newer newest"].repeat(20);
        let trained = train_bpe(&documents, 270, 2, &["<|endoftext|>".to_string()]).unwrap();
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("tokenizer.json");
        save(&trained, &path).unwrap();
        let params = json!({"path": path.to_str().unwrap()});
        let mut loaded = build::<TokenizerFile>(params, &context()).unwrap();
        loaded.train(&["something else entirely"]).unwrap();
        assert_eq!(loaded.to_json().unwrap(), trained.to_json().unwrap());
        assert_eq!(loaded.vocabulary().vocab_size, 270);
        assert_eq!(
            loaded.encode(&["lowest newer"]).unwrap()[0],
            trained.encode("lowest newer").unwrap()
        );
    }

    #[test]
    fn a_missing_or_broken_file_names_the_path() {
        let directory = tempfile::tempdir().unwrap();
        let missing = directory.path().join("missing.json");
        let error = build::<TokenizerFile>(json!({"path": missing.to_str().unwrap()}), &context())
            .err()
            .unwrap();
        assert_eq!(error.field.as_deref(), Some("path"));
        assert!(error.message.contains("missing.json"), "{}", error.message);
        let broken = directory.path().join("broken.json");
        std::fs::write(&broken, "{").unwrap();
        let error = build::<TokenizerFile>(json!({"path": broken.to_str().unwrap()}), &context())
            .err()
            .unwrap();
        assert_eq!(error.field.as_deref(), Some("path"));
        assert!(error.message.contains("broken.json"), "{}", error.message);
    }
}
