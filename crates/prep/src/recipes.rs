//! The training recipes the simulations write, built as the train stage's own types
//! ([`TrainConfig`]) and written as JSON, so that a recipe cannot name a setting the train
//! stage does not know.

use std::path::Path;

use ferrosea_models::spec::{Activation, Cell, Conv, Dense, Pool, Recurrent, Return};
use ferrosea_models::{InitScheme, Layer, LayerKind, Layers, LayersConfig, ModelConfig};
use ferrosea_runtime::loss::Loss;
use ferrosea_train::optim::OptimizerConfig;
use ferrosea_train::TrainConfig;

use crate::PrepError;

/// A network of `layers` (the output layer follows them) with `init`'s initialisation.
fn layers(init: InitScheme, layers: Vec<LayerKind>) -> ModelConfig {
    ModelConfig::Layers(LayersConfig {
        layers: Layers(layers.into_iter().map(Layer::new).collect()),
        init,
        output_activation: Activation::Linear,
    })
}

fn conv(filters: usize, width: usize, activation: Activation, pool: Option<Pool>) -> LayerKind {
    LayerKind::Conv(Conv::new(filters, width, activation, pool))
}

fn recurrent(cell: Cell, hidden: usize, bidirectional: bool, returns: Return) -> LayerKind {
    LayerKind::Recurrent(Recurrent {
        cell,
        hidden,
        bidirectional,
        returns,
        gate_activation: Default::default(),
    })
}

fn recipe(
    about: &str,
    model: ModelConfig,
    optimizer: OptimizerConfig,
    batch: usize,
    epochs: usize,
) -> TrainConfig {
    TrainConfig {
        about: Some(about.into()),
        ..TrainConfig::new(model, optimizer, batch, epochs)
    }
}

/// `ferrosea-prep simulate`'s recipe: DeepBind's layout, which learns planted motifs in a
/// few CPU minutes. 20 bp filters hold whole JASPAR motifs (so that `compare` can name
/// them), and a global max pool asks "is the motif anywhere in the window", which is what
/// the broad peaks label. Measured: test ROC AUC at the ceiling that the planted motifs' own
/// PWMs reach, by the third epoch.
pub fn simulation() -> TrainConfig {
    let model = layers(
        InitScheme::Torch,
        vec![
            conv(32, 20, Activation::Relu, Some(Pool::GlobalMax)),
            LayerKind::Dense(Dense::new(32, Activation::Relu)),
        ],
    );
    recipe(
        "DeepBind's layout (the deepbind preset) with 32 filters of 20 bp: one convolution, a global max pool, a small dense layer; for simulations",
        model,
        OptimizerConfig::adam(0.003),
        32,
        4,
    )
}

/// Course example 1: a SimpleRNN of 2 units returning the sequence, flatten, a sigmoid
/// output; plain SGD.
pub fn rnn_detection() -> TrainConfig {
    let model = layers(
        InitScheme::Keras,
        vec![
            recurrent(Cell::Simple, 2, false, Return::Sequence),
            LayerKind::Flatten {},
        ],
    );
    recipe(
        "course example 1: a SimpleRNN of 2 units returning the sequence, flatten, a sigmoid output; plain SGD",
        model,
        OptimizerConfig::sgd(0.05),
        32,
        200,
    )
}

/// Course example 1: 2 filters of width 3 with ReLU, flatten, a sigmoid output; plain SGD.
pub fn conv_detection() -> TrainConfig {
    let model = layers(
        InitScheme::Keras,
        vec![conv(2, 3, Activation::Relu, None), LayerKind::Flatten {}],
    );
    recipe(
        "course example 1: 2 filters of width 3 with ReLU, flatten, a sigmoid output; plain SGD",
        model,
        OptimizerConfig::sgd(0.05),
        32,
        200,
    )
}

/// Course example 3: one `cell` unit, dropout 0.2, flatten, a sigmoid output trained with
/// squared error and Adam.
pub fn next_character(cell: Cell) -> TrainConfig {
    let mut model = layers(
        InitScheme::Keras,
        vec![
            recurrent(cell, 1, false, Return::Sequence),
            LayerKind::Dropout { p: 0.2 },
            LayerKind::Flatten {},
        ],
    );
    if let ModelConfig::Layers(c) = &mut model {
        c.output_activation = Activation::Sigmoid;
    }
    let name = if cell == Cell::Lstm {
        "LSTM"
    } else {
        "SimpleRNN"
    };
    TrainConfig {
        loss: Loss::Mse,
        ..recipe(
            &format!("course example 3: one {name} unit, dropout 0.2, flatten, a sigmoid output trained with squared error and Adam"),
            model,
            OptimizerConfig::adam(0.001),
            32,
            100,
        )
    }
}

/// Course example 4: a small DanQ (64 filters of 19, max pool 4, BiLSTM of 32 with max over
/// time) with softmax cross-entropy over 11 classes.
pub fn danq_classes() -> TrainConfig {
    let model = layers(
        InitScheme::Keras,
        vec![
            conv(64, 19, Activation::Relu, Some(Pool::Max(4))),
            LayerKind::Dropout { p: 0.2 },
            recurrent(Cell::Lstm, 32, true, Return::Max),
            LayerKind::Dropout { p: 0.5 },
        ],
    );
    TrainConfig {
        loss: Loss::Softmax,
        patience: Some(10),
        ..recipe(
            "course example 4: a small DanQ (64 filters of 19, max pool 4, BiLSTM of 32 with max over time) with softmax cross-entropy over 11 classes",
            model,
            OptimizerConfig::adam(0.003),
            64,
            80,
        )
    }
}

/// `recipe` as pretty JSON with a final newline.
pub fn to_json(recipe: &TrainConfig) -> String {
    serde_json::to_string_pretty(recipe).expect("a recipe serialises") + "\n"
}

/// Writes `recipe` to `path` (atomically).
pub fn write(path: &Path, recipe: &TrainConfig) -> Result<(), PrepError> {
    ferrosea_dataset::write_atomically(path, to_json(recipe).as_bytes())
        .map_err(|e| PrepError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every recipe reads back as itself through the train stage's own reader, passes its
    /// checks, and builds.
    #[test]
    fn recipes_read_back_through_the_train_stage() {
        let dir = tempfile::tempdir().unwrap();
        for (name, r) in [
            ("simulation", simulation()),
            ("rnn", rnn_detection()),
            ("conv", conv_detection()),
            ("rnn-next", next_character(Cell::Simple)),
            ("lstm-next", next_character(Cell::Lstm)),
            ("danq", danq_classes()),
        ] {
            let path = dir.path().join(format!("{name}.json"));
            write(&path, &r).unwrap();
            let back = TrainConfig::from_file(&path).unwrap();
            assert_eq!(back, r, "{name}");
            back.check().unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
