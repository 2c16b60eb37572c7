//! DanQ (Quang & Xie 2016, `DanQ_train.py`): one valid convolution, max pooling, a
//! bidirectional LSTM over the pooled positions, one ReLU hidden layer. DanQ-JASPAR is the
//! same network with wider settings (see the presets).

use candle_core::{Module, Result, Tensor};
use serde::{Deserialize, Serialize};

use crate::layers::{
    conv1d, dropout, linear, BiLstm, Conv1d, GateActivation, InitScheme, Linear, Mode,
};
use crate::params::Vb;
use crate::{ModelError, Output, SummaryRow};

/// DanQ's configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DanQConfig {
    /// Number of convolution filters (320; DanQ-JASPAR 1024).
    pub filters: usize,
    /// Filter width (26; DanQ-JASPAR 30).
    pub width: usize,
    /// Max-pool window and stride (13; DanQ-JASPAR 15).
    pub pool: usize,
    /// Dropout after pooling (0.2).
    pub conv_dropout: f32,
    /// LSTM units per direction (320; DanQ-JASPAR 512).
    pub lstm_hidden: usize,
    /// Dropout after the LSTM (0.5).
    pub lstm_dropout: f32,
    /// Width of the ReLU hidden layer (925).
    pub hidden: usize,
    /// LSTM gate non-linearity (Keras 0.x default: hard sigmoid).
    #[serde(default)]
    pub gate_activation: GateActivation,
    /// Weight initialisation.
    #[serde(default)]
    pub init: InitScheme,
}

/// The DanQ network.
pub struct DanQ {
    conv: Conv1d,
    lstm: BiLstm,
    hidden: Linear,
    output: Linear,
    cfg: DanQConfig,
    rows: Vec<SummaryRow>,
}

impl DanQ {
    /// Declares the layers `conv1`, `lstm.{forward,backward}`, `hidden` and `output`.
    pub fn new(
        cfg: &DanQConfig,
        window: usize,
        targets: usize,
        vb: &Vb,
    ) -> std::result::Result<DanQ, ModelError> {
        let ok_p = |p: f32| (0.0..1.0).contains(&p);
        if cfg.filters == 0
            || cfg.width == 0
            || cfg.pool == 0
            || cfg.lstm_hidden == 0
            || cfg.hidden == 0
            || !ok_p(cfg.conv_dropout)
            || !ok_p(cfg.lstm_dropout)
        {
            return Err(ModelError::Config(
                "danq: sizes must be positive and dropouts in [0, 1)".into(),
            ));
        }
        if window < cfg.width || (window - cfg.width + 1) / cfg.pool == 0 {
            return Err(ModelError::Window {
                window,
                layer: "conv1".into(),
                detail: format!("width {} and pool {}", cfg.width, cfg.pool),
            });
        }
        let conv_len = window - cfg.width + 1;
        let steps = conv_len / cfg.pool;
        let (f, h) = (cfg.filters, cfg.lstm_hidden);
        let conv = conv1d(vb, "conv1", 4, f, cfg.width, cfg.init)?;
        let lstm = BiLstm::new(vb, "lstm", f, h, cfg.gate_activation)?;
        let flat = steps * 2 * h;
        let hidden = linear(vb, "hidden", flat, cfg.hidden, cfg.init)?;
        let output = linear(vb, "output", cfg.hidden, targets, cfg.init)?;
        let gate = match cfg.gate_activation {
            GateActivation::Sigmoid => "sigmoid gates",
            GateActivation::HardSigmoid => "hard-sigmoid gates",
        };
        let rows = vec![
            SummaryRow::new("conv1", vec![f, conv_len], 4 * cfg.width * f + f, "ReLU"),
            SummaryRow::new("pool1", vec![f, steps], 0, &format!("max {0}/{0}", cfg.pool)),
            SummaryRow::new("dropout1", vec![f, steps], 0, &format!("p = {}", cfg.conv_dropout)),
            SummaryRow::new(
                "lstm",
                vec![steps, 2 * h],
                2 * 4 * (f * h + h * h + h),
                &format!("bidirectional, {gate}, one bias per gate as Keras (PyTorch's two would add {})", 2 * 4 * h),
            ),
            SummaryRow::new("dropout2", vec![steps, 2 * h], 0, &format!("p = {}", cfg.lstm_dropout)),
            SummaryRow::new("flatten", vec![flat], 0, ""),
            SummaryRow::new("hidden", vec![cfg.hidden], flat * cfg.hidden + cfg.hidden, "ReLU"),
            SummaryRow::new("output", vec![targets], cfg.hidden * targets + targets, "logits (sigmoid in the loss)"),
        ];
        Ok(DanQ {
            conv,
            lstm,
            hidden,
            output,
            cfg: cfg.clone(),
            rows,
        })
    }

    /// `[B, 4, L]` one-hot -> logits `[B, T]`.
    pub fn forward(&self, x: &Tensor, mode: Mode) -> Result<Output> {
        let h = self.conv.forward_relu_pool(x, self.cfg.pool)?;
        let h = dropout(&h, self.cfg.conv_dropout, 0, mode)?;
        let h = self.lstm.forward(&h.transpose(1, 2)?.contiguous()?)?;
        let h = dropout(&h, self.cfg.lstm_dropout, 1, mode)?;
        let hidden = self.hidden.forward(&h.flatten_from(1)?)?.relu()?;
        let logits = self.output.forward(&hidden)?;
        Ok(Output { logits, hidden })
    }

    /// The layer table.
    pub fn summary(&self) -> &[SummaryRow] {
        &self.rows
    }
}
