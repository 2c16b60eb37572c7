//! Benchmark of `compare` (Tomtom): 320 filter-like query motifs of width 26 (what DanQ's
//! first layer holds) against the 879 motifs of JASPAR 2024, Euclidean and Pearson, with
//! ferrosea (the library, in a child process pinned to 1 or 2 threads) and, for Euclidean,
//! memelite (PyPI; numba, timed after its warm-up call) in the same run on the same files.
//!
//! Run: `cargo bench -p ferrosea-benches --bench compare` (needs `.venv` from ./dev.sh test).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use ferrosea_motifs::tomtom::{compare, Distance, Options};
use ferrosea_motifs::{read_meme, write_meme, Motif};

/// JASPAR motifs blended with noise and widened to 26 columns with near-uniform flanks, as a
/// learned filter's PWM looks.
fn queries(jaspar: &[Motif]) -> Vec<Motif> {
    let mut s = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..320)
        .map(|i| {
            let m = &jaspar[(i * 7) % jaspar.len()];
            let mut pfm = Vec::with_capacity(26);
            let lead = (26usize.saturating_sub(m.width())) / 2;
            for p in 0..26usize {
                let base: [f64; 4] = match p.checked_sub(lead).and_then(|k| m.pfm.get(k)) {
                    Some(c) => *c,
                    None => [0.25; 4],
                };
                let noise: [f64; 4] = std::array::from_fn(|_| next());
                let ns: f64 = noise.iter().sum();
                pfm.push(std::array::from_fn(|k| 0.7 * base[k] + 0.3 * noise[k] / ns));
            }
            Motif {
                id: format!("filter{i}"),
                name: None,
                pfm,
                nsites: Some(200.0),
            }
        })
        .collect()
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let jaspar =
        read_meme(&root.join("data/motifs/JASPAR2024_CORE_vertebrates_latest.meme.gz")).unwrap();
    let q = queries(&jaspar);
    if let Ok(args) = std::env::var("FERROSEA_BENCH_CHILD") {
        let a: Vec<String> = serde_json::from_str(&args).unwrap();
        rayon::ThreadPoolBuilder::new()
            .num_threads(a[0].parse().unwrap())
            .build_global()
            .unwrap();
        let o = Options {
            distance: a[1].parse().unwrap(),
            pseudocount: 0.0,
            ..Options::default()
        };
        let t = Instant::now();
        let r = compare(&q, &jaspar, &o);
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(r.len(), 320);
        println!("{secs}");
        return;
    }
    let dir = root.join("target/bench-compare");
    std::fs::create_dir_all(&dir).unwrap();
    let (qf, tf) = (dir.join("filters.meme"), dir.join("jaspar.meme"));
    std::fs::write(&qf, write_meme(&q, [0.25; 4])).unwrap();
    std::fs::write(&tf, write_meme(&jaspar, [0.25; 4])).unwrap();
    println!(
        "compare: 320 queries (width 26) x {} JASPAR 2024 motifs, no pseudocount",
        jaspar.len()
    );
    println!(
        "{:<10} {:>8} {:>14} {:>14} {:>8}",
        "distance", "threads", "ferrosea s", "memelite s", "ratio"
    );
    let exe = std::env::current_exe().unwrap();
    let python = root.join(".venv/bin/python");
    for dist in ["ed", "pearson"] {
        let _: Distance = dist.parse().unwrap();
        for threads in [1, 2] {
            let args = serde_json::to_string(&[threads.to_string(), dist.to_string()]).unwrap();
            let o = Command::new(&exe)
                .env("FERROSEA_BENCH_CHILD", &args)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let ours: f64 = String::from_utf8_lossy(&o.stdout).trim().parse().unwrap();
            let theirs = if dist == "ed" && python.exists() {
                let out = dir.join("memelite.tsv");
                let o = Command::new(&python)
                    .arg(root.join("tests/python/memelite_tomtom.py"))
                    .args([&qf, &tf, &out])
                    .arg(threads.to_string())
                    .output()
                    .unwrap();
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
                let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
                v["seconds"].as_f64()
            } else {
                None
            };
            match theirs {
                Some(t) => println!(
                    "{dist:<10} {threads:>8} {ours:>14.3} {t:>14.3} {:>8.2}",
                    t / ours
                ),
                None => println!(
                    "{dist:<10} {threads:>8} {ours:>14.3} {:>14} {:>8}",
                    "-", "-"
                ),
            }
        }
    }
}
