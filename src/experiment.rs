//! Reading, checking and compiling an experiment file, and printing its diagnostics: the steps
//! `exp` (with cached schemas) and `exp-host` (with loaded plugins) share. Which catalog of
//! components the check uses is the caller's choice.

use std::path::{Path, PathBuf};

use exp_check::Catalog;
use exp_diag::{Diagnostic, SourceMap, Span};
use exp_ir::Graph;

use crate::cli::MessageFormat;
use crate::plugin_files::plugin_lines;
use crate::world::FileWorld;
use crate::Exit;

/// The stack of the thread that checks a file. Parsing bounds how deep the syntax nests, but a
/// file may still chain thousands of definitions or lets, which the checker follows
/// recursively; a generous stack (reserved, not used, until needed) keeps that an answer
/// rather than a crash.
const CHECK_STACK_BYTES: usize = 512 * 1024 * 1024;

/// An experiment file as read.
pub struct Input {
    pub display_name: String,
    pub bytes: Vec<u8>,
    /// The experiment's name: the file's stem.
    pub experiment: String,
    /// The file's directory, against which imports and `plugin` lines resolve.
    pub base: PathBuf,
    /// The `plugin "path"` lines, resolved against `base`, with their spans.
    pub plugin_lines: Vec<(PathBuf, Span)>,
}

impl Input {
    /// The libraries the `plugin` lines name.
    pub fn explicit_plugins(&self) -> Vec<PathBuf> {
        self.plugin_lines
            .iter()
            .map(|(path, _)| path.clone())
            .collect()
    }
}

/// A checked file: the graph when there were no errors, the sources for rendering, and the
/// diagnostics.
pub struct Checked<T = Graph> {
    /// The graph, or what was made of the checked program instead (see `check_with`).
    pub graph: Option<T>,
    pub sources: SourceMap,
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads an experiment file. A directory is an error in the file (printed here); an unreadable
/// file is fatal.
pub fn read(file: &Path, format: MessageFormat, color: bool) -> Result<Input, Exit> {
    let display_name = file.display().to_string();
    if file.is_dir() {
        // A directory is a wrong argument rather than an unreadable file: say so at the path.
        let mut sources = SourceMap::new();
        let main = sources.add(display_name.clone(), String::new());
        let error = exp_check::CheckError::Directory {
            path: display_name.clone(),
            span: Span::new(main, 0, 0),
        };
        emit(&[error.to_diagnostic()], &sources, format, color);
        if matches!(format, MessageFormat::Human) {
            eprintln!("error: `{display_name}` has 1 error; nothing was run");
        }
        return Err(Exit::InvalidInput);
    }
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(error) => {
            eprintln!("error: cannot read `{}`: {error}", file.display());
            return Err(Exit::Fatal);
        }
    };
    let experiment = file
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "experiment".into());
    let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
    // `plugin` lines must be known before checking: their components are part of the catalog.
    let plugin_lines = plugin_lines(&exp_syntax::decode(&bytes).text, &base);
    Ok(Input {
        display_name,
        bytes,
        experiment,
        base,
        plugin_lines,
    })
}

/// Checks and compiles the file against `catalog`, on a thread with a large stack.
pub fn check(input: &Input, catalog: &(dyn Catalog + Sync)) -> Result<Checked, Exit> {
    check_with(input, catalog, |program| {
        exp_compile::compile(program, &input.experiment)
    })
}

/// Checks the file against `catalog` on a thread with a large stack and, when it has no
/// error, makes `lower` of the checked program: a graph, or only its size.
pub fn check_with<T: Send>(
    input: &Input,
    catalog: &(dyn Catalog + Sync),
    lower: impl FnOnce(&exp_check::Program) -> T + Send,
) -> Result<Checked<T>, Exit> {
    let world = FileWorld {
        base: input.base.clone(),
    };
    let checked = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("check".into())
            .stack_size(CHECK_STACK_BYTES)
            .spawn_scoped(scope, || {
                exp_compile::check_and_lower(
                    &input.display_name,
                    &input.bytes,
                    &world,
                    catalog,
                    lower,
                )
            })
            .map(|thread| thread.join())
    });
    match checked {
        Ok(Ok((graph, sources, diagnostics))) => Ok(Checked {
            graph,
            sources,
            diagnostics,
        }),
        // A panic while checking is a bug; it has printed its message, so pass it on as it is.
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(error) => {
            eprintln!(
                "error: cannot start a thread to check `{}`: {error}",
                input.display_name
            );
            Err(Exit::Fatal)
        }
    }
}

/// Prints the diagnostics and, when there is an error, the summary line; the graph and
/// sources when there was none.
pub fn finish<T>(
    input: &Input,
    checked: Checked<T>,
    format: MessageFormat,
    color: bool,
) -> Result<(T, SourceMap), Exit> {
    let Checked {
        graph,
        sources,
        diagnostics,
    } = checked;
    emit(&diagnostics, &sources, format, color);
    let errors = diagnostics
        .iter()
        .filter(|diagnostic| diagnostic.is_error())
        .count();
    match graph {
        Some(graph) if errors == 0 => Ok((graph, sources)),
        _ => {
            if matches!(format, MessageFormat::Human) {
                eprintln!(
                    "error: `{}` has {}; nothing was run",
                    input.display_name,
                    exp_diag::count(errors, "error")
                );
            }
            Err(Exit::InvalidInput)
        }
    }
}

/// Prints diagnostics: rendered on stderr, or one JSON object per line on stdout.
pub fn emit(diagnostics: &[Diagnostic], sources: &SourceMap, format: MessageFormat, color: bool) {
    match format {
        MessageFormat::Human => eprint!("{}", exp_diag::render(diagnostics, sources, color)),
        MessageFormat::Json => {
            for diagnostic in diagnostics {
                let location = diagnostic.primary_span().map(|span| {
                    let position = sources.line_col(span);
                    serde_json::json!({
                        "file": sources.name(span.file),
                        "line": position.line,
                        "column": position.col,
                    })
                });
                let line = serde_json::json!({
                    "severity": diagnostic.severity,
                    "code": diagnostic.code,
                    "message": diagnostic.message,
                    "location": location,
                    "notes": diagnostic.notes,
                    "help": diagnostic.help,
                });
                println!("{line}");
            }
        }
    }
}

/// `exp check`'s last line for a clean file.
pub fn well_formed(input: &Input, nodes: usize) {
    eprintln!(
        "`{}` is well-formed: {} in the graph",
        input.display_name,
        exp_diag::count(nodes, "node")
    );
}
