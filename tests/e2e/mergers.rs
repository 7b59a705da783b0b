//! Mergers on real checkpoints: two MLPs fine-tuned from one pre-trained model are merged by
//! every standard merger through the binary, and each merged checkpoint is compared, tensor by
//! tensor, with the same merge computed here independently from the input checkpoints.

use std::collections::BTreeMap;

use crate::support::Test;

const FILE: &str = r#"dataset d = digits
model net = mlp { hidden: [8] }
train pre { model: net, data: d, steps: 5 steps, optimizer: adamw { lr: 0.01 } }
train a { model: pre, data: d, steps: 5 steps, seed: 1, optimizer: sgd { lr: 0.5 } }
train b { model: pre, data: d, steps: 5 steps, seed: 2, optimizer: sgd { lr: 0.5 } }
merge soup = average(a, b)
merge wise = wise_ft(a, b) { alpha: 0.3 }
merge arithmetic = task_arithmetic(pre, a, b) { lambda: 0.5 }
merge ties_tensor = ties(pre, a, b) { density: 0.5, lambda: 1.0, scope: "tensor" }
merge ties_model = ties(pre, a, b) { density: 0.5, lambda: 0.8, scope: "model" }
merge sfa_once = sfa(a, b) { every: 1 steps, beta: 0.25 }
"#;

type Weights = BTreeMap<String, Vec<f32>>;

fn load(test: &Test, node: &str) -> Weights {
    let path = test.path(&format!("out/checkpoints/{node}.safetensors"));
    tch::Tensor::read_safetensors(&path)
        .unwrap_or_else(|error| panic!("{node}: {error}"))
        .into_iter()
        .map(|(name, tensor)| {
            let values = Vec::<f32>::try_from(tensor.flatten(0, -1)).unwrap();
            (name, values)
        })
        .collect()
}

fn assert_close(node: &str, found: &Weights, expected: &Weights) {
    assert_eq!(
        found.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (name, values) in expected {
        for (index, (got, want)) in found[name].iter().zip(values).enumerate() {
            assert!(
                (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
                "{node}: `{name}`[{index}] is {got}, expected {want}"
            );
        }
    }
}

/// Element-wise combination of checkpoints.
fn combine(inputs: &[&Weights], f: impl Fn(&[f32]) -> f32) -> Weights {
    inputs[0]
        .keys()
        .map(|name| {
            let n = inputs[0][name].len();
            let values = (0..n)
                .map(|i| {
                    let column: Vec<f32> = inputs.iter().map(|weights| weights[name][i]).collect();
                    f(&column)
                })
                .collect();
            (name.clone(), values)
        })
        .collect()
}

/// TIES by its definition: trim each task vector to its `density` largest magnitudes (over one
/// tensor, or over the whole model), elect the sign of the sum of the trimmed vectors, average
/// the trimmed entries that agree with it (none agree, or the sign is 0: 0), scale by lambda.
fn ties(pre: &Weights, tuned: &[&Weights], density: f64, lambda: f32, per_tensor: bool) -> Weights {
    let vectors: Vec<Weights> = tuned
        .iter()
        .map(|weights| combine(&[weights, pre], |v| v[0] - v[1]))
        .collect();
    let threshold = |values: Vec<f32>| -> f32 {
        let mut magnitudes: Vec<f32> = values.iter().map(|v| v.abs()).collect();
        magnitudes.sort_by(|a, b| b.total_cmp(a));
        let k = ((density * magnitudes.len() as f64).round() as usize).max(1);
        magnitudes[k - 1]
    };
    let trimmed: Vec<Weights> = vectors
        .iter()
        .map(|vector| {
            let model_threshold = threshold(vector.values().flatten().copied().collect());
            vector
                .iter()
                .map(|(name, values)| {
                    let cut = if per_tensor {
                        threshold(values.clone())
                    } else {
                        model_threshold
                    };
                    let kept = values
                        .iter()
                        .map(|v| if v.abs() >= cut { *v } else { 0.0 })
                        .collect();
                    (name.clone(), kept)
                })
                .collect()
        })
        .collect();
    let trimmed_refs: Vec<&Weights> = trimmed.iter().collect();
    let merged = combine(&trimmed_refs, |column| {
        let sign = column.iter().sum::<f32>().signum();
        let sum: f32 = column.iter().sum();
        if sum == 0.0 {
            return 0.0;
        }
        let agreeing: Vec<f32> = column
            .iter()
            .copied()
            .filter(|v| *v != 0.0 && v.signum() == sign)
            .collect();
        if agreeing.is_empty() {
            0.0
        } else {
            agreeing.iter().sum::<f32>() / agreeing.len() as f32
        }
    });
    combine(&[pre, &merged], |v| v[0] + lambda * v[1])
}

#[test]
fn every_merger_matches_an_independent_computation_on_trained_checkpoints() {
    let test = Test::new().file("merge.exp", FILE);
    let outcome = test.run_with(&["run", "merge.exp", "--out", "out", "--no-cache"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    let pre = load(&test, "pre");
    let a = load(&test, "a");
    let b = load(&test, "b");
    assert_ne!(a, b, "the two fine-tunes should differ");

    assert_close(
        "soup",
        &load(&test, "soup"),
        &combine(&[&a, &b], |v| (v[0] + v[1]) / 2.0),
    );
    assert_close(
        "wise",
        &load(&test, "wise"),
        &combine(&[&a, &b], |v| 0.7 * v[0] + 0.3 * v[1]),
    );
    assert_close(
        "arithmetic",
        &load(&test, "arithmetic"),
        &combine(&[&pre, &a, &b], |v| {
            v[0] + 0.5 * ((v[1] - v[0]) + (v[2] - v[0]))
        }),
    );
    assert_close(
        "ties_tensor",
        &load(&test, "ties_tensor"),
        &ties(&pre, &[&a, &b], 0.5, 1.0, true),
    );
    assert_close(
        "ties_model",
        &load(&test, "ties_model"),
        &ties(&pre, &[&a, &b], 0.5, 0.8, false),
    );
    assert_ne!(load(&test, "ties_tensor"), load(&test, "ties_model"));
    assert_close(
        "sfa_once",
        &load(&test, "sfa_once"),
        &combine(&[&a, &b], |v| 0.25 * v[0] + 0.75 * v[1]),
    );
}

#[test]
fn merging_models_of_different_architectures_is_refused() {
    let test = Test::new().file(
        "mismatch.exp",
        r#"dataset d = digits
model small = mlp { hidden: [8] }
model wide = mlp { hidden: [16] }
train a { model: small, data: d, steps: 2 steps, optimizer: sgd { lr: 0.1 } }
train b { model: wide, data: d, steps: 2 steps, optimizer: sgd { lr: 0.1 } }
merge m = ties(a, b) { density: 0.5 }
"#,
    );
    let outcome = test.run_with(&["run", "mismatch.exp", "--out", "out", "--no-cache"]);
    assert_eq!(outcome.status, 1, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("node `m`"), "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("different architectures"),
        "{}",
        outcome.stderr
    );
}
