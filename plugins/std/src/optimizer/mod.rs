//! Optimizers. Each updates parameters in place, under no-grad, from their `.grad`; parameters
//! without a gradient (frozen, or unused in the loss) are skipped.
pub mod adamw;
pub mod sgd;

use exp_plugin_api::sdk::{PluginError, Result, SavedState};
use exp_plugin_api::tch::Tensor;

/// Reads per-parameter state saved as tensors named `<slot>.<index>` (`velocity.0`, `m.3`) with
/// `n_params` in the saved data: one vector per slot, `None` where a parameter had no state.
pub(crate) fn indexed_slots(
    optimizer: &str,
    state: SavedState,
    slots: &[&str],
) -> Result<Vec<Vec<Option<Tensor>>>> {
    let n_params = state.data["n_params"]
        .as_u64()
        .ok_or_else(|| PluginError::new(format!("saved {optimizer} state lacks `n_params`")))?
        as usize;
    let mut found: Vec<Vec<Option<Tensor>>> = slots
        .iter()
        .map(|_| (0..n_params).map(|_| None).collect())
        .collect();
    for (name, tensor) in state.tensors {
        let unexpected =
            || PluginError::new(format!("unexpected saved {optimizer} tensor `{name}`"));
        let (slot, index) = name.split_once('.').ok_or_else(unexpected)?;
        let slot = slots
            .iter()
            .position(|known| *known == slot)
            .ok_or_else(unexpected)?;
        let index: usize = index
            .parse()
            .ok()
            .filter(|index| *index < n_params)
            .ok_or_else(unexpected)?;
        found[slot][index] = Some(tensor.copy());
    }
    Ok(found)
}

/// What the optimizer tests share: steps on the loss Σθ² (gradient 2θ), whose updates are easy
/// to compute by hand, and the comparison with those values.
#[cfg(test)]
pub(crate) mod test_support {
    use exp_plugin_api::sdk::Optimizer;
    use exp_plugin_api::tch::{Kind, Tensor};

    pub fn step_on_sum_of_squares(optimizer: &mut impl Optimizer, theta: &Tensor) {
        let loss = (theta * theta).sum(Kind::Double);
        let mut param = theta.shallow_clone();
        param.zero_grad();
        loss.backward();
        optimizer.step(&[theta.shallow_clone()]).unwrap();
    }

    /// One step with a zero gradient on two parameters, the second exempt from decay: only
    /// the first shrinks, by exactly the decay `factor` the optimizer applies.
    pub fn only_the_decayed_parameter_shrinks(optimizer: &mut impl Optimizer, factor: f64) {
        let params = [
            Tensor::from_slice(&[2.0f64]).set_requires_grad(true),
            Tensor::from_slice(&[2.0f64]).set_requires_grad(true),
        ];
        let loss = (&params[0] * 0.0 + &params[1] * 0.0).sum(Kind::Double);
        loss.backward();
        optimizer.set_no_decay(&[false, true]).unwrap();
        optimizer.step(&params).unwrap();
        assert_matches(&params[0], &[2.0 * factor]);
        assert_matches(&params[1], &[2.0]);
    }

    pub fn assert_matches(theta: &Tensor, expected: &[f64]) {
        let got = Vec::<f64>::try_from(&theta.detach()).unwrap();
        for (i, (got, expected)) in got.iter().zip(expected).enumerate() {
            assert!(
                (got - expected).abs() < 1e-12,
                "θ[{i}] = {got} but expected {expected}"
            );
        }
    }
}
