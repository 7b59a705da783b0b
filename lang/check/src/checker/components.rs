//! Checking component expressions: finding a component in the `Catalog` by kind, checking
//! each written parameter against its schema (type, range, duration unit), and filling in
//! the defaults of those not written.

use std::collections::BTreeMap;

use exp_diag::{did_you_mean, Span};
use exp_ir::schema::ParamProblem;
use exp_ir::{ComponentKind, ComponentRef, Duration, ParamSchema, ParamType, Schedule, Value};
use exp_syntax::ast::{self, ExprKind};

use super::Checker;
use crate::check_error::CheckError;
use crate::hash::HashMap;
use crate::ParamsRejected;

/// How many sets of parameters of one component `check_rule` remembers answers for.
const MAX_RULE_ANSWERS: usize = 64;

impl Checker<'_> {
    /// The catalog's answer to the component's own check of `params`, asked once per distinct
    /// set of parameters of each component.
    fn check_rule(
        &mut self,
        kind: ComponentKind,
        name: &str,
        params: &BTreeMap<String, Value>,
    ) -> Result<(), ParamsRejected> {
        if let Some(asked) = self.rule_answers.get(name) {
            if let Some((_, _, answer)) = asked
                .iter()
                .find(|(asked_kind, known, _)| *asked_kind == kind && known == params)
            {
                return answer.clone();
            }
        }
        let answer = self.catalog.check_params(kind, name, params);
        let asked = self.rule_answers.entry(name.to_string()).or_default();
        // A component swept over many settings would make the search longer than the question.
        if asked.len() < MAX_RULE_ANSWERS {
            asked.push((kind, params.clone(), answer.clone()));
        }
        answer
    }

    /// Finds a component in the catalog and checks its parameters.
    pub(super) fn component(
        &mut self,
        component: &ast::Component,
        kind: ComponentKind,
    ) -> Option<ComponentRef> {
        let catalog = self.catalog;
        let name = component.name.name.as_str();
        let Some(schema) = catalog.component(kind, name) else {
            let mut available: Vec<String> = catalog
                .names(kind)
                .into_iter()
                .map(str::to_string)
                .collect();
            available.sort();
            let other_kind = ComponentKind::ALL
                .into_iter()
                .find(|other| *other != kind && catalog.component(*other, name).is_some());
            let error = match other_kind {
                Some(found) => CheckError::ComponentWrongKind {
                    name: name.to_string(),
                    expected: kind,
                    found,
                    span: component.name.span,
                    available,
                },
                None => CheckError::UnknownComponent {
                    kind,
                    name: name.to_string(),
                    span: component.name.span,
                    suggestion: did_you_mean(name, available.iter().map(String::as_str))
                        .map(str::to_string),
                    available,
                    definition: self
                        .names
                        .get(name)
                        .map(|idx| (self.defs[*idx].0.kind, self.defs[*idx].0.name.span)),
                },
            };
            self.errors.push(error);
            return None;
        };
        let params = self.params(schema, component)?;
        let params = self.resolve_paths(schema, params, component.span.file);
        if let Err(rejected) = self.check_rule(kind, name, &params) {
            // Point at the parameter the component blames when the file wrote it, else at
            // the component (a default it disagrees with, or no parameter named).
            let written = rejected.param.as_deref().and_then(|param| {
                component
                    .params
                    .as_ref()?
                    .fields
                    .iter()
                    .find(|field| field.key.name == param)
                    .map(|field| field.value.span)
            });
            self.errors.push(CheckError::ComponentRule {
                component: name.to_string(),
                param: rejected.param,
                message: rejected.message,
                span: written.unwrap_or(component.name.span),
            });
            return None;
        }
        Some(ComponentRef {
            kind,
            name: name.to_string(),
            params,
            span: Some(component.span),
        })
    }

    /// The phase's `schedule:` field, folded into the optimizer: its learning-rate parameter
    /// (the one its schema marks) becomes the schedule scaled by the written rate, so the
    /// runtime treats it like any other scheduled parameter and never looks for `lr` by name.
    pub(super) fn schedule_learning_rate(
        &mut self,
        mut optimizer: ComponentRef,
        schedule: ComponentRef,
        field: &ast::Field,
    ) -> Option<ComponentRef> {
        let learning_rate = self
            .catalog
            .component(ComponentKind::Optimizer, &optimizer.name)
            .and_then(|schema| schema.params.iter().find(|param| param.learning_rate))
            .map(|param| param.name.clone());
        let Some(param) = learning_rate else {
            self.errors.push(CheckError::NoLearningRate {
                optimizer: optimizer.name.clone(),
                span: field.key.span,
            });
            return None;
        };
        let scale = match optimizer.params.get(&param) {
            Some(Value::Schedule(already)) => {
                self.errors.push(CheckError::LearningRateScheduledTwice {
                    optimizer: optimizer.name.clone(),
                    param,
                    span: field.key.span,
                    first: already
                        .curve
                        .span
                        .or(optimizer.span)
                        .unwrap_or(field.key.span),
                });
                return None;
            }
            Some(value) => value.as_f64().unwrap_or(1.0),
            // A required learning rate that was not written is reported by `params`.
            None => return None,
        };
        optimizer.params.insert(
            param,
            Value::Schedule(Box::new(Schedule {
                curve: schedule,
                scale,
            })),
        );
        Some(optimizer)
    }

    /// A component the file did not write, such as the default `constant` schedule.
    pub(super) fn default_component(&self, kind: ComponentKind, name: &str) -> ComponentRef {
        let params = self
            .catalog
            .component(kind, name)
            .map(|schema| {
                schema
                    .params
                    .iter()
                    .filter_map(|param| Some((param.name.clone(), param.default.clone()?)))
                    .collect()
            })
            .unwrap_or_default();
        ComponentRef {
            kind,
            name: name.to_string(),
            params,
            span: None,
        }
    }

    /// Checks written parameters against the schema and fills in defaults.
    fn params(
        &mut self,
        schema: &exp_ir::ComponentSchema,
        component: &ast::Component,
    ) -> Option<BTreeMap<String, Value>> {
        let mut ok = true;
        let mut values = BTreeMap::new();
        let mut seen: HashMap<&str, Span> = HashMap::default();
        let fields = component
            .params
            .as_ref()
            .map_or(&[][..], |block| &block.fields[..]);
        for field in fields {
            if !self.first_of_its_name(&mut seen, &field.key) {
                ok = false;
                continue;
            }
            let key = field.key.name.as_str();
            let Some(param) = schema.param(key) else {
                self.errors.push(CheckError::UnknownParam {
                    component: schema.name.clone(),
                    param: key.to_string(),
                    span: field.key.span,
                    suggestion: did_you_mean(key, schema.params.iter().map(|p| p.name.as_str()))
                        .map(str::to_string),
                    known: schema.params.iter().map(|p| p.name.clone()).collect(),
                });
                ok = false;
                continue;
            };
            match self.param_value(&schema.name, param, &field.value) {
                Some(value) => {
                    values.insert(key.to_string(), value);
                }
                None => ok = false,
            }
        }
        for param in &schema.params {
            if seen.contains_key(param.name.as_str()) {
                continue;
            }
            match &param.default {
                Some(default) => {
                    values.insert(param.name.clone(), default.clone());
                }
                None => {
                    self.errors.push(CheckError::MissingParam {
                        component: schema.name.clone(),
                        param: param.name.clone(),
                        expected: param.expected(),
                        span: component.name.span,
                    });
                    ok = false;
                }
            }
        }
        ok.then_some(values)
    }

    fn param_value(
        &mut self,
        component: &str,
        param: &ParamSchema,
        expr: &ast::Expr,
    ) -> Option<Value> {
        let found = match &expr.kind {
            ExprKind::Str(text) if matches!(param.ty, ParamType::Choice(_)) => format!("{text:?}"),
            other => other.describe(),
        };
        let wrong_type = |suggestion: Option<String>| CheckError::ParamWrongType {
            component: component.to_string(),
            param: param.name.clone(),
            expected: param.expected(),
            found: found.clone(),
            span: expr.span,
            suggestion,
        };
        if let (true, ExprKind::Component(schedule)) = (param.schedule, &expr.kind) {
            let curve = self.component(schedule, ComponentKind::Scheduler)?;
            return Some(Value::Schedule(Box::new(Schedule { curve, scale: 1.0 })));
        }
        let Some(value) = expr_value(expr) else {
            // A bare word where a choice is expected is most likely a missing pair of quotes.
            let suggestion = match (&param.ty, &expr.kind) {
                (ParamType::Choice(words), ExprKind::Component(written))
                    if words.contains(&written.name.name) =>
                {
                    Some(format!("\"{}\"", written.name.name))
                }
                _ => None,
            };
            self.errors.push(wrong_type(suggestion));
            return None;
        };
        if let (ParamType::Duration { units }, Value::Duration(duration)) = (&param.ty, &value) {
            if !units.is_empty() && !units.contains(&duration.unit) {
                self.errors.push(CheckError::BadUnit {
                    what: "parameter",
                    field: param.name.clone(),
                    expected: param.ty.to_string(),
                    found: expr.kind.describe(),
                    span: expr.span,
                });
                return None;
            }
        }
        match param.validate(&value) {
            Ok(value) => Some(value),
            Err(ParamProblem::WrongType { .. }) => {
                let suggestion = match (&param.ty, &value) {
                    (ParamType::Choice(words), Value::Str(text)) => {
                        did_you_mean(text, words.iter().map(String::as_str))
                            .map(|word| format!("\"{word}\""))
                    }
                    _ => None,
                };
                self.errors.push(wrong_type(suggestion));
                None
            }
            Err(problem @ ParamProblem::OutOfRange { range, .. }) => {
                self.errors.push(CheckError::ParamOutOfRange {
                    component: component.to_string(),
                    param: param.name.clone(),
                    problem: problem.to_string(),
                    range: range.to_string(),
                    span: expr.span,
                });
                None
            }
        }
    }
}

/// The value of a parameter as written; `None` for names and components, which are not values.
fn expr_value(expr: &ast::Expr) -> Option<Value> {
    let value = match &expr.kind {
        ExprKind::Int(value) => Value::Int(*value),
        ExprKind::Float(value) => Value::Float(*value),
        ExprKind::Bool(value) => Value::Bool(*value),
        ExprKind::Str(value) => Value::Str(value.clone()),
        ExprKind::Duration(duration) => Value::Duration(Duration {
            amount: duration.amount,
            unit: super::ir_unit(duration.unit),
        }),
        ExprKind::List(items) => Value::List(items.iter().map(expr_value).collect::<Option<_>>()?),
        ExprKind::Record(block) => Value::Record(
            block
                .fields
                .iter()
                .map(|field| Some((field.key.name.clone(), expr_value(&field.value)?)))
                .collect::<Option<_>>()?,
        ),
        // Memory sizes and wall-clock times are for `resources` only.
        ExprKind::Component(_)
        | ExprKind::Quantity(_)
        | ExprKind::Binary { .. }
        | ExprKind::Neg(_)
        | ExprKind::Paren(_) => return None,
    };
    Some(value)
}
