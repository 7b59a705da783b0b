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
merge neg_a = task_arithmetic(pre, a) { lambda: -1.0 }
merge ties_paper = ties(pre, a, b) { density: 0.5, lambda: 0.8 }
merge ties_paper_sparse = ties(pre, a, b, neg_a) { density: 0.01, convention: "paper" }
merge ties_paper_full = ties(pre, a, neg_a) { density: 1.0, convention: "paper", normalize: false }
merge ties_mergekit = ties(pre, a, b) { density: 0.5, convention: "mergekit", weights: [0.7, 0.3] }
merge ties_mergekit_sparse = ties(pre, a, b, neg_a) { density: 0.01, lambda: 0.8, convention: "mergekit", weights: [1.0, 0.5, 2.0], normalize: false }
merge ties_mergekit_full = ties(pre, a, neg_a) { density: 1.0, convention: "mergekit" }
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

/// Sums in input order, in f32 like the merger, so a sum that cancels exactly here cancels
/// there too.
fn sum_in_order(values: impl IntoIterator<Item = f32>) -> f32 {
    values.into_iter().fold(0.0, |sum, value| sum + value)
}

/// TIES as the paper's reference code defines it, written from its rule: each task vector,
/// flattened over the whole model, keeps the entries whose magnitude reaches its
/// (⌊density·n⌋ + 1)-th largest (all of them at density 1); each coordinate elects the sign
/// of the sum of the trimmed entries, and a zero sign takes the model's majority (the sign of
/// the number of + coordinates minus the number of − ones); the entries of the elected sign
/// (positive where it is +, negative otherwise) are averaged, or summed without `normalize`;
/// θ = θ_pre + λ·merged.
fn ties_paper(
    pre: &Weights,
    tuned: &[&Weights],
    density: f64,
    lambda: f32,
    normalize: bool,
) -> Weights {
    let trimmed: Vec<Weights> = tuned
        .iter()
        .map(|weights| {
            let tau = combine(&[weights, pre], |v| v[0] - v[1]);
            let mut magnitudes: Vec<f32> = tau.values().flatten().map(|v| v.abs()).collect();
            let n = magnitudes.len();
            let m = (density * n as f64).floor() as usize;
            if m >= n {
                return tau;
            }
            magnitudes.sort_by(|a, b| b.total_cmp(a));
            let threshold = magnitudes[m];
            combine(
                &[&tau],
                |v| if v[0].abs() >= threshold { v[0] } else { 0.0 },
            )
        })
        .collect();
    let trimmed_refs: Vec<&Weights> = trimmed.iter().collect();
    let sums = combine(&trimmed_refs, |column| sum_in_order(column.iter().copied()));
    let positive = sums.values().flatten().filter(|&&sum| sum > 0.0).count();
    let negative = sums.values().flatten().filter(|&&sum| sum < 0.0).count();
    let majority = (positive as i64 - negative as i64).signum() as f32;
    let mut columns = trimmed_refs.clone();
    columns.push(&sums);
    let merged = combine(&columns, |column| {
        let (entries, sum) = column.split_at(column.len() - 1);
        let sign = match sum[0] {
            sum if sum > 0.0 => 1.0,
            sum if sum < 0.0 => -1.0,
            _ => majority,
        };
        let agreeing: Vec<f32> = entries
            .iter()
            .copied()
            .filter(|&v| if sign > 0.0 { v > 0.0 } else { v < 0.0 })
            .collect();
        let total = sum_in_order(agreeing.iter().copied());
        if normalize {
            total / agreeing.len().max(1) as f32
        } else {
            total
        }
    });
    combine(&[pre, &merged], |v| v[0] + lambda * v[1])
}

/// TIES as mergekit 0.1.5 defines it, written from its rule, one tensor at a time: each task
/// vector keeps exactly max(1, ⌊density·n⌋) entries of largest magnitude (the lower index
/// first among equals; all at density 1) and is multiplied by its weight; a coordinate's
/// elected sign is positive where the weighted sum is ≥ 0 and negative otherwise; the
/// weighted entries of that sign are summed and, with `normalize`, divided by their weights'
/// sum (by 1 where it is 0); θ = θ_pre + λ·merged.
fn ties_mergekit(
    pre: &Weights,
    tuned: &[&Weights],
    density: f64,
    lambda: f32,
    weights: &[f32],
    normalize: bool,
) -> Weights {
    pre.iter()
        .map(|(name, pre_values)| {
            let n = pre_values.len();
            let weighted: Vec<Vec<f32>> = tuned
                .iter()
                .zip(weights)
                .map(|(model, &weight)| {
                    let tau: Vec<f32> = (0..n).map(|i| model[name][i] - pre_values[i]).collect();
                    let mut keep = vec![true; n];
                    if density < 1.0 {
                        let k = ((density * n as f64).floor() as usize).max(1);
                        let mut order: Vec<usize> = (0..n).collect();
                        order.sort_by(|&a, &b| {
                            tau[b].abs().total_cmp(&tau[a].abs()).then(a.cmp(&b))
                        });
                        keep = vec![false; n];
                        for &i in order.iter().take(k) {
                            keep[i] = true;
                        }
                    }
                    (0..n)
                        .map(|i| if keep[i] { tau[i] * weight } else { 0.0 })
                        .collect()
                })
                .collect();
            let values = (0..n)
                .map(|i| {
                    let positive = sum_in_order(weighted.iter().map(|row| row[i])) >= 0.0;
                    let agreeing: Vec<(f32, f32)> = weighted
                        .iter()
                        .zip(weights)
                        .map(|(row, &weight)| (row[i], weight))
                        .filter(|&(v, _)| if positive { v > 0.0 } else { v < 0.0 })
                        .collect();
                    let mut merged = sum_in_order(agreeing.iter().map(|&(v, _)| v));
                    let divisor = sum_in_order(agreeing.iter().map(|&(_, weight)| weight));
                    if normalize {
                        merged /= if divisor == 0.0 { 1.0 } else { divisor };
                    }
                    pre_values[i] + lambda * merged
                })
                .collect();
            (name.clone(), values)
        })
        .collect()
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
        "sfa_once",
        &load(&test, "sfa_once"),
        &combine(&[&a, &b], |v| 0.25 * v[0] + 0.75 * v[1]),
    );
    assert_ties_conventions(&test, &pre, &a, &b);
}

/// TIES in both conventions, at densities 0.5, 0.01 and 1.0, with exact cancellations: `neg_a`
/// is `pre − (a − pre)`, so its task vector is exactly −τ_a wherever f32 represents
/// `pre − τ_a` (most coordinates, checked here).
fn assert_ties_conventions(test: &Test, pre: &Weights, a: &Weights, b: &Weights) {
    let neg_a = load(test, "neg_a");

    let tau_a = combine(&[a, pre], |v| v[0] - v[1]);
    let tau_neg = combine(&[&neg_a, pre], |v| v[0] - v[1]);
    let moved: Vec<(f32, f32)> = tau_a
        .values()
        .flatten()
        .zip(tau_neg.values().flatten())
        .map(|(&x, &y)| (x, y))
        .filter(|&(x, _)| x != 0.0)
        .collect();
    let cancelled = moved.iter().filter(|&&(x, y)| x + y == 0.0).count();
    assert!(
        cancelled * 2 > moved.len(),
        "only {cancelled} of {} moved coordinates cancel exactly",
        moved.len()
    );

    let cases: [(&str, Weights); 6] = [
        ("ties_paper", ties_paper(pre, &[a, b], 0.5, 0.8, true)),
        (
            "ties_paper_sparse",
            ties_paper(pre, &[a, b, &neg_a], 0.01, 1.0, true),
        ),
        (
            "ties_paper_full",
            ties_paper(pre, &[a, &neg_a], 1.0, 1.0, false),
        ),
        (
            "ties_mergekit",
            ties_mergekit(pre, &[a, b], 0.5, 1.0, &[0.7, 0.3], true),
        ),
        (
            "ties_mergekit_sparse",
            ties_mergekit(pre, &[a, b, &neg_a], 0.01, 0.8, &[1.0, 0.5, 2.0], false),
        ),
        (
            "ties_mergekit_full",
            ties_mergekit(pre, &[a, &neg_a], 1.0, 1.0, &[1.0, 1.0], true),
        ),
    ];
    for (node, expected) in &cases {
        assert_close(node, &load(test, node), expected);
    }
    assert_ne!(load(test, "ties_paper"), load(test, "ties_mergekit"));

    // Where τ_a and τ_neg cancel exactly, mergekit elects + and keeps τ_a's or τ_neg's positive
    // entry, so the merge moves each such coordinate by |τ_a|.
    let full = load(test, "ties_mergekit_full");
    for (name, values) in &full {
        for (i, value) in values.iter().enumerate() {
            let (x, y) = (tau_a[name][i], tau_neg[name][i]);
            if x + y == 0.0 {
                assert_eq!(*value, pre[name][i] + x.abs(), "`{name}`[{i}]");
            }
        }
    }
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

/// A merge that lists one input twice once deadlocked (each input's weights were locked in
/// turn, and a lock cannot be taken twice), as did two merges taking the same inputs in
/// opposite orders under `--jobs 2`. Both must finish, with the merge computed as written.
#[test]
fn a_merge_may_list_an_input_twice_and_merges_may_share_inputs_in_any_order() {
    let file = r#"dataset d = digits
model net = mlp { hidden: [8] }
train pre { model: net, data: d, steps: 3 steps, optimizer: sgd { lr: 0.5 } }
train a { model: pre, data: d, steps: 3 steps, seed: 1, optimizer: sgd { lr: 0.5 } }
train b { model: pre, data: d, steps: 3 steps, seed: 2, optimizer: sgd { lr: 0.5 } }
merge dup = average(a, a)
merge dup_ties = ties(pre, a, a) { density: 0.5 }
merge dup_wise = wise_ft(a, a) { alpha: 0.3 }
merge forward = average(a, b)
merge backward = average(b, a)
merge weighted = average(a, a, b)
"#;
    let test = Test::new().file("dup.exp", file);
    let outcome = test.run_within(
        120,
        &[
            "run",
            "dup.exp",
            "--out",
            "out",
            "--jobs",
            "2",
            "--no-cache",
        ],
    );
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    let (a, b) = (load(&test, "a"), load(&test, "b"));
    // Averaging a model with itself, or interpolating it with itself, gives it back.
    assert_close("dup", &load(&test, "dup"), &a);
    assert_close("dup_wise", &load(&test, "dup_wise"), &a);
    assert_close(
        "forward",
        &load(&test, "forward"),
        &combine(&[&a, &b], |v| (v[0] + v[1]) / 2.0),
    );
    assert_close(
        "backward",
        &load(&test, "backward"),
        &load(&test, "forward"),
    );
    assert_close(
        "weighted",
        &load(&test, "weighted"),
        &combine(&[&a, &a, &b], |v| (v[0] + v[1] + v[2]) / 3.0),
    );
    assert!(test.path("out/checkpoints/dup_ties.safetensors").exists());
}

/// A sequence that merges after each task: over the previous model, the next task starts from
/// the merge; over the fine-tunes, every task starts from the start and the merge after task i
/// is that of the start with the fine-tunes of tasks 1..i, as computed here from them.
#[test]
fn a_sequence_merges_after_each_task_as_its_merge_over_says() {
    let file = r#"import std.continual
model net = mlp { hidden: [8] }
train pre { model: net, data: digits, steps: 5 steps, optimizer: adamw { lr: 0.01 } }
sequence wise { model: pre, tasks: [rotated, permuted, inverted], steps: 3 steps, optimizer: sgd { lr: 0.5 }, merge: wise_ft { alpha: 0.5 } }
sequence vectors { model: pre, tasks: [rotated, permuted, inverted], steps: 3 steps, optimizer: sgd { lr: 0.5 }, merge: task_arithmetic { lambda: 0.5 }, merge_over: "fine_tunes" }
"#;
    let test = Test::new()
        .file("seq.exp", file)
        .args(["run", "seq.exp", "--out", "out"]);
    let outcome = test.run();
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    let pre = load(&test, "pre");

    // Over the previous model: merge_i = (prev + task_i) / 2, and task_i started from prev.
    let mut previous = pre.clone();
    for task in 1..=3 {
        let trained = load(&test, &format!("wise.task{task}"));
        let merged = load(&test, &format!("wise.merge{task}"));
        assert_close(
            &format!("wise.merge{task}"),
            &merged,
            &combine(&[&previous, &trained], |v| 0.5 * v[0] + 0.5 * v[1]),
        );
        previous = merged;
    }

    // Over the fine-tunes: merge_i = pre + 0.5·Σ_{j ≤ i} (task_j − pre).
    let tuned: Vec<Weights> = (1..=3)
        .map(|task| load(&test, &format!("vectors.task{task}")))
        .collect();
    for task in 1..=3 {
        let mut inputs: Vec<&Weights> = vec![&pre];
        inputs.extend(tuned[..task].iter());
        let expected = combine(&inputs, |v| {
            v[0] + 0.5 * v[1..].iter().map(|x| x - v[0]).sum::<f32>()
        });
        assert_close(
            &format!("vectors.merge{task}"),
            &load(&test, &format!("vectors.merge{task}")),
            &expected,
        );
    }
    // The merge after the third task holds the start and three fine-tunes: three copies
    // beside the live model, as the summary reports; WiSE-FT holds one.
    let metrics = std::fs::read_to_string(test.path("out/metrics.jsonl")).unwrap();
    let copies = |node: &str| -> f64 {
        metrics
            .lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
            .find(|line| line["node"] == node && line["name"] == "param_copies")
            .unwrap_or_else(|| panic!("{node} reports no param_copies"))["value"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(copies("vectors"), 3.0);
    assert_eq!(copies("wise"), 1.0);
}
