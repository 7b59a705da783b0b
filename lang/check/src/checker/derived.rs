//! Datasets made by models: `caption(data, model)` and `sample(model, prompts) { .. }`. They
//! are written like calls because they are built on other definitions, but no plugin
//! component stands behind them: the host runs the model over the data (docs/language.md).

use std::sync::Arc;

use exp_ir::graph::SampleSpec;
use exp_syntax::ast::{self, DefBody};

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

    /// The sampling settings of `sample(..) { .. }`, defaults filled in; fields are read in
    /// the order of `SAMPLE_FIELDS`, so that their errors come out in a fixed order.
    fn sample_spec(&mut self, def: &ast::Def, block: Option<&'a ast::Block>) -> Option<SampleSpec> {
        let fields = match block {
            Some(block) => self.fields(def, block, SAMPLE_FIELDS),
            None => Default::default(),
        };
        let steps = match fields.get("steps") {
            Some(field) => self.integer(field, 1),
            None => Some(DEFAULT_STEPS),
        };
        let guidance = match fields.get("guidance") {
            Some(field) => self.number(
                field,
                ("a number", None),
                |value| value >= 0.0 && value.is_finite(),
                "a guidance weight of at least 0 (0: unconditional, 1: conditional)",
            ),
            None => Some(1.0),
        };
        let eta = match fields.get("eta") {
            Some(field) => self.number(
                field,
                ("a number", None),
                |value| (0.0..=1.0).contains(&value),
                "a number from 0 (deterministic DDIM) to 1",
            ),
            None => Some(0.0),
        };
        let count = match fields.get("count") {
            Some(field) => self.integer(field, 1).map(Some),
            None => Some(None),
        };
        let splits = match fields.get("split") {
            Some(field) => self.sequence_splits(field),
            None => Some(vec!["test".to_string()]),
        };
        let grid = match fields.get("grid") {
            Some(field) => self.integer(field, 0),
            None => Some(DEFAULT_GRID),
        };
        Some(SampleSpec {
            splits: splits?,
            count: count?,
            steps: steps?,
            guidance: guidance?,
            eta: eta?,
            grid: grid?,
        })
    }
}
