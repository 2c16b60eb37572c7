//! Helpers of the `variants_*` tests: running `variants`, `background` and
//! `ferrosea-evaluate predict`, the oracle VCF and VCF texts made from it, and the files a
//! variants run writes. The rest is in `common`.
#![allow(dead_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{self, ok, Bases, CHROM, CHROM_LEN};

/// `ferrosea-evaluate`, which `cargo test -p ferrosea-analyze` does not build.
pub fn evaluate_bin() -> PathBuf {
    let b = common::bin("ferrosea-evaluate");
    assert!(
        b.exists(),
        "{} is missing: build it first with `cargo build -p ferrosea-evaluate` (cargo test \
         --workspace builds it)",
        b.display()
    );
    b
}

/// `ferrosea-evaluate predict` of a dataset file.
pub fn predict(checkpoint: &Path, data: &Path, out: &Path, rc_average: bool) {
    let mut c = Command::new(evaluate_bin());
    c.args(["-q", "predict", "--checkpoint"])
        .arg(checkpoint)
        .arg("--data")
        .arg(data)
        .arg("-o")
        .arg(out);
    if rc_average {
        c.arg("--rc-average");
    }
    ok("ferrosea-evaluate predict", c.output().unwrap());
}

/// `-q variants` arguments for the fixture's checkpoint and the demo genome.
pub fn variants_args(vcf: &Path, out: &Path) -> Vec<std::ffi::OsString> {
    let f = common::fixture();
    vec![
        "-q".into(),
        "variants".into(),
        "--checkpoint".into(),
        f.run.clone().into(),
        "--genome".into(),
        common::genome().into(),
        "--vcf".into(),
        vcf.into(),
        "-o".into(),
        out.into(),
    ]
}

/// `variants` on `vcf` into `out`, with extra arguments (global flags such as `-j` work after
/// the subcommand too).
pub fn variants(vcf: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = variants_args(vcf, out);
    args.extend(extra.iter().map(OsString::from));
    common::analyze(&args)
}

/// [`variants`], which must succeed.
pub fn run_variants(vcf: &Path, out: &Path, extra: &[&str]) {
    ok("ferrosea-analyze variants", variants(vcf, out, extra));
}

/// `-q background --checkpoint <checkpoint> --genome <the demo genome> <args> -o <out>`.
pub fn background(checkpoint: &Path, out: &Path, args: &[&str]) -> Output {
    let mut all: Vec<OsString> = vec![
        "-q".into(),
        "background".into(),
        "--checkpoint".into(),
        checkpoint.into(),
        "--genome".into(),
        common::genome().into(),
    ];
    all.extend(args.iter().map(OsString::from));
    all.extend(["-o".into(), out.into()]);
    common::analyze(&all)
}

pub const HEADER: &str = "##fileformat=VCFv4.2\n##contig=<ID=chr22,length=51304566>\n\
##INFO=<ID=DP,Number=1,Type=Integer,Description=\"depth\">\n\
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n";

/// A base other than `b` (`A` -> `C`, ...; `N` -> `A`).
pub fn other(b: char) -> char {
    match b {
        'A' => 'C',
        'C' => 'G',
        'G' => 'T',
        _ => 'A',
    }
}

fn add(v: &mut String, pos: u64, id: &str, r: &str, alt: &str, info: &str) {
    v.push_str(&line(CHROM, pos, id, r, alt, info))
}

fn line(chrom: &str, pos: u64, id: &str, r: &str, alt: &str, info: &str) -> String {
    format!("{chrom}\t{pos}\t{id}\t{r}\t{alt}\t.\tPASS\t{info}\n")
}

/// The oracle VCF: SNVs, MNVs, deletions and insertions (short and longer than the window),
/// multi-ALT records, variants next to both chromosome ends and to the real-sequence
/// boundaries of the demo, a REF mismatch, symbolic, `*`, breakend and missing ALTs, a letter
/// outside ACGTN, a chromosome the genome lacks and `22` for `chr22`. Window 1000 (h = 500).
pub fn oracle_vcf() -> String {
    let mut g = Bases::open();
    let mut v = String::from(HEADER);
    let snv = |g: &mut Bases, pos: u64| {
        let r = g.get(pos, 1);
        let a = other(r.chars().next().unwrap()).to_string();
        (r, a)
    };
    // SNVs, one with INFO of its own.
    let (r, a) = snv(&mut g, 27_000_000);
    add(&mut v, 27_000_000, "snv1", &r, &a, "DP=10");
    let (r, a) = snv(&mut g, 27_200_000);
    add(&mut v, 27_200_000, "snv2", &r, &a, ".");
    // Multi-ALT SNV: the three other bases.
    let r = g.get(27_100_000, 1);
    let alts: Vec<String> = "ACGT"
        .chars()
        .filter(|c| c.to_string() != r)
        .map(String::from)
        .collect();
    add(&mut v, 27_100_000, "multi_snv", &r, &alts.join(","), ".");
    // MNVs of 2 and 3 bases.
    for (pos, n) in [(27_300_000u64, 2u64), (27_400_000, 3)] {
        let r = g.get(pos, n);
        let a: String = r.chars().map(other).collect();
        add(&mut v, pos, &format!("mnv{n}"), &r, &a, ".");
    }
    // Deletions of 1, 2, 4 and 5 bases (REF 2..6), and one longer than the window.
    for (i, n) in [2u64, 3, 5, 6].into_iter().enumerate() {
        let pos = 27_500_000 + 1000 * i as u64;
        let r = g.get(pos, n);
        add(&mut v, pos, &format!("del{}", n - 1), &r, &r[..1], ".");
    }
    let r = g.get(27_600_000, 1501);
    add(&mut v, 27_600_000, "del1500", &r, &r[..1], ".");
    // Insertions of 1, 2, 3 and 6 bases, and one longer than the window.
    for (i, ins) in ["G", "TA", "CAT", "GATTAC"].into_iter().enumerate() {
        let pos = 27_700_000 + 1000 * i as u64;
        let r = g.get(pos, 1);
        add(
            &mut v,
            pos,
            &format!("ins{}", ins.len()),
            &r,
            &format!("{r}{ins}"),
            ".",
        );
    }
    let r = g.get(27_800_000, 1);
    let long: String = (0..1201).map(|i| b"ACGGT"[i % 5] as char).collect();
    add(
        &mut v,
        27_800_000,
        "ins1201",
        &r,
        &format!("{r}{long}"),
        ".",
    );
    // Mixed multi-ALT: deletion, insertion, MNV, overlapping deletion, symbolic.
    let r = g.get(27_900_000, 2);
    let mnv: String = r.chars().map(other).collect();
    add(
        &mut v,
        27_900_000,
        "mixed",
        &r,
        &format!("{},{r}GT,{mnv},*,<DEL>", &r[..1]),
        "DP=3",
    );
    // A REF that does not match the genome (scored as written).
    let (r, _) = snv(&mut g, 28_000_000);
    let wrong = other(r.chars().next().unwrap()).to_string();
    add(&mut v, 28_000_000, "mismatch", &wrong, &r, ".");
    // Lower-case alleles (the genome is soft-masked here and there; matching ignores case).
    let r = g.get(28_500_000, 2);
    let a: String = r.chars().map(other).collect();
    add(
        &mut v,
        28_500_000,
        "lower",
        &r.to_ascii_lowercase(),
        &a.to_ascii_lowercase(),
        ".",
    );
    // Alleles that are not scored.
    let r = g.get(28_100_000, 1);
    add(&mut v, 28_100_000, "symbolic", &r, "<DEL>", ".");
    add(&mut v, 28_100_001, "star", &g.get(28_100_001, 1), "*", ".");
    add(
        &mut v,
        28_100_002,
        "bnd",
        &r,
        &format!("{r}]chr22:28200000]"),
        ".",
    );
    add(&mut v, 28_100_003, "bnd_single", &r, &format!(".{r}"), ".");
    add(&mut v, 28_100_004, "missing", &r, ".", ".");
    add(&mut v, 28_100_005, "iupac", &r, "R", ".");
    add(
        &mut v,
        28_100_006,
        "iupac_multi",
        &r,
        &format!("R,{}", other(r.chars().next().unwrap())),
        ".",
    );
    add(&mut v, 28_100_007, "iupac_ref", "R", "G", ".");
    v.push_str(&line("chr1", 1000, "other_chrom", "A", "G", "."));
    let (r, a) = snv(&mut g, 28_300_000);
    v.push_str(&line("22", 28_300_000, "bare_name", &r, &a, "."));
    // Next to the chromosome start (N there): an SNV's window is [p - 500, p + 500).
    add(&mut v, 100, "start_100", "N", "A", ".");
    add(&mut v, 500, "start_500", "N", "A", "."); // starts at -1: off
    add(&mut v, 501, "start_501", "N", "A", "."); // starts at 0: scored, all N
    add(&mut v, 500, "start_del", "NNN", "N", "."); // ref from 0, alt from -1: off
    add(&mut v, 501, "start_del_ok", "NN", "N", "."); // both fit
    add(&mut v, 499, "start_ins", "N", "NAAA", "."); // alt fits, ref does not
                                                     // Next to the chromosome end.
    let l = CHROM_LEN;
    add(&mut v, l - 499, "end_snv_ok", "N", "C", "."); // ends at the last base
    add(&mut v, l - 498, "end_snv_off", "N", "C", ".");
    add(&mut v, l, "end_last", "N", "C", ".");
    add(&mut v, l, "end_ref_past", "NN", "N", "."); // REF runs past the end
    add(&mut v, l - 600, "end_del", &"N".repeat(150), "N", "."); // alt pulls bases past the end
    add(&mut v, l - 499, "end_ins", "N", "NAA", ".");
    // Next to the demo's real-sequence boundaries (26,000,000 and 29,957,795 bp).
    let (r, a) = snv(&mut g, 26_000_010);
    add(&mut v, 26_000_010, "real_start", &r, &a, ".");
    let r = g.get(29_957_790, 3);
    add(
        &mut v,
        29_957_790,
        "real_end",
        &r,
        &format!("{}TTTT", &r[..1]),
        ".",
    );
    v
}

/// `text` with a FORMAT column and two samples on every line (kept as they are in the
/// annotated VCF).
pub fn with_samples(text: &str) -> String {
    let mut out = String::new();
    for l in text.lines() {
        if l.starts_with("#CHROM") {
            out.push_str("##FORMAT=<ID=GT,Number=1,Type=String,Description=\"genotype\">\n");
            out.push_str(l);
            out.push_str("\tFORMAT\tS1\tS2\n");
        } else if l.starts_with('#') {
            out.push_str(l);
            out.push('\n');
        } else {
            out.push_str(l);
            out.push_str("\tGT\t0/1\t./.\n");
        }
    }
    out
}

/// The data lines of a VCF text.
pub fn records(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.starts_with('#')).collect()
}

/// The oracle VCF's records `n` times over, under its header.
pub fn oracle_copies(n: usize) -> String {
    let base = oracle_vcf();
    let body = records(&base);
    let mut text = HEADER.to_string();
    for _ in 0..n {
        for l in &body {
            text.push_str(l);
            text.push('\n');
        }
    }
    text
}

/// The output files of a variants run that must not depend on how it ran (all but
/// summary.json), with the given TSV prefix.
pub fn output_files(prefix: &str) -> Vec<String> {
    let mut v = vec![
        "variants.h5".to_string(),
        format!("{prefix}_diffs.tsv"),
        format!("{prefix}_abs_diffs.tsv"),
        format!("{prefix}_logits.tsv"),
        format!("{prefix}.ref_predictions.tsv"),
        format!("{prefix}.alt_predictions.tsv"),
        "annotated.vcf.gz".to_string(),
        "skipped.tsv".to_string(),
    ];
    v.sort();
    v
}
