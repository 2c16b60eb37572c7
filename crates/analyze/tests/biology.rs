//! Biology on real data: a small model trained on real chr22 (../shared) with the CTCF
//! ChIP-seq peaks of seven cell lines must answer the question the analyze stage exists for.
//! Substitutions in the cores of real CTCF motif instances (JASPAR MA0139.2, inside CTCF
//! peaks) must lower the predicted CTCF probability far more often, and far more, than
//! substitutions at random positions near them.
//!
//! The model is DeepBind-like (32 filters of 20 bp, max over a 200 bp window, a dense layer),
//! trained from random weights (no motif initialisation) for 8 epochs of 700 steps.

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};

fn shared() -> PathBuf {
    let p = common::root().join("../shared/data");
    assert!(
        p.is_dir(),
        "this test reads the real data in ../shared/data beside the checkout ({})",
        p.display()
    );
    p
}

const CELLS: [&str; 7] = [
    "A549", "H1-hESC", "HeLa-S3", "HepG2", "IMR-90", "K562", "MCF-7",
];

const RECIPE: &str = r#"{
  "model": {
    "arch": "deepsea",
    "conv": [{"filters": 32, "width": 20, "pool": 181, "dropout": 0.0}],
    "hidden": 32,
    "init": "torch"
  },
  "optimizer": {"kind": "adam", "lr": 0.001},
  "batch_size": 64,
  "epochs": 8,
  "patience": 20,
  "reverse_complement": true
}"#;

/// The CTCF instances inside peaks, as (0-based start, strand).
fn instances() -> Vec<(u64, char)> {
    let path = shared().join("motifs/CTCF_MA0139.2_instances_hg19_chr22partial.bed.gz");
    let mut text = String::new();
    use std::io::Read;
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|f| f[6].trim() == "1")
        .map(|f| (f[1].parse().unwrap(), f[5].chars().next().unwrap()))
        .collect()
}

fn complement(b: u8) -> u8 {
    match b {
        b'A' => b'T',
        b'C' => b'G',
        b'G' => b'C',
        _ => b'A',
    }
}

/// A VCF of, per instance, every core position (a column whose top base has probability >=
/// 0.8) mutated to its least likely base, and as many random substitutions at positions 11 to
/// 450 bp away from the instance. IDs say which.
fn write_vcf(genome: &Path, path: &Path) -> usize {
    let motifs = ferrosea_motifs::read_meme(
        &common::root().join("data/motifs/JASPAR2024_CORE_vertebrates_latest.meme.gz"),
    )
    .unwrap();
    let ctcf = motifs.iter().find(|m| m.id == "MA0139.2").unwrap();
    let w = ctcf.pfm.len() as u64;
    let core: Vec<usize> = (0..ctcf.pfm.len())
        .filter(|&i| ctcf.pfm[i].iter().cloned().fold(0.0, f64::max) >= 0.8)
        .collect();
    let g = ferrosea_genome::Genome::open(genome, 1).unwrap();
    let mut fetch = g.fetcher().unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut rows = Vec::new();
    for (start, strand) in instances() {
        for &i in &core {
            let col = ctcf.pfm[i];
            let least = (0..4).min_by(|&a, &b| col[a].total_cmp(&col[b])).unwrap();
            let (pos, alt) = if strand == '+' {
                (start + i as u64, b"ACGT"[least])
            } else {
                (start + w - 1 - i as u64, complement(b"ACGT"[least]))
            };
            let r = fetch.fetch("chr22", pos, pos + 1).unwrap()[0].to_ascii_uppercase();
            if r != alt && b"ACGT".contains(&r) {
                rows.push((pos, "core", r, alt));
            }
        }
        for _ in 0..core.len() {
            let (pos, r) = loop {
                let d = rng.random_range(11..=450u64);
                let pos = if rng.random::<bool>() {
                    start + w + d
                } else {
                    start - d
                };
                let r = fetch.fetch("chr22", pos, pos + 1).unwrap()[0].to_ascii_uppercase();
                if b"ACGT".contains(&r) {
                    break (pos, r);
                }
            };
            let others: Vec<u8> = b"ACGT".iter().copied().filter(|&b| b != r).collect();
            rows.push((pos, "random", r, others[rng.random_range(0..3)]));
        }
    }
    rows.sort();
    let mut text =
        String::from("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n");
    for (pos, kind, r, a) in &rows {
        let _ = writeln!(
            text,
            "chr22\t{}\t{kind}\t{}\t{}\t.\t.\t.",
            pos + 1,
            *r as char,
            *a as char
        );
    }
    std::fs::write(path, text).unwrap();
    rows.len()
}

#[test]
fn substitutions_in_ctcf_motif_cores_lower_the_predicted_ctcf_binding() {
    let _g = common::serial();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The shared chr22 is plain gzip, which cannot be read at random: decompress it once.
    let genome = d.join("chr22.fa");
    let mut gz = flate2::read::GzDecoder::new(
        std::fs::File::open(shared().join("genome/hg19_chr22_partial.fa.gz")).unwrap(),
    );
    std::io::copy(&mut gz, &mut std::fs::File::create(&genome).unwrap()).unwrap();
    let mut manifest = String::from("name\tcategory\tpath\tcell\n");
    for c in CELLS {
        let p = shared().join(format!(
            "peaks/encode_dream_tf_hg19/ChIPseq.{c}.CTCF.conservative.train.narrowPeak.gz"
        ));
        let _ = writeln!(manifest, "{c}|CTCF\tTF\t{}\t{c}", p.display());
    }
    std::fs::write(d.join("targets.tsv"), manifest).unwrap();
    let prep = d.join("prep");
    ferrosea_prep::run(&ferrosea_prep::Options {
        genome: genome.clone(),
        targets: d.join("targets.tsv"),
        out: prep.clone(),
        threads: 2,
        window: 200,
        keep: ferrosea_prep::Keep::All,
        valid: ferrosea_genome::Region::parse_list("chr22:45000001-51304566").unwrap(),
        test: ferrosea_genome::Region::parse_list("chr22:40000001-45000000").unwrap(),
        ..Default::default()
    })
    .unwrap();
    let run = d.join("run");
    let cfg = ferrosea_train::TrainConfig::parse(RECIPE, "the test's recipe").unwrap();
    let report = ferrosea_train::run(&ferrosea_train::Options {
        steps_per_epoch: Some(700),
        ..ferrosea_train::Options::new(prep.join("train.h5"), prep.join("valid.h5"), &run, cfg)
    })
    .unwrap();
    let vcf = d.join("ctcf.vcf");
    let n = write_vcf(&genome, &vcf);
    let out = d.join("out");
    let r = ferrosea_analyze::variants(&ferrosea_analyze::VariantsOptions {
        run: ferrosea_analyze::RunArgs {
            batch_size: 256,
            ..ferrosea_analyze::RunArgs::new(&run)
        },
        genome: genome.clone(),
        vcf: vcf.clone(),
        out: out.clone(),
        rc_average: false,
        background: None,
        strict_ref: true,
        chrom_alias: None,
        chunk: None,
        prefix: None,
    })
    .unwrap();
    assert_eq!(r.scored, n, "every substitution is scored");
    let h5 = ferrosea_dataset::ResultsReader::open(&out.join("variants.h5"), "ferrosea-variants")
        .unwrap();
    let ids = h5.strings("id", 0..h5.rows()).unwrap();
    let diff = h5.array("diff", 0..h5.rows()).unwrap();
    let t = CELLS.len();
    let stats = |kind: &str| {
        let d: Vec<f64> = ids
            .iter()
            .enumerate()
            .filter(|(_, id)| *id == kind)
            .map(|(i, _)| {
                diff[i * t..(i + 1) * t]
                    .iter()
                    .map(|&v| v as f64)
                    .sum::<f64>()
                    / t as f64
            })
            .collect();
        let lowered = d.iter().filter(|&&v| v < 0.0).count() as f64 / d.len() as f64;
        (d.len(), lowered, d.iter().sum::<f64>() / d.len() as f64)
    };
    let (nc, core_lowered, core_mean) = stats("core");
    let (nr, random_lowered, random_mean) = stats("random");
    eprintln!(
        "CTCF biology: best (valid loss, epoch) {:?}; {nc} core substitutions lower the mean CTCF \
         probability in {:.1}% (mean diff {core_mean:.4}), {nr} random ones in {:.1}% (mean \
         diff {random_mean:.5})",
        report.best,
        100.0 * core_lowered,
        100.0 * random_lowered
    );
    assert!(
        core_lowered >= 0.8 && core_lowered - random_lowered >= 0.25,
        "core substitutions lower CTCF in {core_lowered:.3} of cases, random ones in \
         {random_lowered:.3}"
    );
    assert!(
        core_mean < -0.02 && core_mean < 20.0 * random_mean.min(-1e-4),
        "mean effect: core {core_mean}, random {random_mean}"
    );
}
