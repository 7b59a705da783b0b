//! `Dropout`: deterministic dropout masks from a counter-based hash computed with tensor ops.
//!
//! libtorch's dropout draws from the global generator, which parallel trainings in one process
//! share, so its masks depend on thread timing.
//! Here the mask of element `e` at dropout site `s` in training call `c` is a pure function
//! `hash(key(seed, c, s), e)`: the model keeps only a call counter, and the masks are the same
//! on every device because the hash is exact integer arithmetic.
//!
//! The element hash is a two-round multiply–xorshift mix on 32 bits; an element is kept when its
//! hash is at least `round(p·2³²)`. It is computed in one of two ways, with identical results:
//! - on the CPU, by a Rust loop ([`keep_mask_host`]) that writes the scaled mask (0 or 1/(1−p))
//!   directly: one pass, one thread, about a millisecond per million elements;
//! - on other devices, with int64 tensor ops ([`keep_mask`]), so nothing crosses to the host.
//!   Every multiplier is below 2³¹ and values are masked to 32 bits after each product, so no
//!   intermediate overflows the signed 64-bit range (libtorch gives no wrapping guarantee).
//!
//! Cost per dropout site: the mask, one float multiply in the forward pass and one in the
//! backward pass; the bench example measures it. With `p = 0`, or outside training, the model
//! never calls into this module.

use std::cell::Cell;

use exp_plugin_api::tch::{Device, Kind, TchError, Tensor};

use exp_plugin_api::sdk::Rng;

const LOW_32_BITS: i64 = 0xffff_ffff;
/// Odd multipliers below 2³¹ (the first is from Wellons' `lowbias32`, the second is
/// MurmurHash2's), so that a 32-bit value times either stays inside the int64 range.
const MULTIPLIER_1: u32 = 0x7feb_352d;
const MULTIPLIER_2: u32 = 0x5bd1_e995;

/// The hash of element `index` under `key`: the arithmetic [`keep_mask`] does with tensors.
fn element_hash(index: u32, key: u64) -> u32 {
    let mut x = index ^ key as u32;
    x ^= x >> 16;
    x = x.wrapping_mul(MULTIPLIER_1);
    x ^= (key >> 32) as u32;
    x ^= x >> 15;
    x = x.wrapping_mul(MULTIPLIER_2);
    x ^ (x >> 16)
}

/// Elements whose hash is below this are dropped.
fn threshold(p: f64) -> u64 {
    (p * 4_294_967_296.0).round() as u64
}

fn mix64(value: u64) -> u64 {
    Rng::new(value).next_u64()
}

/// The 64-bit key of one dropout site in one training call.
pub fn mask_key(seed: u64, call: u64, site: u64) -> u64 {
    mix64(mix64(mix64(seed) ^ call) ^ site)
}

/// A bool tensor of `shape` on `device`, true where an element is kept (probability ≈ 1 − p).
///
/// Masks repeat with period 2³² along the flattened tensor, far beyond any activation here.
pub fn keep_mask(shape: &[i64], key: u64, p: f64, device: Device) -> Result<Tensor, TchError> {
    let count: i64 = shape.iter().product();
    let key_low = (key & 0xffff_ffff) as i64;
    let key_high = (key >> 32) as i64;
    let mut x = Tensor::f_arange(count, (Kind::Int64, device))?;
    x = x.f_bitwise_and_(LOW_32_BITS)?;
    x = x.f_bitwise_xor_(key_low)?;
    for (multiplier, shift) in [(MULTIPLIER_1, 16), (MULTIPLIER_2, 15)] {
        let shifted = x.f_bitwise_right_shift_tensor_scalar(shift)?;
        x = x.f_bitwise_xor_tensor_(&shifted)?;
        x = x.f_mul_scalar_(i64::from(multiplier))?;
        x = x.f_bitwise_and_(LOW_32_BITS)?;
        if multiplier == MULTIPLIER_1 {
            x = x.f_bitwise_xor_(key_high)?;
        }
    }
    let shifted = x.f_bitwise_right_shift_tensor_scalar(16)?;
    x = x.f_bitwise_xor_tensor_(&shifted)?;
    x.f_ge(threshold(p) as i64)?.f_reshape(shape)
}

/// The same mask as [`keep_mask`], computed on the host: a CPU bool tensor.
pub fn keep_mask_host(shape: &[i64], key: u64, p: f64) -> Result<Tensor, TchError> {
    let count: i64 = shape.iter().product();
    let threshold = threshold(p);
    let keep: Vec<bool> = (0..count)
        .map(|index| u64::from(element_hash(index as u32, key)) >= threshold)
        .collect();
    Tensor::from_slice(&keep).f_reshape(shape)
}

/// The keep mask scaled to 0 or 1/(1 − p), in `kind` on `device`. On the CPU it is written in
/// one host pass; elsewhere it is computed on the device. Both give the same values: the float
/// scale is rounded to `kind` exactly as libtorch rounds a scalar multiplier.
fn scaled_mask(
    shape: &[i64],
    key: u64,
    p: f64,
    kind: Kind,
    device: Device,
) -> Result<Tensor, TchError> {
    let scale = 1.0 / (1.0 - p);
    if device != Device::Cpu {
        let mut mask = keep_mask(shape, key, p, device)?.f_to_kind(kind)?;
        mask = mask.f_mul_scalar_(scale)?;
        return Ok(mask);
    }
    let count: i64 = shape.iter().product();
    let threshold = threshold(p);
    let keep = |index: i64| u64::from(element_hash(index as u32, key)) >= threshold;
    let mask = match kind {
        Kind::Double => {
            let values: Vec<f64> = (0..count)
                .map(|index| if keep(index) { scale } else { 0.0 })
                .collect();
            Tensor::from_slice(&values)
        }
        _ => {
            let scale = scale as f32;
            let values: Vec<f32> = (0..count)
                .map(|index| if keep(index) { scale } else { 0.0 })
                .collect();
            Tensor::from_slice(&values).f_to_kind(kind)?
        }
    };
    mask.f_reshape(shape)
}

/// Dropout keyed by a seed and a count of training calls.
#[derive(Debug)]
pub(crate) struct Dropout {
    p: f64,
    seed: u64,
    /// Training forward passes so far; saved with a checkpoint to resume the same mask stream.
    calls: Cell<u64>,
}

impl Dropout {
    pub(crate) fn new(p: f64, seed: u64) -> Dropout {
        Dropout {
            p,
            seed,
            calls: Cell::new(0),
        }
    }

    /// The call index for a forward pass, or `None` when dropout does nothing.
    pub(crate) fn start_call(&self, train: bool) -> Option<u64> {
        if !train || self.p == 0.0 {
            return None;
        }
        let call = self.calls.get();
        self.calls.set(call + 1);
        Some(call)
    }

    pub(crate) fn calls(&self) -> u64 {
        self.calls.get()
    }

    pub(crate) fn set_calls(&self, calls: u64) {
        self.calls.set(calls);
    }

    /// `x` with dropped elements zeroed and the rest scaled by 1/(1 − p); `x` itself when
    /// `call` is `None`.
    pub(crate) fn apply(
        &self,
        x: Tensor,
        call: Option<u64>,
        site: u64,
    ) -> Result<Tensor, TchError> {
        let Some(call) = call else {
            return Ok(x);
        };
        let scale = scaled_mask(
            &x.size(),
            mask_key(self.seed, call, site),
            self.p,
            x.kind(),
            x.device(),
        )?;
        x.f_mul(&scale)
    }
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::tch::{Device, Kind};

    use super::{keep_mask, keep_mask_host, mask_key, scaled_mask};

    #[test]
    fn host_and_tensor_masks_agree() {
        for (call, p) in [(0, 0.1), (1, 0.5), (7, 0.9), (3, 0.0)] {
            let key = mask_key(11, call, 2);
            let shape = [3, 50, 41];
            let on_device = keep_mask(&shape, key, p, Device::Cpu).unwrap();
            assert!(on_device.equal(&keep_mask_host(&shape, key, p).unwrap()));
            for kind in [Kind::Float, Kind::Double, Kind::BFloat16] {
                let host = scaled_mask(&shape, key, p, kind, Device::Cpu).unwrap();
                let tensor = on_device.to_kind(kind) * (1.0 / (1.0 - p));
                assert_eq!(host.kind(), kind);
                assert!(host.equal(&tensor), "p={p} {kind:?}");
            }
        }
    }
}
