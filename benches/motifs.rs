//! Motif discovery from attributions on about 20,000 seqlets: ours (`seqlets` then `motifs`
//! of `ferrosea-interpret`, run in a child process: this binary again) against modisco-lite
//! (`TFMoDISco`, `benches/python/modisco_motifs.py`), on the same attribution file, each
//! measured alone (wall time, and peak resident memory through wait4).
//!
//! The attributions are made here, with a known answer: `BENCH_SEQUENCES` (default 10,000)
//! random sequences of 1,000 bp, each with two sites drawn from six JASPAR 2024 motifs (CTCF,
//! REST, TP53, NR3C1, FOXA1, CEBPB; a random motif and strand per site), whose hypothetical
//! contributions are the sites' column log-odds (`0.5 log2((p + 0.01) / 0.25)`) and Gaussian
//! noise (sd 0.05) everywhere, the contributions those times the bases; the null (for our
//! threshold) is 200 noise-only sequences. The same motifs found means: each tool's motifs
//! compared with JASPAR 2024 by `compare` (Tomtom), and a planted ID counts as found when one
//! of the tool's motifs matches it with q < 0.05; the table gives the seqlets of the best
//! such motif per ID.
//!
//! `cargo bench -p ferrosea-benches --bench motifs` (`BENCH_THREADS`, default 2;
//! `BENCH_LEIDEN`, modisco's Leiden runs, default 2 as its command line, 50 as its function).
//! modisco-lite needs `benches/.venv-torch` with modisco-lite, h5py and numpy; its first run
//! in an environment also compiles its numba kernels (run twice).

use std::path::Path;
use std::process::Command;

use ferrosea_dataset::{AttrValue, Column, ResultsWriter};
use ferrosea_interpret::{CompareOptions, MotifsOptions, SeqletsOptions, Threshold};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const L: usize = 1000;
const PLANTED: [&str; 6] = [
    "MA0139.2", "MA0138.3", "MA0106.3", "MA0113.4", "MA0148.5", "MA0466.4",
];
const NULL_ROWS: usize = 200;

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f32 {
    let (u, v): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
    ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
}

/// Writes the attribution file; returns the planted sites per motif.
fn write_attributions(path: &Path, n: usize) -> Vec<usize> {
    let db = ferrosea_motifs::embedded_jaspar().unwrap();
    let motifs: Vec<_> = PLANTED
        .iter()
        .map(|id| db.iter().find(|m| m.id == *id).unwrap().clone())
        .collect();
    let mut spec = ferrosea_interpret::attributions_spec(
        vec![
            ("method".into(), AttrValue::Str("synthetic".into())),
            ("window".into(), AttrValue::Int(L as i64)),
            ("weights_sha256".into(), AttrValue::Str("synthetic".into())),
        ],
        &["planted".into()],
        (L, 4),
        false,
    );
    spec.level = 1;
    let mut w = ResultsWriter::create(path, &spec).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut counts = vec![0; motifs.len()];
    let track = |rng: &mut ChaCha8Rng, sites: bool, counts: &mut Vec<usize>| {
        let mut x = vec![0f32; L * 4];
        let mut h = vec![0f32; L * 4];
        for p in 0..L {
            x[p * 4 + rng.random_range(0..4)] = 1.0;
            for c in 0..4 {
                h[p * 4 + c] = 0.05 * normal(rng);
            }
        }
        if sites {
            for half in 0..2 {
                let k = rng.random_range(0..motifs.len());
                counts[k] += 1;
                let m = if rng.random_bool(0.5) {
                    motifs[k].reverse_complement()
                } else {
                    motifs[k].clone()
                };
                let at = half * 500 + rng.random_range(50..450 - m.width());
                for (i, col) in m.pfm.iter().enumerate() {
                    let u: f64 = rng.random();
                    let mut acc = 0.0;
                    let b = (0..4)
                        .find(|&b| {
                            acc += col[b];
                            u < acc
                        })
                        .unwrap_or(3);
                    let p = at + i;
                    for c in 0..4 {
                        x[p * 4 + c] = (c == b) as u8 as f32;
                        h[p * 4 + c] += (0.5 * ((col[c] + 0.01) / 0.25).log2()) as f32;
                    }
                }
            }
        }
        let c: Vec<f32> = h.iter().zip(&x).map(|(h, x)| h * x).collect();
        (x, h, c)
    };
    for i in 0..n {
        let (x, h, c) = track(&mut rng, true, &mut counts);
        w.append(
            1,
            &[
                Column::Int(&[i as i64]),
                Column::Str(&["synthetic".into()]),
                Column::Int(&[(i * L) as i64]),
                Column::Str(&["+".into()]),
                Column::Str(&[".".into()]),
            ],
            &[&x, &h, &c],
        )
        .unwrap();
    }
    let mut null = Vec::with_capacity(NULL_ROWS * L);
    for _ in 0..NULL_ROWS {
        let (_, _, c) = track(&mut rng, false, &mut counts);
        null.extend(c.chunks(4).map(|v| v.iter().sum::<f32>()));
    }
    w.put("null/scores", &[NULL_ROWS, L, 1], &null).unwrap();
    w.put_ints("null/rows", &(0..NULL_ROWS as i64).collect::<Vec<_>>())
        .unwrap();
    w.finish().unwrap();
    counts
}

/// Ours, in this (child) process: seqlets, then motifs.
fn run_ours(attr: &Path, out: &Path) {
    let table = out.join("seqlets.tsv");
    std::fs::create_dir_all(out).unwrap();
    let s = ferrosea_interpret::seqlets(&SeqletsOptions {
        attributions: attr.to_path_buf(),
        out: table.clone(),
        window: 21,
        fdr: 0.05,
        threshold: None,
        targets: Vec::new(),
        command_line: "bench".into(),
    })
    .unwrap();
    let m = ferrosea_interpret::motifs(&MotifsOptions {
        attributions: attr.to_path_buf(),
        seqlets: Some(table),
        out: out.join("motifs"),
        max_motifs: 50,
        flank: 10,
        max_seqlets: 20000,
        discovery: Default::default(),
        logos: false,
        command_line: "bench".into(),
    })
    .unwrap();
    println!(
        "{{\"seqlets\": {}, \"motifs\": {}, \"clustering_seconds\": {}}}",
        s.seqlets.len(),
        m.motifs.len(),
        m.seconds
    );
}

/// Per planted ID: the seqlets of the tool's best-matching motif with q < 0.05, if any.
/// `seqlets` gives each of the tool's motifs' seqlet count.
fn found(meme: &Path, seqlets: &dyn Fn(&str) -> usize, dir: &Path) -> Vec<Option<usize>> {
    let table = dir.join("matches.tsv");
    let rows = ferrosea_interpret::compare(&CompareOptions {
        query: meme.to_path_buf(),
        db: None,
        out: table,
        tomtom: Default::default(),
        threshold: Threshold::QValue(0.05),
        command_line: String::new(),
    })
    .unwrap();
    PLANTED
        .iter()
        .map(|id| {
            rows.iter()
                .filter(|r| r.target == *id)
                .map(|r| seqlets(&r.query))
                .max()
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 4 && args[1] == "--ours" {
        return run_ours(Path::new(&args[2]), Path::new(&args[3]));
    }
    let threads = ferrosea_benches::env_usize("BENCH_THREADS", 2);
    let n = ferrosea_benches::env_usize("BENCH_SEQUENCES", 10_000);
    let leiden = ferrosea_benches::env_usize("BENCH_LEIDEN", 2);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root.join("target/bench-motifs");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let attr = dir.join("attributions.h5");
    let t = std::time::Instant::now();
    let planted = write_attributions(&attr, n);
    println!(
        "{n} sequences of {L} bp, {} planted sites ({}), written in {:.1} s; {threads} threads",
        planted.iter().sum::<usize>(),
        PLANTED
            .iter()
            .zip(&planted)
            .map(|(id, c)| format!("{id} {c}"))
            .collect::<Vec<_>>()
            .join(", "),
        t.elapsed().as_secs_f64()
    );
    // Ours, in a child process of its own.
    let ours_dir = dir.join("ours");
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--ours"])
        .arg(&attr)
        .arg(&ours_dir)
        .env("RAYON_NUM_THREADS", threads.to_string())
        .stdout(std::process::Stdio::piped());
    let ours = ferrosea_benches::measure(&mut cmd);
    assert!(ours.ok, "ours failed");
    let table = std::fs::read_to_string(ours_dir.join("motifs/motifs.tsv")).unwrap();
    let ours_counts: std::collections::HashMap<String, usize> = table
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_string(), f[3].parse().unwrap())
        })
        .collect();
    let ours_seqlets = std::fs::read_to_string(ours_dir.join("seqlets.tsv"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count();
    let ours_found = found(
        &ours_dir.join("motifs/motifs.meme"),
        &|q| ours_counts.get(q).copied().unwrap_or(0),
        &ours_dir,
    );
    let row =
        |name: &str, secs: f64, rss: u64, seqlets: usize, motifs: usize, f: &[Option<usize>]| {
            println!(
                "{name:<12} {secs:>9.1} {:>9.0} {seqlets:>8} {motifs:>7} {:>6}  {}",
                rss as f64 / 1048576.0,
                format!("{}/{}", f.iter().flatten().count(), PLANTED.len()),
                PLANTED
                    .iter()
                    .zip(f)
                    .map(|(id, c)| format!("{id}:{}", c.map_or("-".into(), |c| c.to_string())))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        };
    println!(
        "{:<12} {:>9} {:>9} {:>8} {:>7} {:>6}  seqlets of the best match per planted ID",
        "tool", "seconds", "peak MiB", "seqlets", "motifs", "found"
    );
    row(
        "ferrosea",
        ours.wall.as_secs_f64(),
        ours.max_rss,
        ours_seqlets,
        ours_counts.len(),
        &ours_found,
    );
    // modisco-lite, in its own process too.
    let python = root.join("benches/.venv-torch/bin/python");
    if !python.exists() {
        println!("modisco-lite: {} is missing", python.display());
        return;
    }
    let mdir = dir.join("modisco");
    let out = Command::new(&python)
        .arg(root.join("benches/python/modisco_motifs.py"))
        .arg(&attr)
        .args([
            "--target",
            "planted",
            "--max-seqlets",
            "20000",
            "--window",
            "21",
            "--flank",
            "10",
        ])
        .args([
            "--leiden-runs",
            &leiden.to_string(),
            "--threads",
            &threads.to_string(),
        ])
        .arg("-o")
        .arg(&mdir)
        .output()
        .unwrap();
    if !out.status.success() {
        println!(
            "modisco-lite failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let json: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    let patterns = json["patterns"].as_array().cloned().unwrap_or_default();
    let counts: std::collections::HashMap<String, usize> = patterns
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["seqlets"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    let mfound = found(
        &mdir.join("modisco.meme"),
        &|q| counts.get(q).copied().unwrap_or(0),
        &mdir,
    );
    let peak = json["peak_rss_kib"].as_f64().unwrap() * 1024.0;
    row(
        "modisco-lite",
        json["seconds"].as_f64().unwrap(),
        peak as u64,
        json["seqlets"].as_u64().unwrap() as usize,
        counts.len(),
        &mfound,
    );
    println!(
        "modisco-lite: {leiden} Leiden runs; its time is the TFMoDISco call alone (ours: the \
         whole process, reading included); its memory the parent's peak (its forked children \
         peaked at {:.0} MiB, pages shared with the parent included)",
        json["children_peak_rss_kib"].as_f64().unwrap_or(0.0) / 1024.0
    );
    println!(
        "ratio: ours {:.1}x faster, {:.1}x less memory",
        json["seconds"].as_f64().unwrap() / ours.wall.as_secs_f64(),
        peak / ours.max_rss as f64
    );
}
