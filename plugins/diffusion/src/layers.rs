//! The layers both networks are built from (convolutions, linear maps, group norms, embedding
//! tables) and `Parameters`, which creates their tensors.
//!
//! Initialisation is PyTorch's: convolution and linear weights and biases uniform in
//! ±1/√fan_in (what `kaiming_uniform_(a=√5)` gives), group norms 1 and 0, embeddings N(0, 1).
//! Every draw comes from the node's seed through the SDK's `Rng`, on the CPU, in the order the
//! tensors are created, and is then moved to the device: a seed gives the same weights on every
//! device and whatever else runs in the process. `Parameters` also records each tensor under
//! its checkpoint key, in creation order, for `Model::named_tensors`.

use exp_plugin_api::sdk::Rng;
use exp_plugin_api::tch::{Device, Kind, TchError, Tensor};

/// The ε of every group norm (PyTorch's and diffusers' default).
const GROUP_NORM_EPS: f64 = 1e-5;

/// A 2-D convolution with a square kernel, padded to keep the size at stride 1.
pub struct Conv {
    weight: Tensor,
    bias: Tensor,
    stride: i64,
}

impl Conv {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor, TchError> {
        let padding = self.weight.size()[3] / 2;
        x.f_conv2d(
            &self.weight,
            Some(&self.bias),
            [self.stride, self.stride],
            [padding, padding],
            [1, 1],
            1,
        )
    }
}

/// `x·Wᵀ + b`, with W `[out, in]` as in `nn.Linear`.
pub struct Linear {
    weight: Tensor,
    bias: Tensor,
}

impl Linear {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor, TchError> {
        x.f_linear(&self.weight, Some(&self.bias))
    }
}

/// Group normalisation with a per-channel affine map.
pub struct GroupNorm {
    weight: Tensor,
    bias: Tensor,
    groups: i64,
}

impl GroupNorm {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor, TchError> {
        x.f_group_norm(
            self.groups,
            Some(&self.weight),
            Some(&self.bias),
            GROUP_NORM_EPS,
            true,
        )
    }
}

/// Creates a network's tensors from a seed and keeps them by checkpoint key.
pub struct Parameters {
    rng: Rng,
    device: Device,
    named: Vec<(String, Tensor)>,
}

impl Parameters {
    pub fn new(seed: u64, device: Device) -> Parameters {
        Parameters {
            rng: Rng::new(seed),
            device,
            named: Vec::new(),
        }
    }

    /// A trainable tensor on the device, recorded as `name`.
    fn add(&mut self, name: String, values: Tensor) -> Tensor {
        let tensor = values.to_device(self.device).set_requires_grad(true);
        self.named.push((name, tensor.shallow_clone()));
        tensor
    }

    fn uniform(&mut self, name: String, shape: &[i64], fan_in: i64) -> Tensor {
        let bound = 1.0 / (fan_in as f64).sqrt();
        let values = self.rng.uniform(shape, -bound, bound);
        self.add(name, values)
    }

    /// `{name}.weight` `[output, input, kernel, kernel]` and `{name}.bias`.
    pub fn conv(&mut self, name: &str, input: i64, output: i64, kernel: i64, stride: i64) -> Conv {
        let fan_in = input * kernel * kernel;
        Conv {
            weight: self.uniform(
                format!("{name}.weight"),
                &[output, input, kernel, kernel],
                fan_in,
            ),
            bias: self.uniform(format!("{name}.bias"), &[output], fan_in),
            stride,
        }
    }

    /// `{name}.weight` `[output, input]` and `{name}.bias`.
    pub fn linear(&mut self, name: &str, input: i64, output: i64) -> Linear {
        Linear {
            weight: self.uniform(format!("{name}.weight"), &[output, input], input),
            bias: self.uniform(format!("{name}.bias"), &[output], input),
        }
    }

    /// `{name}.weight` (ones) and `{name}.bias` (zeros) over `channels`.
    pub fn group_norm(&mut self, name: &str, channels: i64, groups: i64) -> GroupNorm {
        let options = (Kind::Float, Device::Cpu);
        GroupNorm {
            weight: self.add(format!("{name}.weight"), Tensor::ones([channels], options)),
            bias: self.add(format!("{name}.bias"), Tensor::zeros([channels], options)),
            groups,
        }
    }

    /// An embedding table `{name}.weight` `[rows, dim]`, drawn from N(0, 1) like
    /// `nn.Embedding`.
    pub fn embedding(&mut self, name: &str, rows: i64, dim: i64) -> Tensor {
        let values = self.rng.normal(&[rows, dim], 1.0);
        self.add(format!("{name}.weight"), values)
    }

    /// Every tensor created, by checkpoint key, in creation order.
    pub fn into_named(self) -> Vec<(String, Tensor)> {
        self.named
    }
}

/// The parameter count of a convolution with bias.
pub fn conv_count(input: i64, output: i64, kernel: i64) -> i64 {
    output * input * kernel * kernel + output
}

/// The parameter count of a linear map with bias.
pub fn linear_count(input: i64, output: i64) -> i64 {
    output * input + output
}

/// Shallow copies of named tensors (they share storage with the model's).
pub fn shallow(named: &[(String, Tensor)]) -> Vec<(String, Tensor)> {
    named
        .iter()
        .map(|(name, tensor)| (name.clone(), tensor.shallow_clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::tch::{Device, Kind, Tensor};

    use super::{conv_count, linear_count, Parameters};

    #[test]
    fn tensors_are_named_counted_and_bounded_like_pytorch() {
        let mut parameters = Parameters::new(4, Device::Cpu);
        let conv = parameters.conv("c", 2, 5, 3, 1);
        let linear = parameters.linear("l", 9, 4);
        let norm = parameters.group_norm("n", 4, 2);
        let table = parameters.embedding("e", 3, 4);
        let named = parameters.into_named();
        let names: Vec<&str> = named.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            ["c.weight", "c.bias", "l.weight", "l.bias", "n.weight", "n.bias", "e.weight"]
        );
        let numel = |index: usize| named[index].1.numel() as i64;
        assert_eq!(numel(0) + numel(1), conv_count(2, 5, 3));
        assert_eq!(numel(2) + numel(3), linear_count(9, 4));
        // fan_in 2·3·3 = 18 for the convolution, 9 for the linear map.
        assert!(named[0].1.abs().max().double_value(&[]) <= 1.0 / 18f64.sqrt());
        assert!(named[2].1.abs().max().double_value(&[]) <= 1.0 / 3.0);
        assert!(named.iter().all(|(_, tensor)| tensor.requires_grad()));
        assert_eq!(table.size(), vec![3, 4]);

        let x = Tensor::ones([1, 2, 6, 6], (Kind::Float, Device::Cpu));
        assert_eq!(conv.forward(&x).unwrap().size(), vec![1, 5, 6, 6]);
        let h = Tensor::ones([3, 9], (Kind::Float, Device::Cpu));
        assert_eq!(linear.forward(&h).unwrap().size(), vec![3, 4]);
        let normed = norm.forward(&Tensor::ones([1, 4, 2, 2], (Kind::Float, Device::Cpu)));
        assert_eq!(
            normed.unwrap().abs().sum(Kind::Float).double_value(&[]),
            0.0
        );
    }
}
