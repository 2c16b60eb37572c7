//! `ferrosea-train import`: published weights as a ferrosea checkpoint directory.
//!
//! Each format's layers are written out as a layer list (`"arch": "layers"`) whose sizes come
//! from the weights (so that the published models and smaller ones of the same structure both
//! import), the tensors renamed to ours and converted once:
//!
//! | `--from` | file | what changes |
//! |---|---|---|
//! | `kipoi-deepsea` | Kipoi's `deepsea_variant_effects.pth` / `deepsea_predict.pth` (`1.*` / `2.*` keys) | Conv2d (1 x k) kernels become 1-D; the first convolution's input channels go from A,G,C,T to A,C,G,T; `Threshold(0, 1e-6)` stays itself (the `threshold` activation) |
//! | `beluga` | Kipoi's `deepsea.beluga.pth` (`model.*`) | as Kipoi's DeepSEA, ReLU; 2000 bp |
//! | `selene-deepsea` | a Selene checkpoint (`best_model.pth.tar`: `state_dict`, keys `conv_net.*`, `classifier.*`, maybe under `model.` or `module.`) | none |
//! | `selene-danq` | a Selene checkpoint of its DanQ (`nnet.*`, `bdlstm.0.*`, `classifier.*`) | an LSTM's two biases summed |
//! | `keras-danq` | DanQ's Keras 0.2 `DanQ_bestmodel.hdf5` (`layer_0`..`layer_9`, `param_k`) | the kernel flipped (Theano convolves) and A,G,C,T to A,C,G,T; the LSTM's 12 parameters per direction (i, c, f, o) to ours (i, f, c, o), transposed; Keras 0.2's dropout at prediction (x 0.8 before the LSTM, x 0.5 before the dense layer) folded into the next weights; hard-sigmoid gates |
//! | `pytorch` | ferrosea's own export (`model.safetensors` + `config.json`) | the LSTM's two biases summed |
//!
//! Every expected tensor is looked up by name and shape; a file of another architecture is
//! an error naming the first key or shape that does not fit and what was expected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor, D};
use ferrosea_models::spec::Layers;
use ferrosea_models::{LayersConfig, ModelConfig};
use serde_json::json;

use crate::checkpoint::CheckpointMeta;
use crate::config::TrainConfig;
use crate::TrainError;

/// DeepSEA's 919 target names, in output order (data/deepsea; MIT / CC-BY 3.0): the default
/// targets of a model with 919 outputs.
pub const DEEPSEA_NAMES: &str =
    include_str!("../../../../data/deepsea/deepsea_919_predictor.names.txt");

/// Where the weights come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    /// Kipoi's PyTorch DeepSEA (variantEffects or predict).
    KipoiDeepsea,
    /// Kipoi's PyTorch Beluga.
    Beluga,
    /// A Selene checkpoint of its DeepSEA.
    SeleneDeepsea,
    /// A Selene checkpoint of its DanQ.
    SeleneDanq,
    /// DanQ's Keras 0.2 weight file.
    KerasDanq,
    /// ferrosea's own PyTorch export (a directory or its model.safetensors).
    Pytorch,
}

impl ImportFormat {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ImportFormat::KipoiDeepsea => "kipoi-deepsea",
            ImportFormat::Beluga => "beluga",
            ImportFormat::SeleneDeepsea => "selene-deepsea",
            ImportFormat::SeleneDanq => "selene-danq",
            ImportFormat::KerasDanq => "keras-danq",
            ImportFormat::Pytorch => "pytorch",
        }
    }

    /// The window of the published model.
    fn default_window(self) -> usize {
        match self {
            ImportFormat::Beluga => 2000,
            _ => 1000,
        }
    }
}

/// What to import.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// The format.
    pub from: ImportFormat,
    /// The weight file (or, for `pytorch`, the export's directory).
    pub weights: PathBuf,
    /// The checkpoint directory to write.
    pub out: PathBuf,
    /// Target names, one per line [default: DeepSEA's 919 for a model with 919 outputs].
    pub targets: Option<PathBuf>,
    /// The window the model reads [default: the published model's].
    pub window: Option<usize>,
    /// Recorded in `import.json`.
    pub command_line: String,
}

/// What `import` wrote.
#[derive(Clone, Debug)]
pub struct ImportReport {
    /// The checkpoint JSON.
    pub checkpoint: PathBuf,
    /// The window.
    pub window: usize,
    /// The number of targets.
    pub targets: usize,
    /// Parameters imported.
    pub parameters: usize,
}

/// The tensors of a weight file, by their (prefix-stripped) keys, looked up by name and shape.
struct Weights {
    file: PathBuf,
    what: &'static str,
    tensors: BTreeMap<String, Tensor>,
}

impl Weights {
    /// The tensor `key`, of `rank` dimensions; `None` in `expect` for a free dimension.
    fn get(&self, key: &str, expect: &[Option<usize>]) -> Result<Tensor, TrainError> {
        let t = self.tensors.get(key).ok_or_else(|| {
            let have: Vec<&str> = self.tensors.keys().take(6).map(String::as_str).collect();
            TrainError::Data(format!(
                "{}: no tensor {key}, which {} has (the file holds {} tensors: {}{}); is it \
                 another architecture?",
                self.file.display(),
                self.what,
                self.tensors.len(),
                have.join(", "),
                if self.tensors.len() > 6 { ", ..." } else { "" }
            ))
        })?;
        let dims = t.dims();
        let fits = dims.len() == expect.len()
            && dims
                .iter()
                .zip(expect)
                .all(|(d, e)| e.is_none_or(|e| e == *d));
        if !fits {
            let want: Vec<String> = expect
                .iter()
                .map(|e| e.map_or("*".into(), |v| v.to_string()))
                .collect();
            return Err(TrainError::Data(format!(
                "{}: tensor {key} is {dims:?}, but {} has [{}] there",
                self.file.display(),
                self.what,
                want.join(", ")
            )));
        }
        Ok(t.to_dtype(DType::F32)?)
    }

    /// Drops a prefix every key has (e.g. Kipoi's `1.`, Selene's `model.`).
    fn strip(&mut self, prefixes: &[&str]) {
        for p in prefixes {
            if !self.tensors.is_empty() && self.tensors.keys().all(|k| k.starts_with(p)) {
                self.tensors = std::mem::take(&mut self.tensors)
                    .into_iter()
                    .map(|(k, v)| (k[p.len()..].to_string(), v))
                    .collect();
            }
        }
    }
}

/// A (1 x k) Conv2d kernel `[out, in, 1, k]` as a 1-D one; with `agct`, its input channels
/// from A,G,C,T to A,C,G,T.
fn conv2d_to_1d(w: &Tensor, agct: bool) -> Result<Tensor, TrainError> {
    let w = w.squeeze(2)?;
    Ok(if agct { acgt_channels(&w)? } else { w })
}

/// Input channels (dimension 1) from A,G,C,T to A,C,G,T (the same swap both ways).
fn acgt_channels(w: &Tensor) -> Result<Tensor, TrainError> {
    let idx = Tensor::new(&[0u32, 2, 1, 3], w.device())?;
    Ok(w.index_select(&idx, 1)?.contiguous()?)
}

/// The positions a stack of valid convolutions of `width` and pools leaves: `ops` lists
/// `Some(width)` for a convolution and `None` for a pool of `pool`.
fn positions(window: usize, ops: &[Option<usize>], pool: usize) -> Option<usize> {
    let mut l = window;
    for op in ops {
        l = match op {
            Some(k) => l.checked_sub(k - 1)?,
            None => l / pool,
        };
    }
    (l > 0).then_some(l)
}

/// The flatten's width must be what the window leaves: else say which window fits.
fn check_window(
    w: &Weights,
    key: &str,
    (flat, per): (usize, usize),
    window: usize,
    leaves: impl Fn(usize) -> Option<usize>,
) -> Result<(), TrainError> {
    let got = leaves(window).map(|l| l * per);
    if got == Some(flat) {
        return Ok(());
    }
    let fits: Vec<usize> = (1..=20_000)
        .filter(|&l| leaves(l).map(|v| v * per) == Some(flat))
        .collect();
    Err(TrainError::Data(format!(
        "{}: {key} takes {flat} inputs, but a window of {window} bp leaves {} ({per} per \
         position){}",
        w.file.display(),
        got.map_or("no positions".into(), |g| g.to_string()),
        match (fits.first(), fits.last()) {
            (Some(a), Some(b)) => format!("; windows of {a} to {b} bp fit: give --window"),
            _ => String::new(),
        }
    )))
}

/// A model: its layers (JSON, as a recipe writes them), the output activation, and its
/// weights by our keys.
struct Model {
    layers: serde_json::Value,
    tensors: BTreeMap<String, Tensor>,
    outputs: usize,
    window: usize,
    notes: Vec<String>,
}

fn read_weights(
    opts: &ImportOptions,
    what: &'static str,
    key: Option<&str>,
) -> Result<Weights, TrainError> {
    // A Selene checkpoint keeps the state dict under `state_dict`; a plain one is the dict.
    let list = match key {
        Some(k) => super::pth::read_pth(&opts.weights, Some(k))
            .or_else(|_| super::pth::read_pth(&opts.weights, None))?,
        None => super::pth::read_pth(&opts.weights, None)?,
    };
    Ok(Weights {
        file: opts.weights.clone(),
        what,
        tensors: list.into_iter().collect(),
    })
}

fn kipoi_deepsea(opts: &ImportOptions) -> Result<Model, TrainError> {
    let mut w = read_weights(opts, "Kipoi's DeepSEA", None)?;
    // Kipoi's predict model averages each sequence's outputs with its reverse complement's.
    let predict = w.tensors.keys().all(|k| k.starts_with("2."));
    w.strip(&["1.", "2."]);
    let c1 = w.get("0.weight", &[None, Some(4), Some(1), None])?;
    let (f1, k1) = (c1.dim(0)?, c1.dim(3)?);
    let c2 = w.get("4.weight", &[None, Some(f1), Some(1), None])?;
    let (f2, k2) = (c2.dim(0)?, c2.dim(3)?);
    let c3 = w.get("8.weight", &[None, Some(f2), Some(1), None])?;
    let (f3, k3) = (c3.dim(0)?, c3.dim(3)?);
    let hidden = w.get("12.1.weight", &[None, None])?;
    let (h, flat) = hidden.dims2()?;
    let out = w.get("14.1.weight", &[None, Some(h)])?;
    let window = opts.window.unwrap_or(opts.from.default_window());
    check_window(
        &w,
        "12.1.weight (the hidden layer)",
        (flat, f3),
        window,
        |l| positions(l, &[Some(k1), None, Some(k2), None, Some(k3)], 4),
    )?;
    let mut t = BTreeMap::new();
    t.insert("conv1.weight".into(), conv2d_to_1d(&c1, true)?);
    t.insert("conv2.weight".into(), conv2d_to_1d(&c2, false)?);
    t.insert("conv3.weight".into(), conv2d_to_1d(&c3, false)?);
    for (ours, theirs, n) in [
        ("conv1.bias", "0.bias", f1),
        ("conv2.bias", "4.bias", f2),
        ("conv3.bias", "8.bias", f3),
        ("hidden.bias", "12.1.bias", h),
    ] {
        t.insert(ours.into(), w.get(theirs, &[Some(n)])?);
    }
    t.insert("hidden.weight".into(), hidden);
    t.insert("output.weight".into(), out.clone());
    t.insert(
        "output.bias".into(),
        w.get("14.1.bias", &[Some(out.dim(0)?)])?,
    );
    Ok(Model {
        layers: json!([
            {"kind": "conv", "name": "conv1", "filters": f1, "width": k1, "activation": "threshold", "pool": {"max": 4}},
            {"kind": "dropout", "p": 0.2},
            {"kind": "conv", "name": "conv2", "filters": f2, "width": k2, "activation": "threshold", "pool": {"max": 4}},
            {"kind": "dropout", "p": 0.2},
            {"kind": "conv", "name": "conv3", "filters": f3, "width": k3, "activation": "threshold"},
            {"kind": "dropout", "p": 0.5},
            {"kind": "flatten"},
            {"kind": "dense", "name": "hidden", "units": h, "activation": "threshold"}
        ]),
        tensors: t,
        outputs: out.dim(0)?,
        window,
        notes: [
            "Threshold(0, 1e-6) is the threshold activation: x where x > 0, else 1e-6",
            "the first convolution's input channels reordered from A,G,C,T to A,C,G,T",
        ]
        .into_iter()
        .map(String::from)
        .chain(predict.then(|| {
            "Kipoi's predict model averages each sequence's outputs with its reverse \
             complement's: predict with --rc-average to do the same"
                .to_string()
        }))
        .collect(),
    })
}

fn beluga(opts: &ImportOptions) -> Result<Model, TrainError> {
    let mut w = read_weights(opts, "Beluga", None)?;
    w.strip(&["module."]);
    let keys = ["0", "2", "6", "8", "12", "14"];
    let mut convs = Vec::new();
    let mut cin = 4;
    for k in keys {
        let c = w.get(
            &format!("model.0.{k}.weight"),
            &[None, Some(cin), Some(1), None],
        )?;
        cin = c.dim(0)?;
        convs.push(c);
    }
    let hidden = w.get("model.1.2.1.weight", &[None, None])?;
    let (h, flat) = hidden.dims2()?;
    let out = w.get("model.1.4.1.weight", &[None, Some(h)])?;
    let window = opts.window.unwrap_or(opts.from.default_window());
    let widths: Vec<usize> = convs.iter().map(|c| c.dim(3).unwrap_or(0)).collect();
    check_window(
        &w,
        "model.1.2.1.weight (the hidden layer)",
        (flat, cin),
        window,
        |l| {
            positions(
                l,
                &[
                    Some(widths[0]),
                    Some(widths[1]),
                    None,
                    Some(widths[2]),
                    Some(widths[3]),
                    None,
                    Some(widths[4]),
                    Some(widths[5]),
                ],
                4,
            )
        },
    )?;
    let mut t = BTreeMap::new();
    let mut layers = Vec::new();
    for (i, (k, c)) in keys.iter().zip(&convs).enumerate() {
        let name = format!("conv{}", i + 1);
        t.insert(format!("{name}.weight"), conv2d_to_1d(c, i == 0)?);
        t.insert(
            format!("{name}.bias"),
            w.get(&format!("model.0.{k}.bias"), &[Some(c.dim(0)?)])?,
        );
        let mut layer = json!({"kind": "conv", "name": name, "filters": c.dim(0)?, "width": c.dim(3)?, "activation": "relu"});
        if i == 1 || i == 3 {
            layer["pool"] = json!({"max": 4});
        }
        layers.push(layer);
        if i == 1 || i == 3 {
            layers.push(json!({"kind": "dropout", "p": 0.2}));
        }
    }
    layers.push(json!({"kind": "dropout", "p": 0.5}));
    layers.push(json!({"kind": "flatten"}));
    layers.push(json!({"kind": "dense", "name": "hidden", "units": h, "activation": "relu"}));
    t.insert("hidden.weight".into(), hidden);
    t.insert("hidden.bias".into(), w.get("model.1.2.1.bias", &[Some(h)])?);
    t.insert("output.weight".into(), out.clone());
    t.insert(
        "output.bias".into(),
        w.get("model.1.4.1.bias", &[Some(out.dim(0)?)])?,
    );
    Ok(Model {
        layers: serde_json::Value::Array(layers),
        tensors: t,
        outputs: out.dim(0)?,
        window,
        notes: vec![
            "the first convolution's input channels reordered from A,G,C,T to A,C,G,T".into(),
        ],
    })
}

fn selene_deepsea(opts: &ImportOptions) -> Result<Model, TrainError> {
    let mut w = read_weights(opts, "Selene's DeepSEA", Some("state_dict"))?;
    w.strip(&["module.", "model."]);
    let c1 = w.get("conv_net.0.weight", &[None, Some(4), None])?;
    let c2 = w.get("conv_net.4.weight", &[None, Some(c1.dim(0)?), None])?;
    let c3 = w.get("conv_net.8.weight", &[None, Some(c2.dim(0)?), None])?;
    let hidden = w.get("classifier.0.weight", &[None, None])?;
    let (h, flat) = hidden.dims2()?;
    let out = w.get("classifier.2.weight", &[None, Some(h)])?;
    let window = opts.window.unwrap_or(opts.from.default_window());
    let (k1, k2, k3) = (c1.dim(2)?, c2.dim(2)?, c3.dim(2)?);
    check_window(
        &w,
        "classifier.0.weight (the hidden layer)",
        (flat, c3.dim(0)?),
        window,
        |l| positions(l, &[Some(k1), None, Some(k2), None, Some(k3)], 4),
    )?;
    let mut t = BTreeMap::new();
    let mut layers = Vec::new();
    for (i, (c, key)) in [
        (&c1, "conv_net.0"),
        (&c2, "conv_net.4"),
        (&c3, "conv_net.8"),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("conv{}", i + 1);
        t.insert(format!("{name}.weight"), c.clone());
        t.insert(
            format!("{name}.bias"),
            w.get(&format!("{key}.bias"), &[Some(c.dim(0)?)])?,
        );
        let mut layer = json!({"kind": "conv", "name": name, "filters": c.dim(0)?, "width": c.dim(2)?, "activation": "relu"});
        if i < 2 {
            layer["pool"] = json!({"max": 4});
        }
        layers.push(layer);
        layers.push(json!({"kind": "dropout", "p": if i < 2 { 0.2 } else { 0.5 }}));
    }
    layers.push(json!({"kind": "flatten"}));
    layers.push(json!({"kind": "dense", "name": "hidden", "units": h, "activation": "relu"}));
    t.insert("hidden.weight".into(), hidden);
    t.insert(
        "hidden.bias".into(),
        w.get("classifier.0.bias", &[Some(h)])?,
    );
    t.insert("output.weight".into(), out.clone());
    t.insert(
        "output.bias".into(),
        w.get("classifier.2.bias", &[Some(out.dim(0)?)])?,
    );
    Ok(Model {
        layers: serde_json::Value::Array(layers),
        tensors: t,
        outputs: out.dim(0)?,
        window,
        notes: Vec::new(),
    })
}

/// An LSTM direction of PyTorch's (`weight_ih`, `weight_hh`, `bias_ih`, `bias_hh` under
/// `prefix` with `suffix`) as ours (one bias: the sum).
fn torch_lstm(
    w: &Weights,
    (prefix, suffix): (&str, &str),
    (input, hidden): (usize, usize),
    ours: &str,
    t: &mut BTreeMap<String, Tensor>,
) -> Result<(), TrainError> {
    let g = 4 * hidden;
    let get = |k: &str, shape: &[Option<usize>]| w.get(&format!("{prefix}{k}{suffix}"), shape);
    t.insert(
        format!("{ours}.weight_ih"),
        get("weight_ih_l0", &[Some(g), Some(input)])?,
    );
    t.insert(
        format!("{ours}.weight_hh"),
        get("weight_hh_l0", &[Some(g), Some(hidden)])?,
    );
    let bias = (get("bias_ih_l0", &[Some(g)])? + get("bias_hh_l0", &[Some(g)])?)?;
    t.insert(format!("{ours}.bias"), bias);
    Ok(())
}

fn selene_danq(opts: &ImportOptions) -> Result<Model, TrainError> {
    let mut w = read_weights(opts, "Selene's DanQ", Some("state_dict"))?;
    w.strip(&["module.", "model."]);
    let conv = w.get("nnet.0.weight", &[None, Some(4), None])?;
    let (f, k) = (conv.dim(0)?, conv.dim(2)?);
    let w_ih = w.get("bdlstm.0.weight_ih_l0", &[None, Some(f)])?;
    let hsz = w_ih.dim(0)? / 4;
    let hidden = w.get("classifier.1.weight", &[None, None])?;
    let (h, flat) = hidden.dims2()?;
    let out = w.get("classifier.3.weight", &[None, Some(h)])?;
    let window = opts.window.unwrap_or(opts.from.default_window());
    check_window(
        &w,
        "classifier.1.weight (the hidden layer)",
        (flat, 2 * hsz),
        window,
        |l| positions(l, &[Some(k), None], 13),
    )?;
    let mut t = BTreeMap::new();
    t.insert("conv1.weight".into(), conv);
    t.insert("conv1.bias".into(), w.get("nnet.0.bias", &[Some(f)])?);
    torch_lstm(&w, ("bdlstm.0.", ""), (f, hsz), "lstm.forward", &mut t)?;
    torch_lstm(
        &w,
        ("bdlstm.0.", "_reverse"),
        (f, hsz),
        "lstm.backward",
        &mut t,
    )?;
    t.insert("hidden.weight".into(), hidden);
    t.insert(
        "hidden.bias".into(),
        w.get("classifier.1.bias", &[Some(h)])?,
    );
    t.insert("output.weight".into(), out.clone());
    t.insert(
        "output.bias".into(),
        w.get("classifier.3.bias", &[Some(out.dim(0)?)])?,
    );
    Ok(Model {
        layers: json!([
            {"kind": "conv", "name": "conv1", "filters": f, "width": k, "activation": "relu", "pool": {"max": 13}},
            {"kind": "dropout", "p": 0.2},
            {"kind": "recurrent", "name": "lstm", "cell": "lstm", "hidden": hsz, "bidirectional": true},
            {"kind": "dropout", "p": 0.5},
            {"kind": "flatten"},
            {"kind": "dense", "name": "hidden", "units": h, "activation": "relu"}
        ]),
        tensors: t,
        outputs: out.dim(0)?,
        window,
        notes: vec![
            "each LSTM direction's bias_ih and bias_hh summed into one bias".into(),
            "Selene's DanQ.forward feeds its batch_first LSTM (positions, batch, features), so \
             its recurrence runs over a batch's samples; this import is the per-sequence \
             BiLSTM the architecture means, and gives other outputs than Selene's forward"
                .into(),
        ],
    })
}

/// DanQ's Keras 0.2 HDF5 file.
fn keras_danq(opts: &ImportOptions) -> Result<Model, TrainError> {
    let path = &opts.weights;
    let h5e = |e: hdf5::Error| {
        TrainError::Data(format!("{}: not a Keras weight file ({e})", path.display()))
    };
    let file = hdf5::File::open(path).map_err(h5e)?;
    let layers = file
        .attr("nb_layers")
        .and_then(|a| a.read_scalar::<i64>())
        .map_err(|_| {
            TrainError::Data(format!(
                "{}: no nb_layers attribute: not a file of Keras 0.2's save_weights",
                path.display()
            ))
        })?;
    if layers != 10 {
        return Err(TrainError::Data(format!(
            "{}: {layers} layers, but DanQ's Keras model has 10 (conv, pool, dropout, \
             bidirectional LSTM, dropout, flatten, dense, activation, dense, activation)",
            path.display()
        )));
    }
    let param = |layer: usize, k: usize| -> Result<Tensor, TrainError> {
        let name = format!("layer_{layer}/param_{k}");
        let ds = file.dataset(&name).map_err(|_| {
            TrainError::Data(format!(
                "{}: no {name}, which DanQ's layer {layer} has",
                path.display()
            ))
        })?;
        let shape = ds.shape();
        let data: Vec<f32> = ds.read_raw::<f32>().map_err(h5e)?;
        Ok(Tensor::from_vec(data, shape, &Device::Cpu)?)
    };
    let mut tensors = BTreeMap::new();
    for (layer, n) in [(0, 2), (3, 24), (6, 2), (8, 2)] {
        for k in 0..n {
            tensors.insert(format!("{layer}.{k}"), param(layer, k)?);
        }
    }
    let w = Weights {
        file: path.clone(),
        what: "DanQ's Keras model",
        tensors,
    };
    let conv = w.get("0.0", &[None, Some(4), None, Some(1)])?;
    let (f, k) = (conv.dim(0)?, conv.dim(2)?);
    let hsz = w.get("3.1", &[None, None])?.dim(0)?;
    let dense = w.get("6.0", &[None, None])?;
    let (flat, h) = dense.dims2()?;
    let out = w.get("8.0", &[Some(h), None])?;
    let window = opts.window.unwrap_or(opts.from.default_window());
    check_window(
        &w,
        "layer_6's param_0 (the hidden layer)",
        (flat, 2 * hsz),
        window,
        |l| positions(l, &[Some(k), None], 13),
    )?;
    let mut t = BTreeMap::new();
    // Theano's conv2d convolves: the kernel reversed; A,G,C,T to A,C,G,T.
    let kernel = acgt_channels(&conv.squeeze(3)?)?;
    let rev = Tensor::new((0..k as u32).rev().collect::<Vec<u32>>(), &Device::Cpu)?;
    t.insert(
        "conv1.weight".into(),
        kernel.index_select(&rev, 2)?.contiguous()?,
    );
    t.insert("conv1.bias".into(), w.get("0.1", &[Some(f)])?);
    // Keras 0.2's LSTM: per direction W_i, U_i, b_i, W_c, U_c, b_c, W_f, U_f, b_f, W_o, U_o,
    // b_o (W [in, H], U [H, H]); ours: gate blocks i, f, c, o of [4H, in] and [4H, H].
    for (dir, base) in [("forward", 0), ("backward", 12)] {
        let block =
            |j: usize, rows: usize| w.get(&format!("3.{}", base + j), &[Some(rows), Some(hsz)]);
        let bias = |j: usize| w.get(&format!("3.{}", base + j), &[Some(hsz)]);
        let order = [0usize, 6, 3, 9];
        let wi: Vec<Tensor> = order
            .iter()
            .map(|&j| block(j, f).and_then(|b| Ok(b.t()?)))
            .collect::<Result<_, _>>()?;
        let ui: Vec<Tensor> = order
            .iter()
            .map(|&j| block(j + 1, hsz).and_then(|b| Ok(b.t()?)))
            .collect::<Result<_, _>>()?;
        let bi: Vec<Tensor> = order
            .iter()
            .map(|&j| bias(j + 2))
            .collect::<Result<_, _>>()?;
        // Dropout(0.2) before the LSTM scales its input by 0.8 at prediction (Keras 0.2).
        t.insert(
            format!("lstm.{dir}.weight_ih"),
            (Tensor::cat(&wi, 0)? * 0.8)?.contiguous()?,
        );
        t.insert(
            format!("lstm.{dir}.weight_hh"),
            Tensor::cat(&ui, 0)?.contiguous()?,
        );
        t.insert(format!("lstm.{dir}.bias"), Tensor::cat(&bi, 0)?);
    }
    // Dropout(0.5) before the dense layer: x 0.5.
    t.insert("hidden.weight".into(), (dense.t()? * 0.5)?.contiguous()?);
    t.insert("hidden.bias".into(), w.get("6.1", &[Some(h)])?);
    let targets = out.dim(D::Minus1)?;
    t.insert("output.weight".into(), out.t()?.contiguous()?);
    t.insert("output.bias".into(), w.get("8.1", &[Some(targets)])?);
    Ok(Model {
        layers: json!([
            {"kind": "conv", "name": "conv1", "filters": f, "width": k, "activation": "relu", "pool": {"max": 13}},
            {"kind": "dropout", "p": 0.2},
            {"kind": "recurrent", "name": "lstm", "cell": "lstm", "hidden": hsz, "bidirectional": true, "gate_activation": "hard-sigmoid"},
            {"kind": "dropout", "p": 0.5},
            {"kind": "flatten"},
            {"kind": "dense", "name": "hidden", "units": h, "activation": "relu"}
        ]),
        tensors: t,
        outputs: targets,
        window,
        notes: vec![
            "the convolution kernels reversed (Theano convolves) and their input channels \
             reordered from A,G,C,T to A,C,G,T"
                .into(),
            "Keras 0.2 scales by 1 - p at prediction: x 0.8 folded into the LSTM's input \
             weights, x 0.5 into the dense layer's"
                .into(),
            "the LSTM's gates are Keras' hard sigmoid; its backward direction runs in reverse \
             time (what seya's Bidirectional means; DanQ's modified seya could not be read)"
                .into(),
        ],
    })
}

/// ferrosea's own PyTorch export: `config.json` and `model.safetensors`.
fn own_export(opts: &ImportOptions) -> Result<(Model, serde_json::Value), TrainError> {
    let dir = if opts.weights.is_dir() {
        opts.weights.clone()
    } else {
        opts.weights
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf()
    };
    let config_path = dir.join("config.json");
    let text = std::fs::read_to_string(&config_path)
        .map_err(|e| TrainError::Io(config_path.clone(), e))?;
    let spec: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        TrainError::Data(format!(
            "{}: not the config.json of ferrosea-train export ({e})",
            config_path.display()
        ))
    })?;
    let weights = dir.join("model.safetensors");
    let tensors = candle_core::safetensors::load(&weights, &Device::Cpu)
        .map_err(|e| TrainError::Data(format!("{}: {e}", weights.display())))?;
    let layers: Layers = serde_json::from_value(spec["layers"].clone())
        .map_err(|e| TrainError::Data(format!("{}: layers: {e}", config_path.display())))?;
    let w = Weights {
        file: weights,
        what: "the export's model.py",
        tensors: tensors.into_iter().collect(),
    };
    let mut t = BTreeMap::new();
    unexport(&layers, &w, &mut t)?;
    let out = w.get("output.weight", &[None, None])?;
    t.insert("output.weight".into(), out.clone());
    t.insert(
        "output.bias".into(),
        w.get("output.bias", &[Some(out.dim(0)?)])?,
    );
    let window = spec["window"].as_u64().unwrap_or(1000) as usize;
    Ok((
        Model {
            layers: spec["layers"].clone(),
            tensors: t,
            outputs: out.dim(0)?,
            window,
            notes: Vec::new(),
        },
        spec,
    ))
}

/// The export's PyTorch keys back to ours, by the key map export writes with
/// ([`super::pytorch::key_pairs`]).
fn unexport(
    layers: &Layers,
    w: &Weights,
    t: &mut BTreeMap<String, Tensor>,
) -> Result<(), TrainError> {
    use super::pytorch::{key_pairs, Theirs};
    let (mut pairs, mut pytorch_only) = (Vec::new(), Vec::new());
    key_pairs(
        &ferrosea_models::spec::named(layers),
        "",
        &mut pairs,
        &mut pytorch_only,
    )?;
    let get = |key: &str| -> Result<Tensor, TrainError> {
        w.tensors
            .get(key)
            .cloned()
            .ok_or_else(|| TrainError::Data(format!("{}: no tensor {key}", w.file.display())))
    };
    for p in pairs {
        let v = match &p.theirs {
            Theirs::Key(k) => get(k)?,
            Theirs::SplitBias(ih, hh) => (get(ih)? + get(hh)?)?,
        };
        t.insert(p.ours, v);
    }
    Ok(())
}

/// Target names: from the file given, or DeepSEA's for 919 outputs.
fn target_names(opts: &ImportOptions, outputs: usize) -> Result<Vec<String>, TrainError> {
    let names: Vec<String> = match &opts.targets {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| TrainError::Io(p.clone(), e))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect(),
        None if outputs == 919 => DEEPSEA_NAMES.lines().map(String::from).collect(),
        None => {
            return Err(TrainError::Data(format!(
                "{}: the model has {outputs} outputs; name them with --targets FILE (one \
                 name per line, in output order)",
                opts.weights.display()
            )))
        }
    };
    if names.len() != outputs {
        return Err(TrainError::Data(format!(
            "{}: {} target names, but the model has {outputs} outputs",
            opts.targets
                .as_ref()
                .map_or("DeepSEA's names".into(), |p| p.display().to_string()),
            names.len()
        )));
    }
    Ok(names)
}

/// Imports the weights and writes `OUT/best.json`, its weight file and `OUT/import.json`.
pub fn import(opts: &ImportOptions) -> Result<ImportReport, TrainError> {
    let mut inputs: Vec<(&str, &Path)> = vec![("the weights", &opts.weights)];
    if let Some(t) = &opts.targets {
        inputs.push(("--targets", t));
    }
    let best = opts.out.join("best.json");
    ferrosea_dataset::ensure_not_input(&best, &inputs)?;
    let (model, exported) = match opts.from {
        ImportFormat::KipoiDeepsea => (kipoi_deepsea(opts)?, None),
        ImportFormat::Beluga => (beluga(opts)?, None),
        ImportFormat::SeleneDeepsea => (selene_deepsea(opts)?, None),
        ImportFormat::SeleneDanq => (selene_danq(opts)?, None),
        ImportFormat::KerasDanq => (keras_danq(opts)?, None),
        ImportFormat::Pytorch => {
            let (m, spec) = own_export(opts)?;
            (m, Some(spec))
        }
    };
    let targets = match (&exported, &opts.targets) {
        (Some(spec), None) => spec["targets"]
            .as_array()
            .map(|v| {
                v.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        _ => target_names(opts, model.outputs)?,
    };
    let layers: Layers = serde_json::from_value(model.layers.clone())
        .map_err(|e| TrainError::Data(format!("the imported layers: {e}")))?;
    let mut config = TrainConfig::preset("deepsea").expect("a preset");
    config.about = Some(format!(
        "imported by ferrosea-train import --from {} from {}",
        opts.from.name(),
        opts.weights.display()
    ));
    let (output_activation, loss) = match &exported {
        Some(spec) => (
            serde_json::from_value(spec["output_activation"].clone()).unwrap_or_default(),
            serde_json::from_value(spec["loss"].clone()).unwrap_or_default(),
        ),
        None => (Default::default(), Default::default()),
    };
    config.model = ModelConfig::Layers(LayersConfig {
        layers,
        init: ferrosea_models::InitScheme::Torch,
        output_activation,
    });
    config.loss = loss;
    let alphabet = match &exported {
        Some(spec) => spec["alphabet"].as_str().unwrap_or("ACGT").to_string(),
        None => "ACGT".into(),
    };
    // The network must build from the layers with exactly these tensors.
    let store = ferrosea_models::ParamStore::new(1);
    let channels = alphabet.chars().count().max(1);
    let net = ferrosea_models::Network::with_channels(
        &config.model,
        if exported.is_some() { channels } else { 4 },
        model.window,
        targets.len(),
        &store.builder(&Device::Cpu),
    )
    .map_err(|e| TrainError::Data(format!("the imported model: {e}")))?;
    drop(net);
    let declared = store.tensors();
    for (k, v) in &declared {
        match model.tensors.get(k) {
            Some(t) if t.dims() == v.dims() => {}
            Some(t) => {
                return Err(TrainError::Data(format!(
                    "imported {k} is {:?}, the network needs {:?}",
                    t.dims(),
                    v.dims()
                )))
            }
            None => {
                return Err(TrainError::Data(format!(
                    "the import gives no {k}, which the network needs"
                )))
            }
        }
    }
    let tensors: BTreeMap<String, Tensor> = declared
        .keys()
        .map(|k| (k.clone(), model.tensors[k].clone()))
        .collect();
    std::fs::create_dir_all(&opts.out).map_err(|e| TrainError::Io(opts.out.clone(), e))?;
    let mut meta = CheckpointMeta::new(&config, model.window, targets.clone(), 1);
    if exported.is_some() && alphabet != "ACGT" {
        return Err(TrainError::Data(format!(
            "{}: a model over the alphabet {alphabet}: only DNA models are imported",
            opts.weights.display()
        )));
    }
    crate::checkpoint::save(&opts.out, "best", &mut meta, &tensors, None)?;
    let sha = ferrosea_dataset::sha256_file(&if opts.weights.is_dir() {
        opts.weights.join("model.safetensors")
    } else {
        opts.weights.clone()
    })
    .ok();
    let record = json!({
        "from": opts.from.name(),
        "weights": opts.weights.display().to_string(),
        "weights_sha256": sha,
        "window": model.window,
        "targets": targets.len(),
        "conversions": model.notes,
        "command_line": opts.command_line,
        "ferrosea_version": env!("CARGO_PKG_VERSION"),
    });
    super::write_file(
        &opts.out.join("import.json"),
        (serde_json::to_string_pretty(&record).expect("JSON") + "\n").as_bytes(),
    )?;
    let parameters = tensors.values().map(|t| t.elem_count()).sum();
    Ok(ImportReport {
        checkpoint: best,
        window: model.window,
        targets: targets.len(),
        parameters,
    })
}
