//! `mlp`: a multilayer perceptron over flattened inputs, sized by its dataset (input features
//! and classes). Weights and biases are initialised like PyTorch's `nn.Linear` (uniform in
//! ±1/√fan_in), drawn from the node's seed so initialisation is reproducible and independent of
//! other nodes running in parallel. Dropout masks come from the same seeded generator.

use std::cell::RefCell;
use std::sync::Mutex;

use exp_plugin_api::sdk::{
    Choice, Component, Config, Context, Model, PluginError, Result, Rng, SavedState, Stateful,
};
use exp_plugin_api::tch::{Device, Tensor};

/// The nonlinearity after each hidden layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Choice)]
pub enum Activation {
    Relu,
    Tanh,
    Gelu,
}

#[derive(Debug, Clone, Config)]
pub struct MlpConfig {
    /// width of each hidden layer, in order
    #[param(default = [64], min = 1.0)]
    pub hidden: Vec<i64>,
    /// nonlinearity after each hidden layer
    #[param(default = "relu")]
    pub activation: Activation,
    /// probability of zeroing a hidden unit during training
    #[param(default = 0.0, min = 0.0, max = 0.95)]
    pub dropout: f64,
}

pub struct Mlp {
    /// (weight, bias) per layer; weights are [out, in] as in PyTorch.
    layers: Vec<(Tensor, Tensor)>,
    activation: Activation,
    dropout: f64,
    /// Dropout masks are drawn here; a Mutex because `forward` takes `&self`.
    rng: Mutex<RefCell<Rng>>,
    device: Device,
}

impl Component for Mlp {
    type Config = MlpConfig;
    const NAME: &'static str = "mlp";
    const VERSION: &'static str = "1";
    const DOC: &'static str = "multilayer perceptron over flattened inputs, sized by its dataset";

    fn create(config: MlpConfig, context: &Context) -> Result<Self> {
        let MlpConfig {
            hidden,
            activation,
            dropout,
        } = config;
        let data = context.data()?;
        let inputs: i64 = data.input_shape.iter().product();
        if data.classes < 1 {
            return Err(PluginError::new("mlp needs a dataset with class labels"));
        }
        let device = context.device();
        let mut rng = Rng::new(context.seed);
        let mut widths = vec![inputs];
        widths.extend(&hidden);
        widths.push(data.classes);
        let layers = widths
            .windows(2)
            .map(|pair| {
                let (fan_in, fan_out) = (pair[0], pair[1]);
                let bound = 1.0 / (fan_in as f64).sqrt();
                let weight = rng
                    .uniform(&[fan_out, fan_in], -bound, bound)
                    .to_device(device)
                    .set_requires_grad(true);
                let bias = rng
                    .uniform(&[fan_out], -bound, bound)
                    .to_device(device)
                    .set_requires_grad(true);
                (weight, bias)
            })
            .collect();
        Ok(Mlp {
            layers,
            activation,
            dropout,
            rng: Mutex::new(RefCell::new(Rng::new(context.seed ^ 0x5eed_d0d0))),
            device,
        })
    }
}

/// The dropout generator is the only state beyond the weights.
impl Stateful for Mlp {
    fn save_state(&self) -> Result<SavedState> {
        let guard = self
            .rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let rng_state = guard.borrow().state();
        Ok(SavedState {
            tensors: Vec::new(),
            data: exp_plugin_api::serde_json::json!({ "dropout_rng": rng_state.to_string() }),
        })
    }

    fn load_state(&mut self, state: SavedState) -> Result<()> {
        let rng_state = state.data["dropout_rng"]
            .as_str()
            .and_then(|text| text.parse::<u64>().ok())
            .ok_or_else(|| PluginError::new("saved mlp state lacks `dropout_rng`"))?;
        let guard = self
            .rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *guard.borrow_mut() = Rng::from_state(rng_state);
        Ok(())
    }
}

impl Model for Mlp {
    fn named_tensors(&self) -> Vec<(String, Tensor)> {
        self.layers
            .iter()
            .enumerate()
            .flat_map(|(idx, (weight, bias))| {
                [
                    (format!("layers.{idx}.weight"), weight.shallow_clone()),
                    (format!("layers.{idx}.bias"), bias.shallow_clone()),
                ]
            })
            .collect()
    }

    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let batch = x.size()[0];
        let mut h = x.f_reshape([batch, -1])?;
        let last = self.layers.len() - 1;
        for (idx, (weight, bias)) in self.layers.iter().enumerate() {
            h = h.f_linear(weight, Some(bias))?;
            if idx < last {
                h = match self.activation {
                    Activation::Relu => h.f_relu()?,
                    Activation::Tanh => h.f_tanh()?,
                    Activation::Gelu => h.f_gelu("none")?,
                };
                if train && self.dropout > 0.0 {
                    let keep = 1.0 - self.dropout;
                    let guard = self
                        .rng
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    let mask = guard
                        .borrow_mut()
                        .bernoulli(&h.size(), keep)
                        .to_device(self.device);
                    h = h * mask / keep;
                }
            }
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::{build, Model};

    use crate::model::test_support::digits_context as context;
    use exp_plugin_api::tch::{Kind, Tensor};

    use super::Mlp;

    #[test]
    fn forward_shape_and_seeded_init() {
        let p = || serde_json::json!({"hidden": [32, 16], "activation": "relu", "dropout": 0.0});
        let model = build::<Mlp>(p(), &context(3)).unwrap();
        let x = Tensor::ones([5, 64], (Kind::Float, exp_plugin_api::tch::Device::Cpu));
        assert_eq!(model.forward(&x, false).unwrap().size(), vec![5, 10]);
        let names: Vec<String> = model
            .named_tensors()
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(names.len(), 6);
        assert_eq!(names[0], "layers.0.weight");
        let again = build::<Mlp>(p(), &context(3)).unwrap();
        let other = build::<Mlp>(p(), &context(4)).unwrap();
        let w = |m: &Mlp| m.named_tensors()[0].1.shallow_clone();
        assert!(w(&model).equal(&w(&again)));
        assert!(!w(&model).equal(&w(&other)));
    }
}
