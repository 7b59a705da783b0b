//! `arithmetic`: problems with answers to check by exact match (`37+85=122`), from
//! `crate::data::arithmetic`. Each problem is one document whose answer starts after `=`.

use exp_plugin_api::sdk::Config;

use super::{generated_dataset, SplitConfig};
use crate::data::arithmetic::{self, Format, Operator, MAX_COUNT, MAX_DIGITS};

#[derive(Debug, Clone, Config)]
pub struct ArithmeticConfig {
    /// number of distinct problems
    #[param(default = 1000, min = 1, max = MAX_COUNT)]
    pub count: usize,
    /// fewest digits in an operand (one-digit operands include 0)
    #[param(default = 1, min = 1, max = MAX_DIGITS)]
    pub min_digits: u32,
    /// most digits in an operand, at least `min_digits`
    #[param(default = 3, min = 1, max = MAX_DIGITS)]
    pub max_digits: u32,
    /// operators drawn uniformly: "+", "-", "*" (products) and "/" (exact quotients only)
    #[param(default = vec![Operator::Add, Operator::Sub])]
    pub operators: Vec<Operator>,
    /// whether a subtraction may have a negative result (else its operands are swapped)
    #[param(default = false)]
    pub allow_negative: bool,
    /// "compact" (`37+85=122`) or "spaced" (`37 + 85 = 122`)
    #[param(default = "compact")]
    pub format: Format,
    /// seed of the generator: the same seed and parameters give the same problems in every run
    #[param(default = 0)]
    pub seed: u64,
    #[param(flatten)]
    pub split: SplitConfig,
}

impl ArithmeticConfig {
    fn generator(&self) -> arithmetic::Config {
        arithmetic::Config {
            count: self.count,
            min_digits: self.min_digits,
            max_digits: self.max_digits,
            operators: self.operators.clone(),
            allow_negative: self.allow_negative,
            format: self.format,
        }
    }
}

generated_dataset!(
    Arithmetic,
    ArithmeticConfig,
    "arithmetic",
    "generated arithmetic problems (`37+85=122`) whose answers are checked by exact match",
    arithmetic
);

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::{build, Split, TextDataset};
    use exp_plugin_api::serde_json::json;

    use super::Arithmetic;
    use crate::dataset::test_support::{all_documents, context};

    #[test]
    fn problems_split_with_their_answers() {
        let params = json!({"count": 200, "operators": ["+", "*"], "format": "spaced", "test_fraction": 0.25});
        let dataset = build::<Arithmetic>(params.clone(), &context()).unwrap();
        let info = dataset.info();
        assert_eq!(
            (info.train_len, info.validation_len, info.test_len),
            (130, 20, 50)
        );
        assert_eq!(info.source, "generated");
        for document in all_documents(&dataset) {
            let (prompt, answer) = document.prompt_and_answer().unwrap();
            assert!(prompt.ends_with(" ="), "{prompt:?}");
            assert!(
                answer.starts_with(' ') && answer.ends_with('\n'),
                "{answer:?}"
            );
            assert!(prompt.contains('+') || prompt.contains('*'));
        }
        let again = build::<Arithmetic>(params, &context()).unwrap();
        assert_eq!(
            again.documents(Split::Test).unwrap(),
            dataset.documents(Split::Test).unwrap()
        );
    }

    #[test]
    fn rules_between_parameters_name_the_parameter() {
        let error = build::<Arithmetic>(json!({"min_digits": 3, "max_digits": 2}), &context())
            .err()
            .unwrap();
        assert_eq!(error.field.as_deref(), Some("max_digits"));
        let error = build::<Arithmetic>(json!({"count": 200, "max_digits": 1}), &context())
            .err()
            .unwrap();
        assert_eq!(error.field.as_deref(), Some("count"));
        assert!(
            error.message.contains("distinct problems"),
            "{}",
            error.message
        );
        let error = build::<Arithmetic>(json!({"operators": ["+", "+"]}), &context())
            .err()
            .unwrap();
        assert_eq!(error.field.as_deref(), Some("operators"));
    }
}
