//! The softmax and squared-error losses, trained end to end; labels softmax cannot take.

mod common;

use common::*;
use ferrosea_runtime::loss::Loss;
use ferrosea_train::{run, Outcome, TrainConfig};

/// A DeepBind-like network for the 120 bp windows.
fn recipe(loss: &str, epochs: usize) -> TrainConfig {
    TrainConfig::parse(
        &format!(
            r#"{{"model": {{"arch": "layers", "layers": [
                {{"kind": "conv", "filters": 16, "width": 8, "activation": "relu", "pool": "global-max"}},
                {{"kind": "dense", "units": 8, "activation": "relu"}}]}},
              "loss": "{loss}",
              "optimizer": {{"kind": "adam", "lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0}},
              "batch_size": 32, "epochs": {epochs}}}"#
        ),
        "test",
    )
    .unwrap()
}

#[test]
fn softmax_learns_which_motif_a_window_holds() {
    let dir = tempfile::tempdir().unwrap();
    let train = classes_dataset(&dir.path().join("train.h5"), 900, 1);
    let valid = classes_dataset(&dir.path().join("valid.h5"), 150, 2);
    let out = dir.path().join("run");
    let report = run(&options(&train, &valid, &out, recipe("softmax", 25))).unwrap();
    assert_eq!(report.outcome, Outcome::Finished);
    let (first, last) = (&report.history[0], report.history.last().unwrap());
    assert!(
        last.valid_loss < 0.5 * first.valid_loss,
        "{:?}",
        report.history
    );
    let dev = candle_core::Device::Cpu;
    let (net, meta) =
        ferrosea_runtime::checkpoint::load_network(&out.join("best.json"), &dev).unwrap();
    assert_eq!(meta.loss, Loss::Softmax);
    let (p, labels, _) = ferrosea_runtime::predict(&net, &dev, &valid, 64, 3, meta.loss).unwrap();
    // Probabilities of each row sum to one; the most probable class is the planted one.
    let mut right = 0;
    for (row, y) in p.chunks(3).zip(labels.chunks(3)) {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{row:?}");
        let best = (0..3).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
        right += (y[best] == 1.0) as usize;
    }
    let accuracy = right as f64 / 150.0;
    eprintln!(
        "validation accuracy {accuracy:.3}, history {:?}",
        report.history
    );
    assert!(accuracy > 0.8, "accuracy {accuracy}");
}

#[test]
fn squared_error_trains_and_outputs_values() {
    let dir = tempfile::tempdir().unwrap();
    let train = dataset(&dir.path().join("train.h5"), 600, 1, TARGETS);
    let valid = dataset(&dir.path().join("valid.h5"), 100, 2, TARGETS);
    let out = dir.path().join("run");
    let report = run(&options(&train, &valid, &out, recipe("mse", 4))).unwrap();
    let (first, last) = (&report.history[0], report.history.last().unwrap());
    assert!(
        last.train_loss.is_finite() && last.train_loss < first.train_loss,
        "{:?}",
        report.history
    );
    let text = std::fs::read_to_string(out.join("best.json")).unwrap();
    assert!(
        text.contains("\"loss\": \"mse\""),
        "the recipe keeps its loss"
    );
}

#[test]
fn softmax_refuses_rows_without_exactly_one_class() {
    let dir = tempfile::tempdir().unwrap();
    // GATA / GC / noise: independent targets, rows with 0, 2 or 3 set.
    let train = dataset(&dir.path().join("train.h5"), 200, 1, TARGETS);
    let valid = dataset(&dir.path().join("valid.h5"), 50, 2, TARGETS);
    let err = run(&options(
        &train,
        &valid,
        &dir.path().join("run"),
        recipe("softmax", 1),
    ))
    .err()
    .unwrap()
    .to_string();
    for want in ["train.h5", "/y row", "exactly one", "\"loss\": \"bce\""] {
        assert!(err.contains(want), "{err}\n  lacks: {want}");
    }
    // A recipe with an unknown loss names it.
    let e = TrainConfig::parse(
        &serde_json::to_string(&recipe("bce", 1))
            .unwrap()
            .replace("\"batch_size\"", "\"loss\": \"hinge\", \"batch_size\""),
        "r.json",
    );
    let e = e.err().unwrap().to_string();
    assert!(e.contains("hinge") && e.contains("softmax"), "{e}");
}
