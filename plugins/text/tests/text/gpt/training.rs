//! A few optimiser steps drive the loss down; parallel trainings are bit-identical per seed.

use exp_plugin_api::sdk::Rng;
use exp_plugin_api::tch::Tensor;
use exp_text::gpt::{Gpt, GptConfig, MlpKind, Positions};

use super::{build, random_ids, tiny, variants};

/// A plain AdamW over `named_tensors`, with decay where `Gpt::decays` says.
struct AdamW {
    parameters: Vec<(Tensor, bool)>,
    first: Vec<Tensor>,
    second: Vec<Tensor>,
    steps: i32,
    lr: f64,
    weight_decay: f64,
}

impl AdamW {
    fn new(model: &Gpt, lr: f64, weight_decay: f64) -> AdamW {
        let parameters: Vec<(Tensor, bool)> = model
            .named_tensors()
            .into_iter()
            .map(|(name, tensor)| {
                let decays = model.decays(&name);
                (tensor, decays)
            })
            .collect();
        let zeros = || parameters.iter().map(|(p, _)| p.zeros_like()).collect();
        AdamW {
            first: zeros(),
            second: zeros(),
            parameters,
            steps: 0,
            lr,
            weight_decay,
        }
    }

    fn step(&mut self) {
        let (beta1, beta2, eps): (f64, f64, f64) = (0.9, 0.95, 1e-8);
        self.steps += 1;
        let correction1 = 1.0 - beta1.powi(self.steps);
        let correction2 = 1.0 - beta2.powi(self.steps);
        exp_plugin_api::tch::no_grad(|| {
            for (((parameter, decays), first), second) in self
                .parameters
                .iter_mut()
                .zip(self.first.iter_mut())
                .zip(self.second.iter_mut())
            {
                let grad = parameter.grad();
                *first = &*first * beta1 + &grad * (1.0 - beta1);
                *second = &*second * beta2 + &grad * &grad * (1.0 - beta2);
                let update = (&*first / correction1) / ((&*second / correction2).sqrt() + eps);
                if *decays {
                    let _ = parameter
                        .f_mul_scalar_(1.0 - self.lr * self.weight_decay)
                        .unwrap();
                }
                let _ = parameter.f_sub_(&(update * self.lr)).unwrap();
                let _ = parameter.grad().zero_();
            }
        });
    }
}

fn train(model: &Gpt, ids: &Tensor, steps: usize) -> Vec<f64> {
    let inputs = ids.narrow(1, 0, ids.size()[1] - 1);
    let targets = ids.narrow(1, 1, ids.size()[1] - 1);
    let mut optimizer = AdamW::new(model, 3e-3, 0.1);
    (0..steps)
        .map(|_| {
            let loss = model.loss(&inputs, &targets, true).unwrap();
            loss.backward();
            optimizer.step();
            loss.double_value(&[])
        })
        .collect()
}

#[test]
fn a_few_steps_fit_a_repeated_sequence() {
    let pattern = random_ids(&mut Rng::new(30), 1, 8, 37);
    let ids = pattern.repeat([4, 2]);
    for (positions, mlp) in variants() {
        let config = GptConfig {
            dropout: 0.1,
            ..tiny(positions, mlp)
        };
        let model = build(&config, 31);
        let losses = train(&model, &ids, 30);
        let (first, last) = (losses[0], losses[losses.len() - 1]);
        assert!(
            last < 0.5 * first,
            "{positions:?} {mlp:?}: {first} → {last}"
        );
    }
}

#[test]
fn parallel_trainings_are_bit_identical_per_seed() {
    let config = GptConfig {
        dropout: 0.2,
        positions: Positions::Rope,
        mlp: MlpKind::Swiglu,
        ..tiny(Positions::Rope, MlpKind::Swiglu)
    };
    let run = |seed: u64| {
        let config = config.clone();
        std::thread::spawn(move || {
            let model = build(&config, seed);
            let ids = random_ids(&mut Rng::new(seed + 1), 4, 12, 37);
            let losses = train(&model, &ids, 5);
            let weights: Vec<Vec<f32>> = model
                .named_tensors()
                .iter()
                .map(|(_, tensor)| Vec::<f32>::try_from(&tensor.flatten(0, -1)).unwrap())
                .collect();
            (losses, weights, model.dropout_calls())
        })
    };
    let handles: Vec<_> = [7, 7, 8, 7].into_iter().map(run).collect();
    let results: Vec<_> = handles
        .into_iter()
        .map(|handle| handle.join().unwrap())
        .collect();
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0], results[3]);
    assert_ne!(results[0].1, results[2].1);
    assert_eq!(results[0].2, 5);
}
