//! The schema cache: what `exp-host` learnt from each plugin file, so that `exp check`,
//! `exp graph` and `exp lsp` can check a file against the plugins' components without loading
//! any plugin (and with it libtorch).
//!
//! An entry is one JSON file per plugin file, under `$XDG_CACHE_HOME/exp/plugins/` (else
//! `~/.cache/exp/plugins/`), named after a hash of the plugin's canonical path. It holds the
//! file's identity (canonical path, size, modification time, SHA-256), what loading it gave
//! (the plugin's name, version and component schemas, with whether each component states a
//! check rule; or that the library is no plugin at all), and the answers its check rules gave
//! to parameter sets seen so far.
//!
//! An entry is used only while it describes the file: the path, size and modification time
//! must match, and when the modification time is too close to the moment the entry was
//! confirmed to rule out a change within the clock's resolution (git's "racily clean" case),
//! or when the size matches but the time does not, the file is hashed and the entry is used
//! only if the hash matches. An entry also records the `exp-host` binary that wrote it (its
//! size and modification time), so a rebuilt or upgraded exp, which may accept other plugins,
//! starts afresh. A plugin that was refused is never cached: the next command loads it again
//! and reports the refusal.
//!
//! Check rules (`Component::check`) are code in the plugin: the cache cannot run them. Their
//! answers are stored per parameter set (`answer_key`), except for components with a `path`
//! parameter, whose rules read files that may change; see `CachedCatalog` for what a check
//! from cached schemas does with a rule it has no answer for.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use exp_ir::{ComponentKind, ComponentSchema, Value};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::plugin_files::binary_dir;
use crate::sizes::SizeAnswer;

/// The file name of the binary that loads plugins.
pub const HOST_BINARY: &str = if cfg!(windows) {
    "exp-host.exe"
} else {
    "exp-host"
};

/// How close to the confirmation time a modification time must be for the file to be hashed
/// again before the entry is trusted: generous, for file systems with coarse timestamps.
const RACY_WINDOW: Duration = Duration::from_secs(2);

/// The most answers kept per plugin file; past it the oldest half is dropped.
const MAX_ANSWERS: usize = 4096;

/// Which binary wrote an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostIdentity {
    pub size: u64,
    pub modified_ns: u128,
}

/// A plugin file as it was when its entry was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileIdentity {
    pub path: PathBuf,
    pub size: u64,
    pub modified_ns: u128,
    pub sha256: String,
}

/// A component as the cache knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedComponent {
    pub schema: ComponentSchema,
    /// Whether the component states a check rule that only the loaded plugin can run.
    pub has_check: bool,
}

impl CachedComponent {
    /// Whether answers of its check rule may be stored: not when a parameter names files,
    /// whose contents the rule may read and which may change without the plugin changing.
    pub fn answers_are_stable(&self) -> bool {
        !self.schema.reads_files()
    }
}

/// A loaded plugin, as the cache knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedPlugin {
    pub name: String,
    pub version: String,
    pub components: Vec<CachedComponent>,
}

/// What loading the file gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Plugin(CachedPlugin),
    /// A library without the entry symbol: beside the binaries, simply not a plugin.
    NotAPlugin,
}

/// A check rule's refusal, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    pub param: Option<String>,
    pub message: String,
}

/// One plugin file's entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub file: FileIdentity,
    /// When the identity was last confirmed (nanoseconds since the Unix epoch).
    pub confirmed_ns: u128,
    pub host: HostIdentity,
    pub outcome: Outcome,
    /// Check rule answers by `answer_key`: `None` accepted, `Some` refused, in the order they
    /// were added.
    #[serde(default)]
    pub answers: Vec<(String, Option<Rejection>)>,
    /// The sizes of its models by `Question::key` (`crate::sizes`), or why a model cannot be
    /// sized. Oldest first, like `answers`.
    #[serde(default)]
    pub sizes: Vec<(String, SizeAnswer)>,
}

impl Entry {
    /// The answer stored for `key`: the latest, where a key was answered twice.
    pub fn answer(&self, key: &str) -> Option<&Option<Rejection>> {
        latest(&self.answers, key)
    }

    /// Every answer by key, by the same rule as `answer` (later answers replace earlier ones):
    /// for asking many times, as a check of a large sweep does. The same for the sizes.
    pub fn into_answers_by_key(self) -> AnswersByKey {
        AnswersByKey {
            checks: self.answers.into_iter().collect(),
            sizes: self.sizes.into_iter().collect(),
        }
    }
}

/// An entry's answers, indexed by key (`Entry::into_answers_by_key`).
#[derive(Debug, Default)]
pub struct AnswersByKey {
    pub checks: HashMap<String, Option<Rejection>>,
    pub sizes: HashMap<String, SizeAnswer>,
}

/// The key a check rule's answer is stored under: the component and its parameters as the
/// plugin receives them (`plain_params`), as canonical JSON.
pub fn answer_key(kind: ComponentKind, name: &str, params: &BTreeMap<String, Value>) -> String {
    let json = serde_json::to_string(params).unwrap_or_default();
    format!("{kind} {name} {json}")
}

/// The parameters a plugin's check rule receives: a scheduled parameter is checked at its
/// scale (the number written, or 1), since its values are only known inside a phase, where the
/// plugin checks each as it is reached.
pub use exp_ir::value::plain_params;

/// The answer stored for `key` in a list of answers, oldest first: the latest, where a key was
/// answered twice.
fn latest<'a, T>(list: &'a [(String, T)], key: &str) -> Option<&'a T> {
    list.iter()
        .rev()
        .find(|(known, _)| known == key)
        .map(|(_, answer)| answer)
}

/// Appends the answers whose key does not already read that answer (the latest answer of a
/// key is the one that counts), keeping at most `MAX_ANSWERS` (past it the oldest half goes).
/// Whether anything was added.
fn append_latest<T: PartialEq>(list: &mut Vec<(String, T)>, new: Vec<(String, T)>) -> bool {
    let mut changed = false;
    for (key, answer) in new {
        if latest(list, &key) != Some(&answer) {
            list.push((key, answer));
            changed = true;
        }
    }
    if list.len() > MAX_ANSWERS {
        list.drain(..list.len() - MAX_ANSWERS / 2);
    }
    changed
}

fn nanos(time: SystemTime) -> u128 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos())
}

/// SHA-256 of a file's bytes, read in blocks.
pub fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

/// The identity of a file as it is now (reading it whole, for its hash).
pub fn identify(path: &Path) -> std::io::Result<FileIdentity> {
    let path = path.canonicalize()?;
    let metadata = std::fs::metadata(&path)?;
    Ok(FileIdentity {
        size: metadata.len(),
        modified_ns: nanos(metadata.modified()?),
        sha256: file_sha256(&path)?,
        path,
    })
}

/// The cache directory, and the identity of the `exp-host` beside the running binary.
pub struct SchemaCache {
    dir: PathBuf,
    host: HostIdentity,
}

impl SchemaCache {
    /// The cache of this user, or `None` when there is no home or cache directory to keep it
    /// in, or no `exp-host` beside the running binary.
    pub fn open() -> Option<SchemaCache> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|dir| !dir.is_empty())
                    .map(|home| PathBuf::from(home).join(".cache"))
            })?;
        let host = binary_dir()?.join(HOST_BINARY);
        let metadata = std::fs::metadata(host).ok()?;
        Some(SchemaCache {
            dir: base.join("exp").join("plugins"),
            host: HostIdentity {
                size: metadata.len(),
                modified_ns: nanos(metadata.modified().ok()?),
            },
        })
    }

    /// Where the cache of one plugin file lives.
    fn entry_path(&self, canonical: &Path) -> PathBuf {
        let digest = Sha256::digest(canonical.as_os_str().as_encoded_bytes());
        let name: String = digest[..16]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        self.dir.join(format!("{name}.json"))
    }

    /// The entry for the file at `path`, if there is one and it still describes the file.
    pub fn lookup(&self, path: &Path) -> Option<Entry> {
        let canonical = path.canonicalize().ok()?;
        let text = std::fs::read(self.entry_path(&canonical)).ok()?;
        let mut entry: Entry = serde_json::from_slice(&text).ok()?;
        if entry.host != self.host || entry.file.path != canonical {
            return None;
        }
        let metadata = std::fs::metadata(&canonical).ok()?;
        if metadata.len() != entry.file.size {
            return None;
        }
        let modified = nanos(metadata.modified().ok()?);
        let racy = modified + RACY_WINDOW.as_nanos() >= entry.confirmed_ns;
        if modified == entry.file.modified_ns && !racy {
            return Some(entry);
        }
        // Touched, rebuilt to the same bytes, or too recent to trust the time: the hash decides.
        let sha256 = file_sha256(&canonical).ok()?;
        if sha256 != entry.file.sha256 {
            return None;
        }
        entry.file.modified_ns = modified;
        entry.confirmed_ns = nanos(SystemTime::now());
        // Best effort: the next lookup trusts the time again.
        let _ = self.write(&entry);
        Some(entry)
    }

    /// Records what loading a file gave, with its identity as it is now.
    pub fn store(&self, path: &Path, outcome: Outcome) -> std::io::Result<()> {
        let file = identify(path)?;
        let (answers, sizes) = self
            .lookup(&file.path)
            .filter(|entry| entry.file.sha256 == file.sha256)
            .map(|entry| (entry.answers, entry.sizes))
            .unwrap_or_default();
        self.write(&Entry {
            file,
            confirmed_ns: nanos(SystemTime::now()),
            host: self.host.clone(),
            outcome,
            answers,
            sizes,
        })
    }

    /// Adds check rule answers to the entry of the file at `path`, if it has one.
    pub fn add_answers(
        &self,
        path: &Path,
        answers: Vec<(String, Option<Rejection>)>,
    ) -> std::io::Result<()> {
        self.update(path, |entry| append_latest(&mut entry.answers, answers))
    }

    /// Adds model sizes to the entry of the file at `path`, if it has one.
    pub fn add_sizes(&self, path: &Path, sizes: Vec<(String, SizeAnswer)>) -> std::io::Result<()> {
        self.update(path, |entry| append_latest(&mut entry.sizes, sizes))
    }

    /// Changes the entry of the file at `path`, if it has one, and writes it if `change` says
    /// it changed.
    fn update(&self, path: &Path, change: impl FnOnce(&mut Entry) -> bool) -> std::io::Result<()> {
        let Some(mut entry) = self.lookup(path) else {
            return Ok(());
        };
        if change(&mut entry) {
            self.write(&entry)
        } else {
            Ok(())
        }
    }

    /// Writes an entry under a temporary name and renames it into place, so that a reader
    /// never sees half an entry.
    fn write(&self, entry: &Entry) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let target = self.entry_path(&entry.file.path);
        let temporary = target.with_extension(format!("{}.tmp", std::process::id()));
        let json = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
        std::fs::write(&temporary, json)?;
        let renamed = std::fs::rename(&temporary, &target);
        if renamed.is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        renamed
    }
}

#[cfg(test)]
mod tests {
    use super::{
        append_latest, Entry, FileIdentity, HostIdentity, Outcome, Rejection, MAX_ANSWERS,
    };

    /// A check rule's answer is kept only for a component whose parameters name no files;
    /// its key names the kind, the component and every parameter.
    #[test]
    fn answers_are_kept_for_components_that_read_no_files_under_keys_naming_everything() {
        use exp_check::Catalog;
        use exp_ir::{ComponentKind, Value};

        let catalog = exp_check::testing::TestCatalog::new();
        let cached = |name: &str| super::CachedComponent {
            schema: catalog
                .component(ComponentKind::Dataset, name)
                .unwrap()
                .clone(),
            has_check: true,
        };
        assert!(cached("corpus").answers_are_stable());
        assert!(!cached("text_files").answers_are_stable());

        let params = |width: i64| {
            std::collections::BTreeMap::from([("width".to_string(), Value::Int(width))])
        };
        let key = super::answer_key(ComponentKind::Model, "gpt", &params(32));
        assert!(key.starts_with("model gpt {\"width\":"), "{key}");
        assert!(key.contains("32"), "{key}");
        assert_ne!(
            key,
            super::answer_key(ComponentKind::Model, "gpt", &params(64))
        );
        assert_ne!(
            key,
            super::answer_key(ComponentKind::Model, "mlp", &params(32))
        );
    }

    /// A cache in a temporary directory, written by a "host" of the given identity.
    fn cache_in(dir: &std::path::Path, host: u64) -> super::SchemaCache {
        super::SchemaCache {
            dir: dir.join("cache"),
            host: HostIdentity {
                size: host,
                modified_ns: 1,
            },
        }
    }

    /// What a command does with the cache, on a real file: store, look up, add answers and
    /// sizes; an entry stops describing the file when it changes, and a rebuilt exp-host
    /// starts afresh; a file rewritten with the same bytes keeps its answers.
    #[test]
    fn an_entry_describes_its_file_until_the_file_or_the_host_changes() {
        let dir = tempfile::tempdir().unwrap();
        let plugin = dir.path().join("libp.so");
        std::fs::write(&plugin, b"first").unwrap();
        let cache = cache_in(dir.path(), 7);
        assert!(cache.lookup(&plugin).is_none());
        cache.store(&plugin, Outcome::NotAPlugin).unwrap();
        let entry = cache.lookup(&plugin).expect("the entry just stored");
        assert_eq!(entry.outcome, Outcome::NotAPlugin);
        assert_eq!(entry.file.size, 5);
        assert_eq!(
            entry.file.sha256,
            "a7937b64b8caa58f03721bb6bacf5c78cb235febe0e70b1b84cd99541461a08e"
        );
        let size = crate::sizes::Size {
            parameters: 610,
            exact: true,
        };
        cache
            .add_answers(&plugin, vec![("k".to_string(), None)])
            .unwrap();
        cache
            .add_sizes(&plugin, vec![("s".to_string(), Ok(size))])
            .unwrap();
        let entry = cache.lookup(&plugin).unwrap();
        assert_eq!(entry.answer("k"), Some(&None));
        assert_eq!(entry.sizes, [("s".to_string(), Ok(size))]);
        // The same bytes written again: a new time, the same hash, answers kept.
        std::fs::write(&plugin, b"first").unwrap();
        cache.store(&plugin, Outcome::NotAPlugin).unwrap();
        let entry = cache.lookup(&plugin).unwrap();
        assert_eq!(entry.answer("k"), Some(&None));
        assert_eq!(entry.sizes.len(), 1);
        // Another exp-host reads nothing of it.
        assert!(cache_in(dir.path(), 8).lookup(&plugin).is_none());
        // Other bytes of another length, then of the same length: no longer described.
        std::fs::write(&plugin, b"second").unwrap();
        assert!(cache.lookup(&plugin).is_none());
        std::fs::write(&plugin, b"other").unwrap();
        assert!(cache.lookup(&plugin).is_none());
        // Stored again for the new bytes, the old answers are gone.
        cache.store(&plugin, Outcome::NotAPlugin).unwrap();
        let entry = cache.lookup(&plugin).unwrap();
        assert!(entry.answers.is_empty() && entry.sizes.is_empty());
        // Answers for a file the cache has no entry for are dropped, not an error.
        let unknown = dir.path().join("libq.so");
        std::fs::write(&unknown, b"q").unwrap();
        cache
            .add_answers(&unknown, vec![("k".to_string(), None)])
            .unwrap();
        assert!(cache.lookup(&unknown).is_none());
    }

    #[test]
    fn an_answer_is_added_only_where_it_changes_the_latest_and_the_oldest_half_goes_past_the_cap() {
        let mut list = vec![("a".to_string(), 1), ("a".to_string(), 2)];
        assert!(!append_latest(&mut list, vec![("a".to_string(), 2)]));
        assert!(append_latest(&mut list, vec![("a".to_string(), 1)]));
        assert!(append_latest(&mut list, vec![("b".to_string(), 1)]));
        assert_eq!(list.len(), 4);
        // Exactly at the cap, nothing goes.
        let mut full: Vec<(String, i32)> = Vec::new();
        let at_cap: Vec<(String, i32)> = (0..MAX_ANSWERS)
            .map(|index| (index.to_string(), 1))
            .collect();
        assert!(append_latest(&mut full, at_cap));
        assert_eq!(full.len(), MAX_ANSWERS);
        let many: Vec<(String, i32)> = (0..MAX_ANSWERS)
            .map(|index| (index.to_string(), 0))
            .collect();
        assert!(append_latest(&mut list, many));
        assert_eq!(list.len(), MAX_ANSWERS / 2);
        assert_eq!(list.last(), Some(&((MAX_ANSWERS - 1).to_string(), 0)));
        assert_eq!(list[0], ((MAX_ANSWERS / 2).to_string(), 0));
    }

    #[test]
    fn a_key_answered_twice_reads_its_latest_answer_one_by_one_and_all_at_once() {
        let refused = Some(Rejection {
            param: Some("lr".to_string()),
            message: "too large".to_string(),
        });
        let entry = Entry {
            file: FileIdentity {
                path: "libp.so".into(),
                size: 1,
                modified_ns: 2,
                sha256: "00".to_string(),
            },
            confirmed_ns: 3,
            host: HostIdentity {
                size: 4,
                modified_ns: 5,
            },
            outcome: Outcome::NotAPlugin,
            answers: vec![
                ("a".to_string(), None),
                ("b".to_string(), None),
                ("a".to_string(), refused.clone()),
            ],
            sizes: Vec::new(),
        };
        assert_eq!(entry.answer("a"), Some(&refused));
        assert_eq!(entry.answer("b"), Some(&None));
        assert_eq!(entry.answer("c"), None);
        let by_key = entry.into_answers_by_key().checks;
        assert_eq!(by_key.len(), 2);
        assert_eq!(by_key.get("a"), Some(&refused));
        assert_eq!(by_key.get("b"), Some(&None));
    }
}
