//! Writing checkpoints (weights in safetensors, everything else in a JSON file) and reading
//! them back to resume; reading one to run its network is `ferrosea_runtime::checkpoint`.
//!
//! A checkpoint of kind `latest` or `best` is `<kind>.json` naming its weight file
//! `<kind>-<step>.safetensors` (and, for `latest`, `<kind>-<step>.optimizer.safetensors`).
//! New files are written under temporary names and renamed when complete, the JSON last;
//! only then are the previous step's files removed. An interrupted write therefore always
//! leaves the previous checkpoint whole.

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::Tensor;
use ferrosea_dataset::{write_atomically, TempFile};
use ferrosea_models::ModelConfig;
pub use ferrosea_runtime::checkpoint::{
    check_same_parameters, first_non_finite, load_tensors, non_finite_in, resolve, CheckpointError,
    CHECKPOINT_FORMAT,
};
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::schedule::Scheduler;

/// One epoch's line of `metrics.tsv`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Optimizer steps taken by its end.
    pub step: u64,
    /// Learning rate used.
    pub lr: f64,
    /// Mean training loss (binary cross-entropy, without penalties).
    pub train_loss: f64,
    /// Mean validation loss.
    pub valid_loss: f64,
    /// Mean validation ROC AUC over the targets that have both classes.
    pub valid_mean_roc_auc: Option<f64>,
    /// Number of targets in that mean.
    pub valid_targets_scored: usize,
    /// Training samples per second.
    pub samples_per_s: f64,
}

/// Where a run stands: everything `--resume` needs besides the tensors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// Epochs completed.
    pub epoch: usize,
    /// Samples of the current epoch already trained on.
    pub position: usize,
    /// Optimizer steps taken.
    pub step: u64,
    /// Sum of per-sample training losses in the current epoch so far.
    pub epoch_loss_sum: f64,
    /// The learning-rate schedule.
    pub scheduler: Scheduler,
    /// Lowest validation loss so far and its epoch.
    pub best: Option<(f64, usize)>,
    /// Epochs since that best.
    pub since_best: usize,
    /// One line per completed epoch.
    pub history: Vec<EpochMetrics>,
}

/// The JSON half of a checkpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// Always [`CHECKPOINT_FORMAT`].
    pub format: String,
    /// Layout version (1).
    pub format_version: u32,
    /// The recipe, whose `model` builds the network.
    pub config: TrainConfig,
    /// Window length the model was built for.
    pub window: usize,
    /// Target names, in output order.
    pub targets: Vec<String>,
    /// The run's seed. All randomness (initial weights, shuffling, dropout, reverse
    /// complements) comes from ChaCha8 streams keyed by this seed and the position in the
    /// run, so the seed and `state` are the whole generator state.
    pub seed: u64,
    /// Progress, schedule, early stopping and history.
    pub state: RunState,
    /// Steps the optimizer has taken (its state tensors are in `optimizer_file`).
    pub optimizer_steps: u64,
    /// The training file and its row count (for the data position).
    pub train_file: String,
    /// Rows in the training file.
    pub train_rows: usize,
    /// Weight file, relative to this JSON.
    pub weights_file: String,
    /// Optimizer state file, relative to this JSON.
    pub optimizer_file: Option<String>,
    /// What the run was started with, beyond the recipe (absent in checkpoints written
    /// before it was recorded; such runs are resumed without these checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<RunStart>,
    /// The training data's symbols, when not one-hot A, C, G, T.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alphabet: Option<ferrosea_runtime::checkpoint::AlphabetRecord>,
}

/// Settings a run records when it starts, so that `--resume` can refuse to continue it
/// with others (the recipe itself is in [`CheckpointMeta::config`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunStart {
    /// `--steps-per-epoch` (`None`: whole epochs).
    pub steps_per_epoch: Option<usize>,
    /// The training file, as an absolute path.
    pub train_path: String,
    /// Its size in bytes.
    pub train_bytes: u64,
}

impl RunState {
    /// A run that has not started: epoch 0, the schedule at the recipe's learning rate.
    pub fn new(config: &TrainConfig) -> RunState {
        RunState {
            epoch: 0,
            position: 0,
            step: 0,
            epoch_loss_sum: 0.0,
            scheduler: Scheduler::new(config.schedule.clone(), config.optimizer.lr()),
            best: None,
            since_best: 0,
            history: Vec::new(),
        }
    }
}

impl CheckpointMeta {
    /// The record of a network of `config` for `window`-long inputs and `targets`, before
    /// any training (no training file, no weights written yet), as an import or a new run
    /// starts it; a run fills in its training file and start.
    pub fn new(config: &TrainConfig, window: usize, targets: Vec<String>, seed: u64) -> Self {
        CheckpointMeta {
            format: CHECKPOINT_FORMAT.into(),
            format_version: 1,
            config: config.clone(),
            window,
            targets,
            seed,
            state: RunState::new(config),
            optimizer_steps: 0,
            train_file: String::new(),
            train_rows: 0,
            weights_file: String::new(),
            optimizer_file: None,
            start: None,
            alphabet: None,
        }
    }

    /// The model's configuration.
    pub fn model(&self) -> &ModelConfig {
        &self.config.model
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `tensors` to `path` as safetensors, under its temporary name until complete.
pub(crate) fn save_tensors(
    tensors: &BTreeMap<String, Tensor>,
    path: &Path,
) -> Result<(), CheckpointError> {
    let tmp = TempFile::new(path);
    let map: std::collections::HashMap<String, Tensor> = tensors
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    candle_core::safetensors::save(&map, tmp.path()).map_err(|e| CheckpointError::Invalid {
        path: tmp.path().to_path_buf(),
        message: format!("writing safetensors: {e}"),
    })?;
    tmp.commit().map_err(io(path))?;
    Ok(())
}

/// Writes checkpoint `kind` into `dir`: the weights, optionally the optimizer state, then
/// the JSON; removes the files of the checkpoint it replaces.
pub fn save(
    dir: &Path,
    kind: &str,
    meta: &mut CheckpointMeta,
    weights: &BTreeMap<String, Tensor>,
    optimizer: Option<&BTreeMap<String, Tensor>>,
) -> Result<(), CheckpointError> {
    let json = dir.join(format!("{kind}.json"));
    for (what, tensors) in
        std::iter::once(("weights", weights)).chain(optimizer.map(|o| ("optimizer state", o)))
    {
        if let Some((name, i, v)) =
            first_non_finite(tensors).map_err(|e| CheckpointError::Invalid {
                path: json.clone(),
                message: format!("checking the {what}: {e}"),
            })?
        {
            return Err(CheckpointError::Invalid {
                path: json.clone(),
                message: format!(
                    "not written: {what} tensor {name} holds {v} at index {i}; a checkpoint keeps only finite values"
                ),
            });
        }
    }
    let previous = read_meta(&json).ok();
    let stem = format!("{kind}-{:09}", meta.state.step);
    meta.weights_file = format!("{stem}.safetensors");
    save_tensors(weights, &dir.join(&meta.weights_file))?;
    meta.optimizer_file = match optimizer {
        Some(o) => {
            let name = format!("{stem}.optimizer.safetensors");
            save_tensors(o, &dir.join(&name))?;
            Some(name)
        }
        None => None,
    };
    let text = serde_json::to_string_pretty(meta).expect("checkpoint metadata serialises");
    write_atomically(&json, (text + "\n").as_bytes()).map_err(io(&json))?;
    if let Some(old) = previous {
        for f in std::iter::once(old.weights_file).chain(old.optimizer_file) {
            if Some(&f) != Some(&meta.weights_file) && Some(&f) != meta.optimizer_file.as_ref() {
                let _ = std::fs::remove_file(dir.join(f));
            }
        }
    }
    remove_unreferenced(dir);
    Ok(())
}

/// Whether `name` is a file a checkpoint of kind `best` or `latest` writes (a weight or
/// optimizer file, or the temporary name of one or of a checkpoint JSON).
fn is_checkpoint_file(name: &str) -> bool {
    let name = name.strip_suffix(".tmp").unwrap_or(name);
    ["best", "latest"].iter().any(|kind| {
        name == format!("{kind}.json")
            || name
                .strip_prefix(kind)
                .and_then(|r| r.strip_prefix('-'))
                .is_some_and(|r| r.ends_with(".safetensors"))
    })
}

/// Removes every `best-*` / `latest-*` file in `dir` that `best.json` and `latest.json` do
/// not name, and temporary files of checkpoints and `metrics.tsv` (left by a run killed
/// while writing). A kind whose JSON exists but cannot be read keeps all its files.
/// Returns the names removed.
pub fn remove_unreferenced(dir: &Path) -> Vec<String> {
    let mut keep = std::collections::BTreeSet::new();
    let mut unreadable = Vec::new();
    for kind in ["best", "latest"] {
        let json = dir.join(format!("{kind}.json"));
        keep.insert(format!("{kind}.json"));
        match read_meta(&json) {
            Ok(meta) => {
                keep.insert(meta.weights_file);
                keep.extend(meta.optimizer_file);
            }
            Err(_) if json.exists() => unreadable.push(kind),
            Err(_) => {}
        }
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let stale = if name == "metrics.tsv.tmp" {
            true
        } else if is_checkpoint_file(&name) {
            (name.ends_with(".tmp") || !keep.contains(&name))
                && !unreadable.iter().any(|k| name.starts_with(k))
        } else {
            false
        };
        if stale
            && entry.file_type().is_ok_and(|t| t.is_file())
            && std::fs::remove_file(entry.path()).is_ok()
        {
            removed.push(name);
        }
    }
    removed.sort();
    removed
}

/// Reads a checkpoint's JSON.
pub fn read_meta(json: &Path) -> Result<CheckpointMeta, CheckpointError> {
    let text = std::fs::read_to_string(json).map_err(io(json))?;
    let meta: CheckpointMeta =
        serde_json::from_str(&text).map_err(|e| CheckpointError::Invalid {
            path: json.to_path_buf(),
            message: format!("not a ferrosea checkpoint: {e}"),
        })?;
    ferrosea_runtime::checkpoint::check_format(json, &meta.format, meta.format_version)?;
    Ok(meta)
}
