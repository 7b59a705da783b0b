//! The text itself, apart from any component: deterministic generators of domain text and the
//! shipped public-domain English corpus (moved here from the standalone `textdata` crate; the
//! dataset components in `crate::dataset` wrap them).
//!
//! Generators (each a self-contained module with a `Config` and a `generate(config, seed)`):
//! - [`arithmetic`]: problems with checkable answers, such as `37+85=122`.
//! - [`code`]: Python-like programs from a small grammar.
//! - [`facts`]: biographies of invented people, with multiple-choice and exact-match questions about them.
//! - [`legal`]: numbered contract clauses between invented parties.
//!
//! Shared pieces: [`rng`] (the draws built on the SDK's SplitMix64 `Rng`), [`names`] (pronounceable invented
//! names), [`split`] (seeded train/validation/test splits by document, with duplicates removed first),
//! and [`corpus`] (Jane Austen's six novels, embedded and split into chapters).
//!
//! Determinism: every generator draws from one `Rng` (the SDK's) seeded by its `seed` argument and
//! iterates only over ordered collections, so the same seed and config give byte-identical output on
//! any machine.

pub mod arithmetic;
pub mod code;
pub mod corpus;
pub mod facts;
pub mod legal;
pub mod names;
pub mod rng;
pub mod split;

use exp_plugin_api::sdk::Document;

/// One generated document or example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// The text a language model trains on.
    pub text: String,
    /// For examples with an answer to check by exact match (arithmetic; a facts question):
    /// the prompt is `text[..answer_at]` and the answer is `text[answer_at..]`.
    ///
    /// Convention for every generator: the prompt ends with the delimiter (`=` or `A:`), and the answer
    /// is everything after it, ending with `\n`.
    /// A greedy evaluator decodes from the prompt until it emits `\n` (or an end-of-text token) and
    /// compares what it produced, newline included, with the answer.
    pub answer_at: Option<usize>,
}

impl Example {
    /// A document with no answer to check.
    pub fn document(text: String) -> Example {
        Example {
            text,
            answer_at: None,
        }
    }

    /// The prompt of an exact-match example, or `None` for a plain document.
    pub fn prompt(&self) -> Option<&str> {
        self.answer_at.map(|at| &self.text[..at])
    }

    /// The answer of an exact-match example, or `None` for a plain document.
    pub fn answer(&self) -> Option<&str> {
        self.answer_at.map(|at| &self.text[at..])
    }
}

impl From<Example> for Document {
    fn from(example: Example) -> Document {
        Document {
            text: example.text,
            answer_at: example.answer_at,
        }
    }
}

/// A multiple-choice question (SPEC §4): each (question, option) pair becomes one sequence for a scorer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub question: String,
    pub options: Vec<String>,
    /// Index into `options` of the correct one.
    pub answer: usize,
}

#[cfg(test)]
mod tests {
    use super::Example;

    #[test]
    fn prompt_and_answer_split_the_text_at_answer_at() {
        let example = Example {
            text: "2+2=4\n".to_string(),
            answer_at: Some(4),
        };
        assert_eq!(example.prompt(), Some("2+2="));
        assert_eq!(example.answer(), Some("4\n"));
        let document = Example::document("plain".to_string());
        assert_eq!(document.prompt(), None);
        assert_eq!(document.answer(), None);
    }
}
