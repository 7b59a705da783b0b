//! `code`: Python-like programs from a small grammar (`crate::data::code`), one program per
//! document.

use exp_plugin_api::sdk::Config;

use super::{generated_dataset, SplitConfig};
use crate::data::code::{
    self, MAX_COUNT, MAX_DEPTH, MAX_FUNCTIONS, MAX_LINES, MAX_STATEMENTS, MIN_LINES,
};

#[derive(Debug, Clone, Config)]
pub struct CodeConfig {
    /// number of programs (duplicates, rare, are dropped before the split)
    #[param(default = 1000, min = 1, max = MAX_COUNT)]
    pub count: usize,
    /// deepest nesting of blocks (1: function bodies hold no `if`, `for` or `while`)
    #[param(default = 3, min = 1, max = MAX_DEPTH)]
    pub max_depth: usize,
    /// most statements in a block, before a function's `return`
    #[param(default = 4, min = 1, max = MAX_STATEMENTS)]
    pub max_statements: usize,
    /// most functions in a program
    #[param(default = 3, min = 1, max = MAX_FUNCTIONS)]
    pub max_functions: usize,
    /// most lines in a program
    #[param(default = 40, min = MIN_LINES, max = MAX_LINES)]
    pub max_lines: usize,
    /// seed of the generator: the same seed and parameters give the same programs in every run
    #[param(default = 0)]
    pub seed: u64,
    #[param(flatten)]
    pub split: SplitConfig,
}

impl CodeConfig {
    fn generator(&self) -> code::Config {
        code::Config {
            count: self.count,
            max_depth: self.max_depth,
            max_statements: self.max_statements,
            max_functions: self.max_functions,
            max_lines: self.max_lines,
        }
    }
}

generated_dataset!(
    Code,
    CodeConfig,
    "code",
    "generated Python-like programs: functions, loops, conditionals, calls",
    code
);

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::{build, TextDataset};
    use exp_plugin_api::serde_json::json;

    use super::Code;
    use crate::dataset::test_support::{all_documents, context};

    #[test]
    fn programs_are_documents_without_answers() {
        let dataset = build::<Code>(json!({"count": 50, "max_lines": 12}), &context()).unwrap();
        let info = dataset.info();
        assert_eq!(info.train_len + info.validation_len + info.test_len, 50);
        for document in all_documents(&dataset) {
            assert_eq!(document.answer_at, None);
            assert!(document.text.starts_with("def "), "{}", document.text);
            assert!(document.text.lines().count() <= 12);
        }
        let other =
            build::<Code>(json!({"count": 50, "max_lines": 12, "seed": 1}), &context()).unwrap();
        assert_ne!(all_documents(&other), all_documents(&dataset));
    }
}
