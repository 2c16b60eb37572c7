//! Benchmark of `ferrosea-prep import-deepsea`: a bundle with the original layouts (train.mat
//! MATLAB 7.3, valid.mat MATLAB 5 uncompressed, test.mat MATLAB 5 compressed), made by
//! tests/python/make_deepsea_mat.py with `BENCH_FORWARD` forward rows per file (default
//! 50,000, so 100,000 samples per file), window 1000, 919 targets. Prints samples/s, MB/s of
//! one-hot and label bytes, and peak memory of the import (a child process).
//!
//! Run: `cargo bench -p ferrosea-benches --bench import` (needs `.venv` from ./dev.sh test).

use std::path::Path;
use std::process::Command;

use ferrosea_benches::measure;

fn main() {
    if let Ok(args) = std::env::var("FERROSEA_BENCH_CHILD") {
        let a: Vec<String> = serde_json::from_str(&args).unwrap();
        ferrosea_prep::import_deepsea(&ferrosea_prep::ImportOptions {
            train: Some(Path::new(&a[0]).join("train.mat")),
            valid: Some(Path::new(&a[0]).join("valid.mat")),
            test: Some(Path::new(&a[0]).join("test.mat")),
            out: a[1].clone().into(),
            block_rows: 16384,
            chunk_rows: 256,
            compression_level: 4,
            ..Default::default()
        })
        .unwrap();
        return;
    }
    let forward = ferrosea_benches::env_usize("BENCH_FORWARD", 50_000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root.join(format!("target/bench-import/{forward}"));
    let bundle = dir.join("bundle");
    if !bundle.join("expected.h5").exists() {
        std::fs::create_dir_all(&bundle).unwrap();
        let t = std::time::Instant::now();
        let o = Command::new(root.join(".venv/bin/python"))
            .arg(root.join("tests/python/make_deepsea_mat.py"))
            .arg(&bundle)
            .args([&forward.to_string(), "1000", "919", "1"])
            .output()
            .expect("run ./dev.sh test once to make .venv");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        eprintln!("made the bundle in {:.1} s", t.elapsed().as_secs_f64());
    }
    let out = dir.join("out");
    let args =
        serde_json::to_string(&[bundle.display().to_string(), out.display().to_string()]).unwrap();
    let exe = std::env::current_exe().unwrap();
    let m = measure(Command::new(&exe).env("FERROSEA_BENCH_CHILD", &args));
    assert!(m.ok, "import failed");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("import.json")).unwrap()).unwrap();
    println!(
        "import-deepsea: {} samples per file, window 1000, 919 targets, {} threads",
        2 * forward,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:<6} {:<28} {:>9} {:>12} {:>8}",
        "split", "source", "seconds", "samples/s", "MB/s"
    );
    for s in report["splits"].as_array().unwrap() {
        let secs = s["seconds"].as_f64().unwrap();
        let rows = s["rows"].as_f64().unwrap();
        let size = std::fs::metadata(s["source"].as_str().unwrap())
            .unwrap()
            .len();
        println!(
            "{:<6} {:<28} {:>9.2} {:>12.0} {:>8.0}",
            s["split"].as_str().unwrap(),
            format!(
                "MATLAB {} ({:.0} MB)",
                s["source_version"].as_str().unwrap(),
                size as f64 / 1e6
            ),
            secs,
            rows / secs,
            s["mb_per_s"].as_f64().unwrap()
        );
    }
    println!(
        "whole import: {:.1} s, peak memory {:.0} MB",
        m.wall.as_secs_f64(),
        m.max_rss as f64 / 1e6
    );
}
