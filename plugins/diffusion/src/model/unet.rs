//! `unet`: a small caption-conditioned DDPM (Ho et al. 2020) over the images of its dataset,
//! predicting the noise ε, sampled with DDIM and classifier-free guidance.
//!
//! - `plan`: the channels of every block, from the parameters and the dataset; the parameter
//!   count.
//! - `network`: the U-Net ε_θ(x_t, t, caption) (architecture drawn there).
//! - `captions`: targets (caption attributes, −100 for none) as embedding-table rows.
//! - `ddim`: the sampler.
//!
//! Training (`loss`): for each example a timestep t ~ U{0..T−1}, noise ε ~ N(0, I) and, with
//! probability `condition_dropout`, the whole caption replaced by "none" (so that one network
//! learns both ε_c and ε_∅, which guidance combines); the loss is the mean squared error
//! between the predicted and the true ε of x_t = √ᾱ_t·x_0 + √(1 − ᾱ_t)·ε. Every draw comes from
//! a stream keyed by the node's seed and a count of training calls (`seeding::stream`), on the
//! CPU, and is moved to the device: training draws the same noise on every device, and the
//! count is the model's training state, saved in checkpoints, so a resumed phase draws what an
//! uninterrupted one would have.
//!
//! The default schedule is DDPM's, `linear` with T = 1000. `cosine` destroys information more
//! gradually and spends fewer steps on nearly pure noise, which Nichol & Dhariwal found helps
//! small images; a sweep over `schedule` can say which suits a dataset.

mod captions;
mod ddim;
mod network;
mod plan;

use std::cell::Cell;

use exp_plugin_api::sdk::{
    Component, Config, Context, DataInfo, Model, PluginError, Result, Sampling, SavedState,
    Stateful,
};
use exp_plugin_api::serde_json::json;
use exp_plugin_api::tch::{self, Device, Kind, Tensor};

use crate::schedule::{NoiseSchedule, Schedule};
use crate::seeding::stream;
use captions::{caption_rows, guidance_rows, read_targets};
use network::Network;
use plan::Plan;

#[derive(Debug, Clone, Config)]
pub struct UNetConfig {
    /// channels of the first level, and of the sinusoidal time features; even, and a multiple of `groups`
    #[param(default = 32, min = 2)]
    pub width: i64,
    /// channel multiplier of each level (each level after the first halves the image, so the image sides must be multiples of 2^(levels − 1))
    #[param(default = [1, 2], min = 1)]
    pub multipliers: Vec<i64>,
    /// diffusion steps T
    #[param(default = 1000, min = 1, max = 100_000)]
    pub timesteps: i64,
    /// how the noise variance grows over the steps: "linear" (DDPM), "scaled_linear" (Stable Diffusion) or "cosine" (improved DDPM)
    #[param(default = "linear")]
    pub schedule: NoiseSchedule,
    /// probability of training an example without its caption, so that the model also learns the unconditional prediction that guidance needs
    #[param(default = 0.1, min = 0.0, max = 1.0)]
    pub condition_dropout: f64,
    /// groups of every group norm
    #[param(default = 8, min = 1)]
    pub groups: i64,
}

pub struct UNet {
    network: Network,
    schedule: Schedule,
    /// `[channels, height, width]` of the images.
    image: [i64; 3],
    /// Values of each caption attribute.
    values: Vec<i64>,
    condition_dropout: f64,
    seed: u64,
    /// Training calls of `loss` so far: the key of the next call's draws.
    calls: Cell<u64>,
    device: Device,
}

impl Component for UNet {
    type Config = UNetConfig;
    const NAME: &'static str = "unet";
    const VERSION: &'static str = "1";
    const DOC: &'static str =
        "small caption-conditioned U-Net diffusion model (DDPM training, DDIM sampling with classifier-free guidance)";

    fn check(config: &UNetConfig) -> Result<()> {
        if config.multipliers.is_empty() {
            return Err(PluginError::in_field(
                "multipliers",
                "needs at least one level",
            ));
        }
        if config.width % 2 != 0 {
            return Err(PluginError::in_field(
                "width",
                format!(
                    "the time features pair a cosine and a sine per frequency, so `width` must \
                     be even, not {}",
                    config.width
                ),
            ));
        }
        if config.width % config.groups != 0 {
            return Err(PluginError::in_field(
                "groups",
                format!(
                    "every block's channels are a multiple of `width` ({}), which must split \
                     into `groups` ({}) equal groups",
                    config.width, config.groups
                ),
            ));
        }
        Ok(())
    }

    fn create(config: UNetConfig, context: &Context) -> Result<Self> {
        let plan = Plan::new(&config, context.data()?)?;
        let device = context.device();
        Ok(UNet {
            network: Network::new(&plan, context.seed, device),
            schedule: Schedule::new(config.schedule, config.timesteps as usize),
            image: plan.image,
            values: plan.values,
            condition_dropout: config.condition_dropout,
            seed: context.seed,
            calls: Cell::new(0),
            device,
        })
    }
}

/// What one training call draws for a batch.
struct Draws {
    /// t per example, in 0..T.
    timesteps: Vec<i64>,
    /// Whether each example's caption is replaced by "none".
    dropped: Vec<bool>,
    /// ε, shaped like the batch, float32 on the model's device.
    noise: Tensor,
}

impl UNet {
    /// The shape `[batch, channels, height, width]` of a batch of `batch` images.
    fn batch_shape(&self, batch: i64) -> [i64; 4] {
        let [channels, height, width] = self.image;
        [batch, channels, height, width]
    }

    /// The draws of the next training call for a batch of `shape`, from the stream keyed by
    /// the seed and the call count, which it advances.
    fn draw(&self, shape: &[i64]) -> Result<Draws> {
        let call = self.calls.get();
        self.calls.set(call + 1);
        let mut rng = stream(self.seed, call);
        let batch = shape[0];
        let timesteps = (0..batch)
            .map(|_| rng.below(self.schedule.len() as u64) as i64)
            .collect();
        let dropped = (0..batch)
            .map(|_| rng.next_f64() < self.condition_dropout)
            .collect();
        let noise = rng.normal(shape, 1.0).f_to_device(self.device)?;
        Ok(Draws {
            timesteps,
            dropped,
            noise,
        })
    }
}

/// The count of training calls, so that a resumed phase draws the same noise.
impl Stateful for UNet {
    fn save_state(&self) -> Result<SavedState> {
        Ok(SavedState {
            tensors: Vec::new(),
            data: json!({ "calls": self.calls.get() }),
        })
    }

    fn load_state(&mut self, state: SavedState) -> Result<()> {
        let calls = state.data["calls"]
            .as_u64()
            .ok_or_else(|| PluginError::new("saved unet state lacks `calls`"))?;
        self.calls.set(calls);
        Ok(())
    }
}

impl Model for UNet {
    fn named_tensors(&self) -> Vec<(String, Tensor)> {
        self.network.named_tensors()
    }

    fn forward(&self, _x: &Tensor, _train: bool) -> Result<Tensor> {
        Err(PluginError::new(
            "a diffusion model has no output for a batch: it is trained by its loss and used \
             through `sample` (a `sample(..)` dataset definition)",
        ))
    }

    fn loss(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        let batch = x.size().first().copied().unwrap_or(0);
        if x.size() != self.batch_shape(batch) {
            return Err(PluginError::new(format!(
                "the unet was sized for images {:?}, but a batch has shape {:?}",
                self.image,
                x.size()
            )));
        }
        let targets = read_targets(y, batch, self.values.len())?;
        let Draws {
            timesteps,
            dropped,
            noise,
        } = self.draw(&x.size())?;
        let noise = noise.f_to_kind(x.kind())?;
        let rows = caption_rows(&targets, &self.values, &dropped, self.device)?;
        let noisy = self.schedule.q_sample(x, &timesteps, &noise)?;
        let steps = Tensor::from_slice(&timesteps)
            .f_to_kind(Kind::Float)?
            .f_to_device(self.device)?;
        let predicted = self.network.forward(&noisy, &steps, &rows)?;
        Ok(predicted.f_mse_loss(&noise.f_to_kind(predicted.kind())?, tch::Reduction::Mean)?)
    }

    /// Norms, biases and the caption tables.
    fn no_decay(&self) -> Vec<String> {
        self.named_tensors()
            .into_iter()
            .map(|(name, _)| name)
            .filter(|name| {
                name.ends_with(".bias") || name.contains("norm") || name.starts_with("caption.")
            })
            .collect()
    }

    const COUNTS_PARAMETERS: bool = true;

    fn parameter_count(config: &UNetConfig, data: Option<&DataInfo>) -> Result<u64> {
        let data = data.ok_or_else(|| {
            PluginError::new("the unet is sized by its dataset's images, and none was given")
        })?;
        Ok(Plan::new(config, data)?.parameter_count() as u64)
    }

    const SAMPLES: bool = true;

    fn sample(&self, conditions: &Tensor, options: &Sampling) -> Result<Tensor> {
        let batch = conditions.size().first().copied().unwrap_or(0);
        let targets = read_targets(conditions, batch, self.values.len())?;
        let rows = guidance_rows(&targets, &self.values, batch, self.device)?;
        let shape = self.batch_shape(batch);
        tch::no_grad(|| {
            ddim::sample(
                &self.network,
                &self.schedule,
                &rows,
                shape,
                options,
                self.device,
            )
        })
    }
}

#[cfg(test)]
mod tests;
