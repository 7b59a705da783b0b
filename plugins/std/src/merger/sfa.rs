//! `sfa`: averaging during training for continual learning (SFA). As a training hook, every
//! `every` steps of a phase and once more at its end the host sets, for each trainable tensor,
//! θ ← β·θ_anchor + (1 − β)·θ in place, where the anchor is the model at the start of the task
//! (`task_start`) or the result of the latest merge (`previous_merge`). `every: 100%` merges only
//! at the end, which is WiSE-FT with α = 1 − β. In a `merge` node it merges exactly two models,
//! anchor then current, with the same formula.

use exp_plugin_api::sdk::{
    Component, Config, Context, Duration, DurationUnit, HookAnchor, MergeHook, Merger, PluginError,
    Result,
};
use exp_plugin_api::tch::{no_grad, Tensor};

use super::same_shapes;

#[derive(Debug, Clone, Config)]
pub struct SfaConfig {
    /// time between merges (required): steps, epochs, or a fraction of the phase (`25%` is
    /// p = 0.25; `100%` merges once, at the end)
    pub every: Duration,
    /// weight of the anchor (the old model)
    #[param(default = 0.5, min = 0.0, max = 1.0, schedule)]
    pub beta: f64,
    /// what to average with: the model at the start of the task, or the latest merge
    #[param(default = "task_start")]
    pub anchor: HookAnchor,
    /// keep the optimizer's state (moments) across a merge
    #[param(default = true)]
    pub keep_optimizer: bool,
}

pub struct Sfa {
    /// Steps between merges; `None` when `every` arrived in another unit, which happens only
    /// outside a training phase (a `merge` node), where there is nothing to resolve it against.
    every: Option<u64>,
    beta: f64,
    anchor: HookAnchor,
    keep_optimizer: bool,
}

impl Component for Sfa {
    type Config = SfaConfig;
    const NAME: &'static str = "sfa";
    const VERSION: &'static str = "2";
    const DOC: &'static str = "averaging during training: every `every` steps and at the end of a \
                               phase, θ ← beta·θ_anchor + (1 − beta)·θ; as a merge, inputs are \
                               anchor then current";

    /// `every` is a positive time, at most the whole phase.
    fn check(config: &SfaConfig) -> Result<()> {
        let every = config.every;
        let positive = every.amount > 0.0 && every.amount.is_finite();
        if !positive || (every.unit == DurationUnit::Fraction && every.amount > 1.0) {
            return Err(PluginError::in_field(
                "every",
                "must be positive, and at most 100% of the phase",
            ));
        }
        Ok(())
    }

    fn create(config: SfaConfig, _context: &Context) -> Result<Self> {
        let every = config.every;
        Ok(Sfa {
            // A fraction resolved by the host can round below one step; merging every step is
            // the closest it can get.
            every: (every.unit == DurationUnit::Steps)
                .then(|| every.amount.round().max(1.0) as u64),
            beta: config.beta,
            anchor: config.anchor,
            keep_optimizer: config.keep_optimizer,
        })
    }

    /// `beta` may follow a schedule over the phase (`beta: linear { .. }`).
    fn reconfigure(&mut self, config: &SfaConfig) -> Result<()> {
        self.beta = config.beta;
        Ok(())
    }
}

impl Merger for Sfa {
    fn merge(&self, name: &str, inputs: &[Tensor]) -> Result<Tensor> {
        if inputs.len() != 2 {
            return Err(PluginError::new(format!(
                "sfa merges exactly 2 models (anchor, current), got {}",
                inputs.len()
            )));
        }
        same_shapes(name, inputs)?;
        no_grad(|| {
            Ok(inputs[0]
                .f_mul_scalar(self.beta)?
                .f_add(&inputs[1].f_mul_scalar(1.0 - self.beta)?)?)
        })
    }

    fn as_hook(&self) -> Option<MergeHook> {
        Some(MergeHook {
            every: self.every?,
            anchor: self.anchor,
            keep_optimizer: self.keep_optimizer,
        })
    }
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::{build, Context, HookAnchor, MergeHook, Merger};
    use exp_plugin_api::tch::{no_grad, Kind, Tensor};
    use serde_json::json;

    use super::Sfa;

    fn sfa(params: serde_json::Value) -> exp_plugin_api::sdk::Result<Sfa> {
        let context = Context {
            seed: 0,
            device: "cpu".into(),
            data: None,
        };
        build::<Sfa>(params, &context)
    }

    fn steps(every: u64, anchor: &str) -> Sfa {
        sfa(json!({
            "every": { "amount": every, "unit": "steps" },
            "beta": 0.5,
            "anchor": anchor,
            "keep_optimizer": true,
        }))
        .unwrap()
    }

    fn value(tensor: &Tensor) -> f64 {
        f64::try_from(tensor).unwrap()
    }

    /// Plays the host: gradient descent with lr 0.1 on L(θ) = ½(θ − 1)² from θ_o = 0 for
    /// `total` steps; after each step whose 1-based index is a multiple of `every`, and after the
    /// last, the live weight is replaced in place by `merge(name, [anchor, θ])`. With
    /// `previous_merge` the anchor then becomes the merged weight.
    fn train_with_hook(merger: &Sfa, total: u64) -> f64 {
        let hook = merger.as_hook().unwrap();
        let theta = Tensor::zeros([1], (Kind::Double, exp_plugin_api::tch::Device::Cpu))
            .set_requires_grad(true);
        let mut anchor = theta.detach().copy();
        for step in 1..=total {
            let mut param = theta.shallow_clone();
            param.zero_grad();
            let loss = (&theta - 1.0).square().sum(Kind::Double) * 0.5;
            loss.backward();
            no_grad(|| {
                let _ = param.f_sub_(&(theta.grad() * 0.1)).unwrap();
            });
            if step % hook.every == 0 || step == total {
                let merged = merger
                    .merge("w", &[anchor.shallow_clone(), theta.detach()])
                    .unwrap();
                no_grad(|| param.copy_(&merged));
                if hook.anchor == HookAnchor::PreviousMerge {
                    anchor = merged;
                }
            }
        }
        value(&theta.detach())
    }

    /// SPEC §1's oracle, T = 100, β = 0.5: p = 1 merges once (every 100 steps), p = 0.25 every
    /// 25, p = 0.01 every step, whose fixed point θ = 0.5·(0.9θ + 0.1) is 1/11.
    #[test]
    fn matches_the_spec_oracle() {
        for (every, expected, tolerance) in [
            (100, 0.4999867, 1e-7),
            (25, 0.4813835, 1e-7),
            (1, 1.0 / 11.0, 1e-12),
        ] {
            let got = train_with_hook(&steps(every, "task_start"), 100);
            assert!(
                (got - expected).abs() < tolerance,
                "every {every}: θ_T = {got}, expected {expected}"
            );
        }
    }

    /// Two steps of the same descent, merging after each: with θ_o = 0,
    /// step 1: θ = 0.1, merged 0.5·0 + 0.5·0.1 = 0.05, the new anchor;
    /// step 2: θ = 0.05 + 0.1·0.95 = 0.145, merged 0.5·0.05 + 0.5·0.145 = 0.0975.
    /// With `task_start` step 2 would give 0.5·0 + 0.5·0.145 = 0.0725 instead.
    #[test]
    fn previous_merge_averages_with_the_latest_merge() {
        let previous = train_with_hook(&steps(1, "previous_merge"), 2);
        assert!((previous - 0.0975).abs() < 1e-12, "{previous}");
        let start = train_with_hook(&steps(1, "task_start"), 2);
        assert!((start - 0.0725).abs() < 1e-12, "{start}");
    }

    #[test]
    fn merge_weights_the_anchor_by_beta() {
        let merger = sfa(json!({
            "every": { "amount": 10, "unit": "steps" },
            "beta": 0.25,
            "anchor": "task_start",
            "keep_optimizer": false,
        }))
        .unwrap();
        let merged = merger
            .merge(
                "w",
                &[
                    Tensor::from_slice(&[4.0f32, 0.0]),
                    Tensor::from_slice(&[0.0f32, 8.0]),
                ],
            )
            .unwrap();
        // 0.25·4 + 0.75·0 = 1; 0.25·0 + 0.75·8 = 6.
        assert_eq!(Vec::<f32>::try_from(&merged).unwrap(), vec![1.0, 6.0]);
        assert_eq!(
            merger.as_hook(),
            Some(MergeHook {
                every: 10,
                anchor: HookAnchor::TaskStart,
                keep_optimizer: false
            })
        );
        let error = merger
            .merge("w", &[Tensor::from_slice(&[1.0f32])])
            .unwrap_err();
        assert!(error.message.contains("exactly 2"), "{}", error.message);
    }

    #[test]
    fn refuses_an_unknown_anchor_naming_the_choices() {
        let error = sfa(json!({
            "every": { "amount": 0.25, "unit": "fraction" },
            "beta": 0.5,
            "anchor": "epoch_start",
            "keep_optimizer": true,
        }))
        .err()
        .unwrap();
        assert_eq!(error.field.as_deref(), Some("anchor"));
        assert!(
            error.message.contains("task_start") && error.message.contains("previous_merge"),
            "{}",
            error.message
        );
    }

    #[test]
    fn every_needs_a_positive_time_and_steps_to_hook() {
        let zero = sfa(json!({
            "every": { "amount": 0, "unit": "steps" },
            "beta": 0.5,
            "anchor": "task_start",
            "keep_optimizer": true,
        }));
        assert_eq!(zero.err().unwrap().field.as_deref(), Some("every"));
        let unresolved = sfa(json!({
            "every": { "amount": 0.25, "unit": "fraction" },
            "beta": 0.5,
            "anchor": "task_start",
            "keep_optimizer": true,
        }))
        .unwrap();
        assert_eq!(unresolved.as_hook(), None);
    }
}
