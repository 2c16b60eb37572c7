//! Export as ONNX: `model.onnx`, the network as an ONNX graph (opset 17) with input `x`
//! `[N, C, L]` (float32, one-hot channels) and outputs `logits` `[N, T]` and `outputs`
//! (their sigmoid, softmax, or themselves for a model trained with mean squared error).
//!
//! Layers become: `Conv` (strides, dilations, pads for "same"), `Relu`, `Sigmoid`, `Tanh`,
//! DeepSEA's threshold as `Greater` + `Where`, `MaxPool`/`AveragePool` (window = stride),
//! `ReduceMax`/`ReduceMean` (global pools), `BatchNormalization` (time-first inputs
//! transposed around it), `Gemm` (dense, `transB`), `Flatten`, `Add` (residual blocks),
//! and `LSTM`/`GRU`/`RNN` with the gates reordered to ONNX's (i, o, f, c for LSTM; z, r, h
//! for GRU, `linear_before_reset` = 1 as PyTorch's), biases as `[W_b; R_b]`, and
//! `HardSigmoid` (alpha 0.2, beta 0.5) for Keras' gates. Dropout is the identity.
//!
//! The protobuf is written here (about 150 lines for the messages ONNX needs) rather than
//! through a generated crate: the few message types are stable, and no build step needs
//! `protoc`.

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::Tensor;
use ferrosea_models::spec::{Activation, Cell, LayerKind, Layers, Padding, Pool, Return};
use ferrosea_models::GateActivation;

use super::Exported;
use crate::TrainError;

/// A protobuf message being written.
#[derive(Default)]
struct Msg(Vec<u8>);

impl Msg {
    fn varint(&mut self, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(b);
                return;
            }
            self.0.push(b | 0x80);
        }
    }

    fn key(&mut self, field: u32, wire: u32) {
        self.varint(((field << 3) | wire) as u64);
    }

    fn int(&mut self, field: u32, v: i64) -> &mut Self {
        self.key(field, 0);
        self.varint(v as u64);
        self
    }

    fn bytes(&mut self, field: u32, v: &[u8]) -> &mut Self {
        self.key(field, 2);
        self.varint(v.len() as u64);
        self.0.extend_from_slice(v);
        self
    }

    fn string(&mut self, field: u32, v: &str) -> &mut Self {
        self.bytes(field, v.as_bytes())
    }

    fn msg(&mut self, field: u32, m: &Msg) -> &mut Self {
        self.bytes(field, &m.0)
    }

    fn float(&mut self, field: u32, v: f32) -> &mut Self {
        self.key(field, 5);
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
}

/// ONNX's element types.
const FLOAT: i64 = 1;
const INT64: i64 = 7;

/// An attribute of a node.
enum Attr {
    Int(i64),
    Ints(Vec<i64>),
    Float(f32),
    Floats(Vec<f32>),
    Str(String),
    Strs(Vec<String>),
}

fn attribute(name: &str, a: &Attr) -> Msg {
    let mut m = Msg::default();
    m.string(1, name);
    match a {
        Attr::Float(v) => {
            m.float(2, *v).int(20, 1);
        }
        Attr::Int(v) => {
            m.int(3, *v).int(20, 2);
        }
        Attr::Str(v) => {
            m.string(4, v).int(20, 3);
        }
        Attr::Floats(v) => {
            for x in v {
                m.float(7, *x);
            }
            m.int(20, 6);
        }
        Attr::Ints(v) => {
            for x in v {
                m.int(8, *x);
            }
            m.int(20, 7);
        }
        Attr::Strs(v) => {
            for x in v {
                m.string(9, x);
            }
            m.int(20, 8);
        }
    }
    m
}

fn tensor_proto(name: &str, dims: &[usize], data: &[f32]) -> Msg {
    let mut m = Msg::default();
    for &d in dims {
        m.int(1, d as i64);
    }
    m.int(2, FLOAT).string(8, name);
    let raw: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    m.bytes(9, &raw);
    m
}

fn int_tensor_proto(name: &str, data: &[i64]) -> Msg {
    let mut m = Msg::default();
    m.int(1, data.len() as i64).int(2, INT64).string(8, name);
    let raw: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    m.bytes(9, &raw);
    m
}

/// A graph input or output: float32 `[N, dims...]`, N named `batch`.
fn value_info(name: &str, dims: &[usize]) -> Msg {
    let mut shape = Msg::default();
    let mut batch = Msg::default();
    batch.string(2, "batch");
    shape.msg(1, &batch);
    for &d in dims {
        let mut dim = Msg::default();
        dim.int(1, d as i64);
        shape.msg(1, &dim);
    }
    let mut tensor = Msg::default();
    tensor.int(1, FLOAT).msg(2, &shape);
    let mut ty = Msg::default();
    ty.msg(1, &tensor);
    let mut m = Msg::default();
    m.string(1, name).msg(2, &ty);
    m
}

/// The graph being built: nodes, weights, fresh names.
struct Graph<'a> {
    nodes: Vec<Msg>,
    initializers: Vec<Msg>,
    tensors: &'a BTreeMap<String, Tensor>,
    count: usize,
}

/// Where a value stands between layers, as in the layer library: channels first `[N, C,
/// L]`, time first `[N, T, F]`, or flat `[N, F]`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Feat {
    Seq,
    Time,
    Flat,
}

impl Graph<'_> {
    fn fresh(&mut self, what: &str) -> String {
        self.count += 1;
        format!("{what}_{}", self.count)
    }

    fn node(&mut self, op: &str, inputs: &[&str], attrs: &[(&str, Attr)]) -> String {
        let out = self.fresh(&op.to_lowercase());
        self.node_to(op, inputs, attrs, &out);
        out
    }

    fn node_to(&mut self, op: &str, inputs: &[&str], attrs: &[(&str, Attr)], out: &str) {
        let mut m = Msg::default();
        for i in inputs {
            m.string(1, i);
        }
        m.string(2, out).string(3, out).string(4, op);
        for (name, a) in attrs {
            m.msg(5, &attribute(name, a));
        }
        self.nodes.push(m);
    }

    /// A ferrosea tensor as an initializer (optionally changed by `f` first); its name.
    fn weight(
        &mut self,
        key: &str,
        f: impl FnOnce(Vec<f32>, &[usize]) -> (Vec<f32>, Vec<usize>),
    ) -> Result<String, TrainError> {
        let t = self.tensors.get(key).ok_or_else(|| {
            TrainError::Data(format!(
                "the checkpoint has no {key}: its weights do not match its recipe"
            ))
        })?;
        let dims = t.dims().to_vec();
        let data = t.flatten_all()?.to_vec1::<f32>()?;
        let (data, dims) = f(data, &dims);
        let name = key.to_string();
        self.initializers.push(tensor_proto(&name, &dims, &data));
        Ok(name)
    }

    fn constant(&mut self, what: &str, dims: &[usize], data: &[f32]) -> String {
        let name = self.fresh(what);
        self.initializers.push(tensor_proto(&name, dims, data));
        name
    }

    fn int_constant(&mut self, what: &str, data: &[i64]) -> String {
        let name = self.fresh(what);
        self.initializers.push(int_tensor_proto(&name, data));
        name
    }

    fn transpose(&mut self, x: &str, perm: &[i64]) -> String {
        self.node("Transpose", &[x], &[("perm", Attr::Ints(perm.to_vec()))])
    }

    fn channels_first(&mut self, x: String, feat: Feat) -> String {
        if feat == Feat::Time {
            self.transpose(&x, &[0, 2, 1])
        } else {
            x
        }
    }

    fn time_first(&mut self, x: String, feat: Feat) -> String {
        if feat == Feat::Seq {
            self.transpose(&x, &[0, 2, 1])
        } else {
            x
        }
    }

    fn activate(&mut self, x: String, a: Activation) -> String {
        match a {
            Activation::Linear => x,
            Activation::Relu => self.node("Relu", &[&x], &[]),
            Activation::Sigmoid => self.node("Sigmoid", &[&x], &[]),
            Activation::Tanh => self.node("Tanh", &[&x], &[]),
            Activation::Threshold => {
                let zero = self.constant("zero", &[], &[0.0]);
                let low = self.constant(
                    "threshold_value",
                    &[],
                    &[ferrosea_models::spec::THRESHOLD_VALUE],
                );
                let above = self.node("Greater", &[&x, &zero], &[]);
                self.node("Where", &[&above, &x, &low], &[])
            }
        }
    }

    /// Pooling of `[N, C, L]`; the result's layout.
    fn pool(&mut self, x: String, p: Option<Pool>) -> (String, Feat) {
        match p {
            None => (x, Feat::Seq),
            Some(Pool::Max(k)) if k > 1 => (
                self.node(
                    "MaxPool",
                    &[&x],
                    &[
                        ("kernel_shape", Attr::Ints(vec![k as i64])),
                        ("strides", Attr::Ints(vec![k as i64])),
                    ],
                ),
                Feat::Seq,
            ),
            Some(Pool::Avg(k)) if k > 1 => (
                self.node(
                    "AveragePool",
                    &[&x],
                    &[
                        ("kernel_shape", Attr::Ints(vec![k as i64])),
                        ("strides", Attr::Ints(vec![k as i64])),
                    ],
                ),
                Feat::Seq,
            ),
            Some(Pool::Max(_)) | Some(Pool::Avg(_)) => (x, Feat::Seq),
            Some(Pool::GlobalMax) => (self.reduce("ReduceMax", &x, 2), Feat::Flat),
            Some(Pool::GlobalAvg) => (self.reduce("ReduceMean", &x, 2), Feat::Flat),
        }
    }

    fn reduce(&mut self, op: &str, x: &str, axis: i64) -> String {
        self.node(
            op,
            &[x],
            &[("axes", Attr::Ints(vec![axis])), ("keepdims", Attr::Int(0))],
        )
    }

    /// The nodes of `layers` (named, positions of `len` along the way) on `x`.
    fn layers(
        &mut self,
        layers: &Layers,
        prefix: &str,
        mut x: String,
        mut feat: Feat,
        mut len: usize,
    ) -> Result<(String, Feat, usize), TrainError> {
        for layer in &layers.0 {
            let name = format!("{prefix}{}", layer.name.as_deref().expect("named layers"));
            match &layer.kind {
                LayerKind::Conv(c) => {
                    let input = self.channels_first(x, feat);
                    let w = self.weight(&format!("{name}.weight"), |d, s| (d, s.to_vec()))?;
                    let mut inputs = vec![input, w];
                    if c.bias {
                        inputs.push(self.weight(&format!("{name}.bias"), |d, s| (d, s.to_vec()))?);
                    }
                    let span = c.dilation * (c.width - 1) + 1;
                    let (pads, lout) = match c.padding {
                        Padding::Valid => ((0, 0), (len - span) / c.stride + 1),
                        Padding::Same => {
                            let lout = len.div_ceil(c.stride);
                            let total = ((lout - 1) * c.stride + span).saturating_sub(len);
                            ((total / 2, total - total / 2), lout)
                        }
                    };
                    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
                    let y = self.node(
                        "Conv",
                        &refs,
                        &[
                            ("kernel_shape", Attr::Ints(vec![c.width as i64])),
                            ("strides", Attr::Ints(vec![c.stride as i64])),
                            ("dilations", Attr::Ints(vec![c.dilation as i64])),
                            ("pads", Attr::Ints(vec![pads.0 as i64, pads.1 as i64])),
                        ],
                    );
                    let y = self.activate(y, c.activation);
                    (x, feat) = self.pool(y, c.pool);
                    len = match c.pool {
                        Some(Pool::Max(k)) | Some(Pool::Avg(k)) => lout / k.max(1),
                        _ => lout,
                    };
                }
                LayerKind::Dense(d) => {
                    let w = self.weight(&format!("{name}.weight"), |d, s| (d, s.to_vec()))?;
                    let mut inputs = vec![x, w];
                    if d.bias {
                        inputs.push(self.weight(&format!("{name}.bias"), |d, s| (d, s.to_vec()))?);
                    }
                    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
                    let y = self.node("Gemm", &refs, &[("transB", Attr::Int(1))]);
                    x = self.activate(y, d.activation);
                }
                LayerKind::BatchNorm(bn) => {
                    let input = if feat == Feat::Time {
                        self.transpose(&x, &[0, 2, 1])
                    } else {
                        x
                    };
                    let p: Vec<String> = ["weight", "bias", "running_mean", "running_var"]
                        .iter()
                        .map(|k| self.weight(&format!("{name}.{k}"), |d, s| (d, s.to_vec())))
                        .collect::<Result<_, _>>()?;
                    let y = self.node(
                        "BatchNormalization",
                        &[&input, &p[0], &p[1], &p[2], &p[3]],
                        &[("epsilon", Attr::Float(bn.eps as f32))],
                    );
                    x = if feat == Feat::Time {
                        self.transpose(&y, &[0, 2, 1])
                    } else {
                        y
                    };
                }
                LayerKind::Dropout { .. } => {}
                LayerKind::Flatten {} => {
                    x = self.node("Flatten", &[&x], &[("axis", Attr::Int(1))]);
                    feat = Feat::Flat;
                }
                LayerKind::Activation { activation } => x = self.activate(x, *activation),
                LayerKind::Pool { pool } => {
                    let input = self.channels_first(x, feat);
                    (x, feat) = self.pool(input, Some(*pool));
                    if let Pool::Max(k) | Pool::Avg(k) = pool {
                        len /= k.max(&1);
                    }
                }
                LayerKind::Residual { body } => {
                    let (y, last, _) =
                        self.layers(body, &format!("{name}."), x.clone(), feat, len)?;
                    let y = match (feat, last) {
                        (Feat::Seq, Feat::Time) | (Feat::Time, Feat::Seq) => {
                            self.transpose(&y, &[0, 2, 1])
                        }
                        _ => y,
                    };
                    x = self.node("Add", &[&x, &y], &[]);
                }
                LayerKind::Recurrent(r) => {
                    let input = self.time_first(x, feat);
                    (x, feat) = self.recurrent(&name, r, &input)?;
                }
            }
        }
        Ok((x, feat, len))
    }

    /// An ONNX LSTM, GRU or RNN over time-first `x`; the result and its layout.
    fn recurrent(
        &mut self,
        name: &str,
        r: &ferrosea_models::spec::Recurrent,
        x: &str,
    ) -> Result<(String, Feat), TrainError> {
        let h = r.hidden;
        let dirs: &[&str] = if r.bidirectional {
            &["forward", "backward"]
        } else {
            &["forward"]
        };
        let d = dirs.len();
        // Our gate blocks, in ONNX's order.
        let (op, order): (&str, &[usize]) = match r.cell {
            Cell::Lstm => ("LSTM", &[0, 3, 1, 2]),
            Cell::Gru => ("GRU", &[1, 0, 2]),
            Cell::Simple => ("RNN", &[0]),
        };
        let g = order.len();
        let reorder = |v: &[f32], cols: usize| -> Vec<f32> {
            order
                .iter()
                .flat_map(|&b| v[b * h * cols..(b + 1) * h * cols].iter().copied())
                .collect()
        };
        let (mut w, mut rr, mut b) = (Vec::new(), Vec::new(), Vec::new());
        let mut input = 0;
        for dir in dirs {
            let get = |k: &str| -> Result<Tensor, TrainError> {
                self.tensors.get(&format!("{name}.{dir}.{k}")).cloned().ok_or_else(|| {
                    TrainError::Data(format!(
                        "the checkpoint has no {name}.{dir}.{k}: its weights do not match its recipe"
                    ))
                })
            };
            let wi = get("weight_ih")?;
            input = wi.dim(1)?;
            w.extend(reorder(&wi.flatten_all()?.to_vec1::<f32>()?, input));
            rr.extend(reorder(
                &get("weight_hh")?.flatten_all()?.to_vec1::<f32>()?,
                h,
            ));
            let (bi, bh) = match r.cell {
                Cell::Gru => (get("bias_ih")?, get("bias_hh")?),
                _ => {
                    let bi = get("bias")?;
                    let bh = bi.zeros_like()?;
                    (bi, bh)
                }
            };
            b.extend(reorder(&bi.to_vec1::<f32>()?, 1));
            b.extend(reorder(&bh.to_vec1::<f32>()?, 1));
        }
        let w = self.constant(&format!("{name}_W"), &[d, g * h, input], &w);
        let rr = self.constant(&format!("{name}_R"), &[d, g * h, h], &rr);
        let b = self.constant(&format!("{name}_B"), &[d, 2 * g * h], &b);
        let seq = self.transpose(x, &[1, 0, 2]);
        let mut attrs = vec![
            ("hidden_size", Attr::Int(h as i64)),
            (
                "direction",
                Attr::Str(if d == 2 { "bidirectional" } else { "forward" }.into()),
            ),
        ];
        if r.cell == Cell::Gru {
            attrs.push(("linear_before_reset", Attr::Int(1)));
        }
        if r.gate_activation == GateActivation::HardSigmoid && r.cell != Cell::Simple {
            let per: &[&str] = match r.cell {
                Cell::Lstm => &["HardSigmoid", "Tanh", "Tanh"],
                _ => &["HardSigmoid", "Tanh"],
            };
            let all = (0..d).flat_map(|_| per.iter().map(|s| s.to_string()));
            attrs.push(("activations", Attr::Strs(all.collect())));
            attrs.push(("activation_alpha", Attr::Floats(vec![0.2; d])));
            attrs.push(("activation_beta", Attr::Floats(vec![0.5; d])));
        }
        let y = self.fresh(&format!("{name}_Y"));
        let y_h = self.fresh(&format!("{name}_Y_h"));
        let mut m = Msg::default();
        for i in [seq.as_str(), w.as_str(), rr.as_str(), b.as_str()] {
            m.string(1, i);
        }
        m.string(2, &y)
            .string(2, &y_h)
            .string(3, name)
            .string(4, op);
        for (n, a) in &attrs {
            m.msg(5, &attribute(n, a));
        }
        self.nodes.push(m);
        let flat_dirs = self.int_constant("shape", &[0, 0, -1]);
        match r.returns {
            Return::Sequence | Return::Max => {
                // Y [T, D, N, H] -> [N, T, D, H] -> [N, T, D·H]
                let t = self.transpose(&y, &[2, 0, 1, 3]);
                let seq = self.node("Reshape", &[&t, &flat_dirs], &[]);
                if r.returns == Return::Max {
                    Ok((self.reduce("ReduceMax", &seq, 1), Feat::Flat))
                } else {
                    Ok((seq, Feat::Time))
                }
            }
            Return::Last => {
                // Y_h [D, N, H] -> [N, D, H] -> [N, D·H]
                let t = self.transpose(&y_h, &[1, 0, 2]);
                let flat = self.int_constant("shape", &[0, -1]);
                Ok((self.node("Reshape", &[&t, &flat], &[]), Feat::Flat))
            }
        }
    }
}

/// Writes `model.onnx` into `dir`.
pub(super) fn write(model: &Exported, dir: &Path) -> Result<(), TrainError> {
    let mut g = Graph {
        nodes: Vec::new(),
        initializers: Vec::new(),
        tensors: &model.tensors,
        count: 0,
    };
    let (h, feat, _) = g.layers(&model.layers, "", "x".into(), Feat::Seq, model.meta.window)?;
    if feat != Feat::Flat {
        return Err(TrainError::Data(
            "the last layer does not give a flat output".into(),
        ));
    }
    let w = g.weight("output.weight", |d, s| (d, s.to_vec()))?;
    let b = g.weight("output.bias", |d, s| (d, s.to_vec()))?;
    let y = g.node("Gemm", &[&h, &w, &b], &[("transB", Attr::Int(1))]);
    let y = g.activate(y, model.meta.model.output_activation());
    g.node_to("Identity", &[&y], &[], "logits");
    match model.meta.loss.name() {
        "softmax" => g.node_to("Softmax", &["logits"], &[("axis", Attr::Int(1))], "outputs"),
        "mse" => g.node_to("Identity", &["logits"], &[], "outputs"),
        _ => g.node_to("Sigmoid", &["logits"], &[], "outputs"),
    }
    let targets = model.meta.targets.len();
    let mut graph = Msg::default();
    for n in &g.nodes {
        graph.msg(1, n);
    }
    graph.string(2, "ferrosea");
    for t in &g.initializers {
        graph.msg(5, t);
    }
    graph.msg(11, &value_info("x", &[model.channels, model.meta.window]));
    graph.msg(12, &value_info("logits", &[targets]));
    graph.msg(12, &value_info("outputs", &[targets]));
    let mut opset = Msg::default();
    opset.string(1, "").int(2, 17);
    let mut m = Msg::default();
    m.int(1, 8)
        .string(2, "ferrosea")
        .string(3, env!("CARGO_PKG_VERSION"))
        .msg(7, &graph)
        .msg(8, &opset);
    for (k, v) in [
        ("targets", model.meta.targets.join("\n")),
        ("alphabet", model.meta.alphabet.symbols().to_string()),
        ("loss", model.meta.loss.name().to_string()),
    ] {
        let mut e = Msg::default();
        e.string(1, k).string(2, &v);
        m.msg(14, &e);
    }
    super::write_file(&dir.join("model.onnx"), &m.0)
}
