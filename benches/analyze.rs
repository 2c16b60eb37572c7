//! Speed of the analyze stage on CPU against PyTorch doing the same forward passes, in the
//! same run, on full-size DeepSEA and DanQ (919 targets, window 1000; checkpoints from one
//! training step).
//!
//! 1. `variants`: variants/s on random SNVs in the real sequence of chr22 (../shared), with
//!    and without `--rc-average`, against `benches/python/torch_analysis.py variants` (ref and
//!    alt windows, forward only; the windows are built before its timing starts, so PyTorch's
//!    figure is an upper bound for a PyTorch tool). Ours is the whole run: VCF, genome,
//!    windows, network, all outputs.
//! 2. `ism`: seconds per 1000 bp sequence (3,000 mutants) against the same passes in PyTorch.
//! 3. `regions --tile`: bins/s along real chr22.
//!
//! Run: `cargo bench -p ferrosea-benches --bench analyze` (knobs: `BENCH_VARIANTS`, default
//! 256; `BENCH_ISM_SEQS`, default 1; `BENCH_TILE`, default `chr22:20000001-20400000`;
//! `BENCH_MODELS=deepsea`; `BENCH_TORCH=0` to leave PyTorch out; threads: `BENCH_THREADS`,
//! default 2). PyTorch comes from `benches/.venv-torch` (see benches/train.rs).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use ferrosea_benches::{env_usize, measure, one_hot_dataset, shared_data, train_one_step};
use rand::{Rng, SeedableRng};

/// Random SNVs in the sequenced stretches of chr22 (1 kb from their ends), sorted.
fn random_vcf(genome: &Path, path: &Path, n: usize) {
    let regions = std::fs::read_to_string(
        shared_data().join("genome/hg19_chr22_partial.sequenced_regions.bed"),
    )
    .unwrap();
    let runs: Vec<(u64, u64)> = regions
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let (a, b): (u64, u64) = (f[1].parse().ok()?, f[2].parse().ok()?);
            (b > a + 3000).then_some((a + 1000, b - 1000))
        })
        .collect();
    let total: u64 = runs.iter().map(|(a, b)| b - a).sum();
    let g = ferrosea_genome::Genome::open(genome, 2).unwrap();
    let mut fetch = g.fetcher().unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let mut picks: Vec<u64> = (0..n).map(|_| rng.random_range(0..total)).collect();
    picks.sort_unstable();
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(
        f,
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"
    )
    .unwrap();
    let (mut run, mut offset) = (0, 0);
    for (i, p) in picks.into_iter().enumerate() {
        while p >= offset + (runs[run].1 - runs[run].0) {
            offset += runs[run].1 - runs[run].0;
            run += 1;
        }
        let pos = runs[run].0 + (p - offset);
        let base = fetch.fetch("chr22", pos, pos + 1).unwrap()[0].to_ascii_uppercase();
        let base = if b"ACGT".contains(&base) { base } else { b'A' };
        let alts: Vec<u8> = b"ACGT".iter().copied().filter(|&b| b != base).collect();
        let alt = alts[rng.random_range(0..3)];
        writeln!(
            f,
            "chr22\t{}\tv{i}\t{}\t{}\t.\t.\t.",
            pos + 1,
            base as char,
            alt as char
        )
        .unwrap();
    }
}

fn torch_python() -> Option<PathBuf> {
    if std::env::var("BENCH_TORCH").as_deref() == Ok("0") {
        return None;
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-torch/bin/python");
    if p.exists() {
        Some(p)
    } else {
        println!("(no {}: PyTorch side skipped)", p.display());
        None
    }
}

/// Runs `benches/python/torch_analysis.py` and returns its JSON.
fn torch(args: &[&str], threads: usize) -> Option<serde_json::Value> {
    let py = torch_python()?;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let json = dir.join("../target/bench-analyze/torch.json");
    let st = Command::new(py)
        .arg(dir.join("python/torch_analysis.py"))
        .args(args)
        .args(["--threads", &threads.to_string(), "--json"])
        .arg(&json)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "torch_analysis.py failed");
    Some(serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap())
}

fn child(args: Vec<String>) {
    match args[0].as_str() {
        "variants" => {
            let r = ferrosea_analyze::variants(&ferrosea_analyze::VariantsOptions {
                run: ferrosea_analyze::RunArgs::new(&args[1]),
                genome: PathBuf::from(&args[2]),
                vcf: PathBuf::from(&args[3]),
                out: PathBuf::from(&args[4]),
                rc_average: args[5] == "rc",
                background: None,
                strict_ref: false,
                chrom_alias: None,
                chunk: None,
                prefix: None,
            })
            .unwrap();
            assert!(r.scored > 0);
        }
        "ism" => {
            ferrosea_analyze::ism(&ferrosea_analyze::IsmOptions {
                run: ferrosea_analyze::RunArgs::new(&args[1]),
                input: ferrosea_analyze::SequenceArgs {
                    genome: Some(PathBuf::from(&args[2])),
                    regions: Some(PathBuf::from(&args[3])),
                    ..Default::default()
                },
                out: PathBuf::from(&args[4]),
                targets: None,
                plot: None,
            })
            .unwrap();
        }
        "tile" => {
            ferrosea_analyze::regions(&ferrosea_analyze::RegionsOptions {
                run: ferrosea_analyze::RunArgs::new(&args[1]),
                input: ferrosea_analyze::SequenceArgs {
                    genome: Some(PathBuf::from(&args[2])),
                    ..Default::default()
                },
                tile: Some(args[3].clone()),
                step: 200,
                out: PathBuf::from(&args[4]),
                bigwig: Some("target000,target001".into()),
                bedgraph: false,
                rc_average: false,
            })
            .unwrap();
        }
        other => panic!("unknown child {other}"),
    }
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap()
}

/// Runs one child job of this bench (see [`child`]) alone and measured.
fn run_child(args: &[&str], threads: usize) -> ferrosea_benches::Measured {
    let exe = std::env::current_exe().unwrap();
    let m = measure(
        Command::new(exe)
            .env("FERROSEA_BENCH_CHILD", serde_json::to_string(args).unwrap())
            .env("RAYON_NUM_THREADS", threads.to_string()),
    );
    assert!(m.ok, "{} failed", args[0]);
    m
}

/// `n` 1000 bp intervals centred in sequenced stretches of chr22, as BED.
fn ism_bed(path: &Path, n: usize) {
    let regions = std::fs::read_to_string(
        shared_data().join("genome/hg19_chr22_partial.sequenced_regions.bed"),
    )
    .unwrap();
    let mut text = String::new();
    for l in regions.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = l.split('\t').collect();
        let (a, b): (u64, u64) = (f[1].parse().unwrap(), f[2].parse().unwrap());
        if b > a + 5000 && text.lines().count() < n {
            let m = (a + b) / 2;
            text.push_str(&format!(
                "chr22\t{}\t{}\tseq{}\n",
                m - 500,
                m + 500,
                text.lines().count()
            ));
        }
    }
    std::fs::write(path, text).unwrap();
}

fn main() {
    if let Ok(args) = std::env::var("FERROSEA_BENCH_CHILD") {
        // As the binaries do: keep glibc from returning Candle's buffers every batch.
        ferrosea_runtime::process::keep_freed_memory();
        child(serde_json::from_str(&args).unwrap());
        return;
    }
    let threads = env_usize("BENCH_THREADS", 2);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-analyze");
    std::fs::create_dir_all(&dir).unwrap();
    let genome = dir.join("chr22.fa");
    if !genome.exists() {
        let mut gz = flate2::read::GzDecoder::new(
            std::fs::File::open(shared_data().join("genome/hg19_chr22_partial.fa.gz")).unwrap(),
        );
        let mut out = std::fs::File::create(dir.join("chr22.fa.part")).unwrap();
        std::io::copy(&mut gz, &mut out).unwrap();
        std::fs::rename(dir.join("chr22.fa.part"), &genome).unwrap();
    }
    let n = env_usize("BENCH_VARIANTS", 256);
    let vcf = dir.join(format!("random-{n}.vcf"));
    random_vcf(&genome, &vcf, n);
    let (data, valid) = (dir.join("data.h5"), dir.join("valid.h5"));
    if !data.exists() {
        one_hot_dataset(&data, 64, 1000, 919);
        one_hot_dataset(&valid, 32, 1000, 919);
    }
    let models: Vec<String> = std::env::var("BENCH_MODELS")
        .unwrap_or_else(|_| "deepsea,danq".into())
        .split(',')
        .map(str::to_string)
        .collect();
    println!("threads: {threads}; {n} random SNVs on real chr22; 919 targets, window 1000");
    println!(
        "\n{:<8} {:<12} {:>14} {:>14} {:>14} {:>8} {:>24}",
        "model",
        "mode",
        "ferrosea v/s",
        "(whole run)",
        "pytorch v/s",
        "ratio",
        "1M variants, 16 cores"
    );
    for preset in &models {
        let run = dir.join(format!("run-{preset}"));
        if !run.join("best.json").exists() {
            train_one_step(preset, &data, &valid, &run);
        }
        for rc in ["plain", "rc"] {
            let out = dir.join(format!("variants-{preset}-{rc}"));
            let m = run_child(
                &[
                    "variants",
                    &run.display().to_string(),
                    &genome.display().to_string(),
                    &vcf.display().to_string(),
                    &out.display().to_string(),
                    rc,
                ],
                threads,
            );
            // Steady state: the run's wall time less its set-up (loading and hashing the
            // checkpoint, opening the genome), which PyTorch's figure leaves out too.
            let setup = summary(&out)["setup_seconds"].as_f64().unwrap_or(0.0);
            let whole = n as f64 / m.wall.as_secs_f64();
            let ours = n as f64 / (m.wall.as_secs_f64() - setup).max(1e-9);
            let mut targs = vec!["variants", "--model", preset.as_str()];
            let ns = n.to_string();
            targs.extend(["--variants", &ns]);
            if rc == "rc" {
                targs.push("--rc-average");
            }
            let theirs = torch(&targs, threads).map(|j| j["variants_per_s"].as_f64().unwrap());
            // Assumes throughput scales with cores (inference batches are independent).
            let hours = 1e6 / (ours * 16.0 / threads as f64) / 3600.0;
            println!(
                "{:<8} {:<12} {:>14.1} {:>14.1} {:>14} {:>8} {:>21.1} h",
                preset,
                if rc == "rc" { "--rc-average" } else { "plain" },
                ours,
                whole,
                theirs.map_or("-".into(), |t| format!("{t:.1}")),
                theirs.map_or("-".into(), |t| format!("{:.2}x", ours / t)),
                hours
            );
        }
    }
    let seqs = env_usize("BENCH_ISM_SEQS", 1);
    let bed = dir.join("ism.bed");
    ism_bed(&bed, seqs);
    println!(
        "\nism: {seqs} sequence(s) of 1000 bp, 3,000 mutants each\n{:<8} {:>16} {:>16} {:>8}",
        "model", "ferrosea s/seq", "pytorch s/seq", "ratio"
    );
    for preset in &models {
        let run = dir.join(format!("run-{preset}"));
        let out = dir.join(format!("ism-{preset}.h5"));
        let m = run_child(
            &[
                "ism",
                &run.display().to_string(),
                &genome.display().to_string(),
                &bed.display().to_string(),
                &out.display().to_string(),
            ],
            threads,
        );
        let ours = m.wall.as_secs_f64() / seqs as f64;
        let ns = seqs.to_string();
        let theirs = torch(&["ism", "--model", preset, "--sequences", &ns], threads)
            .map(|j| j["seconds_per_sequence"].as_f64().unwrap());
        println!(
            "{:<8} {:>16.1} {:>16} {:>8}",
            preset,
            ours,
            theirs.map_or("-".into(), |t| format!("{t:.1}")),
            theirs.map_or("-".into(), |t| format!("{:.2}x", t / ours))
        );
    }
    let tile = std::env::var("BENCH_TILE").unwrap_or_else(|_| "chr22:20000001-20400000".into());
    println!(
        "\nregions --tile {tile} --step 200 (2 bigWig tracks)\n{:<8} {:>10} {:>10}",
        "model", "bins", "bins/s"
    );
    for preset in &models {
        let run = dir.join(format!("run-{preset}"));
        let out = dir.join(format!("tile-{preset}"));
        let m = run_child(
            &[
                "tile",
                &run.display().to_string(),
                &genome.display().to_string(),
                &tile,
                &out.display().to_string(),
            ],
            threads,
        );
        let bins = summary(&out)["windows"].as_f64().unwrap();
        println!(
            "{:<8} {:>10} {:>10.1}",
            preset,
            bins,
            bins / m.wall.as_secs_f64()
        );
    }
}
