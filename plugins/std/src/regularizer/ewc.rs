//! `ewc`: elastic weight consolidation (Kirkpatrick et al., 2017),
//! (λ/2)·Σ_i F_i·(θ_i − θ*_i)², with F a diagonal Fisher the host estimates at the end of each
//! task and θ* the weights that task ended with.
//!
//! `mode = "online"` (Schwarz et al., 2018) keeps one running Fisher, F ← γ·F + F_new, and the
//! latest θ*; `mode = "separate"` keeps (θ*_t, F_t) for every finished task and sums their
//! penalties. Before the first task has ended the penalty is zero.

use std::collections::BTreeMap;

use exp_plugin_api::sdk::{
    Choice, Component, Config, Context, FisherEstimator, FisherRequest, PluginError, Regularizer,
    Result, SavedState, Stateful,
};
use exp_plugin_api::serde_json::json;
use exp_plugin_api::tch::Tensor;

use super::scalar_zero;

/// How the Fisher of several tasks is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Choice)]
pub enum Mode {
    Online,
    Separate,
}

#[derive(Debug, Clone, Config)]
pub struct EwcConfig {
    /// strength
    #[param(default = 100.0, min = 0.0, schedule)]
    pub lambda: f64,
    /// Fisher from the true labels, or from labels sampled from the model's predictions
    #[param(default = "empirical")]
    pub estimator: FisherEstimator,
    /// square each example's gradient (true) or each batch's mean gradient
    #[param(default = true)]
    pub per_example: bool,
    /// one running Fisher (online) or one penalty per earlier task (separate)
    #[param(default = "online")]
    pub mode: Mode,
    /// online mode: weight γ of the earlier Fisher, F ← γ·F + F_new
    #[param(default = 1.0, min = 0.0, max = 1.0)]
    pub decay: f64,
    /// training batches the Fisher is estimated from
    #[param(default = 10, min = 1.0)]
    pub batches: u64,
}

/// A finished task's weights θ* and diagonal Fisher F, by tensor name.
type Consolidated = BTreeMap<String, (Tensor, Tensor)>;

pub struct Ewc {
    lambda: f64,
    estimator: FisherEstimator,
    per_example: bool,
    mode: Mode,
    decay: f64,
    batches: u64,
    /// At most one entry in online mode; one per finished task in separate mode.
    tasks: Vec<Consolidated>,
}

impl Component for Ewc {
    type Config = EwcConfig;
    const NAME: &'static str = "ewc";
    const VERSION: &'static str = "2";
    const DOC: &'static str = "elastic weight consolidation: (lambda/2)·Σ F·(θ − θ*)², with a \
                               diagonal Fisher F estimated at the end of each task";

    fn create(config: EwcConfig, _context: &Context) -> Result<Self> {
        Ok(Ewc {
            lambda: config.lambda,
            estimator: config.estimator,
            per_example: config.per_example,
            mode: config.mode,
            decay: config.decay,
            batches: config.batches,
            tasks: Vec::new(),
        })
    }

    /// `lambda` may follow a schedule over the phase.
    fn reconfigure(&mut self, config: &EwcConfig) -> Result<()> {
        self.lambda = config.lambda;
        Ok(())
    }
}

/// Saved as tensors `<task>.theta.<name>` and `<task>.fisher.<name>`, with the mode and the
/// number of tasks in the data.
impl Stateful for Ewc {
    fn save_state(&self) -> Result<SavedState> {
        let mut tensors = Vec::new();
        for (index, task) in self.tasks.iter().enumerate() {
            for (name, (theta, fisher)) in task {
                tensors.push((format!("{index}.theta.{name}"), theta.shallow_clone()));
                tensors.push((format!("{index}.fisher.{name}"), fisher.shallow_clone()));
            }
        }
        Ok(SavedState {
            tensors,
            data: json!({ "mode": self.mode.word(), "tasks": self.tasks.len() }),
        })
    }

    fn load_state(&mut self, state: SavedState) -> Result<()> {
        let mode = state.data["mode"].as_str();
        if mode != Some(self.mode.word()) {
            return Err(PluginError::new(format!(
                "saved ewc state is for mode {}, not {}",
                mode.unwrap_or("(none)"),
                self.mode.word()
            )));
        }
        let n_tasks = state.data["tasks"]
            .as_u64()
            .ok_or_else(|| PluginError::new("saved ewc state lacks `tasks`"))?
            as usize;
        let mut thetas: Vec<BTreeMap<String, Tensor>> =
            (0..n_tasks).map(|_| BTreeMap::new()).collect();
        let mut fishers: Vec<BTreeMap<String, Tensor>> =
            (0..n_tasks).map(|_| BTreeMap::new()).collect();
        for (key, tensor) in state.tensors {
            let unexpected = || PluginError::new(format!("unexpected saved ewc tensor `{key}`"));
            let (index, rest) = key.split_once('.').ok_or_else(unexpected)?;
            let index: usize = index
                .parse()
                .ok()
                .filter(|index| *index < n_tasks)
                .ok_or_else(unexpected)?;
            let (slot, name) = rest.split_once('.').ok_or_else(unexpected)?;
            let target = match slot {
                "theta" => &mut thetas[index],
                "fisher" => &mut fishers[index],
                _ => return Err(unexpected()),
            };
            target.insert(name.to_string(), tensor.f_detach()?.copy());
        }
        self.tasks = thetas
            .into_iter()
            .zip(fishers)
            .map(|(thetas, mut fishers)| {
                thetas
                    .into_iter()
                    .map(|(name, theta)| {
                        let fisher = fishers.remove(&name).ok_or_else(|| {
                            PluginError::new(format!(
                                "saved ewc state lacks the Fisher of `{name}`"
                            ))
                        })?;
                        Ok((name, (theta, fisher)))
                    })
                    .collect::<Result<Consolidated>>()
            })
            .collect::<Result<_>>()?;
        Ok(())
    }
}

impl Regularizer for Ewc {
    /// θ* comes from `end_task`, so the start of a phase changes nothing.
    fn anchor(&mut self, _params: &[(String, Tensor)]) -> Result<()> {
        Ok(())
    }

    fn penalty(&self, params: &[(String, Tensor)]) -> Result<Tensor> {
        let mut total = scalar_zero(params);
        for task in &self.tasks {
            for (name, tensor) in params {
                let (theta, fisher) = task.get(name).ok_or_else(|| {
                    PluginError::new(format!(
                        "no Fisher for tensor `{name}`: it was not trained in an earlier task"
                    ))
                })?;
                let term = tensor
                    .f_sub(theta)?
                    .f_square()?
                    .f_mul(fisher)?
                    .f_sum(total.kind())?;
                total = total.f_add(&term)?;
            }
        }
        Ok(total.f_mul_scalar(self.lambda / 2.0)?)
    }

    fn fisher_request(&self) -> Option<FisherRequest> {
        Some(FisherRequest {
            estimator: self.estimator,
            per_example: self.per_example,
            batches: self.batches,
        })
    }

    fn end_task(
        &mut self,
        params: &[(String, Tensor)],
        fisher: Option<&[(String, Tensor)]>,
    ) -> Result<()> {
        let fisher = fisher.ok_or_else(|| {
            PluginError::new("ewc needs the diagonal Fisher at the end of a task, and got none")
        })?;
        let mut task = Consolidated::new();
        for (name, theta) in params {
            let (_, estimate) = fisher
                .iter()
                .find(|(fisher_name, _)| fisher_name == name)
                .ok_or_else(|| PluginError::new(format!("no Fisher for tensor `{name}`")))?;
            if estimate.size() != theta.size() {
                return Err(PluginError::new(format!(
                    "the Fisher of tensor `{name}` has shape {:?}, the tensor {:?}",
                    estimate.size(),
                    theta.size()
                )));
            }
            task.insert(
                name.clone(),
                // `detach` then `copy`: see `super::detached` on `detach_copy`.
                (theta.f_detach()?.copy(), estimate.f_detach()?.copy()),
            );
        }
        match self.mode {
            Mode::Separate => self.tasks.push(task),
            Mode::Online => {
                if let Some(previous) = self.tasks.pop() {
                    for (name, (_, estimate)) in task.iter_mut() {
                        if let Some((_, earlier)) = previous.get(name) {
                            if earlier.size() == estimate.size() {
                                *estimate = earlier.f_mul_scalar(self.decay)?.f_add(estimate)?;
                            }
                        }
                    }
                }
                self.tasks.push(task);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::{
        build, Context, FisherEstimator, FisherRequest, Regularizer, Stateful,
    };
    use exp_plugin_api::tch::Tensor;
    use serde_json::json;

    use super::Ewc;

    fn ewc(mode: &str, decay: f64) -> Ewc {
        let params = json!({
            "lambda": 2.0,
            "estimator": "sampled",
            "per_example": false,
            "mode": mode,
            "decay": decay,
            "batches": 4,
        });
        let context = Context {
            seed: 0,
            device: "cpu".into(),
            data: None,
        };
        build::<Ewc>(params, &context).unwrap()
    }

    fn named(values: &[f64]) -> Vec<(String, Tensor)> {
        vec![("w".into(), Tensor::from_slice(values))]
    }

    fn penalty(ewc: &Ewc, theta: &[f64]) -> f64 {
        f64::try_from(&ewc.penalty(&named(theta)).unwrap()).unwrap()
    }

    /// Task 1 ends at θ* = [1, 2] with F = [0.5, 2]; task 2 at θ* = [0, 0] with F = [1, 1].
    fn two_tasks(ewc: &mut Ewc) {
        ewc.end_task(&named(&[1.0, 2.0]), Some(&named(&[0.5, 2.0])))
            .unwrap();
        ewc.end_task(&named(&[0.0, 0.0]), Some(&named(&[1.0, 1.0])))
            .unwrap();
    }

    /// After task 1, at θ = [3, 1]: (2/2)·(0.5·(3 − 1)² + 2·(1 − 2)²) = 2 + 2 = 4, with gradient
    /// λ·F·(θ − θ*) = 2·[0.5·2, 2·(−1)] = [2, −4]. Zero before any task has ended.
    #[test]
    fn penalty_after_one_task() {
        let mut ewc = ewc("online", 1.0);
        assert_eq!(penalty(&ewc, &[3.0, 1.0]), 0.0);
        ewc.end_task(&named(&[1.0, 2.0]), Some(&named(&[0.5, 2.0])))
            .unwrap();
        assert!((penalty(&ewc, &[3.0, 1.0]) - 4.0).abs() < 1e-12);
        let theta = Tensor::from_slice(&[3.0f64, 1.0]).set_requires_grad(true);
        ewc.penalty(&[("w".into(), theta.shallow_clone())])
            .unwrap()
            .backward();
        assert_eq!(
            Vec::<f64>::try_from(&theta.grad()).unwrap(),
            vec![2.0, -4.0]
        );
    }

    /// γ = 0.5: F = 0.5·[0.5, 2] + [1, 1] = [1.25, 2], θ* = [0, 0];
    /// at θ = [1, 1]: (2/2)·(1.25·1 + 2·1) = 3.25.
    #[test]
    fn online_mode_decays_the_running_fisher() {
        let mut ewc = ewc("online", 0.5);
        two_tasks(&mut ewc);
        assert_eq!(ewc.tasks.len(), 1);
        assert!((penalty(&ewc, &[1.0, 1.0]) - 3.25).abs() < 1e-12);
    }

    /// At θ = [1, 1]: task 1 gives 0.5·0² + 2·(−1)² = 2, task 2 gives 1·1 + 1·1 = 2;
    /// (2/2)·(2 + 2) = 4.
    #[test]
    fn separate_mode_sums_a_penalty_per_task() {
        let mut ewc = ewc("separate", 0.5);
        two_tasks(&mut ewc);
        assert_eq!(ewc.tasks.len(), 2);
        assert!((penalty(&ewc, &[1.0, 1.0]) - 4.0).abs() < 1e-12);
    }

    #[test]
    fn state_survives_save_and_load() {
        for (mode, expected) in [("separate", 4.0), ("online", 3.25)] {
            let mut trained = ewc(mode, 0.5);
            two_tasks(&mut trained);
            let mut restored = ewc(mode, 0.5);
            restored.load_state(trained.save_state().unwrap()).unwrap();
            assert!((penalty(&restored, &[1.0, 1.0]) - expected).abs() < 1e-12);
        }
        let mut separate = ewc("separate", 1.0);
        two_tasks(&mut separate);
        let error = ewc("online", 1.0)
            .load_state(separate.save_state().unwrap())
            .unwrap_err();
        assert!(error.message.contains("mode separate"), "{}", error.message);
    }

    #[test]
    fn asks_for_the_fisher_it_was_configured_with() {
        let mut ewc = ewc("online", 1.0);
        assert_eq!(
            ewc.fisher_request(),
            Some(FisherRequest {
                estimator: FisherEstimator::Sampled,
                per_example: false,
                batches: 4,
            })
        );
        let error = ewc.end_task(&named(&[1.0]), None).unwrap_err();
        assert!(error.message.contains("Fisher"), "{}", error.message);
    }

    #[test]
    fn refuses_an_unknown_mode_naming_the_choices() {
        let params = json!({
            "lambda": 1.0,
            "estimator": "empirical",
            "per_example": true,
            "mode": "joint",
            "decay": 1.0,
            "batches": 10,
        });
        let context = Context {
            seed: 0,
            device: "cpu".into(),
            data: None,
        };
        let error = build::<Ewc>(params, &context).err().unwrap();
        assert_eq!(error.field.as_deref(), Some("mode"));
        assert!(
            error
                .message
                .contains("must be one of \"online\", \"separate\""),
            "{}",
            error.message
        );
    }
}
