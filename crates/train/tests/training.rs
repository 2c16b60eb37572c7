//! Training runs on small synthetic datasets: learning, resuming, determinism, data
//! parallelism, and the errors a user can meet.

mod common;

use common::*;
use ferrosea_runtime::DeviceSpec;
use ferrosea_train::{run, Outcome};

struct Data {
    _dir: tempfile::TempDir,
    train: std::path::PathBuf,
    valid: std::path::PathBuf,
    root: std::path::PathBuf,
}

fn data(rows: usize) -> Data {
    let dir = tempfile::tempdir().unwrap();
    let train = dataset(&dir.path().join("train.h5"), rows, 1, TARGETS);
    let valid = dataset(&dir.path().join("valid.h5"), 200, 2, TARGETS);
    let root = dir.path().to_path_buf();
    Data {
        _dir: dir,
        train,
        valid,
        root,
    }
}

#[test]
fn a_tiny_danq_learns_a_planted_motif() {
    let d = data(1200);
    let out = d.root.join("run");
    let mut cfg = tiny_danq(15);
    cfg.optimizer = ferrosea_train::optim::OptimizerConfig::Adam {
        lr: 0.003,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.0,
    };
    cfg.reverse_complement = false;
    let report = run(&options(&d.train, &d.valid, &out, cfg)).unwrap();
    assert_eq!(report.outcome, Outcome::Finished);
    assert_eq!(report.history.len(), 15);
    let first = &report.history[0];
    let last = report.history.last().unwrap();
    assert!(last.train_loss < first.train_loss, "{:?}", report.history);
    assert!(
        last.valid_loss < 0.9 * first.valid_loss,
        "{:?}",
        report.history
    );
    // The best checkpoint, loaded back, finds the planted motif; the noise target stays
    // near chance.
    let meta = ferrosea_train::checkpoint::read_meta(&out.join("best.json")).unwrap();
    let dev = candle_core::Device::Cpu;
    let weights =
        ferrosea_train::checkpoint::load_tensors(&out.join("best.json"), &meta.weights_file, &dev)
            .unwrap();
    let store = ferrosea_models::ParamStore::from_tensors(weights).unwrap();
    let net = ferrosea_models::Network::new(
        meta.model(),
        meta.window,
        meta.targets.len(),
        &store.builder(&dev),
    )
    .unwrap();
    let (scores, labels, _) =
        ferrosea_runtime::predict(&net, &dev, &d.valid, 64, 3, Default::default()).unwrap();
    let labels: Vec<u8> = labels.iter().map(|&v| v as u8).collect();
    let aucs = ferrosea_metrics::per_target(&scores, &labels, 3, ferrosea_metrics::roc_auc);
    eprintln!("per-target validation ROC AUC: {aucs:?}");
    assert!(aucs[0].unwrap() > 0.8, "GATA: {aucs:?}");
    assert!((aucs[2].unwrap() - 0.5).abs() < 0.2, "noise: {aucs:?}");
    let tsv = std::fs::read_to_string(out.join("metrics.tsv")).unwrap();
    assert_eq!(tsv.lines().count(), 16);
    assert!(tsv.starts_with("epoch\tstep\tlr\ttrain_loss\tvalid_loss\tvalid_mean_roc_auc"));
    let (best_loss, best_epoch) = report.best.unwrap();
    assert_eq!(report.history[best_epoch - 1].valid_loss, best_loss);
    assert!(report.history.iter().all(|m| m.valid_loss >= best_loss));
}

#[test]
fn a_halted_and_resumed_run_equals_an_uninterrupted_one() {
    let d = data(200);
    for cfg in [tiny_danq(3), tiny_deepsea(3)] {
        let a = d.root.join(format!("a-{}", cfg.model.arch()));
        let b = d.root.join(format!("b-{}", cfg.model.arch()));
        let mut oa = options(&d.train, &d.valid, &a, cfg.clone());
        oa.checkpoint_every = Some(3);
        let full = run(&oa).unwrap();
        // 200 rows / 16 = 13 steps per epoch; halt in the middle of epoch 2, after the
        // mid-epoch checkpoint at step 18 and before the next one.
        let mut ob = options(&d.train, &d.valid, &b, cfg.clone());
        ob.checkpoint_every = Some(3);
        ob.halt_after_steps = Some(20);
        assert_eq!(run(&ob).unwrap().outcome, Outcome::Halted);
        let latest = ferrosea_train::checkpoint::read_meta(&b.join("latest.json")).unwrap();
        assert_eq!(
            (latest.state.epoch, latest.state.step, latest.state.position),
            (1, 18, 5 * 16)
        );
        ob.halt_after_steps = None;
        ob.resume = true;
        let resumed = run(&ob).unwrap();
        let losses = |h: &[ferrosea_train::checkpoint::EpochMetrics]| {
            h.iter()
                .map(|m| {
                    (
                        m.epoch,
                        m.step,
                        m.lr,
                        m.train_loss,
                        m.valid_loss,
                        m.valid_mean_roc_auc,
                    )
                })
                .collect::<Vec<_>>()
        };
        // Identical to the last bit (only the measured speed may differ).
        assert_eq!(
            losses(&resumed.history),
            losses(&full.history),
            "{}",
            cfg.model.arch()
        );
        assert_eq!(weights_bytes(&a, "latest"), weights_bytes(&b, "latest"));
        assert_eq!(weights_bytes(&a, "best"), weights_bytes(&b, "best"));
    }
}

#[test]
fn the_same_seed_gives_the_same_bytes_and_another_seed_does_not() {
    let d = data(160);
    let run_with = |name: &str, seed: u64| {
        let out = d.root.join(name);
        let mut o = options(&d.train, &d.valid, &out, tiny_danq(2));
        o.seed = seed;
        run(&o).unwrap();
        weights_bytes(&out, "latest")
    };
    let one = run_with("s1", 7);
    assert_eq!(one, run_with("s1b", 7));
    assert_ne!(one, run_with("s2", 8));
}

#[test]
fn two_replicas_of_half_batches_equal_one_of_whole_batches() {
    let d = data(160);
    for cfg in [tiny_danq(2), tiny_deepsea(2)] {
        let one = d.root.join(format!("one-{}", cfg.model.arch()));
        let two = d.root.join(format!("two-{}", cfg.model.arch()));
        let r1 = run(&options(&d.train, &d.valid, &one, cfg.clone())).unwrap();
        let mut o2 = options(&d.train, &d.valid, &two, cfg.clone());
        o2.devices = vec![DeviceSpec::Cpu, DeviceSpec::Cpu];
        let r2 = run(&o2).unwrap();
        assert_eq!(r2.replica_divergence, 0.0, "replicas drifted apart");
        let load = |dir: &std::path::Path| {
            let meta = ferrosea_train::checkpoint::read_meta(&dir.join("latest.json")).unwrap();
            ferrosea_train::checkpoint::load_tensors(
                &dir.join("latest.json"),
                &meta.weights_file,
                &candle_core::Device::Cpu,
            )
            .unwrap()
        };
        let (w1, w2) = (load(&one), load(&two));
        let mut worst = 0f32;
        for (k, t1) in &w1 {
            let a = t1.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let b = w2[k].flatten_all().unwrap().to_vec1::<f32>().unwrap();
            for (x, y) in a.iter().zip(&b) {
                worst = worst.max((x - y).abs() / (1.0 + x.abs()));
            }
        }
        assert!(
            worst < 1e-3,
            "{}: weights differ by up to {worst}",
            cfg.model.arch()
        );
        for (m1, m2) in r1.history.iter().zip(&r2.history) {
            assert!(
                (m1.train_loss - m2.train_loss).abs() < 1e-4,
                "{m1:?} vs {m2:?}"
            );
        }
    }
}

#[test]
fn a_diverging_run_stops_and_keeps_its_last_good_checkpoint() {
    let d = data(160);
    let out = d.root.join("nan");
    let mut cfg = tiny_deepsea(3);
    cfg.max_norm = None;
    cfg.optimizer.set_lr(1e30);
    let mut o = options(&d.train, &d.valid, &out, cfg);
    o.checkpoint_every = Some(1);
    let err = run(&o).unwrap_err();
    assert!(
        matches!(err, ferrosea_train::TrainError::Diverged(_)),
        "{err}"
    );
    let err = err.to_string();
    let latest = ferrosea_train::checkpoint::read_meta(&out.join("latest.json")).unwrap();
    assert!(
        err.contains(&format!(
            "training diverged at step {}",
            latest.state.step + 1
        )) && err.contains(&format!(
            "latest.json (step {}), is kept",
            latest.state.step
        )),
        "{err}"
    );
    // What is kept loads, so it is finite (loading refuses anything else).
    ferrosea_runtime::checkpoint::load_network(&out.join("latest.json"), &candle_core::Device::Cpu)
        .unwrap();
    assert!(!out.join("best.json").exists() && !out.join("metrics.tsv").exists());
}

#[test]
fn a_resume_with_another_learning_rate_is_refused_and_changes_nothing() {
    let d = data(64);
    let out = d.root.join("lr");
    let mut o = options(&d.train, &d.valid, &out, tiny_deepsea(1));
    run(&o).unwrap();
    let good = weights_bytes(&out, "latest");
    o.resume = true;
    o.config.epochs = 2;
    o.config.optimizer.set_lr(0.05);
    let err = run(&o).unwrap_err().to_string();
    assert!(
        err.contains("the learning rate was 0.1, now 0.05 (--lr)") && err.contains("--out"),
        "{err}"
    );
    assert_eq!(weights_bytes(&out, "latest"), good);
    // Epochs may grow.
    o.config.optimizer.set_lr(0.1);
    assert_eq!(run(&o).unwrap().history.len(), 2);
}

#[test]
fn errors_name_what_is_wrong() {
    let d = data(64);
    let other = dataset(&d.root.join("other.h5"), 64, 3, &["GATA", "GC"]);
    let out = d.root.join("err");
    let e = run(&options(&d.train, &other, &out, tiny_danq(1)))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("different targets") && e.contains("other.h5") && e.contains("train.h5"),
        "{e}"
    );

    run(&options(&d.train, &d.valid, &out, tiny_danq(1))).unwrap();
    let e = run(&options(&d.train, &d.valid, &out, tiny_danq(1)))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("already holds a run") && e.contains("--resume") && e.contains("--force"),
        "{e}"
    );

    let mut o = options(&d.train, &d.valid, &out, tiny_deepsea(2));
    o.resume = true;
    let e = run(&o).unwrap_err().to_string();
    assert!(e.contains("latest.json") && e.contains("danq"), "{e}");

    let mut o = options(&other, &other, &out, tiny_danq(2));
    o.resume = true;
    let e = run(&o).unwrap_err().to_string();
    assert!(
        e.contains("3 targets") && e.contains("2 targets") && e.contains("other.h5"),
        "{e}"
    );

    let mut o = options(&d.train, &d.valid, &out, tiny_danq(1));
    o.force = true;
    run(&o).unwrap();

    let mut o = options(&d.train, &d.valid, &d.root.join("cuda"), tiny_danq(1));
    o.devices = vec![DeviceSpec::Cuda(0)];
    if !candle_core::utils::cuda_is_available() {
        let e = run(&o).unwrap_err().to_string();
        assert!(
            e.contains("without CUDA") && e.contains("--features cuda"),
            "{e}"
        );
    }
}

#[test]
fn motifs_seed_the_first_layer() {
    let d = data(64);
    let meme = d.root.join("m.meme");
    std::fs::write(
        &meme,
        "MEME version 4\n\nALPHABET= ACGT\n\nMOTIF M1 one\nletter-probability matrix: alength= 4 w= 3\n1 0 0 0\n0 1 0 0\n0 0 0.5 0.5\n",
    )
    .unwrap();
    let out = d.root.join("motif");
    let mut o = options(&d.train, &d.valid, &out, tiny_danq(1));
    o.init_filters = Some(meme);
    o.halt_after_steps = Some(1);
    o.checkpoint_every = Some(1);
    // Halting after step 1 leaves no checkpoint of the initial weights; read them through
    // the library instead.
    let store = ferrosea_models::ParamStore::new(42);
    ferrosea_models::Network::new(
        &o.config.model,
        WINDOW,
        3,
        &store.builder(&candle_core::Device::Cpu),
    )
    .unwrap();
    let n = ferrosea_train::init_filters(
        &store,
        &o.config.model,
        o.init_filters.as_ref().unwrap(),
        42,
    )
    .unwrap();
    assert_eq!(n, 2, "the motif and its reverse complement");
    let w = store.tensors()["conv1.weight"].to_vec3::<f32>().unwrap();
    let b = store.tensors()["conv1.bias"].to_vec1::<f32>().unwrap();
    // Filter 0 holds PFM - 0.25 somewhere in its 8 columns, zeros elsewhere.
    let col = |f: usize, p: usize| [w[f][0][p], w[f][1][p], w[f][2][p], w[f][3][p]];
    let start = (0..8)
        .find(|&p| col(0, p) == [0.75, -0.25, -0.25, -0.25])
        .expect("motif column 1");
    assert_eq!(col(0, start + 1), [-0.25, 0.75, -0.25, -0.25]);
    assert_eq!(col(0, start + 2), [-0.25, -0.25, 0.25, 0.25]);
    assert!((0..8)
        .filter(|p| !(start..start + 3).contains(p))
        .all(|p| col(0, p) == [0.0; 4]));
    // Filter 1 is the reverse complement: (0.5 A, 0.5 C), G, T.
    assert!((0..6)
        .any(|p| col(1, p) == [0.25, 0.25, -0.25, -0.25]
            && col(1, p + 2) == [-0.25, -0.25, -0.25, 0.75]));
    assert!(b[0] < 0.0 && b[0] > -1.0 && b[1] < 0.0 && b[1] > -1.0);
    assert!(
        w[2].iter().flatten().any(|&v| v != 0.0 && v.abs() != 0.25),
        "other filters keep their random start"
    );
    assert_eq!(run(&o).unwrap().outcome, Outcome::Halted);
}
