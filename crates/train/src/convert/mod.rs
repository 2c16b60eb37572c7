//! Published models in, ferrosea's models out: `ferrosea-train import` and `export`.
//!
//! - [`export`]: a checkpoint as a PyTorch module (`model.py` + `model.safetensors` with
//!   PyTorch's key names, `pytorch.rs`) or an ONNX graph (`onnx.rs`).
//! - [`import`]: published weights (Kipoi's DeepSEA, Beluga, Selene's DeepSEA and DanQ,
//!   DanQ's Keras file, and our own PyTorch export) as a normal ferrosea checkpoint
//!   directory, so that evaluate, interpret and analyze run on them unchanged.

mod import;
mod onnx;
pub mod pth;
mod pytorch;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use ferrosea_models::spec::{self, Layers};
use ferrosea_runtime::checkpoint::{self, ModelCheckpoint};

use crate::TrainError;

pub use import::{import, ImportFormat, ImportOptions, ImportReport, DEEPSEA_NAMES};
pub use pytorch::{pytorch_state_dict, PYTORCH_TEMPLATE};

/// The format [`export`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// `model.py` (an nn.Module) and `model.safetensors` (its state dict).
    Pytorch,
    /// `model.onnx`.
    Onnx,
}

/// A checkpoint's network as the exporters need it: the layers, all named, and its
/// weights.
pub struct Exported {
    /// The checkpoint's description.
    pub meta: ModelCheckpoint,
    /// The layers, every one named as its parameters are keyed.
    pub layers: Layers,
    /// The weights, by ferrosea's keys.
    pub tensors: BTreeMap<String, Tensor>,
    /// The channels per position.
    pub channels: usize,
}

impl Exported {
    /// Reads the checkpoint at `path` (a checkpoint JSON or a run directory).
    pub fn read(path: &Path) -> Result<(Exported, PathBuf), TrainError> {
        let json = checkpoint::resolve(path)?;
        let meta = checkpoint::read_model(&json)?;
        let tensors = checkpoint::load_tensors(&json, &meta.weights_file, &Device::Cpu)?;
        let (layers, _) = meta
            .model
            .layers()
            .map_err(|e| TrainError::Data(format!("{}: {e}", json.display())))?;
        let channels = meta.alphabet.channels();
        Ok((
            Exported {
                layers: spec::named(&layers),
                meta,
                tensors,
                channels,
            },
            json,
        ))
    }

    /// The description `model.py` and `config.json` carry: window, channels, alphabet,
    /// targets, loss, output activation and the named layers.
    pub fn spec_json(&self) -> serde_json::Value {
        serde_json::json!({
            "window": self.meta.window,
            "channels": self.channels,
            "alphabet": self.meta.alphabet.symbols(),
            "targets": self.meta.targets,
            "loss": self.meta.loss.name(),
            "output_activation": self.meta.model.output_activation(),
            "layers": self.layers,
        })
    }
}

/// What to export and where.
#[derive(Clone, Debug)]
pub struct ExportOptions {
    /// A checkpoint JSON or a run directory.
    pub checkpoint: PathBuf,
    /// The format.
    pub to: ExportFormat,
    /// The output directory.
    pub out: PathBuf,
}

/// Writes the checkpoint in the chosen format; returns the files written.
pub fn export(opts: &ExportOptions) -> Result<Vec<PathBuf>, TrainError> {
    let (model, json) = Exported::read(&opts.checkpoint)?;
    let files: Vec<PathBuf> = match opts.to {
        ExportFormat::Pytorch => ["model.py", "model.safetensors", "config.json"]
            .iter()
            .map(|f| opts.out.join(f))
            .collect(),
        ExportFormat::Onnx => vec![opts.out.join("model.onnx")],
    };
    for f in &files {
        ferrosea_dataset::ensure_not_input(f, &[("--checkpoint", &json)])?;
    }
    std::fs::create_dir_all(&opts.out).map_err(|e| TrainError::Io(opts.out.clone(), e))?;
    match opts.to {
        ExportFormat::Pytorch => pytorch::write(&model, &opts.out)?,
        ExportFormat::Onnx => onnx::write(&model, &opts.out)?,
    }
    Ok(files)
}

/// Writes `contents` to `path` atomically.
pub(crate) fn write_file(path: &Path, contents: &[u8]) -> Result<(), TrainError> {
    ferrosea_dataset::write_atomically(path, contents)
        .map_err(|e| TrainError::Io(path.to_path_buf(), e))
}

/// Writes `tensors` to `path` as safetensors, atomically (as a checkpoint's weights are).
pub(crate) fn write_safetensors(
    path: &Path,
    tensors: &BTreeMap<String, Tensor>,
) -> Result<(), TrainError> {
    Ok(crate::checkpoint::save_tensors(tensors, path)?)
}
