//! DeepSEA (Zhou & Troyanskaya 2015) as released: three valid convolutions with ReLU,
//! max pooling and dropout, one ReLU hidden layer, one output per target.

use candle_core::{Module, Result, Tensor};
use serde::{Deserialize, Serialize};

use crate::layers::{conv1d, dropout, linear, Conv1d, InitScheme, Linear, Mode};
use crate::params::Vb;
use crate::{ModelError, Output, SummaryRow};

/// One convolution block: conv (valid) -> ReLU -> max pool -> dropout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvBlock {
    /// Number of filters.
    pub filters: usize,
    /// Kernel width in bases (or positions of the layer below).
    pub width: usize,
    /// Max-pool window and stride; 1 for none.
    #[serde(default = "one")]
    pub pool: usize,
    /// Dropout probability after the block.
    #[serde(default)]
    pub dropout: f32,
}

fn one() -> usize {
    1
}

/// DeepSEA's configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeepSeaConfig {
    /// The convolution blocks, input first.
    pub conv: Vec<ConvBlock>,
    /// Width of the ReLU hidden layer (925 in the released model).
    pub hidden: usize,
    /// Weight initialisation.
    #[serde(default = "torch")]
    pub init: InitScheme,
}

fn torch() -> InitScheme {
    InitScheme::Torch
}

/// The DeepSEA network.
pub struct DeepSea {
    convs: Vec<(Conv1d, ConvBlock)>,
    hidden: Linear,
    output: Linear,
    rows: Vec<SummaryRow>,
}

impl DeepSea {
    /// Declares the layers `conv1..convN`, `hidden` and `output`.
    pub fn new(
        cfg: &DeepSeaConfig,
        window: usize,
        targets: usize,
        vb: &Vb,
    ) -> std::result::Result<DeepSea, ModelError> {
        if cfg.conv.is_empty() {
            return Err(ModelError::Config(
                "deepsea needs at least one conv block".into(),
            ));
        }
        let mut convs = Vec::new();
        let mut rows = Vec::new();
        let (mut channels, mut len) = (4usize, window);
        for (i, block) in cfg.conv.iter().enumerate() {
            let name = format!("conv{}", i + 1);
            if block.filters == 0
                || block.width == 0
                || block.pool == 0
                || !(0.0..1.0).contains(&block.dropout)
            {
                return Err(ModelError::Config(format!(
                    "{name}: filters, width and pool must be positive and dropout in [0, 1)"
                )));
            }
            if len < block.width || (len - block.width + 1) / block.pool == 0 {
                return Err(ModelError::Window {
                    window,
                    layer: name,
                    detail: format!(
                        "length {len} left for width {} and pool {}",
                        block.width, block.pool
                    ),
                });
            }
            let conv = conv1d(vb, &name, channels, block.filters, block.width, cfg.init)?;
            len -= block.width - 1;
            rows.push(SummaryRow::new(
                &name,
                vec![block.filters, len],
                channels * block.width * block.filters + block.filters,
                "ReLU",
            ));
            if block.pool > 1 {
                len /= block.pool;
                rows.push(SummaryRow::new(
                    &format!("pool{}", i + 1),
                    vec![block.filters, len],
                    0,
                    &format!("max {0}/{0}", block.pool),
                ));
            }
            if block.dropout > 0.0 {
                rows.push(SummaryRow::new(
                    &format!("dropout{}", i + 1),
                    vec![block.filters, len],
                    0,
                    &format!("p = {}", block.dropout),
                ));
            }
            channels = block.filters;
            convs.push((conv, block.clone()));
        }
        let flat = channels * len;
        rows.push(SummaryRow::new("flatten", vec![flat], 0, ""));
        let hidden = linear(vb, "hidden", flat, cfg.hidden, cfg.init)?;
        rows.push(SummaryRow::new(
            "hidden",
            vec![cfg.hidden],
            flat * cfg.hidden + cfg.hidden,
            "ReLU",
        ));
        let output = linear(vb, "output", cfg.hidden, targets, cfg.init)?;
        rows.push(SummaryRow::new(
            "output",
            vec![targets],
            cfg.hidden * targets + targets,
            "logits (sigmoid in the loss)",
        ));
        Ok(DeepSea {
            convs,
            hidden,
            output,
            rows,
        })
    }

    /// `[B, 4, L]` one-hot -> logits `[B, T]`.
    pub fn forward(&self, x: &Tensor, mode: Mode) -> Result<Output> {
        let mut h = x.clone();
        for (i, (conv, block)) in self.convs.iter().enumerate() {
            h = conv.forward_relu_pool(&h, block.pool)?;
            h = dropout(&h, block.dropout, i as u64, mode)?;
        }
        let hidden = self.hidden.forward(&h.flatten_from(1)?)?.relu()?;
        let logits = self.output.forward(&hidden)?;
        Ok(Output { logits, hidden })
    }

    /// The layer table.
    pub fn summary(&self) -> &[SummaryRow] {
        &self.rows
    }
}
