//! Bad input to `variants` and `background`: a clear error naming the file (and the line, for
//! text), exit code 2, no panic, and nothing left that looks complete (no summary.json, no
//! variants.h5 of a run that did not finish).

mod common;
mod variants_common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use variants_common::*;

/// Asserts exit code 2 with an error line holding every one of `needles`, no panic, and no
/// output of a finished run in `out`.
fn fails_leaving_nothing(what: &str, o: &Output, out: &Path, needles: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{what}: {stderr}");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("ferrosea-analyze: error: "))
        .unwrap_or_else(|| panic!("{what}: no error line in {stderr}"));
    for n in needles {
        assert!(
            line.contains(n),
            "{what}: the error does not name {n:?}: {line}"
        );
    }
    for f in ["summary.json", "variants.h5"] {
        assert!(
            !out.join(f).exists(),
            "{what}: {} left behind",
            out.join(f).display()
        );
    }
    line.to_string()
}

fn vcf_with(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    write(&p, text);
    p
}

/// v.vcf: the first record of the oracle VCF.
fn first_record_vcf(dir: &Path) -> PathBuf {
    let text = format!("{HEADER}{}\n", records(&oracle_vcf())[0]);
    vcf_with(dir, "v.vcf", &text)
}

#[test]
fn malformed_vcf_lines_are_named() {
    let (_, _g, dir) = common::start();
    let d = dir.path();
    let good = records(&oracle_vcf())[0].to_string();
    let cases: Vec<(&str, String, Vec<String>)> = vec![
        (
            "non-integer POS",
            format!("{HEADER}{good}\nchr22\t27x\t.\tA\tG\t.\t.\t.\n"),
            vec!["line 6".into(), "POS".into(), "27x".into()],
        ),
        (
            "missing columns",
            format!("{HEADER}{good}\n{good}\nchr22\t27000000\t.\tA\tG\n"),
            vec!["line 7".into(), "5 tab-separated columns".into()],
        ),
        (
            "no header",
            format!("{good}\n"),
            vec!["line 1".into(), "##fileformat=VCF".into()],
        ),
        (
            "no #CHROM line",
            "##fileformat=VCFv4.2\n".to_string() + &good + "\n",
            vec!["#CHROM".into()],
        ),
        (
            "a header line among the records",
            format!("{HEADER}{good}\n##INFO=<ID=X,Number=1,Type=Integer,Description=\"x\">\n"),
            vec!["line 6".into(), "header line".into()],
        ),
        (
            "no REF",
            format!("{HEADER}chr22\t27000000\t.\t.\tG\t.\t.\t.\n"),
            vec!["line 5".into()],
        ),
    ];
    for (i, (what, text, needles)) in cases.iter().enumerate() {
        let vcf = vcf_with(d, &format!("bad{i}.vcf"), text);
        let out = d.join(format!("out{i}"));
        let o = variants(&vcf, &out, &[]);
        let mut n: Vec<&str> = needles.iter().map(String::as_str).collect();
        let name = vcf.display().to_string();
        n.push(&name);
        fails_leaving_nothing(what, &o, &out, &n);
    }
}

/// An error after a block of rows was written, fresh and over an older finished output.
#[test]
fn an_error_late_in_the_vcf_leaves_nothing_that_looks_finished() {
    let (_, _g, dir) = common::start();
    let d = dir.path();
    let mut text = oracle_copies(40);
    let bad_line = text.lines().count() + 1;
    text.push_str("chr22\tnot_a_number\t.\tA\tG\t.\t.\t.\n");
    let vcf = vcf_with(d, "late.vcf", &text);
    let out = d.join("fresh");
    let o = variants(&vcf, &out, &[]);
    fails_leaving_nothing(
        "late error",
        &o,
        &out,
        &[&vcf.display().to_string(), &format!("line {bad_line}")],
    );
    // Over an older, finished output: its summary.json goes before anything is replaced.
    let out = d.join("older");
    let good = vcf_with(d, "good.vcf", &format!("{HEADER}{}\n", records(&text)[0]));
    ok("variants", variants(&good, &out, &[]));
    assert!(out.join("summary.json").exists());
    let o = variants(&vcf, &out, &[]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        !out.join("summary.json").exists(),
        "an older run's summary.json beside a failed run's files"
    );
}

#[test]
fn a_vcf_without_records_gives_empty_outputs_and_a_warning() {
    let (_, _g, dir) = common::start();
    let d = dir.path();
    let vcf = vcf_with(d, "empty.vcf", HEADER);
    let out = d.join("out");
    let o = ok("empty VCF", variants(&vcf, &out, &[]));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("WARN") && stderr.contains("no variant records"),
        "{stderr}"
    );
    let s = json(&out.join("summary.json"));
    assert_eq!(
        (s["records"].as_u64(), s["scored"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(!s["warnings"].as_array().unwrap().is_empty());
    let r = ferrosea_dataset::ResultsReader::open(&out.join("variants.h5"), "ferrosea-variants")
        .unwrap();
    assert_eq!(r.rows(), 0);
    assert_eq!(r.targets().unwrap().len(), 29);
    let tsv = std::fs::read_to_string(out.join("empty_diffs.tsv")).unwrap();
    assert_eq!(tsv.lines().count(), 1, "the header only: {tsv}");
    assert!(tsv.starts_with("chrom\tpos\tname\tref\talt\tstrand\tref_match\tcontains_unk\t"));
    let skipped = std::fs::read_to_string(out.join("skipped.tsv")).unwrap();
    assert_eq!(skipped, "chrom\tpos\tid\tref\talt\treason\n");
    let annotated = read_gzip(&out.join("annotated.vcf.gz"));
    assert!(annotated.starts_with("##fileformat=VCFv4.2\n"));
    assert!(annotated.ends_with("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"));
    assert!(annotated.contains("##INFO=<ID=FS_MAX_ABS_DIFF,Number=A"));
}

#[test]
fn strict_ref_names_the_line() {
    let (_, _g, dir) = common::start();
    let d = dir.path();
    let mut g = Bases::open();
    let r = g.get(28_000_000, 1);
    let wrong = other(r.chars().next().unwrap());
    let good = records(&oracle_vcf())[0].to_string();
    let vcf = vcf_with(
        d,
        "mismatch.vcf",
        &format!("{HEADER}{good}\nchr22\t28000000\tm\t{wrong}\t{r}\t.\t.\t.\n"),
    );
    let out = d.join("strict");
    let o = variants(&vcf, &out, &["--strict-ref"]);
    fails_leaving_nothing(
        "--strict-ref",
        &o,
        &out,
        &[
            &vcf.display().to_string(),
            "line 6",
            "--strict-ref",
            &format!("REF {wrong}"),
            &format!("({r})"),
        ],
    );
    // Without it, the same VCF is scored and the mismatch flagged.
    let out = d.join("lenient");
    ok("variants", variants(&vcf, &out, &[]));
    assert_eq!(json(&out.join("summary.json"))["ref_mismatch"], 1);
}

#[test]
fn genomes_that_cannot_be_read_at_random_are_named() {
    let (_, _g, dir) = common::start();
    let d = dir.path();
    let vcf = vcf_with(
        d,
        "v.vcf",
        &format!("{HEADER}chr22\t150\t.\tA\tG\t.\t.\t.\n"),
    );
    let fasta = format!(">chr22\n{}\n", "ACGT".repeat(100));
    // Plain gzip (not bgzip): no index can make it random-access.
    let gz = d.join("gz/genome.fa.gz");
    std::fs::create_dir_all(gz.parent().unwrap()).unwrap();
    write_gzip(&gz, &fasta);
    // bgzip without its .fai and .gzi.
    let bgz = d.join("bgz/genome.fa.gz");
    std::fs::create_dir_all(bgz.parent().unwrap()).unwrap();
    write_bgzip(&bgz, &fasta);
    // `variants` of the VCF on another genome.
    let on_genome = |genome: &Path, out: &Path| {
        let mut args = variants_args(&vcf, out);
        let i = args.iter().position(|a| a == "--genome").unwrap();
        args[i + 1] = genome.into();
        analyze(&args)
    };
    for (what, genome, needle) in [
        ("gzip", &gz, "bgzip"),
        ("bgzip without index", &bgz, "faidx"),
    ] {
        let out = d.join(format!("out_{}", what.len()));
        let o = on_genome(genome, &out);
        fails_leaving_nothing(what, &o, &out, &[&genome.display().to_string(), needle]);
    }
    // Not a FASTA at all.
    let not = vcf_with(d, "not.fa", "chr22 ACGT\n");
    let out = d.join("out_not");
    fails_leaving_nothing(
        "not FASTA",
        &on_genome(&not, &out),
        &out,
        &[&not.display().to_string()],
    );
}

/// A second checkpoint (the same recipe trained for two steps: other weights).
fn other_checkpoint(dir: &Path) -> PathBuf {
    let f = common::fixture();
    let run = dir.join("other_run");
    let mut cfg = ferrosea_train::TrainConfig::preset("deepsea-tiny").unwrap();
    cfg.epochs = 1;
    ferrosea_train::run(&ferrosea_train::Options {
        steps_per_epoch: Some(2),
        ..ferrosea_train::Options::new(f.prep.join("train.h5"), f.prep.join("valid.h5"), &run, cfg)
    })
    .unwrap();
    run
}

/// A background of 20 random SNVs, with extra arguments.
fn background20(checkpoint: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["--random-snvs", "20"];
    args.extend_from_slice(extra);
    background(checkpoint, out, &args)
}

#[test]
fn backgrounds_of_another_checkpoint_or_scoring_are_refused() {
    let (f, _g, dir) = common::start();
    let d = dir.path();
    let other = other_checkpoint(d);
    let vcf = first_record_vcf(d);
    let bg_other = d.join("bg_other.h5");
    ok("background", background20(&other, &bg_other, &[]));
    let out = d.join("o1");
    let o = variants(&vcf, &out, &["--background", bg_other.to_str().unwrap()]);
    fails_leaving_nothing(
        "another checkpoint",
        &o,
        &out,
        &[&bg_other.display().to_string(), "another checkpoint"],
    );
    // The fixture's checkpoint, but made without --rc-average.
    let bg = d.join("bg.h5");
    ok("background", background20(&f.run, &bg, &[]));
    let out = d.join("o2");
    let o = variants(
        &vcf,
        &out,
        &["--background", bg.to_str().unwrap(), "--rc-average"],
    );
    fails_leaving_nothing(
        "rc-average",
        &o,
        &out,
        &[&bg.display().to_string(), "--rc-average"],
    );
    // Not a background file at all (a variants.h5).
    let out = d.join("o3");
    ok("variants", variants(&vcf, &out, &[]));
    let v = out.join("variants.h5");
    let out = d.join("o4");
    let o = variants(&vcf, &out, &["--background", v.to_str().unwrap()]);
    fails_leaving_nothing("not a background", &o, &out, &[&v.display().to_string()]);
    // A malformed --exclude BED names its line; --random-snvs and --vcf exclude each other.
    let bed = vcf_with(d, "x.bed", "chr22\t0\t100\nchr22\tten\t200\n");
    let out = d.join("bg_bad.h5");
    let o = background20(&f.run, &out, &["--exclude", bed.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}: line 2", bed.display())),
        "{stderr}"
    );
    assert!(!out.exists(), "a background of a failed run");
    let o = background20(&f.run, &out, &["--vcf", vcf.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.exists());
    // The background's own output: a directory is refused before any work.
    let o = background20(&f.run, d, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is a directory"));
}

#[test]
fn output_directories_that_cannot_be_written_are_refused() {
    let (_, _g, dir) = common::start();
    let d = dir.path();
    let vcf = first_record_vcf(d);
    // -o is a file.
    let file = vcf_with(d, "a_file", "x");
    let o = variants(&vcf, &file, &[]);
    fails_leaving_nothing(
        "-o a file",
        &o,
        &file,
        &[&file.display().to_string(), "not a directory"],
    );
    // -o below a file: the directory cannot be created.
    let below = file.join("out");
    let o = variants(&vcf, &below, &[]);
    fails_leaving_nothing(
        "-o below a file",
        &o,
        &below,
        &[&below.display().to_string()],
    );
    // -o is the VCF itself.
    let o = variants(&vcf, &vcf, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(&vcf).unwrap().lines().count(),
        5,
        "the VCF is untouched"
    );
    // Usage errors exit 2 too.
    let out = d.join("chunk");
    let o = variants(&vcf, &out, &["--chunk", "4/3"]);
    assert_eq!(o.status.code(), Some(2));
    let o = variants(&vcf, &out, &["--batch-size", "0"]);
    fails_leaving_nothing("--batch-size 0", &o, &out, &["--batch-size"]);
}

/// SIGKILL at several points, over a fresh and over an older output: a summary.json is only
/// ever beside the whole outputs of its own run, and any final file present is whole.
#[test]
fn killed_runs_leave_nothing_that_looks_finished() {
    let (_, _g, dir) = common::start();
    let d = dir.path();
    let vcf = vcf_with(d, "kill.vcf", &oracle_copies(20));
    let whole = d.join("whole");
    let started = std::time::Instant::now();
    ok("variants", variants(&vcf, &whole, &[]));
    let t = started.elapsed();
    let scored = json(&whole.join("summary.json"))["scored"]
        .as_u64()
        .unwrap() as usize;
    let files = output_files("kill");
    let mtime = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
    for (i, frac) in [0.2, 0.5, 0.8, 1.2].into_iter().enumerate() {
        for older in [false, true] {
            let out = d.join(format!("k{i}{}", if older { "o" } else { "f" }));
            if older {
                ok("variants", variants(&vcf, &out, &[]));
            }
            let args = variants_args(&vcf, &out);
            let mut child = std::process::Command::new(common::bin("ferrosea-analyze"))
                .args(&args)
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(t.mul_f64(frac));
            let _ = child.kill();
            child.wait().unwrap();
            let summary = out.join("summary.json");
            if summary.exists() {
                for f in &files {
                    assert!(
                        mtime(&out.join(f)) <= mtime(&summary),
                        "{}: {f} is newer than summary.json",
                        out.display()
                    );
                }
            }
            if out.join("variants.h5").exists() {
                let r = ferrosea_dataset::ResultsReader::open(
                    &out.join("variants.h5"),
                    "ferrosea-variants",
                )
                .unwrap();
                assert_eq!(r.rows(), scored, "{}: a partial variants.h5", out.display());
            }
            for f in files
                .iter()
                .filter(|f| f.ends_with(".tsv") && *f != "skipped.tsv")
            {
                if let Ok(s) = std::fs::read_to_string(out.join(f)) {
                    assert_eq!(
                        s.lines().count(),
                        scored + 1,
                        "{}: a partial {f}",
                        out.display()
                    );
                }
            }
        }
    }
}
