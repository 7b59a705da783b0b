//! `ParseError`: what can go wrong while reading the text of a file, and its diagnostic.

use exp_diag::{Diagnostic, Span};

#[derive(Debug, Clone, PartialEq)]
pub enum ParseError {
    /// The grammar did not match: `expected` lists, in words, what would have fit.
    Syntax {
        expected: Vec<String>,
        /// The text found instead, or `None` at the end of the file.
        found: Option<String>,
        span: Span,
    },
    /// A string literal not closed on its line.
    UnterminatedString { span: Span },
    /// A number that does not fit: an integer beyond 64 bits or a float beyond `f64`.
    InvalidNumber { text: String, span: Span },
    /// A backslash escape the language does not know, such as `\q`.
    InvalidEscape { escape: String, span: Span },
    /// A `/*` comment with no `*/` after it.
    UnterminatedComment { span: Span },
    /// Bytes that are not UTF-8: `span` covers the replacement character that stands for the
    /// first of them in the decoded text (see `decode`).
    InvalidUtf8 { span: Span },
    /// Brackets, parentheses, blocks or minus signs nested deeper than `limit`, or more than
    /// `limit` operators in one expression (`operators`): the file is beyond what exp reads.
    TooDeep {
        span: Span,
        limit: usize,
        operators: bool,
    },
}

impl ParseError {
    pub fn code(&self) -> &'static str {
        match self {
            ParseError::Syntax { .. } | ParseError::UnterminatedComment { .. } => "E0001",
            ParseError::UnterminatedString { .. } => "E0002",
            ParseError::InvalidNumber { .. } | ParseError::InvalidEscape { .. } => "E0003",
            ParseError::InvalidUtf8 { .. } => "E0038",
            ParseError::TooDeep { .. } => "E0039",
        }
    }

    pub fn to_diagnostic(&self) -> Diagnostic {
        match self {
            ParseError::Syntax {
                expected,
                found,
                span,
            } => {
                let expected_words = join_or(expected);
                let found_words = match found {
                    Some(text) => format!("`{text}`"),
                    None => "end of file".to_string(),
                };
                let mut diagnostic = Diagnostic::error(
                    self.code(),
                    format!("syntax error: expected {expected_words}, found {found_words}"),
                )
                .with_primary(*span, format!("expected {expected_words}"));
                let closers = ["`}`", "`]`", "`)`"];
                if let Some(closer) = expected
                    .iter()
                    .find(|word| closers.contains(&word.as_str()))
                {
                    diagnostic = diagnostic
                        .with_help(format!("a {closer} may be missing before this point"));
                }
                diagnostic
            }
            ParseError::UnterminatedString { span } => {
                Diagnostic::error(self.code(), "unterminated string")
                    .with_primary(*span, "this string is not closed")
                    .with_help("add a closing `\"` before the end of the line")
            }
            ParseError::InvalidNumber { text, span } => {
                Diagnostic::error(self.code(), format!("number `{text}` is too large"))
                    .with_primary(*span, "does not fit in 64 bits")
                    .with_help("write a smaller number")
            }
            ParseError::UnterminatedComment { span } => {
                Diagnostic::error(self.code(), "unterminated comment")
                    .with_primary(*span, "this comment is never closed")
                    .with_help("close it with `*/`, or start each line with `//`")
            }
            ParseError::InvalidUtf8 { span } => {
                Diagnostic::error(self.code(), "the file is not UTF-8 text")
                    .with_primary(*span, "this byte is not UTF-8")
                    .with_help("save the file as UTF-8; exp reads no other encoding")
            }
            ParseError::TooDeep {
                span,
                limit,
                operators: false,
            } => Diagnostic::error(self.code(), format!("nested more than {limit} levels deep"))
                .with_primary(*span, format!("level {} starts here", limit + 1))
                .with_help("name the inner values with `let` and refer to them by name"),
            ParseError::TooDeep {
                span,
                limit,
                operators: true,
            } => Diagnostic::error(
                self.code(),
                format!("an expression with more than {limit} operators"),
            )
            .with_primary(*span, format!("operator {} is here", limit + 1))
            .with_help("split the expression into several `let`s"),
            ParseError::InvalidEscape { escape, span } => {
                Diagnostic::error(self.code(), format!("unknown escape `{escape}` in string"))
                    .with_primary(*span, "unknown escape")
                    .with_help("the escapes are `\\\"`, `\\\\`, `\\n`, `\\t`, `\\r` and `\\0`")
            }
        }
    }
}

/// `a`, `a or b`, `a, b or c`.
fn join_or(words: &[String]) -> String {
    match words {
        [] => "something else".to_string(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}
