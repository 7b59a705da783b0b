//! One optimizer step: scheduled parameters move, a batch is drawn (from the batch order or
//! the mixture, plus replayed examples), the loss and any hook penalty are backpropagated, the
//! optimizer steps; then logging, evaluation, checkpointing and an asked-for stop.

use std::sync::atomic::Ordering;
use std::time::Instant;

use exp_plugin_api::sdk::Split;
use tch::Tensor;

use super::Trainer;
use crate::error::RunError;
use crate::nodes::evaluate::{check_output, evaluate_model};
use crate::nodes::schedules;

impl<'a, 'r> Trainer<'a, 'r> {
    /// Takes the next step, and whatever is due after it.
    pub fn train_step(&mut self) -> Result<(), RunError> {
        let started = Instant::now();
        let step = self.step;
        let loss = self.update(step)?;
        let done = step + 1;
        self.step = done;
        self.step_seconds.push(started.elapsed().as_secs_f64());
        if done % self.log_every == 0 || done == self.total {
            self.log_loss(&loss, done)?;
        }
        let eval_now = self.eval_every.is_some_and(|every| done % every == 0) || done == self.total;
        if eval_now && !self.evaluators.is_empty() {
            self.evaluate(done)?;
        }
        self.checkpoint_or_stop(done)
    }

    /// Everything from the scheduled parameters to the optimizer's step; returns the loss.
    fn update(&mut self, step: u64) -> Result<Tensor, RunError> {
        let ctx = self.ctx;
        let total = self.total;
        let optimizer = &mut self.optimizer;
        schedules::advance(
            ctx,
            &mut self.optimizer_schedules,
            step,
            total,
            |name, value| optimizer.set_param(name, value),
        )?;
        let model = &mut self.model;
        schedules::advance(
            ctx,
            &mut self.model_schedules,
            step,
            total,
            |name, value| model.set_param(name, value),
        )?;
        self.hooks.advance(ctx, step, total)?;
        let (x, y) = self.batch(step)?;
        for param in &self.trainable {
            let mut param = param.shallow_clone();
            param.zero_grad();
        }
        let data_loss = self.loss(&x, &y, step)?;
        let loss = match self.hooks.penalty(ctx, &self.named_trainable, step + 1)? {
            Some(penalty) => data_loss + penalty,
            None => data_loss,
        };
        loss.f_backward().map_err(|error| {
            RunError::tensor(ctx.name(), &format!("backward at step {}", step + 1), error)
        })?;
        self.optimizer
            .step(&self.trainable)
            .map_err(|error| ctx.plugin_error_at(error, step + 1))?;
        let done = step + 1;
        if !self.hooks.is_empty()
            && self
                .hooks
                .after_step(ctx, &self.named_trainable, done, total)?
        {
            self.optimizer = ctx.optimizer(&self.optimizer_ref, &self.context)?;
            schedules::reset(&mut self.optimizer_schedules, &self.optimizer_ref);
        }
        Ok(loss)
    }

    /// The step's inputs and targets: the next batch of the order (or mixture), with the
    /// replayed examples appended.
    fn batch(&mut self, step: u64) -> Result<(Tensor, Tensor), RunError> {
        let ctx = self.ctx;
        let mixed;
        let indices = match &mut self.mixture {
            Some(sampler) => {
                mixed = sampler.next_batch(step);
                &mixed[..]
            }
            None => self.order.next_batch(),
        };
        self.examples_seen += indices.len() as u64;
        let (x, y) = self
            .sources
            .batch(indices)
            .map_err(|error| ctx.plugin_error_at(error, step + 1))?;
        let Some(buffer) = &mut self.replay else {
            return Ok((x, y));
        };
        let (rx, ry) = self
            .earlier
            .batch(&buffer.draw())
            .map_err(|error| ctx.plugin_error_at(error, step + 1))?;
        Ok((Tensor::cat(&[x, rx], 0), Tensor::cat(&[y, ry], 0)))
    }

    fn loss(&mut self, x: &Tensor, y: &Tensor, step: u64) -> Result<Tensor, RunError> {
        let ctx = self.ctx;
        match self.model.loss(x, y) {
            Ok(loss) => Ok(loss),
            Err(error) => {
                // A loss that fails may be a model whose output breaks its contract (a head
                // with the wrong number of classes fails as "target out of bounds"); say so
                // with the shapes when it is. Only on this failure path, so the extra forward
                // changes no run that succeeds.
                let output = tch::no_grad(|| self.model.forward(x, false));
                if let Ok(output) = output {
                    check_output(ctx, &self.model, &output, y, self.data().info.classes)?;
                }
                Err(ctx.plugin_error_at(error, step + 1))
            }
        }
    }

    fn log_loss(&mut self, loss: &Tensor, done: u64) -> Result<(), RunError> {
        let ctx = self.ctx;
        // Reading the loss synchronises with the device, so it happens only when logging.
        let value =
            f64::try_from(loss).map_err(|error| RunError::tensor(ctx.name(), "item", error))?;
        if !value.is_finite() {
            return Err(RunError::NonFiniteLoss {
                node: ctx.name().to_string(),
                step: done,
                last_finite: self.last_finite,
            });
        }
        self.last_finite = Some(value);
        ctx.run_dir
            .log_metric(ctx.name(), Some(done), "train", "loss", value);
        ctx.observer.progress(ctx.node, done, Some(value));
        Ok(())
    }

    /// Evaluates on the test split of the first training dataset, logging every metric.
    fn evaluate(&mut self, done: u64) -> Result<(), RunError> {
        let ctx = self.ctx;
        let data = self.data();
        let metrics = evaluate_model(
            ctx,
            &mut self.model,
            data,
            Split::Test,
            &mut self.evaluators,
        )?;
        for name in &metrics.order {
            ctx.run_dir
                .log_metric(ctx.name(), Some(done), "test", name, metrics.values[name]);
        }
        self.final_metrics = metrics;
        Ok(())
    }

    /// Writes a resumable checkpoint when one is due or a stop was asked for, then stops if
    /// asked (the run can resume from that checkpoint).
    fn checkpoint_or_stop(&mut self, done: u64) -> Result<(), RunError> {
        let stopping = self.ctx.stop.load(Ordering::SeqCst) && done < self.total;
        let due = done % self.checkpoint_every == 0 || stopping;
        let checkpointed = due && done < self.total && self.save_checkpoint(done);
        if stopping {
            return Err(RunError::Interrupted {
                node: self.ctx.name().to_string(),
                step: Some(done),
                checkpointed,
            });
        }
        Ok(())
    }
}
