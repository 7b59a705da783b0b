//! One optimizer step: scheduled parameters move, a batch is drawn (from the batch order or
//! the mixture, plus replayed examples), the loss and any hook penalty are backpropagated, the
//! optimizer steps; then logging, evaluation, checkpointing and an asked-for stop.

use std::sync::atomic::Ordering;
use std::time::Instant;

use exp_plugin_api::sdk::Split;
use tch::Tensor;

use super::setup::build_optimizer;
use super::Trainer;
use crate::error::RunError;
use crate::nodes::evaluate::{check_output, evaluate_model};
use crate::nodes::schedules;
use crate::precision::{clip_gradients, grad_norm, Autocast};

impl<'a, 'r> Trainer<'a, 'r> {
    /// Takes the next step, and whatever is due after it.
    pub fn train_step(&mut self) -> Result<(), RunError> {
        let started = Instant::now();
        let step = self.step;
        let loss = self.update(step)?;
        let done = step + 1;
        self.step = done;
        self.step_seconds.push(started.elapsed().as_secs_f64());
        if done.is_multiple_of(self.log_every) || done == self.total {
            self.log_loss(&loss, done)?;
        }
        let eval_now = self
            .eval_every
            .is_some_and(|every| done.is_multiple_of(every))
            || done == self.total;
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
        let loss = self.forward_backward(&x, &y, step)?;
        if self.adjust_gradients()? {
            self.optimizer
                .step(&self.trainable)
                .map_err(|error| ctx.plugin_error_at(error, step + 1))?;
        }
        let done = step + 1;
        if !self.hooks.is_empty()
            && self
                .hooks
                .after_step(ctx, &self.named_trainable, done, total)?
        {
            self.optimizer =
                build_optimizer(ctx, &self.optimizer_ref, &self.context, &self.no_decay)?;
            schedules::reset(&mut self.optimizer_schedules, &self.optimizer_ref);
        }
        Ok(loss)
    }

    /// Forward and backward over the batch, in `accumulate` micro-batches whose losses are
    /// weighted by their share of the batch's rows, so that the gradients add up to the whole
    /// batch's; the hooks' penalty is added once. Returns the batch's loss, detached.
    fn forward_backward(&mut self, x: &Tensor, y: &Tensor, step: u64) -> Result<Tensor, RunError> {
        let ctx = self.ctx;
        let rows = x.size().first().copied().unwrap_or(1).max(1);
        let parts = (self.spec.accumulate as i64).clamp(1, rows);
        let (xs, ys) = if parts == 1 {
            (vec![x.shallow_clone()], vec![y.shallow_clone()])
        } else {
            (x.chunk(parts, 0), y.chunk(parts, 0))
        };
        let mut total: Option<Tensor> = None;
        for (index, (x, y)) in xs.iter().zip(&ys).enumerate() {
            let data_loss = {
                let _autocast = Autocast::enter(ctx.name(), self.spec.precision, ctx.device)?;
                self.loss(x, y, step)?
            };
            let mut loss = if parts == 1 {
                data_loss
            } else {
                data_loss * (x.size()[0] as f64 / rows as f64)
            };
            if index == 0 {
                if let Some(penalty) = self.hooks.penalty(ctx, &self.named_trainable, step + 1)? {
                    // Not `+=`: on a tensor that is in-place, and the loss is in the graph.
                    #[allow(clippy::assign_op_pattern)]
                    {
                        loss = loss + penalty;
                    }
                }
            }
            let backward = match &self.loss_scale {
                Some(scale) => &loss * scale.scale,
                None => loss.shallow_clone(),
            };
            backward.f_backward().map_err(|error| {
                RunError::tensor(
                    ctx.name(),
                    &format!("backward at step {}", step + 1),
                    &[&backward],
                    error,
                )
            })?;
            let loss = loss.detach();
            total = Some(match total {
                Some(total) => total + loss,
                None => loss,
            });
        }
        Ok(total.unwrap_or_else(|| Tensor::from(0.0f32)))
    }

    /// Unscales `fp16` gradients (skipping the step when any overflowed) and clips them to
    /// the phase's `clip`. Returns whether the optimizer steps.
    fn adjust_gradients(&mut self) -> Result<bool, RunError> {
        if let Some(scale) = &self.loss_scale {
            scale.unscale(&self.trainable);
        }
        let norm = if self.loss_scale.is_some() || self.spec.clip.is_some() {
            grad_norm(&self.trainable)
        } else {
            None
        };
        if let Some(scale) = &mut self.loss_scale {
            let finite = match &norm {
                // Reading the norm waits for the device; the scaler must know before stepping.
                Some(norm) => f64::try_from(norm).is_ok_and(f64::is_finite),
                None => true,
            };
            if !scale.update(finite) {
                self.grad_norm = None;
                return Ok(false);
            }
        }
        if let (Some(max_norm), Some(norm)) = (self.spec.clip, &norm) {
            clip_gradients(&self.trainable, norm, max_norm);
        }
        self.grad_norm = norm;
        Ok(true)
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
        let value = f64::try_from(loss)
            .map_err(|error| RunError::tensor(ctx.name(), "item", &[loss], error))?;
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
        // The gradient norm before clipping, where it was computed (with `clip` or `fp16`).
        if let Some(norm) = &self.grad_norm {
            let norm = f64::try_from(norm)
                .map_err(|error| RunError::tensor(ctx.name(), "grad_norm", &[norm], error))?;
            ctx.run_dir
                .log_metric(ctx.name(), Some(done), "train", "grad_norm", norm);
        }
        if let Some(scale) = &self.loss_scale {
            ctx.run_dir
                .log_metric(ctx.name(), Some(done), "train", "loss_scale", scale.scale);
        }
        // A text phase counts its tokens, the axis language-model runs compare on.
        if let Some(tokens) = self.tokens_seen() {
            ctx.run_dir
                .log_metric(ctx.name(), Some(done), "train", "tokens", tokens as f64);
        }
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
        let due = done.is_multiple_of(self.checkpoint_every) || stopping;
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
