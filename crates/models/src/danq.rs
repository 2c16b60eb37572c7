//! DanQ (Quang & Xie 2016, `DanQ_train.py`): one valid convolution, max pooling, a
//! bidirectional LSTM over the pooled positions, one ReLU hidden layer. DanQ-JASPAR is the
//! same network with wider settings (see the presets). A compact form that expands into
//! layers named as the checkpoints of earlier versions (`conv1`, `lstm.forward.*`,
//! `lstm.backward.*`, `hidden`, then `output`).

use serde::{Deserialize, Serialize};

use crate::layers::{GateActivation, InitScheme};
use crate::spec::{Activation, Cell, Conv, Dense, Layer, LayerKind, Pool, Recurrent, Return};
use crate::ModelError;

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

impl DanQConfig {
    /// The layers: `conv1` (ReLU, max pool), `dropout1`, `lstm` (bidirectional, the
    /// sequence), `dropout2`, `flatten`, `hidden` (ReLU).
    pub fn layers(&self) -> Result<Vec<Layer>, ModelError> {
        if self.pool == 0 {
            return Err(ModelError::Config("danq: pool must be at least 1".into()));
        }
        Ok(vec![
            Layer::named(
                "conv1",
                LayerKind::Conv(Conv::new(
                    self.filters,
                    self.width,
                    Activation::Relu,
                    (self.pool > 1).then_some(Pool::Max(self.pool)),
                )),
            ),
            Layer::named(
                "dropout1",
                LayerKind::Dropout {
                    p: self.conv_dropout,
                },
            ),
            Layer::named(
                "lstm",
                LayerKind::Recurrent(Recurrent {
                    cell: Cell::Lstm,
                    hidden: self.lstm_hidden,
                    bidirectional: true,
                    returns: Return::Sequence,
                    gate_activation: self.gate_activation,
                }),
            ),
            Layer::named(
                "dropout2",
                LayerKind::Dropout {
                    p: self.lstm_dropout,
                },
            ),
            Layer::named("flatten", LayerKind::Flatten {}),
            Layer::named(
                "hidden",
                LayerKind::Dense(Dense::new(self.hidden, Activation::Relu)),
            ),
        ])
    }
}
