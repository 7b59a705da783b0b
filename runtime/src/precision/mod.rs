//! Number formats of a training step: autocast around the forward pass (`bf16`, `fp16`), the
//! loss scale that keeps `fp16` gradients from vanishing, and gradient clipping, which shares
//! the global gradient norm with the scaler's overflow check.

use std::os::raw::c_int;

use exp_ir::graph::Precision;
use tch::{Device, Kind, Tensor};

use crate::error::RunError;

extern "C" {
    // runtime/src/precision/autocast.cpp, built by runtime/build.rs.
    fn exp_autocast_enter(cuda: c_int, half: c_int) -> c_int;
    fn exp_autocast_exit(cuda: c_int) -> c_int;
    fn exp_autocast_enabled(cuda: c_int) -> c_int;
}

/// Autocast switched on for this thread until dropped.
pub struct Autocast {
    cuda: c_int,
}

impl Autocast {
    /// Autocast on `device` to the format `precision` names, for node `node`; `None` for `fp32`.
    pub fn enter(
        node: &str,
        precision: Precision,
        device: Device,
    ) -> Result<Option<Autocast>, RunError> {
        let half = match precision {
            Precision::Fp32 => return Ok(None),
            Precision::Bf16 => 0,
            Precision::Fp16 => 1,
        };
        let cuda = c_int::from(device.is_cuda());
        // SAFETY: the shim takes plain integers and catches every C++ exception.
        if unsafe { exp_autocast_enter(cuda, half) } != 0 {
            return Err(RunError::Autocast {
                node: node.to_string(),
                precision: precision.as_str().to_string(),
                device: format!("{device:?}"),
            });
        }
        Ok(Some(Autocast { cuda }))
    }

    /// Whether autocast is on for the device on this thread.
    pub fn is_on(device: Device) -> bool {
        // SAFETY: as above.
        unsafe { exp_autocast_enabled(c_int::from(device.is_cuda())) == 1 }
    }
}

impl Drop for Autocast {
    fn drop(&mut self) {
        // SAFETY: as above; leaving cannot fail in a way worth reporting.
        unsafe {
            exp_autocast_exit(self.cuda);
        }
    }
}

/// The global L2 norm of the gradients of `params` (those that have one), as a 0-d float
/// tensor on their device: the norm of the per-tensor norms, as `clip_grad_norm_` computes it.
/// No synchronisation with the device happens here.
pub fn grad_norm(params: &[Tensor]) -> Option<Tensor> {
    let norms: Vec<Tensor> = params
        .iter()
        .map(Tensor::grad)
        .filter(Tensor::defined)
        .map(|grad| grad.to_kind(Kind::Float).norm())
        .collect();
    if norms.is_empty() {
        return None;
    }
    Some(Tensor::stack(&norms, 0).norm())
}

/// Scales the gradients down to a global norm of at most `max_norm`, given their norm: by
/// `max_norm / (norm + 1e-6)` clamped to 1, exactly as PyTorch's `clip_grad_norm_` (so a norm
/// just under the limit is scaled by a hair, as there). The factor stays on the device.
pub fn clip_gradients(params: &[Tensor], norm: &Tensor, max_norm: f64) {
    let factor = (norm + 1e-6)
        .reciprocal()
        .multiply_scalar(max_norm)
        .clamp_max(1.0);
    for param in params {
        let mut grad = param.grad();
        if grad.defined() {
            let _ = grad.g_mul_(&factor.to_kind(grad.kind()));
        }
    }
}

/// The loss scale of `fp16` training (PyTorch's `GradScaler` with its defaults): the loss is
/// multiplied by `scale` before backward; the gradients are divided by it before the step,
/// which is skipped when any is not finite, halving the scale; after 2,000 steps in a row
/// without overflow the scale doubles.
#[derive(Debug, Clone, PartialEq)]
pub struct LossScale {
    pub scale: f64,
    /// Steps in a row without overflow since the scale last changed.
    pub good_steps: u64,
    /// Steps skipped for an overflow so far.
    pub skipped: u64,
}

impl Default for LossScale {
    fn default() -> LossScale {
        LossScale {
            scale: 65536.0,
            good_steps: 0,
            skipped: 0,
        }
    }
}

impl LossScale {
    const GROWTH_INTERVAL: u64 = 2000;

    /// Divides every gradient by the scale.
    pub fn unscale(&self, params: &[Tensor]) {
        for param in params {
            let mut grad = param.grad();
            if grad.defined() {
                let _ = grad.g_mul_scalar_(1.0 / self.scale);
            }
        }
    }

    /// Moves the scale on after a step whose unscaled gradients were finite or not; returns
    /// whether the optimizer may step.
    pub fn update(&mut self, finite: bool) -> bool {
        if !finite {
            self.scale *= 0.5;
            self.good_steps = 0;
            self.skipped += 1;
            return false;
        }
        self.good_steps += 1;
        if self.good_steps == Self::GROWTH_INTERVAL {
            self.scale *= 2.0;
            self.good_steps = 0;
        }
        true
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "scale": self.scale,
            "good_steps": self.good_steps,
            "skipped": self.skipped,
        })
    }

    pub fn from_json(value: &serde_json::Value) -> Option<LossScale> {
        Some(LossScale {
            scale: value["scale"].as_f64()?,
            good_steps: value["good_steps"].as_u64()?,
            skipped: value["skipped"].as_u64()?,
        })
    }
}

#[cfg(test)]
mod tests;
