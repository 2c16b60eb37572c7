//! `ferrosea-analyze ism` end to end on the demo genome with the fixture checkpoint.

mod common;

use std::path::{Path, PathBuf};

use common::{bases, fails, ok, write, write_gzip};
use ferrosea_dataset::ResultsReader;

const WINDOW: usize = 1000;

/// Positions (0-based) on chr22 whose 1 kb window is all A, C, G, T.
fn clean_positions(n: usize) -> Vec<u64> {
    let mut out = Vec::new();
    let mut p = 27_000_000u64;
    while out.len() < n {
        let w = bases(p - 500, p + 500);
        if w.iter().all(|b| b"ACGT".contains(b)) {
            out.push(p);
        }
        p += 137_731;
    }
    out
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// ism at the centre of a one-base BED interval is `variants` on the same SNVs: the same
/// window, the same network. ism's reference logits and effects give back variants'
/// float32 probabilities (through a sigmoid in f64: |error| < 1e-6, the float32 rounding of
/// a probability plus that of `ref + effect`), and its effects variants' logit_diff, which
/// is computed from those float32 probabilities (a probability p carries a relative rounding
/// error of 2^-24, which moves logit(p) by up to 2^-24 / (1 - p): below 1e-5 for p < 0.99;
/// 1e-4 leaves room).
#[test]
fn ism_centre_equals_variants_on_the_same_snvs() {
    let (f, _g, dir) = common::start();
    let positions = clean_positions(3);
    let mut bed = String::new();
    let mut vcf =
        String::from("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n");
    for (i, &p) in positions.iter().enumerate() {
        bed.push_str(&format!("chr22\t{p}\t{}\tsite{i}\n", p + 1));
        let r = bases(p, p + 1)[0];
        let alts: Vec<String> = "ACGT"
            .chars()
            .filter(|&c| c as u8 != r)
            .map(String::from)
            .collect();
        vcf.push_str(&format!(
            "chr22\t{}\tsite{i}\t{}\t{}\t.\tPASS\t.\n",
            p + 1,
            r as char,
            alts.join(",")
        ));
    }
    let (bed_path, vcf_path) = (dir.path().join("sites.bed"), dir.path().join("sites.vcf"));
    write(&bed_path, &bed);
    write(&vcf_path, &vcf);
    let genome = common::genome();
    let ism_h5 = dir.path().join("ism.h5");
    ok(
        "ism",
        f.analyze(
            &["ism", "-q"],
            &[("--genome", &genome), ("--regions", &bed_path)],
            &ism_h5,
        ),
    );
    let var_dir = dir.path().join("variants");
    ok(
        "variants",
        f.analyze(
            &["variants", "-q"],
            &[("--genome", &genome), ("--vcf", &vcf_path)],
            &var_dir,
        ),
    );
    let ism = ResultsReader::open(&ism_h5, "ferrosea-ism").unwrap();
    let var = ResultsReader::open(&var_dir.join("variants.h5"), "ferrosea-variants").unwrap();
    let t = 29;
    assert_eq!(ism.rows(), 3);
    assert_eq!(ism.array_shape("effect").unwrap(), vec![3, WINDOW, 4, t]);
    assert_eq!(ism.targets().unwrap(), var.targets().unwrap());
    assert_eq!(var.rows(), 9);
    let effect = ism.array("effect", 0..3).unwrap();
    let reference = ism.array("reference", 0..3).unwrap();
    let seqs = ism.strings("sequence", 0..3).unwrap();
    let starts = ism.ints("start", 0..3).unwrap();
    let (pos, alt) = (
        var.ints("pos", 0..9).unwrap(),
        var.strings("alt", 0..9).unwrap(),
    );
    let (pr, pa, ld) = (
        var.array("ref", 0..9).unwrap(),
        var.array("alt", 0..9).unwrap(),
        var.array("logit_diff", 0..9).unwrap(),
    );
    let h = WINDOW / 2;
    let (mut worst_p, mut worst_ld) = (0f64, 0f64);
    for v in 0..9 {
        let row = starts.iter().position(|&s| s == pos[v] - 1).unwrap();
        let b = "ACGT".find(&alt[v]).unwrap();
        let r = "ACGT".find(seqs[row].as_bytes()[h] as char).unwrap();
        for j in 0..t {
            let e = effect[((row * WINDOW + h) * 4 + b) * t + j] as f64;
            let lr = reference[row * t + j] as f64;
            assert_eq!(effect[((row * WINDOW + h) * 4 + r) * t + j], 0.0);
            worst_p = worst_p
                .max((sigmoid(lr) - pr[v * t + j] as f64).abs())
                .max((sigmoid(lr + e) - pa[v * t + j] as f64).abs());
            worst_ld = worst_ld.max((e - ld[v * t + j] as f64).abs());
        }
    }
    eprintln!("ism vs variants: probabilities within {worst_p:e}, logit_diff within {worst_ld:e}");
    assert!(worst_p < 1e-6, "probabilities differ by {worst_p}");
    assert!(worst_ld < 1e-4, "logit differences differ by {worst_ld}");
    // Every reference base has effect 0 on every target; substitutions are not all 0.
    for row in 0..3 {
        for i in 0..WINDOW {
            let r = "ACGT".find(seqs[row].as_bytes()[i] as char).unwrap();
            for j in 0..t {
                assert_eq!(effect[((row * WINDOW + i) * 4 + r) * t + j], 0.0);
            }
        }
    }
    assert!(effect.iter().any(|&e| e != 0.0));
}

fn fasta_of(dir: &Path, records: &[(&str, Vec<u8>)]) -> PathBuf {
    let mut text = String::new();
    for (name, seq) in records {
        text.push_str(&format!(">{name} some description\n"));
        for line in seq.chunks(60) {
            text.push_str(std::str::from_utf8(line).unwrap());
            text.push('\n');
        }
    }
    let p = dir.join("seqs.fa");
    write(&p, &text);
    p
}

/// The same bytes whatever the threads and the batch size; --targets keeps the named
/// targets' columns of the full run; --plot draws an SVG and a PNG per sequence and target.
#[test]
fn ism_bytes_do_not_depend_on_threads_or_batch_size() {
    let (f, _g, dir) = common::start();
    let p = clean_positions(2);
    let fa = fasta_of(
        dir.path(),
        &[
            ("one", bases(p[0] - 500, p[0] + 500)),
            ("two", bases(p[1] - 500, p[1] + 500)),
        ],
    );
    let run = |j: &str, batch: &str, out: &Path, extra: &[&str]| {
        let mut args = vec!["ism", "-q", "-j", j, "--batch-size", batch];
        args.extend_from_slice(extra);
        ok("ism", f.analyze(&args, &[("--fasta", &fa)], out))
    };
    let (a, b) = (dir.path().join("a.h5"), dir.path().join("b.h5"));
    run("1", "7", &a, &[]);
    run("2", "64", &b, &[]);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let plots = dir.path().join("plots");
    let c = dir.path().join("c.h5");
    let plot_flag = plots.to_str().unwrap();
    run(
        "2",
        "32",
        &c,
        &["--targets", "K562|ATF3,GM12878|SPI1", "--plot", plot_flag],
    );
    let full = ResultsReader::open(&a, "ferrosea-ism").unwrap();
    let some = ResultsReader::open(&c, "ferrosea-ism").unwrap();
    let names = full.targets().unwrap();
    assert_eq!(some.targets().unwrap(), ["K562|ATF3", "GM12878|SPI1"]);
    assert_eq!(some.strings("name", 0..2).unwrap(), ["one", "two"]);
    let cols: Vec<usize> = ["K562|ATF3", "GM12878|SPI1"]
        .iter()
        .map(|n| names.iter().position(|m| m == n).unwrap())
        .collect();
    let (ef, es) = (
        full.array("effect", 0..2).unwrap(),
        some.array("effect", 0..2).unwrap(),
    );
    for cell in 0..2 * WINDOW * 4 {
        for (k, &j) in cols.iter().enumerate() {
            assert_eq!(es[cell * 2 + k], ef[cell * 29 + j]);
        }
    }
    for stem in [
        "0_one_K562_ATF3",
        "0_one_GM12878_SPI1",
        "1_two_K562_ATF3",
        "1_two_GM12878_SPI1",
    ] {
        let svg = std::fs::read_to_string(plots.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"), "{stem}.svg");
        let png = std::fs::read(plots.join(format!("{stem}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{stem}.png");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&plots)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Bad input: exit 2 with a message naming the file (and line) and what was expected.
#[test]
fn ism_bad_inputs_are_clear_errors() {
    let (f, _g, dir) = common::start();
    let d = dir.path();
    let out = d.join("ism.h5");
    let genome = common::genome();
    let short = fasta_of(
        d,
        &[
            ("ok", bases(27_000_000, 27_001_000)),
            ("short", bases(27_000_000, 27_000_900)),
        ],
    );
    // `ism -q` of a BED on a genome into `out`.
    let on_regions = |genome: &Path, bed: &Path| {
        f.analyze(
            &["ism", "-q"],
            &[("--genome", genome), ("--regions", bed)],
            &out,
        )
    };
    let o = f.analyze(&["ism", "-q"], &[("--fasta", &short)], &out);
    fails(
        &o,
        &["seqs.fa", "line 19", "'short' has 900 bases", "--center"],
    );
    assert!(!out.exists() && !ferrosea_dataset::tmp_path(&out).exists());
    // With --center the short record is padded, and the run says so.
    let o = ok(
        "ism --center",
        f.analyze(&["ism", "--center"], &[("--fasta", &short)], &out),
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("padded with N"));
    let r = ResultsReader::open(&out, "ferrosea-ism").unwrap();
    assert_eq!(r.ints("padded", 0..2).unwrap(), [0, 100]);
    assert!(r.strings("sequence", 1..2).unwrap()[0].starts_with(&"N".repeat(50)));
    drop(r);
    let o = f.analyze(
        &["ism", "-q", "--center", "--targets", "K562|ATF3,nope"],
        &[("--fasta", &short)],
        &out,
    );
    fails(&o, &["'nope' is not a target"]);
    let bed = d.join("r.bed");
    write(
        &bed,
        "chr22\t100\t200\tfine\nchr22\t51304000\t51304567\tpast\n",
    );
    fails(
        &on_regions(&genome, &bed),
        &["r.bed: line 2", "runs past the end of chr22", "51304566"],
    );
    write(&bed, "# header\n22\t100\t200\n");
    fails(
        &on_regions(&genome, &bed),
        &["r.bed: line 2", "chromosome '22' is not in", "chr22"],
    );
    write(&bed, "chr22\t100\n");
    fails(&on_regions(&genome, &bed), &["r.bed: line 1", "at least 3"]);
    // A plain-gzip genome cannot be read at random.
    let gz = d.join("g.fa.gz");
    let seq = String::from_utf8(bases(27_000_000, 27_002_000)).unwrap();
    write_gzip(&gz, &format!(">chr22\n{seq}\n"));
    write(&bed, "chr22\t1000\t1001\n");
    fails(&on_regions(&gz, &bed), &["g.fa.gz", "bgzip"]);
    // Outputs that cannot be written: a directory, a path under a file.
    let o = f.analyze(&["ism", "-q"], &[("--fasta", &short)], d);
    fails(&o, &["is a directory"]);
    let o = f.analyze(&["ism", "-q"], &[("--fasta", &short)], &bed.join("x.h5"));
    fails(&o, &["cannot write"]);
    let o = f.analyze(&["ism", "-q"], &[], &out);
    fails(&o, &["--fasta", "--genome"]);
}
