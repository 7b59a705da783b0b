//! Tests of the decoder in `exp_text::gpt` through its public API (moved with it from the
//! standalone `gpt` crate): tiny CPU models, every position scheme × MLP type.

mod config;
mod dropout;
mod generation;
mod gpu;
mod model;
mod training;

use exp_plugin_api::sdk::Rng;
use exp_plugin_api::tch::{Device, Kind, Tensor};
use exp_text::gpt::{Gpt, GptConfig, MlpKind, Positions};

pub const POSITIONS: [Positions; 4] = [
    Positions::Learned,
    Positions::Rope,
    Positions::Alibi,
    Positions::None,
];
pub const MLPS: [MlpKind; 3] = [MlpKind::Gelu, MlpKind::GeluTanh, MlpKind::Swiglu];

/// Every position scheme × MLP type.
pub fn variants() -> Vec<(Positions, MlpKind)> {
    POSITIONS
        .iter()
        .flat_map(|positions| MLPS.iter().map(move |mlp| (*positions, *mlp)))
        .collect()
}

/// A tiny config: vocabulary 37, context 16, width 32, depth 2, 4 heads.
pub fn tiny(positions: Positions, mlp: MlpKind) -> GptConfig {
    GptConfig {
        positions,
        mlp,
        ..GptConfig::new(37, 16, 32, 2, 4)
    }
}

pub fn build(config: &GptConfig, seed: u64) -> Gpt {
    Gpt::new(config, &mut Rng::new(seed), Device::Cpu).expect("valid test config")
}

/// Random ids `[batch, time]` in `0..vocab`.
pub fn random_ids(rng: &mut Rng, batch: i64, time: i64, vocab: i64) -> Tensor {
    let values: Vec<i64> = (0..batch * time)
        .map(|_| (rng.next_u64() % vocab as u64) as i64)
        .collect();
    Tensor::from_slice(&values).view([batch, time])
}

/// Overwrites every parameter in place with random values (layer norms around 1), so tests
/// see non-zero biases and non-trivial norms.
pub fn randomise(model: &Gpt, seed: u64) {
    let mut rng = Rng::new(seed);
    let _no_grad = exp_plugin_api::tch::no_grad_guard();
    for (name, mut tensor) in model.named_tensors() {
        let noise = rng.normal(&tensor.size(), 0.1).to_kind(tensor.kind());
        let value = if name.contains("ln_") && name.ends_with(".weight") {
            noise + 1.0
        } else {
            noise
        };
        tensor.copy_(&value);
    }
}

pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().to_kind(Kind::Double).double_value(&[])
}

#[test]
fn all_variants_are_covered() {
    assert_eq!(variants().len(), 12);
}
