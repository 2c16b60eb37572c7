//! `ferrosea-train export`: what it writes for every kind of layer, the key names, and the
//! refusals; in an ignored test, the exports run in PyTorch and onnxruntime and give our
//! outputs to 1e-5.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candle_core::Device;
use ferrosea_models::{ModelConfig, Network, ParamStore};
use ferrosea_train::checkpoint::{save, CheckpointMeta};
use ferrosea_train::convert::{
    export, import, ExportFormat, ExportOptions, ImportFormat, ImportOptions,
};
use ferrosea_train::TrainConfig;

/// Networks covering every layer kind and option the exporters translate: (name, model,
/// window).
fn networks() -> Vec<(&'static str, ModelConfig, usize)> {
    let layers = |json: &str| -> ModelConfig { serde_json::from_str(json).unwrap() };
    vec![
        (
            "danq-tiny",
            TrainConfig::preset("danq-tiny").unwrap().model,
            200,
        ),
        (
            "basset-tiny",
            TrainConfig::preset("basset-tiny").unwrap().model,
            600,
        ),
        (
            "resnet-tiny",
            TrainConfig::preset("resnet-tiny").unwrap().model,
            200,
        ),
        (
            "deepsea-tiny",
            TrainConfig::preset("deepsea-tiny").unwrap().model,
            400,
        ),
        (
            "gru-rnn",
            layers(
                r#"{"arch": "layers", "init": "torch", "layers": [
                    {"kind": "conv", "filters": 8, "width": 5, "padding": "same", "activation": "threshold", "pool": {"avg": 2}},
                    {"kind": "batch-norm"},
                    {"kind": "conv", "filters": 6, "width": 3, "stride": 2, "dilation": 2, "activation": "tanh"},
                    {"kind": "recurrent", "cell": "gru", "hidden": 5, "bidirectional": true},
                    {"kind": "batch-norm"},
                    {"kind": "recurrent", "cell": "simple", "hidden": 4, "return": "last"},
                    {"kind": "dense", "units": 6, "activation": "sigmoid"}
                ]}"#,
            ),
            120,
        ),
        (
            "hard-lstm",
            layers(
                r#"{"arch": "layers", "init": "keras", "layers": [
                    {"kind": "conv", "filters": 8, "width": 7, "activation": "relu", "pool": {"max": 3}},
                    {"kind": "recurrent", "cell": "lstm", "hidden": 5, "bidirectional": true, "gate_activation": "hard-sigmoid", "return": "max"},
                    {"kind": "dense", "units": 6, "activation": "relu"},
                    {"kind": "dropout", "p": 0.3}
                ]}"#,
            ),
            100,
        ),
        (
            "residual",
            layers(
                r#"{"arch": "layers", "init": "torch", "layers": [
                    {"kind": "conv", "filters": 6, "width": 5, "padding": "same", "activation": "relu"},
                    {"kind": "residual", "body": [
                        {"kind": "conv", "filters": 6, "width": 3, "padding": "same", "activation": "relu"},
                        {"kind": "batch-norm"}
                    ]},
                    {"kind": "activation", "activation": "relu"},
                    {"kind": "pool", "pool": {"max": 2}},
                    {"kind": "pool", "pool": "global-avg"}
                ], "output_activation": "linear"}"#,
            ),
            60,
        ),
    ]
}

/// A checkpoint of `model` with its initial weights (batch norm's buffers moved off their
/// defaults), as training writes one.
fn checkpoint(dir: &Path, model: &ModelConfig, window: usize, targets: usize) -> PathBuf {
    let store = ParamStore::new(7);
    Network::new(model, window, targets, &store.builder(&Device::Cpu)).unwrap();
    let mut tensors: BTreeMap<String, candle_core::Tensor> = store.tensors();
    for (name, t) in tensors.iter_mut() {
        if name.ends_with("running_mean") {
            *t = (t.ones_like().unwrap() * 0.1).unwrap();
        } else if name.ends_with("running_var") {
            *t = (t.ones_like().unwrap() * 1.3).unwrap();
        }
    }
    let mut cfg = TrainConfig::preset("deepsea-tiny").unwrap();
    cfg.model = model.clone();
    let targets = (0..targets).map(|i| format!("t{i}")).collect();
    let mut meta = CheckpointMeta::new(&cfg, window, targets, 7);
    std::fs::create_dir_all(dir).unwrap();
    save(dir, "best", &mut meta, &tensors, None).unwrap();
    dir.join("best.json")
}

/// Our probabilities on `n` random one-hot windows, and the windows `[n, 4, L]`.
fn outputs(json: &Path, n: usize) -> (Vec<f32>, Vec<Vec<f32>>) {
    let dev = Device::Cpu;
    let (net, meta) = ferrosea_runtime::checkpoint::load_network(json, &dev).unwrap();
    let l = meta.window;
    let mut x = vec![0f32; n * 4 * l];
    let mut s = 12345u64;
    for i in 0..n {
        for p in 0..l {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            x[i * 4 * l + ((s >> 33) % 4) as usize * l + p] = 1.0;
        }
    }
    let logits = ferrosea_runtime::eval_logits(&net, &dev, x.clone(), l, n).unwrap();
    let p = candle_nn::ops::sigmoid(&logits)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    (x, p)
}

#[test]
fn exports_hold_every_layer_under_pytorchs_names() {
    let dir = tempfile::tempdir().unwrap();
    for (name, model, window) in networks() {
        let json = checkpoint(&dir.path().join(name), &model, window, 3);
        let out = dir.path().join(format!("{name}-export"));
        for to in [ExportFormat::Pytorch, ExportFormat::Onnx] {
            export(&ExportOptions {
                checkpoint: json.clone(),
                to,
                out: out.clone(),
            })
            .unwrap();
        }
        let py = std::fs::read_to_string(out.join("model.py")).unwrap();
        assert!(
            py.contains("def load(") && py.contains("\"window\":"),
            "{name}"
        );
        let st =
            candle_core::safetensors::load(out.join("model.safetensors"), &Device::Cpu).unwrap();
        assert!(st.contains_key("output.weight"), "{name}");
        if name == "danq-tiny" {
            for k in [
                "lstm.weight_ih_l0",
                "lstm.bias_hh_l0_reverse",
                "conv1.weight",
            ] {
                assert!(
                    st.contains_key(k),
                    "{name}: {k} in {:?}",
                    st.keys().collect::<Vec<_>>()
                );
            }
        }
        if name == "residual" {
            assert!(
                st.contains_key("block1.conv1.weight")
                    && st.contains_key("block1.bn1.num_batches_tracked")
            );
        }
        let onnx = std::fs::read(out.join("model.onnx")).unwrap();
        assert!(
            onnx.len() > 100 && onnx.windows(4).any(|w| w == b"Conv"),
            "{name}"
        );
    }
    // A layer name PyTorch cannot hold as a module name is refused, naming the layer.
    let dotted: ModelConfig = serde_json::from_str(
        r#"{"arch": "layers", "layers": [
            {"kind": "conv", "name": "stem.a", "filters": 4, "width": 3, "pool": "global-max"}
        ]}"#,
    )
    .unwrap();
    let json = checkpoint(&dir.path().join("dotted"), &dotted, 50, 2);
    let e = export(&ExportOptions {
        checkpoint: json,
        to: ExportFormat::Pytorch,
        out: dir.path().join("dotted-export"),
    })
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("layer stem.a") && e.contains("cannot hold '.'"),
        "{e}"
    );
}

/// `import --from pytorch` reads every export back to the checkpoint's tensors, bit for bit:
/// export and import share one key map, so every layer kind (batch norm's buffers, split
/// recurrent biases, GRU's two biases, both directions, residual bodies) goes both ways.
#[test]
fn pytorch_exports_import_back_to_the_same_tensors() {
    let dir = tempfile::tempdir().unwrap();
    let tensors = |json: &Path| -> Vec<(String, Vec<f32>)> {
        let meta = ferrosea_runtime::checkpoint::read_model(json).unwrap();
        ferrosea_runtime::checkpoint::load_tensors(json, &meta.weights_file, &Device::Cpu)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k, v.flatten_all().unwrap().to_vec1::<f32>().unwrap()))
            .collect()
    };
    for (name, model, window) in networks() {
        let json = checkpoint(&dir.path().join(name), &model, window, 3);
        let exported = dir.path().join(format!("{name}-export"));
        export(&ExportOptions {
            checkpoint: json.clone(),
            to: ExportFormat::Pytorch,
            out: exported.clone(),
        })
        .unwrap();
        let back = import(&ImportOptions {
            from: ImportFormat::Pytorch,
            weights: exported,
            out: dir.path().join(format!("{name}-import")),
            targets: None,
            window: None,
            command_line: "test".into(),
        })
        .unwrap();
        let (ours, theirs) = (tensors(&json), tensors(&back.checkpoint));
        assert_eq!(
            ours.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            theirs.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            "{name}"
        );
        assert!(ours == theirs, "{name}: the imported tensors differ");
    }
}

/// model.py in PyTorch and model.onnx in onnxruntime give our outputs to 1e-5, for every
/// network above. Needs torch, onnx and onnxruntime in `benches/.venv-torch`
/// (`benches/.venv-torch/bin/pip install torch onnx onnxruntime`): `cargo test -p
/// ferrosea-train --test export -- --ignored`.
#[test]
#[ignore = "needs torch, onnx and onnxruntime in benches/.venv-torch"]
fn exports_run_in_pytorch_and_onnxruntime() {
    let root = ferrosea_testkit::root();
    let python = ferrosea_testkit::torch_python("torch onnx onnxruntime safetensors numpy");
    let dir = tempfile::tempdir().unwrap();
    for (name, model, window) in networks() {
        let json = checkpoint(&dir.path().join(name), &model, window, 3);
        let out = dir.path().join(format!("{name}-export"));
        for to in [ExportFormat::Pytorch, ExportFormat::Onnx] {
            export(&ExportOptions {
                checkpoint: json.clone(),
                to,
                out: out.clone(),
            })
            .unwrap();
        }
        let (x, p) = outputs(&json, 4);
        let l = window;
        let nested: Vec<Vec<Vec<f32>>> = x
            .chunks(4 * l)
            .map(|row| row.chunks(l).map(|c| c.to_vec()).collect())
            .collect();
        let check = dir.path().join(format!("{name}.json"));
        std::fs::write(
            &check,
            serde_json::json!({"x": nested, "outputs": p}).to_string(),
        )
        .unwrap();
        let run = std::process::Command::new(&python)
            .arg(root.join("crates/train/tests/python/check_export.py"))
            .arg(&out)
            .arg(&check)
            .output()
            .unwrap();
        eprintln!(
            "{name}: {}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(run.status.success(), "{name}");
    }
}
