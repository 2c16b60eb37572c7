//! Benchmark of the evaluate stage.
//!
//! 1. `metrics` on DeepSEA's test-set shape (455,024 rows x 919 targets; `BENCH_ROWS`
//!    overrides the rows) of synthetic predictions and labels, positive rates 0.1-5% per
//!    target, against a Python loop over scikit-learn's `roc_auc_score` and
//!    `average_precision_score` on the same file (`tests/python/sklearn_metrics.py`, with
//!    `.venv/bin/python`, which `./dev.sh test` makes). Both run as child processes so that
//!    wall time and peak memory are their own; the per-target values are compared too.
//! 2. `predict` samples/s on CPU for DeepSEA and DanQ (2,048 rows of window 1000, 919
//!    targets; the checkpoint comes from one training step).
//!
//! Run: `cargo bench -p ferrosea-benches --bench evaluate` (prints figures; asserts no timing).

use std::path::{Path, PathBuf};
use std::process::Command;

use ferrosea_benches::{header, measure, one_hot_dataset, train_one_step};
use ferrosea_dataset::{PredictionsOptions, PredictionsWriter};
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

const TARGETS: usize = 919;

/// Synthetic predictions: target t has a positive rate between 0.1% and 5% (log-uniform);
/// positives score sigmoid(N(1, 1.5)), negatives sigmoid(N(-2, 1.5)). Seeded per row block.
fn synthetic_predictions(path: &Path, rows: usize) {
    let t = TARGETS;
    let rates: Vec<f64> = (0..t)
        .map(|i| 0.001 * 50f64.powf(((i * 7919) % t) as f64 / (t - 1) as f64))
        .collect();
    let mut w =
        PredictionsWriter::create(path, &header(t, 1000), rows, PredictionsOptions::default())
            .unwrap();
    let block = 4096;
    for first in (0..rows).step_by(block) {
        let k = block.min(rows - first);
        let parts: Vec<(Vec<f32>, Vec<u8>)> = (0..k)
            .into_par_iter()
            .map(|i| {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64((first + i) as u64);
                let mut p = Vec::with_capacity(t);
                let mut y = Vec::with_capacity(t);
                for &rate in &rates {
                    let pos = rng.random::<f64>() < rate;
                    // Box-Muller normal.
                    let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random());
                    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                    let logit = if pos { 1.0 } else { -2.0 } + 1.5 * z;
                    p.push((1.0 / (1.0 + (-logit).exp())) as f32);
                    y.push(pos as u8);
                }
                (p, y)
            })
            .collect();
        let pred: Vec<f32> = parts.iter().flat_map(|(p, _)| p.iter().copied()).collect();
        let y: Vec<f32> = parts
            .iter()
            .flat_map(|(_, y)| y.iter().map(|&v| f32::from(v)))
            .collect();
        let start: Vec<i64> = (first..first + k).map(|r| 200 * r as i64).collect();
        w.write_rows(&pred, &y, &vec![0; k], &start, &vec![b'+'; k])
            .unwrap();
    }
    w.finish().unwrap();
}

fn read_tsv(path: &Path) -> Vec<(String, Option<f64>, Option<f64>)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |n: &str| head.iter().position(|h| *h == n).unwrap();
    let (name, roc, pr) = (col("name"), col("roc_auc"), col("pr_auc"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[name].to_string(), f[roc].parse().ok(), f[pr].parse().ok())
        })
        .collect()
}

fn metrics_bench(dir: &Path) {
    let rows = ferrosea_benches::env_usize("BENCH_ROWS", 455_024);
    let preds = dir.join(format!("preds-{rows}.h5"));
    if !preds.exists() {
        let t = std::time::Instant::now();
        synthetic_predictions(&preds, rows);
        eprintln!(
            "wrote {} ({:.0} MB) in {:.1} s",
            preds.display(),
            std::fs::metadata(&preds).unwrap().len() as f64 / 1e6,
            t.elapsed().as_secs_f64()
        );
    }
    let exe = std::env::current_exe().unwrap();
    println!("metrics: {rows} rows x {TARGETS} targets, same file, same machine");
    println!("{:<36} {:>10} {:>10}", "", "wall s", "peak MB");
    let mut ours_wall = [0.0; 2];
    for (i, plots) in ["no-plots", "plots"].iter().enumerate() {
        let out = dir.join(format!("report-{plots}"));
        let args = serde_json::to_string(&[
            "metrics",
            &preds.display().to_string(),
            &out.display().to_string(),
            plots,
        ])
        .unwrap();
        let m = measure(Command::new(&exe).env("FERROSEA_BENCH_CHILD", &args));
        assert!(m.ok, "ferrosea metrics failed");
        ours_wall[i] = m.wall.as_secs_f64();
        println!(
            "{:<36} {:>10.2} {:>10.0}",
            format!("ferrosea metrics ({plots})"),
            ours_wall[i],
            m.max_rss as f64 / 1e6
        );
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join(".venv/bin/python");
    if !python.exists() {
        println!("(no .venv/bin/python: run ./dev.sh test once; scikit-learn not measured)");
        return;
    }
    let sk_out = dir.join("sklearn.tsv");
    let sk_json = dir.join("sklearn.json");
    let m = measure(
        Command::new(&python)
            .arg(root.join("tests/python/sklearn_metrics.py"))
            .arg(&preds)
            .arg(&sk_out)
            .stdout(std::fs::File::create(&sk_json).unwrap()),
    );
    assert!(m.ok, "the scikit-learn loop failed");
    let times: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&sk_json).unwrap()).unwrap();
    let (load, lp) = (
        times["load_s"].as_f64().unwrap(),
        times["loop_s"].as_f64().unwrap(),
    );
    let sk_wall = m.wall.as_secs_f64();
    println!(
        "{:<36} {:>10.2} {:>10.0}   (h5py load {load:.1} s, sklearn loop {lp:.1} s)",
        "python: h5py + sklearn loop",
        sk_wall,
        m.max_rss as f64 / 1e6
    );
    println!(
        "ratio, whole runs (python wall / ferrosea no-plots wall): {:.1}x; sklearn loop alone / \
         ferrosea whole run: {:.1}x",
        sk_wall / ours_wall[0],
        lp / ours_wall[0]
    );
    let ours = read_tsv(&dir.join("report-no-plots/per_target.tsv"));
    let theirs = read_tsv(&sk_out);
    assert_eq!(ours.len(), theirs.len());
    let mut max_diff = 0.0f64;
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(a.0, b.0);
        for (x, y) in [(a.1, b.1), (a.2, b.2)] {
            match (x, y) {
                (Some(x), Some(y)) => max_diff = max_diff.max((x - y).abs()),
                (None, None) => {}
                _ => panic!("{}: defined on one side only", a.0),
            }
        }
    }
    println!("largest |ferrosea - sklearn| over all targets and both metrics: {max_diff:.2e}");
}

fn predict_bench(dir: &Path) {
    let rows = 2048;
    let data = dir.join("predict-data.h5");
    let valid = dir.join("predict-valid.h5");
    if !data.exists() {
        one_hot_dataset(&data, rows, 1000, TARGETS);
        one_hot_dataset(&valid, 32, 1000, TARGETS);
    }
    let exe = std::env::current_exe().unwrap();
    println!("\npredict on CPU: {rows} rows x {TARGETS} targets, window 1000, batch 256");
    println!(
        "{:<10} {:>14} {:>22}",
        "model", "samples/s", "samples/s --rc-average"
    );
    for preset in ["deepsea", "danq"] {
        let run = dir.join(format!("run-{preset}"));
        train_one_step(preset, &data, &valid, &run);
        let mut rates = Vec::new();
        for rc in ["plain", "rc"] {
            let args = serde_json::to_string(&[
                "predict",
                &run.display().to_string(),
                &data.display().to_string(),
                &dir.join(format!("preds-{preset}.h5")).display().to_string(),
                rc,
            ])
            .unwrap();
            let m = measure(Command::new(&exe).env("FERROSEA_BENCH_CHILD", &args));
            assert!(m.ok, "predict failed");
            let r: f64 = std::fs::read_to_string(dir.join("predict-rate"))
                .unwrap()
                .parse()
                .unwrap();
            rates.push(r);
        }
        println!("{preset:<10} {:>14.1} {:>22.1}", rates[0], rates[1]);
    }
}

fn child(args: Vec<String>) {
    match args[0].as_str() {
        "metrics" => {
            ferrosea_evaluate::metrics(&ferrosea_evaluate::MetricsOptions {
                predictions: PathBuf::from(&args[1]),
                labels: None,
                out: PathBuf::from(&args[2]),
                min_positives: 1,
                reference: None,
                plot_targets: None,
                no_plots: args[3] == "no-plots",
                threshold: None,
            })
            .unwrap();
        }
        "predict" => {
            let out = PathBuf::from(&args[3]);
            let r = ferrosea_evaluate::predict(&ferrosea_evaluate::PredictOptions {
                checkpoint: PathBuf::from(&args[1]),
                data: PathBuf::from(&args[2]),
                out: out.clone(),
                rc_average: args[4] == "rc",
                batch_size: 256,
                device: ferrosea_runtime::DeviceSpec::Cpu,
                compression_level: 0,
                command_line: String::new(),
                progress: false,
            })
            .unwrap();
            std::fs::write(
                out.parent().unwrap().join("predict-rate"),
                r.samples_per_s().to_string(),
            )
            .unwrap();
        }
        other => panic!("unknown child {other}"),
    }
}

fn main() {
    if let Ok(args) = std::env::var("FERROSEA_BENCH_CHILD") {
        // As the binaries do: keep glibc from returning Candle's buffers every batch.
        ferrosea_runtime::process::keep_freed_memory();
        child(serde_json::from_str(&args).unwrap());
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-evaluate");
    std::fs::create_dir_all(&dir).unwrap();
    println!(
        "threads: {}",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    if std::env::var_os("BENCH_SKIP_METRICS").is_none() {
        metrics_bench(&dir);
    }
    if std::env::var_os("BENCH_SKIP_PREDICT").is_none() {
        predict_bench(&dir);
    }
}
