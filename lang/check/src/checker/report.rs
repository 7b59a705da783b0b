//! The rules of a `report` block: its rows, `chart`, `html`, and `against`, the sweep axis to plot its
//! metrics against, which must be one the rows have and whose values are numbers.

use exp_diag::{did_you_mean, Span};
use exp_syntax::ast::{self, ExprKind};

use super::{field, Checker, FieldSpec};
use crate::check_error::{AgainstProblem, CheckError, Expect};
use crate::program::{Body, DefId};

pub(super) const REPORT_FIELDS: &[FieldSpec] = &[
    field("rows", true, "rows: [<evaluate name>, ..]"),
    field("chart", false, "chart: true"),
    field("against", false, "against: \"lr\""),
    field("html", false, "html: true"),
];

impl<'a> Checker<'a> {
    pub(super) fn report(&mut self, def: &'a ast::Def, block: &'a ast::Block) -> Option<Body> {
        let fields = self.fields(def, block, REPORT_FIELDS);
        let chart = match fields.get("chart") {
            Some(field) => match field.value.kind {
                ExprKind::Bool(chart) => Some(chart),
                _ => {
                    self.wrong_type(field, "a boolean", Some("chart: true".to_string()));
                    None
                }
            },
            None => Some(false),
        };
        let html = match fields.get("html") {
            Some(field) => match field.value.kind {
                ExprKind::Bool(html) => Some(html),
                _ => {
                    self.wrong_type(field, "a boolean", Some("html: true".to_string()));
                    None
                }
            },
            None => Some(false),
        };
        let field = fields.get("rows")?;
        let ExprKind::List(items) = &field.value.kind else {
            self.wrong_type(field, "a list of evaluate or train names", None);
            return None;
        };
        if items.is_empty() {
            self.wrong_type(
                field,
                "a non-empty list",
                Some(REPORT_FIELDS[0].example.to_string()),
            );
            return None;
        }
        let rows: Vec<Option<DefId>> = items
            .iter()
            .map(|item| match &item.kind {
                ExprKind::Component(component) if component.params.is_none() => {
                    self.reference(&component.name, Expect::Row)
                }
                _ => {
                    self.errors.push(CheckError::WrongFieldType {
                        field: "rows".to_string(),
                        expected: "the name of an evaluate or train definition".to_string(),
                        found: item.kind.describe(),
                        span: item.span,
                        example: None,
                    });
                    None
                }
            })
            .collect();
        let against = match fields.get("against") {
            Some(field) => match &field.value.kind {
                ExprKind::Str(axis) => {
                    let rows: Vec<DefId> = rows.iter().flatten().copied().collect();
                    self.against(def, axis, &rows, field.value.span)
                        .map(|()| Some(axis.clone()))
                }
                _ => {
                    self.wrong_type(
                        field,
                        "the name of a sweep axis, as a string",
                        Some("against: \"lr\"".to_string()),
                    );
                    None
                }
            },
            None => Some(None),
        };
        Some(Body::Report {
            rows: rows.into_iter().collect::<Option<Vec<_>>>()?,
            chart: chart?,
            against: against?,
            html: html?,
        })
    }

    /// Checks a report's `against: "AXIS"`: the rows must be swept over it, and its values
    /// must be numbers (`exp_ir::graph::axis_number`), or the chart would be silently missing.
    /// Replicates are averaged over `seed` in the table, so `seed` is never one to plot.
    fn against(&mut self, report: &ast::Def, axis: &str, rows: &[DefId], span: Span) -> Option<()> {
        // Each axis of the rows, with its first value that is not a number.
        let mut axes: Vec<(String, Option<String>)> = Vec::new();
        for row in rows {
            let point = self.defs[row.0]
                .0
                .expansion
                .as_ref()
                .map_or(&[][..], |expansion| &expansion.point[..]);
            for (name, value) in point {
                let not_number = exp_ir::graph::axis_number(value)
                    .is_none()
                    .then(|| value.clone());
                match axes.iter_mut().find(|(known, _)| known == name) {
                    Some((_, first)) => {
                        if first.is_none() {
                            *first = not_number;
                        }
                    }
                    None => axes.push((name.clone(), not_number)),
                }
            }
        }
        let averaged = axes.iter().any(|(name, _)| name == "seed");
        let plottable: Vec<String> = axes
            .iter()
            .filter(|(name, not_number)| name != "seed" && not_number.is_none())
            .map(|(name, _)| name.clone())
            .collect();
        let problem = match axes.iter().find(|(name, _)| name == axis) {
            Some(_) if axis == "seed" && averaged => AgainstProblem::Averaged,
            Some((_, Some(value))) => AgainstProblem::NotNumbers {
                value: value.clone(),
            },
            Some((_, None)) => return Some(()),
            None => AgainstProblem::NotAnAxis {
                suggestion: did_you_mean(axis, axes.iter().map(|(name, _)| name.as_str()))
                    .map(str::to_string),
            },
        };
        self.errors.push(CheckError::Against {
            report: report.name.name.clone(),
            axis: axis.to_string(),
            problem,
            plottable,
            swept: !axes.is_empty(),
            span,
        });
        None
    }
}
