//! Reading a checkpoint to run its network: find it (a file or a run directory), read the
//! model, window and targets from its JSON, load and check its weights. Writing checkpoints
//! and resuming runs is `ferrosea_train::checkpoint`; docs/FORMAT.md describes the files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use ferrosea_models::{ModelConfig, Network, ParamStore};
use serde::Deserialize;

use crate::RuntimeError;

/// Value of the `format` field.
pub const CHECKPOINT_FORMAT: &str = "ferrosea-checkpoint";

/// Errors reading or writing checkpoints.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// File-system error.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Not a checkpoint or damaged.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What running a checkpoint's network needs from its JSON (the recipe's other settings and
/// the run's state are for resuming, and left unread).
#[derive(Clone, Debug)]
pub struct ModelCheckpoint {
    /// The network.
    pub model: ModelConfig,
    /// Window length the model was built for.
    pub window: usize,
    /// Target names, in output order.
    pub targets: Vec<String>,
    /// The run's seed.
    pub seed: u64,
    /// Optimizer steps the weights have seen.
    pub step: u64,
    /// Weight file, relative to the JSON.
    pub weights_file: String,
    /// What the outputs were trained against (their meaning: probabilities or values).
    pub loss: crate::loss::Loss,
    /// The input's symbols (one-hot A, C, G, T unless the checkpoint says otherwise).
    pub alphabet: ferrosea_dataset::Alphabet,
}

/// A checkpoint's `alphabet` field: the symbols of the training data and their encoding
/// (absent for one-hot A, C, G, T).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct AlphabetRecord {
    /// The symbols, in channel or value order.
    pub symbols: String,
    /// `one-hot` or `index`.
    pub encoding: String,
}

impl AlphabetRecord {
    /// The record of `a`; `None` for one-hot A, C, G, T.
    pub fn of(a: &ferrosea_dataset::Alphabet) -> Option<AlphabetRecord> {
        (!a.is_dna()).then(|| AlphabetRecord {
            symbols: a.symbols().into(),
            encoding: a.encoding().name().into(),
        })
    }

    /// The alphabet it records.
    pub fn alphabet(&self) -> Result<ferrosea_dataset::Alphabet, String> {
        let enc = ferrosea_dataset::Encoding::parse(&self.encoding).ok_or_else(|| {
            format!(
                "alphabet encoding '{}': expected one-hot or index",
                self.encoding
            )
        })?;
        ferrosea_dataset::Alphabet::new(&self.symbols, enc)
    }
}

impl ModelCheckpoint {
    /// The model's configuration.
    pub fn model(&self) -> &ModelConfig {
        &self.model
    }
}

#[derive(Deserialize)]
struct Raw {
    format: String,
    format_version: u32,
    config: RawRecipe,
    window: usize,
    targets: Vec<String>,
    seed: u64,
    state: RawState,
    weights_file: String,
    #[serde(default)]
    alphabet: Option<AlphabetRecord>,
}

#[derive(Deserialize)]
struct RawRecipe {
    model: ModelConfig,
    #[serde(default)]
    loss: crate::loss::Loss,
}

#[derive(Deserialize)]
struct RawState {
    step: u64,
}

/// Reads the model half of a checkpoint's JSON.
pub fn read_model(json: &Path) -> Result<ModelCheckpoint, CheckpointError> {
    let text = std::fs::read_to_string(json).map_err(io(json))?;
    let raw: Raw = serde_json::from_str(&text).map_err(|e| CheckpointError::Invalid {
        path: json.to_path_buf(),
        message: format!("not a ferrosea checkpoint: {e}"),
    })?;
    check_format(json, &raw.format, raw.format_version)?;
    Ok(ModelCheckpoint {
        model: raw.config.model,
        window: raw.window,
        targets: raw.targets,
        seed: raw.seed,
        step: raw.state.step,
        weights_file: raw.weights_file,
        loss: raw.config.loss,
        alphabet: match &raw.alphabet {
            None => ferrosea_dataset::Alphabet::dna(),
            Some(a) => a.alphabet().map_err(|message| CheckpointError::Invalid {
                path: json.to_path_buf(),
                message,
            })?,
        },
    })
}

/// Refuses a JSON of another format or version.
pub fn check_format(json: &Path, format: &str, version: u32) -> Result<(), CheckpointError> {
    if format != CHECKPOINT_FORMAT || version != 1 {
        return Err(CheckpointError::Invalid {
            path: json.to_path_buf(),
            message: format!(
                "format {format} version {version}, expected {CHECKPOINT_FORMAT} version 1"
            ),
        });
    }
    Ok(())
}

/// Builds the network a checkpoint describes on `device` and loads its weights (and
/// buffers) as constants, for inference and input gradients; weights that do not fit the model are an error naming the missing and the
/// unexpected keys.
pub fn load_network(
    json: &Path,
    device: &Device,
) -> Result<(Network, ModelCheckpoint), RuntimeError> {
    let meta = read_model(json)?;
    let weights = load_tensors(json, &meta.weights_file, device)?;
    // Inference only: the weights are constants, so a backward pass (attributions) computes
    // the input's gradient and not every weight's.
    let store = ParamStore::new(meta.seed).frozen();
    let net = Network::with_channels(
        meta.model(),
        meta.alphabet.channels(),
        meta.window,
        meta.targets.len(),
        &store.builder(device),
    )?;
    check_same_parameters(
        json,
        &weights,
        &store.tensors(),
        &format!("the {} model", meta.model().arch()),
    )?;
    for (name, t) in &weights {
        store.set(name, t)?;
    }
    Ok((net, meta))
}

/// The first non-finite value of any floating-point tensor: its name, flat index and value.
pub fn first_non_finite(
    tensors: &BTreeMap<String, Tensor>,
) -> candle_core::Result<Option<(String, usize, f64)>> {
    for (name, t) in tensors {
        if let Some((i, v)) = non_finite_in(t)? {
            return Ok(Some((name.clone(), i, v)));
        }
    }
    Ok(None)
}

/// The first non-finite value of one tensor (integer tensors have none).
pub fn non_finite_in(t: &Tensor) -> candle_core::Result<Option<(usize, f64)>> {
    let flat = t.flatten_all()?;
    let found = match t.dtype() {
        DType::F64 => {
            let v = flat.to_vec1::<f64>()?;
            v.iter().position(|x| !x.is_finite()).map(|i| (i, v[i]))
        }
        DType::F32 | DType::F16 | DType::BF16 => {
            let v = flat.to_dtype(DType::F32)?.to_vec1::<f32>()?;
            v.iter()
                .position(|x| !x.is_finite())
                .map(|i| (i, f64::from(v[i])))
        }
        _ => None,
    };
    Ok(found)
}

/// Loads a safetensors file named by a checkpoint JSON.
pub fn load_tensors(
    json: &Path,
    file: &str,
    device: &Device,
) -> Result<BTreeMap<String, Tensor>, CheckpointError> {
    let path = json.parent().unwrap_or(Path::new(".")).join(file);
    let map =
        candle_core::safetensors::load(&path, device).map_err(|e| CheckpointError::Invalid {
            path: path.clone(),
            message: format!("reading safetensors: {e}"),
        })?;
    let map: BTreeMap<String, Tensor> = map.into_iter().collect();
    let bad = first_non_finite(&map).map_err(|e| CheckpointError::Invalid {
        path: path.clone(),
        message: format!("checking its values: {e}"),
    })?;
    if let Some((name, i, v)) = bad {
        return Err(CheckpointError::Invalid {
            path,
            message: format!(
                "tensor {name} holds {v} at index {i}: a checkpoint must hold finite values \
                 (the file is damaged, or was written by a run that diverged)"
            ),
        });
    }
    Ok(map)
}

/// Checks that `tensors` are exactly the parameters of `expected` (names and shapes);
/// the message names both sides.
pub fn check_same_parameters(
    origin: &Path,
    tensors: &BTreeMap<String, Tensor>,
    expected: &BTreeMap<String, Tensor>,
    expected_what: &str,
) -> Result<(), CheckpointError> {
    let mut problems = Vec::new();
    for (k, v) in expected {
        match tensors.get(k) {
            None => problems.push(format!("{k} missing")),
            Some(t) if t.dims() != v.dims() => problems.push(format!(
                "{k} is {:?} in the checkpoint, {:?} in {expected_what}",
                t.dims(),
                v.dims()
            )),
            _ => {}
        }
    }
    for k in tensors.keys().filter(|k| !expected.contains_key(*k)) {
        problems.push(format!("{k} unknown to {expected_what}"));
    }
    if problems.is_empty() {
        return Ok(());
    }
    let shown = problems
        .iter()
        .take(6)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    let more = if problems.len() > 6 {
        format!(" (and {} more)", problems.len() - 6)
    } else {
        String::new()
    };
    Err(CheckpointError::Invalid {
        path: origin.to_path_buf(),
        message: format!("its weights do not fit {expected_what}: {shown}{more}"),
    })
}

/// The checkpoint JSON a user means: the file itself, or in a run directory its `best.json`
/// (else `latest.json`).
pub fn resolve(path: &Path) -> Result<PathBuf, CheckpointError> {
    if path.is_dir() {
        for kind in ["best", "latest"] {
            let json = path.join(format!("{kind}.json"));
            if json.is_file() {
                return Ok(json);
            }
        }
        return Err(CheckpointError::Invalid {
            path: path.to_path_buf(),
            message: "a directory without best.json or latest.json: not a ferrosea-train run"
                .into(),
        });
    }
    if !path.exists() {
        return Err(CheckpointError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        });
    }
    Ok(path.to_path_buf())
}
