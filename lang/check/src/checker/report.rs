//! The rules of a `report` block: its rows, `chart`, `html`, `against`, the sweep axis to plot
//! its metrics against, which must be one the rows have and whose values are numbers, and
//! `choose`, the metric and the sweep axes a setting is chosen by and among.

use exp_diag::{did_you_mean, Span};
use exp_syntax::ast::{self, ExprKind};

use exp_ir::graph::Choose;

use super::{field, Checker, FieldSpec};
use crate::check_error::{AgainstProblem, CheckError, ChooseProblem, Expect};
use crate::program::{Body, DefId};

pub(super) const REPORT_FIELDS: &[FieldSpec] = &[
    field("rows", true, "rows: [<evaluate name>, ..]"),
    field("chart", false, "chart: true"),
    field("against", false, "against: \"lr\""),
    field(
        "choose",
        false,
        "choose: { by: \"validation_avg_accuracy\", over: [\"lr\"] }",
    ),
    field("html", false, "html: true"),
];

/// The fields of a report's `choose: { .. }`.
pub(super) const CHOOSE_FIELDS: [&str; 3] = ["by", "over", "maximize"];

impl<'a> Checker<'a> {
    pub(super) fn report(&mut self, def: &'a ast::Def, block: &'a ast::Block) -> Option<Body> {
        let fields = self.fields(def, block, REPORT_FIELDS);
        let chart = self.bool_field(&fields, "chart", false);
        let html = self.bool_field(&fields, "html", false);
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
        let choose = match fields.get("choose") {
            Some(field) => {
                // Axes are only checked against rows that all resolved: a row that is not
                // found has its own error, and its axes are unknown.
                let resolved: Option<Vec<DefId>> = rows.iter().copied().collect();
                self.choose(def, field, resolved.as_deref()).map(Some)
            }
            None => Some(None),
        };
        Some(Body::Report {
            rows: rows.into_iter().collect::<Option<Vec<_>>>()?,
            chart: chart?,
            against: against?,
            choose: choose?,
            html: html?,
        })
    }

    /// The sweep axes of `rows`, each once, in order of first appearance.
    fn row_axes(&self, rows: &[DefId]) -> Vec<String> {
        let mut axes: Vec<String> = Vec::new();
        for row in rows {
            let point = self.defs[row.0]
                .0
                .expansion
                .as_ref()
                .map_or(&[][..], |expansion| &expansion.point[..]);
            for (name, _) in point {
                if !axes.contains(name) {
                    axes.push(name.clone());
                }
            }
        }
        axes
    }

    /// `choose: { by: "validation_avg_accuracy", over: ["lr"], maximize: true }`: the metric
    /// the settings are chosen by, and the sweep axes of the rows they are chosen among.
    fn choose(
        &mut self,
        report: &ast::Def,
        field: &'a ast::Field,
        rows: Option<&[DefId]>,
    ) -> Option<Choose> {
        const EXAMPLE: &str = "choose: { by: \"validation_avg_accuracy\", over: [\"lr\"] }";
        let ExprKind::Record(block) = &field.value.kind else {
            self.wrong_type(
                field,
                "a block `{ by: .., over: [..] }`",
                Some(EXAMPLE.into()),
            );
            return None;
        };
        let mut by = None;
        let mut over: Option<Vec<String>> = None;
        let mut maximize = true;
        let mut ok = true;
        let choosable: Vec<String> = self
            .row_axes(rows.unwrap_or_default())
            .into_iter()
            .filter(|name| name != "seed")
            .collect();
        for inner in &block.fields {
            match (inner.key.name.as_str(), &inner.value.kind) {
                ("by", ExprKind::Str(metric)) if !metric.is_empty() => by = Some(metric.clone()),
                ("over", ExprKind::List(items)) if !items.is_empty() => {
                    let mut names = Vec::new();
                    for item in items {
                        let ExprKind::Str(axis) = &item.kind else {
                            self.errors.push(CheckError::WrongFieldType {
                                field: "choose.over".to_string(),
                                expected: "the name of a sweep axis, as a string".to_string(),
                                found: item.kind.describe(),
                                span: item.span,
                                example: Some(EXAMPLE.to_string()),
                            });
                            ok = false;
                            continue;
                        };
                        let problem = if axis == "seed" {
                            Some(ChooseProblem::Seed)
                        } else if rows.is_some() && !choosable.contains(axis) {
                            Some(ChooseProblem::NotAnAxis {
                                suggestion: did_you_mean(
                                    axis,
                                    choosable.iter().map(String::as_str),
                                )
                                .map(str::to_string),
                            })
                        } else {
                            None
                        };
                        match problem {
                            Some(problem) => {
                                self.errors.push(CheckError::ChooseOver {
                                    report: report.name.name.clone(),
                                    axis: axis.clone(),
                                    problem,
                                    axes: choosable.clone(),
                                    span: item.span,
                                });
                                ok = false;
                            }
                            None if names.contains(axis) => {}
                            None => names.push(axis.clone()),
                        }
                    }
                    over = Some(names);
                }
                ("maximize", ExprKind::Bool(value)) => maximize = *value,
                (key @ ("by" | "over" | "maximize"), _) => {
                    let expected = match key {
                        "by" => "the name of a metric of the rows, as a string",
                        "over" => "a non-empty list of sweep axes, as strings",
                        _ => "a boolean",
                    };
                    self.nested_wrong_type("choose", inner, expected, EXAMPLE);
                    ok = false;
                }
                _ => {
                    self.nested_unknown("choose", inner, &CHOOSE_FIELDS);
                    ok = false;
                }
            }
        }
        for (key, missing, expected) in [
            (
                "by",
                by.is_none(),
                "a metric of the rows, such as \"validation_avg_accuracy\"",
            ),
            (
                "over",
                over.is_none(),
                "the sweep axes to choose among, such as [\"lr\"]",
            ),
        ] {
            if missing && ok {
                self.errors.push(CheckError::MissingParam {
                    component: "choose".to_string(),
                    param: key.to_string(),
                    expected: expected.to_string(),
                    span: field.value.span,
                });
                ok = false;
            }
        }
        if !ok {
            return None;
        }
        Some(Choose {
            by: by?,
            over: over?,
            maximize,
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
