//! `policy { licenses: ["CC0-1.0", ..] }`: rules the whole run keeps. The checker reads the
//! block; the runtime refuses the run, before anything trains, when a dataset's licence is not
//! among those allowed.

use exp_diag::did_you_mean;
use exp_ir::graph::Policy;
use exp_syntax::ast::{self, ExprKind};

use super::Checker;
use crate::check_error::CheckError;

const EXAMPLE: &str = "policy { licenses: [\"CC0-1.0\", \"CC-BY-4.0\", \"public-domain\"] }";

impl Checker<'_> {
    pub(super) fn policy(&mut self, policy: &ast::Policy) -> Option<Policy> {
        let mut licenses = None;
        let mut ok = true;
        for field in &policy.block.fields {
            match field.key.name.as_str() {
                "licenses" => licenses = self.licenses(field),
                key => {
                    self.errors.push(CheckError::UnknownParam {
                        component: "policy".to_string(),
                        param: key.to_string(),
                        span: field.key.span,
                        suggestion: did_you_mean(key, ["licenses"]).map(str::to_string),
                        known: vec!["licenses".into()],
                    });
                    ok = false;
                }
            }
        }
        // A misspelt `licenses` is one mistake: reported as unknown, not also as missing.
        if ok
            && !policy
                .block
                .fields
                .iter()
                .any(|field| field.key.name == "licenses")
        {
            self.errors.push(CheckError::MissingParam {
                component: "policy".to_string(),
                param: "licenses".to_string(),
                expected: "the licences the run may read".to_string(),
                span: policy.block.span,
            });
            return None;
        }
        if !ok {
            return None;
        }
        Some(Policy {
            licenses: licenses?,
        })
    }

    /// A non-empty list of licence names.
    fn licenses(&mut self, field: &ast::Field) -> Option<Vec<String>> {
        let names = match &field.value.kind {
            ExprKind::List(items) if !items.is_empty() => items
                .iter()
                .map(|item| match &item.kind {
                    ExprKind::Str(name) if !name.trim().is_empty() => Some(name.trim().to_string()),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>(),
            _ => None,
        };
        if names.is_none() {
            self.wrong_type(
                field,
                "a non-empty list of licence names (strings, such as SPDX identifiers)",
                Some(EXAMPLE.into()),
            );
        }
        names
    }
}
