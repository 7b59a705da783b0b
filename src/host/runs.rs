//! `exp runs` and `exp show`: what past runs left in their run directories.
//!
//! A run is a directory holding a `manifest.json`. `exp run` writes it at
//! `runs/<experiment>/<run-id>/`, or where `--out` says; then it leaves a record in its place,
//! `runs/<experiment>/<run-id>.link`, holding the run directory's path, so that `exp runs` and
//! `exp show` find every run in one place. `--dir` may also name any directory of runs, or one
//! run directory (an `--out` directory). Everything shown is read back from the run directory
//! (manifest, `<report>.md` tables, checkpoints, plots), never recomputed, so a run shows the
//! same whichever exp version looks at it.
//! Directories whose name starts with a dot (`runs/.cache`) are not experiments.
//! Run ids sort by start time (`YYYYMMDD-HHMMSS-NNNN`), so newest first is descending id order;
//! a run directory named otherwise sorts by the time its manifest was last written.

use std::path::{Path, PathBuf};

use serde_json::Value;

use exp::Exit;

/// The extension of a record of a run written elsewhere (`exp run --out`).
const RECORD_EXTENSION: &str = "link";

/// One run directory, as its manifest describes it.
struct Run {
    id: String,
    experiment: String,
    path: PathBuf,
    manifest: Value,
    /// When the run started, as a run id: its id, or the time its manifest was written.
    started: String,
}

/// How many nodes ended each way, from the manifest's `nodes[i].outcome.status`.
#[derive(Default)]
struct Counts {
    done: usize,
    failed: usize,
    skipped: usize,
    /// Nodes with another outcome (such as not needed) or none yet.
    other: usize,
}

impl Run {
    /// Reads `path/manifest.json`; `None` when there is none or it is not JSON.
    fn read(path: &Path) -> Option<Run> {
        let text = std::fs::read_to_string(path.join("manifest.json")).ok()?;
        let manifest: Value = serde_json::from_str(&text).ok()?;
        let id = path.file_name()?.to_string_lossy().into_owned();
        let experiment = match manifest["experiment"].as_str() {
            Some(name) => name.to_string(),
            None => path
                .parent()
                .and_then(Path::file_name)
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        let started = if is_run_id(&id) {
            id.clone()
        } else {
            std::fs::metadata(path.join("manifest.json"))
                .and_then(|metadata| metadata.modified())
                .map(exp_runtime::run_dir::run_id_at)
                .unwrap_or_default()
        };
        Some(Run {
            id,
            experiment,
            path: path.to_path_buf(),
            manifest,
            started,
        })
    }

    /// The run a record (`<run-id>.link`) points at, under the record's id.
    fn from_record(record: &Path) -> Option<Run> {
        let id = record.file_stem()?.to_string_lossy().into_owned();
        let target = std::fs::read_to_string(record).ok()?;
        let mut run = Run::read(Path::new(target.trim_end_matches(['\n', '\r'])))?;
        run.started = id.clone();
        run.id = id;
        Some(run)
    }

    /// `finished`, or `incomplete` for a manifest still saying `running`: the run is going on,
    /// or was stopped before it could record how it ended.
    fn status(&self) -> &str {
        match self.manifest["status"].as_str() {
            Some("finished") => "finished",
            Some("running") => "incomplete",
            Some(other) => other,
            None => "unknown",
        }
    }

    fn nodes(&self) -> &[Value] {
        self.manifest["nodes"].as_array().map_or(&[], Vec::as_slice)
    }

    /// How each node ended: from the manifest, and for a run still `running` (or killed) also
    /// from the journal the run appends to as nodes end (`outcomes.jsonl`), so a killed run
    /// still says what it had done. A journal line names its node and wins over the manifest.
    fn outcomes(&self) -> Vec<Value> {
        let mut outcomes: Vec<Value> = self
            .nodes()
            .iter()
            .map(|node| node["outcome"].clone())
            .collect();
        if self.manifest["status"].as_str() != Some("running") {
            return outcomes;
        }
        let journal = std::fs::read_to_string(self.path.join(exp_runtime::run_dir::OUTCOMES))
            .unwrap_or_default();
        for line in journal.lines() {
            let Ok(outcome) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let named = self
                .nodes()
                .iter()
                .position(|node| node["name"] == outcome["node"]);
            match named {
                Some(index) => outcomes[index] = outcome,
                None => outcomes.push(outcome),
            }
        }
        outcomes
    }

    fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for outcome in self.outcomes() {
            match outcome["status"].as_str() {
                // A node taken from the cache has its result as surely as one that ran.
                Some("done" | "cached" | "not_needed") => counts.done += 1,
                Some("failed") => counts.failed += 1,
                Some("skipped") => counts.skipped += 1,
                _ => counts.other += 1,
            }
        }
        counts
    }

    fn json(&self) -> Value {
        let counts = self.counts();
        serde_json::json!({
            "id": self.id,
            "experiment": self.experiment,
            "status": self.status(),
            "nodes": {
                "total": self.nodes().len(),
                "done": counts.done,
                "failed": counts.failed,
                "skipped": counts.skipped,
            },
            "path": self.path.display().to_string(),
        })
    }
}

/// Whether `name` reads as a run id, `YYYYMMDD-HHMMSS-NNNN`.
fn is_run_id(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() == 20
        && bytes.iter().enumerate().all(|(at, byte)| match at {
            8 | 15 => *byte == b'-',
            _ => byte.is_ascii_digit(),
        })
}

/// The directories in `dir`, except dot-directories (`runs/.cache` holds no runs).
fn subdirectories(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect()
}

/// Every run `dir` holds, newest first: `dir` itself when it is a run directory, the run
/// directories in it and in its subdirectories (`runs/<experiment>/<run-id>/`), and the runs
/// the records in those subdirectories point at. A run found twice (a record of a run that is
/// also under `dir`) is listed once. A missing `dir` has none.
fn find_runs(dir: &Path) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    if let Some(run) = Run::read(dir) {
        runs.push(run);
    }
    for child in subdirectories(dir) {
        if let Some(run) = Run::read(&child) {
            // A run directory: its checkpoints and plots are not more runs.
            runs.push(run);
            continue;
        }
        for grandchild in subdirectories(&child) {
            runs.extend(Run::read(&grandchild));
        }
        let Ok(entries) = std::fs::read_dir(&child) else {
            continue;
        };
        let records = entries.flatten().map(|entry| entry.path()).filter(|path| {
            path.is_file()
                && path
                    .extension()
                    .is_some_and(|extension| extension == RECORD_EXTENSION)
        });
        runs.extend(records.filter_map(|record| Run::from_record(&record)));
    }
    runs.sort_by(|left, right| {
        right
            .started
            .cmp(&left.started)
            .then_with(|| left.experiment.cmp(&right.experiment))
    });
    let mut seen = std::collections::HashSet::new();
    runs.retain(|run| seen.insert(run.path.canonicalize().unwrap_or_else(|_| run.path.clone())));
    runs
}

/// Records a run written outside `dir` (with `exp run --out`) as
/// `dir/<experiment>/<run-id>.link`, so that `exp runs` and `exp show` find it with the others.
pub fn record_run_elsewhere(
    dir: &Path,
    experiment: &str,
    run_id: &str,
    run_dir: &Path,
) -> std::io::Result<()> {
    let absolute = std::path::absolute(run_dir)?;
    let folder = dir.join(experiment);
    std::fs::create_dir_all(&folder)?;
    let record = folder.join(format!("{run_id}.{RECORD_EXTENSION}"));
    std::fs::write(record, format!("{}\n", absolute.display()))
}

/// `exp runs`: a table of past runs, or JSON.
pub fn runs_command(dir: &Path, json: bool) -> Exit {
    let runs = find_runs(dir);
    if json {
        let entries: Vec<Value> = runs.iter().map(Run::json).collect();
        return match serde_json::to_string_pretty(&entries) {
            Ok(text) => {
                println!("{text}");
                Exit::Success
            }
            Err(error) => {
                eprintln!("error: cannot serialise the runs: {error}; this is a bug in exp");
                Exit::Fatal
            }
        };
    }
    if runs.is_empty() {
        eprintln!("no runs under `{}`", dir.display());
        return Exit::Success;
    }
    let header = [
        "RUN",
        "EXPERIMENT",
        "STATUS",
        "DONE",
        "FAILED",
        "SKIPPED",
        "PATH",
    ];
    let rows: Vec<[String; 7]> = runs
        .iter()
        .map(|run| {
            let counts = run.counts();
            [
                run.id.clone(),
                run.experiment.clone(),
                run.status().to_string(),
                counts.done.to_string(),
                counts.failed.to_string(),
                counts.skipped.to_string(),
                run.path.display().to_string(),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .chain([header[column].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[&str]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(column, (text, width))| match column {
                // The counts are right-aligned; the path, last, is not padded.
                3..=5 => format!("{text:>width$}"),
                6 => text.to_string(),
                _ => format!("{text:<width$}"),
            })
            .collect();
        padded.join("  ")
    };
    println!("{}", line(&header));
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        println!("{}", line(&cells));
    }
    Exit::Success
}

/// Finds the run `name` names: a run directory's path, `latest`, `<experiment>/latest`, or a
/// run id under `dir`. On failure, says what was searched, with a did-you-mean.
fn resolve(name: &str, dir: &Path) -> Result<Run, String> {
    let as_path = Path::new(name);
    if let Some(run) = Run::read(as_path).or_else(|| Run::read(&dir.join(name))) {
        return Ok(run);
    }
    let mut runs = find_runs(dir);
    let (experiment, id) = match name.rsplit_once('/') {
        Some((experiment, id)) => (Some(experiment), id),
        None => (None, name),
    };
    let in_experiment =
        |run: &Run| experiment.is_none_or(|experiment| run.experiment == experiment);
    let wanted = |run: &Run| in_experiment(run) && (id == "latest" || run.id == id);
    if id != "latest" && runs.iter().filter(|run| wanted(run)).count() > 1 {
        let paths: Vec<String> = runs
            .iter()
            .filter(|run| wanted(run))
            .map(|run| format!("`{}`", run.path.display()))
            .collect();
        return Err(format!(
            "run id `{id}` is ambiguous: {}; name the run directory instead",
            paths.join(", ")
        ));
    }
    // Newest first, so for `latest` the first match is the newest run.
    if let Some(index) = runs.iter().position(wanted) {
        return Ok(runs.swap_remove(index));
    }
    let mut message = format!(
        "no run `{name}`: it is not a run directory (with a manifest.json), and none of the {} under `{}` has that id",
        exp_diag::count(runs.len(), "run"),
        dir.display()
    );
    let ids: Vec<&str> = runs.iter().map(|run| run.id.as_str()).collect();
    if let Some(suggestion) = exp_diag::did_you_mean(id, ids.iter().copied()) {
        message.push_str(&format!("\nhelp: did you mean `{suggestion}`?"));
    } else if runs.is_empty() {
        message.push_str(&format!(
            "\nhelp: `exp run FILE` writes runs under `{}`; `--dir` looks elsewhere",
            dir.display()
        ));
    } else {
        message.push_str("\nhelp: `exp runs` lists them; `latest` names the newest");
    }
    Err(message)
}

/// A byte count for people: `812 B`, `12.3 KiB`, `4.0 MiB`.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut size = bytes as f64 / 1024.0;
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < UNITS.len() {
        size /= 1024.0;
        unit += 1;
    }
    format!("{size:.1} {}", UNITS[unit])
}

/// The entries directly in `dir` that `keep` accepts, sorted; none if `dir` is missing.
pub(crate) fn entries_where(dir: &Path, keep: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.path())
                .filter(|path| keep(path))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// The files directly in `dir` whose name ends with `suffix`, sorted; none if `dir` is missing.
pub(crate) fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    entries_where(dir, |path| {
        path.is_file()
            && path
                .file_name()
                .is_some_and(|name| name.to_string_lossy().ends_with(suffix))
    })
}

fn text_field<'a>(value: &'a Value, fallback: &'a str) -> &'a str {
    value.as_str().unwrap_or(fallback)
}

/// `exp show RUN`: what a run was, its tables and failures, and where its files are.
pub fn show_command(name: &str, dir: &Path) -> Exit {
    let run = match resolve(name, dir) {
        Ok(run) => run,
        Err(message) => {
            eprintln!("error: {message}");
            return Exit::InvalidInput;
        }
    };
    let manifest = &run.manifest;
    let counts = run.counts();
    println!("run {} ({})", run.id, run.status());
    println!("experiment: {}", run.experiment);
    println!(
        "file: {} (sha256 {})",
        text_field(&manifest["file"]["path"], "?"),
        text_field(&manifest["file"]["sha256"], "?")
    );
    println!("device: {}", text_field(&manifest["device"], "?"));
    println!("libtorch: {}", text_field(&manifest["libtorch"], "?"));
    let mut ended = vec![
        format!("{} done", counts.done),
        format!("{} failed", counts.failed),
        format!("{} skipped", counts.skipped),
    ];
    if counts.other > 0 {
        ended.push(format!("{} other or unfinished", counts.other));
    }
    println!("nodes: {} ({})", run.nodes().len(), ended.join(", "));

    for table in files_ending(&run.path, ".md") {
        let title = table
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        match std::fs::read_to_string(&table) {
            Ok(text) => println!("\n{title}:\n{}", text.trim_end()),
            Err(error) => eprintln!("warning: cannot read `{}`: {error}", table.display()),
        }
    }

    let failures: Vec<(&str, &str)> = run
        .nodes()
        .iter()
        .filter(|node| node["outcome"]["status"] == "failed")
        .map(|node| {
            (
                text_field(&node["name"], "?"),
                text_field(&node["outcome"]["error"], "no error recorded"),
            )
        })
        .collect();
    if !failures.is_empty() {
        println!("\nfailures:");
        for (node, error) in failures {
            println!("  {node}: {error}");
        }
    }

    println!("\nfiles:");
    println!("  manifest: {}", run.path.join("manifest.json").display());
    let metrics = run.path.join("metrics.jsonl");
    if let Ok(metadata) = std::fs::metadata(&metrics) {
        println!(
            "  metrics: {} ({})",
            metrics.display(),
            human_size(metadata.len())
        );
    }
    let checkpoints: Vec<String> = files_ending(&run.path.join("checkpoints"), ".safetensors")
        .into_iter()
        .map(|checkpoint| {
            let size = std::fs::metadata(&checkpoint).map_or(0, |metadata| metadata.len());
            format!("{} ({})", checkpoint.display(), human_size(size))
        })
        .collect();
    print_files("checkpoints", &run.path.join("checkpoints"), &checkpoints);
    let figures: Vec<String> = files_ending(&run.path, ".png")
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    print_files("report figures", &run.path, &figures);
    let nodes = run.path.join("nodes");
    let folders: Vec<String> = entries_where(&nodes, Path::is_dir)
        .iter()
        .map(|path| format!("{}/", path.display()))
        .collect();
    print_files("node folders (accuracy matrices)", &nodes, &folders);
    let plots: Vec<String> = files_ending(&run.path.join("plots"), "")
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    print_files("plots", &run.path.join("plots"), &plots);
    Exit::Success
}

/// How many files of one kind `exp show` lists before it says how many more there are: a
/// study of thousands of nodes would otherwise print thousands of lines.
const LISTED: usize = 12;

fn print_files(title: &str, dir: &Path, lines: &[String]) {
    for line in listing(title, dir, lines) {
        println!("{line}");
    }
}

/// The lines `exp show` prints for files of one kind: a title, at most `LISTED` of them, and
/// how many more there are and where; nothing for none.
fn listing(title: &str, dir: &Path, lines: &[String]) -> Vec<String> {
    if lines.is_empty() {
        return Vec::new();
    }
    let mut out = vec![format!("  {title}:")];
    out.extend(lines.iter().take(LISTED).map(|line| format!("    {line}")));
    if lines.len() > LISTED {
        out.push(format!(
            "    … and {} more in {}",
            lines.len() - LISTED,
            dir.display()
        ));
    }
    out
}

/// `exp report RUN [--html]`: the run's tables, or its HTML page.
pub fn report_command(name: &str, dir: &Path, html: bool) -> Exit {
    let run = match resolve(name, dir) {
        Ok(run) => run,
        Err(message) => {
            eprintln!("error: {message}");
            return Exit::InvalidInput;
        }
    };
    if !html {
        for table in files_ending(&run.path, ".md") {
            if let Ok(text) = std::fs::read_to_string(&table) {
                let title = table
                    .file_stem()
                    .map(|stem| stem.to_string_lossy().into_owned())
                    .unwrap_or_default();
                println!("{title}:\n{}\n", text.trim_end());
            }
        }
        return Exit::Success;
    }
    match crate::html::write_page(&run.path) {
        Ok(page) => {
            println!("{}", page.display());
            Exit::Success
        }
        Err(message) => {
            eprintln!("error: {message}");
            Exit::Fatal
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{human_size, listing, LISTED};
    use std::path::Path;

    #[test]
    fn a_long_listing_is_cut_and_says_how_many_more_and_where() {
        assert!(listing("plots", Path::new("r/plots"), &[]).is_empty());
        let few: Vec<String> = (0..3).map(|index| format!("f{index}")).collect();
        assert_eq!(
            listing("plots", Path::new("r/plots"), &few),
            ["  plots:", "    f0", "    f1", "    f2"]
        );
        let many: Vec<String> = (0..LISTED + 5).map(|index| format!("f{index}")).collect();
        let lines = listing("checkpoints", Path::new("r/checkpoints"), &many);
        assert_eq!(lines.len(), 1 + LISTED + 1);
        assert_eq!(lines[LISTED], format!("    f{}", LISTED - 1));
        assert_eq!(lines[LISTED + 1], "    … and 5 more in r/checkpoints");
    }

    #[test]
    fn sizes_for_people() {
        assert_eq!(human_size(812), "812 B");
        assert_eq!(human_size(12_595), "12.3 KiB");
        assert_eq!(human_size(4 * 1024 * 1024), "4.0 MiB");
    }
}
