//! Seqlets and motifs on attribution files made here: a motif's contributions planted in
//! random sequences (and none in their shuffled null) come back as seqlets at the planted
//! places and as one motif of the planted consensus; bad inputs are named.

use std::path::Path;

use ferrosea_dataset::{AttrValue, Column, ResultsReader, ResultsWriter};
use ferrosea_interpret::{
    motifs, report, seqlets, MotifsOptions, ReportOptions, SeqletsOptions, MOTIFS_FORMAT,
};
use ferrosea_motifs::discovery::Options;

const L: usize = 200;
const MOTIF: &[u8] = b"GGACTAGTCA";

/// A small deterministic generator.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// An attribution file of `rows` sequences, each with MOTIF at position 40 + 7i % 100 (its
/// reverse complement in odd rows) carrying contributions of `strength` per base, noise
/// elsewhere; the null: 20 noise-only sequences. Returns where the motif was planted.
fn write_attributions(path: &Path, rows: usize, strength: f32, sha: &str) -> Vec<usize> {
    let mut rng = Lcg(3);
    let spec = ferrosea_interpret::attributions_spec(
        vec![
            ("method".into(), AttrValue::Str("deeplift-shap".into())),
            ("window".into(), AttrValue::Int(L as i64)),
            ("weights_sha256".into(), AttrValue::Str(sha.into())),
        ],
        &["MA0000.1|X".into()],
        (L, 4),
        false,
    );
    let mut w = ResultsWriter::create(path, &spec).unwrap();
    let mut planted = Vec::new();
    let noise_track = |rng: &mut Lcg, motif: Option<(usize, bool)>| {
        let mut x = vec![0f32; L * 4];
        let mut h = vec![0f32; L * 4];
        for p in 0..L {
            x[p * 4 + (rng.next() * 4.0) as usize % 4] = 1.0;
            for c in 0..4 {
                h[p * 4 + c] = ((rng.next() - 0.5) * 0.2) as f32;
            }
        }
        if let Some((at, reverse)) = motif {
            for (i, &b) in MOTIF.iter().enumerate() {
                let (p, b) = if reverse {
                    (
                        at + MOTIF.len() - 1 - i,
                        3 - b"ACGT".iter().position(|&c| c == b).unwrap(),
                    )
                } else {
                    (at + i, b"ACGT".iter().position(|&c| c == b).unwrap())
                };
                for c in 0..4 {
                    x[p * 4 + c] = (c == b) as u8 as f32;
                    h[p * 4 + c] = if c == b { strength } else { -0.3 * strength };
                }
            }
        }
        let contrib: Vec<f32> = h.iter().zip(&x).map(|(h, x)| h * x).collect();
        (x, h, contrib)
    };
    for i in 0..rows {
        let at = 40 + (7 * i) % 100;
        planted.push(at);
        let (x, h, c) = noise_track(&mut rng, Some((at, i % 2 == 1)));
        w.append(
            1,
            &[
                Column::Int(&[i as i64 * 10]),
                Column::Str(&["chrT".into()]),
                Column::Int(&[1000 * i as i64]),
                Column::Str(&["+".into()]),
                Column::Str(&[".".into()]),
            ],
            &[&x, &h, &c],
        )
        .unwrap();
    }
    let mut null = Vec::new();
    for _ in 0..20 {
        let (_, _, c) = noise_track(&mut rng, None);
        null.extend(c.chunks(4).map(|v| v.iter().sum::<f32>()));
    }
    w.put("null/scores", &[20, L, 1], &null).unwrap();
    w.put_ints("null/rows", &(0..20).collect::<Vec<i64>>())
        .unwrap();
    w.finish().unwrap();
    planted
}

fn seqlet_options(attr: &Path, out: &Path) -> SeqletsOptions {
    SeqletsOptions {
        attributions: attr.to_path_buf(),
        out: out.to_path_buf(),
        window: 21,
        fdr: 0.05,
        threshold: None,
        targets: Vec::new(),
        command_line: "test".into(),
    }
}

fn motif_options(attr: &Path, seqlets: Option<&Path>, out: &Path) -> MotifsOptions {
    MotifsOptions {
        attributions: attr.to_path_buf(),
        seqlets: seqlets.map(Path::to_path_buf),
        out: out.to_path_buf(),
        max_motifs: 50,
        flank: 10,
        max_seqlets: 20000,
        discovery: Options::default(),
        logos: true,
        command_line: "test".into(),
    }
}

#[test]
fn planted_contributions_give_seqlets_and_their_motif() {
    let dir = tempfile::tempdir().unwrap();
    let attr = dir.path().join("attr.h5");
    let planted = write_attributions(&attr, 120, 1.0, "abc");
    let table = dir.path().join("seqlets.tsv");
    let r = seqlets(&seqlet_options(&attr, &table)).unwrap();
    // A seqlet over every planted motif, and few others: the FDR is 5% of the seqlets.
    let positive: Vec<_> = r.seqlets.iter().filter(|s| s.score > 0.0).collect();
    let on_site = |s: &&ferrosea_interpret::Seqlet| {
        let at = planted[s.index];
        s.offset <= at && at + MOTIF.len() <= s.offset + 21
    };
    let hits = positive.iter().filter(|s| on_site(s)).count();
    assert_eq!(hits, 120, "{:?}", r.thresholds);
    assert!(
        positive.len() <= 120 + 12,
        "{} seqlets: {:?}",
        positive.len(),
        r.thresholds
    );
    for s in &positive {
        assert_eq!(s.start, 1000 * s.index as i64 + s.offset as i64);
        assert_eq!(s.row, 10 * s.index as i64);
    }
    let t = &r.thresholds[0];
    assert!(t.value.is_finite() && t.fdr <= 0.05, "{t:?}");
    let text = std::fs::read_to_string(&table).unwrap();
    assert!(text.contains("# attributions: ") && text.contains("weights_sha256 abc"));
    assert!(text.contains("#sequence\tstart\tend\tstrand\tscore\ttarget\trow\toffset\tsign\n"));
    // Motifs from the table.
    let out = dir.path().join("motifs");
    let m = motifs(&motif_options(&attr, Some(&table), &out)).unwrap();
    assert_eq!(m.motifs.len(), 1, "{:?}", m.motifs);
    let found = &m.motifs[0];
    let want = std::str::from_utf8(MOTIF).unwrap();
    let rc: String = want
        .bytes()
        .rev()
        .map(|b| match b {
            b'A' => 'T',
            b'C' => 'G',
            b'G' => 'C',
            _ => 'A',
        })
        .collect();
    assert!(
        found.consensus.contains(want) || found.consensus.contains(&rc),
        "{}",
        found.consensus
    );
    assert_eq!((found.sign, found.id.as_str()), ('+', "pos1"));
    assert!((120..=132).contains(&found.seqlets), "{}", found.seqlets);
    let meme = ferrosea_motifs::read_motifs(&out.join("motifs.meme")).unwrap();
    assert_eq!(meme[0].id, "pos1");
    assert_eq!(meme[0].nsites, Some(found.seqlets as f64));
    let h5 = ResultsReader::open(&out.join("motifs.h5"), MOTIFS_FORMAT).unwrap();
    assert_eq!(h5.rows(), found.seqlets);
    let n = found.seqlets;
    assert_eq!(
        h5.array_shape("motifs/cwm").unwrap(),
        vec![found.ppm.len(), 4]
    );
    // Members on both strands: the odd rows hold the reverse complement.
    let reverse = h5.bools("reverse", 0..n).unwrap();
    let rows = h5.ints("row", 0..n).unwrap();
    let offsets = h5.ints("offset", 0..n).unwrap();
    let flips: Vec<bool> = (0..n)
        .filter(|&i| {
            let at = planted[rows[i] as usize / 10] as i64;
            offsets[i] <= at && at + MOTIF.len() as i64 <= offsets[i] + 21
        })
        .map(|i| ((rows[i] / 10) % 2 == 1) != reverse[i])
        .collect();
    assert_eq!(flips.len(), 120);
    assert!(flips.iter().all(|&f| f) || flips.iter().all(|&f| !f));
    assert!(out.join("logos/pos1.cwm.svg").exists() && out.join("logos/pos1.pwm.png").exists());
    // Found without a table: the same motif.
    let again = motifs(&motif_options(&attr, None, &dir.path().join("m2"))).unwrap();
    assert_eq!(again.motifs[0].consensus, found.consensus);
    // The report page, with a matches table naming the motif.
    let matches = dir.path().join("matches.tsv");
    ferrosea_interpret::compare(&ferrosea_interpret::CompareOptions {
        query: out.join("motifs.meme"),
        db: None,
        out: matches.clone(),
        tomtom: Default::default(),
        threshold: ferrosea_interpret::Threshold::QValue(0.5),
        command_line: String::new(),
    })
    .unwrap();
    let page = dir.path().join("report.html");
    report(&ReportOptions {
        motifs: out.clone(),
        matches,
        db: None,
        out: page.clone(),
        top: 3,
    })
    .unwrap();
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("Motifs from attributions") && html.contains("pos1 contributions"));
}

#[test]
fn a_seqlet_table_of_other_attributions_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.h5"), dir.path().join("b.h5"));
    write_attributions(&a, 40, 1.0, "aaaa");
    write_attributions(&b, 40, 1.0, "bbbb");
    let table = dir.path().join("a.tsv");
    seqlets(&seqlet_options(&a, &table)).unwrap();
    let out = dir.path().join("m");
    let e = motifs(&motif_options(&b, Some(&table), &out))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("a.tsv") && e.contains("weights_sha256 aaaa") && e.contains("b.h5"),
        "{e}"
    );
    assert!(!out.join("motifs.meme").exists());
    // Not a seqlets table at all.
    let e = motifs(&motif_options(&a, Some(&a), &out))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("not a table of ferrosea-interpret seqlets")
            || e.contains("UTF-8")
            || e.contains("stream"),
        "{e}"
    );
}

#[test]
fn no_seqlets_give_empty_valid_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let attr = dir.path().join("flat.h5");
    // No motif stands out of the noise: nothing passes the null's threshold.
    write_attributions(&attr, 30, 0.0, "flat");
    let table = dir.path().join("s.tsv");
    let r = seqlets(&SeqletsOptions {
        fdr: 0.01,
        ..seqlet_options(&attr, &table)
    })
    .unwrap();
    let text = std::fs::read_to_string(&table).unwrap();
    assert_eq!(
        r.seqlets.len(),
        text.lines().filter(|l| !l.starts_with('#')).count()
    );
    let out = dir.path().join("m");
    let m = motifs(&MotifsOptions {
        seqlets: Some(table.clone()),
        ..motif_options(&attr, None, &out)
    })
    .unwrap();
    assert!(m.motifs.is_empty());
    assert!(ferrosea_motifs::read_motifs(&out.join("motifs.meme"))
        .unwrap()
        .is_empty());
    let h5 = ResultsReader::open(&out.join("motifs.h5"), MOTIFS_FORMAT).unwrap();
    assert_eq!(h5.rows(), 0);
    // A fixed threshold above everything: no seqlets, a header-only table.
    let r = seqlets(&SeqletsOptions {
        threshold: Some(1e9),
        ..seqlet_options(&attr, &table)
    })
    .unwrap();
    assert!(r.seqlets.is_empty());
    let text = std::fs::read_to_string(&table).unwrap();
    assert!(text.lines().all(|l| l.starts_with('#')), "{text}");
    // Bad settings are named.
    for (opts, want) in [
        (
            SeqletsOptions {
                window: 500,
                ..seqlet_options(&attr, &table)
            },
            "--window 500",
        ),
        (
            SeqletsOptions {
                targets: vec!["CTCF".into()],
                ..seqlet_options(&attr, &table)
            },
            "no attributions of 'CTCF'",
        ),
    ] {
        let e = seqlets(&opts).err().unwrap().to_string();
        assert!(e.contains(want), "{e}");
    }
}
