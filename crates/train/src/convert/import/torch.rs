//! The PyTorch formats: Kipoi's DeepSEA and Beluga, Selene's DeepSEA and DanQ.

use std::collections::BTreeMap;

use candle_core::Tensor;
use serde_json::json;

use super::{check_window, conv2d_to_1d, positions, read_weights, ImportOptions, Model, Weights};
use crate::TrainError;

pub(super) fn kipoi_deepsea(opts: &ImportOptions) -> Result<Model, TrainError> {
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

pub(super) fn beluga(opts: &ImportOptions) -> Result<Model, TrainError> {
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

pub(super) fn selene_deepsea(opts: &ImportOptions) -> Result<Model, TrainError> {
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

pub(super) fn selene_danq(opts: &ImportOptions) -> Result<Model, TrainError> {
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
