//! `ferrosea-analyze variants` and `background` against an independent Python oracle
//! (tests/python/check_variants.py: h5py and numpy, no ferrosea code). The oracle builds each
//! allele's windows from the FASTA by the rule of crates/analyze/src/alleles.rs, writes them
//! as a dataset file, and `ferrosea-evaluate predict` scores it; `variants` must report the
//! same probabilities (1e-6), skip exactly the alleles the oracle skips, compute the
//! documented scores and e-values, and write TSVs and an annotated VCF that agree with
//! variants.h5.
//!
//! Needs the `ferrosea-evaluate` binary: `cargo build -p ferrosea-evaluate` first when running
//! only this package's tests.

mod common;
mod variants_common;

use std::ffi::OsString;
use std::path::Path;

use common::*;
use variants_common::*;

#[test]
fn variants_and_background_agree_with_the_python_oracle() {
    let (f, _g, dir) = common::start();
    let d = dir.path();
    let vcf = d.join("oracle.vcf");
    write(&vcf, &with_samples(&oracle_vcf()));

    // The background, then variants without and with it, and with --rc-average.
    let bg = d.join("bg.h5");
    ok(
        "ferrosea-analyze background",
        background(&f.run, &bg, &["--random-snvs", "200", "--seed", "1"]),
    );
    // A background of the VCF's own alleles (`--vcf`).
    let bg_vcf = d.join("bg_vcf.h5");
    ok(
        "ferrosea-analyze background --vcf",
        background(&f.run, &bg_vcf, &["--vcf", vcf.to_str().unwrap()]),
    );
    let (plain, with_bg, rc) = (d.join("plain"), d.join("bg"), d.join("rc"));
    run_variants(&vcf, &plain, &[]);
    run_variants(&vcf, &with_bg, &["--background", bg.to_str().unwrap()]);
    let with_bg_vcf = d.join("bg_vcf");
    run_variants(
        &vcf,
        &with_bg_vcf,
        &["--background", bg_vcf.to_str().unwrap()],
    );
    run_variants(&vcf, &rc, &["--rc-average"]);

    // The oracle's windows (the VCF's alleles and the background's SNVs) through predict.
    let (data, expected) = (d.join("oracle.h5"), d.join("expected.json"));
    let p = |p: &Path| p.as_os_str().to_owned();
    python_script(
        "check_variants.py",
        &[
            "build".into(),
            "--genome".into(),
            p(&common::genome()),
            "--vcf".into(),
            p(&vcf),
            "--window".into(),
            "1000".into(),
            "--targets-from".into(),
            p(&f.prep.join("train.h5")),
            "--background".into(),
            p(&bg),
            "--dataset".into(),
            p(&data),
            "--expected".into(),
            p(&expected),
        ],
    );
    let e = json(&expected);
    let scored = e["scored"].as_array().unwrap().len();
    let skipped = e["skipped"].as_array().unwrap();
    assert!(scored >= 25, "the oracle VCF scores {scored} alleles");
    // Every way of not being scored is exercised.
    for reason in [
        "symbolic_allele",
        "breakend",
        "missing_alt",
        "letters_outside_ACGTN",
        "chrom_not_in_genome",
        "chrom_not_in_genome(genome has chr22)",
        "window_off_chromosome",
    ] {
        assert!(
            skipped.iter().any(|s| s[5] == reason),
            "the oracle expects no allele skipped as {reason}"
        );
    }
    let (pred, pred_rc) = (d.join("pred.h5"), d.join("pred_rc.h5"));
    predict(&f.run, &data, &pred, false);
    predict(&f.run, &data, &pred_rc, true);

    let compare = |out: &Path, extra: &[&str]| {
        let mut a: Vec<OsString> = vec![
            "compare".into(),
            "--expected".into(),
            p(&expected),
            "--pred".into(),
            p(&pred),
            "--variants".into(),
            p(out),
            "--prefix".into(),
            "oracle".into(),
        ];
        a.extend(extra.iter().map(OsString::from));
        python_script("check_variants.py", &a);
    };
    compare(&plain, &[]);
    compare(&with_bg, &["--background", bg.to_str().unwrap()]);
    compare(&with_bg_vcf, &["--background", bg_vcf.to_str().unwrap()]);
    compare(
        &rc,
        &["--rc-average", "--pred-rc", pred_rc.to_str().unwrap()],
    );
}

/// Scoring an annotated.vcf.gz again replaces ferrosea's INFO (declared once, not twice): the
/// same annotated VCF and the same scores.
#[test]
fn an_annotated_vcf_scored_again_is_annotated_the_same() {
    let (_, _g, dir) = common::start();
    let d = dir.path();
    let vcf = d.join("v.vcf");
    write(&vcf, &oracle_vcf());
    let (first, second) = (d.join("first"), d.join("second"));
    run_variants(&vcf, &first, &[]);
    let annotated = first.join("annotated.vcf.gz");
    run_variants(&annotated, &second, &[]);
    let (a, b) = (
        read_gzip(&annotated),
        read_gzip(&second.join("annotated.vcf.gz")),
    );
    assert_eq!(
        a.matches("##INFO=<ID=FS_SKIPPED,").count(),
        1,
        "FS_SKIPPED declared once"
    );
    assert_eq!(a, b, "annotating an annotated VCF again changes it");
    for (x, y) in [
        ("v_diffs.tsv", "annotated_diffs.tsv"),
        ("skipped.tsv", "skipped.tsv"),
    ] {
        assert_eq!(
            std::fs::read(first.join(x)).unwrap(),
            std::fs::read(second.join(y)).unwrap(),
            "{x}"
        );
    }
}

/// gzip and bgzip VCFs give the same outputs as the plain text.
#[test]
fn gzip_and_bgzip_vcfs_read_like_plain_text() {
    let (_, _g, dir) = common::start();
    let d = dir.path();
    let text = oracle_vcf();
    let plain = d.join("plain/v.vcf");
    std::fs::create_dir_all(plain.parent().unwrap()).unwrap();
    write(&plain, &text);
    run_variants(&plain, &d.join("out_plain"), &[]);
    let mut files = output_files("v");
    files.retain(|f| f != "variants.h5"); // its `vcf` attribute names the file read
    for (name, writer) in [
        ("gzip", write_gzip as fn(&Path, &str)),
        ("bgzip", write_bgzip),
    ] {
        let vcf = d.join(name).join("v.vcf.gz");
        std::fs::create_dir_all(vcf.parent().unwrap()).unwrap();
        writer(&vcf, &text);
        let out = d.join(format!("out_{name}"));
        run_variants(&vcf, &out, &[]);
        same_bytes(&d.join("out_plain"), &out, &files);
    }
}

/// The rows of a TSV below its header, split into columns.
fn tsv_rows(tsv: &str) -> Vec<Vec<&str>> {
    tsv.lines()
        .skip(1)
        .map(|l| l.split('\t').collect())
        .collect()
}

/// `--chrom-alias chr` scores `22` as `chr22`, with the same probabilities.
#[test]
fn chrom_alias_rescues_bare_names() {
    let (_, _g, dir) = common::start();
    let d = dir.path();
    let mut g = Bases::open();
    let r = g.get(28_300_000, 1);
    let a = other(r.chars().next().unwrap());
    let vcf = d.join("alias.vcf");
    write(
        &vcf,
        &format!(
            "{HEADER}22\t28300000\tbare\t{r}\t{a}\t.\t.\t.\nchr22\t28300000\tfull\t{r}\t{a}\t.\t.\t.\n"
        ),
    );
    // Without the alias: skipped, with a warning that names the fix.
    let out = d.join("no_alias");
    let o = ok("variants", analyze(&variants_args(&vcf, &out)));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("'22'") && stderr.contains("--chrom-alias chr"),
        "{stderr}"
    );
    let s = json(&out.join("summary.json"));
    assert_eq!(
        (
            s["scored"].as_u64(),
            s["skipped"]["chrom_not_in_genome"].as_u64()
        ),
        (Some(1), Some(1))
    );
    // With it: both rows scored, the same values; rows keep the VCF's name.
    let out = d.join("alias");
    run_variants(&vcf, &out, &["--chrom-alias", "chr"]);
    let s = json(&out.join("summary.json"));
    assert_eq!(s["scored"].as_u64(), Some(2), "{s}");
    let tsv = std::fs::read_to_string(out.join("alias.ref_predictions.tsv")).unwrap();
    let rows = tsv_rows(&tsv);
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0][0], rows[1][0]), ("22", "chr22"));
    assert_eq!(rows[0][6], "True", "the REF matches chr22");
    assert_eq!(rows[0][8..], rows[1][8..], "22 is scored as chr22");
    let alt = std::fs::read_to_string(out.join("alias.alt_predictions.tsv")).unwrap();
    let alt = tsv_rows(&alt);
    assert_eq!(alt[0][8..], alt[1][8..]);
    assert_ne!(alt[0][8..], rows[0][8..], "the SNV changes the predictions");
}

/// Random background SNVs: genome bases with a window inside the chromosome, outside
/// `--exclude`, the alternative another base; the same seed draws the same SNVs.
#[test]
fn random_background_snvs_follow_the_rule() {
    let (f, _g, dir) = common::start();
    let d = dir.path();
    // Everything but [28,000,000, 28,400,000) and [29,000,000, 29,100,000) is excluded
    // (0-based, half-open), in two forms: a plain BED and a gzip one with a header line.
    let bed = "chr22\t0\t28000000\nchr22\t28400000\t29000000\nchr22\t29100000\t51304566\n";
    let plain = d.join("exclude.bed");
    write(&plain, bed);
    let gz = d.join("exclude.bed.gz");
    write_gzip(&gz, &format!("track name=x\n{bed}"));
    let bg = |out: &Path, seed: &str, exclude: &Path| {
        let args = [
            "--random-snvs",
            "150",
            "--seed",
            seed,
            "--exclude",
            exclude.to_str().unwrap(),
        ];
        ok("background --exclude", background(&f.run, out, &args));
        let r = ferrosea_dataset::ResultsReader::open(out, "ferrosea-background").unwrap();
        let n = r.rows();
        (
            r.strings("chrom", 0..n).unwrap(),
            r.ints("pos", 0..n).unwrap(),
            r.strings("ref", 0..n).unwrap(),
            r.strings("alt", 0..n).unwrap(),
            r.array("magnitude", 0..n).unwrap(),
        )
    };
    let a = bg(&d.join("a.h5"), "7", &plain);
    let b = bg(&d.join("b.h5"), "7", &gz);
    let c = bg(&d.join("c.h5"), "8", &plain);
    assert_eq!(a, b, "the same seed and exclusions draw the same SNVs");
    assert_ne!(a.1, c.1, "another seed draws other positions");
    let (chrom, pos, reference, alt, magnitude) = a;
    assert_eq!(pos.len(), 150);
    assert_eq!(magnitude.len(), 150 * 29);
    assert!(magnitude.iter().all(|m| m.is_finite() && *m >= 0.0));
    let mut g = Bases::open();
    let (mut first, mut second) = (0, 0);
    for i in 0..pos.len() {
        let p0 = pos[i] as u64 - 1;
        assert_eq!(chrom[i], CHROM);
        let inside =
            (28_000_000..28_400_000).contains(&p0) || (29_000_000..29_100_000).contains(&p0);
        assert!(inside, "SNV at {} is in an excluded interval", pos[i]);
        first += (p0 < 28_400_000) as usize;
        second += (p0 >= 29_000_000) as usize;
        let base = g.get(pos[i] as u64, 1);
        assert_eq!(reference[i], base, "REF at {}", pos[i]);
        assert!("ACGT".contains(&base), "{base} at {}", pos[i]);
        assert!(alt[i].len() == 1 && "ACGT".contains(&alt[i]) && alt[i] != base);
    }
    // The eligible bases of both intervals (roughly 4:1) are both drawn from.
    assert!(first > 0 && second > 0, "{first} and {second}");
    let mut sorted = pos.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, pos, "genome order");
}
