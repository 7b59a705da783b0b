//! Tests of the `unet` component, built the way the host builds it, at toy sizes (8×8 images,
//! width 8, T = 20).

use exp_plugin_api::sdk::{build, Component, Model, Rng, Sampling, SavedState, Stateful};
use exp_plugin_api::serde_json::{json, Value};
use exp_plugin_api::tch::{no_grad, Kind, Tensor};

use super::{UNet, UNetConfig};
use crate::model::test_support::shapes_context;
use crate::schedule::NoiseSchedule;

fn tiny() -> Value {
    json!({"width": 8, "multipliers": [1, 2], "timesteps": 20, "groups": 4})
}

fn unet(seed: u64) -> UNet {
    build::<UNet>(tiny(), &shapes_context(seed)).unwrap_or_else(|error| panic!("{error}"))
}

/// A batch of four images in [−1, 1] and their captions, one of them partly unlabelled.
fn batch() -> (Tensor, Tensor) {
    let x = Rng::new(9).uniform(&[4, 3, 8, 8], -1.0, 1.0);
    let y = Tensor::from_slice(&[0i64, 1, 0, 3, 3, 1, 2, -100, 0, 1, 0, 1]).reshape([4, 3]);
    (x, y)
}

fn loss(model: &UNet) -> Tensor {
    let (x, y) = batch();
    model.loss(&x, &y).unwrap()
}

fn calls(n: u64) -> SavedState {
    SavedState {
        tensors: Vec::new(),
        data: json!({ "calls": n }),
    }
}

fn options(seed: u64, guidance: f64, eta: f64) -> Sampling {
    Sampling {
        steps: 5,
        guidance,
        eta,
        seed,
    }
}

/// Captions for three samples: two full ones and one with the colour left open.
fn conditions() -> Tensor {
    Tensor::from_slice(&[0i64, 0, 1, 3, 2, 0, 1, -100, 1]).reshape([3, 3])
}

fn sample(model: &UNet, conditions: &Tensor, options: &Sampling) -> Tensor {
    model.sample(conditions, options).unwrap()
}

/// The shape of the tensor called `name`.
fn shape_of(model: &UNet, name: &str) -> Vec<i64> {
    let named = model.named_tensors();
    let found = named.iter().find(|(key, _)| key == name);
    found
        .unwrap_or_else(|| panic!("no tensor `{name}`"))
        .1
        .size()
}

#[test]
fn shapes_and_tensor_names() {
    let model = unet(1);
    assert_eq!(loss(&model).size(), Vec::<i64>::new());
    let images = sample(&model, &conditions(), &options(0, 2.0, 0.0));
    assert_eq!(images.size(), vec![3, 3, 8, 8]);
    assert!(images.abs().max().double_value(&[]) <= 1.0);
    let names: Vec<String> = model.named_tensors().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names[..3],
        [
            "conv_in.weight",
            "conv_in.bias",
            "time_embedding.linear_1.weight"
        ]
    );
    assert_eq!(names.last().map(String::as_str), Some("conv_out.bias"));
    assert!(!names.contains(&"up.0.upsample.weight".to_string()));
    assert_eq!(
        shape_of(&model, "down.0.block.conv1.weight"),
        vec![8, 8, 3, 3]
    );
    assert_eq!(
        shape_of(&model, "down.0.downsample.weight"),
        vec![8, 8, 3, 3]
    );
    assert_eq!(shape_of(&model, "up.1.upsample.weight"), vec![16, 16, 3, 3]);
    // A scale and a shift per output channel, from the embedding (4·width wide).
    assert_eq!(shape_of(&model, "mid.block.film.weight"), vec![32, 32]);
    // One row per value and one for "none".
    assert_eq!(shape_of(&model, "caption.0.weight"), vec![5, 32]);
    assert_eq!(shape_of(&model, "caption.2.weight"), vec![3, 32]);
    // The 1×1 skip exists only where the channels change: up 1 takes 16 + 16 to 16.
    assert_eq!(
        shape_of(&model, "up.1.block.skip.weight"),
        vec![16, 32, 1, 1]
    );
    assert!(!names.contains(&"down.0.block.skip.weight".to_string()));
    let no_decay = model.no_decay();
    for exempt in [
        "caption.1.weight",
        "mid.block.norm2.weight",
        "conv_out.bias",
    ] {
        assert!(no_decay.contains(&exempt.to_string()), "{exempt}");
    }
    assert!(!no_decay.iter().any(|name| name.ends_with("conv1.weight")));
}

#[test]
fn the_parameter_count_formula_matches_the_built_model() {
    for (width, multipliers, groups) in [(8, vec![1, 2], 4), (6, vec![1, 2, 2], 3), (4, vec![3], 2)]
    {
        let config = UNetConfig {
            width,
            multipliers: multipliers.clone(),
            timesteps: 20,
            schedule: NoiseSchedule::Linear,
            condition_dropout: 0.1,
            groups,
        };
        let params = json!({"width": width, "multipliers": multipliers, "groups": groups});
        let model = build::<UNet>(params, &shapes_context(1)).unwrap();
        let built: i64 = model
            .named_tensors()
            .iter()
            .map(|(_, t)| t.numel() as i64)
            .sum();
        let data = shapes_context(1).data;
        let counted = UNet::parameter_count(&config, data.as_ref()).unwrap();
        assert_eq!(counted, built as u64, "{config:?}");
    }
}

#[test]
fn the_loss_is_keyed_by_seed_and_call_count() {
    let model = unet(1);
    let first = loss(&model);
    let second = loss(&model);
    assert!(!first.equal(&second));
    // The same seed and count draw the same timesteps, noise and dropped captions.
    let again = unet(1);
    assert!(loss(&again).equal(&first));
    // Another seed gives other weights and other draws.
    assert!(!loss(&unet(2)).equal(&first));
    // The count is the training state: restored, the draws repeat.
    assert_eq!(model.save_state().unwrap().data, json!({"calls": 2}));
    let mut resumed = unet(1);
    resumed.load_state(model.save_state().unwrap()).unwrap();
    assert!(loss(&resumed).equal(&loss(&model)));
    resumed.load_state(calls(0)).unwrap();
    assert!(loss(&resumed).equal(&first));
    assert!(resumed.load_state(SavedState::default()).is_err());
}

#[test]
fn sampling_is_deterministic_per_seed() {
    let model = unet(3);
    let first = sample(&model, &conditions(), &options(7, 2.0, 0.0));
    assert!(first.equal(&sample(&model, &conditions(), &options(7, 2.0, 0.0))));
    assert!(!first.equal(&sample(&model, &conditions(), &options(8, 2.0, 0.0))));
    let noisy = sample(&model, &conditions(), &options(7, 2.0, 0.5));
    assert!(noisy.equal(&sample(&model, &conditions(), &options(7, 2.0, 0.5))));
}

#[test]
fn guidance_zero_is_the_unconditional_model() {
    // With w = 0 the prediction is ε_∅ + 0·(ε_c − ε_∅) = ε_∅ exactly (adding ±0 changes no
    // value), and ε_∅ is the same computation in both runs: the unconditional half of the
    // doubled batch sees the same images and "none" rows in the same positions, and each
    // example's result does not depend on the others'. So the samples are bit-identical.
    let model = unet(4);
    let unlabelled = Tensor::full(
        [3, 3],
        -100,
        (Kind::Int64, exp_plugin_api::tch::Device::Cpu),
    );
    let guided = sample(&model, &conditions(), &options(5, 0.0, 0.0));
    assert!(guided.equal(&sample(&model, &unlabelled, &options(5, 0.0, 0.0))));
    // With no caption ε_c = ε_∅ in exact arithmetic, so any weight gives the unconditional
    // model too, but only to rounding: the two halves of the doubled batch sit at different
    // rows of libtorch's blocked matrix kernels, which round differently (about 5e-7 here).
    let unguided = sample(&model, &unlabelled, &options(5, 3.0, 0.0));
    assert!((&guided - &unguided).abs().max().double_value(&[]) < 1e-5);
    // The captions matter once w ≠ 0.
    assert!(!guided.equal(&sample(&model, &conditions(), &options(5, 1.0, 0.0))));
}

#[test]
fn eta_adds_noise_only_when_positive_and_before_the_last_step() {
    let model = unet(5);
    let deterministic = sample(&model, &conditions(), &options(1, 1.0, 0.0));
    let stochastic = sample(&model, &conditions(), &options(1, 1.0, 1.0));
    assert!(!deterministic.equal(&stochastic));
    // One step goes straight to t = 0 with ᾱ' = 1, where σ = 0 whatever η is.
    let one_step = |eta| {
        let options = Sampling {
            steps: 1,
            ..options(1, 1.0, eta)
        };
        sample(&model, &conditions(), &options)
    };
    assert!(one_step(0.0).equal(&one_step(1.0)));
}

#[test]
fn a_few_sgd_steps_lower_the_loss_at_fixed_draws() {
    let mut model = unet(6);
    let params: Vec<Tensor> = model.named_tensors().into_iter().map(|(_, t)| t).collect();
    // Measured at one fixed call count, so both losses see the same timesteps and noise.
    let measure = |model: &mut UNet| {
        let saved = model.save_state().unwrap();
        model.load_state(calls(1_000)).unwrap();
        let value = no_grad(|| loss(model)).double_value(&[]);
        model.load_state(saved).unwrap();
        value
    };
    let before = measure(&mut model);
    for _ in 0..8 {
        for param in &params {
            let mut param = param.shallow_clone();
            param.zero_grad();
        }
        loss(&model).backward();
        no_grad(|| {
            for param in &params {
                let mut param = param.shallow_clone();
                let step = param.grad() * 0.1;
                let _ = param.f_sub_(&step).unwrap();
            }
        });
    }
    let after = measure(&mut model);
    assert!(after < before, "{before} → {after}");
}

#[test]
fn misuse_is_refused_with_reasons() {
    let model = unet(1);
    let (x, _) = batch();
    let error = model.forward(&x, true).unwrap_err();
    assert!(error.message.contains("sample(..)"), "{error}");
    let error = model
        .loss(&x, &Tensor::zeros([4], (Kind::Int64, x.device())))
        .unwrap_err();
    assert!(error.message.contains("[4, 3]"), "{error}");
    let too_many = Sampling {
        steps: 21,
        ..options(0, 1.0, 0.0)
    };
    assert!(model
        .sample(&conditions(), &too_many)
        .unwrap_err()
        .message
        .contains("T = 20"));
    let bad_caption = Tensor::from_slice(&[0i64, 4, 0]).reshape([1, 3]);
    assert!(model.sample(&bad_caption, &options(0, 1.0, 0.0)).is_err());
    let mut config = UNetConfig {
        width: 12,
        multipliers: vec![1, 2],
        timesteps: 20,
        schedule: NoiseSchedule::Cosine,
        condition_dropout: 0.1,
        groups: 8,
    };
    assert_eq!(
        UNet::check(&config).unwrap_err().field.as_deref(),
        Some("groups")
    );
    config.width = 7;
    config.groups = 7;
    assert_eq!(
        UNet::check(&config).unwrap_err().field.as_deref(),
        Some("width")
    );
    // Five levels halve the image four times: 8×8 images cannot take it.
    let deep = json!({"width": 8, "multipliers": [1, 1, 1, 1, 1], "timesteps": 20, "groups": 4});
    let error = build::<UNet>(deep, &shapes_context(0)).err().unwrap();
    assert!(error.message.contains("multiples of 2^4"), "{error}");
}

#[test]
fn a_dataset_without_captions_gives_an_unconditional_model() {
    let mut context = shapes_context(2);
    context.data.as_mut().unwrap().attributes.clear();
    let model = build::<UNet>(tiny(), &context).unwrap();
    let (x, _) = batch();
    let labels = Tensor::from_slice(&[0i64, 1, 2, 3]);
    assert!(model
        .loss(&x, &labels)
        .unwrap()
        .double_value(&[])
        .is_finite());
    let none = Tensor::zeros([2, 0], (Kind::Int64, x.device()));
    assert_eq!(
        sample(&model, &none, &options(0, 2.0, 0.0)).size(),
        vec![2, 3, 8, 8]
    );
    assert!(!model
        .named_tensors()
        .iter()
        .any(|(name, _)| name.starts_with("caption.")));
}
