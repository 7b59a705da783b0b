//! Independent computations of the two conventions, written from the rules in the module doc
//! of `ties` as plain loops over `Vec<f64>`, sharing no code with the tensor implementation.

fn sign(value: f64) -> f64 {
    if value > 0.0 {
        1.0
    } else if value < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// mergekit 0.1.5's TIES on one tensor: keep exactly max(1, ⌊density·n⌋) entries of each task
/// vector by magnitude (the lower index first among equals), scale by the weights, elect +
/// where the weighted sum is ≥ 0, sum the weighted entries of the elected sign and divide by
/// their weights' sum (1 where that is 0), scale by lambda and add to the pre-trained tensor.
pub(super) fn mergekit_by_rule(
    pre: &[f64],
    finetuned: &[Vec<f64>],
    density: f64,
    lambda: f64,
    weights: &[f64],
    normalize: bool,
) -> Vec<f64> {
    let n = pre.len();
    let weighted: Vec<Vec<f64>> = finetuned
        .iter()
        .zip(weights)
        .map(|(tuned, &weight)| {
            let tau: Vec<f64> = (0..n).map(|i| tuned[i] - pre[i]).collect();
            let mut keep = vec![true; n];
            if density < 1.0 {
                let k = ((density * n as f64).floor() as usize).max(1);
                let mut order: Vec<usize> = (0..n).collect();
                order.sort_by(|&a, &b| tau[b].abs().total_cmp(&tau[a].abs()).then(a.cmp(&b)));
                keep = vec![false; n];
                for &i in order.iter().take(k) {
                    keep[i] = true;
                }
            }
            (0..n)
                .map(|i| if keep[i] { weight * tau[i] } else { 0.0 })
                .collect()
        })
        .collect();
    (0..n)
        .map(|i| {
            let total: f64 = weighted.iter().map(|row| row[i]).sum();
            let positive = total >= 0.0;
            let mut sum = 0.0;
            let mut weight_sum = 0.0;
            for (row, &weight) in weighted.iter().zip(weights) {
                let value = row[i];
                if (positive && value > 0.0) || (!positive && value < 0.0) {
                    sum += value;
                    weight_sum += weight;
                }
            }
            let merged = match (normalize, weight_sum == 0.0) {
                (true, false) => sum / weight_sum,
                _ => sum,
            };
            pre[i] + lambda * merged
        })
        .collect()
}

/// The paper's reference TIES over a model of several tensors (`pre[i]` is tensor i,
/// `finetuned[t][i]` tensor i of fine-tune t): flatten, keep the entries at least as large as
/// the (⌊density·n⌋ + 1)-th largest magnitude (all at density 1), elect the sign of the sum,
/// give zero signs the sign of the sum of all signs, average the entries of the elected sign
/// (positive where it is +, negative otherwise), scale by lambda and add to the pre-trained
/// model.
pub(super) fn paper_by_rule(
    pre: &[Vec<f64>],
    finetuned: &[Vec<Vec<f64>>],
    density: f64,
    lambda: f64,
    normalize: bool,
) -> Vec<Vec<f64>> {
    let flat_pre: Vec<f64> = pre.concat();
    let n = flat_pre.len();
    let trimmed: Vec<Vec<f64>> = finetuned
        .iter()
        .map(|model| {
            let tau: Vec<f64> = model
                .concat()
                .iter()
                .zip(&flat_pre)
                .map(|(tuned, pre)| tuned - pre)
                .collect();
            let m = (density * n as f64).floor() as usize;
            if m >= n {
                return tau;
            }
            let mut magnitudes: Vec<f64> = tau.iter().map(|value| value.abs()).collect();
            magnitudes.sort_by(|a, b| b.total_cmp(a));
            let threshold = magnitudes[m];
            tau.iter()
                .map(|&value| if value.abs() >= threshold { value } else { 0.0 })
                .collect()
        })
        .collect();
    let mut signs: Vec<f64> = (0..n)
        .map(|i| sign(trimmed.iter().map(|row| row[i]).sum()))
        .collect();
    let majority = sign(signs.iter().sum());
    for value in &mut signs {
        if *value == 0.0 {
            *value = majority;
        }
    }
    let merged: Vec<f64> = (0..n)
        .map(|i| {
            let agreeing: Vec<f64> = trimmed
                .iter()
                .map(|row| row[i])
                .filter(|&value| {
                    if signs[i] > 0.0 {
                        value > 0.0
                    } else {
                        value < 0.0
                    }
                })
                .collect();
            let sum: f64 = agreeing.iter().sum();
            let merged = if normalize {
                sum / agreeing.len().max(1) as f64
            } else {
                sum
            };
            flat_pre[i] + lambda * merged
        })
        .collect();
    let mut tensors = Vec::new();
    let mut start = 0;
    for tensor in pre {
        tensors.push(merged[start..start + tensor.len()].to_vec());
        start += tensor.len();
    }
    tensors
}
