//! `likelihood`: held-out loss turned into a score where higher is better, for tasks without an
//! answer to check: exp(−loss), the geometric mean of the probabilities the model gives the
//! target tokens, which is 1 / perplexity and lies in (0, 1].
//!
//! A model that predicts every token surely scores 1; one that spreads its probability evenly
//! over a vocabulary of V tokens scores 1/V. Averaging it over tasks, as a sequence's
//! `avg_accuracy` does, averages geometric-mean token probabilities. The loss is the one
//! `perplexity` computes (the mean over target tokens of the whole evaluation, in float64).

use std::collections::BTreeMap;

use exp_plugin_api::sdk::{Component, Context, Evaluator, NoParams, Result};
use exp_plugin_api::tch::Tensor;

use super::perplexity::TokenLoss;

pub struct Likelihood {
    loss: TokenLoss,
}

impl Component for Likelihood {
    type Config = NoParams;
    const NAME: &'static str = "likelihood";
    const VERSION: &'static str = "1";
    const DOC: &'static str =
        "held-out loss as a score, higher is better: exp(−loss), the geometric mean probability of the target tokens (1 / perplexity)";

    fn create(_config: NoParams, _context: &Context) -> Result<Self> {
        Ok(Likelihood {
            loss: TokenLoss::default(),
        })
    }
}

impl Evaluator for Likelihood {
    fn reset(&mut self) {
        self.loss = TokenLoss::default();
    }

    /// `output` is logits `[B, T, V]`, `target` token ids `[B, T]` with −100 for no target.
    fn update(&mut self, output: &Tensor, target: &Tensor) -> Result<()> {
        self.loss.update(Self::NAME, output, target)
    }

    /// Without a target token the score is undefined: NaN, and `tokens` is 0.
    fn compute(&self) -> BTreeMap<String, f64> {
        BTreeMap::from([
            ("likelihood".to_string(), (-self.loss.mean()).exp()),
            ("tokens".to_string(), self.loss.tokens()),
        ])
    }
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::{build, Evaluator};
    use exp_plugin_api::serde_json::json;
    use exp_plugin_api::tch::{Device, Kind, Tensor};

    use super::Likelihood;
    use crate::dataset::test_support::context;

    #[test]
    fn the_geometric_mean_probability_of_the_targets() {
        let mut evaluator = build::<Likelihood>(json!({}), &context()).unwrap();
        // Uniform logits over 4 tokens: every target has probability 1/4.
        let uniform = Tensor::zeros([1, 3, 4], (Kind::Float, Device::Cpu));
        evaluator
            .update(&uniform, &Tensor::from_slice(&[1i64, -100, 3]).view([1, 3]))
            .unwrap();
        let metrics = evaluator.compute();
        assert_eq!(metrics["tokens"], 2.0);
        assert!((metrics["likelihood"] - 0.25).abs() < 1e-6, "{metrics:?}");
        // A sure, right prediction of one more token: (1/4 · 1/4 · 1)^(1/3).
        let sure = Tensor::from_slice(&[0.0f32, 0.0, 40.0, 0.0]).view([1, 1, 4]);
        evaluator
            .update(&sure, &Tensor::from_slice(&[2i64]).view([1, 1]))
            .unwrap();
        let expected = (1.0f64 / 16.0).powf(1.0 / 3.0);
        assert!((evaluator.compute()["likelihood"] - expected).abs() < 1e-6);
        evaluator.reset();
        assert!(evaluator.compute()["likelihood"].is_nan());
    }
}
