//! Mergers: combine the same-named tensors of several models of one architecture. The host
//! checks names and shapes agree before calling; mergers check again and name the tensor.
//! `sfa` also runs inside training, as a hook.
pub mod average;
pub mod sfa;
pub mod task_arithmetic;
pub mod ties;
pub mod wise_ft;

use exp_plugin_api::sdk::{PluginError, Result};
use exp_plugin_api::tch::Tensor;

/// Refuses inputs whose shapes differ, naming the tensor.
pub(crate) fn same_shapes(name: &str, inputs: &[Tensor]) -> Result<()> {
    let first = inputs
        .first()
        .ok_or_else(|| PluginError::new(format!("no inputs for tensor `{name}`")))?
        .size();
    for (idx, input) in inputs.iter().enumerate().skip(1) {
        if input.size() != first {
            return Err(PluginError::new(format!(
                "tensor `{name}` has shape {first:?} in input 1 but {:?} in input {}",
                input.size(),
                idx + 1
            )));
        }
    }
    Ok(())
}
