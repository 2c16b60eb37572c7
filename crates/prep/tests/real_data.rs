//! Prep on the real chr22 and real ENCODE peak files, checked against an independent
//! recomputation: a naive FASTA parse, per-base coverage bitmaps of each target's peaks, and
//! a per-bin count of covered bases. Nothing here shares code with the prep crate.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use ferrosea_dataset::Reader;

fn shared() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    assert!(
        p.is_dir(),
        "this test reads the real data in ../shared/data beside the checkout ({})",
        p.display()
    );
    p
}

fn gunzip(path: &Path) -> String {
    let mut s = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut s)
        .unwrap();
    s
}

/// Per-base coverage of chr22 by one peak file: overlapping peaks count once by construction.
fn coverage(path: &Path, len: usize) -> Vec<bool> {
    let mut cov = vec![false; len];
    for line in gunzip(path).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f[0] != "chr22" {
            continue;
        }
        let (s, e): (usize, usize) = (f[1].parse().unwrap(), f[2].parse().unwrap());
        cov[s..e.min(len)].iter_mut().for_each(|c| *c = true);
    }
    cov
}

fn onehot(seq: &[u8]) -> Vec<u8> {
    seq.iter()
        .flat_map(|b| match b.to_ascii_uppercase() {
            b'A' => [1, 0, 0, 0],
            b'C' => [0, 1, 0, 0],
            b'G' => [0, 0, 1, 0],
            b'T' => [0, 0, 0, 1],
            _ => [0, 0, 0, 0],
        })
        .collect()
}

fn revcomp(seq: &[u8]) -> Vec<u8> {
    seq.iter()
        .rev()
        .map(|b| match b.to_ascii_uppercase() {
            b'A' => b'T',
            b'C' => b'G',
            b'G' => b'C',
            b'T' => b'A',
            _ => b'N',
        })
        .collect()
}

#[test]
fn chr22_windows_and_labels_match_an_independent_recomputation() {
    let data = shared();
    let fasta = data.join("genome/hg19_chr22_partial.fa.gz");
    let peaks = data.join("peaks");
    let files = [
        (
            "A549|CTCF",
            "TF",
            "encode_dream_tf_hg19/ChIPseq.A549.CTCF.conservative.train.narrowPeak.gz",
        ),
        (
            "GM12878|YY1",
            "TF",
            "encode_dream_tf_hg19/ChIPseq.GM12878.YY1.conservative.train.narrowPeak.gz",
        ),
        (
            "H1-hESC|MAX",
            "TF",
            "encode_dream_tf_hg19/ChIPseq.H1-hESC.MAX.conservative.train.narrowPeak.gz",
        ),
        (
            "HepG2|FOXA1",
            "TF",
            "encode_dream_tf_hg19/ChIPseq.HepG2.FOXA1.conservative.train.narrowPeak.gz",
        ),
        (
            "A549|DNase",
            "DNase",
            "dnase_hg19/DNASE.A549.conservative.narrowPeak.gz",
        ),
        (
            "NeuN|H3K27ac",
            "Histone",
            "brain_histone_atac_bed3_hg19/H3K27ac__NeuN_optimal_peak.H3K27.bed.gz",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("targets.tsv");
    let mut text = String::from("name\tcategory\tpath\n");
    for (n, c, p) in files {
        text += &format!("{n}\t{c}\t{}\n", peaks.join(p).display());
    }
    std::fs::write(&manifest, text).unwrap();
    let out = dir.path().join("out");
    let opts = ferrosea_prep::Options {
        genome: fasta.clone(), // plain gzip: read front to back
        targets: manifest,
        out: out.clone(),
        threads: 2,
        test: ferrosea_genome::Region::parse_list("chr22:30000001-35000000").unwrap(),
        valid: ferrosea_genome::Region::parse_list("chr22:20000001-21000000").unwrap(),
        reverse_complement: true,
        ..Default::default()
    };
    let report = ferrosea_prep::run(&opts).unwrap();

    // The independent recomputation.
    let text = gunzip(&fasta);
    let seq: Vec<u8> = text.lines().skip(1).flat_map(|l| l.bytes()).collect();
    assert_eq!(seq.len(), 51_304_566);
    let covs: Vec<Vec<bool>> = files
        .iter()
        .map(|(_, _, p)| coverage(&peaks.join(p), seq.len()))
        .collect();
    // split -> start -> labels
    let mut expected: BTreeMap<&str, BTreeMap<i64, Vec<u8>>> = BTreeMap::new();
    let (mut past_end, mut too_many_n) = (0, 0);
    for bin in 0..seq.len().div_ceil(200) {
        let (bs, be) = (bin * 200, ((bin + 1) * 200).min(seq.len()));
        let labels: Vec<u8> = covs
            .iter()
            .map(|c| (c[bs..be].iter().filter(|&&x| x).count() >= 101) as u8)
            .collect();
        if !labels.contains(&1) {
            continue;
        }
        let centre = bs + 100;
        if centre < 500 || centre + 500 > seq.len() {
            past_end += 1;
            continue;
        }
        let ws = centre - 500;
        if seq[ws..ws + 1000]
            .iter()
            .filter(|b| !b"ACGTacgt".contains(b))
            .count()
            > 10
        {
            too_many_n += 1;
            continue;
        }
        let split = if (30_000_000..35_000_000).contains(&centre) {
            "test"
        } else if (20_000_000..21_000_000).contains(&centre) {
            "valid"
        } else {
            "train"
        };
        expected.entry(split).or_default().insert(ws as i64, labels);
    }
    assert_eq!(report.bins.dropped_window_past_sequence_end, past_end);
    assert_eq!(report.bins.dropped_too_many_n, too_many_n);

    let mut checked = 0;
    for split in ["train", "valid", "test"] {
        let r = Reader::open(out.join(format!("{split}.h5"))).unwrap();
        let want = &expected[split];
        assert_eq!(r.len(), 2 * want.len(), "{split}: rows");
        let fwd = want.len();
        let coords = r.read_coords(0..r.len()).unwrap();
        let y = r.read_y(0..r.len()).unwrap();
        for (i, (start, labels)) in want.iter().enumerate() {
            assert_eq!(
                coords[i],
                ("chr22".to_string(), *start, b'+'),
                "{split} row {i}"
            );
            assert_eq!(
                coords[fwd + i],
                ("chr22".to_string(), *start, b'-'),
                "{split} row {}",
                fwd + i
            );
            assert_eq!(
                &y[i * 6..(i + 1) * 6],
                labels.as_slice(),
                "{split} row {i} labels at {start}"
            );
            assert_eq!(&y[(fwd + i) * 6..(fwd + i + 1) * 6], labels.as_slice());
        }
        // One-hot rows: a sample of each block, read back in slices.
        for i in (0..fwd).step_by(97).chain([fwd - 1]) {
            let ws = coords[i].1 as usize;
            let window = &seq[ws..ws + 1000];
            assert_eq!(
                r.read_x(i..i + 1).unwrap(),
                onehot(window),
                "{split} row {i}"
            );
            assert_eq!(
                r.read_x(fwd + i..fwd + i + 1).unwrap(),
                onehot(&revcomp(window)),
                "{split} row {}",
                fwd + i
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} windows compared");
    // Per-target positives in the report agree too.
    for (t, tr) in report.targets.iter().enumerate() {
        for split in ["train", "valid", "test"] {
            let want = expected[split].values().filter(|l| l[t] == 1).count() as u64;
            assert_eq!(tr.positives[split], want, "{} {split}", tr.name);
        }
    }
}

/// A 919-row DeepSEA-style manifest (DeepSEA's target names and categories, in its order)
/// works; its peak files are the demo's 29, reused in turn. DeepSEA's own names repeat 54
/// `cell|assay|treatment` triples (experiments of two labs); names must be unique here, so the
/// manifest numbers the repeats, `A549|CTCF|None|2`.
#[test]
fn deepsea_919_target_manifest() {
    let names =
        std::fs::read_to_string(shared().join("features/deepsea_919_predictor.names.txt")).unwrap();
    let names: Vec<&str> = names.lines().collect();
    assert_eq!(names.len(), 919);
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo");
    let demo_targets = std::fs::read_to_string(demo.join("targets.tsv")).unwrap();
    let files: Vec<String> = demo_targets
        .lines()
        .skip(1)
        .map(|l| {
            demo.join(l.split('\t').nth(2).unwrap())
                .display()
                .to_string()
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("deepsea.tsv");
    let mut seen = std::collections::HashMap::new();
    let names: Vec<String> = names
        .iter()
        .map(|n| {
            let k = seen.entry(*n).and_modify(|k| *k += 1).or_insert(1);
            if *k == 1 {
                n.to_string()
            } else {
                format!("{n}|{k}")
            }
        })
        .collect();
    assert_eq!(
        seen.values().filter(|&&k| k > 1).count(),
        54,
        "DeepSEA's repeated names"
    );
    let mut text = String::from("name\tcategory\tpath\tcell\ttreatment\n");
    for (i, n) in names.iter().enumerate() {
        let f: Vec<&str> = n.split('|').collect();
        let category = match i {
            0..=124 => "DNase",
            125..=814 => "TF",
            _ => "Histone",
        };
        text += &format!(
            "{n}\t{category}\t{}\t{}\t{}\n",
            files[i % files.len()],
            f[0],
            f[2]
        );
    }
    std::fs::write(&manifest, text).unwrap();
    let out = dir.path().join("out");
    let opts = ferrosea_prep::Options {
        genome: demo.join("hg19_chr22_26-30Mb.fa.gz"),
        targets: manifest,
        out: out.clone(),
        threads: 2,
        keep: ferrosea_prep::Keep::TfTouch,
        test: ferrosea_genome::Region::parse_list("chr22:29000001-30000000").unwrap(),
        valid: ferrosea_genome::Region::parse_list("chr22:26000001-26500000").unwrap(),
        ..Default::default()
    };
    let report = ferrosea_prep::run(&opts).unwrap();
    let r = Reader::open(out.join("train.h5")).unwrap();
    assert_eq!(r.targets().name, names);
    assert_eq!(
        r.targets().category.iter().filter(|c| *c == "TF").count(),
        690
    );
    assert_eq!(r.targets().treatment.as_ref().unwrap()[0], "None");
    assert!(r.len() > 500, "{} rows", r.len());
    let y = r.read_y(0..r.len()).unwrap();
    assert_eq!(y.len(), r.len() * 919);
    // Targets that share a peak file share their labels; and the labels are not all zero.
    let column = |t: usize| (0..r.len()).map(|i| y[i * 919 + t]).collect::<Vec<u8>>();
    assert_eq!(column(1), column(1 + files.len()));
    assert_eq!(column(900), column(900 - 2 * files.len()));
    assert!(report
        .targets
        .iter()
        .all(|t| t.positives["train"] > 0 || t.peak_records < 60));
}
