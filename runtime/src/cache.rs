//! The content-addressed cache of node results.
//!
//! Every node has a key: the SHA-256 of its `KeyParts`, a canonical JSON of everything that
//! determines its result: the exp version, the node's kind and resolved parameters (defaults
//! included, source spans excluded, so comments and whitespace never matter), the identity of
//! each component it uses (plugin file hash, plugin and component versions), its seed, the
//! device, and the keys of its inputs (not their names: renaming a node reruns nothing).
//! Changing one parameter therefore changes the keys of exactly that node and its dependents.
//!
//! An entry is a directory `entries/<key>/` holding `meta.json` (the key parts, the artifact's
//! description, the node's logged metrics, and the SHA-256 of every other file), `meta.sha256`,
//! and for models `weights.safetensors`. It is written into a temporary directory, every file
//! synced, then renamed into place, so a reader sees a whole entry or none. Reading verifies
//! every hash; a truncated or altered entry is reported, removed and recomputed, never used.
//!
//! `index/<experiment>/<node>.json` keeps the key parts a node had in the last run, so
//! `--explain` can say which part of a key changed.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use exp_ir::{ComponentRef, Graph, Node, NodeKind};
use exp_plugin_api::sdk::DataInfo;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tch::{Device, Tensor};

use crate::artifact::{
    Artifact, CarriedHook, DataSource, DatasetArtifact, Examples, LedgerEntry, Memory,
    MetricsArtifact, ModelArtifact, TokenizerArtifact,
};
use crate::error::RunError;
use crate::registry::Registry;
use crate::run_dir::{file_sha256, sha256_hex, MetricLine, RunDir};
use crate::table::Table;
use crate::weights::{take_named, Weights};

/// Everything that determines a node's result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyParts {
    pub exp_version: String,
    pub kind: String,
    /// The node's resolved specification, without source spans.
    pub spec: Value,
    pub components: Vec<ComponentIdentity>,
    pub seed: u64,
    pub device: String,
    /// libtorch's intra-op threads per node (`--threads`): CPU kernels split their work by it
    /// (reduction order, matmul blocking), so a result computed with 2 threads is not bit for
    /// bit the one computed with 1, and a shared cache must not hand one to the other.
    #[serde(default)]
    pub threads: u64,
    /// Per input: its role and its key.
    pub inputs: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentIdentity {
    pub kind: String,
    pub name: String,
    pub version: String,
    pub plugin: String,
    pub plugin_version: String,
    pub plugin_sha256: String,
    /// The files its path parameters name (globs expanded, in the order the component reads
    /// them) and the SHA-256 of each: a component's result depends on their contents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<(String, String)>,
}

/// A node's key parts and the key they hash to, computed once per run.
///
/// The parts are kept as the compact JSON that is hashed, not as a tree of values: a run holds
/// every node's key to its end, and a 6,000-node sweep's trees were 30 MB, a fifth of its heap.
/// The JSON is kept in two pieces: the head (exp version, kind, specification, components),
/// which the copies a sweep makes of one definition share, held once for all of them; and the
/// tail (seed, device, threads, input keys), the node's own.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeKey {
    pub key: String,
    /// `{"exp_version":..,"components":[..]}`
    head: Arc<str>,
    /// `{"seed":..,"inputs":[..]}`
    tail: Box<str>,
}

/// The fields of `KeyParts` that sweep copies share, borrowed, serialised as `KeyParts` does.
#[derive(Serialize)]
struct KeyHead<'a> {
    exp_version: &'a str,
    kind: &'a str,
    spec: &'a Value,
    components: &'a [ComponentIdentity],
}

/// The fields of `KeyParts` that are a node's own.
#[derive(Serialize)]
struct KeyTail<'a> {
    seed: u64,
    device: &'a str,
    threads: u64,
    inputs: &'a [(String, String)],
}

/// The heads made so far in one run, each held once.
type Heads = std::collections::HashSet<Arc<str>>;

impl NodeKey {
    fn of(parts: &KeyParts, heads: &mut Heads) -> serde_json::Result<NodeKey> {
        let head = serde_json::to_string(&KeyHead {
            exp_version: &parts.exp_version,
            kind: &parts.kind,
            spec: &parts.spec,
            components: &parts.components,
        })?;
        let tail = serde_json::to_string(&KeyTail {
            seed: parts.seed,
            device: &parts.device,
            threads: parts.threads,
            inputs: &parts.inputs,
        })?;
        let head = match heads.get(head.as_str()) {
            Some(shared) => Arc::clone(shared),
            None => {
                let head: Arc<str> = head.into();
                heads.insert(Arc::clone(&head));
                head
            }
        };
        let mut node_key = NodeKey {
            key: String::new(),
            head,
            tail: tail.into_boxed_str(),
        };
        node_key.key = sha256_hex(node_key.parts_json().as_bytes());
        Ok(node_key)
    }

    /// A key given as it is, without parts.
    #[cfg(test)]
    pub fn bare(key: &str) -> NodeKey {
        NodeKey {
            key: key.to_string(),
            ..NodeKey::default()
        }
    }

    /// The parts the key was hashed from.
    pub fn parts(&self) -> serde_json::Result<KeyParts> {
        serde_json::from_str(&self.parts_json())
    }

    /// The parts as the JSON that was hashed: the head's fields, then the tail's.
    pub fn parts_json(&self) -> String {
        let head = self.head.strip_suffix('}').unwrap_or(&self.head);
        let tail = self.tail.strip_prefix('{').unwrap_or(&self.tail);
        if head.is_empty() {
            return String::new();
        }
        format!("{head},{tail}")
    }
}

/// The components a node uses, each followed by the schedulers of its scheduled parameters.
fn components_of(kind: &NodeKind) -> Vec<&ComponentRef> {
    let written: Vec<&ComponentRef> = match kind {
        NodeKind::Dataset { component }
        | NodeKind::Model { component }
        | NodeKind::Merge { component }
        | NodeKind::Tokenizer { component }
        | NodeKind::Export { component } => {
            vec![component]
        }
        NodeKind::Train(spec) => std::iter::once(&spec.optimizer)
            .chain(&spec.eval)
            .chain(&spec.hooks)
            .collect(),
        NodeKind::Evaluate { metrics, .. } => metrics.iter().collect(),
        NodeKind::Report { .. }
        | NodeKind::Continual { .. }
        | NodeKind::Caption
        | NodeKind::Sample(_) => Vec::new(),
    };
    let mut all = Vec::new();
    for component in written {
        all.push(component);
        all.extend(component.params.values().filter_map(|value| match value {
            exp_ir::Value::Schedule(schedule) => Some(&schedule.curve),
            _ => None,
        }));
    }
    all
}

/// The files a component's path parameters name, each with its SHA-256, in the order a
/// component reads them: entries in the order written, a glob (`*`, `?`, `[`) as its sorted
/// matches (files only), each file once.
/// `node` is the node whose key they enter, for errors.
fn named_files(
    node: &str,
    schema: &exp_ir::ComponentSchema,
    component: &ComponentRef,
) -> Result<Vec<(String, String)>, RunError> {
    fn strings(value: &exp_ir::Value, out: &mut Vec<String>) {
        match value {
            exp_ir::Value::Str(text) => out.push(text.clone()),
            exp_ir::Value::List(items) => items.iter().for_each(|item| strings(item, out)),
            _ => {}
        }
    }
    let mut entries = Vec::new();
    for param in schema.params.iter().filter(|param| param.path) {
        if let Some(value) = component.params.get(&param.name) {
            strings(value, &mut entries);
        }
    }
    let mut files: Vec<PathBuf> = Vec::new();
    for entry in &entries {
        let found: Vec<PathBuf> = if entry.contains(['*', '?', '[']) {
            let mut matched: Vec<PathBuf> = glob::glob(entry)
                .map_err(|error| RunError::PathPattern {
                    node: node.to_string(),
                    pattern: entry.clone(),
                    message: error.to_string(),
                })?
                .filter_map(Result::ok)
                .filter(|path| path.is_file())
                .collect();
            matched.sort();
            matched
        } else {
            vec![PathBuf::from(entry)]
        };
        for file in found {
            if !files.contains(&file) {
                files.push(file);
            }
        }
    }
    files
        .into_iter()
        .map(|file| {
            let hash = file_sha256(&file).ok_or_else(|| RunError::NamedFileUnreadable {
                node: node.to_string(),
                component: component.name.clone(),
                path: file.display().to_string(),
            })?;
            Ok((file.display().to_string(), hash))
        })
        .collect()
}

/// The SHA-256 of a file just written; failing to read it back fails the store.
pub(crate) fn hashed(path: &Path) -> std::io::Result<String> {
    file_sha256(path).ok_or_else(|| {
        std::io::Error::other(format!("cannot read `{}` back to hash it", path.display()))
    })
}

/// Removes every `span` field: where a definition sits in the file is not part of its result.
fn without_spans(mut value: Value) -> Value {
    strip_spans(&mut value);
    value
}

/// `without_spans` in place (rebuilding every object was a fifth of computing a large sweep's
/// keys).
fn strip_spans(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            fields.remove("span");
            fields.values_mut().for_each(strip_spans);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_spans),
        _ => {}
    }
}

/// The key of every node, in graph order (inputs come first, so their keys are known); with
/// `wanted`, of those nodes only (every input of a wanted node must be wanted).
pub fn node_keys(
    graph: &Graph,
    registry: &Registry,
    device: Device,
    threads: usize,
    exp_version: &str,
    wanted: Option<&[bool]>,
) -> Result<Vec<NodeKey>, RunError> {
    let mut keys: Vec<NodeKey> = Vec::with_capacity(graph.nodes.len());
    let mut heads = Heads::new();
    for node in &graph.nodes {
        // A node the run does not want gets no key (an empty one): a job computing one node of
        // a study of 100,000 needs only the keys of that node and what is above it.
        if wanted.is_some_and(|wanted| !wanted[node.id.0]) {
            keys.push(NodeKey::default());
            continue;
        }
        let components = components_of(&node.kind)
            .into_iter()
            .map(|component| {
                let provider = registry.provider(component.kind, &component.name);
                let version = registry
                    .schema(component.kind, &component.name)
                    .map(|schema| schema.version.clone())
                    .unwrap_or_default();
                let (plugin, plugin_version, plugin_sha256) = match provider {
                    Some(plugin) => {
                        // A plugin file that cannot be read now is one whose results could not
                        // be told apart from another build's.
                        let hash = registry.plugin_sha256(plugin).ok_or_else(|| {
                            RunError::PluginUnreadable {
                                node: node.name.clone(),
                                path: plugin.path.display().to_string(),
                            }
                        })?;
                        (plugin.name.clone(), plugin.version.clone(), hash)
                    }
                    None => Default::default(),
                };
                let files = match registry.schema(component.kind, &component.name) {
                    Some(schema) => named_files(&node.name, schema, component)?,
                    None => Vec::new(),
                };
                Ok(ComponentIdentity {
                    kind: component.kind.to_string(),
                    name: component.name.clone(),
                    version,
                    plugin,
                    plugin_version,
                    plugin_sha256,
                    files,
                })
            })
            .collect::<Result<Vec<_>, RunError>>()?;
        let inputs = node
            .inputs
            .iter()
            .map(|input| (input.role.to_string(), keys[input.node.0].key.clone()))
            .collect();
        let mut spec = without_spans(serde_json::to_value(&node.kind).map_err(|error| {
            RunError::CacheKey {
                node: node.name.clone(),
                what: "its specification",
                message: error.to_string(),
            }
        })?);
        if matches!(
            node.kind,
            NodeKind::Report { .. } | NodeKind::Continual { .. }
        ) {
            // A table is labelled with its rows' names and sweep points.
            spec["rows"] = node
                .inputs
                .iter()
                .map(|input| {
                    let row = graph.node(input.node);
                    serde_json::json!({ "name": row.name, "family": row.family, "point": row.point })
                })
                .collect();
        }
        let parts = KeyParts {
            exp_version: exp_version.to_string(),
            kind: node.kind.word().to_string(),
            spec,
            components,
            seed: node.seed,
            device: crate::device::device_name(device),
            threads: threads as u64,
            inputs,
        };
        let node_key = NodeKey::of(&parts, &mut heads).map_err(|error| RunError::CacheKey {
            node: node.name.clone(),
            what: "its key parts",
            message: error.to_string(),
        })?;
        keys.push(node_key);
    }
    Ok(keys)
}

/// What an entry says about the artifact it stores.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "artifact", rename_all = "snake_case")]
// One per cache entry, read or written once: boxing the model variant would buy nothing.
#[allow(clippy::large_enum_variant)]
enum Stored {
    Model {
        architecture: ComponentRef,
        data: DataInfo,
        ledger: Vec<LedgerEntry>,
        metrics: MetricsArtifact,
        /// Tensor names in the model's order (safetensors files sort them).
        order: Vec<String>,
        /// Their elements, so that a restore need not open the weights to count them (absent
        /// from entries stored before it was recorded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parameters: Option<u64>,
        /// The training hooks' carried state; their tensors are in `hooks.safetensors` as
        /// `<index>/<name>`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        hooks: Vec<StoredHook>,
        #[serde(default)]
        memory: Memory,
        /// The model's tokenizer (its JSON is `tokenizer.json` beside the weights).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tokenizer: Option<StoredTokenizer>,
    },
    /// A trained tokenizer; its JSON is `tokenizer.json`.
    Tokenizer {
        tokenizer: StoredTokenizer,
    },
    /// A dataset a model made; its examples are `examples.safetensors` (`train.x`,
    /// `train.y`, .. for each split).
    Examples {
        info: DataInfo,
        component: ComponentRef,
    },
    Metrics {
        metrics: MetricsArtifact,
    },
    Table {
        table: Table,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredTokenizer {
    component: ComponentRef,
    vocabulary: exp_plugin_api::sdk::TokenInfo,
}

impl StoredTokenizer {
    /// Writes the tokenizer's JSON into an entry being stored, and describes it.
    fn store(
        tokenizer: &TokenizerArtifact,
        temporary: &Path,
        files: &mut BTreeMap<String, String>,
    ) -> std::io::Result<StoredTokenizer> {
        let path = temporary.join("tokenizer.json");
        write_synced(&path, tokenizer.json.as_bytes())?;
        files.insert("tokenizer.json".to_string(), hashed(&path)?);
        Ok(StoredTokenizer {
            component: tokenizer.component.clone(),
            vocabulary: tokenizer.vocabulary.clone(),
        })
    }

    /// The tokenizer back from the entry in `dir`, for node `node`.
    fn restore(&self, node: &str, dir: &Path) -> Result<Arc<TokenizerArtifact>, RunError> {
        let json = fs::read_to_string(dir.join("tokenizer.json")).map_err(|error| {
            unusable(
                node,
                dir,
                format!("cannot read the cached tokenizer: {error}"),
            )
        })?;
        Ok(Arc::new(TokenizerArtifact {
            component: self.component.clone(),
            key: sha256_hex(json.as_bytes()),
            json,
            vocabulary: self.vocabulary.clone(),
        }))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredHook {
    position: usize,
    name: String,
    data: serde_json::Value,
    order: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    key: String,
    parts: KeyParts,
    stored: Stored,
    metrics: Vec<MetricLine>,
    /// SHA-256 of every other file in the entry.
    files: BTreeMap<String, String>,
}

/// What a restore reads of `meta.json`: all but the key parts, which are there for people and
/// `--explain`, and the files' hashes, which its lookup checked.
#[derive(Debug, Deserialize)]
struct Entry {
    key: String,
    stored: Stored,
    metrics: Vec<MetricLine>,
}

/// What a lookup reads of `meta.json`: enough to check the entry's files. A plan looks up every
/// node before any is restored, and parsing whole records there made a large sweep's cached
/// rerun parse each twice.
#[derive(Deserialize)]
struct EntryFiles {
    key: String,
    files: BTreeMap<String, String>,
}

/// The key a record of `meta.json` says it holds.
trait Keyed {
    fn key(&self) -> &str;
}

impl Keyed for Entry {
    fn key(&self) -> &str {
        &self.key
    }
}

impl Keyed for EntryFiles {
    fn key(&self) -> &str {
        &self.key
    }
}

/// Why an entry could not be used.
#[derive(Debug, Clone, PartialEq)]
pub enum EntryProblem {
    Missing,
    Corrupt(String),
}

impl EntryProblem {
    /// The problem in a few words.
    pub fn words(&self) -> String {
        match self {
            EntryProblem::Missing => "there is none".to_string(),
            EntryProblem::Corrupt(problem) => format!("it is corrupt: {problem}"),
        }
    }
}

/// A cached result ready to be turned into an artifact.
///
/// It holds where the entry is and the checksum of its record, not the record itself: a plan
/// looks every node of a sweep up before the first restore, and 100,000 parsed records (an
/// architecture, a ledger, metric lines each) were most of a cached rerun's memory. The record
/// is read again when the node is restored; its files were hashed once, at the lookup, unless
/// the record has changed since (`Hit::record`).
pub struct Hit {
    key: Box<str>,
    dir: PathBuf,
    meta_sha256: String,
    /// How its checkpoint goes into a run directory.
    files: CacheFiles,
}

/// How a checkpoint is put in a run directory from the cache, or into the cache from a run
/// directory (`[cache] files` in `exp.toml`, read by the binary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheFiles {
    /// One file under two names (a hard link) where both are on one filesystem, read-only so
    /// that neither is changed in place by mistake; a copy elsewhere. A cached rerun of a large
    /// sweep then writes no checkpoint again.
    #[default]
    Link,
    /// A copy of its own in each run directory (reflinked by filesystems that can, such as
    /// Btrfs and XFS): a run directory shares nothing with the cache.
    Copy,
}

pub struct Cache {
    root: PathBuf,
    files: CacheFiles,
    /// Serialises writes of the index files.
    index_lock: Mutex<()>,
}

/// The entry in `dir`, valid when looked up, cannot give node `node` its result.
fn unusable(node: &str, dir: &Path, message: String) -> RunError {
    RunError::Restore {
        node: node.to_string(),
        entry: dir.display().to_string(),
        message,
    }
}

/// Puts the file `from` at `to`: a checkpoint from a run directory into an entry, or from an
/// entry into a run directory. With `CacheFiles::Link` both then name one file (a hard link)
/// where they are on one filesystem, else `to` is a copy. A cached rerun of a large sweep
/// spent most of its time writing copies of checkpoints it already had.
///
/// Whatever was at `to` is removed first, never written through: it may be a link to another
/// entry's file. Entries' files are read-only (`seal`), so a run directory's checkpoint cannot
/// be changed in place by mistake either (except by root), and a change made anyway is caught
/// by the entry's checksum at the next lookup.
/// Returns whether `to` is a link (`true`) or a copy.
pub(crate) fn share(from: &Path, to: &Path, files: CacheFiles) -> std::io::Result<bool> {
    match fs::remove_file(to) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    if files == CacheFiles::Link && fs::hard_link(from, to).is_ok() {
        return Ok(true);
    }
    // Another filesystem (EXDEV), or one without links: a copy, put in place whole.
    let mut temporary = to.as_os_str().to_owned();
    temporary.push(".tmp-copy");
    let temporary = PathBuf::from(temporary);
    fs::copy(from, &temporary)?;
    fs::rename(&temporary, to)?;
    Ok(false)
}

/// Makes every file of an entry being stored read-only.
fn seal(dir: &Path) -> std::io::Result<()> {
    for file in fs::read_dir(dir)? {
        let path = file?.path();
        let mut permissions = fs::metadata(&path)?.permissions();
        permissions.set_readonly(true);
        fs::set_permissions(&path, permissions)?;
    }
    Ok(())
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

impl Cache {
    pub fn open(root: &Path, files: CacheFiles) -> std::io::Result<Cache> {
        fs::create_dir_all(root.join("entries"))?;
        fs::create_dir_all(root.join("index"))?;
        Ok(Cache {
            root: root.to_path_buf(),
            files,
            index_lock: Mutex::new(()),
        })
    }

    /// The cache's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a training node with this key keeps its resumable checkpoints.
    pub fn partial_dir(&self, key: &str) -> PathBuf {
        self.root.join("partial").join(key)
    }

    fn entry_dir(&self, key: &str) -> PathBuf {
        self.root.join("entries").join(key)
    }

    /// Looks up and verifies an entry.
    pub fn lookup(&self, key: &str) -> Result<Hit, EntryProblem> {
        let dir = self.entry_dir(key);
        let (bytes, meta_sha256) = read_record(&dir)?;
        let record: EntryFiles = parse_record(&bytes, key)?;
        check_files(&dir, &record.files)?;
        Ok(Hit {
            key: key.into(),
            dir,
            meta_sha256,
            files: self.files,
        })
    }

    /// Removes an entry (after it was found corrupt, or when forced).
    pub fn remove(&self, key: &str) {
        let _ = fs::remove_dir_all(self.entry_dir(key));
    }

    /// Stores a node's result. Datasets are not stored (they are live plugin objects, cheap
    /// to rebuild). Returns `Ok(false)` when there was nothing to store.
    pub fn store(
        &self,
        node_key: &NodeKey,
        artifact: &Artifact,
        metrics: Vec<MetricLine>,
    ) -> std::io::Result<bool> {
        let key = node_key.key.clone();
        let final_dir = self.entry_dir(&key);
        let temporary = self.root.join("entries").join(format!(
            ".tmp-{key}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&temporary);
        fs::create_dir_all(&temporary)?;
        let mut files = BTreeMap::new();
        let stored = match artifact {
            Artifact::Dataset(DatasetArtifact {
                info,
                source: DataSource::Examples(examples),
                component,
                ..
            }) => {
                let path = temporary.join(EXAMPLES);
                Tensor::write_safetensors(&examples_tensors(examples), &path)
                    .map_err(std::io::Error::other)?;
                fs::File::open(&path)?.sync_all()?;
                files.insert(EXAMPLES.to_string(), hashed(&path)?);
                Stored::Examples {
                    info: info.clone(),
                    component: component.clone(),
                }
            }
            // Other datasets are live plugin objects, cheap to rebuild; an export's files are
            // written again from its (cached) model.
            Artifact::Dataset(_) | Artifact::Files(_) => {
                let _ = fs::remove_dir_all(&temporary);
                return Ok(false);
            }
            Artifact::Tokenizer(tokenizer) => Stored::Tokenizer {
                tokenizer: StoredTokenizer::store(tokenizer, &temporary, &mut files)?,
            },
            Artifact::Model(model) => {
                let weights = temporary.join("weights.safetensors");
                // A link is the checkpoint its node synced when it wrote it; a copy is new.
                if !share(&model.checkpoint, &weights, self.files)? {
                    fs::File::open(&weights)?.sync_all()?;
                }
                files.insert("weights.safetensors".to_string(), hashed(&weights)?);
                let order = model.weights.names();
                let mut hook_tensors = Vec::new();
                let carried = model
                    .hooks
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                let hooks = carried
                    .iter()
                    .enumerate()
                    .map(|(index, hook)| {
                        for (name, tensor) in &hook.tensors {
                            hook_tensors.push((
                                format!("{index}/{name}"),
                                tensor.to_device(Device::Cpu).contiguous(),
                            ));
                        }
                        StoredHook {
                            position: hook.position,
                            name: hook.name.clone(),
                            data: hook.data.clone(),
                            order: hook.tensors.iter().map(|(name, _)| name.clone()).collect(),
                        }
                    })
                    .collect::<Vec<_>>();
                if !hook_tensors.is_empty() {
                    let path = temporary.join("hooks.safetensors");
                    Tensor::write_safetensors(&hook_tensors, &path)
                        .map_err(std::io::Error::other)?;
                    fs::File::open(&path)?.sync_all()?;
                    files.insert("hooks.safetensors".to_string(), hashed(&path)?);
                }
                let tokenizer = match &model.tokenizer {
                    Some(tokenizer) => {
                        Some(StoredTokenizer::store(tokenizer, &temporary, &mut files)?)
                    }
                    None => None,
                };
                Stored::Model {
                    architecture: model.architecture.clone(),
                    data: model.data.clone(),
                    ledger: model.ledger.clone(),
                    metrics: model.metrics.clone(),
                    order,
                    parameters: Some(model.weights.parameters()),
                    hooks,
                    memory: model.memory,
                    tokenizer,
                }
            }
            Artifact::Metrics(metrics) => Stored::Metrics {
                metrics: metrics.clone(),
            },
            Artifact::Table(table) => Stored::Table {
                table: table.clone(),
            },
        };
        let meta = Meta {
            key: key.clone(),
            parts: node_key.parts().map_err(std::io::Error::other)?,
            stored,
            metrics,
            files,
        };
        let meta_bytes = serde_json::to_vec_pretty(&meta).map_err(std::io::Error::other)?;
        write_synced(&temporary.join("meta.json"), &meta_bytes)?;
        write_synced(
            &temporary.join("meta.sha256"),
            sha256_hex(&meta_bytes).as_bytes(),
        )?;
        seal(&temporary)?;
        if let Ok(dir) = fs::File::open(&temporary) {
            let _ = dir.sync_all();
        }
        // Another run may have stored the same key meanwhile: the content is the same.
        let _ = fs::remove_dir_all(&final_dir);
        fs::rename(&temporary, &final_dir)?;
        Ok(true)
    }

    fn index_path(&self, experiment: &str, node: &str) -> PathBuf {
        self.root
            .join("index")
            .join(experiment)
            .join(format!("{node}.json"))
    }

    /// The key parts this node had in the last run of the experiment.
    pub fn previous_parts(&self, experiment: &str, node: &str) -> Option<KeyParts> {
        let text = fs::read_to_string(self.index_path(experiment, node)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Records the key parts of this run's node for the next `--explain`. Failing to write it
    /// only makes a later explanation say "never run before", so the error is not raised.
    ///
    /// A rerun finds the same parts for most nodes and leaves their files alone; a changed one
    /// is replaced without waiting for the disk (no fsync): a record lost in a crash only costs
    /// that explanation. Syncing every node's record, under the lock, was most of a cached
    /// rerun of a large sweep. The record is the parts' compact JSON, as hashed for the key.
    pub fn remember(&self, experiment: &str, node: &str, node_key: &NodeKey) {
        let text = node_key.parts_json();
        let text = text.as_bytes();
        let path = self.index_path(experiment, node);
        if fs::read(&path).is_ok_and(|recorded| recorded == text) {
            return;
        }
        let _guard = self
            .index_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(parent) = path.parent() {
            let _ = fs::create_dir_all(parent);
        }
        let _ = RunDir::write_replacing(&path, text);
    }
}

/// The record (`meta.json`) of the entry in `dir`, checked against `meta.sha256`, with that
/// checksum. A missing entry is told from a damaged one by what is missing: its directory, or
/// a file.
fn read_record(dir: &Path) -> Result<(Vec<u8>, String), EntryProblem> {
    let corrupt = |what: String| EntryProblem::Corrupt(what);
    let bytes = fs::read(dir.join("meta.json")).map_err(|error| {
        if error.kind() == std::io::ErrorKind::NotFound && !dir.exists() {
            EntryProblem::Missing
        } else {
            corrupt(format!("meta.json unreadable: {error}"))
        }
    })?;
    let recorded = fs::read_to_string(dir.join("meta.sha256"))
        .map_err(|_| corrupt("meta.sha256 missing".into()))?;
    let found = sha256_hex(&bytes);
    if recorded.trim() != found {
        return Err(corrupt("meta.json does not match its checksum".into()));
    }
    Ok((bytes, found))
}

/// A record parsed as much as `T` reads of it, checked to be `key`'s.
fn parse_record<T: serde::de::DeserializeOwned + Keyed>(
    bytes: &[u8],
    key: &str,
) -> Result<T, EntryProblem> {
    let record: T = serde_json::from_slice(bytes)
        .map_err(|error| EntryProblem::Corrupt(format!("meta.json malformed: {error}")))?;
    if record.key() != key {
        return Err(EntryProblem::Corrupt("the entry holds another key".into()));
    }
    Ok(record)
}

/// Every file a record names, in `dir`, checked against the hash it records.
fn check_files(dir: &Path, files: &BTreeMap<String, String>) -> Result<(), EntryProblem> {
    for (file, hash) in files {
        match file_sha256(&dir.join(file)) {
            Some(found) if &found == hash => {}
            Some(_) => {
                return Err(EntryProblem::Corrupt(format!(
                    "{file} does not match its checksum"
                )))
            }
            None => return Err(EntryProblem::Corrupt(format!("{file} is missing"))),
        }
    }
    Ok(())
}

impl Hit {
    /// The entry's record, read again: the one looked up, or the one another run stored under
    /// the same key since (two runs that both computed a node store it twice, with different
    /// timings), once its files are checked as a lookup checks them.
    fn record(&self) -> Result<Entry, EntryProblem> {
        let (bytes, found) = read_record(&self.dir)?;
        if found != self.meta_sha256 {
            let record: EntryFiles = parse_record(&bytes, &self.key)?;
            check_files(&self.dir, &record.files)?;
        }
        parse_record(&bytes, &self.key)
    }

    /// Turns the entry into the node's artifact, writing its files into the run directory
    /// (checkpoint, tables) and replaying its metrics under the node's name.
    pub fn restore(
        &self,
        node: &Node,
        run_dir: &RunDir,
        device: Device,
    ) -> Result<Artifact, RunError> {
        let unusable = |message: String| unusable(&node.name, &self.dir, message);
        let meta = self.record().map_err(|problem| {
            unusable(format!(
                "its record cannot be read again: {}",
                problem.words()
            ))
        })?;
        run_dir.replay(&node.name, &meta.metrics);
        match meta.stored {
            Stored::Model {
                architecture,
                data,
                ledger,
                metrics,
                order,
                parameters,
                hooks,
                memory,
                tokenizer,
            } => {
                let tokenizer = match tokenizer {
                    Some(tokenizer) => Some(tokenizer.restore(&node.name, &self.dir)?),
                    None => None,
                };
                let checkpoint = run_dir.checkpoint_path(&node.name);
                share(
                    &self.dir.join("weights.safetensors"),
                    &checkpoint,
                    self.files,
                )
                .map_err(|error| {
                    unusable(format!(
                        "cannot place the cached checkpoint at `{}`: {error}",
                        checkpoint.display()
                    ))
                })?;
                // Read when a node that runs asks for the tensors, if one does.
                let weights =
                    Weights::unread(&checkpoint, order, device, parameters).map_err(unusable)?;
                let mut hook_tensors = if hooks.is_empty() {
                    Vec::new()
                } else {
                    Tensor::read_safetensors(self.dir.join("hooks.safetensors")).map_err(
                        |error| unusable(format!("cannot read the cached hook state: {error}")),
                    )?
                };
                let mut carried = Vec::with_capacity(hooks.len());
                for (index, hook) in hooks.into_iter().enumerate() {
                    let mut tensors = Vec::with_capacity(hook.order.len());
                    for name in hook.order {
                        let key = format!("{index}/{name}");
                        let tensor = take_named(&mut hook_tensors, &key).ok_or_else(|| {
                            unusable(format!("the cached hook state lacks `{key}`"))
                        })?;
                        tensors.push((name, tensor.to_device(device)));
                    }
                    carried.push(CarriedHook {
                        position: hook.position,
                        name: hook.name,
                        tensors,
                        data: hook.data,
                    });
                }
                Ok(Artifact::Model(ModelArtifact {
                    architecture,
                    data,
                    weights,
                    checkpoint,
                    ledger,
                    metrics,
                    hooks: Mutex::new(carried),
                    memory,
                    tokenizer,
                }))
            }
            Stored::Tokenizer { tokenizer } => {
                let tokenizer = tokenizer.restore(&node.name, &self.dir)?;
                let path = run_dir.tokenizer_path(&node.name);
                fs::create_dir_all(path.parent().unwrap_or(&run_dir.path))
                    .and_then(|()| RunDir::write_atomic(&path, tokenizer.json.as_bytes()))
                    .map_err(|error| RunError::io(&node.name, &path, error))?;
                Ok(Artifact::Tokenizer(tokenizer))
            }
            Stored::Examples { info, component } => {
                let examples = restore_examples(&self.dir.join(EXAMPLES)).map_err(unusable)?;
                if let NodeKind::Sample(spec) = &node.kind {
                    if spec.grid > 0 {
                        let split = crate::nodes::derived::grid_split(spec);
                        let path = crate::nodes::derived::grid_path(run_dir, &node.name);
                        crate::nodes::derived::write_grid_at(
                            &path,
                            &examples.split(split).0,
                            spec.grid,
                        )
                        .map_err(|message| {
                            unusable(format!("cannot draw `{}`: {message}", path.display()))
                        })?;
                    }
                }
                Ok(Artifact::Dataset(DatasetArtifact {
                    info,
                    source: DataSource::Examples(Arc::new(examples)),
                    component,
                    device,
                }))
            }
            Stored::Metrics { metrics } => {
                if let NodeKind::Continual {
                    metric,
                    splits,
                    heatmap,
                    ..
                } = &node.kind
                {
                    crate::nodes::continual::write_matrices(
                        node, run_dir, metric, splits, *heatmap, &metrics,
                    )?;
                }
                Ok(Artifact::Metrics(metrics))
            }
            Stored::Table { mut table } => {
                table.name = node.name.clone();
                if let Some(runs) = &mut table.runs {
                    runs.name = format!("{}_runs", node.name);
                }
                if let Some(choices) = &mut table.choices {
                    choices.name = format!("{}_choices", node.name);
                }
                let (chart, against) = match &node.kind {
                    NodeKind::Report { chart, against, .. } => (*chart, against.as_deref()),
                    _ => (false, None),
                };
                crate::nodes::report::write_report(&node.name, run_dir, &table, chart, against)?;
                Ok(Artifact::Table(table))
            }
        }
    }
}

/// The file of a made dataset's examples in a cache entry.
const EXAMPLES: &str = "examples.safetensors";
/// Every split's inputs and targets, named `<split>.x` and `<split>.y`.
fn examples_tensors(examples: &Examples) -> Vec<(String, Tensor)> {
    exp_plugin_api::sdk::Split::ALL
        .iter()
        .flat_map(|split| {
            let (x, y) = examples.split(*split);
            [
                (format!("{}.x", split.word()), x.contiguous()),
                (format!("{}.y", split.word()), y.contiguous()),
            ]
        })
        .collect()
}

/// The examples back from their file.
fn restore_examples(path: &Path) -> Result<Examples, String> {
    let mut read = Tensor::read_safetensors(path)
        .map_err(|error| format!("cannot read the cached examples: {error}"))?;
    let mut take = |name: String| {
        take_named(&mut read, &name).ok_or_else(|| format!("the cached examples lack `{name}`"))
    };
    let mut splits = Vec::with_capacity(3);
    for split in exp_plugin_api::sdk::Split::ALL {
        splits.push((
            take(format!("{}.x", split.word()))?,
            take(format!("{}.y", split.word()))?,
        ));
    }
    Ok(Examples::new(splits))
}

/// Says in words what differs between two key parts: `optimizer.params.lr: 0.001 → 0.003`,
/// `input `a` changed`, `optimizer `adamw` now comes from a different build`. `input_names`
/// are the names of the node's inputs in the current graph, in order.
pub fn explain_change(
    previous: &KeyParts,
    current: &KeyParts,
    input_names: &[String],
) -> Vec<String> {
    let mut changes = Vec::new();
    if previous.exp_version != current.exp_version {
        changes.push(format!(
            "exp version {} → {}",
            previous.exp_version, current.exp_version
        ));
    }
    if previous.device != current.device {
        changes.push(format!("device {} → {}", previous.device, current.device));
    }
    if previous.seed != current.seed {
        changes.push(format!("seed {} → {}", previous.seed, current.seed));
    }
    if previous.threads != current.threads {
        changes.push(format!(
            "intra-op threads {} → {} (`--threads`)",
            previous.threads, current.threads
        ));
    }
    diff_values("", &previous.spec, &current.spec, &mut changes);
    for (old, new) in previous.components.iter().zip(&current.components) {
        if old.plugin_sha256 != new.plugin_sha256
            || old.version != new.version
            || old.plugin != new.plugin
        {
            changes.push(format!(
                "{} `{}` now comes from a different build (plugin `{}` {} → `{}` {})",
                new.kind, new.name, old.plugin, old.plugin_version, new.plugin, new.plugin_version
            ));
        }
    }
    if previous.inputs.len() != current.inputs.len() {
        changes.push("its inputs changed".to_string());
    } else {
        let changed: Vec<String> = previous
            .inputs
            .iter()
            .zip(&current.inputs)
            .zip(input_names)
            .filter(|((old, new), _)| old != new)
            .map(|(_, name)| format!("`{name}`"))
            .collect();
        match changed.len() {
            0 => {}
            1 => changes.push(format!("its input {} changed", changed[0])),
            _ => changes.push(format!("its inputs {} changed", changed.join(", "))),
        }
    }
    if changes.is_empty() && previous.kind != current.kind {
        changes.push(format!("it is now a {} node", current.kind));
    }
    changes
}

fn diff_values(path: &str, old: &Value, new: &Value, out: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(old_fields), Value::Object(new_fields)) => {
            let keys: std::collections::BTreeSet<&String> =
                old_fields.keys().chain(new_fields.keys()).collect();
            for key in keys {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match (old_fields.get(key), new_fields.get(key)) {
                    (Some(a), Some(b)) => diff_values(&child, a, b, out),
                    (Some(a), None) => out.push(format!("{child}: {a} → (removed)")),
                    (None, Some(b)) => out.push(format!("{child}: (none) → {b}")),
                    (None, None) => {}
                }
            }
        }
        (a, b) if a != b => out.push(format!("{}: {a} → {b}", path.replace(".value", ""))),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::{
        diff_values, named_files, sha256_hex, without_spans, Cache, CacheFiles, Heads, KeyParts,
        NodeKey,
    };
    use serde_json::json;

    #[test]
    fn key_parts_are_remembered_and_an_unchanged_record_is_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path(), CacheFiles::Link).unwrap();
        let parts = |seed: u64| KeyParts {
            exp_version: "0".into(),
            kind: "train".into(),
            spec: json!({"steps": 1}),
            components: Vec::new(),
            seed,
            device: "cpu".into(),
            threads: 1,
            inputs: vec![("model".into(), "abc".into())],
        };
        let heads = std::cell::RefCell::new(Heads::new());
        let key = |seed: u64| NodeKey::of(&parts(seed), &mut heads.borrow_mut()).unwrap();
        // The key is the hash of the parts' compact JSON, which gives the parts back.
        assert_eq!(key(1).key, sha256_hex(key(1).parts_json().as_bytes()));
        assert_eq!(
            key(1).parts_json(),
            serde_json::to_string(&parts(1)).unwrap()
        );
        // Keys that differ only in their seed share one head.
        assert!(std::sync::Arc::ptr_eq(&key(1).head, &key(2).head));
        assert_eq!(heads.borrow().len(), 1);
        assert!(!key(1).parts_json().contains('\n'));
        assert_eq!(key(1).parts().unwrap(), parts(1));
        assert_ne!(key(1).key, key(2).key);
        assert!(cache.previous_parts("study", "ft").is_none());
        cache.remember("study", "ft", &key(1));
        let path = cache.index_path("study", "ft");
        let written = std::fs::metadata(&path).unwrap().modified().unwrap();
        assert_eq!(cache.previous_parts("study", "ft").unwrap().seed, 1);
        std::thread::sleep(std::time::Duration::from_millis(20));
        cache.remember("study", "ft", &key(1));
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            written
        );
        cache.remember("study", "ft", &key(2));
        assert_eq!(cache.previous_parts("study", "ft").unwrap().seed, 2);
    }

    /// An evaluation node, for restoring a metrics entry.
    fn evaluation() -> exp_ir::Node {
        exp_ir::Node {
            id: exp_ir::NodeId(0),
            name: "e".into(),
            kind: exp_ir::NodeKind::Evaluate {
                metrics: Vec::new().into(),
                splits: vec!["test".into()],
            },
            inputs: Vec::new(),
            output: exp_ir::ArtifactKind::Metrics,
            seed: 0,
            origin: exp_ir::Origin::None,
            family: None,
            point: Vec::new(),
        }
    }

    /// A hit holds where its entry is, not its record: it reads the record again to restore,
    /// and checks the files of one another run stored since under the same key.
    #[test]
    fn a_hit_rereads_its_record_and_checks_one_replaced_after_the_lookup() {
        use crate::artifact::{Artifact, MetricsArtifact};
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(&dir.path().join("cache"), CacheFiles::Link).unwrap();
        let parts = KeyParts {
            kind: "evaluate".into(),
            ..KeyParts::default()
        };
        let key = NodeKey::of(&parts, &mut Heads::new()).unwrap();
        let metrics = MetricsArtifact {
            values: [("accuracy".to_string(), 0.5)].into(),
            order: vec!["accuracy".into()],
            ..MetricsArtifact::default()
        };
        assert!(cache
            .store(&key, &Artifact::Metrics(metrics), Vec::new())
            .unwrap());
        let run_dir = crate::run_dir::RunDir::create(&dir.path().join("run")).unwrap();
        let accuracy =
            |hit: &super::Hit| match hit.restore(&evaluation(), &run_dir, tch::Device::Cpu) {
                Ok(Artifact::Metrics(metrics)) => Ok(metrics.values["accuracy"]),
                Ok(_) => panic!("a metrics entry restored as something else"),
                Err(error) => Err(error.to_string()),
            };
        let hit = cache.lookup(&key.key).expect("the entry just stored");
        assert_eq!(accuracy(&hit), Ok(0.5));
        // Another run replaces the record, checksum and all, after the lookup.
        let entry = cache.entry_dir(&key.key);
        let record = std::fs::read_to_string(entry.join("meta.json")).unwrap();
        assert!(record.contains("0.5"), "{record}");
        let rewrite = |record: &str| {
            for (file, text) in [
                ("meta.json", record.to_string()),
                ("meta.sha256", sha256_hex(record.as_bytes())),
            ] {
                let path = entry.join(file);
                let _ = std::fs::remove_file(&path);
                std::fs::write(&path, text).unwrap();
            }
        };
        let replaced = record.replace("0.5", "0.75");
        rewrite(&replaced);
        // The same key's result, checked anew: the hit restores it.
        assert_eq!(accuracy(&hit), Ok(0.75));
        // A replacement whose files are not all there is refused.
        let mut record: serde_json::Value = serde_json::from_str(&replaced).unwrap();
        record["files"] = json!({ "extra.bin": sha256_hex(b"abc") });
        rewrite(&record.to_string());
        let refused = accuracy(&hit).expect_err("a record naming a missing file was restored");
        assert!(refused.contains("extra.bin is missing"), "{refused}");
        std::fs::write(entry.join("extra.bin"), "abc").unwrap();
        assert_eq!(accuracy(&hit), Ok(0.75));
    }

    /// A lookup tells a missing entry from a damaged one, and checks every file its record
    /// names against the hash recorded.
    #[test]
    fn a_lookup_checks_the_record_and_every_file_it_names() {
        use super::EntryProblem;
        use crate::artifact::{Artifact, MetricsArtifact};
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(&dir.path().join("cache"), CacheFiles::Link).unwrap();
        let key = NodeKey::of(&KeyParts::default(), &mut Heads::new()).unwrap();
        let problem = |key: &str| cache.lookup(key).err();
        assert_eq!(problem(&key.key), Some(EntryProblem::Missing));
        cache
            .store(
                &key,
                &Artifact::Metrics(MetricsArtifact::default()),
                Vec::new(),
            )
            .unwrap();
        assert_eq!(problem(&key.key), None);
        // The record names a file, with its hash.
        let entry = cache.entry_dir(&key.key);
        let write = |file: &str, text: &str| {
            let path = entry.join(file);
            let _ = std::fs::remove_file(&path);
            std::fs::write(&path, text).unwrap();
        };
        let mut record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(entry.join("meta.json")).unwrap()).unwrap();
        record["files"] = json!({ "extra.bin": sha256_hex(b"abc") });
        let record = record.to_string();
        write("meta.json", &record);
        write("meta.sha256", &sha256_hex(record.as_bytes()));
        write("extra.bin", "abc");
        assert_eq!(problem(&key.key), None);
        write("extra.bin", "abd");
        assert_eq!(
            problem(&key.key),
            Some(EntryProblem::Corrupt(
                "extra.bin does not match its checksum".into()
            ))
        );
        std::fs::remove_file(entry.join("extra.bin")).unwrap();
        assert_eq!(
            problem(&key.key),
            Some(EntryProblem::Corrupt("extra.bin is missing".into()))
        );
        // An entry without its record is damaged, not missing.
        std::fs::remove_file(entry.join("meta.json")).unwrap();
        assert!(matches!(
            problem(&key.key),
            Some(EntryProblem::Corrupt(problem)) if problem.starts_with("meta.json unreadable")
        ));
        // Nor is a record under another key's name.
        let other = NodeKey::of(
            &KeyParts {
                seed: 1,
                ..KeyParts::default()
            },
            &mut Heads::new(),
        )
        .unwrap();
        cache
            .store(
                &other,
                &Artifact::Metrics(MetricsArtifact::default()),
                Vec::new(),
            )
            .unwrap();
        let moved = cache.entry_dir(&key.key);
        std::fs::remove_dir_all(&moved).unwrap();
        std::fs::rename(cache.entry_dir(&other.key), &moved).unwrap();
        assert_eq!(
            problem(&key.key),
            Some(EntryProblem::Corrupt("the entry holds another key".into()))
        );
        // The default key (a node a one-node run does not want) has no parts at all.
        assert_eq!(NodeKey::default().parts_json(), "");
    }

    #[test]
    fn path_parameters_name_their_files_in_reading_order_with_their_hashes() {
        use exp_ir::{ComponentKind, ComponentRef, ComponentSchema, ParamSchema, ParamType, Value};
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("a.txt", "alpha");
        write("b.txt", "beta");
        std::fs::create_dir(dir.path().join("sub.txt")).unwrap();
        let schema = ComponentSchema {
            kind: ComponentKind::Dataset,
            name: "text_files".into(),
            doc: String::new(),
            version: "1".into(),
            params: vec![
                ParamSchema {
                    path: true,
                    ..ParamSchema::new("paths", ParamType::List(Box::new(ParamType::Str)))
                },
                ParamSchema::new("field", ParamType::Str),
            ],
            text: true,
            trained: false,
        };
        let at = |name: &str| dir.path().join(name).display().to_string();
        let component = ComponentRef {
            kind: ComponentKind::Dataset,
            name: "text_files".into(),
            params: [
                (
                    "paths".to_string(),
                    Value::List(vec![Value::Str(at("b.txt")), Value::Str(at("*.txt"))]),
                ),
                // Not a path parameter: never read as a file.
                ("field".to_string(), Value::Str(at("a.txt"))),
            ]
            .into_iter()
            .collect(),
            span: None,
        };
        let files = named_files("n", &schema, &component).unwrap();
        let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
        // b as written first, then the glob's sorted matches without b again or the directory.
        assert_eq!(names, [at("b.txt"), at("a.txt")]);
        let before = files[1].1.clone();
        write("a.txt", "alpha, changed");
        let after = named_files("n", &schema, &component).unwrap();
        assert_ne!(after[1].1, before, "a changed file changes its hash");
        assert_eq!(after[0], files[0]);

        std::fs::remove_file(dir.path().join("b.txt")).unwrap();
        let error = named_files("n", &schema, &component)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("b.txt") && error.contains("text_files"),
            "{error}"
        );
    }

    #[test]
    fn spans_do_not_enter_keys_and_changes_are_named() {
        let spec = json!({"optimizer": {"name": "adamw", "span": {"start": 3}, "params": {"lr": {"type": "float", "value": 0.001}}}});
        assert_eq!(without_spans(spec.clone())["optimizer"].get("span"), None);
        let changed = json!({"optimizer": {"name": "adamw", "params": {"lr": {"type": "float", "value": 0.003}}}});
        let mut out = Vec::new();
        diff_values("spec", &without_spans(spec), &changed, &mut out);
        assert_eq!(out, ["spec.optimizer.params.lr: 0.001 → 0.003"]);
    }
}
