//! The U-Net itself: ε_θ(x_t, t, caption).
//!
//! ```text
//! x ─ conv_in ─ down 0 ───────────────────────── cat ─ up 0 ─ norm_out ─ SiLU ─ conv_out ─ ε̂
//!                 ↓                                │
//!               down 1 ────────────── cat ─ up 1 ─ ↑
//!                 ↓                     │
//!                 …                     …
//!               down L−1 ─ mid ─ cat ─ up L−1 ─ ↑
//!
//! t ─ sinusoid ─ linear_1 ─ SiLU ─ linear_2 ─ + Σ caption rows ─ SiLU ─ the FiLM of every block
//! ```
//! Each "down" and "up" is a residual block. Level i works at 1/2^i of the image size with
//! `width·multipliers[i]` channels; ↓ is a stride-2 3×3 convolution, ↑ a nearest-neighbour ×2
//! upsampling followed by a 3×3 convolution, and "cat" joins, along the channels, what comes
//! up from below with the output of the down block at the same level (the skip).
//!
//! A residual block (diffusers' `ResnetBlock2D` with `time_embedding_norm="scale_shift"`, the
//! AdaGN of Nichol & Dhariwal): h = conv1(SiLU(norm1(x))); h = norm2(h)·(1 + scale) + shift,
//! with (scale, shift) = film(SiLU(embedding)) per channel; h = conv2(SiLU(h)); the output is
//! h + skip(x), where skip is a 1×1 convolution when the channels change. The FiLM comes after
//! the second norm so that the norm does not cancel the shift it applies.
//!
//! The time embedding is diffusers' sinusoid (`flip_sin_to_cos`, no frequency shift): for
//! k < width/2, cos(t·ω_k) then sin(t·ω_k) with ω_k = 10000^(−k/(width/2)). Captions are one
//! embedding table per attribute, each with a last "none" row; a caption is the sum of its
//! attributes' rows, added to the time embedding.

use exp_plugin_api::tch::{Device, Kind, TchError, Tensor};

use super::plan::{Plan, KERNEL};
use crate::layers::{shallow, Conv, GroupNorm, Linear, Parameters};

/// The base of the sinusoid's geometric frequencies (Vaswani et al.; DDPM).
const MAX_PERIOD: f64 = 10000.0;

struct ResBlock {
    norm1: GroupNorm,
    conv1: Conv,
    film: Linear,
    norm2: GroupNorm,
    conv2: Conv,
    skip: Option<Conv>,
}

impl ResBlock {
    fn new(
        parameters: &mut Parameters,
        name: &str,
        (input, output): (i64, i64),
        plan: &Plan,
    ) -> ResBlock {
        ResBlock {
            norm1: parameters.group_norm(&format!("{name}.norm1"), input, plan.groups),
            conv1: parameters.conv(&format!("{name}.conv1"), input, output, KERNEL, 1),
            film: parameters.linear(&format!("{name}.film"), plan.embedding, 2 * output),
            norm2: parameters.group_norm(&format!("{name}.norm2"), output, plan.groups),
            conv2: parameters.conv(&format!("{name}.conv2"), output, output, KERNEL, 1),
            skip: (input != output)
                .then(|| parameters.conv(&format!("{name}.skip"), input, output, 1, 1)),
        }
    }

    /// `conditioning` is SiLU of the embedding, `[batch, embedding]`.
    fn forward(&self, x: &Tensor, conditioning: &Tensor) -> Result<Tensor, TchError> {
        let h = self.conv1.forward(&self.norm1.forward(x)?.f_silu()?)?;
        // Per channel: the first half of the FiLM output scales, the second shifts.
        let film = self
            .film
            .forward(conditioning)?
            .f_unsqueeze(-1)?
            .f_unsqueeze(-1)?;
        let channels = film.size()[1] / 2;
        let scale = film.f_narrow(1, 0, channels)?;
        let shift = film.f_narrow(1, channels, channels)?;
        let h = self
            .norm2
            .forward(&h)?
            .f_mul(&scale.f_add_scalar(1.0)?)?
            .f_add(&shift)?;
        let h = self.conv2.forward(&h.f_silu()?)?;
        match &self.skip {
            Some(skip) => skip.forward(x)?.f_add(&h),
            None => x.f_add(&h),
        }
    }
}

/// A level of one path: its residual block, then its resampling convolution, if any.
struct Level {
    block: ResBlock,
    resample: Option<Conv>,
}

struct TimeEmbedding {
    /// ω_k, `[width/2]`, on the device.
    frequencies: Tensor,
    linear_1: Linear,
    linear_2: Linear,
}

impl TimeEmbedding {
    fn new(parameters: &mut Parameters, plan: &Plan, device: Device) -> TimeEmbedding {
        let half = plan.width / 2;
        let frequencies: Vec<f32> = (0..half)
            .map(|k| (-MAX_PERIOD.ln() * k as f64 / half as f64).exp() as f32)
            .collect();
        TimeEmbedding {
            frequencies: Tensor::from_slice(&frequencies).to_device(device),
            linear_1: parameters.linear("time_embedding.linear_1", plan.width, plan.embedding),
            linear_2: parameters.linear("time_embedding.linear_2", plan.embedding, plan.embedding),
        }
    }

    /// `timesteps`: float `[batch]`.
    fn forward(&self, timesteps: &Tensor) -> Result<Tensor, TchError> {
        let angles = timesteps
            .f_unsqueeze(1)?
            .f_mul(&self.frequencies.f_unsqueeze(0)?)?;
        let features = Tensor::f_cat(&[angles.f_cos()?, angles.f_sin()?], 1)?;
        let hidden = self.linear_1.forward(&features)?.f_silu()?;
        self.linear_2.forward(&hidden)
    }
}

pub struct Network {
    conv_in: Conv,
    time: TimeEmbedding,
    /// One table `[values + 1, embedding]` per caption attribute; the last row is "none".
    captions: Vec<Tensor>,
    down: Vec<Level>,
    middle: ResBlock,
    /// In the order they run: deepest level first.
    up: Vec<Level>,
    norm_out: GroupNorm,
    conv_out: Conv,
    named: Vec<(String, Tensor)>,
}

impl Network {
    /// The network of `plan`, with weights drawn from `seed` and placed on `device`.
    pub fn new(plan: &Plan, seed: u64, device: Device) -> Network {
        let mut parameters = Parameters::new(seed, device);
        let [image_channels, ..] = plan.image;
        let conv_in = parameters.conv("conv_in", image_channels, plan.width, KERNEL, 1);
        let time = TimeEmbedding::new(&mut parameters, plan, device);
        let captions = plan
            .values
            .iter()
            .enumerate()
            .map(|(index, values)| {
                parameters.embedding(&format!("caption.{index}"), values + 1, plan.embedding)
            })
            .collect();
        let down = (0..plan.levels())
            .map(|level| {
                let channels = plan.channels[level];
                let block = ResBlock::new(
                    &mut parameters,
                    &format!("down.{level}.block"),
                    plan.down_block(level),
                    plan,
                );
                let resample = plan.downsamples(level).then(|| {
                    let name = format!("down.{level}.downsample");
                    parameters.conv(&name, channels, channels, KERNEL, 2)
                });
                Level { block, resample }
            })
            .collect();
        let middle = ResBlock::new(&mut parameters, "mid.block", plan.middle_block(), plan);
        let up = (0..plan.levels())
            .rev()
            .map(|level| {
                let channels = plan.channels[level];
                let block = ResBlock::new(
                    &mut parameters,
                    &format!("up.{level}.block"),
                    plan.up_block(level),
                    plan,
                );
                let resample = plan.upsamples(level).then(|| {
                    let name = format!("up.{level}.upsample");
                    parameters.conv(&name, channels, channels, KERNEL, 1)
                });
                Level { block, resample }
            })
            .collect();
        let norm_out = parameters.group_norm("norm_out", plan.width, plan.groups);
        let conv_out = parameters.conv("conv_out", plan.width, image_channels, KERNEL, 1);
        Network {
            conv_in,
            time,
            captions,
            down,
            middle,
            up,
            norm_out,
            conv_out,
            named: parameters.into_named(),
        }
    }

    /// Every tensor by checkpoint key, in the order they were created.
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        shallow(&self.named)
    }

    /// The embedding of timesteps (float `[batch]`) and captions (table rows, int64
    /// `[batch, attributes]`), through SiLU: what every block's FiLM reads.
    fn conditioning(&self, timesteps: &Tensor, rows: &Tensor) -> Result<Tensor, TchError> {
        let mut embedding = self.time.forward(timesteps)?;
        for (attribute, table) in self.captions.iter().enumerate() {
            let picked = rows.f_select(1, attribute as i64)?;
            embedding = embedding.f_add(&Tensor::f_embedding(table, &picked, -1, false, false)?)?;
        }
        embedding.f_silu()
    }

    /// The predicted noise of `x` (`[batch, channels, height, width]`) at `timesteps` under
    /// the captions' table `rows`.
    pub fn forward(
        &self,
        x: &Tensor,
        timesteps: &Tensor,
        rows: &Tensor,
    ) -> Result<Tensor, TchError> {
        let conditioning = self.conditioning(timesteps, rows)?;
        let mut h = self.conv_in.forward(&x.f_to_kind(Kind::Float)?)?;
        let mut skips = Vec::with_capacity(self.down.len());
        for level in &self.down {
            h = level.block.forward(&h, &conditioning)?;
            skips.push(h.shallow_clone());
            if let Some(downsample) = &level.resample {
                h = downsample.forward(&h)?;
            }
        }
        h = self.middle.forward(&h, &conditioning)?;
        for (level, skip) in self.up.iter().zip(skips.iter().rev()) {
            h = level
                .block
                .forward(&Tensor::f_cat(&[&h, skip], 1)?, &conditioning)?;
            if let Some(upsample) = &level.resample {
                let size = h.size();
                let doubled = h.f_upsample_nearest2d([2 * size[2], 2 * size[3]], None, None)?;
                h = upsample.forward(&doubled)?;
            }
        }
        self.conv_out.forward(&self.norm_out.forward(&h)?.f_silu()?)
    }
}
