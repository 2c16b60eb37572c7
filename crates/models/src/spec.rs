//! The layer spec: what a recipe's `"arch": "layers"` model lists, one JSON object per layer
//! with a `kind`.
//!
//! ```json
//! {"arch": "layers", "init": "keras", "layers": [
//!   {"kind": "conv", "filters": 16, "width": 24, "activation": "relu", "pool": "global-max"},
//!   {"kind": "dense", "units": 32, "activation": "relu"},
//!   {"kind": "dropout", "p": 0.5}
//! ]}
//! ```
//!
//! The output layer (`output`: dense, one logit per target or class) always follows the
//! listed layers. Every layer may carry a `name`, which becomes the prefix of its parameters'
//! checkpoint keys; without one, layers are named by kind and position among their kind in
//! their scope (`conv1`, `conv2`, `dense1`, `bn1`, `lstm1`, `block1.conv1`, ...). The
//! reference is docs/MODELS.md.

use serde::{Deserialize, Deserializer, Serialize};

/// A non-linearity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Activation {
    /// The identity (Keras' and PyTorch's default).
    #[default]
    Linear,
    /// max(x, 0).
    Relu,
    /// The logistic function.
    Sigmoid,
    /// The hyperbolic tangent.
    Tanh,
    /// `x` where `x > 0`, else `1e-6`: Torch's `nn.Threshold(0, 1e-6)`, DeepSEA's activation
    /// (kept by Kipoi's PyTorch conversion). Not ReLU: an input at or below zero gives 1e-6,
    /// not 0, and the next layer sums those.
    Threshold,
}

/// The value [`Activation::Threshold`] gives inputs at or below zero.
pub const THRESHOLD_VALUE: f32 = 1e-6;

impl Activation {
    /// Its name in the summary.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "ReLU",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Threshold => "threshold (x > 0 ? x : 1e-6)",
        }
    }
}

/// Pooling over positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Pool {
    /// Non-overlapping max pooling with window and stride k (a trailing remainder is
    /// dropped, as in Keras and PyTorch).
    Max(usize),
    /// Non-overlapping average pooling with window and stride k.
    Avg(usize),
    /// The maximum over all positions: `[C, L] -> [C]`.
    GlobalMax,
    /// The mean over all positions: `[C, L] -> [C]`.
    GlobalAvg,
}

impl Pool {
    /// Its description in the summary.
    pub fn describe(self) -> String {
        match self {
            Pool::Max(k) => format!("max {k}/{k}"),
            Pool::Avg(k) => format!("average {k}/{k}"),
            Pool::GlobalMax => "global max".into(),
            Pool::GlobalAvg => "global average".into(),
        }
    }
}

/// How a convolution treats the edges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Padding {
    /// No padding: `L - dilation * (width - 1)` positions (before the stride).
    #[default]
    Valid,
    /// Zeros on both sides so that the output has `ceil(L / stride)` positions; an odd total
    /// puts the extra zero on the right, as PyTorch's and Keras' `same`.
    Same,
}

/// A 1-D convolution, its activation and an optional pooling.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conv {
    /// Number of filters (output channels).
    pub filters: usize,
    /// Kernel width in positions.
    pub width: usize,
    /// Step between output positions.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub stride: usize,
    /// Gap between kernel taps (1: contiguous).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub dilation: usize,
    /// Edge handling.
    #[serde(default, skip_serializing_if = "is_default")]
    pub padding: Padding,
    /// Non-linearity after the convolution.
    #[serde(default, skip_serializing_if = "is_default")]
    pub activation: Activation,
    /// Pooling after the activation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<Pool>,
    /// Whether the layer has a bias (a convolution followed by batch norm needs none).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub bias: bool,
}

/// A dense (fully connected) layer on a flat input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dense {
    /// Output units.
    pub units: usize,
    /// Non-linearity after it.
    #[serde(default, skip_serializing_if = "is_default")]
    pub activation: Activation,
    /// Whether the layer has a bias.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub bias: bool,
}

/// Batch normalisation over channels (of `[C, L]`) or features (of `[F]`), PyTorch's
/// `BatchNorm1d`: the batch's mean and biased variance in training, the running estimates
/// (buffers, not parameters) in evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchNorm {
    /// Weight of the newest batch in the running estimates (PyTorch's 0.1).
    #[serde(default = "momentum")]
    pub momentum: f64,
    /// Added to the variance.
    #[serde(default = "eps")]
    pub eps: f64,
}

/// A recurrent cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cell {
    /// Long short-term memory, gates (input, forget, cell, output), one bias per gate.
    Lstm,
    /// Gated recurrent unit, PyTorch's formulation: gates (reset, update, new), input and
    /// recurrent biases.
    Gru,
    /// Elman's simple RNN: `h = tanh(W x + U h + b)`.
    Simple,
}

/// What a recurrent layer returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Return {
    /// The state at every step: `[T, D·H]` (D = 2 when bidirectional).
    #[default]
    Sequence,
    /// The final state of each direction: `[D·H]`.
    Last,
    /// The maximum over time of the sequence: `[D·H]`.
    Max,
}

/// A recurrent layer over positions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recurrent {
    /// The cell.
    pub cell: Cell,
    /// Units per direction.
    pub hidden: usize,
    /// A second pass from the end (its states follow the forward ones).
    #[serde(default, skip_serializing_if = "is_default")]
    pub bidirectional: bool,
    /// What the layer returns.
    #[serde(default, rename = "return", skip_serializing_if = "is_default")]
    pub returns: Return,
    /// Gate non-linearity of LSTM and GRU cells.
    #[serde(default, skip_serializing_if = "is_default")]
    pub gate_activation: crate::GateActivation,
}

/// One layer, as written in a recipe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum LayerKind {
    /// 1-D convolution.
    Conv(Conv),
    /// Dense layer.
    Dense(Dense),
    /// Batch normalisation.
    BatchNorm(BatchNorm),
    /// Inverted dropout.
    Dropout {
        /// Probability of zeroing a value during training.
        p: f32,
    },
    /// Flattens `[C, L]` (or a recurrent `[T, F]`) to one vector, in that order.
    Flatten {},
    /// A non-linearity on its own (before a convolution in a pre-activation block).
    Activation {
        /// Which.
        activation: Activation,
    },
    /// Pooling on its own.
    Pool {
        /// Which.
        pool: Pool,
    },
    /// `h + body(h)`; the body must keep the shape.
    Residual {
        /// The layers of the branch.
        body: Layers,
    },
    /// LSTM, GRU or simple RNN.
    Recurrent(Recurrent),
}

impl LayerKind {
    /// The `kind` as written.
    pub fn kind(&self) -> &'static str {
        match self {
            LayerKind::Conv(_) => "conv",
            LayerKind::Dense(_) => "dense",
            LayerKind::BatchNorm(_) => "batch-norm",
            LayerKind::Dropout { .. } => "dropout",
            LayerKind::Flatten {} => "flatten",
            LayerKind::Activation { .. } => "activation",
            LayerKind::Pool { .. } => "pool",
            LayerKind::Residual { .. } => "residual",
            LayerKind::Recurrent(_) => "recurrent",
        }
    }

    /// The prefix of default names.
    pub(crate) fn default_prefix(&self) -> &'static str {
        match self {
            LayerKind::Conv(_) => "conv",
            LayerKind::Dense(_) => "dense",
            LayerKind::BatchNorm(_) => "bn",
            LayerKind::Dropout { .. } => "dropout",
            LayerKind::Flatten {} => "flatten",
            LayerKind::Activation { .. } => "act",
            LayerKind::Pool { .. } => "pool",
            LayerKind::Residual { .. } => "block",
            LayerKind::Recurrent(r) => match r.cell {
                Cell::Lstm => "lstm",
                Cell::Gru => "gru",
                Cell::Simple => "rnn",
            },
        }
    }
}

/// A layer and its optional name.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Layer {
    /// The checkpoint key prefix of its parameters (default: kind and position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What it is.
    #[serde(flatten)]
    pub kind: LayerKind,
}

impl Layer {
    /// An unnamed layer.
    pub fn new(kind: LayerKind) -> Layer {
        Layer { name: None, kind }
    }

    /// A named layer.
    pub fn named(name: &str, kind: LayerKind) -> Layer {
        Layer {
            name: Some(name.into()),
            kind,
        }
    }
}

/// A list of layers. Read one by one, so that an error names the layer's index and kind:
/// `layer 3 (conv): unknown field "widht", expected one of ...`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Layers(pub Vec<Layer>);

impl<'de> Deserialize<'de> for Layers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Layers, D::Error> {
        let values = Vec::<serde_json::Value>::deserialize(d)?;
        let mut out = Vec::with_capacity(values.len());
        for (i, v) in values.into_iter().enumerate() {
            out.push(parse_layer(i + 1, v).map_err(serde::de::Error::custom)?);
        }
        Ok(Layers(out))
    }
}

fn parse_layer(index: usize, v: serde_json::Value) -> Result<Layer, String> {
    let obj = v
        .as_object()
        .ok_or_else(|| format!("layer {index}: expected an object with a \"kind\", got {v}"))?;
    let kind = match obj.get("kind") {
        Some(serde_json::Value::String(k)) => k.clone(),
        Some(other) => {
            return Err(format!(
                "layer {index}: \"kind\" must be a string, got {other}"
            ))
        }
        None => return Err(format!("layer {index}: no \"kind\" (one of {KINDS})")),
    };
    if !KINDS.split(", ").any(|k| k == kind) {
        return Err(format!(
            "layer {index}: unknown kind \"{kind}\"; the kinds are {KINDS}"
        ));
    }
    let name = match obj.get("name") {
        None => None,
        Some(serde_json::Value::String(n)) if valid_name(n) => Some(n.clone()),
        Some(other) => {
            return Err(format!(
                "layer {index} ({kind}): \"name\" must be letters, digits, '_' or '-' (dots separate scopes), got {other}"
            ))
        }
    };
    let mut rest = obj.clone();
    rest.remove("name");
    let kind_value: LayerKind = serde_json::from_value(serde_json::Value::Object(rest))
        .map_err(|e| format!("layer {index} ({kind}): {e}"))?;
    Ok(Layer {
        name,
        kind: kind_value,
    })
}

/// Each layer's own name within its list: the name given, or the kind's prefix and its
/// count among the list's layers of that prefix so far (`conv1`, `conv2`, `dense1`, ...; a
/// residual body's layers are counted in the body, and their keys are `block1.conv1`).
pub fn own_names(layers: &Layers) -> Vec<String> {
    let mut counters: std::collections::BTreeMap<&str, usize> = Default::default();
    layers
        .0
        .iter()
        .map(|layer| {
            let prefix = layer.kind.default_prefix();
            let n = counters.entry(prefix).or_default();
            *n += 1;
            layer.name.clone().unwrap_or_else(|| format!("{prefix}{n}"))
        })
        .collect()
}

/// `layers` with every layer named (its [`own_names`]), residual bodies too: what a network
/// built from them names its parameters by, written out.
pub fn named(layers: &Layers) -> Layers {
    Layers(
        layers
            .0
            .iter()
            .zip(own_names(layers))
            .map(|(layer, own)| {
                let kind = match &layer.kind {
                    LayerKind::Residual { body } => LayerKind::Residual { body: named(body) },
                    k => k.clone(),
                };
                Layer {
                    name: Some(own),
                    kind,
                }
            })
            .collect(),
    )
}

/// The layer kinds, for error messages.
pub const KINDS: &str =
    "conv, dense, batch-norm, dropout, flatten, activation, pool, residual, recurrent";

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
}

fn one() -> usize {
    1
}
fn is_one(v: &usize) -> bool {
    *v == 1
}
fn yes() -> bool {
    true
}
fn is_true(v: &bool) -> bool {
    *v
}
fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}
fn momentum() -> f64 {
    0.1
}
fn eps() -> f64 {
    1e-5
}

impl Conv {
    /// A valid, stride-1 convolution with the given activation and pooling.
    pub fn new(filters: usize, width: usize, activation: Activation, pool: Option<Pool>) -> Conv {
        Conv {
            filters,
            width,
            stride: 1,
            dilation: 1,
            padding: Padding::Valid,
            activation,
            pool,
            bias: true,
        }
    }
}

impl Dense {
    /// A dense layer with a bias.
    pub fn new(units: usize, activation: Activation) -> Dense {
        Dense {
            units,
            activation,
            bias: true,
        }
    }
}
