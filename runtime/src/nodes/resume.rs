//! Resumable training: the full state of a training node, checkpointed every N steps so that a
//! killed run, started again with the same command, continues where it stopped and ends with
//! exactly the weights an uninterrupted run would have.
//!
//! The state is the model's tensors and its own state (e.g. a dropout generator), the
//! optimizer's state (moments, step count), the data order (generator state, this epoch's
//! permutation and position), the examples seen, the last finite loss, the latest evaluation
//! and every metric line logged so far. The schedule needs nothing: it is a function of the step.
//!
//! Layout, under the cache's `partial/<node key>/`: one directory per checkpoint, `step-<n>/`,
//! written under a temporary name, synced and renamed; then `LATEST` (naming the directory) is
//! replaced atomically; then older directories are removed. A kill at any moment leaves `LATEST`
//! pointing at a complete checkpoint. Every file's SHA-256 is recorded in `progress.json`, whose
//! own hash is in `progress.sha256`; a checkpoint that fails verification is reported and not used.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use exp_plugin_api::sdk::SavedState;
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

use super::resume_error::ResumeError;
use crate::artifact::MetricsArtifact;
use crate::run_dir::{file_sha256, sha256_hex, MetricLine, RunDir};

/// Where the training data order stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderState {
    pub rng: u64,
    pub epoch: Vec<i64>,
    pub position: usize,
}

/// Everything about a training node's progress except tensors.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Progress {
    /// Steps completed.
    pub step: u64,
    pub total: u64,
    pub order: OrderState,
    pub examples_seen: u64,
    pub last_finite: Option<f64>,
    pub metrics: MetricsArtifact,
    pub lines: Vec<MetricLine>,
    pub model_data: serde_json::Value,
    pub optimizer_data: serde_json::Value,
    /// SHA-256 of every tensor file of the checkpoint.
    pub files: Vec<(String, String)>,
}

/// A checkpoint read back.
pub struct Checkpoint {
    pub progress: Progress,
    pub weights: Vec<(String, Tensor)>,
    pub model_state: SavedState,
    pub optimizer_state: SavedState,
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// A file or directory of the checkpoint that could not be written.
fn not_written(path: &Path, error: impl std::fmt::Display) -> ResumeError {
    ResumeError::Write {
        path: path.display().to_string(),
        message: error.to_string(),
    }
}

fn write_tensors(path: &Path, tensors: &[(String, Tensor)]) -> Result<(), ResumeError> {
    let cpu: Vec<(String, Tensor)> = tensors
        .iter()
        .map(|(name, tensor)| (name.clone(), tensor.to_device(Device::Cpu).contiguous()))
        .collect();
    Tensor::write_safetensors(&cpu, path).map_err(|error| not_written(path, error))?;
    fs::File::open(path)
        .and_then(|file| file.sync_all())
        .map_err(|error| not_written(path, error))
}

/// Reads tensors back in the order they were written (safetensors files sort their keys).
fn read_tensors(
    path: &Path,
    order: &[String],
    device: Device,
) -> Result<Vec<(String, Tensor)>, ResumeError> {
    let mut read = Tensor::read_safetensors(path).map_err(|error| ResumeError::Unreadable {
        what: format!("`{}`", path.display()),
        message: error.to_string(),
    })?;
    order
        .iter()
        .map(|name| {
            let position = read
                .iter()
                .position(|(found, _)| found == name)
                .ok_or_else(|| ResumeError::MissingTensor {
                    name: name.clone(),
                    path: path.display().to_string(),
                })?;
            let (name, tensor) = read.swap_remove(position);
            Ok((name, tensor.to_device(device)))
        })
        .collect()
}

pub struct ResumeDir {
    pub dir: PathBuf,
}

impl ResumeDir {
    /// Saves a checkpoint; on any failure the previous checkpoint stays the latest.
    pub fn save(
        &self,
        mut progress: Progress,
        weights: &[(String, Tensor)],
        model_state: &SavedState,
        optimizer_state: &SavedState,
    ) -> Result<(), ResumeError> {
        fs::create_dir_all(&self.dir).map_err(|error| not_written(&self.dir, error))?;
        let name = format!("step-{}", progress.step);
        let temporary = self.dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let _ = fs::remove_dir_all(&temporary);
        fs::create_dir_all(&temporary).map_err(|error| not_written(&temporary, error))?;
        let groups: [(&str, &[(String, Tensor)]); 3] = [
            ("weights", weights),
            ("model_state", &model_state.tensors),
            ("optimizer_state", &optimizer_state.tensors),
        ];
        progress.files.clear();
        for (group, tensors) in groups {
            let file = format!("{group}.safetensors");
            let path = temporary.join(&file);
            if tensors.is_empty() {
                continue;
            }
            write_tensors(&path, tensors)?;
            progress.files.push((
                file,
                crate::cache::hashed(&path).map_err(|error| not_written(&path, error))?,
            ));
        }
        let order = |tensors: &[(String, Tensor)]| -> Vec<String> {
            tensors.iter().map(|(name, _)| name.clone()).collect()
        };
        let orders = serde_json::json!({
            "weights": order(weights),
            "model_state": order(&model_state.tensors),
            "optimizer_state": order(&optimizer_state.tensors),
        });
        progress.model_data = model_state.data.clone();
        progress.optimizer_data = optimizer_state.data.clone();
        let serialise = |error: serde_json::Error| ResumeError::Serialise {
            message: error.to_string(),
        };
        let mut document = serde_json::to_value(&progress).map_err(serialise)?;
        document["orders"] = orders;
        let bytes = serde_json::to_vec(&document).map_err(serialise)?;
        for (file, contents) in [
            ("progress.json", bytes.clone()),
            ("progress.sha256", sha256_hex(&bytes).into_bytes()),
        ] {
            let path = temporary.join(file);
            write_synced(&path, &contents).map_err(|error| not_written(&path, error))?;
        }
        let final_dir = self.dir.join(&name);
        let _ = fs::remove_dir_all(&final_dir);
        fs::rename(&temporary, &final_dir).map_err(|error| not_written(&final_dir, error))?;
        let latest = self.dir.join("LATEST");
        RunDir::write_atomic(&latest, name.as_bytes())
            .map_err(|error| not_written(&latest, error))?;
        // Only now is the older checkpoint unneeded.
        if let Ok(entries) = fs::read_dir(&self.dir) {
            for entry in entries.flatten() {
                let entry_name = entry.file_name().to_string_lossy().into_owned();
                if entry_name.starts_with("step-") && entry_name != name {
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
        }
        Ok(())
    }

    /// The latest checkpoint: `Ok(None)` when there is none, `Err` when it fails verification.
    pub fn load(&self, device: Device) -> Result<Option<Checkpoint>, ResumeError> {
        let latest = match fs::read_to_string(self.dir.join("LATEST")) {
            Ok(latest) => latest,
            Err(_) => return Ok(None),
        };
        let dir = self.dir.join(latest.trim());
        let unreadable = |error: &dyn std::fmt::Display| ResumeError::Unreadable {
            what: "progress.json".to_string(),
            message: error.to_string(),
        };
        let bytes = fs::read(dir.join("progress.json")).map_err(|error| unreadable(&error))?;
        let recorded =
            fs::read_to_string(dir.join("progress.sha256")).map_err(|_| ResumeError::Missing {
                what: "progress.sha256".to_string(),
            })?;
        if recorded.trim() != sha256_hex(&bytes) {
            return Err(ResumeError::Checksum {
                file: "progress.json".to_string(),
            });
        }
        let document: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|error| unreadable(&error))?;
        let progress: Progress =
            serde_json::from_value(document.clone()).map_err(|error| unreadable(&error))?;
        for (file, hash) in &progress.files {
            if file_sha256(&dir.join(file)).as_deref() != Some(hash.as_str()) {
                return Err(ResumeError::Checksum { file: file.clone() });
            }
        }
        let order = |group: &str| -> Vec<String> {
            document["orders"][group]
                .as_array()
                .map(|names| {
                    names
                        .iter()
                        .filter_map(|name| name.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let group = |name: &str| -> Result<Vec<(String, Tensor)>, ResumeError> {
            let names = order(name);
            if names.is_empty() {
                return Ok(Vec::new());
            }
            read_tensors(&dir.join(format!("{name}.safetensors")), &names, device)
        };
        Ok(Some(Checkpoint {
            weights: group("weights")?,
            model_state: SavedState {
                tensors: group("model_state")?,
                data: progress.model_data.clone(),
            },
            optimizer_state: SavedState {
                tensors: group("optimizer_state")?,
                data: progress.optimizer_data.clone(),
            },
            progress,
        }))
    }

    /// Removes every checkpoint: the node finished and its result is in the cache.
    pub fn clear(&self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::SavedState;
    use tch::{Device, Tensor};

    use super::{OrderState, Progress, ResumeDir};
    use crate::artifact::MetricsArtifact;
    use crate::nodes::resume_error::ResumeError;

    fn progress(step: u64) -> Progress {
        Progress {
            step,
            total: 10,
            order: OrderState {
                rng: 7,
                epoch: vec![1, 0],
                position: 1,
            },
            examples_seen: 2 * step,
            last_finite: Some(0.5),
            metrics: MetricsArtifact::default(),
            lines: Vec::new(),
            model_data: serde_json::Value::Null,
            optimizer_data: serde_json::Value::Null,
            files: Vec::new(),
        }
    }

    #[test]
    fn a_checkpoint_comes_back_and_a_damaged_one_says_which_file() {
        let dir = tempfile::tempdir().unwrap();
        let resume = ResumeDir {
            dir: dir.path().join("partial"),
        };
        assert!(resume.load(Device::Cpu).unwrap().is_none());
        let weights = vec![("w".to_string(), Tensor::from_slice(&[1.0f32, 2.0]))];
        let empty = SavedState {
            tensors: Vec::new(),
            data: serde_json::Value::Null,
        };
        resume.save(progress(3), &weights, &empty, &empty).unwrap();
        let checkpoint = resume.load(Device::Cpu).unwrap().unwrap();
        assert_eq!(checkpoint.progress.step, 3);
        assert_eq!(checkpoint.weights[0].0, "w");

        std::fs::write(resume.dir.join("step-3/weights.safetensors"), b"damaged").unwrap();
        let error = resume.load(Device::Cpu).err().unwrap();
        assert_eq!(
            error,
            ResumeError::Checksum {
                file: "weights.safetensors".to_string()
            }
        );
        assert_eq!(
            error.to_string(),
            "weights.safetensors does not match its checksum"
        );
    }
}
