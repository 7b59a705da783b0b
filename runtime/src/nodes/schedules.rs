//! Scheduled parameters: a component parameter written as a schedule (`Value::Schedule`: a
//! scheduler, its curve scaled by a number) takes `scale × curve(step)` at each step of the
//! phase. Every such parameter is handled alike, whatever it is called: an optimizer's learning
//! rate (the phase's `schedule:` field is folded into it by the checker), AdamW's weight decay,
//! SFA's `beta`, a model's temperature. The scheduler is a component like any other, built
//! through its plugin; the component sees the value at the phase's start when it is built, and
//! each new value through `set_param` before the step it holds for. Outside a training phase a
//! schedule is read at its start.

use exp_ir::{ComponentRef, Schedule, Value};
use exp_plugin_api::host::{ForeignScheduler, PluginError};
use exp_plugin_api::sdk::Context;

use super::NodeRun;
use crate::error::RunError;

/// One scheduled parameter of one component.
pub struct ParamSchedule {
    pub name: String,
    scheduler: ForeignScheduler,
    scale: f64,
    /// The value the component holds now.
    current: f64,
}

impl ParamSchedule {
    /// The parameter's value at `step` of a phase of `total` steps.
    fn value_at(&mut self, step: u64, total: u64) -> Result<f64, PluginError> {
        Ok(self.scale * self.scheduler.value(step, total)?)
    }
}

/// Whether any parameter of the component is a schedule.
pub fn has_schedules(component: &ComponentRef) -> bool {
    component
        .params
        .values()
        .any(|value| matches!(value, Value::Schedule(_)))
}

/// Builds the schedulers of a component's scheduled parameters (their durations already
/// resolved to steps of a phase of `total` steps) and returns the component with each such
/// parameter replaced by its value at step 0, with the schedules to follow during the phase.
pub fn split(
    ctx: &NodeRun,
    component: &ComponentRef,
    context: &Context,
    total: u64,
) -> Result<(ComponentRef, Vec<ParamSchedule>), RunError> {
    let mut plain = component.clone();
    let mut schedules = Vec::new();
    for (name, value) in &component.params {
        let Value::Schedule(schedule) = value else {
            continue;
        };
        let Schedule { curve, scale } = &**schedule;
        let mut schedule = ParamSchedule {
            name: name.clone(),
            scheduler: ctx.scheduler(curve, context)?,
            scale: *scale,
            current: 0.0,
        };
        schedule.current = schedule
            .value_at(0, total)
            .map_err(|error| ctx.plugin_error(error))?;
        plain
            .params
            .insert(name.clone(), Value::Float(schedule.current));
        schedules.push(schedule);
    }
    Ok((plain, schedules))
}

/// Moves every schedule to `step` and hands each changed value to the component through `set`.
pub fn advance(
    ctx: &NodeRun,
    schedules: &mut [ParamSchedule],
    step: u64,
    total: u64,
    mut set: impl FnMut(&str, f64) -> Result<(), PluginError>,
) -> Result<(), RunError> {
    for schedule in schedules {
        let value = schedule
            .value_at(step, total)
            .map_err(|error| ctx.plugin_error_at(error, step + 1))?;
        // Bit equality on purpose: an unchanged value needs no call, and any change, however
        // small, must reach the component.
        if value.to_bits() != schedule.current.to_bits() {
            set(&schedule.name, value).map_err(|error| ctx.plugin_error_at(error, step + 1))?;
            schedule.current = value;
        }
    }
    Ok(())
}

/// Makes the next `advance` hand every value over again (the component was rebuilt with the
/// values of `start`).
pub fn reset(schedules: &mut [ParamSchedule], start: &ComponentRef) {
    for schedule in schedules {
        if let Some(value) = start.params.get(&schedule.name).and_then(Value::as_f64) {
            schedule.current = value;
        }
    }
}
