//! `convnet`: a small convolutional network over square single-channel images, sized by its
//! dataset. A flat input of `side²` features (the 64 pixels of an 8×8 digit) is reshaped to
//! `[batch, 1, side, side]`; each entry of `channels` adds a 3×3 convolution (padding 1, so the
//! image keeps its size) followed by a ReLU; a 2×2 max-pool halves the image, and a linear head
//! maps the flattened features to the classes. Weights and biases are initialised like
//! PyTorch's `nn.Conv2d` and `nn.Linear` (uniform in ±1/√fan_in, fan_in = in_channels·3·3 for a
//! convolution), drawn from the node's seed so initialisation is reproducible and independent
//! of other nodes running in parallel.

use exp_plugin_api::sdk::{Component, Config, Context, Model, PluginError, Result, Rng, Stateless};
use exp_plugin_api::tch::Tensor;

/// Side of the square convolution kernels.
const KERNEL: i64 = 3;

#[derive(Debug, Clone, Config)]
pub struct ConvNetConfig {
    /// output channels of each 3×3 convolution, in order
    #[param(default = [16, 32], min = 1.0)]
    pub channels: Vec<i64>,
}

pub struct ConvNet {
    /// (weight, bias) per convolution; weights are [out, in, 3, 3] as in PyTorch.
    convs: Vec<(Tensor, Tensor)>,
    /// The linear head: weight [classes, features], bias [classes].
    head: (Tensor, Tensor),
    /// Side of the square input image.
    side: i64,
}

impl Component for ConvNet {
    type Config = ConvNetConfig;
    const NAME: &'static str = "convnet";
    const VERSION: &'static str = "1";
    const DOC: &'static str =
        "small convolutional network over square single-channel images, sized by its dataset";

    fn check(config: &ConvNetConfig) -> Result<()> {
        if config.channels.is_empty() {
            return Err(PluginError::in_field(
                "channels",
                "needs at least one convolution",
            ));
        }
        Ok(())
    }

    fn create(config: ConvNetConfig, context: &Context) -> Result<Self> {
        let channels = config.channels;
        let data = context.data()?;
        if data.classes < 1 {
            return Err(PluginError::new(
                "convnet needs a dataset with class labels",
            ));
        }
        let features: i64 = data.input_shape.iter().product();
        let side = (features as f64).sqrt().round() as i64;
        if side < 2 || side * side != features {
            return Err(PluginError::new(format!(
                "convnet needs square single-channel images, but the dataset's inputs have shape \
                 {:?} ({features} features, not a square of at least 2×2)",
                data.input_shape
            )));
        }
        let device = context.device();
        let mut rng = Rng::new(context.seed);
        let mut init = |shape: &[i64], fan_in: i64| {
            let bound = 1.0 / (fan_in as f64).sqrt();
            rng.uniform(shape, -bound, bound)
                .to_device(device)
                .set_requires_grad(true)
        };
        let mut convs = Vec::with_capacity(channels.len());
        let mut in_channels = 1;
        for out_channels in &channels {
            let fan_in = in_channels * KERNEL * KERNEL;
            let weight = init(&[*out_channels, in_channels, KERNEL, KERNEL], fan_in);
            let bias = init(&[*out_channels], fan_in);
            convs.push((weight, bias));
            in_channels = *out_channels;
        }
        let pooled = side / 2;
        let head_in = in_channels * pooled * pooled;
        let head_weight = init(&[data.classes, head_in], head_in);
        let head_bias = init(&[data.classes], head_in);
        Ok(ConvNet {
            convs,
            head: (head_weight, head_bias),
            side,
        })
    }
}

/// Nothing beyond the weights: the conv net draws no randomness while training.
impl Stateless for ConvNet {}

impl Model for ConvNet {
    fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let mut tensors: Vec<(String, Tensor)> = self
            .convs
            .iter()
            .enumerate()
            .flat_map(|(idx, (weight, bias))| {
                [
                    (format!("convs.{idx}.weight"), weight.shallow_clone()),
                    (format!("convs.{idx}.bias"), bias.shallow_clone()),
                ]
            })
            .collect();
        tensors.push(("head.weight".into(), self.head.0.shallow_clone()));
        tensors.push(("head.bias".into(), self.head.1.shallow_clone()));
        tensors
    }

    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor> {
        let batch = x.size()[0];
        let mut h = x.f_reshape([batch, 1, self.side, self.side])?;
        for (weight, bias) in &self.convs {
            h = h
                .f_conv2d(weight, Some(bias), [1, 1], [1, 1], [1, 1], 1)?
                .f_relu()?;
        }
        let h = h
            .f_max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false)?
            .f_reshape([batch, -1])?;
        Ok(h.f_linear(&self.head.0, Some(&self.head.1))?)
    }
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::{Model, Optimizer};

    use crate::model::test_support::digits_context as context;
    use exp_plugin_api::sdk::build;
    use exp_plugin_api::tch::{Device, Kind, Tensor};
    use serde_json::json;

    use super::ConvNet;
    use crate::optimizer::sgd::Sgd;

    #[test]
    fn forward_shape_and_tensor_names() {
        let model = build::<ConvNet>(json!({"channels": [4, 8]}), &context(3)).unwrap();
        let x = Tensor::ones([5, 64], (Kind::Float, Device::Cpu));
        assert_eq!(model.forward(&x, false).unwrap().size(), vec![5, 10]);
        let shapes: Vec<(String, Vec<i64>)> = model
            .named_tensors()
            .into_iter()
            .map(|(name, tensor)| (name, tensor.size()))
            .collect();
        assert_eq!(
            shapes,
            vec![
                ("convs.0.weight".to_string(), vec![4, 1, 3, 3]),
                ("convs.0.bias".to_string(), vec![4]),
                ("convs.1.weight".to_string(), vec![8, 4, 3, 3]),
                ("convs.1.bias".to_string(), vec![8]),
                ("head.weight".to_string(), vec![10, 8 * 4 * 4]),
                ("head.bias".to_string(), vec![10]),
            ]
        );
    }

    #[test]
    fn seeded_init_is_reproducible_and_bounded() {
        let p = || json!({"channels": [4, 8]});
        let model = build::<ConvNet>(p(), &context(3)).unwrap();
        let again = build::<ConvNet>(p(), &context(3)).unwrap();
        let other = build::<ConvNet>(p(), &context(4)).unwrap();
        for ((_, a), (_, b)) in model.named_tensors().iter().zip(again.named_tensors()) {
            assert!(a.equal(&b));
        }
        let w = |m: &ConvNet| m.named_tensors()[2].1.shallow_clone();
        assert!(!w(&model).equal(&w(&other)));
        // The second convolution has fan_in 4·3·3 = 36, so its weights lie within ±1/6.
        let bound = f64::try_from(w(&model).abs().max()).unwrap();
        assert!(bound <= 1.0 / 6.0 && bound > 0.1);
    }

    #[test]
    fn no_convolution_is_refused_at_check() {
        use exp_plugin_api::sdk::Component;
        let config = super::ConvNetConfig {
            channels: Vec::new(),
        };
        let error = ConvNet::check(&config).err().unwrap();
        assert_eq!(error.field.as_deref(), Some("channels"));
    }

    #[test]
    fn non_square_inputs_are_refused() {
        let mut context = context(0);
        context.data.as_mut().unwrap().input_shape = vec![10];
        let error = build::<ConvNet>(json!({"channels": [4]}), &context)
            .err()
            .unwrap();
        assert!(error.to_string().contains("square"), "{error}");
    }

    #[test]
    fn one_training_step_reduces_the_loss() {
        let model = build::<ConvNet>(json!({"channels": [4, 8]}), &context(1)).unwrap();
        let mut sgd = build::<Sgd>(json!({"lr": 0.1}), &context(1)).unwrap();
        let x = exp_plugin_api::sdk::Rng::new(7).uniform(&[8, 64], 0.0, 1.0);
        let y = Tensor::from_slice(&[0i64, 1, 2, 3, 4, 5, 6, 7]);
        let params: Vec<Tensor> = model
            .named_tensors()
            .into_iter()
            .map(|(_, tensor)| tensor)
            .collect();
        let before = model.loss(&x, &y).unwrap();
        before.backward();
        sgd.step(&params).unwrap();
        let after = model.loss(&x, &y).unwrap();
        assert!(f64::try_from(&after).unwrap() < f64::try_from(&before).unwrap());
    }
}
