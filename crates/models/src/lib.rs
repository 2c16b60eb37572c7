//! The networks of ferrosea: DeepSEA, DanQ and DanQ-JASPAR in Candle.
//!
//! Each model is a config struct (serde, unknown keys rejected), a `new(cfg, window,
//! targets, vb)` that declares its parameters under layer names (`conv1.weight`,
//! `lstm.forward.weight_hh`, `hidden.bias`, ...; those are the checkpoint keys), and a
//! forward pass taking a [`Mode`] (training with seeded dropout, or evaluation).
//! Inputs are one-hot `[B, 4, L]` float tensors (channels A, C, G, T); outputs are logits.
//! The train, evaluate and interpret stages all build models through [`Network`].

mod conv;
mod danq;
mod deepsea;
mod dense;
mod fastmath;
mod gemm;
pub mod layers;
pub mod params;
mod recurrence;

use candle_core::{Result, Tensor};
use serde::{Deserialize, Serialize};

pub use danq::{DanQ, DanQConfig};
pub use deepsea::{ConvBlock, DeepSea, DeepSeaConfig};
pub use layers::{DropoutKey, GateActivation, InitScheme, Mode};
pub use params::{Init, ParamStore, Vb};

/// Which network, with its settings. In JSON: `{"arch": "danq", "filters": 320, ...}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "arch", rename_all = "kebab-case")]
pub enum ModelConfig {
    /// Convolutions, then a dense hidden layer (DeepSEA).
    Deepsea(DeepSeaConfig),
    /// Convolution, BiLSTM, dense hidden layer (DanQ, DanQ-JASPAR).
    Danq(DanQConfig),
}

impl ModelConfig {
    /// The architecture's name.
    pub fn arch(&self) -> &'static str {
        match self {
            ModelConfig::Deepsea(_) => "deepsea",
            ModelConfig::Danq(_) => "danq",
        }
    }

    /// Name of the first convolution (whose filters `ferrosea-interpret` turns into motifs)
    /// and its width.
    pub fn first_conv(&self) -> (&'static str, usize) {
        match self {
            ModelConfig::Deepsea(c) => ("conv1", c.conv.first().map_or(0, |b| b.width)),
            ModelConfig::Danq(c) => ("conv1", c.width),
        }
    }
}

/// What a forward pass returns.
pub struct Output {
    /// `[B, T]` logits.
    pub logits: Tensor,
    /// `[B, hidden]` activations of the last hidden layer (after ReLU), for DeepSEA's L1
    /// penalty.
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
    #[error("window of {window} bp is too short for layer {layer}: {detail}")]
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

/// Any of the networks.
pub enum Network {
    /// DeepSEA.
    DeepSea(DeepSea),
    /// DanQ or DanQ-JASPAR.
    DanQ(DanQ),
}

impl Network {
    /// Builds the network for a dataset of `window` bp and `targets` label columns.
    pub fn new(
        cfg: &ModelConfig,
        window: usize,
        targets: usize,
        vb: &Vb,
    ) -> std::result::Result<Network, ModelError> {
        if targets == 0 {
            return Err(ModelError::Config("the dataset has no targets".into()));
        }
        Ok(match cfg {
            ModelConfig::Deepsea(c) => Network::DeepSea(DeepSea::new(c, window, targets, vb)?),
            ModelConfig::Danq(c) => Network::DanQ(DanQ::new(c, window, targets, vb)?),
        })
    }

    /// `[B, 4, L]` -> logits `[B, T]` and the last hidden layer.
    pub fn forward(&self, x: &Tensor, mode: Mode) -> Result<Output> {
        match self {
            Network::DeepSea(m) => m.forward(x, mode),
            Network::DanQ(m) => m.forward(x, mode),
        }
    }

    /// Each layer's output shape and parameter count.
    pub fn summary(&self) -> &[SummaryRow] {
        match self {
            Network::DeepSea(m) => m.summary(),
            Network::DanQ(m) => m.summary(),
        }
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
    let mut out = format!(
        "{:<10} {:<14} {:>12}  {}\n",
        "layer", "output", "parameters", ""
    );
    for r in rows {
        out += &format!(
            "{:<10} {:<14} {:>12}  {}\n",
            r.layer,
            shape(&r.shape),
            group(r.params),
            r.note
        );
    }
    let total: usize = rows.iter().map(|r| r.params).sum();
    out += &format!("{:<10} {:<14} {:>12}\n", "total", "", group(total));
    out
}

#[cfg(test)]
mod tests;
