//! `tomtom::compare` against memelite (PyPI), which reimplements MEME tomtom's Euclidean path
//! without pseudocounts or a minimum overlap: with those settings the best match of every
//! query must be the same and log10 p-values must agree within 0.05 where p > 1e-10.
//! JASPAR against JASPAR, and noisy, trimmed copies standing in for learned filters.

use std::path::PathBuf;

use ferrosea_motifs::tomtom::{compare, Distance, Options};
use ferrosea_motifs::{read_meme, write_meme, Motif};

use ferrosea_testkit::root;

fn python() -> PathBuf {
    ferrosea_testkit::python("memelite")
}

/// A copy of `m` mixed 35% with noise and trimmed by one column at each end: what a learned
/// first-layer filter looks like next to the motif it learned.
fn filter_like(m: &Motif, seed: u64) -> Motif {
    let mut s = seed | 1;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let w = m.width();
    let pfm = m.pfm[1..w - 1]
        .iter()
        .map(|c| {
            let noise: [f64; 4] = std::array::from_fn(|_| next());
            let ns: f64 = noise.iter().sum();
            std::array::from_fn(|k| 0.65 * c[k] + 0.35 * noise[k] / ns)
        })
        .collect();
    Motif {
        id: format!("filter_{}", m.id),
        name: None,
        pfm,
        nsites: None,
    }
}

#[test]
fn euclidean_p_values_agree_with_memelite() {
    let jaspar =
        read_meme(&root().join("data/motifs/JASPAR2024_CORE_vertebrates_latest.meme.gz")).unwrap();
    let targets: Vec<Motif> = jaspar.iter().step_by(6).take(140).cloned().collect();
    let mut queries: Vec<Motif> = jaspar.iter().skip(3).step_by(83).cloned().collect();
    // Learned-filter stand-ins of motifs that are in the targets.
    queries.extend(targets.iter().step_by(23).map(|m| filter_like(m, 11)));
    let dir = tempfile::tempdir().unwrap();
    let (qf, tf, out) = (
        dir.path().join("q.meme"),
        dir.path().join("t.meme"),
        dir.path().join("memelite.tsv"),
    );
    std::fs::write(&qf, write_meme(&queries, [0.25; 4])).unwrap();
    std::fs::write(&tf, write_meme(&targets, [0.25; 4])).unwrap();
    let o = std::process::Command::new(python())
        .arg(root().join("tests/python/memelite_tomtom.py"))
        .args([&qf, &tf, &out])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    let theirs: Vec<Vec<f64>> = text
        .lines()
        .skip(1)
        .map(|l| l.split('\t').map(|v| v.parse().unwrap()).collect())
        .collect();
    let ours = compare(
        &queries,
        &targets,
        &Options {
            distance: Distance::Euclidean,
            pseudocount: 0.0,
            min_overlap: 1,
            ..Options::default()
        },
    );
    let nt = targets.len();
    let mut worst = 0.0f64;
    for (qi, row) in ours.iter().enumerate() {
        let theirs_row = &theirs[qi * nt..(qi + 1) * nt];
        let best_ours = row
            .iter()
            .min_by(|a, b| a.p_value.total_cmp(&b.p_value))
            .unwrap();
        let best_theirs = theirs_row
            .iter()
            .min_by(|a, b| a[2].total_cmp(&b[2]))
            .unwrap();
        assert_eq!(
            best_ours.target, best_theirs[1] as usize,
            "query {} ({}): best match differs (ours p {}, memelite's p {})",
            qi, queries[qi].id, best_ours.p_value, best_theirs[2]
        );
        for (m, t) in row.iter().zip(theirs_row) {
            let p = t[2];
            if p > 1e-10 {
                let d = (m.p_value.log10() - p.log10()).abs();
                worst = worst.max(d);
                assert!(
                    d <= 0.05,
                    "query {} target {}: log10 p ours {} memelite {}",
                    queries[qi].id,
                    targets[m.target].id,
                    m.p_value.log10(),
                    p.log10()
                );
            }
        }
    }
    eprintln!("largest |log10 p| difference: {worst:.4}");
}
