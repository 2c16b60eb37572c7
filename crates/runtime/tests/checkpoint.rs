//! Reading checkpoints to run them: the model-only view of the JSON, and weights that do not
//! fit the network their recipe expands into.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use ferrosea_models::{ModelConfig, Network, ParamStore};
use ferrosea_runtime::checkpoint::{load_network, read_model};

const MODEL: &str = r#"{"arch": "deepsea", "conv": [{"filters": 4, "width": 5, "pool": 2, "dropout": 0.2}], "hidden": 6}"#;

/// A checkpoint JSON of the full schema (the fields a run writes, most of which running the
/// model ignores) beside `weights`.
fn write_checkpoint(dir: &Path, weights: &HashMap<String, Tensor>) -> std::path::PathBuf {
    candle_core::safetensors::save(weights, dir.join("best-000000007.safetensors")).unwrap();
    let json = dir.join("best.json");
    let text = format!(
        r#"{{"format": "ferrosea-checkpoint", "format_version": 1,
            "config": {{"model": {MODEL}, "optimizer": {{"kind": "sgd", "lr": 0.1}}, "batch_size": 4, "epochs": 1}},
            "window": 40, "targets": ["a", "b"], "seed": 3,
            "state": {{"epoch": 1, "position": 0, "step": 7, "epoch_loss_sum": 0.0, "scheduler": null,
                      "best": null, "since_best": 0, "history": []}},
            "optimizer_steps": 7, "train_file": "train.h5", "train_rows": 10,
            "weights_file": "best-000000007.safetensors", "optimizer_file": null}}"#
    );
    std::fs::write(&json, text).unwrap();
    json
}

fn weights() -> HashMap<String, Tensor> {
    let cfg: ModelConfig = serde_json::from_str(MODEL).unwrap();
    let store = ParamStore::new(3);
    Network::new(&cfg, 40, 2, &store.builder(&Device::Cpu)).unwrap();
    store.tensors().into_iter().collect()
}

#[test]
fn a_checkpoint_loads_and_predicts_with_its_weights() {
    let dir = tempfile::tempdir().unwrap();
    let w = weights();
    let json = write_checkpoint(dir.path(), &w);
    let meta = read_model(&json).unwrap();
    assert_eq!((meta.window, meta.step, meta.seed), (40, 7, 3));
    assert_eq!(meta.targets, ["a", "b"]);
    let (net, _) = load_network(&json, &Device::Cpu).unwrap();
    let logits = |net: &Network| {
        let x = vec![0.25f32; 2 * 4 * 40];
        ferrosea_runtime::eval_logits(net, &Device::Cpu, x, 40, 2)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap()
    };
    let a = logits(&net);
    // The same weights in a network built here give the same logits.
    let store = ParamStore::from_tensors(w.into_iter().collect()).unwrap();
    let cfg: ModelConfig = serde_json::from_str(MODEL).unwrap();
    let here = Network::new(&cfg, 40, 2, &store.builder(&Device::Cpu)).unwrap();
    assert_eq!(a, logits(&here));
}

#[test]
fn weights_that_do_not_fit_name_the_missing_and_unexpected_keys() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = weights();
    let hidden = w.remove("hidden.weight").unwrap();
    w.insert("fc.weight".into(), hidden);
    let bias = w["conv1.bias"].clone();
    w.insert(
        "conv1.bias".into(),
        Tensor::cat(&[&bias, &bias], 0).unwrap(),
    );
    let json = write_checkpoint(dir.path(), &w);
    let err = load_network(&json, &Device::Cpu).err().unwrap().to_string();
    for want in [
        "best.json",
        "do not fit the deepsea model",
        "hidden.weight missing",
        "fc.weight unknown to the deepsea model",
        "conv1.bias is [8] in the checkpoint, [4] in the deepsea model",
    ] {
        assert!(err.contains(want), "{err}\n  lacks: {want}");
    }
}

#[test]
fn other_files_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("best.json");
    std::fs::write(
        &json,
        r#"{"format": "something-else", "format_version": 1}"#,
    )
    .unwrap();
    let err = read_model(&json).err().unwrap().to_string();
    assert!(
        err.contains("best.json") && err.contains("not a ferrosea checkpoint"),
        "{err}"
    );
    let err = ferrosea_runtime::checkpoint::resolve(dir.path().join("nowhere").as_path())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("nowhere"), "{err}");
}
