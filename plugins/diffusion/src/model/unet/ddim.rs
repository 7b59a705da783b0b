//! DDIM sampling (Song et al. 2021) with classifier-free guidance (Ho & Salimans 2022), as
//! diffusers' `DDIMScheduler` computes it with `timestep_spacing="leading"`,
//! `set_alpha_to_one=True`, `steps_offset=0`, `clip_sample=True` and
//! `use_clipped_model_output=False`.
//!
//! With r = T / steps (integer division), the timesteps are t = i·r for i in 0..steps,
//! traversed from high to low. At each one, with ε the guided noise prediction,
//! ᾱ = ᾱ_t and ᾱ' = ᾱ_{t−r} (1 at the last step):
//! ```text
//! x̂_0  = clip((x_t − √(1 − ᾱ)·ε) / √ᾱ, −1, 1)
//! σ    = η·√((1 − ᾱ')/(1 − ᾱ))·√(1 − ᾱ/ᾱ')
//! x'   = √ᾱ'·x̂_0 + √(1 − ᾱ' − σ²)·ε + σ·z,   z ~ N(0, I) (drawn only when η > 0)
//! ```
//! η = 0 is deterministic DDIM; η = 1 gives DDPM's posterior variance.
//! Guidance: ε = ε_∅ + w·(ε_c − ε_∅), where ε_c sees the captions and ε_∅ the "none" rows;
//! both come from one forward pass over the batch doubled, conditional half first. The
//! conditional pass is never skipped, even at w = 0, so a sample never depends on whether a
//! batch of n or of 2n went through the network.
//! x_T and every z are drawn from `Rng::new(seed)` on the CPU, in that order.

use exp_plugin_api::sdk::{PluginError, Result, Rng, Sampling};
use exp_plugin_api::tch::{Device, Kind, Tensor};

use super::network::Network;
use crate::schedule::Schedule;

/// The timesteps of `steps` DDIM steps over a schedule of `train_steps`, from high to low.
pub fn timesteps(train_steps: usize, steps: usize) -> Vec<usize> {
    let ratio = train_steps / steps;
    (0..steps).rev().map(|index| index * ratio).collect()
}

/// The network's noise prediction under classifier-free guidance.
struct Guided<'a> {
    network: &'a Network,
    /// Caption rows of the doubled batch: the conditions, then "none" for every example.
    rows: &'a Tensor,
    weight: f64,
}

impl Guided<'_> {
    fn noise(&self, x: &Tensor, timestep: usize) -> Result<Tensor> {
        let batch = x.size()[0];
        let doubled = Tensor::f_cat(&[x, x], 0)?;
        let timesteps = Tensor::f_full([2 * batch], timestep as f64, (Kind::Float, x.device()))?;
        let noise = self.network.forward(&doubled, &timesteps, self.rows)?;
        let conditional = noise.f_narrow(0, 0, batch)?;
        let unconditional = noise.f_narrow(0, batch, batch)?;
        let difference = conditional.f_sub(&unconditional)?;
        Ok(unconditional.f_add(&difference.f_mul_scalar(self.weight)?)?)
    }
}

/// One DDIM update from x_t to x_{t−r}.
fn step(
    x: &Tensor,
    noise: &Tensor,
    (alpha, alpha_prev): (f64, f64),
    eta: f64,
    rng: &mut Rng,
) -> Result<Tensor> {
    let x0 = x
        .f_sub(&noise.f_mul_scalar((1.0 - alpha).sqrt())?)?
        .f_div_scalar(alpha.sqrt())?
        .f_clamp(-1.0, 1.0)?;
    let sigma =
        eta * ((1.0 - alpha_prev) / (1.0 - alpha)).sqrt() * (1.0 - alpha / alpha_prev).sqrt();
    // Rounding can leave 1 − ᾱ' − σ² a hair below zero at the last step.
    let direction = (1.0 - alpha_prev - sigma * sigma).max(0.0).sqrt();
    let next = x0
        .f_mul_scalar(alpha_prev.sqrt())?
        .f_add(&noise.f_mul_scalar(direction)?)?;
    if eta == 0.0 {
        return Ok(next);
    }
    let z = rng.normal(&x.size(), 1.0).f_to_device(x.device())?;
    Ok(next.f_add(&z.f_mul_scalar(sigma)?)?)
}

/// Draws images of `shape` (`[n, channels, height, width]`) under the caption `rows` of the
/// doubled batch (see `Guided`). Call it under `no_grad`.
pub fn sample(
    network: &Network,
    schedule: &Schedule,
    rows: &Tensor,
    shape: [i64; 4],
    options: &Sampling,
    device: Device,
) -> Result<Tensor> {
    let guided = Guided {
        network,
        rows,
        weight: options.guidance,
    };
    denoise(schedule, shape, options, device, |x, timestep| {
        guided.noise(x, timestep)
    })
}

/// The DDIM loop from x_T to x_0 with `predict` giving ε for x_t at t.
fn denoise(
    schedule: &Schedule,
    shape: [i64; 4],
    options: &Sampling,
    device: Device,
    predict: impl Fn(&Tensor, usize) -> Result<Tensor>,
) -> Result<Tensor> {
    let train_steps = schedule.len();
    let steps = usize::try_from(options.steps).unwrap_or(usize::MAX);
    if steps == 0 || steps > train_steps {
        return Err(PluginError::new(format!(
            "DDIM takes between 1 and T = {train_steps} steps (the model's `timesteps`), not {}",
            options.steps
        )));
    }
    if !(options.eta >= 0.0 && options.eta.is_finite() && options.guidance.is_finite()) {
        return Err(PluginError::new(format!(
            "sampling needs a finite η of at least 0 and a finite guidance weight, not η = {} \
             and w = {}",
            options.eta, options.guidance
        )));
    }
    let alphas = schedule.alphas_cumprod();
    let ratio = train_steps / steps;
    let mut rng = Rng::new(options.seed);
    let mut x = rng.normal(&shape, 1.0).f_to_device(device)?;
    for timestep in timesteps(train_steps, steps) {
        let noise = predict(&x, timestep)?;
        let alpha_prev = match timestep.checked_sub(ratio) {
            Some(previous) => alphas[previous],
            None => 1.0,
        };
        let alphas = (alphas[timestep], alpha_prev);
        x = step(&x, &noise, alphas, options.eta, &mut rng)?;
    }
    Ok(x.f_clamp(-1.0, 1.0)?)
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::{Rng, Sampling};
    use exp_plugin_api::tch::{Device, Kind, Tensor};

    use super::{denoise, timesteps};
    use crate::schedule::{NoiseSchedule, Schedule};

    #[test]
    fn leading_spacing_matches_diffusers() {
        // DDIMScheduler(num_train_timesteps=1000).set_timesteps(20).timesteps
        let expected: Vec<usize> = (0..20).rev().map(|i| i * 50).collect();
        assert_eq!(timesteps(1000, 20), expected);
        assert_eq!(timesteps(1000, 20)[0], 950);
        // 1000 // 3 = 333: [666, 333, 0].
        assert_eq!(timesteps(1000, 3), vec![666, 333, 0]);
        assert_eq!(timesteps(20, 20), (0..20).rev().collect::<Vec<_>>());
    }

    /// The exact ε of data that is one of two images with equal probability: with
    /// x_t = √ᾱ·x_0 + √(1 − ᾱ)·ε, E[ε | x_t] = (x_t − √ᾱ·E[x_0 | x_t])/√(1 − ᾱ), where the
    /// posterior weighs each image by its Gaussian likelihood.
    fn two_point_noise(points: &Tensor, alpha: f64, x: &Tensor) -> Tensor {
        let spread = 1.0 - alpha;
        // [n, 1, d] − [1, 2, d] → squared distances [n, 2] → posterior weights.
        let distances = (x.unsqueeze(1) - points.unsqueeze(0) * alpha.sqrt())
            .square()
            .sum_dim_intlist(-1, false, Kind::Float);
        let weights = (distances / (-2.0 * spread)).softmax(-1, Kind::Float);
        let mean = weights.matmul(points);
        (x - mean * alpha.sqrt()) / spread.sqrt()
    }

    #[test]
    fn the_exact_noise_of_two_images_is_denoised_onto_one_of_them() {
        // A sampler whose updates were wrong would stop between the two images (at a
        // posterior mean) or off both; a right one lands on one of them, deterministic or not.
        let schedule = Schedule::new(NoiseSchedule::Linear, 1000);
        let points = Rng::new(3).uniform(&[2, 12], -0.9, 0.9);
        for eta in [0.0, 1.0] {
            let options = Sampling {
                steps: 50,
                guidance: 1.0,
                eta,
                seed: 4,
            };
            let predict = |x: &Tensor, t: usize| {
                let flat = x.reshape([-1, 12]);
                let alpha = schedule.alphas_cumprod()[t];
                Ok(two_point_noise(&points, alpha, &flat).reshape(x.size()))
            };
            let samples = denoise(&schedule, [16, 3, 2, 2], &options, Device::Cpu, predict)
                .unwrap()
                .reshape([16, 12]);
            let distance = (samples.unsqueeze(1) - points.unsqueeze(0))
                .abs()
                .amax(-1, false)
                .amin(-1, false);
            assert!(
                distance.max().double_value(&[]) < 1e-3,
                "η {eta}: {distance}"
            );
            // Both images are reached from some starting noise.
            let nearest = (samples.unsqueeze(1) - points.unsqueeze(0))
                .square()
                .sum_dim_intlist(-1, false, Kind::Float)
                .argmin(-1, false);
            let on_second = nearest.sum(Kind::Int64).int64_value(&[]);
            assert!(on_second > 0 && on_second < 16, "η {eta}: {nearest}");
        }
    }
}
