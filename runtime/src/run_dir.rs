//! `RunDir`: one run's directory, `runs/<experiment>/<run-id>/` unless `--out` says otherwise.
//!
//! - `manifest.json`: what ran (file and hash, every node's resolved parameters, plugins with
//!   hashes and versions, seeds, device, libtorch) and how each node ended.
//! - `metrics.jsonl`: one JSON object per logged value: node, step, name, value.
//! - `checkpoints/<node>.safetensors`: model weights, loadable by Python's safetensors/torch.
//! - `<report>.csv`, `<report>.md`: results tables.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub struct RunDir {
    pub path: PathBuf,
    metrics: Mutex<File>,
    /// `outcomes.jsonl`, open for the whole run (opening it per node was a tenth of a large
    /// sweep's cached rerun); lines wait in the buffer until `flush_outcomes`.
    outcomes: Mutex<BufWriter<File>>,
    /// Every line a node that runs has logged, until it is stored with the node's cache entry
    /// (to be replayed into a later run that takes the node from the cache).
    logged: Mutex<HashMap<String, Vec<MetricLine>>>,
}

/// One logged value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricLine {
    pub node: String,
    pub step: Option<u64>,
    pub split: String,
    pub name: String,
    pub value: f64,
}

impl RunDir {
    /// Creates the directory (and `checkpoints/`) and opens the metrics log.
    ///
    /// A run started again in the same directory (a resume with the same `--out`) starts the
    /// metrics log afresh: every line it has comes back, from the cache for finished nodes
    /// and from the checkpoint for a resumed one, so keeping the old lines would log them
    /// twice. The same holds for the journal of node outcomes.
    pub fn create(path: &Path) -> std::io::Result<RunDir> {
        fs::create_dir_all(path.join("checkpoints"))?;
        let metrics = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(path.join("metrics.jsonl"))?;
        let outcomes = File::create(path.join(OUTCOMES))?;
        Ok(RunDir {
            path: path.to_path_buf(),
            metrics: Mutex::new(metrics),
            outcomes: Mutex::new(BufWriter::new(outcomes)),
            logged: Mutex::new(HashMap::new()),
        })
    }

    pub fn checkpoint_path(&self, node: &str) -> PathBuf {
        self.path
            .join("checkpoints")
            .join(format!("{node}.safetensors"))
    }

    /// Appends one value to `metrics.jsonl`; each line is written whole.
    pub fn log_metric(&self, node: &str, step: Option<u64>, split: &str, name: &str, value: f64) {
        let line = MetricLine {
            node: node.to_string(),
            step,
            split: split.to_string(),
            name: name.to_string(),
            value,
        };
        self.log_lines(vec![line]);
    }

    /// The lines logged so far for one node.
    pub fn logged_by(&self, node: &str) -> Vec<MetricLine> {
        let logged = self
            .logged
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        logged.get(node).cloned().unwrap_or_default()
    }

    /// The lines logged for one node, no longer kept here (the node has ended).
    pub fn take_logged(&self, node: &str) -> Vec<MetricLine> {
        let mut logged = self
            .logged
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        logged.remove(node).unwrap_or_default()
    }

    /// Writes lines recorded by an earlier run under this run's name for the node, in one
    /// write (one per line was most of the writes of a large sweep's cached rerun).
    pub fn replay(&self, node: &str, lines: &[MetricLine]) {
        self.write_lines(&renamed(node, lines));
    }

    /// Logs again, under `node`, the lines a resumed node logged before it stopped: they are
    /// stored with its cache entry like those it logs from here on.
    pub fn relog(&self, node: &str, lines: &[MetricLine]) {
        self.log_lines(renamed(node, lines));
    }

    /// Writes lines and keeps them until their node is stored.
    fn log_lines(&self, lines: Vec<MetricLine>) {
        self.write_lines(&lines);
        let mut logged = self
            .logged
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for line in lines {
            logged.entry(line.node.clone()).or_default().push(line);
        }
    }

    /// Appends lines to `metrics.jsonl` in one write, so that they are whole whatever else
    /// is logged meanwhile.
    fn write_lines(&self, lines: &[MetricLine]) {
        let mut text = String::new();
        for line in lines {
            if let Ok(json) = serde_json::to_string(line) {
                text.push_str(&json);
                text.push('\n');
            }
        }
        if !text.is_empty() {
            let mut file = self
                .metrics
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            // A metrics line that cannot be written must not stop training; the checkpoint and
            // the results table still carry the outcome.
            let _ = file.write_all(text.as_bytes());
        }
    }

    /// Where a tokenizer node keeps its `tokenizer.json`.
    pub fn tokenizer_path(&self, node: &str) -> PathBuf {
        self.path.join("tokenizers").join(format!("{node}.json"))
    }

    /// Appends how a node ended to `outcomes.jsonl` as it ends, written out by the next
    /// `flush_outcomes`: a run that is killed still says which nodes had finished (the
    /// manifest records outcomes only at the end).
    pub fn record_outcome(&self, outcome: &serde_json::Value) {
        let line = format!("{outcome}\n");
        let mut file = self
            .outcomes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Losing a journal line loses only what `exp runs` shows of a killed run.
        let _ = file.write_all(line.as_bytes());
    }

    /// Writes out the outcomes recorded since the last call, in one write. The executor calls
    /// it whenever it has recorded every node that ended meanwhile (a write per node was a
    /// tenth of a large sweep's cached rerun).
    pub fn flush_outcomes(&self) {
        let mut file = self
            .outcomes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let _ = file.flush();
    }

    /// The log of a node that failed: `logs/<node>.log`.
    /// The folder of a node's own files (a sequence's accuracy matrices): `nodes/NODE/`.
    pub fn node_dir(&self, node: &str) -> PathBuf {
        self.path.join("nodes").join(node)
    }

    pub fn log_path(&self, node: &str) -> PathBuf {
        self.path.join("logs").join(format!("{node}.log"))
    }

    /// Writes a failed node's log: everything known about the failure, including what its
    /// one-line message leaves out (a panic's location and backtrace, libtorch's C++ trace).
    pub fn write_log(&self, node: &str, text: &str) -> std::io::Result<PathBuf> {
        let path = self.log_path(node);
        fs::create_dir_all(self.path.join("logs"))?;
        RunDir::write_atomic(&path, text.as_bytes())?;
        Ok(path)
    }

    /// Writes a file atomically: to a temporary name, synced, then renamed into place, so a
    /// reader never sees half a file.
    pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        RunDir::write_atomic_with(path, |writer| writer.write_all(bytes))
    }

    /// `write_atomic` for a file written piece by piece through a buffer by `write`.
    pub fn write_atomic_with(
        path: &Path,
        write: impl FnOnce(&mut std::io::BufWriter<File>) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let temporary = path.with_extension("tmp-write");
        {
            let mut writer = std::io::BufWriter::new(File::create(&temporary)?);
            write(&mut writer)?;
            writer.flush()?;
            writer.get_ref().sync_all()?;
        }
        fs::rename(&temporary, path)
    }

    /// Writes a file under a temporary name and renames it into place without syncing it: a
    /// reader never sees half a file, but after a crash the file may be empty or missing. For
    /// records that can be lost (a hint, not a result).
    pub fn write_replacing(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let temporary = path.with_extension("tmp-write");
        fs::write(&temporary, bytes)?;
        fs::rename(&temporary, path)
    }
}

/// The journal of node outcomes, one JSON object per line: `{"node", "status", ..}`.
pub const OUTCOMES: &str = "outcomes.jsonl";

/// Whether a node or report name can name a file inside the run directory: one plain path
/// component, never `..`, a separator or an absolute path. The language only makes such names
/// (identifiers), but the runtime checks every graph it is given, whoever made it.
pub fn is_confined_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && std::path::Path::new(name).components().count() == 1
}

/// SHA-256 of a byte string, as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Lines recorded for one node, under another node's name.
fn renamed(node: &str, lines: &[MetricLine]) -> Vec<MetricLine> {
    lines
        .iter()
        .map(|line| MetricLine {
            node: node.to_string(),
            ..line.clone()
        })
        .collect()
}

/// SHA-256 of a file's contents, or `None` if it cannot be read.
///
/// Read through a buffer of 1 MiB, not whole: the checkpoint of a cached model is hashed at
/// every lookup, and a model of hundreds of MB cost as much memory again for a moment (every
/// plugin file, 10 MB, at every run's start).
pub fn file_sha256(path: &Path) -> Option<String> {
    let mut file = File::open(path).ok()?;
    let mut hasher = Sha256::new();
    std::io::copy(
        &mut std::io::BufReader::with_capacity(1 << 20, &mut file),
        &mut hasher,
    )
    .ok()?;
    Some(hex(&hasher.finalize()))
}

/// A run id that sorts by time: `YYYYMMDD-HHMMSS-NNNN` (UTC; NNNN from the clock's nanoseconds
/// so two runs started in the same second get different ids).
pub fn new_run_id() -> String {
    run_id_at(std::time::SystemTime::now())
}

/// The run id of a run started at `time` (see `new_run_id`).
pub fn run_id_at(time: std::time::SystemTime) -> String {
    let now = time
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = now.as_secs() as i64;
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let of_day = seconds.rem_euclid(86_400);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}-{:04}",
        of_day / 3600,
        (of_day / 60) % 60,
        of_day % 60,
        (now.subsec_nanos() / 100_000) % 10_000
    )
}

/// Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::{civil_from_days, file_sha256, sha256_hex};

    /// A file is hashed through a buffer, and hashes as its bytes do across the buffer's edges.
    #[test]
    fn a_file_hashes_as_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let bytes: Vec<u8> = (0..(5 << 19) + 7)
            .map(|index| (index % 251) as u8)
            .collect();
        let path = dir.path().join("weights.bin");
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(file_sha256(&path), Some(sha256_hex(&bytes)));
        std::fs::write(&path, b"").unwrap();
        assert_eq!(
            file_sha256(&path).as_deref(),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        assert_eq!(file_sha256(&dir.path().join("absent")), None);
    }

    #[test]
    fn names_cannot_escape_the_run_directory() {
        use super::is_confined_name;
        assert!(is_confined_name("soup_eval"));
        for escaping in ["..", "../x", "/etc/passwd", "a/b", "a\\b", "", "."] {
            assert!(
                !is_confined_name(escaping),
                "{escaping:?} should be refused"
            );
        }
    }

    #[test]
    fn dates_and_hashes() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_419), (2025, 11, 27));
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn logged_lines_are_kept_until_taken_and_replayed_ones_only_written() {
        use super::{MetricLine, RunDir};
        let dir = tempfile::tempdir().unwrap();
        let run_dir = RunDir::create(dir.path()).unwrap();
        run_dir.log_metric("t", Some(1), "train", "loss", 0.5);
        let earlier = |node: &str, value: f64| MetricLine {
            node: node.into(),
            step: Some(0),
            split: "train".into(),
            name: "loss".into(),
            value,
        };
        // Cached `e` (recorded as `old_e`): written under its name, not kept.
        run_dir.replay("e", &[earlier("old_e", 0.25), earlier("old_e", 0.125)]);
        // Resumed `t`: its lines from before the stop are kept again.
        run_dir.relog("t", &[earlier("t_renamed", 1.0)]);
        assert_eq!(run_dir.logged_by("e"), []);
        assert_eq!(run_dir.logged_by("t").len(), 2);
        let taken = run_dir.take_logged("t");
        assert_eq!(
            taken
                .iter()
                .map(|line| (line.node.as_str(), line.value))
                .collect::<Vec<_>>(),
            [("t", 0.5), ("t", 1.0)]
        );
        assert_eq!(run_dir.take_logged("t"), []);
        let text = std::fs::read_to_string(dir.path().join("metrics.jsonl")).unwrap();
        let written: Vec<MetricLine> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(
            written
                .iter()
                .map(|line| (line.node.as_str(), line.value))
                .collect::<Vec<_>>(),
            [("t", 0.5), ("e", 0.25), ("e", 0.125), ("t", 1.0)]
        );
    }
}
