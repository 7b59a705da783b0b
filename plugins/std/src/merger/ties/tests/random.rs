//! The tensor implementation against the independent computations on many random models whose
//! entries tie and cancel often.

use exp_plugin_api::sdk::Rng;
use exp_plugin_api::tch::Tensor;

use super::by_rule::{mergekit_by_rule, paper_by_rule};
use super::{assert_close, merge, values, Model};
use crate::merger::ties::{ties_paper, Convention};

/// Entries that are multiples of 1/4 in [−1.5, 1.5], so magnitudes tie often, sums cancel
/// exactly, and every sum is exact in f64.
fn quantised(rng: &mut Rng, n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| (rng.next_u64() % 13) as f64 / 4.0 - 1.5)
        .collect()
}

/// A model as plain numbers: `pre[i]` is tensor i of the pre-trained model, `finetuned[t][i]`
/// tensor i of fine-tune t, `shapes[i]` its shape.
struct PlainModel {
    pre: Vec<Vec<f64>>,
    finetuned: Vec<Vec<Vec<f64>>>,
    shapes: Vec<Vec<i64>>,
}

impl PlainModel {
    fn tensors(&self) -> Model {
        (0..self.pre.len())
            .map(|i| {
                let shape = self.shapes[i].as_slice();
                let mut inputs = vec![Tensor::from_slice(&self.pre[i]).reshape(shape)];
                inputs.extend(
                    self.finetuned
                        .iter()
                        .map(|model| Tensor::from_slice(&model[i]).reshape(shape)),
                );
                (format!("t{i}"), inputs)
            })
            .collect()
    }
}

/// Random models of three tensors (shapes [3, 4], [5], [1]) with 1–3 fine-tunes, a third of
/// them with the last fine-tune's task vector the exact negation of the first's.
fn random_model(seed: u64) -> PlainModel {
    let mut rng = Rng::new(seed);
    let shapes = vec![vec![3, 4], vec![5], vec![1]];
    let sizes: Vec<usize> = shapes
        .iter()
        .map(|shape: &Vec<i64>| shape.iter().product::<i64>() as usize)
        .collect();
    let n_tasks = 1 + (rng.next_u64() % 3) as usize;
    let cancel = n_tasks >= 2 && rng.next_u64().is_multiple_of(3);
    let pre: Vec<Vec<f64>> = sizes.iter().map(|&n| quantised(&mut rng, n)).collect();
    let mut finetuned: Vec<Vec<Vec<f64>>> = (0..n_tasks)
        .map(|_| {
            sizes
                .iter()
                .zip(&pre)
                .map(|(&n, pre)| {
                    let tau = quantised(&mut rng, n);
                    pre.iter().zip(&tau).map(|(p, t)| p + t).collect()
                })
                .collect()
        })
        .collect();
    if cancel {
        let negated: Vec<Vec<f64>> = finetuned[0]
            .iter()
            .zip(&pre)
            .map(|(tuned, pre)| tuned.iter().zip(pre).map(|(t, p)| p - (t - p)).collect())
            .collect();
        *finetuned.last_mut().unwrap() = negated;
    }
    PlainModel {
        pre,
        finetuned,
        shapes,
    }
}

const DENSITIES: [f64; 8] = [0.01, 0.1, 0.25, 0.3, 0.5, 0.58, 0.99, 1.0];

#[test]
fn paper_convention_matches_its_rule_on_random_models() {
    for seed in 0..40 {
        let plain = random_model(seed);
        let (pre, finetuned) = (&plain.pre, &plain.finetuned);
        let model = plain.tensors();
        for density in DENSITIES {
            for (lambda, normalize) in [(1.0, true), (0.7, false), (-0.5, true)] {
                let found = merge(Convention::Paper, &model, density, lambda, &[], normalize);
                let expected = paper_by_rule(pre, finetuned, density, lambda, normalize);
                for (i, (found, expected)) in found.iter().zip(&expected).enumerate() {
                    let what = format!(
                        "seed {seed}, tensor {i}, density {density}, lambda {lambda}, \
                         normalize {normalize}"
                    );
                    assert_close(found, expected, 1e-12, &what);
                }
                // The same, through the function that takes no weights.
                let direct: Vec<Vec<f64>> = ties_paper(&model, density, lambda, normalize)
                    .unwrap()
                    .iter()
                    .map(values)
                    .collect();
                assert_eq!(direct, found);
            }
        }
    }
}

#[test]
fn mergekit_convention_matches_its_rule_on_random_models() {
    const WEIGHT_POOL: [f64; 7] = [1.0, 0.5, 2.0, -1.0, 0.0, 1.5, 0.25];
    for seed in 0..40 {
        let plain = random_model(seed);
        let (pre, finetuned) = (&plain.pre, &plain.finetuned);
        let model = plain.tensors();
        let n_tasks = finetuned.len();
        let varied: Vec<f64> = (0..n_tasks)
            .map(|task| WEIGHT_POOL[(seed as usize + 3 * task) % WEIGHT_POOL.len()])
            .collect();
        for density in DENSITIES {
            for weights in [vec![1.0; n_tasks], varied.clone()] {
                for (lambda, normalize) in [(1.0, true), (0.7, false), (-0.5, true)] {
                    let found = merge(
                        Convention::Mergekit,
                        &model,
                        density,
                        lambda,
                        &weights,
                        normalize,
                    );
                    for (i, found) in found.iter().enumerate() {
                        let tuned: Vec<Vec<f64>> =
                            finetuned.iter().map(|model| model[i].clone()).collect();
                        let expected =
                            mergekit_by_rule(&pre[i], &tuned, density, lambda, &weights, normalize);
                        let what = format!(
                            "seed {seed}, tensor {i}, density {density}, weights {weights:?}, \
                             lambda {lambda}, normalize {normalize}"
                        );
                        assert_close(found, &expected, 1e-12, &what);
                    }
                }
            }
        }
    }
}
