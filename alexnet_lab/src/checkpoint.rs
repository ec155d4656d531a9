//! Checkpoints: the weights as safetensors with PyTorch's names (`0.weight` ...), plus a small
//! JSON (model, input, epoch, training config, seed, metrics so far). Every file is written
//! to a temporary name and renamed, so a checkpoint on disk is always complete.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use candle_nn::VarMap;

use crate::models::{ModelKind, Sequential};
use crate::train::{History, TrainConfig};
use crate::{Error, Result};

pub const WEIGHTS_FILE: &str = "checkpoint.safetensors";
pub const META_FILE: &str = "checkpoint.json";
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";

/// What the JSON beside the weights holds.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CheckpointMeta {
    pub format: u32,
    pub model: ModelKind,
    /// `(c, h, w)` of one input example.
    pub input: [usize; 3],
    /// Epochs completed (1-based count); resume starts at this epoch index.
    pub epoch: usize,
    pub config: TrainConfig,
    pub history: History,
    pub device: String,
}

/// Writes `bytes` to `path` atomically (temporary file in the same folder, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = tmp_path(path);
    let ctx = |what: &str| format!("cannot {what} {}", tmp.display());
    let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(ctx("create"), e))?;
    f.write_all(bytes).map_err(|e| Error::io(ctx("write"), e))?;
    f.sync_all().map_err(|e| Error::io(ctx("sync"), e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(format!("cannot rename {} to {}", tmp.display(), path.display()), e))
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

fn save_tensors(tensors: &HashMap<String, Tensor>, path: &Path) -> Result<()> {
    let tmp = tmp_path(path);
    candle_core::safetensors::save(tensors, &tmp)?;
    std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(|e| Error::io(format!("cannot sync {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(format!("cannot rename {}", tmp.display()), e))
}

/// Saves weights, optimizer state and metadata into `dir`. The JSON is written last: a
/// checkpoint counts only once its JSON names its epoch.
pub fn save(dir: &Path, varmap: &VarMap, optimizer: &HashMap<String, Tensor>, meta: &CheckpointMeta) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    let tensors: HashMap<String, Tensor> = varmap
        .data()
        .lock()
        .map_err(|_| Error::config("parameter store lock poisoned"))?
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
        .collect();
    save_tensors(&tensors, &dir.join(WEIGHTS_FILE))?;
    if !optimizer.is_empty() {
        save_tensors(optimizer, &dir.join(OPTIMIZER_FILE))?;
    }
    let json = serde_json::to_vec_pretty(meta).map_err(|e| Error::data(e.to_string()))?;
    write_atomic(&dir.join(META_FILE), &json)
}

/// Reads the checkpoint JSON of `dir` (or of the folder holding a given `checkpoint.*` file).
pub fn read_meta(path: &Path) -> Result<(PathBuf, CheckpointMeta)> {
    let dir = if path.is_dir() { path.to_path_buf() } else { path.parent().unwrap_or(Path::new(".")).to_path_buf() };
    let meta_path = dir.join(META_FILE);
    let text = std::fs::read_to_string(&meta_path).map_err(|e| {
        Error::io(
            format!("no checkpoint in {} (expected {META_FILE} from `alexnet-lab train --out DIR`)", dir.display()),
            e,
        )
    })?;
    let meta: CheckpointMeta = serde_json::from_str(&text)
        .map_err(|e| Error::data(format!("{} is not a valid checkpoint description: {e}", meta_path.display())))?;
    Ok((dir, meta))
}

/// Loads tensors from a safetensors file with a clear error.
pub fn load_tensors(path: &Path, device: &Device) -> Result<HashMap<String, Tensor>> {
    candle_core::safetensors::load(path, device)
        .map_err(|e| Error::data(format!("{} is not a loadable safetensors file: {e}", path.display())))
}

/// Loads the weights of `dir` into an existing `varmap`, checking every name and shape.
pub fn load_weights(dir: &Path, varmap: &VarMap, device: &Device) -> Result<()> {
    let path = dir.join(WEIGHTS_FILE);
    let tensors = load_tensors(&path, device)?;
    let data = varmap.data().lock().map_err(|_| Error::config("parameter store lock poisoned"))?;
    for (name, var) in data.iter() {
        let t = tensors.get(name).ok_or_else(|| {
            Error::data(format!("{} has no tensor `{name}`: it was saved from another model", path.display()))
        })?;
        if t.dims() != var.dims() {
            return Err(Error::data(format!(
                "{}: `{name}` has shape {:?}, the model expects {:?} (another model or input size?)",
                path.display(),
                t.dims(),
                var.dims()
            )));
        }
        var.set(&t.to_dtype(var.dtype())?)?;
    }
    Ok(())
}

/// Rebuilds the model of a checkpoint with its trained weights.
pub fn load_model(path: &Path, device: &Device) -> Result<(Sequential, VarMap, CheckpointMeta)> {
    let (dir, meta) = read_meta(path)?;
    let (net, varmap) = meta.model.init(Some(meta.input), meta.config.seed, device)?;
    load_weights(&dir, &varmap, device)?;
    Ok((net, varmap, meta))
}
