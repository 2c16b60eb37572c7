//! Every tiny preset trains a few steps on 1000 bp windows, writes a checkpoint that loads
//! back into the same network, and predicts finite values; Basset's batch norm buffers are
//! trained (running estimates moved) and saved, and never reach the optimizer.

mod common;

use common::*;
use ferrosea_train::config::{preset_names, TrainConfig};
use ferrosea_train::{run, Outcome};

#[test]
fn every_tiny_preset_trains_a_few_steps_and_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let train = dataset_of(&dir.path().join("train.h5"), 96, 1, TARGETS, 1000);
    let valid = dataset_of(&dir.path().join("valid.h5"), 40, 2, TARGETS, 1000);
    let tiny: Vec<&str> = preset_names()
        .into_iter()
        .filter(|n| n.ends_with("-tiny"))
        .collect();
    assert!(tiny.len() >= 7, "{tiny:?}");
    for name in tiny {
        let mut cfg = TrainConfig::preset(name).unwrap();
        cfg.batch_size = 16;
        cfg.epochs = 1;
        let out = dir.path().join(name);
        let mut opts = options(&train, &valid, &out, cfg);
        opts.steps_per_epoch = Some(3);
        let report = run(&opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(report.outcome, Outcome::Finished, "{name}");
        let m = &report.history[0];
        assert!(
            m.train_loss.is_finite() && m.valid_loss.is_finite(),
            "{name}: {m:?}"
        );
        let dev = candle_core::Device::Cpu;
        let (net, meta) =
            ferrosea_runtime::checkpoint::load_network(&out.join("best.json"), &dev).unwrap();
        assert_eq!(meta.window, 1000);
        let (scores, _, loss) =
            ferrosea_runtime::predict(&net, &dev, &valid, 64, 3, meta.loss).unwrap();
        assert_eq!(scores.len(), 40 * 3, "{name}");
        assert!(
            scores.iter().all(|s| s.is_finite()) && loss.is_finite(),
            "{name}"
        );
        if name == "basset-tiny" {
            let weights = ferrosea_train::checkpoint::load_tensors(
                &out.join("best.json"),
                &meta.weights_file,
                &dev,
            )
            .unwrap();
            let mean = weights["bn1.running_mean"].to_vec1::<f32>().unwrap();
            assert!(mean.iter().any(|v| *v != 0.0), "running mean never updated");
            let var = weights["bn1.running_var"].to_vec1::<f32>().unwrap();
            assert!(var.iter().all(|v| *v > 0.0) && var.iter().any(|v| *v != 1.0));
            // The optimizer keeps state for the parameters only (its keys are `IIII.name`,
            // IIII the parameter's index).
            let latest = out.join("latest.json");
            let lm = ferrosea_train::checkpoint::read_meta(&latest).unwrap();
            let state = ferrosea_train::checkpoint::load_tensors(
                &latest,
                lm.optimizer_file.as_ref().unwrap(),
                &dev,
            )
            .unwrap();
            let params = weights.keys().filter(|k| !k.contains("running")).count();
            let indexed: std::collections::BTreeSet<&str> =
                state.keys().map(|k| k.split('.').next().unwrap()).collect();
            assert_eq!(indexed.len(), params, "{:?}", state.keys());
        }
    }
}
