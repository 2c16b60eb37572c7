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
