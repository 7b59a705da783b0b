//! `exact_match`: the fraction of documents whose answer the model generates exactly.
//!
//! The host greedily continues the prompt of every document that has an answer (the text before
//! `answer_at`), for at most `max_new_tokens` tokens and up to `stop` (a newline, kept, or the
//! end-of-text token), and hands this evaluator the prompt, the continuation and the reference
//! answer. With `normalize` (the default) both are compared with surrounding whitespace trimmed:
//! the generators' answers are ` Grenholm\n` and `122\n`, and a continuation that stops at the
//! end-of-text token instead of the newline is still right. Without it the bytes must match.

use std::collections::BTreeMap;

use exp_plugin_api::sdk::{
    Component, Config, Context, Evaluator, Generation, PluginError, Result, Stop,
};
use exp_plugin_api::tch::Tensor;

#[derive(Debug, Clone, Config)]
pub struct ExactMatchConfig {
    /// most tokens generated per answer
    #[param(default = 16, min = 1)]
    pub max_new_tokens: u64,
    /// where a generated answer ends: "newline" (the first newline, or end-of-text) or "end_of_text"
    #[param(default = "newline")]
    pub stop: Stop,
    /// compare with whitespace trimmed from both ends of the answer and the generation
    #[param(default = true)]
    pub normalize: bool,
    /// at most this many problems of the split, the first ones; 0 for all
    #[param(default = 0, min = 0)]
    pub limit: u64,
}

pub struct ExactMatch {
    config: ExactMatchConfig,
    correct: u64,
    total: u64,
}

impl Component for ExactMatch {
    type Config = ExactMatchConfig;
    const NAME: &'static str = "exact_match";
    const VERSION: &'static str = "1";
    const DOC: &'static str =
        "fraction of answers the model generates exactly, greedily from each document's prompt";

    fn create(config: ExactMatchConfig, _context: &Context) -> Result<Self> {
        Ok(ExactMatch {
            config,
            correct: 0,
            total: 0,
        })
    }
}

impl Evaluator for ExactMatch {
    fn reset(&mut self) {
        self.correct = 0;
        self.total = 0;
    }

    fn update(&mut self, _output: &Tensor, _target: &Tensor) -> Result<()> {
        Err(PluginError::new(
            "exact_match scores generated text: the host calls `update_text`, not `update`",
        ))
    }

    fn generation(&self) -> Option<Generation> {
        Some(Generation {
            max_new_tokens: self.config.max_new_tokens,
            stop: self.config.stop,
            // Only documents with an answer are problems.
            prompt_tokens: None,
            max_documents: (self.config.limit > 0).then_some(self.config.limit),
        })
    }

    fn update_text(&mut self, _prompt: &str, generated: &str, reference: &str) -> Result<()> {
        let matches = if self.config.normalize {
            generated.trim() == reference.trim()
        } else {
            generated == reference
        };
        self.correct += u64::from(matches);
        self.total += 1;
        Ok(())
    }

    /// `exact_match` is 0 when nothing was generated; `n` says how many answers were scored.
    fn compute(&self) -> BTreeMap<String, f64> {
        let fraction = if self.total == 0 {
            0.0
        } else {
            self.correct as f64 / self.total as f64
        };
        BTreeMap::from([
            ("exact_match".to_string(), fraction),
            ("n".to_string(), self.total as f64),
        ])
    }
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::{build, Evaluator, Generation, Stop};
    use exp_plugin_api::serde_json::json;
    use exp_plugin_api::tch::Tensor;

    use super::ExactMatch;
    use crate::dataset::test_support::context;

    #[test]
    fn counts_answers_generated_exactly() {
        let mut evaluator = build::<ExactMatch>(json!({}), &context()).unwrap();
        assert_eq!(
            evaluator.generation(),
            Some(Generation {
                max_new_tokens: 16,
                stop: Stop::Newline,
                prompt_tokens: None,
                max_documents: None,
            })
        );
        evaluator.update_text("2+2=", "4\n", "4\n").unwrap();
        evaluator
            .update_text("Q: Who? A:", " Tovar", " Tovar\n")
            .unwrap();
        evaluator.update_text("3+3=", "7\n", "6\n").unwrap();
        let metrics = evaluator.compute();
        assert_eq!((metrics["exact_match"], metrics["n"]), (2.0 / 3.0, 3.0));
        evaluator.reset();
        assert_eq!(evaluator.compute()["n"], 0.0);
        let scalar = Tensor::from(0.0);
        assert!(evaluator.update(&scalar, &scalar).is_err());
    }

    #[test]
    fn without_normalizing_the_bytes_must_match() {
        let params = json!({"normalize": false, "stop": "end_of_text", "max_new_tokens": 4});
        let mut evaluator = build::<ExactMatch>(params, &context()).unwrap();
        assert_eq!(evaluator.generation().unwrap().stop, Stop::EndOfText);
        evaluator
            .update_text("Q: Who? A:", " Tovar", " Tovar\n")
            .unwrap();
        evaluator.update_text("2+2=", "4\n", "4\n").unwrap();
        assert_eq!(evaluator.compute()["exact_match"], 0.5);
    }
}
