//! Attribution throughput on CPU: integrated gradients (50 steps, all-zero baseline) of one
//! output of DeepSEA and DanQ, ours (`ferrosea_interpret::hypothetical`, the code behind
//! `ferrosea-interpret attribute`) against Captum's `IntegratedGradients` on the same
//! architectures in PyTorch (`benches/python/captum_attribute.py`), in the same run, on the
//! same kind of input (random one-hot 1000 bp windows, random weights: the speed does not
//! depend on them).
//!
//! `cargo bench -p ferrosea-benches --bench attribute` (threads: `BENCH_THREADS`, default
//! 2; sequences: `BENCH_SEQUENCES`, default 4; `BENCH_MODELS=deepsea` for one model). The
//! Captum side needs `benches/.venv-torch` with torch and captum
//! (`benches/.venv-torch/bin/pip install torch captum`).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use candle_core::Device;
use ferrosea_interpret::{hypothetical, Method};
use ferrosea_models::{Network, ParamStore};
use ferrosea_train::TrainConfig;
use rand::Rng;

const TARGETS: usize = 919;
const WINDOW: usize = 1000;
const STEPS: usize = 50;
/// Rows per pass through the network (Captum's `internal_batch_size` too).
const PASS: usize = 64;

fn ours(preset: &str, sequences: usize) -> f64 {
    let cfg = TrainConfig::preset(preset).unwrap();
    let dev = Device::Cpu;
    // Constants, as `ferrosea-interpret attribute` loads a checkpoint.
    let store = ParamStore::new(1).frozen();
    let net = Network::new(&cfg.model, WINDOW, TARGETS, &store.builder(&dev)).unwrap();
    let mut rng = ferrosea_models::params::rng_for(7, &[]);
    let mut x = vec![0f32; sequences * 4 * WINDOW];
    for b in 0..sequences {
        for p in 0..WINDOW {
            x[b * 4 * WINDOW + rng.random_range(0..4) * WINDOW + p] = 1.0;
        }
    }
    let run = |x: &[f32]| {
        hypothetical(
            &net,
            &dev,
            x,
            (4, WINDOW),
            0,
            (Method::IntegratedGradients, STEPS, PASS),
            None,
        )
        .unwrap()
    };
    run(&x[..4 * WINDOW]); // warm-up: one sequence
    let t = Instant::now();
    let h = run(&x);
    assert_eq!(h.len(), x.len());
    sequences as f64 / t.elapsed().as_secs_f64()
}

fn captum(model: &str, threads: usize, sequences: usize) -> Option<f64> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv-torch/bin/python");
    if !python.exists() {
        return None;
    }
    let out = Command::new(&python)
        .arg(root.join("python/captum_attribute.py"))
        .args([
            model,
            &threads.to_string(),
            &sequences.to_string(),
            &STEPS.to_string(),
            &PASS.to_string(),
        ])
        .output()
        .unwrap();
    if !out.status.success() {
        eprintln!("captum: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn main() {
    ferrosea_runtime::process::keep_freed_memory();
    let threads = ferrosea_benches::env_usize("BENCH_THREADS", 2);
    let sequences = ferrosea_benches::env_usize("BENCH_SEQUENCES", 4);
    unsafe { std::env::set_var("RAYON_NUM_THREADS", threads.to_string()) };
    println!(
        "CPU, {threads} threads: integrated gradients, {STEPS} steps, passes of {PASS} rows, \
         {sequences} sequences of {WINDOW} bp, {TARGETS}-target models (one output attributed)"
    );
    println!(
        "{:<8} {:>14} {:>14} {:>8}",
        "model", "ours seq/s", "captum seq/s", "ratio"
    );
    let models = std::env::var("BENCH_MODELS").unwrap_or_else(|_| "deepsea,danq".into());
    for model in ["deepsea", "danq"] {
        if !models.split(',').any(|m| m == model) {
            continue;
        }
        let o = ours(model, sequences);
        match captum(model, threads, sequences) {
            Some(c) => println!("{model:<8} {o:>14.3} {c:>14.3} {:>8.2}", o / c),
            None => println!("{model:<8} {o:>14.3} {:>14} {:>8}", "-", "-"),
        }
    }
}
