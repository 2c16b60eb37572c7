//! DeepSEA (Zhou & Troyanskaya 2015) as released: three valid convolutions with ReLU,
//! max pooling and dropout, one ReLU hidden layer, one output per target. A compact form
//! that expands into layers named as the checkpoints of earlier versions (`conv1..convN`,
//! `hidden`; the output layer is always `output`).

use serde::{Deserialize, Serialize};

use crate::layers::InitScheme;
use crate::spec::{Activation, Conv, Dense, Layer, LayerKind, Pool};
use crate::ModelError;

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

impl DeepSeaConfig {
    /// The layers: `convI` (ReLU, max pool), `dropoutI`, then
    /// `flatten` and `hidden` (ReLU).
    pub fn layers(&self) -> Result<Vec<Layer>, ModelError> {
        if self.conv.is_empty() {
            return Err(ModelError::Config(
                "deepsea needs at least one conv block".into(),
            ));
        }
        let mut out = Vec::new();
        for (i, block) in self.conv.iter().enumerate() {
            let n = i + 1;
            if block.pool == 0 {
                return Err(ModelError::Config(format!(
                    "conv{n}: pool must be at least 1"
                )));
            }
            let pool = (block.pool > 1).then_some(Pool::Max(block.pool));
            out.push(Layer::named(
                &format!("conv{n}"),
                LayerKind::Conv(Conv::new(
                    block.filters,
                    block.width,
                    Activation::Relu,
                    pool,
                )),
            ));
            // Every block has its dropout layer, p = 0 included, so that each block keeps
            // its dropout stream (the block's index) whatever the others do.
            out.push(Layer::named(
                &format!("dropout{n}"),
                LayerKind::Dropout { p: block.dropout },
            ));
        }
        out.push(Layer::named("flatten", LayerKind::Flatten {}));
        out.push(Layer::named(
            "hidden",
            LayerKind::Dense(Dense::new(self.hidden, Activation::Relu)),
        ));
        Ok(out)
    }
}
