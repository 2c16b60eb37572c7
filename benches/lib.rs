//! Shared helpers for the benchmarks: where the real data is, and measuring a child process.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `../shared/data` beside the checkout.
pub fn shared_data() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    assert!(
        p.is_dir(),
        "benchmarks read the real data in {}",
        p.display()
    );
    p
}

/// The number in environment variable `name` (a benchmark's knob), `default` when unset or
/// not a number.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Wall time and peak resident memory of one child process.
pub struct Measured {
    /// Wall-clock time.
    pub wall: Duration,
    /// Peak resident set size in bytes.
    pub max_rss: u64,
    /// Whether it exited 0.
    pub ok: bool,
}

/// Runs `cmd` and measures it alone (its own rusage, through wait4).
#[allow(clippy::zombie_processes)] // the child is reaped by wait4, which std cannot see
pub fn measure(cmd: &mut std::process::Command) -> Measured {
    let start = Instant::now();
    let child = cmd.spawn().expect("spawn");
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting on our own child; `usage` and `status` are valid for writes.
    let r = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert!(r > 0, "wait4 failed");
    Measured {
        wall: start.elapsed(),
        max_rss: usage.ru_maxrss as u64 * 1024,
        ok: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
    }
}

/// The header of a synthetic dataset of `t` targets in DeepSEA's mix (125 DNase, 690 TF,
/// 104 histone marks, scaled to `t`).
pub fn header(t: usize, window: usize) -> ferrosea_dataset::Header {
    let category = |i: usize| match i {
        i if i < 125 => "DNase",
        i if i < 815 => "TF",
        _ => "Histone",
    };
    ferrosea_dataset::Header {
        window,
        targets: ferrosea_dataset::Targets {
            name: (0..t).map(|i| format!("target{i:03}")).collect(),
            category: (0..t).map(|i| category(i * 919 / t).to_string()).collect(),
            ..Default::default()
        },
        chrom_names: vec!["chr8".into()],
        attrs: vec![],
        ..Default::default()
    }
}

/// A dataset file of `rows` random one-hot windows with `t` targets (3% positives), seeded.
pub fn one_hot_dataset(path: &Path, rows: usize, window: usize, t: usize) {
    use rand::{Rng, SeedableRng};
    let h = header(t, window);
    let mut w = ferrosea_dataset::Writer::create(path, &h, rows, Default::default()).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let mut x = vec![0u8; rows * window * 4];
    for p in 0..rows * window {
        x[p * 4 + rng.random_range(0..4)] = 1;
    }
    let y: Vec<u8> = (0..rows * t)
        .map(|_| (rng.random::<f32>() < 0.03) as u8)
        .collect();
    w.write_rows(
        0,
        &ferrosea_dataset::Block {
            x,
            y,
            chrom: vec![0; rows],
            start: (0..rows as i64).map(|r| r * 200).collect(),
            strand: vec![b'+'; rows],
        },
    )
    .unwrap();
    w.finish().unwrap();
}

/// A checkpoint of `preset` after one training step (batch 16) on `data`, validated on
/// `valid`, in `out`: a real network of the full size, for inference benchmarks.
pub fn train_one_step(preset: &str, data: &Path, valid: &Path, out: &Path) {
    let mut cfg = ferrosea_train::TrainConfig::preset(preset).unwrap();
    cfg.epochs = 1;
    cfg.batch_size = 16;
    ferrosea_train::run(&ferrosea_train::Options {
        train: data.to_path_buf(),
        valid: valid.to_path_buf(),
        out: out.to_path_buf(),
        config: cfg,
        seed: 1,
        devices: vec![ferrosea_runtime::DeviceSpec::Cpu],
        resume: false,
        force: true,
        checkpoint_every: None,
        init_filters: None,
        halt_after_steps: None,
        steps_per_epoch: Some(1),
        eval_batch: 32,
        progress: false,
        cluster: None,
    })
    .unwrap();
}
