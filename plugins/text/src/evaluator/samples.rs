//! `samples`: greedy continuations of prompts, kept for reading. The runtime writes every
//! generation to the run directory; this evaluator's metric is the mean length of the
//! continuations in characters (`mean_chars`), which shows a model that stops at once or
//! always runs to `max_new_tokens`.

use std::collections::BTreeMap;

use exp_plugin_api::sdk::{
    Component, Config, Context, Evaluator, Generation, PluginError, Result, Stop,
};
use exp_plugin_api::tch::Tensor;

#[derive(Debug, Clone, Config)]
pub struct SamplesConfig {
    /// most tokens generated per prompt (generation also stops at the end-of-text token)
    #[param(default = 64, min = 1)]
    pub max_new_tokens: u64,
    /// a document without an answer is prompted with its first this many tokens
    #[param(default = 16, min = 1)]
    pub prompt_tokens: u64,
    /// how many documents of the split are continued (the first ones)
    #[param(default = 8, min = 1)]
    pub documents: u64,
}

pub struct Samples {
    config: SamplesConfig,
    characters: u64,
    count: u64,
}

impl Component for Samples {
    type Config = SamplesConfig;
    const NAME: &'static str = "samples";
    const VERSION: &'static str = "1";
    const DOC: &'static str =
        "greedy continuations of each prompt, written to the run; reports their mean length in characters";

    fn create(config: SamplesConfig, _context: &Context) -> Result<Self> {
        Ok(Samples {
            config,
            characters: 0,
            count: 0,
        })
    }
}

impl Evaluator for Samples {
    fn reset(&mut self) {
        self.characters = 0;
        self.count = 0;
    }

    fn update(&mut self, _output: &Tensor, _target: &Tensor) -> Result<()> {
        Err(PluginError::new(
            "samples reads generated text: the host calls `update_text`, not `update`",
        ))
    }

    fn generation(&self) -> Option<Generation> {
        Some(Generation {
            max_new_tokens: self.config.max_new_tokens,
            stop: Stop::EndOfText,
            prompt_tokens: Some(self.config.prompt_tokens),
            max_documents: Some(self.config.documents),
        })
    }

    fn update_text(&mut self, _prompt: &str, generated: &str, _reference: &str) -> Result<()> {
        self.characters += generated.chars().count() as u64;
        self.count += 1;
        Ok(())
    }

    fn compute(&self) -> BTreeMap<String, f64> {
        let mean = if self.count == 0 {
            0.0
        } else {
            self.characters as f64 / self.count as f64
        };
        BTreeMap::from([
            ("mean_chars".to_string(), mean),
            ("n".to_string(), self.count as f64),
        ])
    }
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::{build, Evaluator, Stop};
    use exp_plugin_api::serde_json::json;

    use super::Samples;
    use crate::dataset::test_support::context;

    #[test]
    fn mean_length_in_characters() {
        let mut evaluator = build::<Samples>(json!({"max_new_tokens": 8}), &context()).unwrap();
        let generation = evaluator.generation().unwrap();
        assert_eq!(
            (generation.max_new_tokens, generation.stop),
            (8, Stop::EndOfText)
        );
        evaluator.update_text("a", "héllo", "").unwrap();
        evaluator.update_text("b", "", "ignored").unwrap();
        let metrics = evaluator.compute();
        assert_eq!((metrics["mean_chars"], metrics["n"]), (2.5, 2.0));
    }
}
