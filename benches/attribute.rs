//! Attribution throughput on CPU of one output of DeepSEA and DanQ: integrated gradients
//! (50 steps, all-zero baseline) and DeepLIFT/SHAP (20 dinucleotide-shuffled references per
//! sequence; DanQ's BiLSTM passes its gradient, as Captum's does), ours
//! (`ferrosea_interpret::hypothetical`, the code behind `ferrosea-interpret attribute`)
//! against Captum's `IntegratedGradients` and `DeepLiftShap` on the same architectures in
//! PyTorch (`benches/python/captum_attribute.py`), and tangermeme's `deep_lift_shap` when it
//! is installed, in the same run, on the same kind of input (random one-hot 1000 bp windows,
//! random weights: the speed does not depend on them).
//!
//! `cargo bench -p ferrosea-benches --bench attribute` (threads: `BENCH_THREADS`, default
//! 2; sequences: `BENCH_SEQUENCES`, default 4; `BENCH_MODELS=deepsea` for one model;
//! `BENCH_METHODS=ig,dls`). The peers need `benches/.venv-torch` with torch and captum
//! (`benches/.venv-torch/bin/pip install torch captum tangermeme`).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use candle_core::Device;
use ferrosea_interpret::{hypothetical, Method, RecurrentRule, Settings};
use ferrosea_models::{Network, ParamStore};
use ferrosea_train::TrainConfig;
use rand::Rng;

const TARGETS: usize = 919;
const WINDOW: usize = 1000;
const STEPS: usize = 50;
const REFERENCES: usize = 20;
/// Rows per pass through the network (Captum's `internal_batch_size` too).
const PASS: usize = 64;

fn ours(preset: &str, method: &str, sequences: usize) -> f64 {
    let cfg = TrainConfig::preset(preset).unwrap();
    let dev = Device::Cpu;
    // Constants, as `ferrosea-interpret attribute` loads a checkpoint.
    let store = ParamStore::new(1).frozen();
    let net = Network::new(&cfg.model, WINDOW, TARGETS, &store.builder(&dev)).unwrap();
    let mut rng = ferrosea_models::params::rng_for(7, &[]);
    let mut x = vec![0f32; sequences * 4 * WINDOW];
    let mut symbols = vec![vec![0u8; WINDOW]; sequences];
    for b in 0..sequences {
        for p in 0..WINDOW {
            let c = rng.random_range(0..4);
            x[b * 4 * WINDOW + c * WINDOW + p] = 1.0;
            symbols[b][p] = c as u8;
        }
    }
    let method = match method {
        "ig" => Method::IntegratedGradients,
        _ => Method::DeepliftShap,
    };
    let run = |n: usize| {
        // DeepLIFT's references, drawn in the timed part as the stage draws them.
        let refs: Option<Vec<f32>> = (method == Method::DeepliftShap).then(|| {
            let mut refs = vec![0f32; n * REFERENCES * 4 * WINDOW];
            for (b, s) in symbols[..n].iter().enumerate() {
                for j in 0..REFERENCES {
                    let mut rng = ferrosea_models::params::rng_for(1, &[b as u64, j as u64]);
                    let sh = ferrosea_genome::shuffle::dinucleotide_shuffle(s, 5, &mut rng);
                    let r = &mut refs[(b * REFERENCES + j) * 4 * WINDOW..][..4 * WINDOW];
                    for (p, &v) in sh.iter().enumerate() {
                        r[v as usize * WINDOW + p] = 1.0;
                    }
                }
            }
            refs
        });
        hypothetical(
            &net,
            &dev,
            &x[..n * 4 * WINDOW],
            (4, WINDOW),
            &[0],
            Settings {
                method,
                steps: STEPS,
                pass: PASS,
                recurrent: RecurrentRule::Gradient,
            },
            refs.as_deref(),
        )
        .unwrap()
    };
    run(1); // warm-up: one sequence
    let t = Instant::now();
    let h = run(sequences);
    assert_eq!(h[0].hypothetical.len(), x.len());
    sequences as f64 / t.elapsed().as_secs_f64()
}

/// A peer's figure: `peer` is `captum` (Captum, `method` ig or dls) or `tangermeme` (its
/// `deep_lift_shap`).
fn peer(peer: &str, model: &str, method: &str, threads: usize, sequences: usize) -> Option<f64> {
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
            method,
            peer,
            &REFERENCES.to_string(),
        ])
        .output()
        .unwrap();
    if !out.status.success() {
        eprintln!("{peer}: {}", String::from_utf8_lossy(&out.stderr));
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
        "CPU, {threads} threads, {sequences} sequences of {WINDOW} bp, {TARGETS}-target models \
         (one output attributed): ig = integrated gradients, {STEPS} steps, passes of {PASS} \
         rows; dls = DeepLIFT/SHAP against {REFERENCES} dinucleotide shuffles per sequence"
    );
    println!(
        "{:<8} {:<4} {:>12} {:>12} {:>8} {:>14} {:>8}",
        "model", "", "ours seq/s", "captum", "ratio", "tangermeme", "ratio"
    );
    let models = std::env::var("BENCH_MODELS").unwrap_or_else(|_| "deepsea,danq".into());
    let methods = std::env::var("BENCH_METHODS").unwrap_or_else(|_| "ig,dls".into());
    let cell = |v: Option<f64>, o: f64| match v {
        Some(v) => (format!("{v:.3}"), format!("{:.2}", o / v)),
        None => ("-".into(), "-".into()),
    };
    for model in ["deepsea", "danq"] {
        if !models.split(',').any(|m| m == model) {
            continue;
        }
        for method in ["ig", "dls"] {
            if !methods.split(',').any(|m| m == method) {
                continue;
            }
            let o = ours(model, method, sequences);
            let (c, cr) = cell(peer("captum", model, method, threads, sequences), o);
            let (t, tr) = if method == "dls" {
                cell(peer("tangermeme", model, method, threads, sequences), o)
            } else {
                ("-".into(), "-".into())
            };
            println!("{model:<8} {method:<4} {o:>12.3} {c:>12} {cr:>8} {t:>14} {tr:>8}");
        }
    }
}
