//! Tokenized documents, made once and kept: in memory for the rest of the run (shared by every
//! node that reads the same split through the same tokenizer, which may start at once in a
//! sweep), and in the cache directory across runs.
//!
//! A document with an answer (`answer_at`) is tokenized as its prompt and its answer apart,
//! then joined: the ids a model is trained on then start the answer exactly where an
//! evaluation's prompt ends. (A byte-level BPE tokenizing the whole text may merge across that
//! point, `=1` in `7+4=11`, and a prompt alone would end in a token the model never saw there.)
//!
//! On disk an entry is `tokens/<key>.bin`: the magic `exptok1\0`, the number of documents, then
//! per document its length, its answer's start (`u32::MAX` for none) and its ids, all little
//! endian, followed by the SHA-256 of everything before it. A damaged entry is made again.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use exp_plugin_api::host::{ForeignTokenizer, PluginError};
use exp_plugin_api::sdk::Document;
use sha2::{Digest, Sha256};

const MAGIC: &[u8; 8] = b"exptok1\0";
/// Texts per `encode` call: bounds the tokenizer object's buffers, not the result.
const ENCODE_CHUNK: usize = 512;
const NO_ANSWER: u32 = u32::MAX;

/// The documents of one split as token ids.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenizedSplit {
    pub docs: Vec<Vec<u32>>,
    /// Where each document's answer starts, in tokens (its prompt's length).
    pub answer_at: Vec<Option<u32>>,
}

impl TokenizedSplit {
    pub fn n_tokens(&self) -> u64 {
        self.docs.iter().map(|doc| doc.len() as u64).sum()
    }
}

/// Tokenizes documents; a document with an answer as its prompt and answer apart.
pub fn tokenize(
    tokenizer: &mut ForeignTokenizer,
    documents: &[Document],
) -> Result<TokenizedSplit, PluginError> {
    // Every text to encode, and for each document the texts that make it up.
    let mut texts: Vec<&str> = Vec::with_capacity(documents.len());
    let mut parts: Vec<usize> = Vec::with_capacity(documents.len());
    for document in documents {
        match document.prompt_and_answer() {
            Some((prompt, answer)) => {
                texts.push(prompt);
                texts.push(answer);
                parts.push(2);
            }
            None => {
                texts.push(&document.text);
                parts.push(1);
            }
        }
    }
    let mut encoded = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(ENCODE_CHUNK) {
        encoded.extend(tokenizer.encode(chunk)?);
    }
    let mut encoded = encoded.into_iter();
    let mut split = TokenizedSplit::default();
    for count in parts {
        let mut ids = encoded.next().unwrap_or_default();
        let answer_at = if count == 2 {
            let at = ids.len() as u32;
            ids.extend(encoded.next().unwrap_or_default());
            Some(at)
        } else {
            None
        };
        split.docs.push(ids);
        split.answer_at.push(answer_at);
    }
    Ok(split)
}

/// Tokenized splits by key, in memory and in the cache directory.
pub struct TokenStore {
    dir: Option<PathBuf>,
    memo: Mutex<HashMap<String, Arc<OnceLock<Arc<TokenizedSplit>>>>>,
}

impl TokenStore {
    /// A store keeping entries under `dir` (`None`: for this run only).
    pub fn new(dir: Option<PathBuf>) -> TokenStore {
        TokenStore {
            dir,
            memo: Mutex::new(HashMap::new()),
        }
    }

    /// The key of a split tokenized by a tokenizer: its identity, the dataset node's cache
    /// key (which changes with its parameters and its files) and the split.
    pub fn key(tokenizer: &str, dataset: &str, split: &str) -> String {
        let mut hasher = Sha256::new();
        for part in [tokenizer, dataset, split] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        format!("{:x}", hasher.finalize())
    }

    /// The split under `key`: from memory, else from disk, else made by `make` (once, even
    /// when several nodes ask at the same time) and kept.
    pub fn get_or_make<E>(
        &self,
        key: &str,
        make: impl FnOnce() -> Result<TokenizedSplit, E>,
    ) -> Result<Arc<TokenizedSplit>, E> {
        let cell = {
            let mut memo = self
                .memo
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            memo.entry(key.to_string())
                .or_insert_with(|| Arc::new(OnceLock::new()))
                .clone()
        };
        if let Some(split) = cell.get() {
            return Ok(split.clone());
        }
        // Concurrent askers may both get here; the first to finish sets the cell and the
        // other's equal result is dropped.
        let split = match self.read(key) {
            Some(split) => split,
            None => {
                let split = make()?;
                self.write(key, &split);
                split
            }
        };
        Ok(cell.get_or_init(|| Arc::new(split)).clone())
    }

    fn path(&self, key: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|dir| dir.join(format!("{key}.bin")))
    }

    fn read(&self, key: &str) -> Option<TokenizedSplit> {
        let bytes = std::fs::read(self.path(key)?).ok()?;
        decode(&bytes)
    }

    /// Keeps a split on disk; failing to is not an error (it is made again next time).
    fn write(&self, key: &str, split: &TokenizedSplit) {
        let (Some(dir), Some(path)) = (&self.dir, self.path(key)) else {
            return;
        };
        if std::fs::create_dir_all(dir).is_ok() {
            let _ = crate::run_dir::RunDir::write_atomic(&path, &encode(split));
        }
    }
}

fn encode(split: &TokenizedSplit) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(16 + 8 * split.docs.len() + 4 * split.n_tokens() as usize);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&(split.docs.len() as u64).to_le_bytes());
    for (ids, answer_at) in split.docs.iter().zip(&split.answer_at) {
        bytes.extend_from_slice(&(ids.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&answer_at.unwrap_or(NO_ANSWER).to_le_bytes());
        for id in ids {
            bytes.extend_from_slice(&id.to_le_bytes());
        }
    }
    let digest = Sha256::digest(&bytes);
    bytes.extend_from_slice(&digest);
    bytes
}

/// Reads an entry back; `None` for anything damaged.
fn decode(bytes: &[u8]) -> Option<TokenizedSplit> {
    let (body, digest) = bytes.split_at(bytes.len().checked_sub(32)?);
    if Sha256::digest(body).as_slice() != digest || !body.starts_with(MAGIC) {
        return None;
    }
    let mut at = MAGIC.len();
    let u32_at = |at: &mut usize| -> Option<u32> {
        let value = u32::from_le_bytes(body.get(*at..*at + 4)?.try_into().ok()?);
        *at += 4;
        Some(value)
    };
    let n_docs = u64::from_le_bytes(body.get(at..at + 8)?.try_into().ok()?) as usize;
    at += 8;
    let mut split = TokenizedSplit::default();
    for _ in 0..n_docs {
        let len = u32_at(&mut at)? as usize;
        let answer_at = u32_at(&mut at)?;
        let ids = (0..len)
            .map(|_| u32_at(&mut at))
            .collect::<Option<Vec<u32>>>()?;
        split.docs.push(ids);
        split
            .answer_at
            .push((answer_at != NO_ANSWER).then_some(answer_at));
    }
    (at == body.len()).then_some(split)
}

#[cfg(test)]
mod tests {
    use super::{decode, encode, TokenStore, TokenizedSplit};

    fn sample() -> TokenizedSplit {
        TokenizedSplit {
            docs: vec![vec![1, 2, 3], vec![], vec![70_000, 5]],
            answer_at: vec![Some(2), None, Some(0)],
        }
    }

    #[test]
    fn entries_round_trip_and_damage_is_detected() {
        let bytes = encode(&sample());
        assert_eq!(decode(&bytes), Some(sample()));
        for position in [0, 9, bytes.len() / 2, bytes.len() - 1] {
            let mut damaged = bytes.clone();
            damaged[position] ^= 1;
            assert_eq!(decode(&damaged), None, "byte {position}");
        }
        assert_eq!(decode(&bytes[..bytes.len() - 1]), None);
        assert_eq!(decode(&[]), None);
    }

    #[test]
    fn a_split_is_made_once_then_read_from_memory_or_disk() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::new(Some(dir.path().to_path_buf()));
        let key = TokenStore::key("tok", "data", "train");
        let mut made = 0;
        for _ in 0..3 {
            let split = store
                .get_or_make(&key, || -> Result<_, ()> {
                    made += 1;
                    Ok(sample())
                })
                .unwrap();
            assert_eq!(*split, sample());
        }
        assert_eq!(made, 1);
        // A new store (a later run) reads it from disk.
        let later = TokenStore::new(Some(dir.path().to_path_buf()));
        let split = later
            .get_or_make(&key, || -> Result<TokenizedSplit, ()> {
                panic!("made again")
            })
            .unwrap();
        assert_eq!(*split, sample());
        // Keys differ by each part, and by where the parts split.
        assert_ne!(
            TokenStore::key("ab", "c", "train"),
            TokenStore::key("a", "bc", "train")
        );
        assert_ne!(key, TokenStore::key("tok", "data", "test"));
    }
}
