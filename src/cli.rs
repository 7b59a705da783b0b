//! The command line both binaries parse: `exp` answers `check`, `graph`, `fmt` and `lsp`
//! itself and hands every other command to `exp-host` (see `host_exec`), which parses the same
//! arguments again.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// The directory `exp run` writes runs under by default, and where `runs`, `show` and
/// `report` look.
pub const DEFAULT_RUNS_DIR: &str = "runs";

#[derive(Parser)]
#[command(
    name = "exp",
    version,
    about = "Run declarative machine-learning experiments"
)]
pub struct Cli {
    /// When to colour diagnostics.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand)]
pub enum Command {
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
        /// How many nodes may run at once (default 2). With `--executor slurm`: how many jobs
        /// may be queued or running at once (default `[slurm] max_jobs`, else 64).
        #[arg(long, short)]
        jobs: Option<usize>,
        /// libtorch's intra-op threads per node. CPU results depend on it (never on --jobs),
        /// so it is part of every cache key; raise it for a run of one large model.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
        threads: u16,
        /// Where tensors live: auto picks CUDA when present.
        #[arg(long, default_value = "auto", value_parser = device_word)]
        device: String,
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
        /// Where nodes are computed: `local` (this process, --jobs at once) or `slurm` (one
        /// Slurm job per node; the cache and run directory must be on a filesystem the cluster
        /// shares). Default: `[run] executor` in exp.toml or ~/.config/exp/config.toml, else local.
        #[arg(long, value_enum)]
        executor: Option<crate::config::Executor>,
    },
    /// Computes one node into the cache, restoring its inputs from there: what each Slurm job
    /// of `exp run --executor slurm` runs. Leaves `job-<id>.result.json` in `--work`.
    #[command(hide = true)]
    ComputeNode {
        file: PathBuf,
        #[arg(long, required_unless_present = "tasks")]
        node: Option<String>,
        /// The node's key as the head process computed it; the job refuses to run if its own
        /// differs.
        #[arg(long, required_unless_present = "tasks")]
        key: Option<String>,
        /// The node's directory for its jobs' logs, result files and run directories.
        #[arg(long, required_unless_present = "tasks")]
        work: Option<PathBuf>,
        /// A job array's task list: this task's node, key and directory are on the line
        /// `SLURM_ARRAY_TASK_ID` names.
        #[arg(long, conflicts_with_all = ["node", "key", "work"])]
        tasks: Option<PathBuf>,
        #[arg(long)]
        cache: PathBuf,
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
        threads: u16,
        #[arg(long, default_value = "cpu", value_parser = device_word)]
        device: String,
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
        #[arg(long, default_value = DEFAULT_RUNS_DIR)]
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
    /// Serve the Language Server Protocol on standard input and output, for editors.
    Lsp,
    /// A past run's report: its tables, or with --html one self-contained page (`report.html`
    /// in the run directory, whose path is printed).
    Report {
        /// A run directory, a run id, `latest` or `EXPERIMENT/latest`.
        run: String,
        /// Write the HTML page.
        #[arg(long)]
        html: bool,
        /// Where run ids and `latest` are looked up, as for `exp runs --dir`.
        #[arg(long, default_value = DEFAULT_RUNS_DIR)]
        dir: PathBuf,
    },
    /// Loads plugin libraries and stores their schemas in the schema cache (for `exp` and
    /// `exp lsp`, which read the cache and load no plugin themselves).
    #[command(hide = true)]
    CachePlugins { paths: Vec<PathBuf> },
    /// Show a past run: what ran, its tables, failures and files.
    Show {
        /// A run directory, a run id, `latest` or `EXPERIMENT/latest`.
        run: String,
        /// Where run ids and `latest` are looked up, as for `exp runs --dir`.
        #[arg(long, default_value = DEFAULT_RUNS_DIR)]
        dir: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum MessageFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Json,
    /// One line per definition, with how many nodes its sweeps made and the axes' values.
    Outline,
}

/// `--device`: the words exp-host's `DeviceChoice` reads (checked here too, so that a typo is
/// a usage error from either binary).
fn device_word(text: &str) -> Result<String, String> {
    match text {
        "auto" | "cpu" | "cuda" | "gpu" => Ok(text.to_string()),
        other => Err(format!(
            "unknown device `{other}`: expected auto, cpu or cuda"
        )),
    }
}

impl Cli {
    /// Whether diagnostics on stderr get colours.
    pub fn use_color(&self) -> bool {
        match self.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        }
    }
}
