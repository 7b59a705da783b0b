//! `exp-host`: the half of the command line that loads plugins and with them libtorch. `exp`
//! hands it every command it does not answer from the schema cache (`run`, `plugins`, `runs`,
//! `show`, `report`, and `check` or `graph` when the cache cannot answer), so users never name
//! it. It parses the same arguments as `exp` and answers every command, storing what it learns
//! about each plugin in the schema cache as it loads it.

mod compute_node;
mod discover;
mod html;
mod memory;
mod progress;
mod runs;
mod sizes;
mod slurm;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Parser;
use exp::cli::{Cli, Command, MessageFormat};
use exp::experiment::{self, Input};
use exp::plugin_files::{self, Named, Sources};
use exp::schema_cache::SchemaCache;
use exp::Exit;
use exp_diag::{Diagnostic, SourceMap};
use exp_ir::{Graph, Origin};
use exp_runtime::{DeviceChoice, Registry, RunOptions, RunSummary};

use crate::discover::{discover, RecordingCatalog};

fn main() -> ExitCode {
    process_settings();
    let cli = Cli::parse();
    let color = cli.use_color();
    let exit = match cli.command {
        Command::Check {
            file,
            message_format,
        } => check_command(&file, message_format, color),
        Command::Graph { file, format } => match load(&file, MessageFormat::Human, color) {
            Ok(loaded) => {
                let cache = SchemaCache::open();
                let sized = sizes::size_models(&loaded.graph, &loaded.registry, cache.as_ref());
                for warning in &sized.warnings {
                    eprintln!("{warning}");
                }
                exp::print_graph(&loaded.graph, format, &sized.sizes)
            }
            Err(exit) => exit,
        },
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
            executor,
        } => {
            let cache = if no_cache {
                None
            } else {
                Some(cache.unwrap_or_else(|| PathBuf::from("runs").join(".cache")))
            };
            let device = match device.parse::<DeviceChoice>() {
                Ok(device) => device,
                Err(message) => {
                    eprintln!("error: {message}");
                    return Exit::InvalidInput.code();
                }
            };
            let settings = RunSettings {
                out,
                jobs,
                threads: usize::from(threads),
                device,
                cache,
                force,
                explain,
                executor,
            };
            run_command(&file, settings, color)
        }
        Command::ComputeNode {
            file,
            node,
            key,
            cache,
            work,
            tasks,
            threads,
            device,
        } => match device.parse::<DeviceChoice>() {
            Ok(device) => compute_node::compute_node_command(
                compute_node::Asked {
                    file,
                    node,
                    key,
                    work,
                    tasks,
                    cache,
                    threads: usize::from(threads),
                    device,
                },
                color,
            ),
            Err(message) => {
                eprintln!("error: {message}");
                Exit::InvalidInput
            }
        },
        Command::Plugins { file, json } => plugins_command(file.as_deref(), json),
        Command::Runs { dir, json } => runs::runs_command(&dir, json),
        Command::Show { run, dir } => runs::show_command(&run, &dir),
        Command::Report { run, html, dir } => runs::report_command(&run, &dir, html),
        Command::Fmt { files, check } => exp::fmt::fmt_command(&files, check, color),
        Command::Lsp => exp::lsp::serve(),
        Command::CachePlugins { paths } => cache_plugins_command(&paths),
    };
    exit_now(exit)
}

/// Ends the process without running libtorch's static destructors: tearing down its operator
/// registry took 80 ms, a third of a small run's time, and nothing of exp's needs it (every
/// file is written and closed by now, and the operating system frees the rest). Under
/// coverage instrumentation (`LLVM_PROFILE_FILE`), whose counters are written at exit, the
/// process exits the usual way.
fn exit_now(exit: Exit) -> ExitCode {
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    if std::env::var_os("LLVM_PROFILE_FILE").is_some() {
        return exit.code();
    }
    // SAFETY: `_exit` ends the process at once; the buffered output was flushed above and no
    // other thread is writing a file exp relies on (the run's workers have all ended).
    unsafe { libc::_exit(i32::from(exit.number())) }
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

/// Reads, loads plugins for, checks and compiles a file. On failure the diagnostics have been
/// printed and the exit code is returned. What loading the plugins and asking their check rules
/// taught goes into the schema cache, so that `exp` can answer the next check by itself.
fn load(file: &Path, format: MessageFormat, color: bool) -> Result<Loaded, Exit> {
    let input = experiment::read(file, format, color)?;
    let files = plugin_files::find(&input.explicit_plugins(), Sources::All);
    for warning in files.warnings() {
        eprintln!("{warning}");
    }
    let cache = SchemaCache::open();
    let discovered = discover(&files.files, cache.as_ref());
    let catalog = RecordingCatalog::new(&discovered.registry);
    let checked = experiment::check(&input, &catalog);
    // The check of a large sweep freed several KiB per node (its syntax tree and checked
    // program), on a thread of its own whose arena glibc keeps: hand them back before the run.
    memory::trim();
    if let Some(cache) = &cache {
        catalog.store_answers(cache);
    }
    let mut checked = checked?;
    for refusal in &discovered.refusals {
        checked
            .diagnostics
            .insert(0, refusal_diagnostic(&input, refusal));
    }
    let (graph, sources) = experiment::finish(&input, checked, format, color)?;
    Ok(Loaded {
        graph,
        sources,
        registry: discovered.registry,
        bytes: input.bytes,
    })
}

/// E0100 for a refused plugin, pointed at its `plugin` line when it came from one.
fn refusal_diagnostic(input: &Input, refusal: &discover::Refusal) -> Diagnostic {
    let diagnostic = Diagnostic::error("E0100", refusal.error.to_string());
    match refusal.named {
        Named::Line(line) => diagnostic
            .with_primary(input.plugin_lines[line].1, "this plugin was refused")
            .with_help("the path is relative to the experiment file; check it names a library built against this exp"),
        Named::PluginPath | Named::Beside => diagnostic
            .with_help("remove it from EXP_PLUGIN_PATH, or rebuild it against this exp"),
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

/// `exp-host cache-plugins PATH..`: loads each library and stores its schemas in the cache;
/// prints one JSON line per library that was refused (`{"path", "error"}`).
fn cache_plugins_command(paths: &[PathBuf]) -> Exit {
    let Some(cache) = SchemaCache::open() else {
        eprintln!("error: there is no schema cache to write to (no XDG_CACHE_HOME or HOME)");
        return Exit::Fatal;
    };
    let files: Vec<plugin_files::PluginFile> = paths
        .iter()
        .map(|path| plugin_files::PluginFile {
            path: path.clone(),
            named: Named::PluginPath,
        })
        .collect();
    let discovered = discover(&files, Some(&cache));
    for refusal in &discovered.refusals {
        let line = serde_json::json!({
            "path": refusal.path.display().to_string(),
            "error": refusal.error.to_string(),
        });
        println!("{line}");
    }
    Exit::Success
}

/// The options of `exp run`.
struct RunSettings {
    out: Option<PathBuf>,
    jobs: Option<usize>,
    threads: usize,
    device: DeviceChoice,
    cache: Option<PathBuf>,
    force: Vec<String>,
    explain: bool,
    executor: Option<exp::config::Executor>,
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
        executor,
    } = settings;
    let stop = Arc::new(AtomicBool::new(false));
    let config = match exp::config::Config::for_file(file) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("error: {message}");
            return Exit::InvalidInput;
        }
    };
    let cache_files = match config.cache.files {
        Some(exp::config::CacheFiles::Copy) => exp_runtime::cache::CacheFiles::Copy,
        Some(exp::config::CacheFiles::Link) | None => exp_runtime::cache::CacheFiles::Link,
    };
    let (jobs, remote) = match slurm::executor(
        file,
        config,
        executor,
        &slurm::Asked {
            jobs,
            threads,
            device,
            cache: cache.as_deref(),
        },
        &stop,
    ) {
        Ok(chosen) => chosen,
        Err(message) => {
            eprintln!("error: {message}");
            return Exit::InvalidInput;
        }
    };
    let run_id = exp_runtime::run_dir::new_run_id();
    let run_dir = match out {
        Some(out) => {
            // Elsewhere: a record where `exp runs` and `exp show` look points at it.
            let recorded = runs::record_run_elsewhere(
                Path::new(exp::cli::DEFAULT_RUNS_DIR),
                &loaded.graph.experiment,
                &run_id,
                &out,
            );
            if let Err(error) = recorded {
                eprintln!(
                    "warning: `exp runs` will not list this run: cannot record it in `{}`: {error}",
                    exp::cli::DEFAULT_RUNS_DIR
                );
            }
            out
        }
        None => PathBuf::from(exp::cli::DEFAULT_RUNS_DIR)
            .join(&loaded.graph.experiment)
            .join(run_id),
    };
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
        cache_files,
        force,
        explain,
        only: None,
        remote,
        stop,
    };
    let observer = memory::Trimming::new(progress::Progress::new());
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
    let wants_page = loaded
        .graph
        .nodes
        .iter()
        .any(|node| matches!(node.kind, exp_ir::NodeKind::Report { html: true, .. }));
    let page = if wants_page {
        match html::write_page(&summary.run_dir) {
            Ok(page) => Some(page),
            Err(message) => {
                eprintln!("warning: no report page: {message}");
                None
            }
        }
    } else {
        None
    };
    report(&loaded, &summary, color);
    if let Some(page) = page {
        println!("report page: {}", page.display());
    }
    if summary.interrupted() {
        // The user typed `exp`; this process is `exp-host` (see host_exec).
        let args: Vec<String> = std::iter::once("exp".to_string())
            .chain(std::env::args().skip(1))
            .collect();
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

fn plugins_command(file: Option<&Path>, json: bool) -> Exit {
    let explicit: Vec<PathBuf> = match file {
        Some(file) => match std::fs::read(file) {
            Ok(bytes) => {
                let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
                plugin_files::plugin_lines(&exp_syntax::decode(&bytes).text, &base)
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
    let files = plugin_files::find(&explicit, Sources::All);
    for warning in files.warnings() {
        eprintln!("{warning}");
    }
    let cache = SchemaCache::open();
    let discovered = discover(&files.files, cache.as_ref());
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
