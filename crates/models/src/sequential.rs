//! A network built from a layer list ([`crate::spec`]): shapes inferred at construction (so
//! the summary's counts are those of the real variables, and a window too short for the
//! layers is an error naming the layer), then a forward pass that picks the fused CPU ops
//! where a layer's settings allow them.
//!
//! Positions travel as `[B, C, L]` (channels first, what convolutions and pooling take) or,
//! after a recurrent layer, as `[B, T, F]` (time first, what recurrent layers take and
//! return); a layer that needs the other layout transposes, and `flatten` keeps the layout it
//! is given, so that DanQ's flattened BiLSTM output is `[T, 2H]` in that order.

use std::collections::BTreeSet;

use candle_core::{Module, Result, Tensor, D};

use crate::deeplift::{self, RecurrentRule};
use crate::layers::{
    conv1d_with_bias, dropout, linear_with_bias, max_pool1d, Conv1d, InitScheme, Linear, Mode,
};
use crate::params::{Init, Vb};
use crate::rnn::RecurrentLayer;
use crate::spec::{self, Activation, LayerKind, Layers, Padding, Pool};
use crate::{ModelError, Output, SummaryRow};

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

/// Where the builder stands.
struct Builder<'a> {
    vb: &'a Vb<'a>,
    init: InitScheme,
    window: usize,
    dropouts: u64,
    names: BTreeSet<String>,
    rows: Vec<SummaryRow>,
}

/// Elements of the tensors declared under `prefix` (the real variables, not a formula).
fn declared(tensors: &[&Tensor]) -> usize {
    tensors.iter().map(|t| t.elem_count()).sum()
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

impl Builder<'_> {
    fn list(
        &mut self,
        layers: &Layers,
        scope: &str,
        mut feat: Feat,
    ) -> std::result::Result<(Vec<Step>, Feat), ModelError> {
        let mut steps = Vec::new();
        let owns = spec::own_names(layers);
        for (i, (layer, own)) in layers.0.iter().zip(owns).enumerate() {
            let name = if scope.is_empty() {
                own
            } else {
                format!("{scope}.{own}")
            };
            let at = if scope.is_empty() {
                format!("layer {} ({name})", i + 1)
            } else {
                format!("{scope} layer {} ({name})", i + 1)
            };
            if !self.names.insert(name.clone()) {
                return Err(ModelError::Config(format!(
                    "{at}: the name {name} is used twice (each layer's parameters need their own keys)"
                )));
            }
            let step = self.layer(&layer.kind, &name, &at, feat)?;
            feat = step.output;
            // ReLU then max pooling of channels-first positions: one op.
            if let (Op::Pool(Pool::Max(k)), Some(prev)) = (&step.op, steps.last()) {
                if matches!(
                    prev,
                    Step {
                        op: Op::Activation(Activation::Relu),
                        input: Feat::Seq { .. },
                        ..
                    }
                ) {
                    let (input, name) = (prev.input, prev.name.clone());
                    steps.pop();
                    steps.push(Step {
                        op: Op::ReluMaxPool(*k),
                        input,
                        output: step.output,
                        name,
                    });
                    continue;
                }
            }
            steps.push(step);
        }
        Ok((steps, feat))
    }

    fn row(&mut self, name: &str, feat: Feat, params: usize, note: String) {
        self.rows
            .push(SummaryRow::new(name, feat.dims(), params, &note));
    }

    fn layer(
        &mut self,
        kind: &LayerKind,
        name: &str,
        at: &str,
        input: Feat,
    ) -> std::result::Result<Step, ModelError> {
        let config = |msg: String| ModelError::Config(format!("{at}: {msg}"));
        let needs_positions = |what: &str| {
            input.positions().ok_or_else(|| {
                config(format!(
                    "{what} needs positions, but its input is flat ({:?} per sample)",
                    input.dims()
                ))
            })
        };
        let (op, output) = match kind {
            LayerKind::Conv(c) => {
                let (cin, len) = needs_positions("a convolution")?;
                if c.filters == 0 || c.width == 0 || c.stride == 0 || c.dilation == 0 {
                    return Err(config(
                        "filters, width, stride and dilation must be at least 1".into(),
                    ));
                }
                check_pool(c.pool, &config)?;
                let span = c.dilation * (c.width - 1) + 1;
                let (pad, lout) = match c.padding {
                    Padding::Valid => {
                        if len < span {
                            return Err(self.short(
                                name,
                                format!("{len} positions left for a kernel spanning {span}"),
                            ));
                        }
                        ((0, 0), (len - span) / c.stride + 1)
                    }
                    Padding::Same => {
                        let lout = len.div_ceil(c.stride);
                        let total = ((lout - 1) * c.stride + span).saturating_sub(len);
                        ((total / 2, total - total / 2), lout)
                    }
                };
                let conv =
                    conv1d_with_bias(self.vb, name, cin, c.filters, c.width, self.init, c.bias)?;
                let params =
                    declared(&[&conv.weight]) + if c.bias { conv.bias.elem_count() } else { 0 };
                let mut note = c.activation.name().to_string();
                if c.padding == Padding::Same {
                    note += ", same padding";
                }
                if c.stride > 1 {
                    note += &format!(", stride {}", c.stride);
                }
                if c.dilation > 1 {
                    note += &format!(", dilation {}", c.dilation);
                }
                if !c.bias {
                    note += ", no bias";
                }
                let conv_out = Feat::Seq {
                    channels: c.filters,
                    len: lout,
                };
                self.row(name, conv_out, params, note);
                let output = match c.pool {
                    Some(p) => {
                        let out = self.pooled(name, p, conv_out)?;
                        self.row(&format!("{name}.pool"), out, 0, p.describe());
                        out
                    }
                    None => conv_out,
                };
                (
                    Op::Conv {
                        conv,
                        spec: c.clone(),
                        pad,
                        lout,
                    },
                    output,
                )
            }
            LayerKind::Dense(d) => {
                let Feat::Flat(din) = input else {
                    return Err(config(format!(
                        "a dense layer needs a flat input, got {:?} per sample; add {{\"kind\": \"flatten\"}} or a global pool before it",
                        input.dims()
                    )));
                };
                if d.units == 0 {
                    return Err(config("units must be at least 1".into()));
                }
                let linear = linear_with_bias(self.vb, name, din, d.units, self.init, d.bias)?;
                let params =
                    declared(&[&linear.weight]) + if d.bias { linear.bias.elem_count() } else { 0 };
                let out = Feat::Flat(d.units);
                self.row(name, out, params, d.activation.name().into());
                (
                    Op::Dense {
                        linear,
                        activation: d.activation,
                    },
                    out,
                )
            }
            LayerKind::BatchNorm(bn) => {
                if !(bn.momentum > 0.0 && bn.momentum <= 1.0) || bn.eps <= 0.0 {
                    return Err(config("momentum must be in (0, 1] and eps positive".into()));
                }
                let channels = match input {
                    Feat::Seq { channels, .. } => channels,
                    Feat::Time { features, .. } => features,
                    Feat::Flat(f) => f,
                };
                let layer = BatchNorm1d::new(self.vb, name, channels, bn)?;
                self.row(
                    name,
                    input,
                    declared(&[&layer.weight, &layer.bias]),
                    format!(
                        "batch norm, momentum {}, eps {}; running mean and variance ({} values) are buffers",
                        bn.momentum,
                        bn.eps,
                        2 * channels
                    ),
                );
                (Op::BatchNorm(layer), input)
            }
            LayerKind::Dropout { p } => {
                if !(0.0..1.0).contains(p) {
                    return Err(config(format!("p must be in [0, 1), got {p}")));
                }
                let stream = self.dropouts;
                self.dropouts += 1;
                self.row(name, input, 0, format!("p = {p}"));
                (Op::Dropout { p: *p, stream }, input)
            }
            LayerKind::Flatten {} => {
                let out = Feat::Flat(input.elems());
                self.row(name, out, 0, String::new());
                (Op::Flatten, out)
            }
            LayerKind::Activation { activation } => {
                self.row(name, input, 0, activation.name().into());
                (Op::Activation(*activation), input)
            }
            LayerKind::Pool { pool } => {
                let (channels, len) = needs_positions("pooling")?;
                check_pool(Some(*pool), &config)?;
                let out = self.pooled(name, *pool, Feat::Seq { channels, len })?;
                self.row(name, out, 0, pool.describe());
                (Op::Pool(*pool), out)
            }
            LayerKind::Residual { body } => {
                if body.0.is_empty() {
                    return Err(config("a residual block needs a body of layers".into()));
                }
                let note = format!("h + body(h), the {} layers below", body.0.len());
                self.row(name, input, 0, note);
                let (steps, out) = self.list(body, name, input)?;
                let same = match (input.positions(), out.positions()) {
                    (Some(a), Some(b)) => a == b,
                    _ => input == out,
                };
                if !same {
                    return Err(config(format!(
                        "the body turns {:?} into {:?} per sample; a residual body must keep the shape (\"padding\": \"same\", as many filters as input channels)",
                        input.dims(),
                        out.dims()
                    )));
                }
                (Op::Residual(steps), input)
            }
            LayerKind::Recurrent(r) => {
                let (features, steps) = needs_positions("a recurrent layer")?;
                if r.hidden == 0 {
                    return Err(config("hidden must be at least 1".into()));
                }
                if steps == 0 {
                    return Err(self.short(name, "no positions left".into()));
                }
                let layer = RecurrentLayer::new(self.vb, name, features, r, self.init)?;
                let d = if r.bidirectional { 2 } else { 1 };
                let out = match r.returns {
                    spec::Return::Sequence => Feat::Time {
                        steps,
                        features: d * r.hidden,
                    },
                    _ => Feat::Flat(d * r.hidden),
                };
                self.row(name, out, layer.params(features), layer.note());
                (Op::Recurrent(layer), out)
            }
        };
        Ok(Step {
            op,
            input,
            output,
            name: name.to_string(),
        })
    }

    fn pooled(&self, name: &str, pool: Pool, feat: Feat) -> std::result::Result<Feat, ModelError> {
        let (channels, len) = feat.positions().expect("a sequence");
        Ok(match pool {
            Pool::Max(k) | Pool::Avg(k) => {
                if len / k == 0 {
                    return Err(self.short(name, format!("{len} positions left for a pool of {k}")));
                }
                Feat::Seq {
                    channels,
                    len: len / k,
                }
            }
            Pool::GlobalMax | Pool::GlobalAvg => Feat::Flat(channels),
        })
    }

    fn short(&self, layer: &str, detail: String) -> ModelError {
        ModelError::Window {
            window: self.window,
            layer: layer.into(),
            detail,
        }
    }
}

fn check_pool(
    pool: Option<Pool>,
    config: &dyn Fn(String) -> ModelError,
) -> std::result::Result<(), ModelError> {
    match pool {
        Some(Pool::Max(0)) | Some(Pool::Avg(0)) => {
            Err(config("a pool size must be at least 1".into()))
        }
        _ => Ok(()),
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
                let y = activate(&conv.forward(&x)?, spec.activation)?;
                return pool(&y, spec.pool);
            }
            let y = conv_by_taps(conv, &x, spec.stride, spec.dilation, *lout)?;
            pool(&activate(&y, spec.activation)?, spec.pool)
        }
        Op::Dense { linear, activation } => activate(&linear.forward(x)?, *activation),
        Op::BatchNorm(bn) => bn.forward(x, step.input, mode),
        Op::Dropout { p, stream } => dropout(x, *p, *stream, mode),
        Op::Flatten => x.flatten_from(1),
        Op::Activation(a) => activate(x, *a),
        Op::Pool(p) => pool(&channels_first(x, step.input)?, Some(*p)),
        Op::Residual(body) => {
            let y = run(body, x, mode)?;
            let last = body.last().map_or(step.input, |s| s.output);
            let y = match (step.input, last) {
                (Feat::Seq { .. }, Feat::Time { .. }) => channels_first(&y, last)?,
                (Feat::Time { .. }, Feat::Seq { .. }) => time_first(&y, last)?,
                _ => y,
            };
            x + y
        }
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

/// What flows through a DeepLIFT pass: one batch `[x; r]` (inputs and references in two
/// halves), or the two as separate tensors, only the inputs' tracked.
trait Pairs: Sized {
    /// A linear map, applied to both.
    fn map(&self, f: &dyn Fn(&Tensor) -> Result<Tensor>) -> Result<Self>;
    /// An activation by the rescale rule.
    fn rescale(&self, a: Activation) -> Result<Self>;
    /// Max pooling by the max-pooling rule (`None`: as wide as the positions).
    fn max_pool(&self, k: Option<usize>) -> Result<Self>;
    /// The sum of two.
    fn add(&self, other: &Self) -> Result<Self>;
    /// A recurrent layer, gradients passing through.
    fn recurrent(&self, f: &dyn Fn(&Tensor) -> Result<Tensor>) -> Result<Self>;
}

impl Pairs for Tensor {
    fn map(&self, f: &dyn Fn(&Tensor) -> Result<Tensor>) -> Result<Self> {
        f(self)
    }

    fn rescale(&self, a: Activation) -> Result<Self> {
        deeplift::rescale(self, a)
    }

    fn max_pool(&self, k: Option<usize>) -> Result<Self> {
        match k {
            Some(k) => deeplift::max_pool(self, k),
            None => deeplift::max_pool(self, self.dim(2)?)?.squeeze(2),
        }
    }

    fn add(&self, other: &Self) -> Result<Self> {
        self + other
    }

    fn recurrent(&self, f: &dyn Fn(&Tensor) -> Result<Tensor>) -> Result<Self> {
        f(self)
    }
}

impl Pairs for (Tensor, Tensor) {
    fn map(&self, f: &dyn Fn(&Tensor) -> Result<Tensor>) -> Result<Self> {
        Ok((f(&self.0)?, f(&self.1)?))
    }

    fn rescale(&self, a: Activation) -> Result<Self> {
        deeplift::rescale_pair(&self.0, &self.1, a)
    }

    fn max_pool(&self, k: Option<usize>) -> Result<Self> {
        match k {
            Some(k) => deeplift::max_pool_pair(&self.0, &self.1, k),
            None => {
                let (x, r) = deeplift::max_pool_pair(&self.0, &self.1, self.0.dim(2)?)?;
                Ok((x.squeeze(2)?, r.squeeze(2)?))
            }
        }
    }

    fn add(&self, other: &Self) -> Result<Self> {
        Ok(((&self.0 + &other.0)?, (&self.1 + &other.1)?))
    }

    fn recurrent(&self, _: &dyn Fn(&Tensor) -> Result<Tensor>) -> Result<Self> {
        candle_core::bail!(
            "a DeepLIFT pass of separate inputs and references cannot cross a recurrent layer"
        )
    }
}

/// One step of a DeepLIFT pass: linear parts as in [`apply`], non-linear ones by the rules.
fn apply_deeplift<H: Pairs>(step: &Step, h: &H) -> Result<H> {
    let pool_rule = |y: H, p: Option<Pool>| -> Result<H> {
        match p {
            Some(Pool::Max(k)) => y.max_pool(Some(k)),
            Some(Pool::GlobalMax) => y.max_pool(None),
            other => y.map(&|t| pool(t, other)),
        }
    };
    match &step.op {
        Op::Conv {
            conv,
            spec,
            pad,
            lout,
        } => {
            let y = h.map(&|x| {
                let x = padded(x, step.input, *pad)?;
                if spec.stride == 1 && spec.dilation == 1 {
                    conv.forward(&x)
                } else {
                    conv_by_taps(conv, &x, spec.stride, spec.dilation, *lout)
                }
            })?;
            pool_rule(y.rescale(spec.activation)?, spec.pool)
        }
        Op::Dense { linear, activation } => h.map(&|x| linear.forward(x))?.rescale(*activation),
        Op::BatchNorm(bn) => h.map(&|x| bn.forward(x, step.input, Mode::Eval)),
        Op::Dropout { .. } => h.map(&|x| Ok(x.clone())),
        Op::Flatten => h.map(&|x| x.flatten_from(1)),
        Op::Activation(a) => h.rescale(*a),
        Op::Pool(p) => pool_rule(h.map(&|x| channels_first(x, step.input))?, Some(*p)),
        Op::Residual(body) => {
            let mut y = h.map(&|x| Ok(x.clone()))?;
            for s in body {
                y = apply_deeplift(s, &y)?;
            }
            let last = body.last().map_or(step.input, |s| s.output);
            let y = y.map(&|y| match (step.input, last) {
                (Feat::Seq { .. }, Feat::Time { .. }) => channels_first(y, last),
                (Feat::Time { .. }, Feat::Seq { .. }) => time_first(y, last),
                _ => Ok(y.clone()),
            })?;
            h.add(&y)
        }
        Op::Recurrent(r) => h.recurrent(&|x| r.forward(&time_first(x, step.input)?)),
        Op::ReluMaxPool(k) => h.rescale(Activation::Relu)?.max_pool(Some(*k)),
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

/// Batch normalisation over the channel axis, PyTorch's `BatchNorm1d`.
pub struct BatchNorm1d {
    weight: Tensor,
    bias: Tensor,
    running_mean: Tensor,
    running_var: Tensor,
    momentum: f64,
    eps: f64,
}

impl BatchNorm1d {
    /// Declares `name.weight` (ones), `name.bias` (zeros) and the buffers
    /// `name.running_mean` (zeros) and `name.running_var` (ones).
    pub fn new(vb: &Vb, name: &str, channels: usize, spec: &spec::BatchNorm) -> Result<Self> {
        let vb = vb.pp(name);
        Ok(BatchNorm1d {
            weight: vb.get_with_hints(channels, "weight", Init::Const(1.0))?,
            bias: vb.get_with_hints(channels, "bias", Init::Zeros)?,
            running_mean: vb.get_with_hints(channels, "running_mean", Init::Buffer(0.0))?,
            running_var: vb.get_with_hints(channels, "running_var", Init::Buffer(1.0))?,
            momentum: spec.momentum,
            eps: spec.eps,
        })
    }

    /// Normalises `x` (`feat` says which axis holds the channels). In training the batch's
    /// statistics are used and the running estimates updated (with the unbiased variance, as
    /// PyTorch); in evaluation the running estimates.
    pub fn forward(&self, x: &Tensor, feat: Feat, mode: Mode) -> Result<Tensor> {
        let cpu = x.device().is_cpu() && x.dtype() == candle_core::DType::F32;
        if cpu && !matches!(feat, Feat::Time { .. }) {
            return self.forward_cpu(x, mode);
        }
        self.forward_with_candle(x, feat, mode)
    }

    /// [`BatchNorm1d::forward`] from Candle's ops, as run on other devices (and for
    /// time-first inputs). Public so that tests can compare both on the CPU.
    pub fn forward_with_candle(&self, x: &Tensor, feat: Feat, mode: Mode) -> Result<Tensor> {
        let c = self.weight.elem_count();
        let (axes, shape): (Vec<usize>, Vec<usize>) = match feat {
            Feat::Seq { .. } => (vec![0, 2], vec![1, c, 1]),
            Feat::Time { .. } => (vec![0, 1], vec![1, 1, c]),
            Feat::Flat(_) => (vec![0], vec![1, c]),
        };
        let (mean, var) = match mode {
            Mode::Eval => (
                self.running_mean.reshape(shape.as_slice())?,
                self.running_var.reshape(shape.as_slice())?,
            ),
            Mode::Train(_) => {
                let n: usize = axes.iter().map(|&a| x.dim(a).unwrap_or(1)).product();
                if n < 2 {
                    candle_core::bail!(
                        "batch norm in training needs more than one value per channel, got {n} (a batch of one sample without positions)"
                    );
                }
                let mean = x.mean_keepdim(axes.as_slice())?;
                let centred = x.broadcast_sub(&mean)?;
                let var = centred.sqr()?.mean_keepdim(axes.as_slice())?;
                self.update(&mean.flatten_all()?, &var.flatten_all()?, n)?;
                (mean, var)
            }
        };
        let inv = (var + self.eps)?.sqrt()?.recip()?;
        x.broadcast_sub(&mean)?
            .broadcast_mul(&inv)?
            .broadcast_mul(&self.weight.reshape(shape.as_slice())?)?
            .broadcast_add(&self.bias.reshape(shape.as_slice())?)
    }

    /// Moves the running estimates towards a batch's mean and biased variance (over `n`
    /// values per channel), PyTorch's way: the variance unbiased.
    fn update(&self, mean: &Tensor, var: &Tensor, n: usize) -> Result<()> {
        let m = self.momentum;
        let step = |running: &Tensor, batch: &Tensor, scale: f64| -> Result<()> {
            let batch = batch.detach().affine(scale * m, 0.0)?;
            let new = (running.affine(1.0 - m, 0.0)? + batch)?;
            running.slice_set(&new, 0, 0)
        };
        step(&self.running_mean, mean, 1.0)?;
        step(&self.running_var, var, n as f64 / (n - 1) as f64)
    }

    /// The CPU op of `norm.rs` on `[B, C, L]` or `[B, F]` (as `[B, F, 1]`).
    fn forward_cpu(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let x3 = if dims.len() == 2 {
            x.unsqueeze(2)?
        } else {
            x.clone()
        };
        let (b, _, l) = x3.dims3()?;
        let given = match mode {
            Mode::Eval => Some(crate::norm::BatchStats {
                mean: self.running_mean.to_vec1::<f32>()?,
                var: self.running_var.to_vec1::<f32>()?,
            }),
            Mode::Train(_) => {
                if b * l < 2 {
                    candle_core::bail!(
                        "batch norm in training needs more than one value per channel, got {} (a batch of one sample without positions)",
                        b * l
                    );
                }
                None
            }
        };
        let training = given.is_none();
        let (y, stats) =
            crate::norm::batch_norm_cpu(&x3, &self.weight, &self.bias, self.eps, given)?;
        if training {
            let dev = x.device();
            let c = stats.mean.len();
            self.update(
                &Tensor::from_vec(stats.mean, c, dev)?,
                &Tensor::from_vec(stats.var, c, dev)?,
                b * l,
            )?;
        }
        y.reshape(dims)
    }
}
