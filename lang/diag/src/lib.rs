//! Spans, source files and diagnostics as plain data (STYLE E1, E4).
//!
//! Every phase builds `Diagnostic` values; nothing here prints. Line and column are computed
//! only when a diagnostic is rendered, from the `SourceMap` that owns the file texts.

mod diagnostic;
mod source_map;
mod span;

pub use diagnostic::{Diagnostic, Label, Severity};
pub use source_map::{LineCol, SourceMap};
pub use span::{FileId, Span};

/// Renders diagnostics as text in the familiar compiler style (file:line:col, the source line,
/// a caret under the span, notes and help). `color` adds ANSI colours for terminals.
pub fn render(diagnostics: &[Diagnostic], sources: &SourceMap, color: bool) -> String {
    source_map::render(diagnostics, sources, color)
}

/// English plurals for counts in messages: `count(3, "error")` is "3 errors" (STYLE E5).
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The closest candidate to `name` by edit distance, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(name, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, candidate)| (*distance, *candidate))
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b_chars: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b_chars.len()).collect();
    for (i, a_char) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, b_char) in b_chars.iter().enumerate() {
            let substitution = previous[j] + usize::from(a_char != *b_char);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b_chars.len()]
}

#[cfg(test)]
mod tests {
    use super::{count, did_you_mean, edit_distance};

    #[test]
    fn suggestions_pick_the_nearest_name() {
        assert_eq!(edit_distance("adamw", "adam"), 1);
        assert_eq!(did_you_mean("adamm", ["adamw", "sgd"]), Some("adamw"));
        assert_eq!(did_you_mean("zzz", ["adamw", "sgd"]), None);
        assert_eq!(count(2, "error"), "2 errors");
        assert_eq!(count(1, "error"), "1 error");
    }
}
