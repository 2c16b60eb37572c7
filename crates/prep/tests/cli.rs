//! The `ferrosea-prep` binary: runs on the embedded demo data, byte-identical output at any
//! thread count, and a clear error (file, line, what was expected) for each kind of bad input,
//! with no output file left behind that looks finished.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ferrosea_testkit::{demo, root};

const DEMO_SPLITS: [&str; 4] = [
    "--valid",
    "chr22:26000001-26500000",
    "--test",
    "chr22:29000001-30000000",
];

fn prep(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrosea-prep"))
        .args(args)
        .arg("-q")
        .output()
        .unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A small valid input set in `dir`: a FASTA, two peak files, a manifest.
fn inputs(dir: &Path) -> (PathBuf, PathBuf) {
    let mut seq = String::new();
    for i in 0..6000 {
        seq.push(b"ACGTTGCA"[(i * 7 + i / 13) % 8] as char);
    }
    let fa = dir.join("g.fa");
    std::fs::write(
        &fa,
        format!(">chrA\n{}\n>chrB\n{}\n", &seq[..3000], &seq[3000..]),
    )
    .unwrap();
    std::fs::write(
        dir.join("a.narrowPeak"),
        "chrA\t1000\t1400\t.\t0\t.\t5\t-1\t3\t100\nchrB\t900\t1300\t.\t0\t.\t5\t-1\t3\t100\n",
    )
    .unwrap();
    std::fs::write(dir.join("b.bed"), "chrA\t1500\t1800\n").unwrap();
    let m = dir.join("targets.tsv");
    std::fs::write(
        &m,
        "name\tcategory\tpath\nA\tTF\ta.narrowPeak\nB\tHistone\tb.bed\n",
    )
    .unwrap();
    (fa, m)
}

/// Runs prep expecting failure; returns stderr and checks nothing looks finished.
fn fails(args: &[&str], out: &Path) -> String {
    let o = prep(args);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "expected exit 2, stderr: {err}");
    assert!(err.starts_with("ferrosea-prep: error: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    if out.exists() {
        for e in std::fs::read_dir(out).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            assert!(
                !name.ends_with(".h5") && !name.ends_with(".json") && !name.ends_with(".tmp"),
                "{name} left in {}",
                out.display()
            );
        }
    }
    err
}

fn small_args<'a>(fa: &'a Path, m: &'a Path, out: &'a Path) -> Vec<&'a str> {
    small_args_window(fa, m, out, "400")
}

fn small_args_window<'a>(
    fa: &'a Path,
    m: &'a Path,
    out: &'a Path,
    window: &'a str,
) -> Vec<&'a str> {
    vec![
        "--genome",
        path(fa),
        "--targets",
        path(m),
        "-o",
        path(out),
        "--test",
        "chrB",
        "--valid",
        "chrA:1-1200",
        "--window",
        window,
    ]
}

#[test]
fn demo_runs_and_is_identical_at_one_and_two_threads() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let genome = demo().join("hg19_chr22_26-30Mb.fa.gz");
    let targets = demo().join("targets.tsv");
    let mut files = Vec::new();
    for j in ["1", "2"] {
        let mut args = vec![
            "--genome",
            path(&genome),
            "--targets",
            path(&targets),
            "-o",
            path(&out),
            "-j",
            j,
            "--reverse-complement",
        ];
        args.extend(DEMO_SPLITS);
        let o = prep(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mut bytes = Vec::new();
        for f in ["train.h5", "valid.h5", "test.h5", "prep.json"] {
            bytes.push(std::fs::read(out.join(f)).unwrap());
        }
        files.push(bytes);
        std::fs::remove_dir_all(&out).unwrap();
    }
    assert!(files[0][0].len() > 100_000);
    for (i, f) in ["train.h5", "valid.h5", "test.h5", "prep.json"]
        .iter()
        .enumerate()
    {
        assert!(
            files[0][i] == files[1][i],
            "{f} differs between -j 1 and -j 2"
        );
    }
}

#[test]
fn small_genome_counts_and_keep_rules() {
    let dir = tempfile::tempdir().unwrap();
    let (fa, m) = inputs(dir.path());
    let out = dir.path().join("out");
    // Positive bins (>= 101 bp of a 200 bp bin): A on chrA 5, 6 and chrB 5; B on chrA 8.
    // TF-touched: A on chrA 5, 6 and chrB 4, 5, 6. All: 15 bins on each sequence.
    for (keep, rows) in [("positive", 4), ("tf-touch", 5), ("all", 15 + 15)] {
        let mut args = small_args(&fa, &m, &out);
        args.extend(["--keep", keep, "--max-n", "0"]);
        let o = prep(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("prep.json")).unwrap()).unwrap();
        let kept = report["bins"]["kept"].as_u64().unwrap()
            + report["bins"]["dropped_window_past_sequence_end"]
                .as_u64()
                .unwrap();
        assert_eq!(kept, rows, "--keep {keep}: {report:#}");
    }
    assert!(
        dir.path().join("g.fa.fai").exists(),
        "the .fai is built beside the FASTA"
    );
}

#[test]
fn bad_fasta() {
    let dir = tempfile::tempdir().unwrap();
    let (_, m) = inputs(dir.path());
    let out = dir.path().join("out");
    let missing = dir.path().join("missing.fa");
    let err = fails(&small_args(&missing, &m, &out), &out);
    assert!(
        err.contains("missing.fa") && err.contains("No such file"),
        "{err}"
    );
    let empty = dir.path().join("empty.fa");
    std::fs::write(&empty, "").unwrap();
    let err = fails(&small_args(&empty, &m, &out), &out);
    assert!(err.contains("empty.fa: no sequences"), "{err}");
    let dup = dir.path().join("dup.fa");
    std::fs::write(&dup, ">chrA\nACGT\n>chrB\nAC\n>chrA\nGG\n").unwrap();
    let err = fails(&small_args(&dup, &m, &out), &out);
    assert!(
        err.contains("dup.fa: duplicate sequence name 'chrA' (sequences 1 and 3)"),
        "{err}"
    );
    let notfa = dir.path().join("not.fa");
    std::fs::write(&notfa, "ACGT\n").unwrap();
    let err = fails(&small_args(&notfa, &m, &out), &out);
    assert!(err.contains("not a FASTA file"), "{err}");
}

#[test]
fn bad_peak_files() {
    let cases = [
        (
            "chrA\t10\t20\t.\t0\t.\t5\t-1\n",
            "a.narrowPeak:1: expected at least 10 tab-separated columns (narrowPeak), found 8",
        ),
        (
            "chrA\t10\t20\t.\t0\t.\t5\t-1\t3\t1\nchrA\t1O\t20\t.\t0\t.\t5\t-1\t3\t1\n",
            "a.narrowPeak:2: invalid start '1O': expected a non-negative integer",
        ),
        (
            "chrA\t30\t20\t.\t0\t.\t5\t-1\t3\t1\n",
            "a.narrowPeak:1: start 30 is greater than end 20",
        ),
        (
            "chrA\t-5\t20\t.\t0\t.\t5\t-1\t3\t1\n",
            "a.narrowPeak:1: invalid start '-5'",
        ),
        (
            "chrA\t5\t2.5e3\t.\t0\t.\t5\t-1\t3\t1\n",
            "a.narrowPeak:1: invalid end '2.5e3'",
        ),
        (
            "",
            "a.narrowPeak: no peaks in file (expected narrowPeak records)",
        ),
    ];
    expect_errors("a.narrowPeak", &cases);
}

/// For each case: the small inputs with `file` replaced by the case's text must fail with a
/// message containing the case's expectation.
fn expect_errors(file: &str, cases: &[(&str, &str)]) {
    for (text, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let (fa, m) = inputs(dir.path());
        std::fs::write(dir.path().join(file), text).unwrap();
        let out = dir.path().join("out");
        let err = fails(&small_args(&fa, &m, &out), &out);
        assert!(err.contains(want), "want {want:?}\ngot {err}");
    }
}

#[test]
fn bad_manifests() {
    let cases = [
        (
            "name\tpath\nA\ta.narrowPeak\n",
            "targets.tsv:1: missing column 'category' (header has: name, path)",
        ),
        (
            "name\tcategory\tpath\nA\tTF\tnope.bed\n",
            "targets.tsv:2: peak file 'nope.bed' of target 'A' not found",
        ),
        (
            "name\tcategory\tpath\nA\tTF\ta.narrowPeak\nA\tTF\tb.bed\n",
            "targets.tsv:3: duplicate target name 'A' (first on line 2)",
        ),
    ];
    expect_errors("targets.tsv", &cases);
}

#[test]
fn bad_options_against_the_genome() {
    let dir = tempfile::tempdir().unwrap();
    let (fa, m) = inputs(dir.path());
    let out = dir.path().join("out");
    // DeepSEA's default splits name chr7, chr8, chr9: not in this genome
    let err = fails(
        &[
            "--genome",
            path(&fa),
            "--targets",
            path(&m),
            "-o",
            path(&out),
        ],
        &out,
    );
    assert!(
        err.contains("--test names sequence 'chr8', which is not in") && err.contains("chrA, chrB"),
        "{err}"
    );
    let err = fails(&small_args_window(&fa, &m, &out, "5000"), &out);
    assert!(
        err.contains("--window 5000 is longer than every sequence") && err.contains("has 3000 bp)"),
        "{err}"
    );
    // peaks on no sequence of the genome
    std::fs::write(dir.path().join("b.bed"), "chr22\t1\t500\n").unwrap();
    let err = fails(&small_args(&fa, &m, &out), &out);
    assert!(
        err.contains("no peaks on any sequence of the genome, first 'B'")
            && err.contains("--allow-empty-targets"),
        "{err}"
    );
    let mut args = small_args(&fa, &m, &out);
    args.push("--allow-empty-targets");
    assert!(prep(&args).status.success());
    let mut args = small_args(&fa, &m, &out);
    args.extend(["--min-overlap", "300"]);
    let err = fails(&args, &dir.path().join("none"));
    assert!(
        err.contains("--min-overlap 300 must lie in 1..=200"),
        "{err}"
    );
}

#[test]
fn unwritable_output() {
    let dir = tempfile::tempdir().unwrap();
    let (fa, m) = inputs(dir.path());
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "").unwrap();
    let out = blocker.join("out");
    let err = fails(&small_args(&fa, &m, &out), &out);
    assert!(
        err.contains("a-file/out: cannot create the output directory"),
        "{err}"
    );
}

/// A full disk, simulated with a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored) so that
/// writes fail with an error as they would on a full disk: the temporary files must go.
#[test]
fn disk_full_while_writing() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let genome = demo().join("hg19_chr22_26-30Mb.fa.gz");
    let targets = demo().join("targets.tsv");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrosea-prep"));
    cmd.args([
        "--genome",
        path(&genome),
        "--targets",
        path(&targets),
        "-o",
        path(&out),
        "-q",
    ])
    .args(DEMO_SPLITS);
    unsafe {
        // SAFETY: only async-signal-safe calls between fork and exec.
        cmd.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: 200_000,
                rlim_max: 200_000,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("train.h5") && err.contains("disk full"),
        "{err}"
    );
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_copied_index_of_another_fasta_is_named_stale_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let (fa, m) = inputs(dir.path());
    let out = dir.path().join("out");
    // The index of another genome, whose first sequence is longer, beside this one.
    std::fs::write(
        dir.path().join("g.fa.fai"),
        "chrA\t9000\t6\t9000\t9001\nchrB\t3000\t9013\t3000\t3001\n",
    )
    .unwrap();
    let err = fails(&small_args(&fa, &m, &out), &out);
    assert!(
        err.contains("g.fa.fai is stale") && err.contains("9000 bp"),
        "{err}"
    );
    // The same with a bgzip FASTA (whose index is never rebuilt by prep).
    let gz = dir.path().join("g.fa.gz");
    let text = std::fs::read(&fa).unwrap();
    let mut w = noodles_bgzf::io::Writer::new(std::fs::File::create(&gz).unwrap());
    std::io::Write::write_all(&mut w, &text).unwrap();
    w.finish().unwrap();
    std::fs::write(
        dir.path().join("g.fa.gz.fai"),
        "chrZ\t3000\t6\t3000\t3001\nchrB\t3000\t3013\t3000\t3001\n",
    )
    .unwrap();
    let err = fails(&small_args(&gz, &m, &out), &out);
    assert!(
        err.contains("g.fa.gz.fai is stale") && err.contains("'chrZ'"),
        "{err}"
    );
}

#[test]
fn huge_fields_are_clipped_in_messages() {
    let dir = tempfile::tempdir().unwrap();
    let (fa, m) = inputs(dir.path());
    let out = dir.path().join("out");
    let huge = "9x".repeat(2_500_000);
    std::fs::write(dir.path().join("b.bed"), format!("chrA\t{huge}\t1800\n")).unwrap();
    let err = fails(&small_args(&fa, &m, &out), &out);
    assert!(
        err.contains("b.bed:1") && err.contains("bytes in all"),
        "{err}"
    );
    assert!(err.len() < 1000, "a {} byte error line", err.len());
    // A sequence name of megabytes, absent from the genome: a warning, clipped too.
    std::fs::write(
        dir.path().join("b.bed"),
        format!("chrA\t1500\t1800\n{huge}\t1\t2\n"),
    )
    .unwrap();
    let o = prep(&small_args(&fa, &m, &dir.path().join("ok")));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{}", &err[..err.len().min(300)]);
    assert!(
        err.contains("sequences not in the genome") && err.len() < 1000,
        "{}",
        &err[..err.len().min(300)]
    );
    std::fs::write(&m, format!("name\tcategory\tpath\n{huge}\tTF\tnone.bed\n")).unwrap();
    let err = fails(&small_args(&fa, &m, &out), &out);
    assert!(
        err.contains("targets.tsv:2") && err.len() < 1000,
        "{}",
        &err[..err.len().min(300)]
    );
}

#[test]
fn outputs_never_overwrite_inputs_and_odd_paths_do_not_panic() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let (fa, m) = inputs(dir.path());
    // The manifest named train.h5 in the output directory.
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let manifest = out.join("train.h5");
    std::fs::copy(&m, &manifest).unwrap();
    let err = fails(
        &small_args(&fa, &manifest, &out),
        dir.path().join("none").as_path(),
    );
    assert!(err.contains("is the input --targets"), "{err}");
    assert!(std::fs::read_to_string(&manifest)
        .unwrap()
        .starts_with("name\t"));
    // A non-UTF-8 output directory: no panic, but a clear error (HDF5 takes UTF-8 file names
    // only) naming the path, and nothing left that looks finished.
    let odd = dir.path().join(std::ffi::OsStr::from_bytes(b"o\xffut"));
    let o = Command::new(env!("CARGO_BIN_EXE_ferrosea-prep"))
        .arg("--genome")
        .arg(&fa)
        .arg("--targets")
        .arg(&m)
        .arg("-o")
        .arg(&odd)
        .args([
            "--test",
            "chrB",
            "--valid",
            "chrA:1-1200",
            "--window",
            "400",
            "-q",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("Invalid UTF-8 in file name") && err.contains("train.h5"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let left: Vec<_> = std::fs::read_dir(&odd)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn simulate_refuses_duplicate_ids_and_fractions_outside_0_1() {
    let dir = tempfile::tempdir().unwrap();
    let motifs = root().join("data/motifs/JASPAR2024_CORE_vertebrates_latest.meme.gz");
    let out = dir.path().join("sim");
    let run = |extra: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_ferrosea-prep"))
            .args(["simulate", "--motifs", path(&motifs), "-o", path(&out)])
            .args(extra)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        err
    };
    let err = run(&["--ids", "MA0139.2,MA0139.2"]);
    assert!(err.contains("--ids names MA0139.2 twice"), "{err}");
    let err = run(&["--ids", "MA0139.2", "--missed", "2"]);
    assert!(err.contains("--missed 2: a fraction"), "{err}");
    let err = run(&["--ids", "MA0139.2", "--noise=-0.5"]);
    assert!(err.contains("--noise -0.5"), "{err}");
    assert!(!out.join("config.yaml").exists());
}
