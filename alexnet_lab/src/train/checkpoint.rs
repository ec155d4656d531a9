//! Checkpoints: the weights as safetensors with PyTorch's names (`0.weight` ...), plus a small
//! JSON (model, input, epoch, training config, seed, metrics so far).
//!
//! Crash safety (a run can be killed at any instant, `kill -9` included): the tensors of epoch N
//! go to files named for that epoch (`weights-epoch-0003.safetensors`,
//! `optimizer-epoch-0003.safetensors`), each written to a temporary name, synced and renamed;
//! then `checkpoint.json`, which names those files, replaces the previous one by an atomic
//! rename. That rename is the commit: before it the JSON still names epoch N-1's files, which
//! are untouched; after it the files of older epochs are removed. So the JSON on disk always
//! describes a complete, loadable checkpoint.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use candle_nn::VarMap;

use super::config::TrainConfig;
use super::history::History;
use crate::data::{Augment, Pipeline};
use crate::nn::{ModelKind, Net};
use crate::sys::fs::{commit_tmp, file_sha256, read_regular, readable_by_all, tmp_path};
use crate::{Error, Result};

/// The JSON that names a run folder's checkpoint; writing it is the commit of a checkpoint.
pub const META_FILE: &str = "checkpoint.json";
/// The weights file of checkpoints written before format 2 (one fixed name).
pub(crate) const LEGACY_WEIGHTS_FILE: &str = "checkpoint.safetensors";
/// The current checkpoint format: epoch-named tensor files.
pub(crate) const FORMAT: u32 = 2;

/// The file names of epoch `epoch`'s weights and optimizer state.
pub(crate) fn epoch_files(epoch: usize) -> (String, String) {
    (format!("weights-epoch-{epoch:04}.safetensors"), format!("optimizer-epoch-{epoch:04}.safetensors"))
}

fn legacy_weights() -> String {
    LEGACY_WEIGHTS_FILE.into()
}

/// What the JSON beside the weights holds: the recipe and the history, the tensor files and
/// their hashes, who wrote it. The model, its input, the epoch and the device are not stored
/// here a second time: they are the config's and the history's ([`CheckpointMeta::model`],
/// [`CheckpointMeta::input`], [`CheckpointMeta::epoch`], [`CheckpointMeta::device`]). The
/// file still carries them as top-level keys (`model`, `input`, `epoch`, `device`) for readers
/// of the JSON and older versions of the lab, and a file whose keys disagree with its config or
/// history is refused as edited or damaged.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "MetaFile", into = "MetaFile")]
pub struct CheckpointMeta {
    pub format: u32,
    pub config: TrainConfig,
    pub history: History,
    /// The weights file, relative to the run folder.
    #[serde(default = "legacy_weights")]
    pub weights: String,
    /// The optimizer state (momentum buffers), when the optimizer has any.
    #[serde(default)]
    pub optimizer: Option<String>,
    /// SHA-256 of the weights file as saved (checked when it is loaded; absent in checkpoints
    /// written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights_sha256: Option<String>,
    /// SHA-256 of the optimizer file as saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimizer_sha256: Option<String>,
    /// The commit of the crate that trained the last epoch ([`crate::sys::build::COMMIT`]);
    /// absent in checkpoints written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Sizes in bytes of the weights and optimizer files as saved: reads stop there (absent in
    /// checkpoints written before they were recorded: [`MAX_TENSOR_BYTES`] bounds those).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimizer_bytes: Option<u64>,
    /// The version of alexnet_lab that wrote it (absent before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lab_version: Option<String>,
    /// The names of the classes, in label order (absent before they were recorded: Fashion-MNIST's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_names: Option<Vec<String>>,
}

/// [`CheckpointMeta`] as the file holds it: the same, plus the four keys derived from the
/// config and the history.
#[derive(serde::Serialize, serde::Deserialize)]
struct MetaFile {
    format: u32,
    model: ModelKind,
    input: [usize; 3],
    epoch: usize,
    config: TrainConfig,
    history: History,
    device: String,
    #[serde(default = "legacy_weights")]
    weights: String,
    #[serde(default)]
    optimizer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    weights_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    optimizer_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    weights_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    optimizer_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lab_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    class_names: Option<Vec<String>>,
}

impl From<CheckpointMeta> for MetaFile {
    fn from(m: CheckpointMeta) -> Self {
        Self {
            format: m.format,
            model: m.model(),
            input: m.input(),
            epoch: m.epoch(),
            device: m.device().to_string(),
            config: m.config,
            history: m.history,
            weights: m.weights,
            optimizer: m.optimizer,
            weights_sha256: m.weights_sha256,
            optimizer_sha256: m.optimizer_sha256,
            commit: m.commit,
            weights_bytes: m.weights_bytes,
            optimizer_bytes: m.optimizer_bytes,
            lab_version: m.lab_version,
            class_names: m.class_names,
        }
    }
}

impl TryFrom<MetaFile> for CheckpointMeta {
    type Error = String;
    fn try_from(f: MetaFile) -> std::result::Result<Self, String> {
        let meta = Self {
            format: f.format,
            config: f.config,
            history: f.history,
            weights: f.weights,
            optimizer: f.optimizer,
            weights_sha256: f.weights_sha256,
            optimizer_sha256: f.optimizer_sha256,
            commit: f.commit,
            weights_bytes: f.weights_bytes,
            optimizer_bytes: f.optimizer_bytes,
            lab_version: f.lab_version,
            class_names: f.class_names,
        };
        let disagree = [
            (f.model != meta.model()).then(|| format!("`model` {} but the config's model is {}", f.model, meta.model())),
            (f.input != meta.input()).then(|| format!("`input` {:?} but the config gives {:?}", f.input, meta.input())),
            (f.epoch != meta.epoch()).then(|| format!("`epoch` {} but the history holds {} epochs", f.epoch, meta.epoch())),
            (f.device != meta.device()).then(|| format!("`device` {} but the history's is {}", f.device, meta.device())),
        ];
        let disagree: Vec<String> = disagree.into_iter().flatten().collect();
        if disagree.is_empty() {
            Ok(meta)
        } else {
            Err(format!("{}: the description was edited or damaged", disagree.join("; ")))
        }
    }
}

impl CheckpointMeta {
    /// The model (the config's).
    pub fn model(&self) -> ModelKind {
        self.config.model
    }

    /// `(c, h, w)` of one input example (the config's).
    pub fn input(&self) -> [usize; 3] {
        self.config.input()
    }

    /// Epochs completed (1-based count; the history's): resume starts at this epoch index.
    pub fn epoch(&self) -> usize {
        self.history.epochs.len()
    }

    /// The device the last epoch trained on (the history's).
    pub fn device(&self) -> &str {
        &self.history.device
    }

    /// The model's classes by name, in label order: as recorded, else Fashion-MNIST's (every
    /// checkpoint written before the names were recorded was trained on Fashion-MNIST; this is
    /// the one place that fallback lives).
    pub fn class_names(&self) -> Vec<String> {
        self.class_names.clone().unwrap_or_else(|| crate::data::CLASS_NAMES.iter().map(|s| s.to_string()).collect())
    }

    /// The number of outputs of the model.
    pub fn num_classes(&self) -> usize {
        self.config.num_classes.unwrap_or_else(|| self.model().default_classes())
    }

    /// How this checkpoint's model sees an image at test time: its size, its resize mode, no
    /// augmentation.
    pub fn pipeline(&self) -> Pipeline {
        Pipeline { size: self.config.image_size, mode: self.config.resize, augment: Augment::default() }
    }

    /// A format-2 description of epoch `history.epochs.len()` of a run of `config` on data
    /// whose classes are `class_names` (the tensor file names follow from the epoch).
    pub fn new(config: TrainConfig, history: History, class_names: Vec<String>, with_optimizer: bool) -> Self {
        let (weights, optimizer) = epoch_files(history.epochs.len());
        Self {
            format: FORMAT,
            config,
            history,
            weights,
            optimizer: with_optimizer.then_some(optimizer),
            weights_sha256: None,
            optimizer_sha256: None,
            commit: Some(crate::sys::build::COMMIT.to_string()),
            weights_bytes: None,
            optimizer_bytes: None,
            lab_version: Some(env!("CARGO_PKG_VERSION").to_string()),
            class_names: Some(class_names),
        }
    }
}

fn save_tensors(tensors: &HashMap<String, Tensor>, path: &Path) -> Result<()> {
    let tmp = tmp_path(path);
    let written = candle_core::safetensors::save(tensors, &tmp)
        .map_err(|e| Error::data(format!("cannot write {}: {e}", tmp.display())))
        .and_then(|()| readable_by_all(&tmp))
        .and_then(|()| {
            std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(|e| Error::io(format!("cannot sync {}", tmp.display()), e))
        });
    if written.is_ok() {
        crate::sys::failpoint::hold_in_write(path);
    }
    commit_tmp(written, &tmp, path)
}

/// Saves weights, optimizer state and metadata into `dir` (see the module docs for why this
/// survives a kill at any point): the tensor files named in `meta` first, the JSON last, then
/// the files of earlier checkpoints go. A tensor file name that already exists (the same epoch
/// saved again, e.g. a new run into an old run folder) gets a suffix instead of being replaced,
/// so the committed checkpoint is never touched before the new one is.
pub fn save(dir: &Path, varmap: &VarMap, optimizer: &HashMap<String, Tensor>, meta: &CheckpointMeta) -> Result<()> {
    check_file_name(&meta.weights)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    let mut meta = meta.clone();
    meta.weights = unused_name(dir, &meta.weights);
    meta.optimizer = meta.optimizer.map(|o| unused_name(dir, &o));
    let tensors: HashMap<String, Tensor> = varmap
        .data()
        .lock()
        .map_err(|_| Error::LockPoisoned("parameter store"))?
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
        .collect();
    save_tensors(&tensors, &dir.join(&meta.weights))?;
    meta.weights_sha256 = Some(file_sha256(&dir.join(&meta.weights))?);
    meta.weights_bytes = Some(file_len(&dir.join(&meta.weights))?);
    match meta.optimizer.clone() {
        Some(name) => {
            check_file_name(&name)?;
            save_tensors(optimizer, &dir.join(&name))?;
            meta.optimizer_sha256 = Some(file_sha256(&dir.join(&name))?);
            meta.optimizer_bytes = Some(file_len(&dir.join(&name))?);
        }
        None if !optimizer.is_empty() => {
            return Err(Error::config("the checkpoint description names no optimizer file but there is optimizer state"))
        }
        None => {}
    }
    let json = serde_json::to_vec_pretty(&meta).map_err(|e| Error::data(e.to_string()))?;
    crate::sys::fs::write_atomic(&dir.join(META_FILE), &json)?;
    remove_stale(dir, &meta);
    Ok(())
}

/// `name`, or `name` with `.1`, `.2`, ... before its extension if a file of that name exists.
fn unused_name(dir: &Path, name: &str) -> String {
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    let mut candidate = name.to_string();
    let mut k = 0;
    while dir.join(&candidate).exists() {
        k += 1;
        candidate = format!("{stem}.{k}.{ext}");
    }
    candidate
}

/// A tensor file name from a checkpoint description must stay inside the run folder.
fn check_file_name(name: &str) -> Result<()> {
    let p = Path::new(name);
    if name.is_empty() || p.components().count() != 1 || p.file_name().is_none() {
        return Err(Error::data(format!("checkpoint file name `{name}` is not a plain file name inside the run folder")));
    }
    Ok(())
}

/// Removes tensor files of earlier checkpoints (and leftovers of interrupted writes); best
/// effort: a file that cannot be removed only costs disk space.
fn remove_stale(dir: &Path, meta: &CheckpointMeta) {
    let keep = [Some(meta.weights.as_str()), meta.optimizer.as_deref()];
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name.starts_with("weights-epoch-") || name.starts_with("optimizer-epoch-") || name == LEGACY_WEIGHTS_FILE
            || name == "optimizer.safetensors";
        if (ours && !keep.contains(&Some(name.as_str()))) || is_interrupted_write(&name) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether `name` is what a write killed half-way leaves in a run folder: the lab's own
/// `<file>.tmp` names, and the `.tmpXXXXXX` files through which safetensors writes a tensor file
/// (`tempfile::NamedTempFile` in the same folder, renamed when complete; 85-170 MB for AlexNet).
pub fn is_interrupted_write(name: &str) -> bool {
    let lab_tmp = name.strip_suffix(".tmp").is_some_and(|f| {
        f.starts_with("weights-epoch-") || f.starts_with("optimizer-epoch-") || f.starts_with("checkpoint.")
            || ["optimizer.safetensors", "metrics.csv", "curve.csv", "curve.svg"].contains(&f)
    });
    let tempfile = name.strip_prefix(".tmp").is_some_and(|rest| rest.len() == 6 && rest.chars().all(|c| c.is_ascii_alphanumeric()));
    lab_tmp || tempfile
}

/// Removes what writes killed half-way left in the run folder `dir` (see
/// [`is_interrupted_write`]) and, when it holds a committed checkpoint, the tensor files of
/// earlier epochs that a kill between the commit and `save`'s clean-up left; the caller holds
/// the folder's lock, so no write of ours is in flight. Best effort.
pub(crate) fn remove_interrupted_writes(dir: &Path) {
    // A run killed after its commit but before the clean-up of `save` also left the files of
    // the previous epoch: the committed checkpoint says which files are current.
    if let Ok((_, meta)) = read_meta(dir) {
        remove_stale(dir, &meta);
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if is_interrupted_write(&entry.file_name().to_string_lossy()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The largest `checkpoint.json` read (its per-step losses make it grow with the run: ~30 KB
/// for cpu-full).
pub(crate) const MAX_META_BYTES: u64 = 64 << 20;
/// The largest tensor file read (AlexNet's weights are 85-187 MB, the 2012 net's 244 MB).
pub const MAX_TENSOR_BYTES: u64 = 4 << 30;

fn file_len(path: &Path) -> Result<u64> {
    std::fs::metadata(path).map(|m| m.len()).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))
}

/// Reads the checkpoint JSON of `dir` (or of the folder holding a given `checkpoint.*` file).
pub fn read_meta(path: &Path) -> Result<(PathBuf, CheckpointMeta)> {
    let dir = if path.is_dir() { path.to_path_buf() } else { path.parent().unwrap_or(Path::new(".")).to_path_buf() };
    let meta_path = dir.join(META_FILE);
    if let Err(e) = std::fs::metadata(&meta_path) {
        return Err(Error::io(
            format!("no checkpoint in {} (expected {META_FILE} from `alexnet-lab train --out DIR`)", dir.display()),
            e,
        ));
    }
    let text = read_regular(&meta_path, MAX_META_BYTES, "a checkpoint description (JSON)")?;
    Ok((dir, parse_meta(&text, &meta_path.display().to_string())?))
}

/// Parses and checks a checkpoint description (`what` names it in errors).
pub(crate) fn parse_meta(json: &[u8], what: &str) -> Result<CheckpointMeta> {
    // The format first: a newer one may not parse as this version's description.
    #[derive(serde::Deserialize)]
    struct Header {
        format: u32,
        lab_version: Option<String>,
    }
    if let Ok(h) = serde_json::from_slice::<Header>(json) {
        if h.format > FORMAT {
            return Err(Error::data(format!(
                "{what} has checkpoint format {} (written by alexnet_lab {}), this alexnet_lab {} reads formats up to \
                 {FORMAT}: update alexnet_lab",
                h.format,
                h.lab_version.as_deref().unwrap_or("of an unrecorded version"),
                env!("CARGO_PKG_VERSION")
            )));
        }
    }
    let meta: CheckpointMeta = serde_json::from_slice(json)
        .map_err(|e| Error::data(format!("{what} is not a valid checkpoint description: {e}")))?;
    check_file_name(&meta.weights)?;
    if let Some(o) = &meta.optimizer {
        check_file_name(o)?;
    }
    if let Some(names) = &meta.class_names {
        if names.len() != meta.num_classes() {
            return Err(Error::data(format!(
                "{what} names {} classes for a model with {} outputs: the description was edited or damaged",
                names.len(),
                meta.num_classes()
            )));
        }
    }
    Ok(meta)
}

/// Checks bytes against the SHA-256 a checkpoint description recorded for them (if any).
fn check_sha256(bytes_sha: &str, expected: Option<&str>, what: &str) -> Result<()> {
    match expected {
        Some(e) if !e.eq_ignore_ascii_case(bytes_sha) => Err(Error::data(format!(
            "{what} does not match {META_FILE}: its SHA-256 is {bytes_sha}, the checkpoint recorded {e}; \
             the file was changed or damaged after the save (or belongs to another checkpoint)"
        ))),
        _ => Ok(()),
    }
}

/// Loads a tensor file a checkpoint names, checking it against the recorded SHA-256. With a
/// recorded hash the file is read once, hashed and parsed from the same bytes; without one it
/// is loaded as before.
fn load_checked(path: &Path, expected: Option<&str>, size: Option<u64>, device: &Device) -> Result<HashMap<String, Tensor>> {
    let what = match size {
        Some(n) => format!("the {n}-byte safetensors file its checkpoint.json records"),
        None => "a safetensors file of the checkpoint".to_string(),
    };
    let bytes = read_regular(path, size.unwrap_or(MAX_TENSOR_BYTES).min(MAX_TENSOR_BYTES), &what)?;
    tensors_from_checked_bytes(&bytes, expected, &path.display().to_string(), device)
}

/// Tensors from the bytes of a safetensors file, after checking them against the SHA-256 a
/// checkpoint recorded (if any); `what` names the file in errors.
fn tensors_from_checked_bytes(bytes: &[u8], expected: Option<&str>, what: &str, device: &Device) -> Result<HashMap<String, Tensor>> {
    use sha2::Digest;
    check_sha256(&format!("{:x}", sha2::Sha256::digest(bytes)), expected, what)?;
    candle_core::safetensors::load_buffer(bytes, device)
        .map_err(|e| Error::data(format!("{what} is not a loadable safetensors file: {e}")))
}

/// Loads tensors from a safetensors file (a regular file of at most [`MAX_TENSOR_BYTES`]) with
/// a clear error.
pub fn load_tensors(path: &Path, device: &Device) -> Result<HashMap<String, Tensor>> {
    load_checked(path, None, None, device)
}

/// Loads the optimizer state a checkpoint names (empty when it names none).
pub fn load_optimizer(dir: &Path, meta: &CheckpointMeta, device: &Device) -> Result<HashMap<String, Tensor>> {
    match (&meta.optimizer, meta.format) {
        (Some(name), _) => load_checked(&dir.join(name), meta.optimizer_sha256.as_deref(), meta.optimizer_bytes, device),
        // Format 1 kept the momentum buffers in a fixed file, when there were any.
        (None, 1) if dir.join("optimizer.safetensors").is_file() => load_tensors(&dir.join("optimizer.safetensors"), device),
        (None, _) => Ok(HashMap::new()),
    }
}

/// Loads the weights a checkpoint names into an existing `varmap`, checking every name and shape.
pub fn load_weights(dir: &Path, meta: &CheckpointMeta, varmap: &VarMap, device: &Device) -> Result<()> {
    let path = dir.join(&meta.weights);
    let tensors = load_checked(&path, meta.weights_sha256.as_deref(), meta.weights_bytes, device)?;
    let data = varmap.data().lock().map_err(|_| Error::LockPoisoned("parameter store"))?;
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
pub fn load_model(path: &Path, device: &Device) -> Result<(Net, VarMap, CheckpointMeta)> {
    let (dir, meta) = read_meta(path)?;
    load_model_with_meta(&dir, meta, device)
}

/// Rebuilds the model that `meta`, read earlier from the run folder `dir`, describes. A run
/// still training into that folder may have committed a newer checkpoint since, and removed the
/// files `meta` names: then the folder's current checkpoint is read and loaded instead (once),
/// so `eval` and `predict` on a folder being trained see one consistent checkpoint, the one
/// the returned description names.
pub fn load_model_with_meta(dir: &Path, meta: CheckpointMeta, device: &Device) -> Result<(Net, VarMap, CheckpointMeta)> {
    let load = |meta: CheckpointMeta| {
        let weights = dir.join(&meta.weights);
        let tensors = load_checked(&weights, meta.weights_sha256.as_deref(), meta.weights_bytes, device)?;
        let (net, varmap) = model_from_tensors(&meta, tensors, &weights.display().to_string(), device)?;
        Ok((net, varmap, meta))
    };
    let named = meta.weights.clone();
    match load(meta) {
        Err(Error::Io { io, .. }) if io.kind() == std::io::ErrorKind::NotFound => {
            let (_, now) = read_meta(dir)?;
            if now.weights == named {
                return Err(Error::data(format!("{} names {named}, which is missing from {}", META_FILE, dir.display())));
            }
            load(now)
        }
        other => other,
    }
}

/// [`load_model`] from the bytes of a `checkpoint.json` and of its weights file.
pub fn load_model_from_bytes(meta_json: &[u8], weights: &[u8], device: &Device) -> Result<(Net, VarMap, CheckpointMeta)> {
    let meta = parse_meta(meta_json, META_FILE)?;
    let tensors = tensors_from_checked_bytes(weights, meta.weights_sha256.as_deref(), &meta.weights, device)?;
    let (net, varmap) = model_from_tensors(&meta, tensors, &meta.weights, device)?;
    Ok((net, varmap, meta))
}

/// The model a checkpoint describes, with `tensors` as its parameters: every name and shape is
/// checked against the model before anything is allocated for it (`what` names the file).
fn model_from_tensors(
    meta: &CheckpointMeta,
    tensors: HashMap<String, Tensor>,
    what: &str,
    device: &Device,
) -> Result<(Net, VarMap)> {
    let config = meta.model().config_for(meta.input(), meta.config.num_classes)?;
    let specs = config.layer_specs()?;
    crate::nn::infer_shapes(&specs, &meta.input())?;
    let varmap = VarMap::new();
    {
        let mut data = varmap.data().lock().map_err(|_| Error::LockPoisoned("parameter store"))?;
        for (i, spec) in specs.iter().enumerate() {
            let Some((wshape, nbias)) = crate::nn::init::param_shapes(spec) else { continue };
            for (name, shape) in [(format!("{i}.weight"), wshape), (format!("{i}.bias"), vec![nbias])] {
                let t = tensors.get(&name).ok_or_else(|| {
                    Error::data(format!("{what} has no tensor `{name}`: it was saved from another model"))
                })?;
                if t.dims() != shape.as_slice() {
                    return Err(Error::data(format!(
                        "{what}: `{name}` has shape {:?}, {:?} with input {:?} expects {shape:?} (another model or input size?)",
                        t.dims(),
                        meta.model(),
                        meta.input()
                    )));
                }
                data.insert(name, candle_core::Var::from_tensor(&t.to_dtype(candle_core::DType::F32)?)?);
            }
        }
    }
    let vb = candle_nn::VarBuilder::from_varmap(&varmap, candle_core::DType::F32, device);
    Ok((Net::new(config, vb)?, varmap))
}

/// One line naming the run a checkpoint comes from, for outputs that depend on it:
/// `run x: profile cpu-full, AlexNet 80x80, 4 epochs over 60000 train images, test acc 0.893 on
/// all 10000 test images, commit 1a2b3c4d5e6f, saved 2026-12-01`.
pub fn run_label(path: &Path) -> Result<String> {
    let (dir, meta) = read_meta(path)?;
    let last = meta.history.epochs.last();
    let [_, h, w] = meta.input();
    let saved = std::fs::metadata(dir.join(META_FILE))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| crate::sys::fs::civil_date(d.as_secs()))
        .unwrap_or_else(|| "at an unknown date".into());
    Ok(format!(
        "run {}: profile {}, {} {}x{}, {} epoch{} over {} train images, test acc {} on {} test images, commit {}, saved {}",
        dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned()),
        meta.config.profile,
        meta.model().label(),
        h,
        w,
        meta.epoch(),
        if meta.epoch() == 1 { "" } else { "s" },
        last.map_or(0, |e| e.examples),
        last.map_or("-".into(), |e| format!("{:.3}", e.test_acc)),
        meta.config.test_limit.map_or("all 10000".into(), |n| n.to_string()),
        meta.commit.as_deref().unwrap_or("not recorded"),
        saved
    ))
}
