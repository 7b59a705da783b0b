//! `exp`: the command line users run. It answers `check`, `graph`, `fmt` and `lsp` itself,
//! from the schema cache and without loading any plugin (and so without libtorch); every other
//! command, and a check the cache cannot answer, it hands to `exp-host` (src/host/), which
//! loads the plugins. Only the binaries read arguments and the environment, print, and decide
//! exit codes (STYLE L5, E8).

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use exp::cached_catalog::CachedCatalog;
use exp::cli::{Cli, Command, GraphFormat, MessageFormat};
use exp::host_exec::exec_host;
use exp::plugin_files::{self, Sources};
use exp::schema_cache::SchemaCache;
use exp::{experiment, Exit};

/// A check (and the language server's check after every change) allocates and frees many small
/// values; mimalloc does that in about half the time glibc's allocator takes. `exp-host` keeps
/// glibc's allocator, tuned for training in `process_settings` there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    process_settings();
    let cli = Cli::parse();
    let color = cli.use_color();
    let exit = match cli.command {
        Command::Check {
            file,
            message_format,
        } => check_or_graph(&file, Fast::Check(message_format), color),
        Command::Graph { file, format } => check_or_graph(&file, Fast::Graph(format), color),
        Command::Fmt { files, check } => exp::fmt::fmt_command(&files, check, color),
        Command::Lsp => exp::lsp::serve(),
        _ => exec_host(),
    };
    exit.code()
}

/// Process-wide settings made once at start-up, before any other thread exists.
///
/// A check allocates many small values on the thread that runs it (see `experiment::check`),
/// and glibc gives a new thread an arena of its own that it grows a page range at a time, one
/// `mprotect` call each: a third of a large file's check. One arena, grown 16 MiB at a time,
/// removes that cost.
fn process_settings() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator tunables; it is called before any other thread
        // exists, and a refused value leaves glibc's default in place.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
            libc::mallopt(libc::M_TOP_PAD, 16 * 1024 * 1024);
        }
        // SAFETY: restores the default action for SIGPIPE before any other thread exists, so
        // `exp graph | head` ends quietly like other command-line tools instead of panicking in
        // `println!` (Rust ignores SIGPIPE by default).
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
}

/// The commands answered from the schema cache.
#[derive(Clone, Copy)]
enum Fast {
    Check(MessageFormat),
    Graph(GraphFormat),
}

/// `exp check` and `exp graph` from cached schemas. When the cache does not describe every
/// plugin, or the file meets a component's check rule whose answer for these parameters is
/// not stored, or (for a graph) a model whose size is not stored, nothing has been printed yet
/// and the command goes to `exp-host`, which loads the plugins (and stores what it learns for
/// next time).
fn check_or_graph(file: &Path, fast: Fast, color: bool) -> Exit {
    match fast {
        // A check reports the graph's size; building a large sweep's nodes to count them
        // would be most of its time.
        Fast::Check(format) => from_cache(
            file,
            format,
            color,
            |program, _| exp_compile::count_nodes(program),
            |input, _, nodes| {
                if matches!(format, MessageFormat::Human) {
                    experiment::well_formed(input, nodes);
                }
                Exit::Success
            },
        ),
        Fast::Graph(format) => from_cache(
            file,
            MessageFormat::Human,
            color,
            exp_compile::compile,
            |_, catalog, graph| {
                let exit = match catalog.sizes(&graph) {
                    Some(sized) => {
                        for warning in &sized.warnings {
                            eprintln!("{warning}");
                        }
                        exp::print_graph(&graph, format, &sized.sizes)
                    }
                    // A model whose size only the loaded plugins can tell.
                    None => exec_host(),
                };
                // The process ends here: freeing a large sweep's tens of thousands of nodes
                // one by one takes milliseconds that the operating system spends at once.
                std::mem::forget(graph);
                exit
            },
        ),
    }
}

/// Checks `file` against the cached schemas, makes `lower` of it (given the experiment's name) and hands that to `then`;
/// goes to `exp-host` when the cache cannot answer.
fn from_cache<T: Send>(
    file: &Path,
    format: MessageFormat,
    color: bool,
    lower: impl FnOnce(&exp_check::Program, &str) -> T + Send,
    then: impl FnOnce(&experiment::Input, &CachedCatalog, T) -> Exit,
) -> Exit {
    let input = match experiment::read(file, format, color) {
        Ok(input) => input,
        Err(exit) => return exit,
    };
    let files = plugin_files::find(&input.explicit_plugins(), Sources::All);
    let cache = SchemaCache::open();
    let (catalog, unknown) = CachedCatalog::from_cache(cache.as_ref(), &files.files);
    if !unknown.is_empty() {
        return exec_host();
    }
    let checked = match experiment::check_with(&input, &catalog, |program| {
        lower(program, &input.experiment)
    }) {
        Ok(checked) => checked,
        Err(exit) => return exit,
    };
    if catalog.unasked() {
        return exec_host();
    }
    for warning in files.warnings() {
        eprintln!("{warning}");
    }
    match experiment::finish(&input, checked, format, color) {
        Ok((lowered, _)) => then(&input, &catalog, lowered),
        Err(exit) => exit,
    }
}
