//! Resumable checkpoints of a phase under way: what is saved beside the weights (the
//! optimizer's, hooks' and samplers' state, the batch order, the log so far), and moving a
//! freshly built trainer on to the latest checkpoint of the same node.

use exp_plugin_api::sdk::SavedState;

use super::Trainer;
use crate::error::RunError;
use crate::nodes::batches::{MixtureSampler, ReplayBuffer};
use crate::nodes::resume::{Checkpoint, Progress};
use crate::nodes::resume_error::ResumeError;
use crate::nodes::{load_weights, snapshot};
use crate::precision::LossScale;

/// What a resumable checkpoint keeps beside the model: the optimizer's state, the hooks'
/// state and the replay generator, packed into one `SavedState` (tensors prefixed by owner).
struct TrainerState {
    optimizer: SavedState,
    hooks: SavedState,
    replay_rng: Option<u64>,
    mixture: serde_json::Value,
    /// An `fp16` phase's loss scale.
    loss_scale: Option<LossScale>,
}

impl<'a, 'r> Trainer<'a, 'r> {
    /// Moves on to the latest checkpoint of this very node (same cache key), if there is one
    /// that fits this phase; otherwise says why it is not used and starts at step 0.
    pub fn resume(&mut self) -> Result<(), RunError> {
        let ctx = self.ctx;
        let Some(resume) = &self.resume_dir else {
            return Ok(());
        };
        let checkpoint = match resume.load(ctx.device) {
            Ok(Some(checkpoint)) if checkpoint.progress.total == self.total => checkpoint,
            Ok(Some(checkpoint)) => {
                self.not_resumed(&format!(
                    "a checkpoint for {} steps does not fit this phase of {}",
                    checkpoint.progress.total, self.total
                ));
                return Ok(());
            }
            Ok(None) => return Ok(()),
            Err(problem) => {
                self.not_resumed(&format!("the latest checkpoint cannot be used ({problem})"));
                return Ok(());
            }
        };
        self.load(checkpoint)
    }

    fn not_resumed(&self, why: &str) {
        self.ctx
            .observer
            .message(self.ctx.node, &format!("{why}; starting at step 0"));
    }

    fn load(&mut self, checkpoint: Checkpoint) -> Result<(), RunError> {
        let ctx = self.ctx;
        let trainer = unpack(checkpoint.optimizer_state);
        // The samplers' state first, before anything is loaded: without it the run would not
        // continue as it was, so the checkpoint is not used at all.
        let samplers = match (&self.replay, trainer.replay_rng) {
            (Some(_), None) => Err(ResumeError::Missing {
                what: "the replay generator's state".to_string(),
            }),
            _ if self.loss_scale.is_some() && trainer.loss_scale.is_none() => {
                Err(ResumeError::Missing {
                    what: "the fp16 loss scale".to_string(),
                })
            }
            _ => match &mut self.mixture {
                Some(sampler) => sampler.restore(&trainer.mixture),
                None => Ok(()),
            },
        };
        if let Err(problem) = samplers {
            self.not_resumed(&format!("the latest checkpoint cannot be used ({problem})"));
            return Ok(());
        }
        let progress = checkpoint.progress;
        load_weights(ctx.name(), &mut self.model, &checkpoint.weights)?;
        self.model
            .load_state(&checkpoint.model_state)
            .map_err(|error| ctx.plugin_error(error))?;
        self.optimizer
            .load_state(&trainer.optimizer)
            .map_err(|error| ctx.plugin_error(error))?;
        self.hooks.load(ctx, trainer.hooks)?;
        if let (Some(buffer), Some(state)) = (&mut self.replay, trainer.replay_rng) {
            buffer.restore(state);
        }
        if self.loss_scale.is_some() {
            self.loss_scale = trainer.loss_scale;
        }
        self.order.restore(&progress.order);
        self.examples_seen = progress.examples_seen;
        self.last_finite = progress.last_finite;
        self.final_metrics = progress.metrics;
        ctx.run_dir.relog(ctx.name(), &progress.lines);
        self.step = progress.step;
        ctx.observer.message(
            ctx.node,
            &format!(
                "resumed from the checkpoint at step {} of {}",
                progress.step, self.total
            ),
        );
        ctx.observer.progress(ctx.node, self.step, self.last_finite);
        Ok(())
    }

    /// Writes a resumable checkpoint after `done` steps; a failure is reported and leaves the
    /// previous one intact. Returns whether the checkpoint was written.
    pub(super) fn save_checkpoint(&mut self, done: u64) -> bool {
        let ctx = self.ctx;
        let Some(resume) = &self.resume_dir else {
            return false;
        };
        let progress = Progress {
            step: done,
            total: self.total,
            order: self.order.state(),
            examples_seen: self.examples_seen,
            last_finite: self.last_finite,
            metrics: self.final_metrics.clone(),
            lines: ctx.run_dir.logged_by(ctx.name()),
            model_data: serde_json::Value::Null,
            optimizer_data: serde_json::Value::Null,
            files: Vec::new(),
        };
        let states = self
            .model
            .save_state()
            .and_then(|model_state| {
                self.optimizer
                    .save_state()
                    .map(|optimizer_state| (model_state, optimizer_state))
            })
            .map_err(|error| error.to_string())
            .and_then(|(model_state, optimizer)| {
                let hooks = self.hooks.save(ctx).map_err(|error| error.to_string())?;
                let trainer = pack(TrainerState {
                    optimizer,
                    hooks,
                    replay_rng: self.replay.as_ref().map(ReplayBuffer::rng_state),
                    mixture: self
                        .mixture
                        .as_ref()
                        .map_or(serde_json::Value::Null, MixtureSampler::state),
                    loss_scale: self.loss_scale.clone(),
                });
                Ok((model_state, trainer))
            });
        let (model_state, trainer_state) = match states {
            Ok(states) => states,
            Err(error) => {
                ctx.observer.message(
                    ctx.node,
                    &format!("this phase cannot be checkpointed for resuming: {error}"),
                );
                return false;
            }
        };
        let weights = match snapshot(ctx.name(), &mut self.model) {
            Ok(weights) => weights,
            Err(error) => {
                ctx.observer.message(
                    ctx.node,
                    &format!("could not snapshot the weights at step {done}: {error}"),
                );
                return false;
            }
        };
        match resume.save(progress, &weights, &model_state, &trainer_state) {
            Ok(()) => true,
            Err(problem) => {
                ctx.observer.message(
                    ctx.node,
                    &format!(
                        "could not write the checkpoint at step {done} ({problem}); the \
                         previous one is intact"
                    ),
                );
                false
            }
        }
    }
}

fn pack(state: TrainerState) -> SavedState {
    let mut tensors = Vec::new();
    for (owner, part) in [("optimizer/", &state.optimizer), ("hooks/", &state.hooks)] {
        for (name, tensor) in &part.tensors {
            tensors.push((format!("{owner}{name}"), tensor.shallow_clone()));
        }
    }
    SavedState {
        tensors,
        data: serde_json::json!({
            "optimizer": state.optimizer.data,
            "hooks": state.hooks.data,
            "replay_rng": state.replay_rng,
            "mixture": state.mixture,
            "loss_scale": state.loss_scale.as_ref().map(LossScale::to_json),
        }),
    }
}

fn unpack(saved: SavedState) -> TrainerState {
    let mut optimizer = Vec::new();
    let mut hooks = Vec::new();
    for (name, tensor) in saved.tensors {
        if let Some(rest) = name.strip_prefix("optimizer/") {
            optimizer.push((rest.to_string(), tensor));
        } else if let Some(rest) = name.strip_prefix("hooks/") {
            hooks.push((rest.to_string(), tensor));
        }
    }
    TrainerState {
        optimizer: SavedState {
            tensors: optimizer,
            data: saved.data["optimizer"].clone(),
        },
        hooks: SavedState {
            tensors: hooks,
            data: saved.data["hooks"].clone(),
        },
        replay_rng: saved.data["replay_rng"].as_u64(),
        mixture: saved.data["mixture"].clone(),
        loss_scale: LossScale::from_json(&saved.data["loss_scale"]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Tensor;

    #[test]
    fn trainer_state_survives_packing() {
        let state = TrainerState {
            optimizer: SavedState {
                tensors: vec![("m.w".into(), Tensor::from_slice(&[1.0f32, 2.0]))],
                data: serde_json::json!({"t": 3}),
            },
            hooks: SavedState {
                tensors: vec![("fisher.w".into(), Tensor::from_slice(&[5.0f32]))],
                data: serde_json::json!(["ewc"]),
            },
            replay_rng: Some(42),
            mixture: serde_json::json!({"rng": 7}),
            loss_scale: Some(LossScale {
                scale: 512.0,
                good_steps: 3,
                skipped: 2,
            }),
        };
        let back = unpack(pack(state));
        assert_eq!(back.optimizer.tensors.len(), 1);
        assert_eq!(back.optimizer.tensors[0].0, "m.w");
        assert_eq!(
            Vec::<f32>::try_from(&back.optimizer.tensors[0].1).unwrap(),
            vec![1.0, 2.0]
        );
        assert_eq!(back.hooks.tensors[0].0, "fisher.w");
        assert_eq!(back.optimizer.data, serde_json::json!({"t": 3}));
        assert_eq!(back.hooks.data, serde_json::json!(["ewc"]));
        assert_eq!(back.replay_rng, Some(42));
        assert_eq!(back.mixture, serde_json::json!({"rng": 7}));
        assert_eq!(
            back.loss_scale,
            Some(LossScale {
                scale: 512.0,
                good_steps: 3,
                skipped: 2
            })
        );
    }
}
