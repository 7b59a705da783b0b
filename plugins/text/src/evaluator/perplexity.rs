//! `perplexity`: the mean negative log-likelihood of the target tokens, in nats (`loss`), and
//! its exponential (`perplexity`).
//!
//! Each batch's per-token cross-entropy comes from libtorch in the logits' precision; the sum
//! and the count of target tokens accumulate in float64 over the whole evaluation, so the mean is
//! over tokens, not an average of batch means (batches of packed text can hold different numbers
//! of targets). Targets of −100 (padding, the prompt part of a document) are not counted.

use std::collections::BTreeMap;

use exp_plugin_api::sdk::{Component, Context, Evaluator, NoParams, PluginError, Result};
use exp_plugin_api::tch::{Kind, Reduction, Tensor};

/// The summed negative log-likelihood of the target tokens and their count, over a whole
/// evaluation; `likelihood` shares it.
#[derive(Debug, Default)]
pub(crate) struct TokenLoss {
    /// Summed negative log-likelihood of the target tokens, in nats.
    nll: f64,
    tokens: i64,
}

impl TokenLoss {
    /// Adds a batch: `output` is logits `[B, T, V]`, `target` token ids `[B, T]` with −100 for
    /// no target. `evaluator` names the evaluator in an error.
    pub(crate) fn update(
        &mut self,
        evaluator: &str,
        output: &Tensor,
        target: &Tensor,
    ) -> Result<()> {
        let vocab = output.size().last().copied().unwrap_or(0);
        if output.dim() < 2 || target.numel() as i64 * vocab != output.numel() as i64 {
            return Err(PluginError::new(format!(
                "{evaluator} needs logits [batch, length, vocabulary] and targets [batch, length], \
                 got {:?} and {:?}",
                output.size(),
                target.size()
            )));
        }
        let targets = target.f_reshape([-1])?;
        let nll = output
            .f_reshape([-1, vocab])?
            .f_cross_entropy_loss::<Tensor>(&targets, None, Reduction::None, -100, 0.0)?;
        // Ignored targets contribute 0 to the per-token losses.
        self.nll += nll.f_sum(Kind::Double)?.f_double_value(&[])?;
        self.tokens += targets.f_ne(-100)?.f_sum(Kind::Int64)?.f_int64_value(&[])?;
        Ok(())
    }

    /// The mean over target tokens, in nats; NaN without a target token.
    pub(crate) fn mean(&self) -> f64 {
        if self.tokens == 0 {
            f64::NAN
        } else {
            self.nll / self.tokens as f64
        }
    }

    pub(crate) fn tokens(&self) -> f64 {
        self.tokens as f64
    }
}

pub struct Perplexity {
    loss: TokenLoss,
}

impl Component for Perplexity {
    type Config = NoParams;
    const NAME: &'static str = "perplexity";
    const VERSION: &'static str = "1";
    const DOC: &'static str =
        "mean negative log-likelihood per target token (`loss`, nats) and its exponential (`perplexity`)";

    fn create(_config: NoParams, _context: &Context) -> Result<Self> {
        Ok(Perplexity {
            loss: TokenLoss::default(),
        })
    }
}

impl Evaluator for Perplexity {
    fn reset(&mut self) {
        self.loss = TokenLoss::default();
    }

    /// `output` is logits `[B, T, V]`, `target` token ids `[B, T]` with −100 for no target.
    fn update(&mut self, output: &Tensor, target: &Tensor) -> Result<()> {
        self.loss.update(Self::NAME, output, target)
    }

    /// Without a target token the mean is undefined: both metrics are NaN, and `tokens` is 0.
    fn compute(&self) -> BTreeMap<String, f64> {
        let loss = self.loss.mean();
        BTreeMap::from([
            ("loss".to_string(), loss),
            ("perplexity".to_string(), loss.exp()),
            ("tokens".to_string(), self.loss.tokens()),
        ])
    }
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::{build, Evaluator};
    use exp_plugin_api::serde_json::json;
    use exp_plugin_api::tch::{Kind, Tensor};

    use super::Perplexity;
    use crate::dataset::test_support::context;

    #[test]
    fn mean_over_target_tokens_across_batches() {
        let mut evaluator = build::<Perplexity>(json!({}), &context()).unwrap();
        // Uniform logits over 4 tokens: every token costs ln 4, whatever the target.
        let uniform = Tensor::zeros([1, 3, 4], (Kind::Float, exp_plugin_api::tch::Device::Cpu));
        evaluator
            .update(&uniform, &Tensor::from_slice(&[1i64, -100, 3]).view([1, 3]))
            .unwrap();
        // A confident, right prediction costs almost nothing; one batch of one token.
        let sure = Tensor::from_slice(&[0.0f32, 0.0, 30.0, 0.0]).view([1, 1, 4]);
        evaluator
            .update(&sure, &Tensor::from_slice(&[2i64]).view([1, 1]))
            .unwrap();
        let metrics = evaluator.compute();
        assert_eq!(metrics["tokens"], 3.0);
        let expected = 2.0 * 4f64.ln() / 3.0;
        assert!((metrics["loss"] - expected).abs() < 1e-6, "{metrics:?}");
        assert!((metrics["perplexity"] - expected.exp()).abs() < 1e-5);
        evaluator.reset();
        assert!(evaluator.compute()["loss"].is_nan());
        let error = evaluator
            .update(&uniform, &Tensor::from_slice(&[1i64, 2]).view([1, 2]))
            .unwrap_err();
        assert!(
            error.message.contains("[batch, length, vocabulary]"),
            "{}",
            error.message
        );
    }
}
