//! `ties`: TIES-merging (Yadav et al., 2023). Inputs in order: the pre-trained model θ_pre, then
//! one fine-tune of it per task, each giving a task vector τ_t = θ_t − θ_pre.
//!
//! 1. Trim: keep the `density` fraction of each τ_t with the largest magnitudes, zero the rest.
//!    With `scope = "model"` the top-k runs over the whole flattened model (as in the paper),
//!    with `scope = "tensor"` over each tensor on its own (as mergekit does). k is
//!    round(density·n), at least 1, and every entry whose magnitude is at least the k-th largest
//!    is kept, so ties at the threshold may keep a few more than k.
//! 2. Elect: per coordinate, the sign of the sum of the trimmed task vectors.
//! 3. Disjoint mean: per coordinate, the mean of the trimmed entries whose sign is the elected
//!    one. A coordinate whose elected sign is zero (no entry survived trimming, or the survivors
//!    cancel exactly) gets 0: nothing agrees with "no direction". The reference implementation
//!    instead gives such coordinates the majority sign of the whole model.
//! 4. θ = θ_pre + λ·merged.
//!
//! `merge` treats its one tensor as the whole model, so it equals `merge_model` in either scope
//! for a model of one tensor.

use exp_plugin_api::sdk::{Choice, Component, Config, Context, Merger, PluginError, Result};
use exp_plugin_api::tch::{no_grad, Tensor};

use super::same_shapes;

/// Where trimming takes its top-k: the whole flattened model (the paper) or each tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Choice)]
pub enum Scope {
    Model,
    Tensor,
}

#[derive(Debug, Clone, Config)]
pub struct TiesConfig {
    /// fraction of each task vector kept, by magnitude
    #[param(default = 0.2, above = 0.0, max = 1.0)]
    pub density: f64,
    /// scale of the merged task vector
    #[param(default = 1.0)]
    pub lambda: f64,
    /// trim over the whole model (the paper) or each tensor (mergekit)
    #[param(default = "model")]
    pub scope: Scope,
}

pub struct Ties {
    density: f64,
    lambda: f64,
    scope: Scope,
}

impl Component for Ties {
    type Config = TiesConfig;
    const NAME: &'static str = "ties";
    const VERSION: &'static str = "1";
    const DOC: &'static str =
        "TIES-merging: trim each task vector to its largest entries, elect a \
                               sign per coordinate, average the entries that agree; inputs are the \
                               pre-trained model then its fine-tunes";

    fn create(config: TiesConfig, _context: &Context) -> Result<Self> {
        Ok(Ties {
            density: config.density,
            lambda: config.lambda,
            scope: config.scope,
        })
    }
}

impl Ties {
    /// TIES over `tensors` taken together as one model: one trimming threshold per task vector.
    fn ties(&self, tensors: &[(String, Vec<Tensor>)]) -> Result<Vec<Tensor>> {
        for (name, inputs) in tensors {
            if inputs.len() < 2 {
                return Err(PluginError::new(format!(
                    "ties needs the pre-trained model and at least one fine-tune, got {} model(s)",
                    inputs.len()
                )));
            }
            same_shapes(name, inputs)?;
        }
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
            let n_tasks = tensors.first().map_or(0, |(_, inputs)| inputs.len() - 1);
            let thresholds = (0..n_tasks)
                .map(|task| {
                    let flat = task_vectors
                        .iter()
                        .map(|per_task| per_task[task].f_abs()?.f_flatten(0, -1))
                        .collect::<Result<Vec<_>, _>>()?;
                    self.threshold(&Tensor::f_cat(&flat, 0)?)
                })
                .collect::<Result<Vec<_>>>()?;
            tensors
                .iter()
                .zip(&task_vectors)
                .map(|((_, inputs), per_task)| {
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
                    let stacked = Tensor::f_stack(&trimmed, 0)?;
                    let elected = stacked
                        .f_sum_dim_intlist(0, false, stacked.kind())?
                        .f_sign()?;
                    let agrees = stacked
                        .f_sign()?
                        .f_eq_tensor(&elected)?
                        .f_logical_and(&elected.f_ne(0.0)?)?;
                    let kept = stacked.f_where_scalarother(&agrees, 0.0)?;
                    let count = agrees
                        .f_sum_dim_intlist(0, false, stacked.kind())?
                        .f_clamp_min(1.0)?;
                    let merged = kept
                        .f_sum_dim_intlist(0, false, stacked.kind())?
                        .f_div(&count)?;
                    Ok(inputs[0].f_add(&merged.f_mul_scalar(self.lambda)?)?)
                })
                .collect()
        })
    }

    /// The k-th largest of `magnitudes` (k = round(density·n), at least 1), or `None` for an
    /// empty model.
    fn threshold(&self, magnitudes: &Tensor) -> Result<Option<Tensor>> {
        let n = magnitudes.numel() as i64;
        if n == 0 {
            return Ok(None);
        }
        let k = ((self.density * n as f64).round() as i64).clamp(1, n);
        let (value, _) = magnitudes.f_kthvalue(n - k + 1, 0, false)?;
        Ok(Some(value))
    }
}

impl Merger for Ties {
    fn merge(&self, name: &str, inputs: &[Tensor]) -> Result<Tensor> {
        let mut merged = self.ties(&[(
            name.to_string(),
            inputs.iter().map(Tensor::shallow_clone).collect(),
        )])?;
        Ok(merged.remove(0))
    }

    fn merge_model(&self, tensors: &[(String, Vec<Tensor>)]) -> Result<Vec<Tensor>> {
        match self.scope {
            Scope::Model => self.ties(tensors),
            Scope::Tensor => tensors
                .iter()
                .map(|(name, inputs)| self.merge(name, inputs))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::Merger;
    use exp_plugin_api::tch::Tensor;

    use super::{Scope, Ties};

    fn t(values: &[f32]) -> Tensor {
        Tensor::from_slice(values)
    }

    fn values(tensor: &Tensor) -> Vec<f32> {
        Vec::<f32>::try_from(tensor).unwrap()
    }

    /// A pre-trained model of two tensors, `a` (3 entries) and `b` (2), all zero, so each
    /// fine-tune is its own task vector:
    ///   τ_1 = a [4, −1, 0.5]  b [3, −2]
    ///   τ_2 = a [−2, 2, 1]    b [−1, 0.5]
    fn two_tasks() -> Vec<(String, Vec<Tensor>)> {
        vec![
            (
                "a".into(),
                vec![
                    t(&[0.0, 0.0, 0.0]),
                    t(&[4.0, -1.0, 0.5]),
                    t(&[-2.0, 2.0, 1.0]),
                ],
            ),
            (
                "b".into(),
                vec![t(&[0.0, 0.0]), t(&[3.0, -2.0]), t(&[-1.0, 0.5])],
            ),
        ]
    }

    /// density 0.4 over the whole model (5 entries): k = 2 per task vector.
    ///   τ_1 keeps 4 (a[0]) and 3 (b[0]); τ_2 keeps −2 (a[0]) and 2 (a[1]).
    ///   a[0]: sum 4 − 2 = 2 > 0, only 4 agrees → 4;  a[1]: only τ_2's 2 → 2;  a[2] → 0.
    ///   b[0]: only τ_1's 3 → 3;  b[1]: nothing survived, elected sign 0 → 0.
    /// λ = 0.5 halves it all: a [2, 1, 0], b [1.5, 0].
    #[test]
    fn model_scope_trims_over_the_whole_model() {
        let ties = Ties {
            density: 0.4,
            lambda: 0.5,
            scope: Scope::Model,
        };
        let merged = ties.merge_model(&two_tasks()).unwrap();
        assert_eq!(values(&merged[0]), vec![2.0, 1.0, 0.0]);
        assert_eq!(values(&merged[1]), vec![1.5, 0.0]);
    }

    /// density 0.4 per tensor: a (3 entries) keeps round(1.2) = 1, b (2 entries) keeps
    /// round(0.8) = 1.
    ///   a: τ_1 keeps 4; τ_2 keeps −2 and 2 (a tie at the threshold 2: both kept).
    ///      a[0]: 4 − 2 = 2 > 0 → 4;  a[1]: 2 → 2;  a[2] → 0.
    ///   b: τ_1 keeps 3; τ_2 keeps −1.  b[0]: 3 − 1 = 2 > 0 → 3;  b[1] → 0.
    /// λ = 1: a [4, 2, 0], b [3, 0]. Adding 1 to the pre-trained model shifts it all by 1.
    #[test]
    fn tensor_scope_trims_each_tensor_and_keeps_threshold_ties() {
        let ties = Ties {
            density: 0.4,
            lambda: 1.0,
            scope: Scope::Tensor,
        };
        let merged = ties.merge_model(&two_tasks()).unwrap();
        assert_eq!(values(&merged[0]), vec![4.0, 2.0, 0.0]);
        assert_eq!(values(&merged[1]), vec![3.0, 0.0]);

        let shifted: Vec<(String, Vec<Tensor>)> = two_tasks()
            .into_iter()
            .map(|(name, inputs)| (name, inputs.iter().map(|x| x + 1.0).collect()))
            .collect();
        let merged = ties.merge_model(&shifted).unwrap();
        assert_eq!(values(&merged[0]), vec![5.0, 3.0, 1.0]);
        assert_eq!(values(&merged[1]), vec![4.0, 1.0]);
    }

    /// Full density, three tasks, so only sign election and the disjoint mean act:
    ///   τ_1 = [1, 2, −1], τ_2 = [3, −4, 1], τ_3 = [−1, −2, 0]
    ///   [0]: sum 3 > 0, agreeing 1 and 3 → mean 2
    ///   [1]: sum −4 < 0, agreeing −4 and −2 → mean −3
    ///   [2]: sum 0, elected sign 0 → 0
    #[test]
    fn disjoint_mean_of_the_agreeing_entries() {
        let ties = Ties {
            density: 1.0,
            lambda: 1.0,
            scope: Scope::Model,
        };
        let merged = ties
            .merge(
                "w",
                &[
                    t(&[0.0, 0.0, 0.0]),
                    t(&[1.0, 2.0, -1.0]),
                    t(&[3.0, -4.0, 1.0]),
                    t(&[-1.0, -2.0, 0.0]),
                ],
            )
            .unwrap();
        assert_eq!(values(&merged), vec![2.0, -3.0, 0.0]);
    }

    #[test]
    fn refuses_a_lone_model_and_mismatched_shapes() {
        let ties = Ties {
            density: 0.5,
            lambda: 1.0,
            scope: Scope::Model,
        };
        let error = ties.merge("w", &[t(&[1.0])]).unwrap_err();
        assert!(error.message.contains("at least one"), "{}", error.message);
        let error = ties
            .merge("layers.0.bias", &[t(&[1.0]), t(&[1.0, 2.0])])
            .unwrap_err();
        assert!(error.message.contains("layers.0.bias"), "{}", error.message);
    }
}
