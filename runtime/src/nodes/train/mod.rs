//! Training nodes: dataset → batches, forward, loss, backward, optimizer step, scheduled
//! parameters, periodic evaluation on the test split, resumable checkpoints, final checkpoint.
//!
//! A phase is a `Trainer`, built by `setup` (the model with its input's weights, the optimizer,
//! schedules, hooks, the batch order), possibly moved on from a checkpoint of the same node
//! (`checkpoint`), run step by step (`step`), and turned into the node's model artifact
//! (`finish`). Each concern of a training step lands in one of these places.
//!
//! Data order is a fresh permutation of the training split each epoch, drawn from the node's
//! seed; the last batch of an epoch may be smaller (like PyTorch's `drop_last=False`). Any
//! duration parameter of a component (`warmup: 10%`, `1 epoch`) is resolved to steps of this
//! phase before the component is built, so plugins only ever see steps.

mod checkpoint;
mod finish;
mod setup;
mod step;

use exp_ir::graph::TrainSpec;
use exp_ir::value::Clock;
use exp_ir::{ComponentRef, Duration, DurationUnit, Value};

use super::NodeRun;
use crate::artifact::Artifact;
use crate::error::RunError;

pub use setup::Trainer;

/// Replaces every duration in a component's parameters by its length in steps of this phase.
pub fn resolve_durations(component: &ComponentRef, clock: &Clock) -> ComponentRef {
    fn resolve(value: &Value, clock: &Clock) -> Value {
        match value {
            Value::Duration(duration) => Value::Duration(Duration {
                amount: duration.to_steps(clock) as f64,
                unit: DurationUnit::Steps,
            }),
            Value::List(items) => {
                Value::List(items.iter().map(|item| resolve(item, clock)).collect())
            }
            Value::Record(fields) => Value::Record(
                fields
                    .iter()
                    .map(|(key, value)| (key.clone(), resolve(value, clock)))
                    .collect(),
            ),
            // A scheduled parameter's scheduler, with durations of its own.
            Value::Schedule(schedule) => {
                let mut schedule = schedule.clone();
                for value in schedule.curve.params.values_mut() {
                    *value = resolve(value, clock);
                }
                Value::Schedule(schedule)
            }
            other => other.clone(),
        }
    }
    let mut resolved = component.clone();
    for value in resolved.params.values_mut() {
        *value = resolve(value, clock);
    }
    resolved
}

pub fn run(ctx: &NodeRun, spec: &TrainSpec) -> Result<Artifact, RunError> {
    let source = ctx.model_input("model")?;
    // Text inputs are read as the model reads them: token windows through its tokenizer.
    let inputs = ctx.data_for_model("data", source)?;
    let replayed = ctx.data_for_model("replay", source)?;
    let mut trainer = Trainer::setup(ctx, spec, source, &inputs, &replayed)?;
    trainer.resume()?;
    while trainer.step < trainer.total {
        trainer.train_step()?;
    }
    trainer.finish()
}
