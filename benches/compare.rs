//! Benchmark of `compare` (Tomtom): 320 filter-like query motifs of width 26 (what DanQ's
//! first layer holds) against the 879 motifs of JASPAR 2024, Euclidean and Pearson, with
//! ferrosea (the library, in a child process pinned to 1 or 2 threads) and, for Euclidean,
//! memelite (PyPI; numba, timed after its warm-up call) in the same run on the same files:
//! memelite with the settings that give Tomtom's numbers (ferrosea's are MEME tomtom's) and
//! with its faster, approximate defaults, and how far those are from the exact settings.
//! Each figure is the fastest of `BENCH_REPEAT` (5) runs.
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
    let repeat = ferrosea_benches::env_usize("BENCH_REPEAT", 5);
    println!(
        "fastest of {repeat} runs each; memelite exact: the settings that give Tomtom's numbers \
         (no merged target columns, median from 100,000 bins); approximate: its defaults"
    );
    println!(
        "{:<10} {:>8} {:>12} {:>16} {:>8} {:>22} {:>8}",
        "distance",
        "threads",
        "ferrosea s",
        "memelite exact s",
        "ratio",
        "memelite approximate s",
        "ratio"
    );
    let exe = std::env::current_exe().unwrap();
    let python = root.join(".venv/bin/python");
    for dist in ["ed", "pearson"] {
        let _: Distance = dist.parse().unwrap();
        for threads in [1, 2] {
            let args = serde_json::to_string(&[threads.to_string(), dist.to_string()]).unwrap();
            let ours = (0..repeat)
                .map(|_| {
                    let o = Command::new(&exe)
                        .env("FERROSEA_BENCH_CHILD", &args)
                        .output()
                        .unwrap();
                    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
                    String::from_utf8_lossy(&o.stdout)
                        .trim()
                        .parse::<f64>()
                        .unwrap()
                })
                .fold(f64::INFINITY, f64::min);
            // memelite has Euclidean distance only.
            let theirs = |mode: &str| -> Option<f64> {
                if dist != "ed" || !python.exists() {
                    return None;
                }
                let o = Command::new(&python)
                    .arg(root.join("tests/python/memelite_tomtom.py"))
                    .args([&qf, &tf, &dir.join(format!("memelite-{mode}.tsv"))])
                    .args([threads.to_string(), mode.to_string(), repeat.to_string()])
                    .output()
                    .unwrap();
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
                let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
                v["seconds"].as_f64()
            };
            let cell = |t: Option<f64>, width: usize| match t {
                Some(t) => format!("{t:>width$.3} {:>8.2}", t / ours),
                None => format!("{:>width$} {:>8}", "-", "-"),
            };
            println!(
                "{dist:<10} {threads:>8} {ours:>12.3} {} {}",
                cell(theirs("exact"), 16),
                cell(theirs("approximate"), 22)
            );
        }
    }
    if python.exists() {
        approximation_error(
            &dir.join("memelite-exact.tsv"),
            &dir.join("memelite-approximate.tsv"),
        );
    }
}

/// How far memelite's defaults are from its Tomtom-exact settings on the benchmark's input:
/// the largest and median difference in log10 p (p above 1e-10), and the queries whose best
/// target differs.
fn approximation_error(exact: &Path, approximate: &Path) {
    let read = |path: &Path| -> Vec<(usize, usize, f64)> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .skip(1)
            .map(|line| {
                let t: Vec<&str> = line.split('\t').collect();
                (
                    t[0].parse().unwrap(),
                    t[1].parse().unwrap(),
                    t[2].parse().unwrap(),
                )
            })
            .collect()
    };
    let (a, b) = (read(exact), read(approximate));
    let mut diffs: Vec<f64> = a
        .iter()
        .zip(&b)
        .filter(|(x, _)| x.2 > 1e-10)
        .map(|(x, y)| (x.2.log10() - y.2.max(1e-300).log10()).abs())
        .collect();
    diffs.sort_by(f64::total_cmp);
    let best = |rows: &[(usize, usize, f64)]| -> Vec<usize> {
        let queries = rows.iter().map(|r| r.0).max().map_or(0, |q| q + 1);
        (0..queries)
            .map(|q| {
                rows.iter()
                    .filter(|r| r.0 == q)
                    .min_by(|x, y| x.2.total_cmp(&y.2))
                    .unwrap()
                    .1
            })
            .collect()
    };
    let (ba, bb) = (best(&a), best(&b));
    let moved = ba.iter().zip(&bb).filter(|(x, y)| x != y).count();
    println!(
        "memelite approximate vs exact: |log10 p| differs by {:.3} (median) and {:.3} (largest) \
         over p > 1e-10; the best target differs for {moved} of {} queries",
        diffs[diffs.len() / 2],
        diffs[diffs.len() - 1],
        ba.len()
    );
}
