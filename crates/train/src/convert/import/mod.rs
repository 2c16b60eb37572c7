//! `ferrosea-train import`: published weights as a ferrosea checkpoint directory.
//!
//! Each format's layers are written out as a layer list (`"arch": "layers"`) whose sizes come
//! from the weights (so that the published models and smaller ones of the same structure both
//! import), the tensors renamed to ours and converted once:
//!
//! | `--from` | file | what changes |
//! |---|---|---|
//! | `kipoi-deepsea` | Kipoi's `deepsea_variant_effects.pth` / `deepsea_predict.pth` (`1.*` / `2.*` keys) | Conv2d (1 x k) kernels become 1-D; the first convolution's input channels go from A,G,C,T to A,C,G,T; `Threshold(0, 1e-6)` stays itself (the `threshold` activation) |
//! | `beluga` | Kipoi's `deepsea.beluga.pth` (`model.*`) | as Kipoi's DeepSEA, ReLU; 2000 bp |
//! | `selene-deepsea` | a Selene checkpoint (`best_model.pth.tar`: `state_dict`, keys `conv_net.*`, `classifier.*`, maybe under `model.` or `module.`) | none |
//! | `selene-danq` | a Selene checkpoint of its DanQ (`nnet.*`, `bdlstm.0.*`, `classifier.*`) | an LSTM's two biases summed |
//! | `keras-danq` | DanQ's Keras 0.2 `DanQ_bestmodel.hdf5` (`layer_0`..`layer_9`, `param_k`) | the kernel flipped (Theano convolves) and A,G,C,T to A,C,G,T; the LSTM's 12 parameters per direction (i, c, f, o) to ours (i, f, c, o), transposed; Keras 0.2's dropout at prediction (x 0.8 before the LSTM, x 0.5 before the dense layer) folded into the next weights; hard-sigmoid gates |
//! | `pytorch` | ferrosea's own export (`model.safetensors` + `config.json`) | the LSTM's two biases summed |
//!
//! Every expected tensor is looked up by name and shape; a file of another architecture is
//! an error naming the first key or shape that does not fit and what was expected.
//!
//! This file holds the options, the weight lookup and the checkpoint writing; `torch.rs` the
//! PyTorch formats (Kipoi, Beluga, Selene), `keras.rs` DanQ's Keras file, `own.rs` our own
//! export read back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use ferrosea_models::spec::Layers;
use ferrosea_models::{LayersConfig, ModelConfig};
use serde_json::json;

use crate::checkpoint::CheckpointMeta;
use crate::config::TrainConfig;
use crate::TrainError;

use keras::keras_danq;
use own::own_export;
use torch::{beluga, kipoi_deepsea, selene_danq, selene_deepsea};

mod keras;
mod own;
mod torch;

/// DeepSEA's 919 target names, in output order (data/deepsea; MIT / CC-BY 3.0): the default
/// targets of a model with 919 outputs.
pub const DEEPSEA_NAMES: &str =
    include_str!("../../../../../data/deepsea/deepsea_919_predictor.names.txt");

/// Where the weights come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    /// Kipoi's PyTorch DeepSEA (variantEffects or predict).
    KipoiDeepsea,
    /// Kipoi's PyTorch Beluga.
    Beluga,
    /// A Selene checkpoint of its DeepSEA.
    SeleneDeepsea,
    /// A Selene checkpoint of its DanQ.
    SeleneDanq,
    /// DanQ's Keras 0.2 weight file.
    KerasDanq,
    /// ferrosea's own PyTorch export (a directory or its model.safetensors).
    Pytorch,
}

impl ImportFormat {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ImportFormat::KipoiDeepsea => "kipoi-deepsea",
            ImportFormat::Beluga => "beluga",
            ImportFormat::SeleneDeepsea => "selene-deepsea",
            ImportFormat::SeleneDanq => "selene-danq",
            ImportFormat::KerasDanq => "keras-danq",
            ImportFormat::Pytorch => "pytorch",
        }
    }

    /// The window of the published model.
    fn default_window(self) -> usize {
        match self {
            ImportFormat::Beluga => 2000,
            _ => 1000,
        }
    }
}

/// What to import.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// The format.
    pub from: ImportFormat,
    /// The weight file (or, for `pytorch`, the export's directory).
    pub weights: PathBuf,
    /// The checkpoint directory to write.
    pub out: PathBuf,
    /// Target names, one per line [default: DeepSEA's 919 for a model with 919 outputs].
    pub targets: Option<PathBuf>,
    /// The window the model reads [default: the published model's].
    pub window: Option<usize>,
    /// Recorded in `import.json`.
    pub command_line: String,
}

/// What `import` wrote.
#[derive(Clone, Debug)]
pub struct ImportReport {
    /// The checkpoint JSON.
    pub checkpoint: PathBuf,
    /// The window.
    pub window: usize,
    /// The number of targets.
    pub targets: usize,
    /// Parameters imported.
    pub parameters: usize,
}

/// The tensors of a weight file, by their (prefix-stripped) keys, looked up by name and shape.
struct Weights {
    file: PathBuf,
    what: &'static str,
    tensors: BTreeMap<String, Tensor>,
}

impl Weights {
    /// The tensor `key`, of `rank` dimensions; `None` in `expect` for a free dimension.
    fn get(&self, key: &str, expect: &[Option<usize>]) -> Result<Tensor, TrainError> {
        let t = self.tensors.get(key).ok_or_else(|| {
            let have: Vec<&str> = self.tensors.keys().take(6).map(String::as_str).collect();
            TrainError::Data(format!(
                "{}: no tensor {key}, which {} has (the file holds {} tensors: {}{}); is it \
                 another architecture?",
                self.file.display(),
                self.what,
                self.tensors.len(),
                have.join(", "),
                if self.tensors.len() > 6 { ", ..." } else { "" }
            ))
        })?;
        let dims = t.dims();
        let fits = dims.len() == expect.len()
            && dims
                .iter()
                .zip(expect)
                .all(|(d, e)| e.is_none_or(|e| e == *d));
        if !fits {
            let want: Vec<String> = expect
                .iter()
                .map(|e| e.map_or("*".into(), |v| v.to_string()))
                .collect();
            return Err(TrainError::Data(format!(
                "{}: tensor {key} is {dims:?}, but {} has [{}] there",
                self.file.display(),
                self.what,
                want.join(", ")
            )));
        }
        Ok(t.to_dtype(DType::F32)?)
    }

    /// Drops a prefix every key has (e.g. Kipoi's `1.`, Selene's `model.`).
    fn strip(&mut self, prefixes: &[&str]) {
        for p in prefixes {
            if !self.tensors.is_empty() && self.tensors.keys().all(|k| k.starts_with(p)) {
                self.tensors = std::mem::take(&mut self.tensors)
                    .into_iter()
                    .map(|(k, v)| (k[p.len()..].to_string(), v))
                    .collect();
            }
        }
    }
}

/// A (1 x k) Conv2d kernel `[out, in, 1, k]` as a 1-D one; with `agct`, its input channels
/// from A,G,C,T to A,C,G,T.
fn conv2d_to_1d(w: &Tensor, agct: bool) -> Result<Tensor, TrainError> {
    let w = w.squeeze(2)?;
    Ok(if agct { acgt_channels(&w)? } else { w })
}

/// Input channels (dimension 1) from A,G,C,T to A,C,G,T (the same swap both ways).
fn acgt_channels(w: &Tensor) -> Result<Tensor, TrainError> {
    let idx = Tensor::new(&[0u32, 2, 1, 3], w.device())?;
    Ok(w.index_select(&idx, 1)?.contiguous()?)
}

/// The positions a stack of valid convolutions of `width` and pools leaves: `ops` lists
/// `Some(width)` for a convolution and `None` for a pool of `pool`.
fn positions(window: usize, ops: &[Option<usize>], pool: usize) -> Option<usize> {
    let mut l = window;
    for op in ops {
        l = match op {
            Some(k) => l.checked_sub(k - 1)?,
            None => l / pool,
        };
    }
    (l > 0).then_some(l)
}

/// The flatten's width must be what the window leaves: else say which window fits.
fn check_window(
    w: &Weights,
    key: &str,
    (flat, per): (usize, usize),
    window: usize,
    leaves: impl Fn(usize) -> Option<usize>,
) -> Result<(), TrainError> {
    let got = leaves(window).map(|l| l * per);
    if got == Some(flat) {
        return Ok(());
    }
    let fits: Vec<usize> = (1..=20_000)
        .filter(|&l| leaves(l).map(|v| v * per) == Some(flat))
        .collect();
    Err(TrainError::Data(format!(
        "{}: {key} takes {flat} inputs, but a window of {window} bp leaves {} ({per} per \
         position){}",
        w.file.display(),
        got.map_or("no positions".into(), |g| g.to_string()),
        match (fits.first(), fits.last()) {
            (Some(a), Some(b)) => format!("; windows of {a} to {b} bp fit: give --window"),
            _ => String::new(),
        }
    )))
}

/// A model: its layers (JSON, as a recipe writes them), the output activation, and its
/// weights by our keys.
struct Model {
    layers: serde_json::Value,
    tensors: BTreeMap<String, Tensor>,
    outputs: usize,
    window: usize,
    notes: Vec<String>,
}

fn read_weights(
    opts: &ImportOptions,
    what: &'static str,
    key: Option<&str>,
) -> Result<Weights, TrainError> {
    // A Selene checkpoint keeps the state dict under `state_dict`; a plain one is the dict.
    let list = match key {
        Some(k) => super::pth::read_pth(&opts.weights, Some(k))
            .or_else(|_| super::pth::read_pth(&opts.weights, None))?,
        None => super::pth::read_pth(&opts.weights, None)?,
    };
    Ok(Weights {
        file: opts.weights.clone(),
        what,
        tensors: list.into_iter().collect(),
    })
}

/// Target names: from the file given, or DeepSEA's for 919 outputs.
fn target_names(opts: &ImportOptions, outputs: usize) -> Result<Vec<String>, TrainError> {
    let names: Vec<String> = match &opts.targets {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| TrainError::Io(p.clone(), e))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect(),
        None if outputs == 919 => DEEPSEA_NAMES.lines().map(String::from).collect(),
        None => {
            return Err(TrainError::Data(format!(
                "{}: the model has {outputs} outputs; name them with --targets FILE (one \
                 name per line, in output order)",
                opts.weights.display()
            )))
        }
    };
    if names.len() != outputs {
        return Err(TrainError::Data(format!(
            "{}: {} target names, but the model has {outputs} outputs",
            opts.targets
                .as_ref()
                .map_or("DeepSEA's names".into(), |p| p.display().to_string()),
            names.len()
        )));
    }
    Ok(names)
}

/// Imports the weights and writes `OUT/best.json`, its weight file and `OUT/import.json`.
pub fn import(opts: &ImportOptions) -> Result<ImportReport, TrainError> {
    let mut inputs: Vec<(&str, &Path)> = vec![("the weights", &opts.weights)];
    if let Some(t) = &opts.targets {
        inputs.push(("--targets", t));
    }
    let best = opts.out.join("best.json");
    ferrosea_dataset::ensure_not_input(&best, &inputs)?;
    let (model, exported) = match opts.from {
        ImportFormat::KipoiDeepsea => (kipoi_deepsea(opts)?, None),
        ImportFormat::Beluga => (beluga(opts)?, None),
        ImportFormat::SeleneDeepsea => (selene_deepsea(opts)?, None),
        ImportFormat::SeleneDanq => (selene_danq(opts)?, None),
        ImportFormat::KerasDanq => (keras_danq(opts)?, None),
        ImportFormat::Pytorch => {
            let (m, spec) = own_export(opts)?;
            (m, Some(spec))
        }
    };
    let targets = match (&exported, &opts.targets) {
        (Some(spec), None) => spec["targets"]
            .as_array()
            .map(|v| {
                v.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        _ => target_names(opts, model.outputs)?,
    };
    let layers: Layers = serde_json::from_value(model.layers.clone())
        .map_err(|e| TrainError::Data(format!("the imported layers: {e}")))?;
    let mut config = TrainConfig::preset("deepsea").expect("a preset");
    config.about = Some(format!(
        "imported by ferrosea-train import --from {} from {}",
        opts.from.name(),
        opts.weights.display()
    ));
    let (output_activation, loss) = match &exported {
        Some(spec) => (
            serde_json::from_value(spec["output_activation"].clone()).unwrap_or_default(),
            serde_json::from_value(spec["loss"].clone()).unwrap_or_default(),
        ),
        None => (Default::default(), Default::default()),
    };
    config.model = ModelConfig::Layers(LayersConfig {
        layers,
        init: ferrosea_models::InitScheme::Torch,
        output_activation,
    });
    config.loss = loss;
    let alphabet = match &exported {
        Some(spec) => spec["alphabet"].as_str().unwrap_or("ACGT").to_string(),
        None => "ACGT".into(),
    };
    // The network must build from the layers with exactly these tensors.
    let store = ferrosea_models::ParamStore::new(1);
    let channels = alphabet.chars().count().max(1);
    let net = ferrosea_models::Network::with_channels(
        &config.model,
        if exported.is_some() { channels } else { 4 },
        model.window,
        targets.len(),
        &store.builder(&Device::Cpu),
    )
    .map_err(|e| TrainError::Data(format!("the imported model: {e}")))?;
    drop(net);
    let declared = store.tensors();
    for (k, v) in &declared {
        match model.tensors.get(k) {
            Some(t) if t.dims() == v.dims() => {}
            Some(t) => {
                return Err(TrainError::Data(format!(
                    "imported {k} is {:?}, the network needs {:?}",
                    t.dims(),
                    v.dims()
                )))
            }
            None => {
                return Err(TrainError::Data(format!(
                    "the import gives no {k}, which the network needs"
                )))
            }
        }
    }
    let tensors: BTreeMap<String, Tensor> = declared
        .keys()
        .map(|k| (k.clone(), model.tensors[k].clone()))
        .collect();
    std::fs::create_dir_all(&opts.out).map_err(|e| TrainError::Io(opts.out.clone(), e))?;
    let mut meta = CheckpointMeta::new(&config, model.window, targets.clone(), 1);
    if exported.is_some() && alphabet != "ACGT" {
        return Err(TrainError::Data(format!(
            "{}: a model over the alphabet {alphabet}: only DNA models are imported",
            opts.weights.display()
        )));
    }
    crate::checkpoint::save(&opts.out, "best", &mut meta, &tensors, None)?;
    let sha = ferrosea_dataset::sha256_file(&if opts.weights.is_dir() {
        opts.weights.join("model.safetensors")
    } else {
        opts.weights.clone()
    })
    .ok();
    let record = json!({
        "from": opts.from.name(),
        "weights": opts.weights.display().to_string(),
        "weights_sha256": sha,
        "window": model.window,
        "targets": targets.len(),
        "conversions": model.notes,
        "command_line": opts.command_line,
        "ferrosea_version": env!("CARGO_PKG_VERSION"),
    });
    super::write_file(
        &opts.out.join("import.json"),
        (serde_json::to_string_pretty(&record).expect("JSON") + "\n").as_bytes(),
    )?;
    let parameters = tensors.values().map(|t| t.elem_count()).sum();
    Ok(ImportReport {
        checkpoint: best,
        window: model.window,
        targets: targets.len(),
        parameters,
    })
}
