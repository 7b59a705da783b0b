//! `SourceMap`: the texts of every file a run has read (the experiment, its imports, the
//! embedded stdlib modules under pseudo-paths such as `<stdlib/digits.exp>`), and rendering.

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term;

use crate::diagnostic::{Diagnostic, Severity};
use crate::span::{FileId, Span};

#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: Vec<(String, String)>,
}

/// A 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineCol {
    pub line: usize,
    pub col: usize,
}

impl SourceMap {
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        self.files.push((name.into(), text.into()));
        FileId(self.files.len() as u32 - 1)
    }

    pub fn name(&self, file: FileId) -> &str {
        &self.files[file.0 as usize].0
    }

    pub fn text(&self, file: FileId) -> &str {
        &self.files[file.0 as usize].1
    }

    pub fn find(&self, name: &str) -> Option<FileId> {
        self.files
            .iter()
            .position(|(file_name, _)| file_name == name)
            .map(|idx| FileId(idx as u32))
    }

    /// Line and column of the start of a span.
    pub fn line_col(&self, span: Span) -> LineCol {
        let text = self.text(span.file);
        let offset = (span.start as usize).min(text.len());
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |idx| idx + 1);
        LineCol {
            line,
            col: before[line_start..].chars().count() + 1,
        }
    }

    /// `file:line:col` of a span's start.
    pub fn location(&self, span: Span) -> String {
        let LineCol { line, col } = self.line_col(span);
        format!("{}:{line}:{col}", self.name(span.file))
    }
}

pub(crate) fn render(diagnostics: &[Diagnostic], sources: &SourceMap, color: bool) -> String {
    let mut files = SimpleFiles::new();
    for (name, text) in &sources.files {
        files.add(name.as_str(), text.as_str());
    }
    let config = term::Config::default();
    let mut out = String::new();
    for diagnostic in diagnostics {
        let converted = convert(diagnostic);
        if color {
            let mut buffer = termcolor::Ansi::new(Vec::new());
            if term::emit_to_write_style(&mut buffer, &config, &files, &converted).is_ok() {
                out.push_str(&String::from_utf8_lossy(&buffer.into_inner()));
                continue;
            }
        }
        if term::emit_to_string(&mut out, &config, &files, &converted).is_err() {
            // A span outside its file is a bug in the phase that made it; still say the message.
            out.push_str(&format!(
                "error[{}]: {}\n",
                diagnostic.code, diagnostic.message
            ));
        }
    }
    out
}

fn convert(diagnostic: &Diagnostic) -> cs::Diagnostic<usize> {
    let severity = match diagnostic.severity {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
    };
    let labels = diagnostic
        .labels
        .iter()
        .map(|label| {
            let style = if label.primary {
                cs::LabelStyle::Primary
            } else {
                cs::LabelStyle::Secondary
            };
            cs::Label::new(style, label.span.file.0 as usize, label.span.range())
                .with_message(label.message.clone())
        })
        .collect();
    let mut notes = diagnostic.notes.clone();
    if let Some(help) = &diagnostic.help {
        notes.push(format!("help: {help}"));
    }
    cs::Diagnostic::new(severity)
        .with_code(diagnostic.code.clone())
        .with_message(diagnostic.message.clone())
        .with_labels(labels)
        .with_notes(notes)
}

#[cfg(test)]
mod tests {
    use super::SourceMap;
    use crate::{render, Diagnostic, Span};

    #[test]
    fn renders_location_line_and_caret() {
        let mut sources = SourceMap::new();
        let file = sources.add("a.exp", "model m = mlp {}\nmodel m = mlp {}\n");
        let span = Span::new(file, 23, 24);
        assert_eq!(sources.location(span), "a.exp:2:7");
        let text = render(
            &[Diagnostic::error("E0002", "duplicate definition `m`")
                .with_primary(span, "defined again here")
                .with_help("rename one of them")],
            &sources,
            false,
        );
        assert!(text.contains("a.exp:2:7"), "{text}");
        assert!(text.contains("^"), "{text}");
        assert!(text.contains("help: rename one of them"), "{text}");
    }
}
