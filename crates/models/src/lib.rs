//! The networks of ferrosea, composed from layers in Candle.
//!
//! A model is a list of layers ([`spec`]: conv, dense, batch-norm, dropout, flatten,
//! activation, pool, residual, recurrent), from a recipe's `"arch": "layers"` or expanded
//! from a compact preset form (`"arch": "deepsea"`, `"arch": "danq"`), then the output layer.
//! [`Network::new`] infers the shapes, declares the parameters under the layers' names (the
//! checkpoint keys: `conv1.weight`, `lstm.forward.weight_hh`, `hidden.bias`, ...) and runs
//! a forward pass taking a [`Mode`] (training with seeded dropout, or evaluation). Inputs are
//! `[B, C, L]` float tensors (one-hot DNA: C = 4, channels A, C, G, T); outputs are logits.
//! The train, evaluate, interpret and analyze stages all build models through [`Network`].

mod conv;
mod danq;
pub mod deeplift;
mod deepsea;
mod dense;
mod fastmath;
mod gemm;
pub mod layers;
mod norm;
pub mod params;
mod recurrence;
mod rnn;
pub mod sequential;
pub mod spec;

use candle_core::{Result, Tensor};
use serde::{Deserialize, Serialize};

pub use danq::DanQConfig;
pub use deepsea::{ConvBlock, DeepSeaConfig};
pub use layers::{DropoutKey, GateActivation, InitScheme, Mode};
pub use params::{Init, ParamStore, Vb};
pub use sequential::Sequential;
pub use spec::{Layer, LayerKind, Layers};

/// A model composed from listed layers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayersConfig {
    /// The layers, input first; the output layer follows them.
    pub layers: Layers,
    /// Weight initialisation.
    #[serde(default)]
    pub init: InitScheme,
    /// An activation applied to the output layer (default linear: the loss applies the
    /// sigmoid or softmax). Only with `"loss": "mse"`: the course's sigmoid output trained
    /// with squared error.
    #[serde(default, skip_serializing_if = "is_linear")]
    pub output_activation: spec::Activation,
}

fn is_linear(a: &spec::Activation) -> bool {
    *a == spec::Activation::Linear
}

/// Which network, with its settings. In JSON: `{"arch": "danq", "filters": 320, ...}` or
/// `{"arch": "layers", "layers": [...]}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "arch", rename_all = "kebab-case")]
pub enum ModelConfig {
    /// Convolutions, then a dense hidden layer (DeepSEA).
    Deepsea(DeepSeaConfig),
    /// Convolution, BiLSTM, dense hidden layer (DanQ, DanQ-JASPAR).
    Danq(DanQConfig),
    /// Any list of layers.
    Layers(LayersConfig),
}

impl ModelConfig {
    /// The architecture's name.
    pub fn arch(&self) -> &'static str {
        match self {
            ModelConfig::Deepsea(_) => "deepsea",
            ModelConfig::Danq(_) => "danq",
            ModelConfig::Layers(_) => "layers",
        }
    }

    /// The layers this configuration stands for, and their initialisation.
    pub fn layers(&self) -> std::result::Result<(Layers, InitScheme), ModelError> {
        Ok(match self {
            ModelConfig::Deepsea(c) => (Layers(c.layers()?), c.init),
            ModelConfig::Danq(c) => (Layers(c.layers()?), c.init),
            ModelConfig::Layers(c) => (c.layers.clone(), c.init),
        })
    }

    /// The activation of the output layer (linear unless a layer list says otherwise).
    pub fn output_activation(&self) -> spec::Activation {
        match self {
            ModelConfig::Layers(c) => c.output_activation,
            _ => spec::Activation::Linear,
        }
    }

    /// Name and width of the first layer when it is a convolution (whose filters
    /// `ferrosea-interpret` turns into motifs); `None` for models that start otherwise.
    pub fn first_conv(&self) -> Option<(String, usize)> {
        let (layers, _) = self.layers().ok()?;
        let first = layers.0.first()?;
        match &first.kind {
            LayerKind::Conv(c) => Some((
                first.name.clone().unwrap_or_else(|| "conv1".into()),
                c.width,
            )),
            _ => None,
        }
    }
}

/// What a forward pass returns.
pub struct Output {
    /// `[B, T]` logits.
    pub logits: Tensor,
    /// `[B, hidden]`: the output layer's input (DeepSEA's last hidden layer after its ReLU),
    /// for DeepSEA's L1 penalty.
    pub hidden: Tensor,
}

/// One line of a model summary.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SummaryRow {
    /// Layer name (the checkpoint key prefix for layers with parameters).
    pub layer: String,
    /// Output shape per sample.
    pub shape: Vec<usize>,
    /// Number of parameters.
    pub params: usize,
    /// Activation or remark.
    pub note: String,
}

impl SummaryRow {
    fn new(layer: &str, shape: Vec<usize>, params: usize, note: &str) -> SummaryRow {
        SummaryRow {
            layer: layer.into(),
            shape,
            params,
            note: note.into(),
        }
    }
}

/// Errors building a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Settings that make no network.
    #[error("model configuration: {0}")]
    Config(String),
    /// The dataset's window is too short for the layers.
    #[error("window of {window} positions is too short for layer {layer}: {detail}")]
    Window {
        /// Window length.
        window: usize,
        /// The layer.
        layer: String,
        /// Why.
        detail: String,
    },
    /// A Candle error (a checkpoint tensor of the wrong shape, ...).
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// A network built for a dataset: its layers, then the output layer.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use ferrosea_models::{Mode, ModelConfig, Network, ParamStore};
///
/// let cfg: ModelConfig = serde_json::from_str(
///     r#"{"arch": "layers", "layers": [
///         {"kind": "conv", "filters": 8, "width": 5, "activation": "relu", "pool": "global-max"},
///         {"kind": "dense", "units": 16, "activation": "relu"}]}"#,
/// )?;
/// // Parameters are declared in a store seeded for initialisation: 40 bp windows, 3 targets.
/// let store = ParamStore::new(7);
/// let net = Network::new(&cfg, 40, 3, &store.builder(&Device::Cpu))?;
/// assert_eq!(store.count(), (8 * 4 * 5 + 8) + (16 * 8 + 16) + (3 * 16 + 3));
/// assert_eq!(net.summary().last().unwrap().layer, "output");
///
/// let x = Tensor::zeros((2, 4, 40), candle_core::DType::F32, &Device::Cpu)?;
/// let out = net.forward(&x, Mode::Eval)?;
/// assert_eq!(out.logits.dims(), &[2, 3]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Network {
    inner: Sequential,
    channels: usize,
}

impl Network {
    /// Builds the network for one-hot DNA windows of `window` bp and `targets` label
    /// columns.
    pub fn new(
        cfg: &ModelConfig,
        window: usize,
        targets: usize,
        vb: &Vb,
    ) -> std::result::Result<Network, ModelError> {
        Network::with_channels(cfg, 4, window, targets, vb)
    }

    /// Builds the network for inputs of `channels` x `window` and `targets` outputs.
    pub fn with_channels(
        cfg: &ModelConfig,
        channels: usize,
        window: usize,
        targets: usize,
        vb: &Vb,
    ) -> std::result::Result<Network, ModelError> {
        if targets == 0 {
            return Err(ModelError::Config("the dataset has no targets".into()));
        }
        if channels == 0 || window == 0 {
            return Err(ModelError::Config(
                "the input has no channels or no positions".into(),
            ));
        }
        let (layers, init) = cfg.layers()?;
        Ok(Network {
            inner: Sequential::new(
                &layers,
                (init, cfg.output_activation()),
                channels,
                window,
                targets,
                vb,
            )?,
            channels,
        })
    }

    /// Input channels per position (4 for one-hot DNA).
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// `[B, C, L]` -> logits `[B, T]` and the output layer's input.
    pub fn forward(&self, x: &Tensor, mode: Mode) -> Result<Output> {
        self.inner.forward(x, mode)
    }

    /// Each layer's output shape and parameter count.
    pub fn summary(&self) -> &[SummaryRow] {
        self.inner.summary()
    }

    /// Logits `[2B, T]` of a DeepLIFT batch (inputs, then their references), whose backward
    /// pass gives DeepLIFT's multipliers ([`deeplift`], [`Sequential::forward_deeplift`]).
    pub fn forward_deeplift(
        &self,
        xr: &Tensor,
        recurrent: deeplift::RecurrentRule,
    ) -> Result<Tensor> {
        self.inner.forward_deeplift(xr, recurrent)
    }

    /// A DeepLIFT pass of inputs `x` and references `r` as separate tensors, only the inputs
    /// differentiated ([`Sequential::forward_deeplift_pair`]): the inputs' and the
    /// references' logits. Networks without recurrent layers.
    pub fn forward_deeplift_pair(&self, x: &Tensor, r: &Tensor) -> Result<(Tensor, Tensor)> {
        self.inner.forward_deeplift_pair(x, r)
    }

    /// The recurrent layers, by name and description (DeepLIFT has no rule for them).
    pub fn recurrent_layers(&self) -> Vec<(String, String)> {
        self.inner.recurrent_layers()
    }
}

/// Formats a summary as an aligned table with a total line.
pub fn format_summary(rows: &[SummaryRow]) -> String {
    let shape = |s: &[usize]| {
        format!(
            "[{}]",
            s.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let group = |n: usize| {
        let s = n.to_string();
        let mut out = String::new();
        for (i, ch) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(ch);
        }
        out
    };
    let w = rows
        .iter()
        .map(|r| r.layer.len())
        .max()
        .unwrap_or(0)
        .max(10);
    let mut out = format!(
        "{:<w$} {:<14} {:>12}  {}\n",
        "layer", "output", "parameters", ""
    );
    for r in rows {
        out += &format!(
            "{:<w$} {:<14} {:>12}  {}\n",
            r.layer,
            shape(&r.shape),
            group(r.params),
            r.note
        );
    }
    let total: usize = rows.iter().map(|r| r.params).sum();
    out += &format!("{:<w$} {:<14} {:>12}\n", "total", "", group(total));
    out
}

#[cfg(test)]
mod tests;
