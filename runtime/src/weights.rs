//! `Weights`: a model's tensors, in memory or still in its checkpoint.
//!
//! A model restored from the cache is read from its checkpoint only when a node that runs asks
//! for its tensors: in a cached rerun most models feed only nodes that are themselves cached,
//! and reading every one of them was most of the rerun's time and memory (issue 16).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tch::{Device, Tensor};

pub struct Weights {
    held: Mutex<Held>,
    /// The elements of every tensor: known without reading them (from a checkpoint's header).
    parameters: u64,
}

struct Held {
    tensors: Vec<(String, Tensor)>,
    /// Where the tensors are while they have not been read.
    unread: Option<Unread>,
}

struct Unread {
    checkpoint: PathBuf,
    /// The tensors' order (a checkpoint's own is alphabetical; a model's is not).
    order: Vec<String>,
    device: Device,
}

impl Weights {
    /// Tensors already in memory.
    pub fn new(tensors: Vec<(String, Tensor)>) -> Weights {
        let parameters = tensors
            .iter()
            .map(|(_, tensor)| tensor.numel() as u64)
            .sum();
        Weights {
            held: Mutex::new(Held {
                tensors,
                unread: None,
            }),
            parameters,
        }
    }

    /// The tensors named `order` in the safetensors file `checkpoint`, read onto `device` the
    /// first time they are asked for. Their number of elements is `parameters` if known, else
    /// counted from the file's header (which must name every tensor).
    pub fn unread(
        checkpoint: &Path,
        order: Vec<String>,
        device: Device,
        parameters: Option<u64>,
    ) -> Result<Weights, String> {
        let parameters = match parameters {
            Some(parameters) => parameters,
            None => header_elements(checkpoint, &order)?,
        };
        Ok(Weights {
            held: Mutex::new(Held {
                tensors: Vec::new(),
                unread: Some(Unread {
                    checkpoint: checkpoint.to_path_buf(),
                    order,
                    device,
                }),
            }),
            parameters,
        })
    }

    /// The elements of every tensor: the model's size in the manifest.
    pub fn parameters(&self) -> u64 {
        self.parameters
    }

    /// Whether the tensors are in memory.
    #[cfg(test)]
    fn is_read(&self) -> bool {
        self.lock().unread.is_none()
    }

    /// The tensors' names, in order.
    pub fn names(&self) -> Vec<String> {
        let held = self.lock();
        match &held.unread {
            Some(unread) => unread.order.clone(),
            None => held.tensors.iter().map(|(name, _)| name.clone()).collect(),
        }
    }

    /// The tensors, as shallow clones (new references to storage nothing writes after its node
    /// finished), read from the checkpoint the first time. The lock is held only while they
    /// are cloned: a merge that lists one model twice reads it twice.
    pub fn read(&self) -> Result<Vec<(String, Tensor)>, String> {
        let mut held = self.lock();
        if let Some(unread) = held.unread.take() {
            match unread.load() {
                Ok(tensors) => held.tensors = tensors,
                Err(message) => {
                    held.unread = Some(unread);
                    return Err(message);
                }
            }
        }
        Ok(held
            .tensors
            .iter()
            .map(|(name, tensor)| (name.clone(), tensor.shallow_clone()))
            .collect())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        // Tensors are replaced whole, never half-written: a panic elsewhere under the lock
        // leaves them usable.
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Unread {
    fn load(&self) -> Result<Vec<(String, Tensor)>, String> {
        let path = self.checkpoint.display();
        let mut read = Tensor::read_safetensors(&self.checkpoint)
            .map_err(|error| format!("cannot read the checkpoint `{path}`: {error}"))?;
        self.order
            .iter()
            .map(|name| {
                let tensor = take_named(&mut read, name)
                    .ok_or_else(|| format!("the checkpoint `{path}` lacks tensor `{name}`"))?;
                Ok((name.clone(), tensor.to_device(self.device)))
            })
            .collect()
    }
}

/// Takes the tensor `name` out of what a safetensors file held.
pub(crate) fn take_named(read: &mut Vec<(String, Tensor)>, name: &str) -> Option<Tensor> {
    let position = read.iter().position(|(found, _)| found == name)?;
    Some(read.swap_remove(position).1)
}

/// The elements of the tensors `names` in a safetensors file, from its header alone (an
/// 8-byte little-endian length, then that many bytes of JSON: per tensor its dtype, shape and
/// offsets). Every name must be there.
fn header_elements(path: &Path, names: &[String]) -> Result<u64, String> {
    let unreadable =
        |what: String| format!("cannot read the checkpoint `{}`: {what}", path.display());
    let mut file = std::fs::File::open(path).map_err(|error| unreadable(error.to_string()))?;
    let mut length = [0u8; 8];
    file.read_exact(&mut length)
        .map_err(|error| unreadable(error.to_string()))?;
    let length = u64::from_le_bytes(length);
    // safetensors itself refuses headers over 100 MB.
    if length > 100_000_000 {
        return Err(unreadable(format!("its header claims {length} bytes")));
    }
    let mut header = vec![0u8; length as usize];
    file.read_exact(&mut header)
        .map_err(|error| unreadable(format!("its header is cut short ({error})")))?;
    let header: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&header)
        .map_err(|error| unreadable(format!("its header is not JSON: {error}")))?;
    let mut total = 0u64;
    for name in names {
        let shape = header
            .get(name)
            .and_then(|entry| entry.get("shape"))
            .and_then(|shape| shape.as_array())
            .ok_or_else(|| unreadable(format!("it lacks tensor `{name}`")))?;
        let elements = shape.iter().try_fold(1u64, |product, dimension| {
            dimension.as_u64().map(|dimension| product * dimension)
        });
        total +=
            elements.ok_or_else(|| unreadable(format!("tensor `{name}` has a malformed shape")))?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use tch::{Device, Kind, Tensor};

    use super::Weights;

    fn tensors() -> Vec<(String, Tensor)> {
        vec![
            (
                "z.weight".to_string(),
                Tensor::arange(6, (Kind::Float, Device::Cpu)).view([2, 3]),
            ),
            ("a.bias".to_string(), Tensor::from_slice(&[7.0f32, 8.0])),
        ]
    }

    fn saved(dir: &tempfile::TempDir) -> std::path::PathBuf {
        let path = dir.path().join("m.safetensors");
        Tensor::write_safetensors(&tensors(), &path).unwrap();
        path
    }

    fn order() -> Vec<String> {
        vec!["z.weight".to_string(), "a.bias".to_string()]
    }

    #[test]
    fn unread_weights_count_from_the_header_and_read_in_the_models_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = saved(&dir);
        let weights = Weights::unread(&path, order(), Device::Cpu, None).unwrap();
        assert_eq!(weights.parameters(), 8);
        assert!(!weights.is_read());
        assert_eq!(weights.names(), order());
        let read = weights.read().unwrap();
        assert!(weights.is_read());
        assert_eq!(
            read.iter()
                .map(|(name, _)| name.as_str())
                .collect::<Vec<_>>(),
            ["z.weight", "a.bias"]
        );
        for ((name, got), (_, want)) in read.iter().zip(tensors()) {
            assert!(got.equal(&want), "{name}");
            assert_eq!(got.size(), want.size(), "{name}");
        }
        // Read once: the file is not needed again.
        std::fs::remove_file(&path).unwrap();
        assert_eq!(weights.read().unwrap().len(), 2);
        // A count known beforehand is taken as it is: the file is not opened.
        let weights = Weights::unread(&path, order(), Device::Cpu, Some(8)).unwrap();
        assert_eq!(weights.parameters(), 8);
        assert!(weights.read().is_err());
    }

    #[test]
    fn weights_in_memory_count_their_elements_and_read_as_shallow_clones() {
        let weights = Weights::new(tensors());
        assert_eq!(weights.parameters(), 8);
        assert!(weights.is_read());
        assert_eq!(weights.names(), order());
        let first = weights.read().unwrap();
        let _ = first[1].1.shallow_clone().fill_(0.0);
        // The same storage: what one reader sees, the next sees.
        assert_eq!(
            weights.read().unwrap()[1]
                .1
                .sum(Kind::Float)
                .double_value(&[]),
            0.0
        );
    }

    #[test]
    fn a_missing_tensor_or_a_damaged_header_is_said_with_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = saved(&dir);
        let mut asked = order();
        asked.push("head.weight".to_string());
        let error = Weights::unread(&path, asked, Device::Cpu, None)
            .err()
            .unwrap();
        assert!(error.contains("lacks tensor `head.weight`"), "{error}");
        assert!(error.contains("m.safetensors"), "{error}");

        let weights = Weights::unread(&path, order(), Device::Cpu, None).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let error = weights.read().unwrap_err();
        assert!(error.starts_with("cannot read the checkpoint"), "{error}");
        // A failed read can be tried again once the file is back.
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(weights.read().unwrap().len(), 2);

        std::fs::write(&path, &bytes[..20]).unwrap();
        let error = Weights::unread(&path, order(), Device::Cpu, None)
            .err()
            .unwrap();
        assert!(error.contains("header is cut short"), "{error}");
        std::fs::write(&path, u64::MAX.to_le_bytes()).unwrap();
        let error = Weights::unread(&path, order(), Device::Cpu, None)
            .err()
            .unwrap();
        assert!(error.contains("header claims"), "{error}");
    }
}
