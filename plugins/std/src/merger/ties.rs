//! `ties`: TIES-merging (Yadav et al., 2023). Inputs in order: the pre-trained model θ_pre, then
//! one fine-tune of it per task, each giving a task vector τ_t = θ_t − θ_pre.
//!
//! The method trims each task vector to its largest entries, elects a sign per coordinate and
//! averages the trimmed entries that agree with it. Its two published implementations differ
//! in how many entries a trim keeps, what a zero elected sign means and how the mean divides,
//! and those details change the merged weights. So `convention` names one implementation and
//! this module reproduces it exactly, rather than a blend of the two.
//!
//! `paper` (the default) is the authors' reference code, `ties_merging` in
//! `src/ties_minimal.ipynb` of github.com/prateeky2806/ties-merging (the same functions are in
//! `src/utils/merge_utils.py`):
//! 1. Trim over the whole model: each τ_t is flattened across all tensors. With n entries and
//!    m = ⌊density·n⌋, it keeps every entry whose magnitude is at least the (m + 1)-th largest:
//!    m + 1 entries, plus any tied with the last one. (The code asks `kthvalue` for the
//!    (n − m)-th smallest magnitude and keeps `|τ| >= it`.) So m = 0 keeps the largest entry.
//!    At density 1, m = n, and the reference code fails (`kthvalue(0)`); here it keeps all.
//! 2. Elect: γ = sign(Σ_t trimmed τ_t), the sign of the summed values ("mass"). A coordinate
//!    with γ = 0 (no entry survived, or the survivors cancel exactly) takes the majority sign
//!    of the model: the sign of Σ γ over every coordinate, that is, whether more coordinates
//!    elected + than −. If that is 0 too, γ stays 0, and step 3 treats it as negative,
//!    because the code keeps positive entries where γ > 0 and negative ones everywhere else.
//! 3. Disjoint mean: per coordinate, the sum of the trimmed entries with the elected sign,
//!    divided by how many there are (at least 1). `normalize: false` keeps the sum, the
//!    reference code's `dis-sum`. There are no per-model weights.
//! 4. θ = θ_pre + λ·merged.
//!
//! `mergekit` is mergekit 0.1.5's `ties` (`magnitude` in `mergekit/sparsify.py`, then
//! `GeneralizedTaskArithmeticMerge.merge_group` and `get_mask` in
//! `mergekit/merge_methods/generalized_task_arithmetic.py`), one tensor at a time:
//! 1. Trim each tensor on its own: keep exactly k = max(1, ⌊density·n⌋) of its n entries, the
//!    largest magnitudes (density 1 keeps all). mergekit takes the first k of an unstable
//!    argsort, so which of several equal magnitudes at the cut it keeps is not specified (on
//!    CPU, small tensors keep the lower index). Here the lower flat index always wins.
//! 2. Weight: each trimmed τ_t is multiplied by its weight w_t (`weights`, 1 each by default).
//! 3. Elect: + where Σ_t w_t·τ_t ≥ 0, − where it is negative: a zero sum counts as positive.
//! 4. Merge: the sum of the weighted entries whose sign equals the elected one (a zero entry
//!    never does). With `normalize` (the default) it is divided by the sum of those entries'
//!    weights, or by 1 where that sum is 0.
//! 5. θ = θ_pre + λ·merged, in θ_pre's dtype.
//!
//! Both compute in the tensors' own dtype, as the two implementations do.

use exp_plugin_api::sdk::{Choice, Component, Config, Context, Merger, PluginError, Result};
use exp_plugin_api::tch::{no_grad, Kind, TchError, Tensor};

use super::same_shapes;

/// Which published implementation of TIES to reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Choice)]
pub enum Convention {
    /// The paper's reference code: trim over the whole model, keep ⌊density·n⌋ + 1 entries and
    /// every tie, zero signs resolved by the model's majority sign.
    Paper,
    /// mergekit 0.1.5: trim each tensor to exactly max(1, ⌊density·n⌋) entries, per-model
    /// weights, a zero summed sign counts as positive.
    Mergekit,
}

#[derive(Debug, Clone, Config)]
pub struct TiesConfig {
    /// fraction of each task vector kept, by magnitude
    #[param(default = 0.2, above = 0.0, max = 1.0)]
    pub density: f64,
    /// scale of the merged task vector
    #[param(default = 1.0)]
    pub lambda: f64,
    /// the paper's reference code (trim over the whole model, keep ⌊density·n⌋ + 1 and ties,
    /// zero signs take the majority sign) or mergekit 0.1.5 (trim each tensor to
    /// max(1, ⌊density·n⌋), a zero sum counts as +)
    #[param(default = "paper")]
    pub convention: Convention,
    /// mergekit only: one weight per fine-tune, in input order (empty: 1 each)
    #[param(default = [])]
    pub weights: Vec<f64>,
    /// divide the agreeing entries' sum by their count (paper) or summed weights (mergekit);
    /// false keeps the sum
    #[param(default = true)]
    pub normalize: bool,
}

pub struct Ties {
    density: f64,
    lambda: f64,
    convention: Convention,
    /// One per fine-tune, or empty for 1 each.
    weights: Vec<f64>,
    normalize: bool,
}

impl Component for Ties {
    type Config = TiesConfig;
    const NAME: &'static str = "ties";
    // 2: the two published conventions, reproduced exactly (`convention` replaces `scope`).
    const VERSION: &'static str = "2";
    const DOC: &'static str =
        "TIES-merging: trim each task vector to its largest entries, elect a \
                               sign per coordinate, average the entries that agree; inputs are the \
                               pre-trained model then its fine-tunes";

    fn check(config: &TiesConfig) -> Result<()> {
        if !config.lambda.is_finite() {
            return Err(PluginError::in_field(
                "lambda",
                format!("`lambda` must be a finite number, got {}", config.lambda),
            ));
        }
        if let Some(weight) = config.weights.iter().find(|weight| !weight.is_finite()) {
            return Err(PluginError::in_field(
                "weights",
                format!("`weights` must be finite numbers, got {weight}"),
            ));
        }
        // The reference code has no per-model weights; accepting them would silently describe
        // a method that neither source implements.
        if config.convention == Convention::Paper
            && config.weights.iter().any(|&weight| weight != 1.0)
        {
            return Err(PluginError::in_field(
                "weights",
                "`weights` needs `convention: \"mergekit\"`: the paper's reference code has no \
                 per-model weights",
            ));
        }
        Ok(())
    }

    fn create(config: TiesConfig, _context: &Context) -> Result<Self> {
        Ok(Ties {
            density: config.density,
            lambda: config.lambda,
            convention: config.convention,
            weights: config.weights,
            normalize: config.normalize,
        })
    }
}

impl Merger for Ties {
    /// One tensor on its own: under `paper` it is the whole model that the trim and the
    /// majority sign run over.
    fn merge(&self, name: &str, inputs: &[Tensor]) -> Result<Tensor> {
        let mut merged = self.merge_model(&[(
            name.to_string(),
            inputs.iter().map(Tensor::shallow_clone).collect(),
        )])?;
        Ok(merged.remove(0))
    }

    fn merge_model(&self, tensors: &[(String, Vec<Tensor>)]) -> Result<Vec<Tensor>> {
        ties(
            self.convention,
            tensors,
            self.density,
            self.lambda,
            &self.weights,
            self.normalize,
        )
    }
}

/// TIES over a whole model: for each tensor name, that tensor of the pre-trained model and of
/// every fine-tune, in input order. `weights` is empty (1 each) or has one per fine-tune and
/// must be all 1 under `Convention::Paper`.
pub fn ties(
    convention: Convention,
    tensors: &[(String, Vec<Tensor>)],
    density: f64,
    lambda: f64,
    weights: &[f64],
    normalize: bool,
) -> Result<Vec<Tensor>> {
    let n_finetunes = check_inputs(tensors, weights)?;
    match convention {
        Convention::Paper => ties_paper(tensors, density, lambda, normalize)
            .map_err(|error| PluginError::new(format!("ties (paper convention): {error}"))),
        Convention::Mergekit => {
            let weights = if weights.is_empty() {
                vec![1.0; n_finetunes]
            } else {
                weights.to_vec()
            };
            tensors
                .iter()
                .map(|(name, inputs)| {
                    ties_mergekit(
                        &inputs[0],
                        &inputs[1..],
                        density,
                        lambda,
                        &weights,
                        normalize,
                    )
                    .map_err(|error| {
                        PluginError::new(format!(
                            "ties (mergekit convention) on tensor `{name}` of shape {:?}: {error}",
                            inputs[0].size()
                        ))
                    })
                })
                .collect()
        }
    }
}

/// Refuses a model without fine-tunes, shapes that differ and a `weights` list of the wrong
/// length; returns the number of fine-tunes.
fn check_inputs(tensors: &[(String, Vec<Tensor>)], weights: &[f64]) -> Result<usize> {
    let Some((first_name, first_inputs)) = tensors.first() else {
        return Ok(0);
    };
    for (name, inputs) in tensors {
        if inputs.len() < 2 {
            return Err(PluginError::new(format!(
                "ties needs the pre-trained model and at least one fine-tune, got {}",
                count(inputs.len(), "model")
            )));
        }
        if inputs.len() != first_inputs.len() {
            return Err(PluginError::new(format!(
                "tensor `{name}` comes from {} but `{first_name}` from {}",
                count(inputs.len(), "model"),
                first_inputs.len()
            )));
        }
        same_shapes(name, inputs)?;
    }
    let n_finetunes = first_inputs.len() - 1;
    if !weights.is_empty() && weights.len() != n_finetunes {
        return Err(PluginError::in_field(
            "weights",
            format!(
                "`weights` has {} but there {}: give one per fine-tune, in input order, or none",
                count(weights.len(), "number"),
                match n_finetunes {
                    1 => "is 1 fine-tune".to_string(),
                    n => format!("are {n} fine-tunes"),
                }
            ),
        ));
    }
    Ok(n_finetunes)
}

/// English plurals for counts in messages: `count(3, "model")` is "3 models".
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// TIES as the paper's reference code computes it (see the module doc), over all of
/// `tensors` as one model. Each entry holds the pre-trained tensor, then one per fine-tune,
/// all of one shape and as many for every name (`ties` checks this first).
pub fn ties_paper(
    tensors: &[(String, Vec<Tensor>)],
    density: f64,
    lambda: f64,
    normalize: bool,
) -> Result<Vec<Tensor>, TchError> {
    let Some((_, first_inputs)) = tensors.first() else {
        return Ok(Vec::new());
    };
    let n_tasks = first_inputs.len() - 1;
    no_grad(|| {
        // task_vectors[i][t]: tensor i of task t.
        let task_vectors = tensors
            .iter()
            .map(|(_, inputs)| {
                inputs[1..]
                    .iter()
                    .map(|finetuned| finetuned.f_sub(&inputs[0]))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        // One trimming threshold per task vector, over its whole flattened model.
        let thresholds = (0..n_tasks)
            .map(|task| {
                let magnitudes = task_vectors
                    .iter()
                    .map(|per_task| per_task[task].f_abs()?.f_flatten(0, -1))
                    .collect::<Result<Vec<_>, _>>()?;
                paper_threshold(&Tensor::f_cat(&magnitudes, 0)?, density)
            })
            .collect::<Result<Vec<_>, _>>()?;
        // stacked[i]: the trimmed task vectors of tensor i, stacked along a new first dim.
        let stacked = task_vectors
            .iter()
            .map(|per_task| {
                let trimmed = per_task
                    .iter()
                    .zip(&thresholds)
                    .map(|(tau, threshold)| match threshold {
                        Some(threshold) => {
                            tau.f_where_scalarother(&tau.f_abs()?.f_ge_tensor(threshold)?, 0.0)
                        }
                        None => Ok(tau.shallow_clone()),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Tensor::f_stack(&trimmed, 0)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let elected = stacked
            .iter()
            .map(|trimmed| {
                trimmed
                    .f_sum_dim_intlist(0, false, trimmed.kind())?
                    .f_sign()
            })
            .collect::<Result<Vec<_>, _>>()?;
        // The majority sign: more coordinates elected + than −, or the reverse, or a tie (0).
        // Counted in integers, so it is exact for any model size; the reference code sums the
        // signs in the model's dtype, which agrees unless the two counts differ by less than
        // that dtype's rounding of them (beyond 2^24 coordinates in float32).
        let mut balance = 0i64;
        for signs in &elected {
            balance += signs.f_gt(0.0)?.f_sum(Kind::Int64)?.f_int64_value(&[])?;
            balance -= signs.f_lt(0.0)?.f_sum(Kind::Int64)?.f_int64_value(&[])?;
        }
        let majority = balance.signum() as f64;
        tensors
            .iter()
            .zip(stacked.iter().zip(&elected))
            .map(|((_, inputs), (trimmed, signs))| {
                let signs = signs.f_masked_fill(&signs.f_eq(0.0)?, majority)?;
                // Positive entries where the sign is +, negative ones everywhere else (also
                // where it stayed 0), as the reference code's `torch.where(sign > 0, ...)`.
                let agrees = trimmed
                    .f_gt(0.0)?
                    .f_where_self(&signs.f_gt(0.0)?, &trimmed.f_lt(0.0)?)?;
                let kept = trimmed.f_where_scalarother(&agrees, 0.0)?;
                let mut merged = kept.f_sum_dim_intlist(0, false, kept.kind())?;
                if normalize {
                    let count = agrees
                        .f_sum_dim_intlist(0, false, kept.kind())?
                        .f_clamp_min(1.0)?;
                    merged = merged.f_div(&count)?;
                }
                inputs[0].f_add(&merged.f_mul_scalar(lambda)?)
            })
            .collect()
    })
}

/// The reference code's trimming threshold for one flattened task vector's magnitudes: the
/// (m + 1)-th largest, m = ⌊density·n⌋, which every kept entry reaches; `None` keeps all.
fn paper_threshold(magnitudes: &Tensor, density: f64) -> Result<Option<Tensor>, TchError> {
    let n = magnitudes.numel() as i64;
    // `int(d * K)` in the reference: the product in f64, truncated.
    let m = (density * n as f64) as i64;
    if m >= n {
        return Ok(None);
    }
    let (value, _) = magnitudes.f_kthvalue(n - m, 0, false)?;
    Ok(Some(value))
}

/// TIES on one tensor as mergekit 0.1.5 computes it (see the module doc). The fine-tunes have
/// `pre`'s shape and `weights` has one weight per fine-tune (`ties` checks both first).
pub fn ties_mergekit(
    pre: &Tensor,
    finetuned: &[Tensor],
    density: f64,
    lambda: f64,
    weights: &[f64],
    normalize: bool,
) -> Result<Tensor, TchError> {
    no_grad(|| {
        let kind = pre.kind();
        let trimmed = finetuned
            .iter()
            .map(|tuned| keep_top_k(&tuned.f_sub(pre)?, density))
            .collect::<Result<Vec<_>, _>>()?;
        // The weights as a tensor of the inputs' dtype, shaped to scale each stacked row.
        let weight_shape: Vec<i64> = std::iter::once(weights.len() as i64)
            .chain(std::iter::repeat_n(1, pre.dim()))
            .collect();
        let weights = Tensor::f_from_slice(weights)?
            .f_to_kind(kind)?
            .f_to_device(pre.device())?
            .f_view(weight_shape.as_slice())?;
        let weighted = Tensor::f_stack(&trimmed, 0)?.f_mul(&weights)?;
        // +1 where the weighted sum is ≥ 0, −1 where it is negative.
        let elected = weighted
            .f_sum_dim_intlist(0, false, kind)?
            .f_ge(0.0)?
            .f_to_kind(kind)?
            .f_mul_scalar(2.0)?
            .f_sub_scalar(1.0)?;
        // sign() of a zero entry is 0, which never equals ±1.
        let agrees = weighted.f_sign()?.f_eq_tensor(&elected)?.f_to_kind(kind)?;
        let mut merged = weighted.f_mul(&agrees)?.f_sum_dim_intlist(0, false, kind)?;
        if normalize {
            let divisor = weights.f_mul(&agrees)?.f_sum_dim_intlist(0, false, kind)?;
            let divisor = divisor.f_masked_fill(&divisor.f_eq(0.0)?, 1.0)?;
            merged = merged.f_div(&divisor)?;
        }
        if lambda != 1.0 {
            merged = merged.f_mul_scalar(lambda)?;
        }
        pre.f_add(&merged)?.f_to_kind(kind)
    })
}

/// mergekit's `magnitude` sparsification: exactly max(1, ⌊density·n⌋) entries of largest
/// magnitude survive, the lower flat index first among equal magnitudes; density 1 keeps all.
fn keep_top_k(tau: &Tensor, density: f64) -> Result<Tensor, TchError> {
    let n = tau.numel();
    if density >= 1.0 || n == 0 {
        return Ok(tau.shallow_clone());
    }
    // `max(1, int(density * tensor.numel()))` in mergekit: the product in f64, truncated.
    let k = ((density * n as f64) as i64).max(1);
    let magnitudes = tau.f_abs()?.f_flatten(0, -1)?;
    let largest = magnitudes
        .f_argsort_stable(true, 0, true)?
        .f_narrow(0, 0, k)?;
    let mask = magnitudes
        .f_zeros_like()?
        .f_scatter_value(0, &largest, 1.0)?
        .f_view_as(tau)?;
    tau.f_mul(&mask)
}

#[cfg(test)]
mod tests;
