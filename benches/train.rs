//! Training and inference speed of DeepSEA, DanQ, DeepBind and Basset on CPU, against the
//! same architectures in PyTorch, measured in the same run on the same kind of input (all
//! at 1000 bp, Basset too).
//!
//! `cargo bench -p ferrosea-benches --bench train` (threads: `BENCH_THREADS`, default 2;
//! steps: `BENCH_STEPS`, default 5; runs of each side, best kept: `BENCH_REPEAT`, default 3;
//! `BENCH_MODELS=deepsea` for one model (default `deepsea,danq,deepbind,basset`); `BENCH_TORCH=0` to leave PyTorch out, e.g. under
//! `perf`; `BENCH_PHASES=1` prints where our training step's time goes). The PyTorch side runs `benches/python/torch_models.py`
//! with `benches/.venv-torch/bin/python` when that exists (create it with
//! `python3 -m venv benches/.venv-torch && benches/.venv-torch/bin/pip install torch numpy`).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use candle_core::{Device, Tensor};
use ferrosea_models::{DropoutKey, Mode, Network, ParamStore};
use ferrosea_runtime::loss::bce_with_logits_sum;
use ferrosea_train::optim::Optimizer;
use ferrosea_train::TrainConfig;
use rand::Rng;

const BATCH: usize = 64;
const TARGETS: usize = 919;
const WINDOW: usize = 1000;
/// Untimed training steps before the timed ones (the PyTorch script's default too).
const WARMUP: usize = 2;

struct Figures {
    train: f64,
    infer: f64,
}

impl Figures {
    /// The faster of each figure.
    fn best(self, other: Figures) -> Figures {
        Figures {
            train: self.train.max(other.train),
            infer: self.infer.max(other.infer),
        }
    }
}

fn ours(preset: &str, steps: usize) -> Figures {
    let cfg = TrainConfig::preset(preset).unwrap();
    let dev = Device::Cpu;
    let store = ParamStore::new(1);
    let net = Network::new(&cfg.model, WINDOW, TARGETS, &store.builder(&dev)).unwrap();
    let (_, vars): (Vec<String>, Vec<candle_core::Var>) = store.vars().into_iter().unzip();
    let mut opt = Optimizer::new(cfg.optimizer.clone(), vars.len());
    let mut rng = ferrosea_models::params::rng_for(7, &[]);
    let mut x = vec![0f32; BATCH * 4 * WINDOW];
    for b in 0..BATCH {
        for p in 0..WINDOW {
            x[b * 4 * WINDOW + rng.random_range(0..4) * WINDOW + p] = 1.0;
        }
    }
    let y: Vec<f32> = (0..BATCH * TARGETS)
        .map(|_| (rng.random::<f32>() < 0.05) as u8 as f32)
        .collect();
    let x = Tensor::from_vec(x, (BATCH, 4, WINDOW), &dev).unwrap();
    let y = Tensor::from_vec(y, (BATCH, TARGETS), &dev).unwrap();
    // Seconds spent in forward + loss, backward, and the optimizer, over the timed steps.
    let phases = std::cell::Cell::new([0f64; 3]);
    let step = |opt: &mut Optimizer, s: u64| {
        let t0 = Instant::now();
        let out = net
            .forward(
                &x,
                Mode::Train(DropoutKey {
                    seed: 1,
                    step: s,
                    first_sample: 0,
                }),
            )
            .unwrap();
        let loss =
            (bce_with_logits_sum(&out.logits, &y).unwrap() / (BATCH * TARGETS) as f64).unwrap();
        let t1 = Instant::now();
        let g = loss.backward().unwrap();
        let grads: Vec<Tensor> = vars
            .iter()
            .map(|v| g.get(v.as_tensor()).unwrap().clone())
            .collect();
        let t2 = Instant::now();
        opt.step(&vars, &grads, cfg.optimizer.lr()).unwrap();
        let mut p = phases.get();
        p[0] += (t1 - t0).as_secs_f64();
        p[1] += (t2 - t1).as_secs_f64();
        p[2] += t2.elapsed().as_secs_f64();
        phases.set(p);
    };
    // Two untimed steps, as the PyTorch script takes: the first update with momentum or a
    // running average allocates its buffers (0.74 s of DeepSEA's 2.7 s step), which a
    // training run pays once.
    for s in 0..WARMUP {
        step(&mut opt, s as u64);
    }
    phases.set([0.0; 3]);
    let t = Instant::now();
    for s in 0..steps {
        step(&mut opt, (WARMUP + s) as u64);
    }
    let train = (steps * BATCH) as f64 / t.elapsed().as_secs_f64();
    if std::env::var("BENCH_PHASES").is_ok_and(|v| v != "0") {
        let [f, b, o] = phases.get().map(|s| s * 1000.0 / steps as f64);
        eprintln!("{preset}: ms per step: forward+loss {f:.0}, backward {b:.0}, optimizer {o:.0}");
    }
    net.forward(&x, Mode::Eval).unwrap();
    let t = Instant::now();
    for _ in 0..steps {
        net.forward(&x, Mode::Eval)
            .unwrap()
            .logits
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
    }
    let infer = (steps * BATCH) as f64 / t.elapsed().as_secs_f64();
    Figures { train, infer }
}

fn torch(model: &str, threads: usize, steps: usize) -> Option<(Figures, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv-torch/bin/python");
    if !python.exists() {
        return None;
    }
    let json = std::env::temp_dir().join(format!("ferrosea-bench-torch-{model}.json"));
    let status = Command::new(&python)
        .arg(root.join("python/torch_models.py"))
        .args([
            "--model",
            model,
            "--threads",
            &threads.to_string(),
            "--batch",
            &BATCH.to_string(),
        ])
        .args([
            "--warmup",
            &WARMUP.to_string(),
            "--train-steps",
            &steps.to_string(),
            "--infer-batches",
            &steps.to_string(),
        ])
        .args([
            "--targets",
            &TARGETS.to_string(),
            "--window",
            &WINDOW.to_string(),
            "--json",
        ])
        .arg(&json)
        .stdout(std::process::Stdio::null())
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).ok()?).ok()?;
    Some((
        Figures {
            train: v["train_samples_per_s"].as_f64()?,
            infer: v["infer_samples_per_s"].as_f64()?,
        },
        v["torch_version"].as_str().unwrap_or("?").to_string(),
    ))
}

fn main() {
    // The same allocator settings as ferrosea-train.
    ferrosea_runtime::process::keep_freed_memory();
    let threads = ferrosea_benches::env_usize("BENCH_THREADS", 2);
    let steps = ferrosea_benches::env_usize("BENCH_STEPS", 5);
    let repeat = ferrosea_benches::env_usize("BENCH_REPEAT", 3);
    unsafe { std::env::set_var("RAYON_NUM_THREADS", threads.to_string()) };
    println!("CPU, {threads} threads, batch {BATCH}, {TARGETS} targets, {WINDOW} bp, {steps} timed steps after {WARMUP} warm-up steps, best of {repeat} runs each");
    println!(
        "{:<8} {:>16} {:>16} {:>16} {:>16} {:>8} {:>8}",
        "model",
        "ours train/s",
        "torch train/s",
        "ours infer/s",
        "torch infer/s",
        "train x",
        "infer x"
    );
    let models =
        std::env::var("BENCH_MODELS").unwrap_or_else(|_| "deepsea,danq,deepbind,basset".into());
    let with_torch = std::env::var("BENCH_TORCH").map_or(true, |v| v != "0");
    for (preset, model) in [
        ("deepsea", "deepsea"),
        ("danq", "danq"),
        ("deepbind", "deepbind"),
        ("basset", "basset"),
    ] {
        if !models.split(',').any(|m| m == model) {
            continue;
        }
        // Ours and PyTorch's in turn, the best of each kept: the machine's speed drifts by
        // 10-25% over minutes, which one run each would put into the ratio.
        let mut o = Figures {
            train: 0.0,
            infer: 0.0,
        };
        let mut theirs: Option<(Figures, String)> = None;
        for _ in 0..repeat {
            o = o.best(ours(preset, steps));
            if let Some((t, version)) = with_torch.then(|| torch(model, threads, steps)).flatten() {
                theirs = Some(match theirs {
                    Some((b, _)) => (b.best(t), version),
                    None => (t, version),
                });
            }
        }
        match theirs {
            Some((t, version)) => println!(
                "{model:<8} {:>16.1} {:>16.1} {:>16.1} {:>16.1} {:>8.2} {:>8.2}   (torch {version})",
                o.train,
                t.train,
                o.infer,
                t.infer,
                o.train / t.train,
                o.infer / t.infer
            ),
            None => println!("{model:<8} {:>16.1} {:>16} {:>16.1} {:>16}   (no benches/.venv-torch: PyTorch not measured)", o.train, "-", o.infer, "-"),
        }
    }
}
