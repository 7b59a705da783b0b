//! `agreement`: how well per-attribute predictions (`[batch, attributes, classes]` logits, as
//! `attribute_net` gives them) match captions (`[batch, attributes]` targets, −100 for an
//! attribute without a label).
//!
//! - `agreement`: the fraction of fully labelled examples whose every attribute is predicted
//!   right. When the images are generated samples and the targets the captions they were
//!   drawn for, this is the caption-agreement score of a text-to-image model.
//! - `accuracy_<i>`: the accuracy on attribute i, over the examples that label it.
//! - `attribute_accuracy`: the mean of the `accuracy_<i>` of the attributes labelled at least
//!   once.
//!
//! Every score is 0 when nothing it counts was seen.

use std::collections::BTreeMap;

use exp_plugin_api::sdk::{Component, Context, Evaluator, NoParams, PluginError, Result};
use exp_plugin_api::tch::{Device, Kind, Tensor};

use crate::dataset::shapes::UNLABELLED;

pub struct Agreement {
    /// Per attribute: right predictions and labelled targets (empty before the first batch).
    correct: Vec<i64>,
    labelled: Vec<i64>,
    /// Examples with every attribute labelled, and those of them predicted right throughout.
    complete: i64,
    agreeing: i64,
}

impl Component for Agreement {
    type Config = NoParams;
    const NAME: &'static str = "agreement";
    const VERSION: &'static str = "1";
    const DOC: &'static str =
        "fraction of examples whose every caption attribute is predicted right, and per-attribute accuracies";

    fn create(_config: NoParams, _context: &Context) -> Result<Self> {
        Ok(Agreement {
            correct: Vec::new(),
            labelled: Vec::new(),
            complete: 0,
            agreeing: 0,
        })
    }
}

fn ratio(numerator: i64, denominator: i64) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

/// A tensor's values on the host, flattened.
fn host_values(tensor: &Tensor) -> Result<Vec<i64>> {
    let flat = tensor
        .f_to_kind(Kind::Int64)?
        .f_to_device(Device::Cpu)?
        .f_reshape([-1])?;
    Ok(Vec::<i64>::try_from(&flat)?)
}

impl Agreement {
    /// The number of attributes of a batch of `output` and `target`, after checking that
    /// their shapes fit each other and the batches before.
    fn attributes(&self, output: &Tensor, target: &Tensor) -> Result<usize> {
        let (output_shape, target_shape) = (output.size(), target.size());
        if output_shape.len() != 3
            || target_shape.len() != 2
            || output_shape[..2] != target_shape[..]
        {
            return Err(PluginError::new(format!(
                "agreement compares logits [batch, attributes, classes] with targets [batch, \
                 attributes], not {output_shape:?} with {target_shape:?}"
            )));
        }
        let attributes = target_shape[1] as usize;
        if !self.correct.is_empty() && self.correct.len() != attributes {
            return Err(PluginError::new(format!(
                "a batch has {attributes} attributes, but the batches before it had {}",
                self.correct.len()
            )));
        }
        Ok(attributes)
    }
}

impl Evaluator for Agreement {
    fn reset(&mut self) {
        self.correct.clear();
        self.labelled.clear();
        self.complete = 0;
        self.agreeing = 0;
    }

    fn update(&mut self, output: &Tensor, target: &Tensor) -> Result<()> {
        let attributes = self.attributes(output, target)?;
        if self.correct.is_empty() {
            self.correct = vec![0; attributes];
            self.labelled = vec![0; attributes];
        }
        let predicted = host_values(&output.f_argmax(-1, false)?)?;
        let targets = host_values(target)?;
        for (predictions, truths) in predicted
            .chunks_exact(attributes.max(1))
            .zip(targets.chunks_exact(attributes.max(1)))
        {
            let mut complete = true;
            let mut right = true;
            for (attribute, (prediction, truth)) in predictions.iter().zip(truths).enumerate() {
                if *truth == UNLABELLED {
                    complete = false;
                    continue;
                }
                self.labelled[attribute] += 1;
                if prediction == truth {
                    self.correct[attribute] += 1;
                } else {
                    right = false;
                }
            }
            self.complete += i64::from(complete);
            self.agreeing += i64::from(complete && right);
        }
        Ok(())
    }

    fn compute(&self) -> BTreeMap<String, f64> {
        let mut scores =
            BTreeMap::from([("agreement".to_string(), ratio(self.agreeing, self.complete))]);
        let mut accuracies = Vec::new();
        for (attribute, (correct, labelled)) in self.correct.iter().zip(&self.labelled).enumerate()
        {
            let accuracy = ratio(*correct, *labelled);
            scores.insert(format!("accuracy_{attribute}"), accuracy);
            if *labelled > 0 {
                accuracies.push(accuracy);
            }
        }
        let mean = if accuracies.is_empty() {
            0.0
        } else {
            accuracies.iter().sum::<f64>() / accuracies.len() as f64
        };
        scores.insert("attribute_accuracy".to_string(), mean);
        scores
    }
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::{build, Context, Evaluator};
    use exp_plugin_api::serde_json::json;
    use exp_plugin_api::tch::{Device, Kind, Tensor};

    use super::Agreement;

    fn agreement() -> Agreement {
        let context = Context {
            seed: 0,
            device: "cpu".into(),
            data: None,
        };
        build::<Agreement>(json!({}), &context).unwrap()
    }

    /// Logits `[n, 2, 3]` whose argmax is `predicted`.
    fn logits(predicted: &[[i64; 2]]) -> Tensor {
        let values: Vec<f32> = predicted
            .iter()
            .flatten()
            .flat_map(|class| (0..3).map(move |k| if k == *class { 2.0 } else { -1.0 }))
            .collect();
        Tensor::from_slice(&values).reshape([predicted.len() as i64, 2, 3])
    }

    #[test]
    fn scores_count_complete_and_partial_labels_by_hand() {
        let mut evaluator = agreement();
        // Example by example: both right; first wrong; second unlabelled (first right);
        // both right; second wrong.
        let predicted = [[0, 1], [2, 1], [1, 0], [2, 2], [0, 0]];
        let targets = Tensor::from_slice(&[0i64, 1, 1, 1, 1, -100, 2, 2, 0, 1]).reshape([5, 2]);
        evaluator
            .update(&logits(&predicted[..2]), &targets.narrow(0, 0, 2))
            .unwrap();
        evaluator
            .update(&logits(&predicted[2..]), &targets.narrow(0, 2, 3))
            .unwrap();
        let scores = evaluator.compute();
        // Complete examples: 0, 1, 3, 4; all right: 0 and 3.
        assert_eq!(scores["agreement"], 2.0 / 4.0);
        // Attribute 0: right on 0, 2, 3, 4 of 5; attribute 1: right on 0, 1, 3 of 4.
        assert_eq!(scores["accuracy_0"], 4.0 / 5.0);
        assert_eq!(scores["accuracy_1"], 3.0 / 4.0);
        assert_eq!(scores["attribute_accuracy"], (4.0 / 5.0 + 3.0 / 4.0) / 2.0);
        evaluator.reset();
        assert_eq!(evaluator.compute()["agreement"], 0.0);
        assert!(!evaluator.compute().contains_key("accuracy_0"));
    }

    #[test]
    fn wrong_shapes_are_refused() {
        let mut evaluator = agreement();
        let targets = Tensor::from_slice(&[0i64, 1]).reshape([1, 2]);
        let flat = Tensor::zeros([1, 6], (Kind::Float, Device::Cpu));
        let error = evaluator.update(&flat, &targets).unwrap_err();
        assert!(error.message.contains("[1, 6] with [1, 2]"), "{error}");
        evaluator.update(&logits(&[[0, 1]]), &targets).unwrap();
        let three = Tensor::zeros([1, 3, 3], (Kind::Float, Device::Cpu));
        let error = evaluator
            .update(&three, &Tensor::from_slice(&[0i64, 1, 2]).reshape([1, 3]))
            .unwrap_err();
        assert!(error.message.contains("batches before it had 2"), "{error}");
        // Each shape rule on its own: targets of three dimensions, and logits whose first two
        // dimensions are not the targets'.
        let mut evaluator = agreement();
        let deep = Tensor::zeros([1, 2, 1], (Kind::Int64, Device::Cpu));
        assert!(evaluator.update(&logits(&[[0, 1]]), &deep).is_err());
        let other = Tensor::from_slice(&[0i64, 1, 2]).reshape([1, 3]);
        assert!(evaluator.update(&logits(&[[0, 1]]), &other).is_err());
    }

    #[test]
    fn an_attribute_without_labels_is_left_out_of_the_mean() {
        let mut evaluator = agreement();
        // Attribute 1 is unlabelled everywhere: its accuracy is 0 of 0, not part of the mean.
        let targets = Tensor::from_slice(&[0i64, -100, 1, -100]).reshape([2, 2]);
        evaluator
            .update(&logits(&[[0, 1], [0, 1]]), &targets)
            .unwrap();
        let scores = evaluator.compute();
        assert_eq!(scores["accuracy_0"], 0.5);
        assert_eq!(scores["accuracy_1"], 0.0);
        assert_eq!(scores["attribute_accuracy"], 0.5);
    }
}
