//! Every parameter's gradient against central finite differences, through the whole
//! network. This caught two real defects: Candle's conv1d gradients for batches > 1, and a
//! BiLSTM that cached combined weights at construction (so optimizer updates never reached
//! its forward pass).

use candle_core::{Device, Tensor};
use ferrosea_models::*;
/// Layer configurations whose every parameter is checked: each new layer kind and setting.
const LAYERS: &[&str] = &[
    // Same padding, stride, dilation, average and global pools, no bias, other activations.
    r#"{"arch": "layers", "layers": [
        {"kind": "conv", "filters": 3, "width": 4, "padding": "same", "activation": "tanh", "pool": {"avg": 2}},
        {"kind": "conv", "filters": 4, "width": 3, "stride": 2, "activation": "sigmoid", "bias": false},
        {"kind": "conv", "filters": 3, "width": 3, "dilation": 2, "padding": "same", "activation": "relu", "pool": "global-avg"},
        {"kind": "dense", "units": 4, "activation": "tanh"}]}"#,
    // Batch norm (evaluation: running estimates), a pre-activation residual block, global max.
    r#"{"arch": "layers", "init": "torch", "layers": [
        {"kind": "conv", "filters": 4, "width": 5, "bias": false},
        {"kind": "batch-norm"},
        {"kind": "residual", "body": [
            {"kind": "activation", "activation": "relu"},
            {"kind": "conv", "filters": 4, "width": 3, "padding": "same"},
            {"kind": "batch-norm"}]},
        {"kind": "pool", "pool": "global-max"},
        {"kind": "batch-norm"}]}"#,
    // GRU and simple RNN, both directions, last state and max over time.
    r#"{"arch": "layers", "layers": [
        {"kind": "conv", "filters": 3, "width": 5, "pool": {"avg": 4}},
        {"kind": "recurrent", "cell": "gru", "hidden": 3, "bidirectional": true},
        {"kind": "recurrent", "cell": "simple", "hidden": 2, "return": "max"}]}"#,
    r#"{"arch": "layers", "layers": [
        {"kind": "conv", "filters": 3, "width": 5, "pool": {"max": 4}},
        {"kind": "recurrent", "cell": "lstm", "hidden": 3, "return": "last"},
        {"kind": "dense", "units": 3, "activation": "relu"}]}"#,
    r#"{"arch": "layers", "layers": [
        {"kind": "conv", "filters": 3, "width": 5, "pool": {"max": 4}},
        {"kind": "recurrent", "cell": "simple", "hidden": 3, "bidirectional": true, "return": "last"},
        {"kind": "batch-norm"}]}"#,
];

#[test]
fn gradients_match_finite_differences() {
    let dev = Device::Cpu;
    let presets = [
        r#"{"arch": "deepsea", "conv": [{"filters": 4, "width": 5, "pool": 3}, {"filters": 3, "width": 3}], "hidden": 6}"#,
        r#"{"arch": "danq", "filters": 4, "width": 5, "pool": 4, "conv_dropout": 0, "lstm_hidden": 3, "lstm_dropout": 0, "hidden": 5, "gate_activation": "sigmoid"}"#,
    ];
    // Batch norm in training (the batch's statistics) as well as in evaluation.
    let key = DropoutKey {
        seed: 1,
        step: 0,
        first_sample: 0,
    };
    let cases = presets
        .iter()
        .map(|c| (*c, Mode::Eval))
        .chain(LAYERS.iter().map(|c| (*c, Mode::Eval)))
        .chain([(LAYERS[1], Mode::Train(key)), (LAYERS[4], Mode::Train(key))]);
    for (cfg, mode) in cases {
        let cfg: ModelConfig = serde_json::from_str(cfg).unwrap_or_else(|e| panic!("{e}: {cfg}"));
        let store = ParamStore::new(5);
        let net = Network::new(&cfg, 40, 2, &store.builder(&dev)).unwrap();
        // Running estimates other than the initial zeros and ones.
        for (name, b) in store.buffers() {
            let v: Vec<f32> = (0..b.elem_count()).map(|i| 0.5 + 0.1 * i as f32).collect();
            let v = if name.ends_with("running_mean") {
                v.iter().map(|x| x - 0.6).collect()
            } else {
                v
            };
            b.set(&Tensor::from_vec(v, b.shape(), &dev).unwrap())
                .unwrap();
        }
        let mut rng = ferrosea_models::params::rng_for(3, &[1]);
        use rand::Rng;
        let xv: Vec<f32> = (0..3 * 4 * 40)
            .map(|_| rng.random_range(-1.0f32..1.0))
            .collect();
        let x = Tensor::from_vec(xv, (3, 4, 40), &dev).unwrap();
        let r = Tensor::new(&[[1.0f32, -0.5], [0.3, 0.8], [-1.0, 0.2]], &dev).unwrap();
        let loss = |net: &Network| -> f64 {
            (net.forward(&x, mode).unwrap().logits * &r)
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap() as f64
        };
        let l0 = net.forward(&x, mode).unwrap().logits;
        let g = (l0 * &r).unwrap().sum_all().unwrap().backward().unwrap();
        for (name, var) in store.vars() {
            let grad = g
                .get(var.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let base = var
                .as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let mut worst = 0f64;
            for i in (0..base.len()).step_by(1 + base.len() / 7) {
                let eps = 2e-3f32;
                let mut v = base.clone();
                v[i] += eps;
                var.set(&Tensor::from_vec(v.clone(), var.shape(), &dev).unwrap())
                    .unwrap();
                let lp = loss(&net);
                v[i] -= 2.0 * eps;
                var.set(&Tensor::from_vec(v, var.shape(), &dev).unwrap())
                    .unwrap();
                let lm = loss(&net);
                var.set(&Tensor::from_vec(base.clone(), var.shape(), &dev).unwrap())
                    .unwrap();
                let num = (lp - lm) / (2.0 * eps as f64);
                worst = worst.max((num - grad[i] as f64).abs() / (1e-2 + num.abs()));
            }
            // Loose: ReLU and max-pool kinks blur finite differences; the defects this
            // guards against gave errors of 1 to 40.
            assert!(
                worst < 0.25,
                "{cfg:?} {mode:?} {name}: gradient off by {worst:.3} (relative)"
            );
        }
    }
}
