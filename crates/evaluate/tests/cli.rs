//! `ferrosea-evaluate` as a user runs it: outputs, determinism, and bad input.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use ferrosea_dataset::{Block, Header, PredictionsOptions, Reader, Writer, WriterOptions};

fn evaluate(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrosea-evaluate"));
    for a in args {
        cmd.arg(a);
    }
    cmd.arg("-q").output().unwrap()
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Fails with exit code 2 and a message containing `what`.
fn fails_with(o: &Output, what: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(what), "expected '{what}' in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

fn predict_into(out: &Path, extra: &[&str]) -> Output {
    let f = fixture();
    let test = f.prep.join("test.h5");
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
        &"predict",
        &"--checkpoint",
        &f.run,
        &"--data",
        &test,
        &"-o",
        &out,
    ];
    for e in extra {
        args.push(e);
    }
    evaluate(&args)
}

/// A copy of a dataset file with its targets (and label columns) in the order `order`.
fn permuted_copy(src: &Path, dst: &Path, order: &[usize]) {
    let r = Reader::open(src).unwrap();
    let n = r.len();
    let mut targets = r.targets().clone();
    targets.name = order.iter().map(|&i| r.targets().name[i].clone()).collect();
    targets.category = order
        .iter()
        .map(|&i| r.targets().category[i].clone())
        .collect();
    targets.cell = targets
        .cell
        .map(|c| order.iter().map(|&i| c[i].clone()).collect());
    let header = Header {
        window: r.window(),
        targets,
        chrom_names: r.chrom_names().to_vec(),
        attrs: vec![],
        ..Default::default()
    };
    let t = order.len();
    let y = r.read_y(0..n).unwrap();
    let y: Vec<u8> = (0..n)
        .flat_map(|row| order.iter().map(move |&i| (row, i)))
        .map(|(row, i)| y[row * t + i])
        .collect();
    let (chrom, start, strand) = r.read_coord_columns(0..n).unwrap();
    let mut w = Writer::create(dst, &header, n, WriterOptions::default()).unwrap();
    w.write_rows(
        0,
        &Block {
            x: r.read_x(0..n).unwrap(),
            y,
            chrom,
            start,
            strand,
        },
    )
    .unwrap();
    w.finish().unwrap();
}

#[test]
fn predict_then_metrics_writes_the_whole_report() {
    let _g = serial();
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let preds = dir.path().join("preds.h5");
    ok(&predict_into(&preds, &["--batch-size", "64"]));
    let p = ferrosea_dataset::Predictions::open(&preds).unwrap();
    let test = Reader::open(f.prep.join("test.h5")).unwrap();
    assert_eq!(p.len(), test.len());
    assert_eq!(p.targets(), test.targets());
    assert_eq!(p.attr_str("split").as_deref(), Some("test"));
    let t = p.targets().len();
    let pred = p.read_pred(0..p.len(), 0..t).unwrap();
    assert!(pred.iter().all(|v| (0.0..=1.0).contains(v)));
    // Labels and coordinates are the dataset's.
    assert_eq!(
        p.read_y(0..p.len(), 0..t).unwrap(),
        test.read_y(0..test.len()).unwrap()
    );
    assert_eq!(
        p.read_coord_columns(0..p.len()).unwrap(),
        test.read_coord_columns(0..test.len()).unwrap()
    );

    // A reference with DeepSEA's columns and decimal commas; two demo targets in it.
    let reference = dir.path().join("paper.tsv");
    std::fs::write(
        &reference,
        "Cell Type\tTF/DNase/HistoneMark\tTreatment\tAUC\tAUPRC\n\
         H1-hESC\tCTCF\tNone\t0,97\t0,64\n\
         HepG2\tFOXA2\tNone\t0,93\tNA (No positive in Test region)\n\
         K562\tBRF1\tNone\tNA\tNA\n",
    )
    .unwrap();
    let report = dir.path().join("report");
    let o = evaluate(&[
        &"metrics",
        &"--predictions",
        &preds,
        &"-o",
        &report,
        &"--reference",
        &reference,
        &"--plot-targets",
        &"H1-hESC|CTCF,HepG2|FOXA2",
    ]);
    ok(&o);
    let rows = read_per_target(&report.join("per_target.tsv"));
    assert_eq!(rows.len(), t);
    let tsv = std::fs::read_to_string(report.join("per_target.tsv")).unwrap();
    let ctcf = tsv
        .lines()
        .find(|l| l.starts_with("H1-hESC|CTCF\t"))
        .unwrap();
    let f6: Vec<&str> = ctcf.split('\t').collect();
    assert_eq!(f6[6], "0.97");
    let delta: f64 = f6[8].parse().unwrap();
    let ours: f64 = f6[4].parse().unwrap();
    assert!((delta - (ours - 0.97)).abs() < 1e-12);
    let summary = std::fs::read_to_string(report.join("summary.tsv")).unwrap();
    let all = summary.lines().find(|l| l.starts_with("all\t")).unwrap();
    let scored = rows.iter().filter(|r| r.3.is_some()).count();
    assert_eq!(all.split('\t').nth(1).unwrap(), scored.to_string());
    // The mean in the summary is the mean of the per-target values.
    let mean: f64 = all.split('\t').nth(3).unwrap().parse().unwrap();
    let expect = rows.iter().filter_map(|r| r.3).sum::<f64>() / scored as f64;
    assert!((mean - expect).abs() < 1e-12);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(json["targets"].as_array().unwrap().len(), t);
    assert_eq!(
        json["summary"].as_array().unwrap().last().unwrap()["category"],
        "all"
    );
    for plot in [
        "roc_curves",
        "pr_curves",
        "auc_distribution",
        "reference_roc_auc",
    ] {
        for ext in ["svg", "png"] {
            let p = report.join(format!("plots/{plot}.{ext}"));
            assert!(
                std::fs::metadata(&p).unwrap().len() > 1000,
                "{}",
                p.display()
            );
        }
    }
    let svg = std::fs::read_to_string(report.join("plots/roc_curves.svg")).unwrap();
    assert!(svg.contains("H1-hESC|CTCF") && svg.contains("False positive rate"));
    // No temporary file is left.
    let left: Vec<String> = walk(&report)
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(".tmp"))
        .map(|p| p.display().to_string())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn predictions_are_the_same_whatever_the_threads_and_batch_size() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.h5"), dir.path().join("b.h5"));
    ok(&predict_into(&a, &["-j", "1", "--rc-average"]));
    ok(&predict_into(
        &b,
        &["-j", "3", "--rc-average", "--batch-size", "77"],
    ));
    // The command line is recorded, so compare everything else: the datasets' bytes.
    let (pa, pb) = (
        ferrosea_dataset::Predictions::open(&a).unwrap(),
        ferrosea_dataset::Predictions::open(&b).unwrap(),
    );
    let t = pa.targets().len();
    let (va, vb) = (
        pa.read_pred(0..pa.len(), 0..t).unwrap(),
        pb.read_pred(0..pb.len(), 0..t).unwrap(),
    );
    let differ: Vec<usize> = (0..va.len())
        .filter(|&i| va[i].to_bits() != vb[i].to_bits())
        .collect();
    assert!(
        differ.is_empty(),
        "{} values differ between -j 1 and -j 3, first at row {} target {}: {} vs {} ({})",
        differ.len(),
        differ[0] / t,
        differ[0] % t,
        va[differ[0]],
        vb[differ[0]],
        fixture().run.display()
    );
    // With --rc-average, a window and its reverse complement (rows i and F + i) get the same
    // prediction.
    let half = pa.len() / 2;
    for i in 0..half {
        for j in 0..t {
            let (x, y) = (va[i * t + j], va[(half + i) * t + j]);
            assert!((x - y).abs() < 1e-6, "row {i} target {j}: {x} vs {y}");
        }
    }
    // Same command twice: the same file, byte for byte.
    let c = dir.path().join("c.h5");
    ok(&predict_into(&a, &["-j", "1"]));
    ok(&predict_into(&c, &["-j", "1"]));
    let (ba, bc) = (std::fs::read(&a).unwrap(), std::fs::read(&c).unwrap());
    // The files differ only in the recorded output name (same length, a few bytes).
    assert_eq!(ba.len(), bc.len());
    let differing = ba.iter().zip(&bc).filter(|(x, y)| x != y).count();
    assert!(differing <= 2, "{differing} bytes differ");
}

#[test]
fn labels_from_a_dataset_with_targets_in_another_order_are_aligned_by_name() {
    let _g = serial();
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let preds = dir.path().join("preds.h5");
    ok(&predict_into(&preds, &[]));
    let test = f.prep.join("test.h5");
    let t = Reader::open(&test).unwrap().targets().len();
    let shuffled = dir.path().join("shuffled.h5");
    let order: Vec<usize> = (0..t).rev().collect();
    permuted_copy(&test, &shuffled, &order);
    let (r1, r2) = (dir.path().join("r1"), dir.path().join("r2"));
    ok(&evaluate(&[
        &"metrics",
        &"--predictions",
        &preds,
        &"-o",
        &r1,
        &"--no-plots",
    ]));
    let o = evaluate(&[
        &"metrics",
        &"--predictions",
        &preds,
        &"--labels",
        &shuffled,
        &"-o",
        &r2,
        &"--no-plots",
    ]);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("aligned them by name"));
    assert_eq!(
        std::fs::read(r1.join("per_target.tsv")).unwrap(),
        std::fs::read(r2.join("per_target.tsv")).unwrap()
    );
}

#[test]
fn bad_input_gets_a_clear_error() {
    let _g = serial();
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let preds = d.join("preds.h5");
    ok(&predict_into(&preds, &[]));
    let report = d.join("report");

    // Labels with another number of rows.
    let valid = f.prep.join("valid.h5");
    let o = evaluate(&[
        &"metrics",
        &"--predictions",
        &preds,
        &"--labels",
        &valid,
        &"-o",
        &report,
    ]);
    fails_with(&o, "rows of labels");

    // Labels without some of the predicted targets.
    let test = f.prep.join("test.h5");
    let fewer = d.join("fewer.h5");
    permuted_copy(&test, &fewer, &[0, 1, 2]);
    let o = evaluate(&[
        &"metrics",
        &"--predictions",
        &preds,
        &"--labels",
        &fewer,
        &"-o",
        &report,
    ]);
    fails_with(&o, "has no labels for 26 of the 29 predicted targets");
    let r = Reader::open(&test).unwrap();
    let t = r.targets().len();

    // A NaN prediction names its row and target.
    let names: Vec<String> = (0..3).map(|i| format!("t{i}")).collect();
    let mut pred = vec![0.5f32; 30];
    pred[7 * 3 + 2] = f32::NAN;
    let y: Vec<u8> = (0..30).map(|i| (i % 4 == 0) as u8).collect();
    let nan = predictions(
        &d.join("nan.h5"),
        &names,
        &pred,
        &y,
        PredictionsOptions::default(),
    );
    let o = evaluate(&[&"metrics", &"--predictions", &nan, &"-o", &report]);
    fails_with(&o, "row 7, target t2 is NaN");

    // A dataset file given as predictions.
    let o = evaluate(&[&"metrics", &"--predictions", &test, &"-o", &report]);
    fails_with(&o, "it is a dataset file");

    // A checkpoint trained on other targets.
    let other = d.join("other.h5");
    let mut order: Vec<usize> = (0..t).collect();
    order.swap(0, 1);
    permuted_copy(&test, &other, &order);
    let out = d.join("x.h5");
    let o = evaluate(&[
        &"predict",
        &"--checkpoint",
        &f.run,
        &"--data",
        &other,
        &"-o",
        &out,
    ]);
    fails_with(&o, "trained on other targets");
    fails_with(&o, "another order");

    // An empty dataset.
    let empty = d.join("empty.h5");
    let header = Header {
        window: r.window(),
        targets: r.targets().clone(),
        chrom_names: r.chrom_names().to_vec(),
        attrs: vec![],
        ..Default::default()
    };
    Writer::create(&empty, &header, 0, WriterOptions::default())
        .unwrap()
        .finish()
        .unwrap();
    let o = evaluate(&[
        &"predict",
        &"--checkpoint",
        &f.run,
        &"--data",
        &empty,
        &"-o",
        &out,
    ]);
    fails_with(&o, "has no rows");

    // Unwritable outputs: a missing directory, a report directory under a file.
    let o = predict_into(&d.join("no/such/dir/p.h5"), &[]);
    fails_with(&o, "cannot write");
    let o = evaluate(&[
        &"metrics",
        &"--predictions",
        &preds,
        &"-o",
        &preds.join("report"),
    ]);
    fails_with(&o, "preds.h5");

    // A checkpoint that is not one.
    let o = evaluate(&[
        &"predict",
        &"--checkpoint",
        &d,
        &"--data",
        &test,
        &"-o",
        &out,
    ]);
    fails_with(&o, "not a ferrosea-train run");
    // Nothing half-written was left by any of the failures.
    assert!(!out.exists());
    let tmp: Vec<PathBuf> = walk(d)
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(tmp.is_empty(), "{tmp:?}");
}

#[test]
fn outputs_never_overwrite_inputs_and_are_checked_before_any_work() {
    let _g = serial();
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input = d.join("in.h5");
    std::fs::copy(f.prep.join("test.h5"), &input).unwrap();
    let before = std::fs::read(&input).unwrap();
    let link = d.join("link.h5");
    std::os::unix::fs::symlink(&input, &link).unwrap();
    for out in [&input, &link] {
        let o = evaluate(&[
            &"predict",
            &"--checkpoint",
            &f.run,
            &"--data",
            &input,
            &"-o",
            out,
        ]);
        fails_with(&o, "is the input --data");
    }
    assert_eq!(
        std::fs::read(&input).unwrap(),
        before,
        "the input was changed"
    );

    // An output that is a directory is refused before the checkpoint is even read.
    let o = evaluate(&[
        &"predict",
        &"--checkpoint",
        &d.join("no-such-run"),
        &"--data",
        &input,
        &"-o",
        &d,
    ]);
    fails_with(&o, "is a directory");

    // A metrics report over an older one: a failure leaves no metrics.json that would mark
    // the report finished, and the predictions cannot be overwritten by the report.
    let preds = d.join("preds.h5");
    ok(&predict_into(&preds, &[]));
    let report = d.join("report");
    ok(&evaluate(&[
        &"metrics",
        &"--predictions",
        &preds,
        &"-o",
        &report,
        &"--no-plots",
    ]));
    assert!(report.join("metrics.json").exists());
    let valid = f.prep.join("valid.h5");
    let o = evaluate(&[
        &"metrics",
        &"--predictions",
        &preds,
        &"--labels",
        &valid,
        &"-o",
        &report,
    ]);
    fails_with(&o, "rows of labels");
    assert!(
        !report.join("metrics.json").exists(),
        "a stale metrics.json survived"
    );
    let tsv = report.join("summary.tsv");
    let o = evaluate(&[
        &"metrics",
        &"--predictions",
        &preds,
        &"--reference",
        &tsv,
        &"-o",
        &report,
    ]);
    fails_with(&o, "is the input --reference");
}

#[test]
fn non_utf8_paths_are_handled_without_a_panic() {
    use std::os::unix::ffi::OsStrExt;
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join(std::ffi::OsStr::from_bytes(b"pr\xffed.h5"));
    let o = predict_into(&odd, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(o.status.code(), Some(101), "{err}");
    if o.status.success() {
        assert!(odd.exists());
    } else {
        assert_eq!(o.status.code(), Some(2), "{err}");
    }
}

#[test]
fn a_cuda_device_in_a_cpu_build_names_this_binary() {
    if cfg!(feature = "cuda") {
        return;
    }
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let o = predict_into(&dir.path().join("p.h5"), &["--device", "cuda:0"]);
    fails_with(&o, "this ferrosea-evaluate was built without CUDA");
    fails_with(
        &o,
        "cargo build --release -p ferrosea-evaluate --features cuda",
    );
    assert!(!String::from_utf8_lossy(&o.stderr).contains("ferrosea-train"));
}
