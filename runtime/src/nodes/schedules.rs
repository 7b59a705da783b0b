//! Scheduled parameters: a component parameter declared `ParamType::Schedule` and written as a
//! scheduler (`beta: piecewise { at: [0%, 50%], values: [0.25, 0.75] }`) takes that scheduler's
//! value at each step of the phase. The scheduler is the same kind of component as a learning
//! rate's, built through its plugin; the component sees the value at the phase's start as a
//! plain number when it is built, and each new value through `set_param` before the step it
//! holds for. Outside a training phase a schedule is read at its start.

use std::collections::BTreeMap;

use exp_ir::{ComponentKind, ComponentRef, Value};
use exp_plugin_api::host::{ForeignScheduler, PluginError};
use exp_plugin_api::sdk::Context;

use super::NodeRun;
use crate::error::RunError;

/// One scheduled parameter of one component.
pub struct ParamSchedule {
    pub name: String,
    scheduler: ForeignScheduler,
    /// The value the component holds now.
    current: f64,
}

/// The scheduler a parameter's value names, if it is a schedule.
fn scheduler_of(value: &Value) -> Option<ComponentRef> {
    let Value::Record(fields) = value else {
        return None;
    };
    let name = fields.get("schedule")?.as_str()?;
    let params: BTreeMap<String, Value> = match fields.get("params") {
        Some(Value::Record(params)) => params.clone(),
        _ => BTreeMap::new(),
    };
    Some(ComponentRef {
        kind: ComponentKind::Scheduler,
        name: name.to_string(),
        params,
        span: None,
    })
}

/// Whether any parameter of the component is a schedule.
pub fn has_schedules(component: &ComponentRef) -> bool {
    component
        .params
        .values()
        .any(|value| scheduler_of(value).is_some())
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
        let Some(scheduler) = scheduler_of(value) else {
            continue;
        };
        let mut scheduler = ctx.scheduler(&scheduler, context)?;
        let start = scheduler
            .multiplier(0, total)
            .map_err(|error| ctx.plugin_error(error))?;
        plain.params.insert(name.clone(), Value::Float(start));
        schedules.push(ParamSchedule {
            name: name.clone(),
            scheduler,
            current: start,
        });
    }
    Ok((plain, schedules))
}

/// Moves every schedule to `step` and hands each changed value to the component through `set`.
pub fn advance(
    ctx: &NodeRun,
    schedules: &mut [ParamSchedule],
    step: u64,
    total: u64,
    mut set: impl FnMut(&str, &Value) -> Result<(), PluginError>,
) -> Result<(), RunError> {
    for schedule in schedules {
        let value = schedule
            .scheduler
            .multiplier(step, total)
            .map_err(|error| ctx.plugin_error_at(error, step + 1))?;
        if value != schedule.current {
            set(&schedule.name, &Value::Float(value))
                .map_err(|error| ctx.plugin_error_at(error, step + 1))?;
            schedule.current = value;
        }
    }
    Ok(())
}

/// Makes the next `advance` hand every value over again (the component was rebuilt).
pub fn reset(schedules: &mut [ParamSchedule], start: &ComponentRef) {
    for schedule in schedules {
        if let Some(value) = start.params.get(&schedule.name).and_then(Value::as_f64) {
            schedule.current = value;
        }
    }
}
