//! Noise schedules and the forward (noising) process of a DDPM.
//!
//! A schedule is a sequence of variances β_0 … β_{T−1}; the forward process adds noise step by
//! step, x_t = √(1 − β_t)·x_{t−1} + √β_t·ε, so x_t given x_0 is Gaussian in closed form:
//! x_t = √ᾱ_t·x_0 + √(1 − ᾱ_t)·ε with ᾱ_t = Π_{s≤t} (1 − β_s) (`alphas_cumprod`).
//! Timesteps are 0-based as in Hugging Face diffusers: t = 0 is the first noising step, not the
//! clean image, so ᾱ_0 = 1 − β_0 < 1.
//!
//! The three schedules follow diffusers' `DDPMScheduler` (`beta_schedule`):
//! - `linear`: β linearly spaced from 1e-4 to 0.02 (Ho et al. 2020, with T = 1000);
//! - `scaled_linear`: √β linearly spaced from √0.00085 to √0.012, squared (Stable Diffusion);
//! - `cosine`: `squaredcos_cap_v2` (Nichol & Dhariwal 2021): ᾱ(s) = f(s)/f(0) with
//!   f(s) = cos²((s/T + 0.008)/1.008 · π/2), and β_t = min(1 − ᾱ(t+1)/ᾱ(t), 0.999); the cap
//!   keeps the last steps from having β = 1 (f(T) = 0).
//!
//! Everything is computed in f64 (diffusers uses float32), so values agree with diffusers' to
//! about 1e-7 relative; the forward process casts its per-example coefficients to the image's
//! precision once.

use exp_plugin_api::sdk::{Choice, PluginError, Result};
use exp_plugin_api::tch::Tensor;

/// The largest β the cosine schedule allows (diffusers' `max_beta`).
const MAX_COSINE_BETA: f64 = 0.999;
/// The cosine schedule's offset s, which keeps β_0 from being vanishingly small.
const COSINE_OFFSET: f64 = 0.008;

/// How the noise variance grows over the diffusion steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Choice)]
pub enum NoiseSchedule {
    /// β from 1e-4 to 0.02, evenly spaced (DDPM).
    Linear,
    /// √β from √0.00085 to √0.012, evenly spaced, squared (Stable Diffusion).
    ScaledLinear,
    /// ᾱ follows a squared cosine (improved DDPM), β capped at 0.999.
    Cosine,
}

/// `count` evenly spaced values from `start` to `end` inclusive (`torch.linspace`).
fn linspace(start: f64, end: f64, count: usize) -> Vec<f64> {
    if count == 1 {
        return vec![start];
    }
    let step = (end - start) / (count - 1) as f64;
    (0..count)
        .map(|index| start + step * index as f64)
        .collect()
}

impl NoiseSchedule {
    /// β_0 … β_{T−1} for `timesteps` = T steps.
    pub fn betas(self, timesteps: usize) -> Vec<f64> {
        match self {
            NoiseSchedule::Linear => linspace(1e-4, 0.02, timesteps),
            NoiseSchedule::ScaledLinear => linspace(0.00085f64.sqrt(), 0.012f64.sqrt(), timesteps)
                .into_iter()
                .map(|root| root * root)
                .collect(),
            NoiseSchedule::Cosine => {
                let f = |step: usize| {
                    let s = step as f64 / timesteps as f64;
                    ((s + COSINE_OFFSET) / (1.0 + COSINE_OFFSET) * std::f64::consts::FRAC_PI_2)
                        .cos()
                        .powi(2)
                };
                (0..timesteps)
                    .map(|step| (1.0 - f(step + 1) / f(step)).min(MAX_COSINE_BETA))
                    .collect()
            }
        }
    }
}

/// ᾱ_t = Π_{s≤t} (1 − β_s) for every t.
pub fn alphas_cumprod(betas: &[f64]) -> Vec<f64> {
    betas
        .iter()
        .scan(1.0, |product, beta| {
            *product *= 1.0 - beta;
            Some(*product)
        })
        .collect()
}

/// A schedule of T steps, with its ᾱ_t computed once.
#[derive(Debug, Clone)]
pub struct Schedule {
    alphas_cumprod: Vec<f64>,
}

impl Schedule {
    pub fn new(kind: NoiseSchedule, timesteps: usize) -> Schedule {
        Schedule {
            alphas_cumprod: alphas_cumprod(&kind.betas(timesteps)),
        }
    }

    /// The number of diffusion steps T.
    pub fn len(&self) -> usize {
        self.alphas_cumprod.len()
    }

    /// Never true for a built schedule (it has at least one step); here for `len`'s sake.
    pub fn is_empty(&self) -> bool {
        self.alphas_cumprod.is_empty()
    }

    /// ᾱ_t for t in 0..T.
    pub fn alphas_cumprod(&self) -> &[f64] {
        &self.alphas_cumprod
    }

    /// The forward process: √ᾱ_t·x0 + √(1 − ᾱ_t)·noise, with one timestep per example (the
    /// first dimension of `x0`, of `noise` and of `timesteps`).
    pub fn q_sample(&self, x0: &Tensor, timesteps: &[i64], noise: &Tensor) -> Result<Tensor> {
        let size = x0.size();
        if size.first() != Some(&(timesteps.len() as i64)) || noise.size() != size {
            return Err(PluginError::new(format!(
                "the forward process needs one timestep per example and noise shaped like the \
                 images: images {size:?}, {} timesteps, noise {:?}",
                timesteps.len(),
                noise.size()
            )));
        }
        let mut signal = Vec::with_capacity(timesteps.len());
        let mut spread = Vec::with_capacity(timesteps.len());
        for &step in timesteps {
            let alpha_bar = usize::try_from(step)
                .ok()
                .and_then(|step| self.alphas_cumprod.get(step))
                .ok_or_else(|| {
                    PluginError::new(format!(
                        "timestep {step} is outside the schedule's 0..{}",
                        self.len()
                    ))
                })?;
            signal.push(alpha_bar.sqrt());
            spread.push((1.0 - alpha_bar).sqrt());
        }
        // [n] → [n, 1, …, 1], so each example's coefficient broadcasts over its elements.
        let mut per_example = vec![1i64; size.len()];
        per_example[0] = -1;
        let coefficient = |values: Vec<f64>| -> Result<Tensor> {
            Ok(Tensor::from_slice(&values)
                .f_to_kind(x0.kind())?
                .f_to_device(x0.device())?
                .f_reshape(&per_example)?)
        };
        let signal = coefficient(signal)?;
        let spread = coefficient(spread)?;
        Ok(x0.f_mul(&signal)?.f_add(&noise.f_mul(&spread)?)?)
    }
}

#[cfg(test)]
mod tests {
    use std::f64::consts::FRAC_PI_2;

    use exp_plugin_api::sdk::Rng;
    use exp_plugin_api::tch::{Kind, Tensor};

    use super::{NoiseSchedule, Schedule};

    fn assert_close(actual: &[f64], expected: &[f64]) {
        assert_eq!(actual.len(), expected.len());
        for (a, e) in actual.iter().zip(expected) {
            assert!(
                (a - e).abs() <= 1e-12 * e.abs().max(1e-30),
                "{actual:?} vs {expected:?}"
            );
        }
    }

    #[test]
    fn linear_alphas_cumprod_by_hand() {
        // T = 4: β = 1e-4, then steps of (0.02 − 1e-4)/3 = 0.0199/3 up to 0.02.
        let b = [0.0001, 0.0001 + 0.0199 / 3.0, 0.0001 + 0.0398 / 3.0, 0.02];
        let expected = [
            1.0 - b[0],
            (1.0 - b[0]) * (1.0 - b[1]),
            (1.0 - b[0]) * (1.0 - b[1]) * (1.0 - b[2]),
            (1.0 - b[0]) * (1.0 - b[1]) * (1.0 - b[2]) * (1.0 - b[3]),
        ];
        let schedule = Schedule::new(NoiseSchedule::Linear, 4);
        assert_close(schedule.alphas_cumprod(), &expected);
        assert!((expected[3] - 0.9999 * 0.993266667 * 0.986633333 * 0.98).abs() < 1e-8);
    }

    #[test]
    fn scaled_linear_alphas_cumprod_by_hand() {
        // √0.00085 = 0.0291547594742265 and √0.012 = 0.1095445115010332, evenly spaced.
        let roots = [
            0.0291547594742265,
            0.05595134348316208,
            0.08274792749209765,
            0.10954451150103323,
        ];
        let b: Vec<f64> = roots.iter().map(|root| root * root).collect();
        assert!((b[0] - 0.00085).abs() < 1e-15 && (b[3] - 0.012).abs() < 1e-15);
        let expected = [
            1.0 - b[0],
            (1.0 - b[0]) * (1.0 - b[1]),
            (1.0 - b[0]) * (1.0 - b[1]) * (1.0 - b[2]),
            (1.0 - b[0]) * (1.0 - b[1]) * (1.0 - b[2]) * (1.0 - b[3]),
        ];
        let schedule = Schedule::new(NoiseSchedule::ScaledLinear, 4);
        assert_close(schedule.alphas_cumprod(), &expected);
    }

    #[test]
    fn cosine_alphas_cumprod_by_hand() {
        // Without the cap, ᾱ_t = f((t + 1)/T)/f(0): the ratios of the betas telescope.
        let f = |s: f64| ((s + 0.008) / 1.008 * FRAC_PI_2).cos().powi(2);
        // f(1) = cos²(π/2) ≈ 0, so β_3 would be 1: it is capped at 0.999.
        let expected = [
            f(0.25) / f(0.0),
            f(0.5) / f(0.0),
            f(0.75) / f(0.0),
            f(0.75) / f(0.0) * (1.0 - 0.999),
        ];
        let schedule = Schedule::new(NoiseSchedule::Cosine, 4);
        assert_close(schedule.alphas_cumprod(), &expected);
        // The same values as decimals (Python's math module).
        let decimals = [
            0.8470121613269047,
            0.49384359044063775,
            0.1442721023857358,
            0.0001442721023857358,
        ];
        for (value, decimal) in schedule.alphas_cumprod().iter().zip(decimals) {
            assert!((value - decimal).abs() < 1e-12, "{value} vs {decimal}");
        }
    }

    #[test]
    fn alphas_cumprod_decrease_from_near_one() {
        for kind in [
            NoiseSchedule::Linear,
            NoiseSchedule::ScaledLinear,
            NoiseSchedule::Cosine,
        ] {
            let schedule = Schedule::new(kind, 1000);
            assert_eq!((schedule.len(), schedule.is_empty()), (1000, false));
            let alphas = schedule.alphas_cumprod();
            assert!(alphas[0] < 1.0 && alphas[0] > 0.999, "{kind:?}");
            assert!(alphas.windows(2).all(|pair| pair[1] < pair[0]), "{kind:?}");
            assert!(alphas[999] > 0.0 && alphas[999] < 0.01, "{kind:?}");
            assert!(kind
                .betas(1000)
                .iter()
                .all(|beta| *beta > 0.0 && *beta <= 0.999));
        }
        assert_eq!(NoiseSchedule::Linear.betas(1), vec![1e-4]);
        assert_eq!(NoiseSchedule::ScaledLinear.word(), "scaled_linear");
    }

    #[test]
    fn forward_process_has_the_closed_form_statistics() {
        let schedule = Schedule::new(NoiseSchedule::Linear, 1000);
        let (draws, step) = (20_000usize, 300usize);
        let alpha_bar = schedule.alphas_cumprod()[step];
        let x0_values = [-1.0f32, -0.25, 0.5, 1.0];
        let x0 = Tensor::from_slice(&x0_values)
            .reshape([1, 4])
            .expand([draws as i64, 4], false);
        let noise = Rng::new(11).normal(&[draws as i64, 4], 1.0);
        let timesteps = vec![step as i64; draws];
        let xt = schedule.q_sample(&x0, &timesteps, &noise).unwrap();
        let mean = Vec::<f64>::try_from(xt.mean_dim(0, false, Kind::Double)).unwrap();
        let variance =
            Vec::<f64>::try_from(xt.to_kind(Kind::Double).var_dim(0, true, false)).unwrap();
        // x_t ~ N(√ᾱ·x0, 1 − ᾱ): the sample mean has standard error √((1 − ᾱ)/N) and the sample
        // variance √(2/(N − 1))·(1 − ᾱ); five standard errors is far beyond chance.
        let n = draws as f64;
        let mean_error = 5.0 * ((1.0 - alpha_bar) / n).sqrt();
        let variance_error = 5.0 * (2.0 / (n - 1.0)).sqrt() * (1.0 - alpha_bar);
        for (column, x) in x0_values.iter().enumerate() {
            let expected = alpha_bar.sqrt() * f64::from(*x);
            assert!((mean[column] - expected).abs() < mean_error, "{mean:?}");
            assert!(
                (variance[column] - (1.0 - alpha_bar)).abs() < variance_error,
                "{variance:?}"
            );
        }
    }

    #[test]
    fn forward_process_refuses_mismatched_timesteps() {
        let schedule = Schedule::new(NoiseSchedule::Cosine, 10);
        let x0 = Tensor::zeros([2, 3], (Kind::Float, exp_plugin_api::tch::Device::Cpu));
        assert!(schedule.q_sample(&x0, &[1], &x0).is_err());
        let error = schedule.q_sample(&x0, &[1, 10], &x0).unwrap_err();
        assert!(error.message.contains("outside"), "{error}");
    }
}
