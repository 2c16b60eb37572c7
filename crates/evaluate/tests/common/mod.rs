//! The fixture of the evaluate tests: the demo data through prep, a briefly trained DanQ-tiny
//! checkpoint, and the Python oracle.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ferrosea_dataset::{Header, PredictionsOptions, PredictionsWriter, Targets};

pub use ferrosea_testkit::{root, serial};

/// The Python with h5py and scikit-learn that `./dev.sh test` makes.
pub fn python() -> PathBuf {
    ferrosea_testkit::python("h5py and scikit-learn")
}

pub struct Fixture {
    pub dir: PathBuf,
    pub prep: PathBuf,
    pub run: PathBuf,
}

/// prep on the demo data (with reverse complements), then 8 steps of danq-tiny.
pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let demo = root().join("data/demo");
        let prep = dir.join("prep");
        ferrosea_prep::run(&ferrosea_prep::Options {
            genome: demo.join("hg19_chr22_26-30Mb.fa.gz"),
            targets: demo.join("targets.tsv"),
            out: prep.clone(),
            threads: 2,
            reverse_complement: true,
            valid: ferrosea_genome::Region::parse_list("chr22:26000001-26500000").unwrap(),
            test: ferrosea_genome::Region::parse_list("chr22:29000001-30000000").unwrap(),
            ..Default::default()
        })
        .unwrap();
        let run = dir.join("run");
        let mut cfg = ferrosea_train::TrainConfig::preset("danq-tiny").unwrap();
        cfg.epochs = 1;
        ferrosea_train::run(&ferrosea_train::Options {
            steps_per_epoch: Some(8),
            ..ferrosea_train::Options::new(prep.join("train.h5"), prep.join("valid.h5"), &run, cfg)
        })
        .unwrap();
        Fixture { dir, prep, run }
    })
}

/// Writes a prediction file of `[rows, targets]` values with the given labels.
pub fn predictions(
    path: &Path,
    names: &[String],
    pred: &[f32],
    y: &[u8],
    opts: PredictionsOptions,
) -> PathBuf {
    let y: Vec<f32> = y.iter().map(|&v| f32::from(v)).collect();
    predictions_of(
        path,
        names,
        pred,
        &y,
        ferrosea_dataset::LabelKind::Binary,
        opts,
    )
}

/// Writes a prediction file of `[rows, targets]` values with labels of `kind` (`y` as
/// numbers, class labels one-hot).
pub fn predictions_of(
    path: &Path,
    names: &[String],
    pred: &[f32],
    y: &[f32],
    kind: ferrosea_dataset::LabelKind,
    opts: PredictionsOptions,
) -> PathBuf {
    let t = names.len();
    let rows = pred.len() / t;
    let header = Header {
        window: 1000,
        targets: Targets {
            name: names.to_vec(),
            category: (0..t)
                .map(|i| ["TF", "DNase", "Histone"][i % 3].to_string())
                .collect(),
            ..Default::default()
        },
        chrom_names: vec!["chr1".into()],
        attrs: vec![],
        labels: kind,
        ..Default::default()
    };
    let mut w = PredictionsWriter::create(path, &header, rows, opts).unwrap();
    let start: Vec<i64> = (0..rows as i64).map(|r| r * 200).collect();
    w.write_rows(pred, y, &vec![0; rows], &start, &vec![b'+'; rows])
        .unwrap();
    w.finish().unwrap()
}

/// (name, n_pos, n_neg, roc_auc, pr_auc) rows of a per-target TSV (ours or the oracle's).
pub type Row = (String, u64, u64, Option<f64>, Option<f64>);

pub fn read_per_target(path: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |n: &str| head.iter().position(|h| *h == n).unwrap();
    let c = [
        col("name"),
        col("n_pos"),
        col("n_neg"),
        col("roc_auc"),
        col("pr_auc"),
    ];
    lines
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let num = |s: &str| (s != "NA").then(|| s.parse::<f64>().unwrap());
            (
                f[c[0]].to_string(),
                f[c[1]].parse().unwrap(),
                f[c[2]].parse().unwrap(),
                num(f[c[3]]),
                num(f[c[4]]),
            )
        })
        .collect()
}

/// Runs the scikit-learn oracle on a prediction file (labels from `labels` when given).
pub fn sklearn(preds: &Path, labels: Option<&Path>) -> Vec<Row> {
    let out = preds.with_extension("sklearn.tsv");
    let mut cmd = std::process::Command::new(python());
    cmd.arg(root().join("tests/python/sklearn_metrics.py"))
        .arg(preds)
        .arg(&out);
    if let Some(l) = labels {
        cmd.arg(l);
    }
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "sklearn oracle failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    read_per_target(&out)
}

/// Ours equals scikit-learn's: counts exactly, metrics to 1e-9, NA on the same targets.
pub fn assert_same(ours: &[Row], theirs: &[Row]) {
    assert_eq!(ours.len(), theirs.len());
    for (a, b) in ours.iter().zip(theirs) {
        assert_eq!((&a.0, a.1, a.2), (&b.0, b.1, b.2), "counts");
        for (x, y, what) in [(a.3, b.3, "roc_auc"), (a.4, b.4, "pr_auc")] {
            match (x, y) {
                (Some(x), Some(y)) => {
                    assert!(
                        (x - y).abs() <= 1e-9,
                        "{} {what}: ours {x}, sklearn {y}",
                        a.0
                    )
                }
                (None, None) => {}
                _ => panic!("{} {what}: ours {x:?}, sklearn {y:?}", a.0),
            }
        }
    }
}
