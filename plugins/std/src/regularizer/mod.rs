//! Regularizers: penalties added to the training loss. Their state (anchors, Fisher estimates)
//! outlives a phase: the host carries it to the next task and saves it in checkpoints.
pub mod ewc;
pub mod l2;

use exp_plugin_api::sdk::Result;
use exp_plugin_api::tch::{Device, Kind, Tensor};

/// Copies of `tensors` cut off from autograd and from the storage they came from, so later
/// in-place updates of the live weights leave them alone.
pub(crate) fn detached(tensors: &[(String, Tensor)]) -> Result<Vec<(String, Tensor)>> {
    tensors
        .iter()
        // `detach` then `copy`, not `detach_copy`: libtorch marks `detach_copy` of a tensor that
        // requires grad as requiring grad too, with no derivative, so a penalty built on it
        // fails in `backward`.
        .map(|(name, tensor)| Ok((name.clone(), tensor.f_detach()?.copy())))
        .collect()
}

/// A zero penalty of the parameters' kind and device, to accumulate into or to return when
/// there is nothing to penalise yet; adding it to a loss leaves the loss's graph as it was.
pub(crate) fn scalar_zero(params: &[(String, Tensor)]) -> Tensor {
    let (kind, device) = params
        .first()
        .map_or((Kind::Float, Device::Cpu), |(_, tensor)| {
            (tensor.kind(), tensor.device())
        });
    Tensor::zeros([], (kind, device))
}
