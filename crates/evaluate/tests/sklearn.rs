//! The metrics equal scikit-learn's `roc_auc_score` and `average_precision_score` to 1e-9,
//! ties included, on edge cases and on a real prediction file (tests/python/sklearn_metrics.py
//! is the oracle; `./dev.sh test` provides its Python).

mod common;

use common::*;
use ferrosea_dataset::PredictionsOptions;
use ferrosea_evaluate::{metrics, predict, MetricsOptions, PredictOptions};

fn score(
    preds: &std::path::Path,
    labels: Option<&std::path::Path>,
    out: &std::path::Path,
) -> Vec<Row> {
    metrics(&MetricsOptions {
        predictions: preds.to_path_buf(),
        labels: labels.map(|l| l.to_path_buf()),
        out: out.to_path_buf(),
        min_positives: 1,
        reference: None,
        plot_targets: None,
        no_plots: true,
        threshold: None,
    })
    .unwrap();
    read_per_target(&out.join("per_target.tsv"))
}

/// `metrics` of a prediction file's own labels, without plots.
fn metrics_of(
    preds: &std::path::Path,
    out: &std::path::Path,
    threshold: Option<f64>,
) -> ferrosea_evaluate::MetricsReport {
    metrics(&MetricsOptions {
        predictions: preds.to_path_buf(),
        labels: None,
        out: out.to_path_buf(),
        min_positives: 1,
        reference: None,
        plot_targets: None,
        no_plots: true,
        threshold,
    })
    .unwrap()
}

/// A seeded xorshift stream of uniform values in [0, 1).
fn uniform(mut s: u64) -> impl FnMut() -> f64 {
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[test]
fn edge_cases_match_sklearn() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let rows = 2000;
    let mut next = uniform(0x1234_5678_9abc_def0u64);
    // Each target is one case, as (name, scores, labels).
    let mut cases: Vec<(String, Vec<f32>, Vec<u8>)> = Vec::new();
    for k in 0..6 {
        // Heavy ties: 2 to 12 score levels, labels correlated with the level.
        let levels = 2 + 2 * k;
        let (mut sc, mut lb) = (Vec::new(), Vec::new());
        for _ in 0..rows {
            let l = (next() * levels as f64) as usize;
            sc.push(l as f32 / levels as f32);
            lb.push((next() < 0.05 + 0.4 * l as f64 / levels as f64) as u8);
        }
        cases.push((format!("ties{levels}"), sc, lb));
    }
    let random_labels = |rate: f64, next: &mut dyn FnMut() -> f64| -> Vec<u8> {
        (0..rows).map(|_| (next() < rate) as u8).collect()
    };
    let lb = random_labels(0.3, &mut next);
    cases.push(("all_equal".into(), vec![0.5; rows], lb));
    let mut one = vec![0u8; rows];
    one[1234] = 1;
    let sc: Vec<f32> = (0..rows).map(|_| next() as f32).collect();
    cases.push(("single_positive".into(), sc.clone(), one.clone()));
    cases.push(("single_positive_tied".into(), vec![0.25; rows], one));
    let mut one_neg = vec![1u8; rows];
    one_neg[7] = 0;
    cases.push(("single_negative".into(), sc.clone(), one_neg));
    cases.push(("no_positives".into(), sc.clone(), vec![0; rows]));
    cases.push(("no_negatives".into(), sc.clone(), vec![1; rows]));
    for rate in [0.001, 0.01, 0.2] {
        let lb = random_labels(rate, &mut next);
        // Continuous scores with a signal; near-equal values just one ulp apart.
        let sc: Vec<f32> = lb
            .iter()
            .enumerate()
            .map(|(i, &l)| {
                let base = (next() + 0.3 * l as f64) as f32;
                if i % 10 == 0 {
                    f32::from_bits(0.5f32.to_bits() + (i % 3) as u32)
                } else {
                    base
                }
            })
            .collect();
        cases.push((format!("continuous{rate}"), sc, lb));
    }
    // Extreme values: exact 0 and 1, subnormals.
    let lb = random_labels(0.1, &mut next);
    let sc: Vec<f32> = (0..rows)
        .map(|i| match i % 5 {
            0 => 0.0,
            1 => 1.0,
            2 => 1e-40,
            3 => 1.0 - f32::EPSILON,
            _ => next() as f32,
        })
        .collect();
    cases.push(("extremes".into(), sc, lb));

    let t = cases.len();
    let names: Vec<String> = cases.iter().map(|c| c.0.clone()).collect();
    let (mut pred, mut y) = (vec![0f32; rows * t], vec![0u8; rows * t]);
    for (j, (_, sc, lb)) in cases.iter().enumerate() {
        for r in 0..rows {
            pred[r * t + j] = sc[r];
            y[r * t + j] = lb[r];
        }
    }
    // Tiles narrower than the targets, so that the band reading is exercised.
    let opts = PredictionsOptions {
        chunk_rows: 300,
        chunk_targets: 4,
        level: 1,
    };
    let preds = predictions(&dir.path().join("p.h5"), &names, &pred, &y, opts);
    let ours = score(&preds, None, &dir.path().join("report"));
    let theirs = sklearn(&preds, None);
    assert_same(&ours, &theirs);
    let na: Vec<&str> = ours
        .iter()
        .filter(|r| r.3.is_none())
        .map(|r| r.0.as_str())
        .collect();
    assert_eq!(na, ["no_positives", "no_negatives"]);
    let all_equal = ours.iter().find(|r| r.0 == "all_equal").unwrap();
    assert_eq!(all_equal.3, Some(0.5));
}

#[test]
fn a_real_prediction_file_matches_sklearn() {
    let _g = serial();
    let f = fixture();
    let preds = f.dir.join("sk-preds.h5");
    predict(&PredictOptions {
        checkpoint: f.run.clone(),
        data: f.prep.join("test.h5"),
        out: preds.clone(),
        rc_average: true,
        batch_size: 100,
        device: ferrosea_runtime::DeviceSpec::Cpu,
        compression_level: 0,
        command_line: String::new(),
        progress: false,
    })
    .unwrap();
    let ours = score(&preds, None, &f.dir.join("sk-report"));
    assert_same(&ours, &sklearn(&preds, None));
    assert!(ours.iter().filter(|r| r.3.is_some()).count() > 20);
    // The same labels taken from the dataset file instead.
    let test = f.prep.join("test.h5");
    let with_labels = score(&preds, Some(&test), &f.dir.join("sk-report-labels"));
    assert_eq!(with_labels, ours);
    assert_same(&with_labels, &sklearn(&preds, Some(&test)));
}

/// Real-valued labels: Pearson, Spearman (ties included) and MSE equal scipy's.
#[test]
fn real_labels_match_scipy() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let rows = 500;
    let mut next = uniform(0x9e37_79b9_7f4a_7c15u64);
    let names: Vec<String> = ["linear", "ties", "noise", "constant"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let (mut pred, mut y) = (Vec::new(), Vec::new());
    for _ in 0..rows {
        let a = next() * 4.0 - 2.0;
        let (n1, n2) = (next(), next());
        // linear with noise; tied labels (5 levels); independent noise; constant labels.
        pred.extend([a as f32, (a + n1) as f32, n1 as f32, a as f32]);
        y.extend([
            (2.0 * a + 0.5 * n2) as f32,
            ((a + 2.0) as i32) as f32,
            n2 as f32,
            1.5,
        ]);
    }
    let preds = predictions_of(
        &dir.path().join("p.h5"),
        &names,
        &pred,
        &y,
        ferrosea_dataset::LabelKind::Real,
        PredictionsOptions::default(),
    );
    let out = dir.path().join("report");
    let report = metrics_of(&preds, &out, None);
    let oracle = dir.path().join("scipy.tsv");
    let status = std::process::Command::new(python())
        .arg(root().join("tests/python/scipy_regression.py"))
        .arg(&preds)
        .arg(&oracle)
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&oracle).unwrap();
    let num = |v: &str| (v != "NA").then(|| v.parse::<f64>().unwrap());
    for (line, ours) in text.lines().skip(1).zip(&report.targets) {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f[0], ours.name);
        for (want, got, what) in [
            (num(f[1]), ours.pearson, "pearson"),
            (num(f[2]), ours.spearman, "spearman"),
            (num(f[3]), ours.mse, "mse"),
        ] {
            match (want, got) {
                (None, None) => {}
                (Some(w), Some(g)) => {
                    assert!((w - g).abs() < 1e-6, "{} {what}: {g} vs scipy {w}", f[0])
                }
                _ => panic!("{} {what}: {got:?} vs scipy {want:?}", f[0]),
            }
        }
    }
    let tsv = std::fs::read_to_string(out.join("per_target.tsv")).unwrap();
    assert!(
        tsv.starts_with("name\tcategory\tn\tpearson\tspearman\tmse\n"),
        "{tsv}"
    );
    let all = report.summary.last().unwrap();
    assert_eq!(
        (all.category.as_str(), all.targets, all.targets_na),
        ("all", 3, 1)
    );
}

/// Class labels: per-class and overall accuracy beside the per-class AUCs.
#[test]
fn class_labels_get_accuracy() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    // Rows of classes a, a, b, b, c, c; predicted a, b, b, b, a, c.
    let classes = [0usize, 0, 1, 1, 2, 2];
    let predicted = [0usize, 1, 1, 1, 0, 2];
    let (mut pred, mut y) = (Vec::new(), Vec::new());
    for (&c, &p) in classes.iter().zip(&predicted) {
        for k in 0..3 {
            y.push((k == c) as u8 as f32);
            pred.push(if k == p { 0.6 } else { 0.2 });
        }
    }
    let preds = predictions_of(
        &dir.path().join("p.h5"),
        &names,
        &pred,
        &y,
        ferrosea_dataset::LabelKind::Class,
        PredictionsOptions::default(),
    );
    let out = dir.path().join("report");
    let report = metrics_of(&preds, &out, None);
    let acc: Vec<Option<f64>> = report.targets.iter().map(|r| r.accuracy).collect();
    assert_eq!(acc, vec![Some(0.5), Some(1.0), Some(0.5)]);
    let all = report.summary.iter().find(|s| s.category == "all").unwrap();
    assert_eq!(all.accuracy, Some(4.0 / 6.0));
    assert!(report.targets.iter().all(|r| r.roc_auc.is_some()));
    let tsv = std::fs::read_to_string(out.join("summary.tsv")).unwrap();
    assert!(tsv.lines().next().unwrap().ends_with("\taccuracy"), "{tsv}");
}

/// 0/1 labels with `--threshold`: each target's accuracy at that probability.
#[test]
fn a_threshold_gives_binary_accuracy() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
    // a: 0.9/1, 0.6/0, 0.5/1, 0.1/0 -> 3 of 4 right at 0.5; b: all wrong.
    let pred = [0.9f32, 0.2, 0.6, 0.8, 0.5, 0.1, 0.1, 0.7];
    let y = [1u8, 1, 0, 0, 1, 1, 0, 0];
    let preds = predictions(
        &dir.path().join("p.h5"),
        &names,
        &pred,
        &y,
        PredictionsOptions::default(),
    );
    let report = metrics_of(&preds, &dir.path().join("report"), Some(0.5));
    let acc: Vec<Option<f64>> = report.targets.iter().map(|r| r.accuracy).collect();
    assert_eq!(acc, vec![Some(0.75), Some(0.0)]);
    let all = report.summary.iter().find(|s| s.category == "all").unwrap();
    assert_eq!(all.accuracy, Some(0.375));
}

/// A softmax model on class-labelled data (the course's ten motifs): predict keeps the class
/// labels one-hot, and metrics scores them from the prediction file or from the dataset.
#[test]
fn class_labelled_data_is_predicted_and_scored() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    ferrosea_prep::examples::simulate_examples(&ferrosea_prep::examples::ExamplesOptions {
        out: dir.path().to_path_buf(),
        motifs: None,
        seed: 1,
        command_line: "test".into(),
    })
    .unwrap();
    let d = dir.path().join("motif-classes");
    let mut cfg = ferrosea_train::TrainConfig::preset("deepbind-tiny").unwrap();
    cfg.loss = ferrosea_runtime::loss::Loss::Softmax;
    cfg.epochs = 1;
    let run = dir.path().join("run");
    ferrosea_train::run(&ferrosea_train::Options {
        steps_per_epoch: Some(4),
        ..ferrosea_train::Options::new(d.join("valid.h5"), d.join("valid.h5"), &run, cfg)
    })
    .unwrap();
    let preds = dir.path().join("p.h5");
    predict(&PredictOptions {
        checkpoint: run.clone(),
        data: d.join("test.h5"),
        out: preds.clone(),
        rc_average: false,
        batch_size: 128,
        device: ferrosea_runtime::DeviceSpec::Cpu,
        compression_level: 0,
        command_line: String::new(),
        progress: false,
    })
    .unwrap();
    let p = ferrosea_dataset::Predictions::open(&preds).unwrap();
    assert_eq!(p.labels(), ferrosea_dataset::LabelKind::Class);
    let y = p.read_y(0..p.len(), 0..11).unwrap();
    assert!(y.chunks(11).all(|r| r.iter().sum::<u8>() == 1));
    let own = metrics_of(&preds, &dir.path().join("own"), None);
    let from_data = metrics(&MetricsOptions {
        predictions: preds.clone(),
        labels: Some(d.join("test.h5")),
        out: dir.path().join("data"),
        min_positives: 1,
        reference: None,
        plot_targets: None,
        no_plots: true,
        threshold: None,
    })
    .unwrap();
    assert_eq!(own.targets, from_data.targets);
    assert_eq!(own.targets.len(), 11);
    assert!(own
        .targets
        .iter()
        .all(|r| r.accuracy.is_some() && r.n_pos == 100));
}
