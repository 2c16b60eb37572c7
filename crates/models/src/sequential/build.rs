//! Building a [`Sequential`](super::Sequential) from a layer list: each layer's shape inferred in turn, its
//! parameters declared under its name, and the op that will run it chosen.

use std::collections::BTreeSet;

use candle_core::Tensor;

use super::{BatchNorm1d, Feat, Op, Step};
use crate::layers::{conv1d_with_bias, linear_with_bias, InitScheme};
use crate::params::Vb;
use crate::rnn::RecurrentLayer;
use crate::spec::{self, Activation, LayerKind, Layers, Padding, Pool};
use crate::{ModelError, SummaryRow};

/// Where the builder stands.
pub(super) struct Builder<'a> {
    pub(super) vb: &'a Vb<'a>,
    pub(super) init: InitScheme,
    pub(super) window: usize,
    pub(super) dropouts: u64,
    pub(super) names: BTreeSet<String>,
    pub(super) rows: Vec<SummaryRow>,
}

/// Elements of the tensors declared under `prefix` (the real variables, not a formula).
pub(super) fn declared(tensors: &[&Tensor]) -> usize {
    tensors.iter().map(|t| t.elem_count()).sum()
}

impl Builder<'_> {
    pub(super) fn list(
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

    pub(super) fn layer(
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

    pub(super) fn short(&self, layer: &str, detail: String) -> ModelError {
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
