//! `attribute_net`: a small convolutional classifier that reads an image's caption attributes
//! (shape, colour, size) back from its pixels. It serves as the captioner (trained on the
//! captioned examples, it labels the rest) and as the independent judge of generated samples
//! (a separately trained copy scores whether a sample shows what its caption asked for).
//!
//! Each entry of `channels` adds a 3×3 convolution (padding 1), a ReLU and a 2×2 max-pool; the
//! flattened features go through a hidden linear layer with a ReLU and a linear head with one
//! logit per attribute and value: `[batch, attributes, classes]`, with `classes` the most
//! values any attribute has. An attribute with fewer values gets `MASKED` for the others, so
//! softmax gives them probability 0 and argmax never picks them. The SDK's default loss
//! (cross-entropy over the last dimension, ignoring targets of −100) trains it as it is,
//! also on datasets where some examples have no caption.

use exp_plugin_api::sdk::{Component, Config, Context, Model, PluginError, Result, Stateless};
use exp_plugin_api::tch::{Device, Kind, Tensor};

use crate::layers::{shallow, Conv, Linear, Parameters};
use crate::model::{attribute_values, image_shape};

/// The logit of a value an attribute does not have: far enough below any real logit that its
/// softmax probability is exactly 0 in float32, and still finite in half precision.
const MASKED: f64 = -1e4;
const KERNEL: i64 = 3;

#[derive(Debug, Clone, Config)]
pub struct AttributeNetConfig {
    /// output channels of each 3×3 convolution, each followed by a 2×2 max-pool
    #[param(default = [16, 32], min = 1)]
    pub channels: Vec<i64>,
    /// width of the hidden linear layer
    #[param(default = 64, min = 1)]
    pub hidden: i64,
}

pub struct AttributeNet {
    convs: Vec<Conv>,
    hidden: Linear,
    head: Linear,
    /// `[attributes, classes]`, true where an attribute lacks that value.
    absent: Tensor,
    attributes: i64,
    classes: i64,
    named: Vec<(String, Tensor)>,
}

/// `[attributes, classes]`, true where attribute i has fewer than k + 1 values.
fn absent_values(values: &[i64], classes: i64, device: Device) -> Tensor {
    let absent: Vec<bool> = values
        .iter()
        .flat_map(|count| (0..classes).map(move |value| value >= *count))
        .collect();
    Tensor::from_slice(&absent)
        .reshape([values.len() as i64, classes])
        .to_device(device)
}

impl Component for AttributeNet {
    type Config = AttributeNetConfig;
    const NAME: &'static str = "attribute_net";
    const VERSION: &'static str = "1";
    const DOC: &'static str =
        "small convolutional classifier of an image's caption attributes (logits per attribute)";

    fn check(config: &AttributeNetConfig) -> Result<()> {
        if config.channels.is_empty() {
            return Err(PluginError::in_field(
                "channels",
                "needs at least one convolution",
            ));
        }
        Ok(())
    }

    fn create(config: AttributeNetConfig, context: &Context) -> Result<Self> {
        let data = context.data()?;
        let values = attribute_values(data);
        if values.is_empty() {
            return Err(PluginError::new(
                "attribute_net predicts caption attributes, and the dataset has none \
                 (its targets are not captions)",
            ));
        }
        let [image_channels, height, width] =
            image_shape(data, "attribute_net", config.channels.len())?;
        let classes = values.iter().copied().max().unwrap_or(0).max(data.classes);
        let device = context.device();
        let mut parameters = Parameters::new(context.seed, device);
        let mut input = image_channels;
        let mut convs = Vec::with_capacity(config.channels.len());
        for (index, output) in config.channels.iter().enumerate() {
            convs.push(parameters.conv(&format!("convs.{index}"), input, *output, KERNEL, 1));
            input = *output;
        }
        let pooled = 1i64 << config.channels.len();
        let features = input * (height / pooled) * (width / pooled);
        let hidden = parameters.linear("hidden", features, config.hidden);
        let head = parameters.linear("head", config.hidden, values.len() as i64 * classes);
        Ok(AttributeNet {
            convs,
            hidden,
            head,
            absent: absent_values(&values, classes, device),
            attributes: values.len() as i64,
            classes,
            named: parameters.into_named(),
        })
    }
}

/// Nothing beyond the weights: the classifier draws no randomness while training.
impl Stateless for AttributeNet {}

impl Model for AttributeNet {
    fn named_tensors(&self) -> Vec<(String, Tensor)> {
        shallow(&self.named)
    }

    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        let batch = x.size().first().copied().unwrap_or(0);
        let mut h = x.f_to_kind(Kind::Float)?;
        for conv in &self.convs {
            h = conv
                .forward(&h)?
                .f_relu()?
                .f_max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false)?;
        }
        let h = self.hidden.forward(&h.f_reshape([batch, -1])?)?.f_relu()?;
        let logits = self
            .head
            .forward(&h)?
            .f_reshape([batch, self.attributes, self.classes])?;
        Ok(logits.f_masked_fill(&self.absent, MASKED)?)
    }
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::{build, Model, Rng};
    use exp_plugin_api::serde_json::json;
    use exp_plugin_api::tch::{Kind, Tensor};

    use super::{AttributeNet, MASKED};
    use crate::model::test_support::shapes_context;

    fn tiny() -> AttributeNet {
        build::<AttributeNet>(
            json!({"channels": [4, 8], "hidden": 16}),
            &shapes_context(5),
        )
        .unwrap()
    }

    #[test]
    fn logits_per_attribute_with_absent_values_masked() {
        let model = tiny();
        let x = Rng::new(1).uniform(&[5, 3, 8, 8], -1.0, 1.0);
        let logits = model.forward(&x, false).unwrap();
        assert_eq!(logits.size(), vec![5, 3, 4]);
        // The third attribute (size) has two values: its last two logits are masked.
        let size = logits.select(1, 2);
        assert!(size.narrow(1, 2, 2).eq(MASKED).all().int64_value(&[]) == 1);
        assert!(size.narrow(1, 0, 2).gt(MASKED / 2.0).all().int64_value(&[]) == 1);
        assert!(
            logits
                .narrow(1, 0, 2)
                .gt(MASKED / 2.0)
                .all()
                .int64_value(&[])
                == 1
        );
        let predicted = Vec::<i64>::try_from(size.argmax(-1, false)).unwrap();
        assert!(predicted.iter().all(|value| *value < 2));
        let names: Vec<String> = model.named_tensors().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "convs.0.weight",
                "convs.0.bias",
                "convs.1.weight",
                "convs.1.bias",
                "hidden.weight",
                "hidden.bias",
                "head.weight",
                "head.bias"
            ]
        );
        assert_eq!(model.named_tensors()[4].1.size(), vec![16, 8 * 2 * 2]);
    }

    #[test]
    fn the_default_loss_ignores_unlabelled_attributes() {
        let model = tiny();
        let x = Rng::new(2).uniform(&[4, 3, 8, 8], -1.0, 1.0);
        let y = Tensor::from_slice(&[0i64, 1, 1, -100, -100, -100, 3, -100, 0, 2, 3, -100])
            .reshape([4, 3]);
        let loss = model.loss(&x, &y).unwrap().double_value(&[]);
        // The same mean over the seven labelled attributes, by hand.
        let logits = model.forward(&x, true).unwrap().reshape([12, 4]);
        let labelled = [0i64, 1, 2, 6, 8, 9, 10];
        let picked = logits.index_select(0, &Tensor::from_slice(&labelled));
        let targets = Tensor::from_slice(&[0i64, 1, 1, 3, 0, 2, 3]);
        let expected = picked
            .log_softmax(-1, Kind::Float)
            .nll_loss(&targets)
            .double_value(&[]);
        assert!((loss - expected).abs() < 1e-6, "{loss} vs {expected}");
    }

    #[test]
    fn a_dataset_without_attributes_is_refused() {
        let mut context = shapes_context(0);
        context.data.as_mut().unwrap().attributes.clear();
        let error = build::<AttributeNet>(json!({}), &context).err().unwrap();
        assert!(error.message.contains("has none"), "{error}");
    }
}
