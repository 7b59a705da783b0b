//! Datasets made by models: `caption(data, model)` and `sample(model, prompts) { .. }`. They
//! are written like calls because they are built on other definitions, but no plugin
//! component stands behind them: the host runs the model over the data (docs/language.md).

use std::sync::Arc;

use exp_ir::graph::SampleSpec;
use exp_syntax::ast::{self, DefBody, ExprKind};

use super::{field, Checker, FieldSpec};
use crate::check_error::{CheckError, Expect};
use crate::program::Body;

/// The fields of `sample(..) { .. }`.
pub(super) const SAMPLE_FIELDS: &[FieldSpec] = &[
    field("steps", false, "steps: 20"),
    field("guidance", false, "guidance: 2.0"),
    field("eta", false, "eta: 0.0"),
    field("count", false, "count: 256"),
    field("split", false, "split: [\"validation\", \"test\"]"),
    field("grid", false, "grid: 64"),
];

/// DDIM's usual number of denoising steps.
const DEFAULT_STEPS: u64 = 50;
/// Samples the dataset's picture shows when the file does not say.
const DEFAULT_GRID: u64 = 64;

/// The forms a dataset built on other definitions may take, for errors.
const FORMS: &str = "`caption(data, model)` or `sample(model, prompts) { .. }`";

impl<'a> Checker<'a> {
    /// `dataset NAME = caption(data, model)` or `sample(model, prompts) { .. }`.
    pub(super) fn derived_dataset(&mut self, def: &'a ast::Def) -> Option<Body> {
        let DefBody::Call {
            component,
            inputs,
            params,
            inputs_span,
        } = &def.body
        else {
            return None;
        };
        let form = component.name.as_str();
        let roles: [(&str, Expect); 2] = match form {
            "caption" => [("data", Expect::Dataset), ("model", Expect::Model)],
            "sample" => [("model", Expect::Model), ("prompts", Expect::Dataset)],
            _ => {
                self.errors.push(CheckError::Inputs {
                    message: format!(
                        "a dataset built on other definitions is {FORMS}; `{form}` is neither"
                    ),
                    label: "not a dataset form".to_string(),
                    help: format!(
                        "write `dataset {} = {form} {{ .. }}` for a dataset component, or one of \
                         {FORMS}",
                        def.name.name
                    ),
                    span: component.span,
                });
                return None;
            }
        };
        let [first, second] = inputs.as_slice() else {
            self.errors.push(CheckError::Inputs {
                message: format!(
                    "`{form}` takes two inputs, {} and {}, but is given {}",
                    roles[0].0,
                    roles[1].0,
                    exp_diag::count(inputs.len(), "input")
                ),
                label: "two inputs".to_string(),
                help: format!(
                    "write `dataset {} = {form}({}, {})`",
                    def.name.name, roles[0].0, roles[1].0
                ),
                span: *inputs_span,
            });
            return None;
        };
        let first = self.reference(first, roles[0].1);
        let second = self.reference(second, roles[1].1);
        match form {
            "caption" => {
                if let Some(block) = params {
                    self.fields(def, block, &[]);
                }
                Some(Body::Caption {
                    data: first?,
                    model: second?,
                })
            }
            _ => {
                let spec = self.sample_spec(def, params.as_ref());
                Some(Body::Sample {
                    model: first?,
                    data: second?,
                    spec: Arc::new(spec?),
                })
            }
        }
    }

    /// The sampling settings of `sample(..) { .. }`, defaults filled in.
    fn sample_spec(&mut self, def: &ast::Def, block: Option<&'a ast::Block>) -> Option<SampleSpec> {
        let mut spec = SampleSpec {
            splits: vec!["test".to_string()],
            count: None,
            steps: DEFAULT_STEPS,
            guidance: 1.0,
            eta: 0.0,
            grid: DEFAULT_GRID,
        };
        let Some(block) = block else {
            return Some(spec);
        };
        let fields = self.fields(def, block, SAMPLE_FIELDS);
        let mut ok = true;
        // In the order of `SAMPLE_FIELDS`, so that errors come out in a fixed order.
        let written = SAMPLE_FIELDS
            .iter()
            .filter_map(|spec| Some((spec.name, *fields.get(spec.name)?)));
        for (name, field) in written {
            match name {
                "steps" => {
                    spec.steps = self.integer(field, 1).unwrap_or_else(|| {
                        ok = false;
                        0
                    })
                }
                "count" => {
                    spec.count = self.integer(field, 1).or_else(|| {
                        ok = false;
                        None
                    })
                }
                "grid" => {
                    spec.grid = self.integer(field, 0).unwrap_or_else(|| {
                        ok = false;
                        0
                    })
                }
                "split" => match self.sequence_splits(field) {
                    Some(splits) => spec.splits = splits,
                    None => ok = false,
                },
                "guidance" => match self.number(
                    field,
                    0.0,
                    f64::INFINITY,
                    "a guidance weight of at least 0 (0: unconditional, 1: conditional)",
                ) {
                    Some(value) => spec.guidance = value,
                    None => ok = false,
                },
                _ => {
                    match self.number(field, 0.0, 1.0, "a number from 0 (deterministic DDIM) to 1")
                    {
                        Some(value) => spec.eta = value,
                        None => ok = false,
                    }
                }
            }
        }
        ok.then_some(spec)
    }

    /// A number field within `[min, max]`.
    fn number(&mut self, field: &ast::Field, min: f64, max: f64, expected: &str) -> Option<f64> {
        let value = match field.value.kind {
            ExprKind::Int(value) => value as f64,
            ExprKind::Float(value) => value,
            _ => {
                self.wrong_type(field, "a number", None);
                return None;
            }
        };
        if !(min..=max).contains(&value) {
            self.errors.push(CheckError::ValueOutOfRange {
                field: field.key.name.clone(),
                value: format!("{value}"),
                expected: expected.to_string(),
                span: field.value.span,
            });
            return None;
        }
        Some(value)
    }
}
