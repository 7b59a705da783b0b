//! `resources { KEY: { fields }, .. }`: what each node asks a cluster's scheduler for. A key is
//! `default`, a definition keyword (every node such definitions make) or a definition's name
//! (that node, or every copy a sweep makes of it); the graph resolves each node's request
//! (`Graph::resources_for`). Nothing here changes what a node computes.

use exp_diag::{did_you_mean, Span};
use exp_ir::graph::{ResourceRequest, ResourceRule, ResourceScope, Resources};
use exp_syntax::ast::{self, DefKind, ExprKind, Quantity, QuantityUnit};

use super::Checker;
use crate::check_error::CheckError;
use crate::hash::HashMap;

/// The fields of a request, in the order the docs list them.
pub(crate) const RESOURCE_FIELDS: &[&str] = &[
    "cpus",
    "memory",
    "gpus",
    "gpu_type",
    "time",
    "partition",
    "account",
];

/// The definition keywords, each a key for the nodes its definitions make.
pub(crate) const KIND_KEYS: &[DefKind] = &[
    DefKind::Dataset,
    DefKind::Model,
    DefKind::Tokenizer,
    DefKind::Train,
    DefKind::Merge,
    DefKind::Evaluate,
    DefKind::Report,
    DefKind::Sequence,
    DefKind::Export,
];

/// The most MB or minutes a request may ask for: what a 64-bit float holds exactly.
const MOST: f64 = 9_007_199_254_740_992.0;

impl Checker<'_> {
    /// The rules of a `resources` block; a key with an error is left out.
    pub(super) fn resources(&mut self, resources: &ast::Resources) -> Resources {
        let mut rules = Vec::new();
        let mut seen: HashMap<&str, Span> = HashMap::default();
        for field in &resources.block.fields {
            if !self.first_of_its_name(&mut seen, &field.key) {
                continue;
            }
            let key = field.key.name.as_str();
            let scope = self.resource_scope(&field.key);
            let ExprKind::Record(block) = &field.value.kind else {
                self.wrong_type(
                    field,
                    "a request in braces",
                    Some(format!("{key}: {{ cpus: 4, memory: 16 GB, time: 2 h }}")),
                );
                continue;
            };
            let request = self.resource_request(block);
            if let Some(scope) = scope {
                rules.push(ResourceRule { scope, request });
            }
        }
        Resources { rules }
    }

    /// What a key names: `default`, a definition keyword, or a definition or family.
    fn resource_scope(&mut self, key: &ast::Ident) -> Option<ResourceScope> {
        let name = key.name.as_str();
        if name == "default" {
            return Some(ResourceScope::Default);
        }
        if KIND_KEYS.iter().any(|kind| kind.keyword() == name) {
            return Some(ResourceScope::Kind(name.to_string()));
        }
        if self.names.contains_key(name)
            || self
                .defs
                .iter()
                .any(|(def, _)| family_of(def) == Some(name))
        {
            return Some(ResourceScope::Name(name.to_string()));
        }
        // Only plain words can be keys: a copy's name (`ft[lr=0.1]`) or a template's
        // (`run.ft`) is no candidate.
        let is_word = |candidate: &&str| {
            candidate
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        let suggestion = {
            let names = self
                .defs
                .iter()
                .flat_map(|(def, _)| std::iter::once(def.name.name.as_str()).chain(family_of(def)));
            let candidates = std::iter::once("default")
                .chain(KIND_KEYS.iter().map(|kind| kind.keyword()))
                .chain(names)
                .filter(is_word);
            did_you_mean(name, candidates).map(str::to_string)
        };
        self.errors.push(CheckError::UnknownResourceKey {
            key: name.to_string(),
            span: key.span,
            suggestion,
        });
        None
    }

    /// The fields of one request. A field with an error is left out: the error stops the
    /// program, so what is read is only for the errors after it.
    fn resource_request(&mut self, block: &ast::Block) -> ResourceRequest {
        let mut request = ResourceRequest::default();
        let mut seen: HashMap<&str, Span> = HashMap::default();
        for field in &block.fields {
            if !self.first_of_its_name(&mut seen, &field.key) {
                continue;
            }
            let name = field.key.name.as_str();
            match name {
                "cpus" => request.cpus = self.count(field, 1),
                "gpus" => request.gpus = self.count(field, 0),
                "memory" => request.memory_mb = self.quantity(field, true),
                "time" => request.time_minutes = self.quantity(field, false),
                "gpu_type" => request.gpu_type = self.word(field),
                "partition" => request.partition = self.word(field),
                "account" => request.account = self.word(field),
                _ => {
                    self.errors.push(CheckError::UnknownResourceField {
                        field: name.to_string(),
                        span: field.key.span,
                        suggestion: did_you_mean(name, RESOURCE_FIELDS.iter().copied())
                            .map(str::to_string),
                    });
                }
            }
        }
        request
    }

    /// A whole number of CPUs or GPUs, at least `least`.
    fn count(&mut self, field: &ast::Field, least: u32) -> Option<u32> {
        let ExprKind::Int(value) = field.value.kind else {
            let example = format!("{}: {}", field.key.name, least.max(1) * 2);
            self.wrong_type(field, "a whole number", Some(example));
            return None;
        };
        let expected = match u32::try_from(value) {
            Ok(count) if count >= least => return Some(count),
            Err(_) if value.is_positive() => format!("an integer of at most {}", u32::MAX),
            _ => format!("an integer of at least {least}"),
        };
        self.errors.push(CheckError::ValueOutOfRange {
            field: field.key.name.clone(),
            value: value.to_string(),
            expected,
            span: field.value.span,
        });
        None
    }

    /// A memory size in MB (`memory`) or a time in minutes (`time`), rounded up.
    fn quantity(&mut self, field: &ast::Field, memory: bool) -> Option<u64> {
        let (what, units, example) = if memory {
            ("a memory size", "`MB`, `GB` or `TB`", "memory: 16 GB")
        } else {
            ("a time", "`s`, `min` or `h`", "time: 2 h")
        };
        let quantity = match &field.value.kind {
            ExprKind::Quantity(quantity) if quantity.unit.is_memory() == memory => *quantity,
            ExprKind::Quantity(_) | ExprKind::Duration(_) => {
                self.errors.push(CheckError::BadUnit {
                    what: "field",
                    field: field.key.name.clone(),
                    expected: format!("{what} in {units}"),
                    found: field.value.kind.describe(),
                    span: field.value.span,
                });
                return None;
            }
            _ => {
                self.wrong_type(
                    field,
                    &format!("{what} with its unit"),
                    Some(example.into()),
                );
                return None;
            }
        };
        let amount = whole_up(in_slurm_units(quantity));
        if quantity.amount > 0.0 && amount <= MOST {
            return Some(amount as u64);
        }
        let expected = match (quantity.amount > 0.0, memory) {
            (false, _) => format!("{what} above 0"),
            (true, true) => format!("{what} below 2^53 MB"),
            (true, false) => format!("{what} below 2^53 minutes"),
        };
        self.errors.push(CheckError::ValueOutOfRange {
            field: field.key.name.clone(),
            value: format!(
                "{} {}",
                number_text(quantity.amount),
                quantity.unit.symbol()
            ),
            expected,
            span: field.value.span,
        });
        None
    }

    /// A name for the scheduler: a string that is not blank.
    fn word(&mut self, field: &ast::Field) -> Option<String> {
        match &field.value.kind {
            ExprKind::Str(word) if !word.trim().is_empty() => Some(word.trim().to_string()),
            ExprKind::Str(word) => {
                self.errors.push(CheckError::ValueOutOfRange {
                    field: field.key.name.clone(),
                    value: format!("{word:?}"),
                    expected: "a name that is not blank".to_string(),
                    span: field.value.span,
                });
                None
            }
            other => {
                // A bare word is most likely a missing pair of quotes.
                let word = match other {
                    ExprKind::Component(written) => written.name.name.as_str(),
                    _ => match field.key.name.as_str() {
                        "gpu_type" => "a100",
                        "account" => "lab",
                        _ => "gpu",
                    },
                };
                let example = format!("{}: \"{word}\"", field.key.name);
                self.wrong_type(field, "a string", Some(example));
                None
            }
        }
    }
}

/// A number as a message shows it: `-1`, `0.5`, `1e30`.
fn number_text(number: f64) -> String {
    if number.abs() < 1e15 {
        number.to_string()
    } else {
        format!("{number:e}")
    }
}

/// The family of a copy a sweep or a template made: the name it was written with.
fn family_of(def: &ast::Def) -> Option<&str> {
    def.expansion
        .as_ref()
        .map(|expansion| expansion.family.as_str())
}

/// A quantity in Slurm's units: MB of 1024 × 1024 bytes, or minutes.
fn in_slurm_units(quantity: Quantity) -> f64 {
    let factor = match quantity.unit {
        QuantityUnit::Megabytes | QuantityUnit::Minutes => 1.0,
        QuantityUnit::Gigabytes => 1024.0,
        QuantityUnit::Terabytes => 1024.0 * 1024.0,
        QuantityUnit::Seconds => 1.0 / 60.0,
        QuantityUnit::Hours => 60.0,
    };
    quantity.amount * factor
}

/// `value` rounded up to a whole number of at least 1, where a value within rounding error of
/// a whole number is that number (`0.1 h` is 6.000000000000001 minutes: 6, not 7).
fn whole_up(value: f64) -> f64 {
    let nearest = value.round();
    let whole = if (value - nearest).abs() <= 1e-6 {
        nearest
    } else {
        value.ceil()
    };
    whole.max(1.0)
}

#[cfg(test)]
mod tests {
    use exp_syntax::ast::{Quantity, QuantityUnit};

    use super::{in_slurm_units, whole_up};

    fn slurm(amount: f64, unit: QuantityUnit) -> f64 {
        whole_up(in_slurm_units(Quantity { amount, unit }))
    }

    #[test]
    fn sizes_are_binary_and_times_round_up_to_minutes() {
        assert_eq!(slurm(512.0, QuantityUnit::Megabytes), 512.0);
        assert_eq!(slurm(4.0, QuantityUnit::Gigabytes), 4096.0);
        assert_eq!(slurm(0.5, QuantityUnit::Gigabytes), 512.0);
        assert_eq!(slurm(1.0, QuantityUnit::Terabytes), 1_048_576.0);
        assert_eq!(slurm(0.4, QuantityUnit::Megabytes), 1.0);
        assert_eq!(slurm(1.5, QuantityUnit::Megabytes), 2.0);
        assert_eq!(slurm(30.0, QuantityUnit::Minutes), 30.0);
        assert_eq!(slurm(2.0, QuantityUnit::Hours), 120.0);
        assert_eq!(slurm(0.1, QuantityUnit::Hours), 6.0);
        assert_eq!(slurm(90.0, QuantityUnit::Seconds), 2.0);
        assert_eq!(slurm(120.0, QuantityUnit::Seconds), 2.0);
        assert_eq!(slurm(1.0, QuantityUnit::Seconds), 1.0);
    }

    #[test]
    fn a_whole_number_is_kept_and_anything_more_rounds_up() {
        assert_eq!(whole_up(3.0), 3.0);
        assert_eq!(whole_up(3.000_000_000_1), 3.0);
        assert_eq!(whole_up(2.999_999_999_9), 3.0);
        assert_eq!(whole_up(3.001), 4.0);
        assert_eq!(whole_up(2.4), 3.0);
        assert_eq!(whole_up(1e12 + 0.25), 1e12 + 1.0);
        assert_eq!(whole_up(0.0), 1.0);
        assert_eq!(whole_up(0.2), 1.0);
    }
}
