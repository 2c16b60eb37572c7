//! `ferrosea-prep simulate`: the planted sites are where the truth says, in the genome, inside
//! their peaks (but for the missed ones), and the same seed gives the same files.

use std::path::Path;

use ferrosea_prep::simulate::{simulate, SimulateOptions};

fn options(out: &Path, seed: u64) -> SimulateOptions {
    SimulateOptions {
        motifs: Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../data/motifs/JASPAR2024_CORE_vertebrates_latest.meme.gz"),
        ids: vec!["MA0139.2".into(), "MA0138.3".into()],
        out: out.to_path_buf(),
        chromosomes: 2,
        length: 60_000,
        gc: 0.41,
        sites: Some(40),
        missed: 0.1,
        noise: 0.1,
        peak_width: (700, 1000),
        seed,
    }
}

#[test]
fn planted_sites_match_the_truth_and_the_peaks() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let motifs = simulate(&options(&a, 7)).unwrap();
    let fasta = std::fs::read_to_string(a.join("genome.fa")).unwrap();
    let mut chroms = std::collections::HashMap::new();
    let mut name = String::new();
    for line in fasta.lines() {
        if let Some(n) = line.strip_prefix('>') {
            name = n.to_string();
        } else {
            chroms
                .entry(name.clone())
                .or_insert_with(String::new)
                .push_str(line);
        }
    }
    assert_eq!(chroms["sim1"].len(), 60_000);
    let gc = chroms["sim1"]
        .bytes()
        .filter(|b| *b == b'G' || *b == b'C')
        .count() as f64
        / 60_000.0;
    assert!((gc - 0.41).abs() < 0.02, "GC {gc}");
    for m in &motifs {
        let truth = std::fs::read_to_string(a.join(format!("truth/{}.bed", m.id))).unwrap();
        let peaks = std::fs::read_to_string(a.join(format!("peaks/{}.narrowPeak", m.id))).unwrap();
        let peaks: Vec<(String, usize, usize)> = peaks
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (
                    f[0].to_string(),
                    f[1].parse().unwrap(),
                    f[2].parse().unwrap(),
                )
            })
            .collect();
        let mut covered = 0;
        let mut consensus_like = 0;
        for line in truth.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            let (c, s, e) = (
                f[0],
                f[1].parse::<usize>().unwrap(),
                f[2].parse::<usize>().unwrap(),
            );
            assert_eq!(e - s, m.width());
            covered += peaks.iter().any(|p| p.0 == c && p.1 <= s && e <= p.2) as usize;
            // The instance scores above chance under its motif (on its strand).
            let site = &chroms[c][s..e];
            let pfm = if f[5] == "-" {
                m.reverse_complement().pfm
            } else {
                m.pfm.clone()
            };
            let score: f64 = site
                .bytes()
                .zip(&pfm)
                .map(|(b, col)| (col["ACGT".find(b as char).unwrap()] + 0.01).ln() - 0.25f64.ln())
                .sum();
            consensus_like += (score > 0.0) as usize;
        }
        assert_eq!(truth.lines().count(), 40);
        assert!(
            (30..=40).contains(&covered),
            "{} of 40 sites in peaks",
            covered
        );
        assert!(consensus_like >= 38, "{consensus_like}");
    }
    let manifest = std::fs::read_to_string(a.join("targets.tsv")).unwrap();
    assert!(manifest.contains("MA0139.2|CTCF\tTF\tpeaks/MA0139.2.narrowPeak"));
    assert!(std::fs::read_to_string(a.join("config.yaml"))
        .unwrap()
        .contains("truth:"));
    // Same seed, same bytes; another seed, another genome.
    let b = dir.path().join("b");
    simulate(&options(&b, 7)).unwrap();
    assert_eq!(
        std::fs::read(a.join("genome.fa")).unwrap(),
        std::fs::read(b.join("genome.fa")).unwrap()
    );
    let c = dir.path().join("c");
    simulate(&options(&c, 8)).unwrap();
    assert_ne!(
        std::fs::read(a.join("genome.fa")).unwrap(),
        std::fs::read(c.join("genome.fa")).unwrap()
    );
}

/// The simulation's workflow configuration, read by PyYAML as Snakemake reads it: the
/// values written, and only keys that the demo configuration (workflows/config/config.yaml)
/// also has, but for the recipe file in place of a preset and the simulation's own
/// `attribution` and `truth` sections.
#[test]
fn the_workflow_configuration_reads_back_in_yaml_with_the_demo_configuration_keys() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a b"); // a space: paths must be quoted
    simulate(&options(&out, 7)).unwrap();
    let python = ferrosea_testkit::python("PyYAML");
    let demo = ferrosea_testkit::root().join("workflows/config/config.yaml");
    let script = r#"
import sys, yaml
sim = yaml.safe_load(open(sys.argv[1]))
demo = yaml.safe_load(open(sys.argv[2]))
out = sys.argv[3]
assert sim["out"] == out + "/run", sim["out"]
assert sim["train"]["config"] == out + "/recipe.json"
assert sim["prep"]["valid"] == "sim1:1-6000" and sim["prep"]["test"] == "sim2", sim["prep"]
assert sim["prep"]["extra"] == "" and sim["train"]["batch_size"] is None
assert sim["attribution"]["targets"] == ["MA0139.2|CTCF", "MA0138.3|REST"]
assert sim["truth"]["seqlet_ratio"] == [0.5, 1.5]
extra = set(sim) - set(demo) - {"attribution", "truth"}
assert not extra, extra
for section in ("prep", "train", "evaluate", "interpret"):
    extra = set(sim[section]) - set(demo[section]) - {"config"}
    assert not extra, (section, extra)
print("ok")
"#;
    let run = std::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(out.join("config.yaml"))
        .arg(&demo)
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success() && String::from_utf8_lossy(&run.stdout).trim() == "ok",
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
}
