//! What the server knows about one open document: its text, its syntax tree when it parses,
//! and its diagnostics from the same checker `exp check` runs, against the components of a
//! `Catalog` built from the schema cache (`catalog_for`).

use std::path::{Path, PathBuf};
use std::process::Command;

use exp_diag::{FileId, Severity, SourceMap};
use exp_syntax::ast;
use lsp_types::{
    DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Position, Range,
};

use crate::cached_catalog::CachedCatalog;
use crate::host_exec::host_binary;
use crate::lsp::line_index::LineIndex;
use crate::lsp::uri;
use crate::plugin_files::{self, Named, Sources};
use crate::schema_cache::SchemaCache;
use crate::world::FileWorld;

/// The code of the diagnostic that says a plugin was not loaded because its folder is not
/// trusted.
pub const UNTRUSTED: &str = "W0100";

/// Why the catalog lacks a plugin file's components.
#[derive(Debug, Clone)]
pub enum Notice {
    /// Named by the file or `EXP_PLUGIN_PATH`, and not loaded: the folder is not trusted.
    Withheld { path: PathBuf, named: Named },
    /// Loading it failed (or there is no schema cache, or no `exp-host`, to load it with).
    Refused {
        path: PathBuf,
        named: Named,
        error: String,
    },
}

/// The components a document is checked against, and what is missing from them.
pub struct CatalogState {
    pub catalog: CachedCatalog,
    pub notices: Vec<Notice>,
}

/// Builds the catalog for a file with these `plugin` lines: every plugin the cache describes;
/// for the others, those it may load (all in a trusted folder, else only those beside the
/// binaries) are loaded by `exp-host cache-plugins`, in a process of its own, and read back from
/// the cache; the rest are withheld.
pub fn catalog_for(explicit: &[PathBuf], trusted: bool) -> CatalogState {
    let files = plugin_files::find(explicit, Sources::All);
    let cache = SchemaCache::open();
    let (catalog, unknown) = CachedCatalog::from_cache(cache.as_ref(), &files.files);
    if unknown.is_empty() {
        return CatalogState {
            catalog,
            notices: Vec::new(),
        };
    }
    let (loadable, withheld): (Vec<_>, Vec<_>) = unknown
        .into_iter()
        .partition(|unknown| trusted || unknown.file.named == Named::Beside);
    let mut notices: Vec<Notice> = withheld
        .into_iter()
        .map(|unknown| Notice::Withheld {
            path: unknown.file.path,
            named: unknown.file.named,
        })
        .collect();
    if loadable.is_empty() {
        return CatalogState { catalog, notices };
    }
    let paths: Vec<&Path> = loadable
        .iter()
        .map(|unknown| unknown.file.path.as_path())
        .collect();
    let refusals = load_into_cache(&paths, cache.is_some());
    let (catalog, still_unknown) = CachedCatalog::from_cache(cache.as_ref(), &files.files);
    for unknown in still_unknown {
        if !loadable.contains(&unknown) {
            continue;
        }
        let error = refusals
            .iter()
            .find(|(path, _)| *path == unknown.file.path)
            .map_or_else(
                || match refusals.first() {
                    Some((path, error)) if path.as_os_str().is_empty() => error.clone(),
                    _ => "it could not be loaded".to_string(),
                },
                |(_, error)| error.clone(),
            );
        // Beside the binaries, a library that is no plugin is skipped, as loading skips it.
        if unknown.file.named == Named::Beside && error.contains("is not an exp plugin") {
            continue;
        }
        notices.push(Notice::Refused {
            path: unknown.file.path,
            named: unknown.file.named,
            error,
        });
    }
    CatalogState { catalog, notices }
}

/// Runs `exp-host cache-plugins` on the files; returns its refusals as (path, error). When it
/// cannot run at all, one refusal with an empty path says why.
fn load_into_cache(paths: &[&Path], have_cache: bool) -> Vec<(PathBuf, String)> {
    if !have_cache {
        return vec![(
            PathBuf::new(),
            "there is no schema cache to load it into (set XDG_CACHE_HOME or HOME)".to_string(),
        )];
    }
    let Some(host) = host_binary() else {
        return vec![(
            PathBuf::new(),
            "`exp-host` is missing beside `exp`".to_string(),
        )];
    };
    let output = Command::new(host)
        .arg("cache-plugins")
        .args(paths)
        .stdin(std::process::Stdio::null())
        .output();
    let output = match output {
        Ok(output) => output,
        Err(error) => return vec![(PathBuf::new(), format!("cannot start `exp-host`: {error}"))],
    };
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .map(|refusal| {
            (
                PathBuf::from(refusal["path"].as_str().unwrap_or_default()),
                refusal["error"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// One open document, analysed.
pub struct Analysis {
    pub path: PathBuf,
    pub text: String,
    pub index: LineIndex,
    /// The syntax tree, when the text parses.
    pub ast: Option<ast::File>,
    pub diagnostics: Vec<lsp_types::Diagnostic>,
}

impl Analysis {
    pub fn range(&self, span: exp_diag::Span) -> Range {
        self.index
            .range(&self.text, span.start as usize, span.end as usize)
    }
}

/// Parses and checks a document, as `exp check` would, against `state`'s catalog.
pub fn analyse(path: &Path, text: String, state: &CatalogState, trusted: bool) -> Analysis {
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let world = FileWorld { base: base.clone() };
    let name = path.display().to_string();
    let mut sources = SourceMap::new();
    let (_, diagnostics, syntax) = exp_check::check_file_keeping_syntax(
        &mut sources,
        &name,
        text.as_bytes(),
        &world,
        &state.catalog,
    );
    // The checker read the text without a byte order mark; navigation works on the text as
    // the editor has it, so such a text is parsed as it is.
    let ast = if text.starts_with('\u{feff}') {
        let (ast, parse_errors) = exp_syntax::parse(FileId(0), &text);
        parse_errors.is_empty().then_some(ast)
    } else {
        syntax
    };
    let index = LineIndex::new(&text);
    let main = sources.find(&name);
    let withheld = state
        .notices
        .iter()
        .any(|notice| matches!(notice, Notice::Withheld { .. }));
    let mut analysis = Analysis {
        path: path.to_path_buf(),
        text,
        index,
        ast,
        diagnostics: Vec::new(),
    };
    let mut converted = Vec::new();
    for diagnostic in &diagnostics {
        // A component a withheld plugin would provide is unknown (E0018), or known only as
        // another kind (E0019: `linear` is a std scheduler), only because it was withheld.
        if withheld && matches!(diagnostic.code.as_str(), "E0018" | "E0019") {
            continue;
        }
        converted.push(convert(&analysis, &sources, main, diagnostic));
    }
    let plugin_lines = analysis
        .ast
        .as_ref()
        .map(exp_syntax::plugin_paths)
        .unwrap_or_default();
    for notice in &state.notices {
        converted.push(notice_diagnostic(
            &analysis,
            notice,
            &plugin_lines,
            &base,
            trusted,
        ));
    }
    analysis.diagnostics = converted;
    analysis
}

fn severity(severity: Severity) -> DiagnosticSeverity {
    match severity {
        Severity::Error => DiagnosticSeverity::ERROR,
        Severity::Warning => DiagnosticSeverity::WARNING,
    }
}

/// A checker diagnostic as LSP has it: the message with its notes and help below it (as
/// `exp check` prints them), secondary labels as related information.
fn convert(
    analysis: &Analysis,
    sources: &SourceMap,
    main: Option<FileId>,
    diagnostic: &exp_diag::Diagnostic,
) -> lsp_types::Diagnostic {
    let mut message = diagnostic.message.clone();
    let primary = diagnostic.primary_span();
    let range = match primary {
        Some(span) if Some(span.file) == main => analysis.range(span),
        Some(span) => {
            // In an imported module: shown at the top, saying where.
            message = format!("{} (in {})", message, sources.location(span));
            Range::default()
        }
        None => Range::default(),
    };
    if let Some(label) = diagnostic
        .labels
        .iter()
        .find(|label| label.primary && !label.message.is_empty())
    {
        message.push_str(&format!("\n{}", label.message));
    }
    for note in &diagnostic.notes {
        message.push_str(&format!("\nnote: {note}"));
    }
    if let Some(help) = &diagnostic.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    let related: Vec<DiagnosticRelatedInformation> = diagnostic
        .labels
        .iter()
        .filter(|label| !label.primary && Some(label.span.file) == main)
        .filter_map(|label| {
            Some(DiagnosticRelatedInformation {
                location: Location::new(
                    uri::from_path(&analysis.path)?,
                    analysis.range(label.span),
                ),
                message: label.message.clone(),
            })
        })
        .collect();
    lsp_types::Diagnostic {
        range,
        severity: Some(severity(diagnostic.severity)),
        code: Some(NumberOrString::String(diagnostic.code.clone())),
        source: Some("exp".to_string()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..lsp_types::Diagnostic::default()
    }
}

/// The diagnostic for a plugin the catalog lacks, at its `plugin` line when it has one.
fn notice_diagnostic(
    analysis: &Analysis,
    notice: &Notice,
    plugin_lines: &[(String, exp_diag::Span)],
    base: &Path,
    trusted: bool,
) -> lsp_types::Diagnostic {
    let (path, named) = match notice {
        Notice::Withheld { path, named } | Notice::Refused { path, named, .. } => (path, *named),
    };
    let range = match named {
        Named::Line(line) => plugin_lines
            .get(line)
            .map_or_else(Range::default, |(_, span)| analysis.range(*span)),
        _ => Range::new(Position::new(0, 0), Position::new(0, 0)),
    };
    let from = match named {
        Named::Line(_) => "named by this file",
        Named::PluginPath => "named by `EXP_PLUGIN_PATH`",
        Named::Beside => "beside exp",
    };
    match notice {
        Notice::Withheld { .. } => lsp_types::Diagnostic {
            range,
            severity: Some(DiagnosticSeverity::WARNING),
            code: Some(NumberOrString::String(UNTRUSTED.to_string())),
            source: Some("exp".to_string()),
            message: format!(
                "plugin `{}` ({from}) was not loaded: this folder is not trusted, and loading a plugin runs its code; components it would provide are not checked\nhelp: trust `{}` (the quick fix, or the `exp.trustFolder` command) to load it",
                path.display(),
                base.display()
            ),
            data: Some(serde_json::json!({ "folder": base.display().to_string(), "trusted": trusted })),
            ..lsp_types::Diagnostic::default()
        },
        Notice::Refused { error, .. } => {
            // As `exp check` says it (E0100).
            let help = match named {
                Named::Line(_) => "the path is relative to the experiment file; check it names a library built against this exp",
                _ => "remove it from EXP_PLUGIN_PATH, or rebuild it against this exp",
            };
            lsp_types::Diagnostic {
                range,
                severity: Some(DiagnosticSeverity::ERROR),
                code: Some(NumberOrString::String("E0100".to_string())),
                source: Some("exp".to_string()),
                message: format!("{error}\nhelp: {help}"),
                ..lsp_types::Diagnostic::default()
            }
        }
    }
}
