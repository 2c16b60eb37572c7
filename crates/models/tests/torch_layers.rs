//! Our layers against PyTorch's numbers: convolutions with padding, stride and dilation,
//! batch norm in training and evaluation mode (and its running estimates after a training
//! pass), GRU, simple RNN and a one-way LSTM, each followed by the output layer. The fixture
//! `fixtures/torch_layers.json` is written by `fixtures/make_torch_layers.py` (PyTorch is not
//! needed to run this test).

use std::collections::BTreeMap;

use candle_core::{Device, Tensor, Var};
use ferrosea_models::*;
use serde_json::Value;

fn tensor(v: &Value) -> Tensor {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let data: Vec<f32> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_f64().unwrap() as f32)
        .collect();
    Tensor::from_vec(data, shape, &Device::Cpu).unwrap()
}

fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

fn close(case: &str, what: &str, ours: &Tensor, theirs: &Value) {
    let theirs = tensor(theirs);
    assert_eq!(ours.dims(), theirs.dims(), "{case}: {what} shape");
    for (i, (a, b)) in values(ours).iter().zip(values(&theirs)).enumerate() {
        assert!(
            (a - b).abs() <= 1e-4 + 1e-4 * b.abs(),
            "{case}: {what}[{i}] is {a}, PyTorch's {b}"
        );
    }
}

#[test]
fn layers_give_pytorchs_outputs_and_gradients() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/torch_layers.json"
    );
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() >= 12);
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let cfg: ModelConfig = serde_json::from_value(c["model"].clone()).unwrap();
        let x = tensor(&c["input"]);
        let (_, channels, window) = x.dims3().unwrap();
        let params: BTreeMap<String, Tensor> = c["params"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), tensor(v)))
            .collect();
        let store = ParamStore::from_tensors(params.clone()).unwrap();
        let targets = c["logits"]["shape"][1].as_u64().unwrap() as usize;
        let net = Network::with_channels(
            &cfg,
            channels,
            window,
            targets,
            &store.builder(&Device::Cpu),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        // The fixture's tensors are exactly the network's parameters and buffers.
        assert_eq!(
            store.tensors().keys().collect::<Vec<_>>(),
            params.keys().collect::<Vec<_>>(),
            "{name}"
        );
        let mode = match c["mode"].as_str().unwrap() {
            "train" => Mode::Train(DropoutKey {
                seed: 0,
                step: 0,
                first_sample: 0,
            }),
            _ => Mode::Eval,
        };
        let xv = Var::from_tensor(&x).unwrap();
        let logits = net.forward(xv.as_tensor(), mode).unwrap().logits;
        close(name, "logits", &logits, &c["logits"]);
        let grads = (logits * tensor(&c["r"]))
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        close(
            name,
            "input gradient",
            grads.get(xv.as_tensor()).unwrap(),
            &c["input_grad"],
        );
        for (k, v) in store.vars() {
            let g = grads
                .get(v.as_tensor())
                .unwrap_or_else(|| panic!("{name}: no gradient for {k}"));
            close(name, &format!("gradient of {k}"), g, &c["grads"][&k]);
        }
        for (k, want) in c["buffers_after"].as_object().unwrap() {
            close(
                name,
                &format!("{k} after the pass"),
                &store.tensors()[k],
                want,
            );
        }
    }
}
