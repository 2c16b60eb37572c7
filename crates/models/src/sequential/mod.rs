//! A network built from a layer list ([`crate::spec`]): shapes inferred at construction (so
//! the summary's counts are those of the real variables, and a window too short for the
//! layers is an error naming the layer), then a forward pass that picks the fused CPU ops
//! where a layer's settings allow them.
//!
//! Positions travel as `[B, C, L]` (channels first, what convolutions and pooling take) or,
//! after a recurrent layer, as `[B, T, F]` (time first, what recurrent layers take and
//! return); a layer that needs the other layout transposes, and `flatten` keeps the layout it
//! is given, so that DanQ's flattened BiLSTM output is `[T, 2H]` in that order.
//!
//! This file holds the network and its forward pass; `build.rs` builds it from the layer
//! list, `pairs.rs` runs DeepLIFT's paired passes, and `batch_norm.rs` is the batch-norm layer.

use std::collections::BTreeSet;

use candle_core::{Module, Result, Tensor, D};

use crate::deeplift::{self, RecurrentRule};
use crate::layers::{dropout, linear_with_bias, max_pool1d, Conv1d, InitScheme, Linear, Mode};
use crate::params::Vb;
use crate::rnn::RecurrentLayer;
use crate::spec::{self, Activation, Layers, Pool};
use crate::{ModelError, Output, SummaryRow};

pub use batch_norm::BatchNorm1d;
use build::{declared, Builder};
use pairs::{apply_deeplift, Pairs};

mod batch_norm;
mod build;
mod pairs;

/// The shape of one sample between layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feat {
    /// `[C, L]`: channels first.
    Seq {
        /// Channels.
        channels: usize,
        /// Positions.
        len: usize,
    },
    /// `[T, F]`: time first (a recurrent layer's sequence).
    Time {
        /// Steps.
        steps: usize,
        /// Features per step.
        features: usize,
    },
    /// `[F]`.
    Flat(usize),
}

impl Feat {
    /// The per-sample dimensions, as the summary shows them.
    pub fn dims(self) -> Vec<usize> {
        match self {
            Feat::Seq { channels, len } => vec![channels, len],
            Feat::Time { steps, features } => vec![steps, features],
            Feat::Flat(f) => vec![f],
        }
    }

    fn elems(self) -> usize {
        self.dims().iter().product()
    }

    /// (channels, positions) of either sequence layout.
    fn positions(self) -> Option<(usize, usize)> {
        match self {
            Feat::Seq { channels, len } => Some((channels, len)),
            Feat::Time { steps, features } => Some((features, steps)),
            Feat::Flat(_) => None,
        }
    }
}

/// A built layer.
enum Op {
    Conv {
        conv: Conv1d,
        spec: spec::Conv,
        pad: (usize, usize),
        lout: usize,
    },
    Dense {
        linear: Linear,
        activation: Activation,
    },
    BatchNorm(BatchNorm1d),
    Dropout {
        p: f32,
        stream: u64,
    },
    Flatten,
    Activation(Activation),
    Pool(Pool),
    Residual(Vec<Step>),
    Recurrent(RecurrentLayer),
    /// An `activation` ReLU and the max `pool` after it, run as one op on the CPU.
    ReluMaxPool(usize),
}

struct Step {
    op: Op,
    input: Feat,
    output: Feat,
    /// The layer's name (its checkpoint key prefix).
    name: String,
}

/// A network built from layers, ending in the output layer.
pub struct Sequential {
    steps: Vec<Step>,
    output: Linear,
    output_activation: Activation,
    rows: Vec<SummaryRow>,
}

impl Sequential {
    /// Builds `layers` for inputs `[channels, window]`, then the output layer of `targets`
    /// logits.
    pub fn new(
        layers: &Layers,
        (init, output_activation): (InitScheme, Activation),
        channels: usize,
        window: usize,
        targets: usize,
        vb: &Vb,
    ) -> std::result::Result<Sequential, ModelError> {
        if layers.0.is_empty() {
            return Err(ModelError::Config("the model lists no layers".into()));
        }
        let mut b = Builder {
            vb,
            init,
            window,
            dropouts: 0,
            names: BTreeSet::new(),
            rows: Vec::new(),
        };
        let input = Feat::Seq {
            channels,
            len: window,
        };
        let (steps, last) = b.list(layers, "", input)?;
        let Feat::Flat(flat) = last else {
            return Err(ModelError::Config(format!(
                "the last layer gives {:?} per sample; the output layer needs a flat input (end with a \"flatten\", a global pool, or a recurrent layer returning \"last\" or \"max\")",
                last.dims()
            )));
        };
        if !b.names.insert("output".into()) {
            return Err(ModelError::Config(
                "\"output\" names the output layer, which follows the listed layers; name the layer otherwise".into(),
            ));
        }
        let output = linear_with_bias(vb, "output", flat, targets, init, true)?;
        b.rows.push(SummaryRow::new(
            "output",
            vec![targets],
            declared(&[&output.weight, &output.bias]),
            &match output_activation {
                Activation::Linear => "logits (the loss applies the sigmoid or softmax)".into(),
                a => format!("{} outputs", a.name()),
            },
        ));
        Ok(Sequential {
            steps,
            output,
            output_activation,
            rows: b.rows,
        })
    }

    /// `[B, C, L]` -> logits `[B, T]` and the input of the output layer.
    pub fn forward(&self, x: &Tensor, mode: Mode) -> Result<Output> {
        let hidden = run(&self.steps, x, mode)?;
        let logits = activate(&self.output.forward(&hidden)?, self.output_activation)?;
        Ok(Output { logits, hidden })
    }

    /// The layer table.
    pub fn summary(&self) -> &[SummaryRow] {
        &self.rows
    }

    /// The recurrent layers (name and description), which DeepLIFT has no rule for.
    pub fn recurrent_layers(&self) -> Vec<(String, String)> {
        fn walk(steps: &[Step], out: &mut Vec<(String, String)>) {
            for s in steps {
                match &s.op {
                    Op::Recurrent(r) => out.push((s.name.clone(), r.note())),
                    Op::Residual(body) => walk(body, out),
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.steps, &mut out);
        out
    }

    /// Logits `[2B, T]` of a DeepLIFT batch `[x; r]` (`[2B, C, L]`: inputs, then their
    /// references), in evaluation mode, with DeepLIFT's rules as the backward passes of the
    /// non-linear layers ([`crate::deeplift`]). A recurrent layer is an error naming it,
    /// unless `recurrent` lets gradients pass through it.
    pub fn forward_deeplift(&self, xr: &Tensor, recurrent: RecurrentRule) -> Result<Tensor> {
        if recurrent == RecurrentRule::Refuse {
            if let Some((name, note)) = self.recurrent_layers().into_iter().next() {
                candle_core::bail!(
                    "DeepLIFT has no rule for layer {name} ({note}): a recurrent layer runs \
                     as one op, and the gates of an LSTM or GRU multiply signals, which the \
                     rescale rule does not cover; attribute with integrated gradients, or let \
                     the layer's gradient pass through it as Captum does with nn.LSTM \
                     (--recurrent-rule gradient)"
                );
            }
        }
        let mut h = xr.clone();
        for step in &self.steps {
            h = apply_deeplift(step, &h)?;
        }
        deeplift::rescale(&self.output.forward(&h)?, self.output_activation)
    }

    /// [`forward_deeplift`](Self::forward_deeplift) with the inputs `x` and their
    /// references `r` as separate tensors, `[B, C, L]` each, and the references not tracked:
    /// the backward pass then runs through the inputs' half alone, with the references'
    /// gradients taken equal to the inputs' (which they are in a network of linear layers and
    /// DeepLIFT's rules: both halves start from the same output gradient, and every rule
    /// gives both the same multipliers). Logits `[B, T]` of the inputs and of the references.
    /// A network with recurrent layers is an error (use the joined form).
    pub fn forward_deeplift_pair(&self, x: &Tensor, r: &Tensor) -> Result<(Tensor, Tensor)> {
        if let Some((name, _)) = self.recurrent_layers().into_iter().next() {
            candle_core::bail!(
                "layer {name} is recurrent: its two halves' gradients differ, so DeepLIFT \
                 needs the joined pass (forward_deeplift)"
            );
        }
        let mut h = (x.clone(), r.detach());
        for step in &self.steps {
            h = apply_deeplift(step, &h)?;
        }
        let out = h.map(&|t| self.output.forward(t))?;
        out.rescale(self.output_activation)
    }
}

/// `x` in channels-first layout.
fn channels_first(x: &Tensor, feat: Feat) -> Result<Tensor> {
    match feat {
        Feat::Time { .. } => x.transpose(1, 2)?.contiguous(),
        _ => Ok(x.clone()),
    }
}

/// A convolution's input: channels first, with `pad` zeros before and after the positions.
fn padded(x: &Tensor, feat: Feat, pad: (usize, usize)) -> Result<Tensor> {
    let x = channels_first(x, feat)?;
    if pad.0 + pad.1 > 0 {
        x.pad_with_zeros(2, pad.0, pad.1)
    } else {
        Ok(x)
    }
}

/// `x` in time-first layout.
fn time_first(x: &Tensor, feat: Feat) -> Result<Tensor> {
    match feat {
        Feat::Seq { .. } => x.transpose(1, 2)?.contiguous(),
        _ => Ok(x.clone()),
    }
}

fn run(steps: &[Step], x: &Tensor, mode: Mode) -> Result<Tensor> {
    let mut h = x.clone();
    for step in steps {
        h = apply(step, &h, mode)?;
    }
    Ok(h)
}

fn apply(step: &Step, x: &Tensor, mode: Mode) -> Result<Tensor> {
    match &step.op {
        Op::Conv {
            conv,
            spec,
            pad,
            lout,
        } => {
            let x = padded(x, step.input, *pad)?;
            if spec.stride == 1 && spec.dilation == 1 {
                match (spec.activation, spec.pool) {
                    // The fused convolution + ReLU + max pool of the CPU.
                    (Activation::Relu, None) => return conv.forward_relu_pool(&x, 1),
                    (Activation::Relu, Some(Pool::Max(k))) => return conv.forward_relu_pool(&x, k),
                    // DeepBind's: a max pool as wide as the output (the fused op keeps
                    // window positions in 16 bits).
                    (Activation::Relu, Some(Pool::GlobalMax)) if *lout < u16::MAX as usize => {
                        return conv.forward_relu_pool(&x, *lout)?.squeeze(2)
                    }
                    _ => {}
                }
            }
            let y = conv_linear(conv, spec, &x, *lout)?;
            pool(&activate(&y, spec.activation)?, spec.pool)
        }
        Op::Dense { linear, activation } => activate(&linear.forward(x)?, *activation),
        Op::BatchNorm(bn) => bn.forward(x, step.input, mode),
        Op::Dropout { p, stream } => dropout(x, *p, *stream, mode),
        Op::Flatten => x.flatten_from(1),
        Op::Activation(a) => activate(x, *a),
        Op::Pool(p) => pool(&channels_first(x, step.input)?, Some(*p)),
        Op::Residual(body) => x + residual_layout(step, body, &run(body, x, mode)?)?,
        Op::Recurrent(r) => r.forward(&time_first(x, step.input)?),
        Op::ReluMaxPool(k) => {
            if x.device().is_cpu() && x.dtype() == candle_core::DType::F32 {
                crate::norm::relu_max_pool_cpu(x, *k)
            } else {
                crate::layers::relu_max_pool1d(x, *k)
            }
        }
    }
}

/// A convolution's linear part (`x` already padded): Candle's convolution at stride and
/// dilation 1, a sum over kernel taps otherwise.
fn conv_linear(conv: &Conv1d, spec: &spec::Conv, x: &Tensor, lout: usize) -> Result<Tensor> {
    if spec.stride == 1 && spec.dilation == 1 {
        conv.forward(x)
    } else {
        conv_by_taps(conv, x, spec.stride, spec.dilation, lout)
    }
}

/// A residual body's output `y` in the layout of the block's input, ready to add to it.
fn residual_layout(step: &Step, body: &[Step], y: &Tensor) -> Result<Tensor> {
    let last = body.last().map_or(step.input, |s| s.output);
    match (step.input, last) {
        (Feat::Seq { .. }, Feat::Time { .. }) => channels_first(y, last),
        (Feat::Time { .. }, Feat::Seq { .. }) => time_first(y, last),
        _ => Ok(y.clone()),
    }
}

fn activate(x: &Tensor, a: Activation) -> Result<Tensor> {
    match a {
        Activation::Linear => Ok(x.clone()),
        Activation::Relu => x.relu(),
        Activation::Sigmoid => candle_nn::ops::sigmoid(x),
        Activation::Tanh => x.tanh(),
        // relu(x) + 1e-6 where x <= 0 (the comparison is a constant to the gradient).
        Activation::Threshold => {
            let low = x.le(0f32)?.to_dtype(x.dtype())?;
            x.relu()? + low.affine(crate::spec::THRESHOLD_VALUE as f64, 0.0)?
        }
    }
}

/// Pooling of `[B, C, L]`.
fn pool(x: &Tensor, p: Option<Pool>) -> Result<Tensor> {
    match p {
        None => Ok(x.clone()),
        Some(Pool::Max(k)) => max_pool1d(x, k),
        Some(Pool::Avg(k)) => {
            if k <= 1 {
                return Ok(x.clone());
            }
            let (b, c, l) = x.dims3()?;
            x.narrow(2, 0, l / k * k)?
                .reshape((b, c, l / k, k))?
                .mean(D::Minus1)
        }
        Some(Pool::GlobalMax) => x.max(2),
        Some(Pool::GlobalAvg) => x.mean(2),
    }
}

/// A strided or dilated convolution as a sum over kernel taps: `y = Σ_k W[:, :, k] ×
/// x[:, :, k·d + s·t]`, from Candle's matrix products (whose gradients are right on every
/// device).
fn conv_by_taps(
    conv: &Conv1d,
    x: &Tensor,
    stride: usize,
    dilation: usize,
    lout: usize,
) -> Result<Tensor> {
    let (b, c, _) = x.dims3()?;
    let (o, _, k) = conv.weight.dims3()?;
    let mut y: Option<Tensor> = None;
    for tap in 0..k {
        let xs = x.narrow(2, tap * dilation, (lout - 1) * stride + 1)?;
        let xs = if stride > 1 {
            xs.pad_with_zeros(2, 0, stride - 1)?
                .reshape((b, c, lout, stride))?
                .narrow(3, 0, 1)?
                .squeeze(3)?
        } else {
            xs
        };
        let w = conv
            .weight
            .narrow(2, tap, 1)?
            .squeeze(2)?
            .unsqueeze(0)?
            .broadcast_as((b, o, c))?
            .contiguous()?;
        let term = w.matmul(&xs.contiguous()?)?;
        y = Some(match y {
            Some(y) => (y + term)?,
            None => term,
        });
    }
    y.expect("a kernel of at least one tap")
        .broadcast_add(&conv.bias.reshape((1, (), 1))?)
}
