//! `ferrosea-analyze regions` end to end on the demo genome with the fixture checkpoint.

mod common;

use std::path::Path;

use common::{bases, fails, json, ok, same_bytes, write, write_gzip, Fixture};
use ferrosea_dataset::ResultsReader;

const WINDOW: u64 = 1000;
const FAI: &str = "data/demo/hg19_chr22_26-30Mb.fa.gz.fai";

fn fasta(path: &Path, records: &[(String, Vec<u8>)]) {
    let mut text = String::new();
    for (name, seq) in records {
        text.push_str(&format!(">{name}\n{}\n", String::from_utf8_lossy(seq)));
    }
    write(path, &text);
}

fn revcomp(s: &[u8]) -> Vec<u8> {
    ferrosea_genome::onehot::reverse_complement_seq(s)
}

/// `regions` of two tiles with three bigWig and bedGraph tracks, which must succeed.
fn tile(f: &Fixture, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "regions",
        "-q",
        "--tile",
        "chr22:28000001-28100000,chr22:27000001-27150000",
        "--bigwig",
        "GM12878|SPI1,K562|ATF3,H1-hESC|CTCF",
        "--bedgraph",
    ];
    args.extend_from_slice(extra);
    ok(
        "regions --tile",
        f.analyze(&args, &[("--genome", &common::genome())], out),
    );
}

/// The bigWig tracks, read back with pyBigWig, hold regions.h5's probabilities bin for bin
/// and bit for bit (tests/python/check_tracks.py), at the documented bins; with another
/// step too.
#[test]
fn tracks_read_back_with_pybigwig_equal_regions_h5() {
    let (f, _g, dir) = common::start();
    for step in ["200", "333"] {
        let out = dir.path().join(format!("step{step}"));
        tile(f, &out, &["--step", step]);
        common::python_script(
            "check_tracks.py",
            &[
                out.clone().into_os_string(),
                common::root().join(FAI).into(),
                step.into(),
                "1000".into(),
                "--bedgraph".into(),
            ],
        );
        let summary = json(&out.join("summary.json"));
        assert_eq!(summary["tracks"].as_array().unwrap().len(), 3);
        assert!(out.join("GM12878_SPI1.bw").exists() && out.join("K562_ATF3.bedGraph").exists());
        // Tiles come in chromosome-name, then position order, whatever the order given.
        let r = ResultsReader::open(&out.join("regions.h5"), "ferrosea-regions").unwrap();
        let starts = r.ints("start", 0..r.rows()).unwrap();
        assert!(starts.windows(2).all(|w| w[0] < w[1]));
        assert!(starts[0] >= 27_000_000 - 500 && *starts.last().unwrap() < 28_100_000);
    }
}

/// A tile's prediction is that of the same window given as FASTA or as a BED interval; the
/// TSV carries the HDF5's values; --rc-average gives a sequence and its reverse complement
/// the same prediction.
#[test]
fn bed_fasta_and_tiles_agree() {
    let (f, _g, dir) = common::start();
    let d = dir.path();
    let genome = common::genome();
    let tiles = d.join("tiles");
    ok(
        "regions --tile",
        f.analyze(
            &[
                "regions",
                "-q",
                "--tile",
                "chr22:27000001-27010000",
                "--step",
                "500",
            ],
            &[("--genome", &genome)],
            &tiles,
        ),
    );
    let t = ResultsReader::open(&tiles.join("regions.h5"), "ferrosea-regions").unwrap();
    let n = t.rows();
    assert!(n > 5);
    let (ts, tpred) = (
        t.ints("start", 0..n).unwrap(),
        t.array("pred", 0..n).unwrap(),
    );
    // BED intervals whose centred window is each tile's window (centre s + 500).
    let bed = d.join("r.bed");
    let text: String = ts
        .iter()
        .enumerate()
        .map(|(i, s)| format!("chr22\t{}\t{}\ttile{i}\t0\t+\n", s + 400, s + 600))
        .collect();
    write(&bed, &format!("track name=x\n{text}"));
    let from_bed = d.join("bed");
    ok(
        "regions",
        f.analyze(
            &["regions", "-q"],
            &[("--genome", &genome), ("--regions", &bed)],
            &from_bed,
        ),
    );
    let b = ResultsReader::open(&from_bed.join("regions.h5"), "ferrosea-regions").unwrap();
    assert_eq!(b.array("pred", 0..n).unwrap(), tpred);
    assert_eq!(b.strings("name", 0..2).unwrap(), ["tile0", "tile1"]);
    assert_eq!(b.ints("start", 0..1).unwrap(), [ts[0] + 400]);
    // The TSV holds the same rows and values.
    let tsv = std::fs::read_to_string(from_bed.join("regions.tsv")).unwrap();
    let lines: Vec<&str> = tsv.lines().collect();
    assert_eq!(lines.len(), n + 1);
    assert!(lines[0].starts_with("chrom\tstart\tend\tname\tIMR-90|CEBPB\t"));
    for (i, line) in lines[1..].iter().enumerate() {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols[3], format!("tile{i}"));
        let v: Vec<f32> = cols[4..].iter().map(|c| c.parse().unwrap()).collect();
        assert_eq!(v, tpred[i * 29..(i + 1) * 29]);
    }
    // FASTA records of the same windows, and of their reverse complements.
    let seqs: Vec<Vec<u8>> = ts
        .iter()
        .map(|&s| bases(s as u64, s as u64 + WINDOW))
        .collect();
    let fwd = d.join("fwd.fa");
    let rev = d.join("rev.fa");
    fasta(
        &fwd,
        &seqs
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("w{i}"), s.clone()))
            .collect::<Vec<_>>(),
    );
    fasta(
        &rev,
        &seqs
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("w{i}"), revcomp(s)))
            .collect::<Vec<_>>(),
    );
    let run = |fa: &Path, out: &Path, rc: bool| {
        let mut args = vec!["regions", "-q"];
        if rc {
            args.push("--rc-average");
        }
        ok("regions", f.analyze(&args, &[("--fasta", fa)], out));
        ResultsReader::open(&out.join("regions.h5"), "ferrosea-regions")
            .unwrap()
            .array("pred", 0..n)
            .unwrap()
    };
    assert_eq!(run(&fwd, &d.join("fwd"), false), tpred);
    let (a, r) = (
        run(&fwd, &d.join("fwd_rc"), true),
        run(&rev, &d.join("rev_rc"), true),
    );
    assert_eq!(
        a, r,
        "rc-average of a sequence and of its reverse complement"
    );
    assert_ne!(a, tpred);
    let fr = ResultsReader::open(&d.join("fwd/regions.h5"), "ferrosea-regions").unwrap();
    assert_eq!(fr.strings("chrom", 0..1).unwrap(), ["w0"]);
    assert_eq!(
        (
            fr.ints("start", 0..1).unwrap()[0],
            fr.ints("end", 0..1).unwrap()[0]
        ),
        (0, 1000)
    );
}

/// Same bytes (regions.h5, regions.tsv, every bigWig and bedGraph) whatever -j and
/// --batch-size; bigtools runs on a current-thread runtime for this. Two pairs: 5 and 1500
/// (passes of 128 windows, the fewest `eval_logits` runs, against passes of 1536 and blocks
/// of 1500), and 64 and 128. Passes of 64 windows used to differ from passes of 128 in the
/// last bit of some logits (1.8e-7 at most: the `gemm` crate blocks products of at most 64 x
/// 64 differently), which is why every pass now has at least 128 rows.
#[test]
fn regions_bytes_do_not_depend_on_threads_or_batch_size() {
    let (f, _g, dir) = common::start();
    for (a, b) in [(("1", "5"), ("2", "1500")), (("2", "64"), ("1", "128"))] {
        let (da, db) = (
            dir.path().join(format!("j{}b{}", a.0, a.1)),
            dir.path().join(format!("j{}b{}", b.0, b.1)),
        );
        tile(f, &da, &["-j", a.0, "--batch-size", a.1]);
        tile(f, &db, &["-j", b.0, "--batch-size", b.1]);
        let mut names: Vec<String> = std::fs::read_dir(&da)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n != "summary.json")
            .collect();
        names.sort();
        assert_eq!(names.len(), 2 + 3 * 2, "{names:?}");
        // The directories are named after -j and --batch-size.
        same_bytes(&da, &db, &names);
    }
}

/// Bad input: exit 2 with a message naming the file (and line) and what was expected.
#[test]
fn regions_bad_inputs_are_clear_errors() {
    let (f, _g, dir) = common::start();
    let d = dir.path();
    let out = d.join("out");
    let genome = common::genome();
    let run = |args: &[&str], paths: &[(&str, &Path)]| {
        let mut a = vec!["regions", "-q"];
        a.extend_from_slice(args);
        f.analyze(&a, paths, &out)
    };
    let bed = d.join("r.bed.gz");
    write_gzip(
        &bed,
        "chr22\t27000000\t27000100\ta\nchr22\t51300000\t51400000\tb\n",
    );
    fails(
        &run(&[], &[("--genome", &genome), ("--regions", &bed)]),
        &[
            "r.bed.gz: line 2",
            "runs past the end of chr22",
            "expected end <= 51304566",
        ],
    );
    assert!(!out.join("regions.h5").exists() && !out.join("summary.json").exists());
    write_gzip(&bed, "browser x\nchrUn\t1\t2\n");
    fails(
        &run(&[], &[("--genome", &genome), ("--regions", &bed)]),
        &["r.bed.gz: line 2", "chromosome 'chrUn' is not in"],
    );
    // A gzip BED that reads fine works, and a window off the chromosome's start is padded.
    write_gzip(&bed, "chr22\t10\t20\tnear_start\n");
    ok(
        "regions",
        run(&[], &[("--genome", &genome), ("--regions", &bed)]),
    );
    let r = ResultsReader::open(&out.join("regions.h5"), "ferrosea-regions").unwrap();
    assert_eq!(r.ints("padded", 0..1).unwrap(), [485]);
    drop(r);
    let fa = d.join("s.fa");
    fasta(&fa, &[("w".into(), bases(27_000_000, 27_000_999))]);
    fails(
        &run(&[], &[("--fasta", &fa)]),
        &["s.fa: line 1", "'w' has 999 bases", "--center"],
    );
    let o = ok("regions --center", run(&["--center"], &[("--fasta", &fa)]));
    assert!(String::from_utf8_lossy(&o.stderr).contains("padded with N on both sides"));
    let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
    assert!(
        summary.contains("padded with N on both sides (--center)"),
        "{summary}"
    );
    fails(
        &run(
            &[
                "--tile",
                "chr22:27000001-27010000",
                "--bigwig",
                "K562|ATF3,nope",
            ],
            &[("--genome", &genome)],
        ),
        &["--bigwig: 'nope' is not a target"],
    );
    fails(
        &run(&["--bigwig", "all"], &[("--fasta", &fa)]),
        &["need --tile"],
    );
    fails(
        &run(
            &["--tile", "chr22:51304000-51305000"],
            &[("--genome", &genome)],
        ),
        &[
            "--tile chr22:51304000-51305000",
            "runs past the end of chr22",
        ],
    );
    fails(
        &run(&["--tile", "chr2"], &[("--genome", &genome)]),
        &["chromosome 'chr2' is not in"],
    );
    fails(
        &run(
            &["--tile", "chr22:27000001-27010000,chr22:27005001-27020000"],
            &[("--genome", &genome)],
        ),
        &["overlap"],
    );
    fails(
        &run(&["--tile", "chr22:1-100000"], &[("--genome", &genome)]),
        &["no window of 1000 bp fits"],
    );
    fails(
        &run(
            &["--tile", "chr22", "--step", "0"],
            &[("--genome", &genome)],
        ),
        &["--step must be at least 1"],
    );
    let plain_gz = d.join("g.fa.gz");
    write_gzip(&plain_gz, ">chr22\nACGTACGT\n");
    fails(
        &run(&["--tile", "chr22"], &[("--genome", &plain_gz)]),
        &["g.fa.gz", "bgzip"],
    );
    let file_out = d.join("a_file");
    write(&file_out, "x");
    let o = f.analyze(&["regions", "-q"], &[("--fasta", &fa)], &file_out);
    fails(&o, &["a_file: exists and is not a directory"]);
}
