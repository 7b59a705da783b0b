//! `exp`: the command line. The only crate that reads arguments and the environment, prints,
//! picks colours, and decides exit codes (STYLE L5, E8).

mod discover;
mod dot;
mod fmt;
mod outline;
mod progress;
mod runs;
mod world;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use exp_diag::{Diagnostic, SourceMap};
use exp_ir::{Graph, Origin};
use exp_runtime::{DeviceChoice, Registry, RunOptions, RunSummary};

use crate::discover::{discover, RegistryCatalog};
use crate::world::FileWorld;

#[derive(Parser)]
#[command(
    name = "exp",
    version,
    about = "Run declarative machine-learning experiments"
)]
struct Cli {
    /// When to colour diagnostics.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    color: ColorChoice,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand)]
enum Command {
    /// Parse and check an experiment file; exit 2 if it has errors.
    Check {
        file: PathBuf,
        /// `human` diagnostics, or `json` (one object per diagnostic, with line and column).
        #[arg(long, value_enum, default_value_t = MessageFormat::Human)]
        message_format: MessageFormat,
    },
    /// Print the dataflow graph an experiment compiles to.
    Graph {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
    /// Run an experiment and write its run directory.
    Run {
        file: PathBuf,
        /// The run directory (default: runs/<experiment>/<run-id>). A run written elsewhere is
        /// recorded in runs/<experiment>/ too, so `exp runs` and `exp show` still find it.
        #[arg(long)]
        out: Option<PathBuf>,
        /// How many nodes may run at once.
        #[arg(long, short, default_value_t = 2)]
        jobs: usize,
        /// libtorch's intra-op threads per node. CPU results depend on it (never on --jobs),
        /// so it is part of every cache key; raise it for a run of one large model.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
        threads: u16,
        /// Where tensors live: auto picks CUDA when present.
        #[arg(long, default_value = "auto")]
        device: DeviceChoice,
        /// The cache of node results (default: runs/.cache).
        #[arg(long)]
        cache: Option<PathBuf>,
        /// Run every node and store nothing in the cache.
        #[arg(long, conflicts_with = "cache")]
        no_cache: bool,
        /// Recompute this node (and what depends on it) even if cached; repeatable.
        #[arg(long, value_name = "NODE")]
        force: Vec<String>,
        /// Say, per node, whether it comes from the cache and, if not, what changed.
        #[arg(long)]
        explain: bool,
    },
    /// List every component of every plugin, with its parameters.
    Plugins {
        /// Also load the plugins this experiment file names with `plugin` lines.
        file: Option<PathBuf>,
        /// Print JSON for machines.
        #[arg(long)]
        json: bool,
    },
    /// List past runs, newest first (those written with `exp run --out` too).
    Runs {
        /// Where to look: the directory `exp run` writes and records runs in, another directory
        /// of run directories, or one run directory (such as an `--out` directory).
        #[arg(long, default_value = runs::DEFAULT_DIR)]
        dir: PathBuf,
        /// Print JSON for machines.
        #[arg(long)]
        json: bool,
    },
    /// Rewrite experiment files in the canonical layout; with --check, only list those not in it.
    Fmt {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Change nothing; exit 1 if a file is not formatted, naming it on stderr.
        #[arg(long)]
        check: bool,
    },
    /// Show a past run: what ran, its tables, failures and files.
    Show {
        /// A run directory, a run id, `latest` or `EXPERIMENT/latest`.
        run: String,
        /// Where run ids and `latest` are looked up, as for `exp runs --dir`.
        #[arg(long, default_value = runs::DEFAULT_DIR)]
        dir: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum MessageFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    Dot,
    Json,
    /// One line per definition, with how many nodes its sweeps made and the axes' values.
    Outline,
}

/// Exit codes, decided here and nowhere else.
enum Exit {
    Success,
    /// Stopped by Ctrl-C after checkpointing; the same command resumes.
    Interrupted,
    /// The run happened, but at least one node failed or was skipped.
    NodesFailed,
    /// `exp fmt --check`: a file is not in the canonical layout.
    Unformatted,
    /// The experiment file (or a plugin it needs) has errors; nothing ran.
    InvalidInput,
    /// exp could not do its job (unreadable file, unwritable run directory, no such device).
    Fatal,
}

impl Exit {
    fn code(self) -> ExitCode {
        ExitCode::from(match self {
            Exit::Success => 0,
            Exit::Interrupted => 130,
            Exit::NodesFailed | Exit::Unformatted => 1,
            Exit::InvalidInput => 2,
            Exit::Fatal => 3,
        })
    }
}

fn main() -> ExitCode {
    process_settings();
    let cli = Cli::parse();
    let color = match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    };
    let exit = match cli.command {
        Command::Check {
            file,
            message_format,
        } => check_command(&file, message_format, color),
        Command::Graph { file, format } => graph_command(&file, format, color),
        Command::Run {
            file,
            out,
            jobs,
            threads,
            device,
            cache,
            no_cache,
            force,
            explain,
        } => {
            let cache = if no_cache {
                None
            } else {
                Some(cache.unwrap_or_else(|| PathBuf::from("runs").join(".cache")))
            };
            let settings = RunSettings {
                out,
                jobs,
                threads: usize::from(threads),
                device,
                cache,
                force,
                explain,
            };
            run_command(&file, settings, color)
        }
        Command::Plugins { file, json } => plugins_command(file.as_deref(), json),
        Command::Runs { dir, json } => runs::runs_command(&dir, json),
        Command::Show { run, dir } => runs::show_command(&run, &dir),
        Command::Fmt { files, check } => fmt::fmt_command(&files, check, color),
    };
    exit.code()
}

/// Process-wide settings made once at start-up, before any other thread exists.
///
/// Keeps glibc's allocator from handing memory back to the system after every step.
///
/// Training allocates and frees the same activation-sized blocks at every step, on worker
/// threads whose malloc arenas trim eagerly: each step then pays for fresh pages (page faults,
/// `madvise`), about a quarter of a small conv net's step time. Serving those blocks from the
/// heap (up to the 32 MiB mmap ceiling) and trimming only past 256 MiB of free memory removes
/// that cost. The settings are process-wide, so only the binary sets them.
fn process_settings() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator tunables; it is called before any other thread
        // exists, and a refused value leaves glibc's default in place.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 * 1024 * 1024);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 256 * 1024 * 1024);
        }
        // SAFETY: restores the default action for SIGPIPE before any other thread exists, so
        // `exp runs | head` ends quietly like other command-line tools instead of panicking in
        // `println!` (Rust ignores SIGPIPE by default).
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
}

/// A checked experiment: its graph, the sources for rendering, the plugins it can use.
struct Loaded {
    graph: Graph,
    sources: SourceMap,
    registry: Registry,
    /// The file as read, for its hash in the manifest.
    bytes: Vec<u8>,
}

/// The stack of the thread that checks a file. Parsing bounds how deep the syntax nests, but a
/// file may still chain thousands of definitions or lets, which the checker follows
/// recursively; a generous stack (reserved, not used, until needed) keeps that an answer
/// rather than a crash.
const CHECK_STACK_BYTES: usize = 512 * 1024 * 1024;

/// Reads, parses, loads plugins for, checks and compiles a file. On failure the diagnostics
/// have been printed and the exit code is returned.
fn load(file: &Path, format: MessageFormat, color: bool) -> Result<Loaded, Exit> {
    let display_name = file.display().to_string();
    if file.is_dir() {
        // A directory is a wrong argument rather than an unreadable file: say so at the path.
        let mut sources = SourceMap::new();
        let main = sources.add(display_name.clone(), String::new());
        let error = exp_check::CheckError::Directory {
            path: display_name.clone(),
            span: exp_diag::Span::new(main, 0, 0),
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

    // `plugin` lines must be loaded before checking: their components are part of the catalog.
    let plugin_lines = plugin_lines(&exp_syntax::decode(&bytes).text, &base);
    let explicit: Vec<PathBuf> = plugin_lines.iter().map(|(path, _)| path.clone()).collect();
    let discovered = discover(&explicit);
    for warning in discovered.warnings() {
        eprintln!("{warning}");
    }
    let (registry, refusals) = (discovered.registry, discovered.refusals);

    let world = FileWorld { base };
    let catalog = RegistryCatalog(&registry);
    let checked = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("check".into())
            .stack_size(CHECK_STACK_BYTES)
            .spawn_scoped(scope, || {
                exp_compile::check_and_compile(&display_name, &bytes, &experiment, &world, &catalog)
            })
            .map(|thread| thread.join())
    });
    let (graph, sources, mut diagnostics) = match checked {
        Ok(Ok(checked)) => checked,
        // A panic while checking is a bug; it has printed its message, so pass it on as it is.
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(error) => {
            eprintln!("error: cannot start a thread to check `{display_name}`: {error}");
            return Err(Exit::Fatal);
        }
    };
    for refusal in &refusals {
        let mut diagnostic = Diagnostic::error("E0100", refusal.error.to_string());
        if let Some(line) = refusal.line {
            diagnostic = diagnostic
                .with_primary(plugin_lines[line].1, "this plugin was refused")
                .with_help("the path is relative to the experiment file; check it names a library built against this exp");
        } else {
            diagnostic = diagnostic
                .with_help("remove it from EXP_PLUGIN_PATH, or rebuild it against this exp");
        }
        diagnostics.insert(0, diagnostic);
    }
    emit(&diagnostics, &sources, format, color);
    let has_errors = diagnostics.iter().any(Diagnostic::is_error);
    match graph {
        Some(graph) if !has_errors => Ok(Loaded {
            graph,
            sources,
            registry,
            bytes,
        }),
        _ => {
            let errors = diagnostics
                .iter()
                .filter(|diagnostic| diagnostic.is_error())
                .count();
            if matches!(format, MessageFormat::Human) {
                eprintln!(
                    "error: `{display_name}` has {}; nothing was run",
                    exp_diag::count(errors, "error")
                );
            }
            Err(Exit::InvalidInput)
        }
    }
}

fn emit(diagnostics: &[Diagnostic], sources: &SourceMap, format: MessageFormat, color: bool) {
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

fn check_command(file: &Path, format: MessageFormat, color: bool) -> Exit {
    match load(file, format, color) {
        Ok(loaded) => {
            if matches!(format, MessageFormat::Human) {
                eprintln!(
                    "`{}` is well-formed: {} in the graph",
                    file.display(),
                    exp_diag::count(loaded.graph.nodes.len(), "node")
                );
            }
            Exit::Success
        }
        Err(exit) => exit,
    }
}

fn graph_command(file: &Path, format: GraphFormat, color: bool) -> Exit {
    let loaded = match load(file, MessageFormat::Human, color) {
        Ok(loaded) => loaded,
        Err(exit) => return exit,
    };
    match format {
        GraphFormat::Dot => print!("{}", dot::to_dot(&loaded.graph)),
        GraphFormat::Outline => print!("{}", outline::to_outline(&loaded.graph)),
        GraphFormat::Json => match serde_json::to_string_pretty(&loaded.graph) {
            Ok(json) => println!("{json}"),
            Err(error) => {
                eprintln!("error: cannot serialise the graph: {error}; this is a bug in exp");
                return Exit::Fatal;
            }
        },
    }
    Exit::Success
}

/// The options of `exp run`.
struct RunSettings {
    out: Option<PathBuf>,
    jobs: usize,
    threads: usize,
    device: DeviceChoice,
    cache: Option<PathBuf>,
    force: Vec<String>,
    explain: bool,
}

fn run_command(file: &Path, settings: RunSettings, color: bool) -> Exit {
    let loaded = match load(file, MessageFormat::Human, color) {
        Ok(loaded) => loaded,
        Err(exit) => return exit,
    };
    if let Some(unknown) = settings
        .force
        .iter()
        .find(|name| loaded.graph.find(name).is_none())
    {
        let names: Vec<&str> = loaded
            .graph
            .nodes
            .iter()
            .map(|node| node.name.as_str())
            .collect();
        let hint = exp_diag::did_you_mean(unknown, names.iter().copied())
            .map(|name| format!("; did you mean `{name}`?"))
            .unwrap_or_default();
        eprintln!(
            "error: `--force {unknown}` names no node of `{}`{hint}",
            file.display()
        );
        return Exit::InvalidInput;
    }
    let RunSettings {
        out,
        jobs,
        threads,
        device,
        cache,
        force,
        explain,
    } = settings;
    let run_id = exp_runtime::run_dir::new_run_id();
    let run_dir = match out {
        Some(out) => {
            // Elsewhere: a record where `exp runs` and `exp show` look points at it.
            let recorded = runs::record_run_elsewhere(
                Path::new(runs::DEFAULT_DIR),
                &loaded.graph.experiment,
                &run_id,
                &out,
            );
            if let Err(error) = recorded {
                eprintln!(
                    "warning: `exp runs` will not list this run: cannot record it in `{}`: {error}",
                    runs::DEFAULT_DIR
                );
            }
            out
        }
        None => PathBuf::from(runs::DEFAULT_DIR)
            .join(&loaded.graph.experiment)
            .join(run_id),
    };
    let stop = Arc::new(AtomicBool::new(false));
    install_ctrl_c(stop.clone());
    let options = RunOptions {
        run_dir,
        device,
        jobs,
        threads,
        source_path: file.display().to_string(),
        source_sha256: exp_runtime::run_dir::sha256_hex(&loaded.bytes),
        exp_version: env!("CARGO_PKG_VERSION").to_string(),
        cache_dir: cache,
        force,
        explain,
        stop,
    };
    let observer = progress::Progress::new();
    let summary = match exp_runtime::execute(&loaded.graph, &loaded.registry, &options, &observer) {
        Ok(summary) => summary,
        Err(message) => {
            eprintln!("error: {message}");
            return Exit::Fatal;
        }
    };
    if let Err(error) = exp_runtime::plots::write_plots(&summary.run_dir) {
        eprintln!("warning: no plots: {error}");
    }
    report(&loaded, &summary, color);
    if summary.interrupted() {
        let args: Vec<String> = std::env::args().collect();
        eprintln!(
            "interrupted: finished nodes are cached; resume with:\n  {}",
            args.join(" ")
        );
        return Exit::Interrupted;
    }
    if summary.succeeded() {
        Exit::Success
    } else {
        Exit::NodesFailed
    }
}

/// The first Ctrl-C asks the run to stop after the current training step (with a checkpoint);
/// a second one stops at once.
fn install_ctrl_c(stop: Arc<AtomicBool>) {
    let result = ctrlc::set_handler(move || {
        if stop.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\nstopping after the current step (Ctrl-C again to stop at once)");
    });
    if let Err(error) = result {
        eprintln!("warning: Ctrl-C will stop exp at once: {error}");
    }
}

/// Prints the tables, each failure located at its node's definition, and where the files are.
fn report(loaded: &Loaded, summary: &RunSummary, color: bool) {
    for table in &summary.tables {
        println!("\n{}:\n{}", table.name, table.to_markdown());
    }
    let failures: Vec<Diagnostic> = summary
        .failures()
        .map(|(name, error)| {
            let mut diagnostic = Diagnostic::error("E0200", error.to_string());
            if let Some(node) = loaded.graph.find(name) {
                if let Origin::Source(span) = node.origin {
                    diagnostic = diagnostic.with_primary(span, format!("node `{name}` failed"));
                }
            }
            let log = summary.run_dir.join("logs").join(format!("{name}.log"));
            if log.exists() {
                diagnostic = diagnostic.with_note(format!("the node's log: {}", log.display()));
            }
            diagnostic
        })
        .collect();
    if !failures.is_empty() {
        eprint!("{}", exp_diag::render(&failures, &loaded.sources, color));
        let skipped = summary
            .outcomes
            .iter()
            .filter(|(_, outcome)| matches!(outcome, exp_runtime::NodeOutcome::Skipped { .. }))
            .count();
        eprintln!(
            "error: {} failed, {} skipped; the other nodes finished",
            exp_diag::count(failures.len(), "node"),
            exp_diag::count(skipped, "node")
        );
    }
    println!("run directory: {}", summary.run_dir.display());
}

/// The `plugin "path"` lines of a file, resolved against its directory, with their spans.
fn plugin_lines(text: &str, base: &Path) -> Vec<(PathBuf, exp_diag::Span)> {
    let (ast, _) = exp_syntax::parse(exp_diag::FileId(0), text);
    exp_syntax::plugin_paths(&ast)
        .into_iter()
        .map(|(path, span)| (base.join(path), span))
        .collect()
}

fn plugins_command(file: Option<&Path>, json: bool) -> Exit {
    let explicit: Vec<PathBuf> = match file {
        Some(file) => match std::fs::read(file) {
            Ok(bytes) => {
                let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
                plugin_lines(&exp_syntax::decode(&bytes).text, &base)
                    .into_iter()
                    .map(|(path, _)| path)
                    .collect()
            }
            Err(error) => {
                eprintln!("error: cannot read `{}`: {error}", file.display());
                return Exit::Fatal;
            }
        },
        None => Vec::new(),
    };
    let discovered = discover(&explicit);
    for warning in discovered.warnings() {
        eprintln!("{warning}");
    }
    let (registry, refusals) = (discovered.registry, discovered.refusals);
    for refusal in &refusals {
        eprintln!("error: {}", refusal.error);
    }
    if json {
        let entries: Vec<serde_json::Value> = registry
            .components()
            .into_iter()
            .map(|(plugin, schema)| {
                serde_json::json!({
                    "plugin": plugin.name,
                    "plugin_version": plugin.version,
                    "path": plugin.path.display().to_string(),
                    "component": schema,
                })
            })
            .collect();
        match serde_json::to_string_pretty(&entries) {
            Ok(text) => println!("{text}"),
            Err(error) => {
                eprintln!("error: {error}");
                return Exit::Fatal;
            }
        }
    } else {
        for plugin in registry.plugins() {
            println!(
                "plugin {} {} ({})",
                plugin.name,
                plugin.version,
                plugin.path.display()
            );
            for schema in plugin.schemas() {
                println!("  {} {} — {}", schema.kind, schema.name, schema.doc);
                for param in &schema.params {
                    let default = param
                        .default
                        .as_ref()
                        .map_or("required".to_string(), |value| format!("default {value}"));
                    let range = match param.range() {
                        exp_ir::Range {
                            min: None,
                            max: None,
                        } => String::new(),
                        range => format!(", {range}"),
                    };
                    println!(
                        "      {}: {} ({default}{range}) {}",
                        param.name,
                        param.expected(),
                        param.doc
                    );
                }
            }
        }
    }
    if refusals.is_empty() {
        Exit::Success
    } else {
        Exit::InvalidInput
    }
}
