//! The layer spec: shapes, names, counts, buffers, and the errors of recipes that make no
//! network.

use candle_core::{Device, Tensor};
use ferrosea_models::*;

fn model(json: &str) -> ModelConfig {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

fn build_err(json: &str, channels: usize, window: usize) -> String {
    let store = ParamStore::new(1);
    match serde_json::from_str::<ModelConfig>(json) {
        Err(e) => e.to_string(),
        Ok(cfg) => Network::with_channels(&cfg, channels, window, 3, &store.builder(&Device::Cpu))
            .err()
            .unwrap_or_else(|| panic!("{json} built"))
            .to_string(),
    }
}

#[test]
fn shapes_names_and_counts_come_from_the_variables() {
    let cfg = model(
        r#"{"arch": "layers", "layers": [
            {"kind": "conv", "filters": 8, "width": 5, "activation": "relu", "pool": {"max": 2}},
            {"kind": "conv", "filters": 8, "width": 3, "padding": "same", "bias": false},
            {"kind": "batch-norm"},
            {"kind": "residual", "body": [
                {"kind": "activation", "activation": "relu"},
                {"kind": "conv", "filters": 8, "width": 3, "dilation": 2, "padding": "same"}]},
            {"kind": "conv", "name": "wide", "filters": 6, "width": 4, "stride": 3},
            {"kind": "recurrent", "cell": "gru", "hidden": 5, "bidirectional": true, "return": "max"},
            {"kind": "dense", "units": 7, "activation": "relu"},
            {"kind": "dropout", "p": 0.3}]}"#,
    );
    let store = ParamStore::new(2);
    let net = Network::new(&cfg, 100, 3, &store.builder(&Device::Cpu)).unwrap();
    let rows = net.summary();
    let row = |n: &str| {
        rows.iter()
            .find(|r| r.layer == n)
            .unwrap_or_else(|| panic!("no row {n}: {rows:?}"))
    };
    assert_eq!(row("conv1").shape, vec![8, 96]);
    assert_eq!(row("conv1.pool").shape, vec![8, 48]);
    assert_eq!(row("conv2").shape, vec![8, 48]);
    assert_eq!(row("conv2").params, 8 * 8 * 3);
    assert_eq!(row("bn1").params, 16);
    assert_eq!(row("block1.conv1").shape, vec![8, 48]);
    // (48 - 4) / 3 + 1
    assert_eq!(row("wide").shape, vec![6, 15]);
    assert_eq!(row("gru1").shape, vec![10]);
    assert_eq!(row("gru1").params, 2 * (3 * 5 * (6 + 5) + 2 * 3 * 5));
    assert_eq!(row("output").shape, vec![3]);
    assert_eq!(rows.iter().map(|r| r.params).sum::<usize>(), store.count());
    let buffers: Vec<String> = store.buffers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(buffers, ["bn1.running_mean", "bn1.running_var"]);
    assert!(store.vars().iter().all(|(n, _)| !n.contains("running")));
    assert!(store.tensors().contains_key("bn1.running_var"));
    for key in [
        "conv2.weight",
        "block1.conv1.bias",
        "wide.weight",
        "gru1.backward.bias_hh",
    ] {
        assert!(store.tensors().contains_key(key), "{key}");
    }
    assert!(!store.tensors().contains_key("conv2.bias"));
    let text = format_summary(rows);
    assert!(
        text.contains("block1.conv1") && text.contains("total"),
        "{text}"
    );
    let x = Tensor::zeros((2, 4, 100), candle_core::DType::F32, &Device::Cpu).unwrap();
    assert_eq!(net.forward(&x, Mode::Eval).unwrap().logits.dims(), &[2, 3]);
}

#[test]
fn batch_norm_trains_on_the_batch_and_keeps_running_estimates() {
    let cfg = model(
        r#"{"arch": "layers", "layers": [{"kind": "batch-norm", "momentum": 0.5}, {"kind": "flatten"}]}"#,
    );
    let store = ParamStore::new(2);
    let net = Network::with_channels(&cfg, 1, 2, 1, &store.builder(&Device::Cpu)).unwrap();
    // One channel, values 1, 2, 3, 6: mean 3, biased variance 3.5, unbiased 14/3.
    let x = Tensor::new(&[[[1f32, 2.0]], [[3.0, 6.0]]], &Device::Cpu).unwrap();
    let key = DropoutKey {
        seed: 0,
        step: 0,
        first_sample: 0,
    };
    net.forward(&x, Mode::Train(key)).unwrap();
    let b = store.tensors();
    let mean = b["bn1.running_mean"].to_vec1::<f32>().unwrap()[0];
    let var = b["bn1.running_var"].to_vec1::<f32>().unwrap()[0];
    assert!((mean - 1.5).abs() < 1e-6, "{mean}");
    assert!((var - (0.5 + 0.5 * 14.0 / 3.0)).abs() < 1e-5, "{var}");
    let out = net
        .forward(&x, Mode::Train(key))
        .unwrap()
        .hidden
        .to_vec2::<f32>()
        .unwrap();
    let want = (1.0 - 3.0) / (3.5f32 + 1e-5).sqrt();
    assert!((out[0][0] - want).abs() < 1e-5, "{out:?}");
    let eval = net
        .forward(&x, Mode::Eval)
        .unwrap()
        .hidden
        .to_vec2::<f32>()
        .unwrap();
    let b = store.tensors();
    let (m, v) = (
        b["bn1.running_mean"].to_vec1::<f32>().unwrap()[0],
        b["bn1.running_var"].to_vec1::<f32>().unwrap()[0],
    );
    assert!(
        (eval[0][0] - (1.0 - m) / (v + 1e-5).sqrt()).abs() < 1e-5,
        "{eval:?}"
    );
}

#[test]
fn errors_name_the_layer_and_the_problem() {
    let cases: &[(&str, usize, &[&str])] = &[
        (
            r#"{"arch": "layers", "layers": [{"kind": "conv", "filters": 2, "width": 3}, {"kind": "convolution"}]}"#,
            50,
            &["layer 2", "unknown kind \"convolution\"", "recurrent"],
        ),
        (
            r#"{"arch": "layers", "layers": [{"kind": "conv", "filters": 2, "widht": 3}]}"#,
            50,
            &["layer 1 (conv)", "widht"],
        ),
        (
            r#"{"arch": "layers", "layers": [{"filters": 2}]}"#,
            50,
            &["layer 1", "no \"kind\""],
        ),
        (
            r#"{"arch": "layers", "layers": [{"kind": "flatten"}, {"kind": "residual", "body": [{"kind": "dense", "unit": 3}]}]}"#,
            50,
            &["layer 2 (residual)", "layer 1 (dense)", "unit"],
        ),
        (
            r#"{"arch": "layers", "layers": [{"kind": "conv", "filters": 2, "width": 30}, {"kind": "conv", "filters": 2, "width": 30}, {"kind": "flatten"}]}"#,
            50,
            &["window of 50", "conv2", "21 positions"],
        ),
        (
            r#"{"arch": "layers", "layers": [{"kind": "conv", "filters": 2, "width": 3}, {"kind": "dense", "units": 4}]}"#,
            50,
            &["layer 2 (dense1)", "flat input", "[2, 48]", "flatten"],
        ),
        (
            r#"{"arch": "layers", "layers": [{"kind": "conv", "filters": 4, "width": 3}, {"kind": "residual", "body": [{"kind": "conv", "filters": 4, "width": 3}]}, {"kind": "flatten"}]}"#,
            50,
            &["layer 2 (block1)", "[4, 48] into [4, 46]", "same"],
        ),
        (
            r#"{"arch": "layers", "layers": [{"kind": "conv", "filters": 4, "width": 3}]}"#,
            50,
            &["last layer gives [4, 48]", "flatten"],
        ),
        (
            r#"{"arch": "layers", "layers": [{"kind": "conv", "name": "a", "filters": 4, "width": 3}, {"kind": "conv", "name": "a", "filters": 4, "width": 3}, {"kind": "flatten"}]}"#,
            50,
            &["layer 2 (a)", "used twice"],
        ),
        (
            r#"{"arch": "layers", "layers": [{"kind": "flatten"}, {"kind": "dropout", "p": 1.5}]}"#,
            50,
            &["layer 2 (dropout1)", "[0, 1)"],
        ),
        (
            r#"{"arch": "layers", "layers": [{"kind": "conv", "filters": 4, "width": 3, "pool": {"max": 0}}, {"kind": "flatten"}]}"#,
            50,
            &["layer 1 (conv1)", "pool size"],
        ),
        (
            r#"{"arch": "layers", "layers": [{"kind": "flatten"}, {"kind": "recurrent", "cell": "gru", "hidden": 3}]}"#,
            50,
            &["layer 2 (gru1)", "needs positions"],
        ),
        (
            r#"{"arch": "layers", "layers": [{"kind": "recurrent", "cell": "cnn", "hidden": 3}]}"#,
            50,
            &["layer 1 (recurrent)", "cnn", "lstm"],
        ),
        (r#"{"arch": "layers", "layers": []}"#, 50, &["no layers"]),
    ];
    for (json, window, wanted) in cases {
        let err = build_err(json, 4, *window);
        for w in *wanted {
            assert!(err.contains(w), "{json}\n  error: {err}\n  lacks: {w}");
        }
    }
}

#[test]
fn other_alphabets_and_lengths() {
    // The course's motif-detection Conv1D: one channel ({0, 1}), length 10.
    let cfg = model(
        r#"{"arch": "layers", "layers": [
            {"kind": "conv", "filters": 2, "width": 3, "activation": "relu"},
            {"kind": "flatten"}]}"#,
    );
    let store = ParamStore::new(2);
    let net = Network::with_channels(&cfg, 1, 10, 1, &store.builder(&Device::Cpu)).unwrap();
    assert_eq!(store.count(), 2 * 3 + 2 + 16 + 1);
    let x = Tensor::ones((5, 1, 10), candle_core::DType::F32, &Device::Cpu).unwrap();
    assert_eq!(net.forward(&x, Mode::Eval).unwrap().logits.dims(), &[5, 1]);
    // The first conv is what interpret reads.
    assert_eq!(cfg.first_conv(), Some(("conv1".into(), 3)));
}
