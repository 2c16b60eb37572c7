//! DanQ's Keras 0.2 HDF5 weights.

use std::collections::BTreeMap;

use candle_core::{Device, Tensor, D};
use serde_json::json;

use super::{acgt_channels, check_window, positions, ImportOptions, Model, Weights};
use crate::TrainError;

/// DanQ's Keras 0.2 HDF5 file.
pub(super) fn keras_danq(opts: &ImportOptions) -> Result<Model, TrainError> {
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
