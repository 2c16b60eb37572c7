//! `ferrosea-prep simulate`: a genome and peak files with a known answer.
//!
//! A random genome (independent bases at a given GC content, split into chromosomes), with
//! instances of chosen motifs planted at known places (each instance drawn from the motif's
//! probabilities, on a random strand), and for each motif a narrowPeak file whose peaks
//! surround its planted sites, minus a fraction of missed sites, plus a fraction of noise
//! peaks at random places. The planted sites are written as BED files, and a targets manifest
//! and a workflow configuration tie everything together, so that the whole pipeline can be
//! run on it and its results checked against the truth (`workflows/lib/check_truth.py`).

use std::path::{Path, PathBuf};

use ferrosea_motifs::{read_motifs, Motif};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::PrepError;

/// What to simulate (also the flags of `ferrosea-prep simulate`).
#[derive(Clone, Debug, clap::Args)]
pub struct SimulateOptions {
    /// Motif database (MEME or JASPAR) holding the motifs to plant.
    #[arg(long, value_name = "FILE")]
    pub motifs: PathBuf,
    /// Identifiers of the motifs to plant, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub ids: Vec<String>,
    /// Output directory.
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: PathBuf,
    /// Number of chromosomes (the last one is the test split).
    #[arg(long, default_value_t = 3)]
    pub chromosomes: usize,
    /// Length of each chromosome.
    #[arg(long, value_name = "BP", default_value_t = 3_000_000)]
    pub length: usize,
    /// GC content of the background (the human genome's is about 0.41).
    #[arg(long, default_value_t = 0.41)]
    pub gc: f64,
    /// Planted instances per motif [default: as many as fit, one per kb].
    #[arg(long)]
    pub sites: Option<usize>,
    /// Fraction of planted sites left without a peak.
    #[arg(long, default_value_t = 0.02)]
    pub missed: f64,
    /// Noise peaks per motif, as a fraction of its sites.
    #[arg(long, default_value_t = 0.02)]
    pub noise: f64,
    /// Peak widths in bp: one width, or a range MIN-MAX drawn from uniformly.
    #[arg(long, value_name = "BP[-BP]", default_value = "900-1000", value_parser = parse_width)]
    pub peak_width: (usize, usize),
    /// Seed of every random choice.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

fn write(path: &Path, text: &str) -> Result<(), PrepError> {
    ferrosea_dataset::write_atomically(path, text.as_bytes())
        .map_err(|e| PrepError::io(path.to_path_buf(), e))
}

/// A base index (A, C, G, T = 0..4) drawn from the probabilities `p`.
pub(crate) fn pick_index(rng: &mut ChaCha8Rng, p: &[f64; 4]) -> usize {
    let u: f64 = rng.random();
    let mut acc = 0.0;
    for (k, &v) in p.iter().enumerate() {
        acc += v;
        if u < acc {
            return k;
        }
    }
    3
}

fn pick(rng: &mut ChaCha8Rng, p: &[f64; 4]) -> u8 {
    b"ACGT"[pick_index(rng, p)]
}

/// Writes `genome.fa`, `peaks/<id>.narrowPeak`, `truth/<id>.bed`, `targets.tsv` and
/// `config.yaml` (a workflow configuration: test = the last chromosome, validation = the
/// first 10% of the first one; every planted target attributed with DeepLIFT/SHAP and its
/// motifs found from the attributions). Returns the planted motifs.
pub fn simulate(o: &SimulateOptions) -> Result<Vec<Motif>, PrepError> {
    if o.chromosomes < 2 || o.length < 10_000 || !(0.0..=1.0).contains(&o.gc) {
        return Err(PrepError::Invalid(
            "need at least 2 chromosomes of 10,000 bp and a GC content between 0 and 1".into(),
        ));
    }
    for (flag, v) in [("--missed", o.missed), ("--noise", o.noise)] {
        if !(0.0..=1.0).contains(&v) {
            return Err(PrepError::Invalid(format!(
                "{flag} {v}: a fraction, between 0 and 1"
            )));
        }
    }
    let (lo, hi) = o.peak_width;
    if lo == 0 || lo > hi {
        return Err(PrepError::Invalid(format!(
            "--peak-width {lo}-{hi}: expected MIN-MAX with 0 < MIN <= MAX"
        )));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = o.ids.iter().find(|id| !seen.insert(id.as_str())) {
        return Err(PrepError::Invalid(format!(
            "--ids names {dup} twice: each motif is planted once, as one target"
        )));
    }
    let db = read_motifs(&o.motifs)?;
    let motifs: Vec<Motif> =
        o.ids
            .iter()
            .map(|id| {
                db.iter().find(|m| &m.id == id).cloned().ok_or_else(|| {
                    PrepError::Invalid(format!("{}: no motif {id}", o.motifs.display()))
                })
            })
            .collect::<Result<_, _>>()?;
    if motifs.is_empty() {
        return Err(PrepError::Invalid("no motifs to plant (--ids)".into()));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(o.seed);
    let bg = [
        (1.0 - o.gc) / 2.0,
        o.gc / 2.0,
        o.gc / 2.0,
        (1.0 - o.gc) / 2.0,
    ];
    let mut chroms: Vec<Vec<u8>> = (0..o.chromosomes)
        .map(|_| (0..o.length).map(|_| pick(&mut rng, &bg)).collect())
        .collect();
    // Sites: 1 kb slots, so that instances never overlap and each window holds at most one.
    let slots_per_chrom = o.length / 1000 - 1;
    let mut free: Vec<(usize, usize)> = (0..o.chromosomes)
        .flat_map(|c| (1..slots_per_chrom).map(move |s| (c, s)))
        .collect();
    let sites = o.sites.unwrap_or(free.len() * 97 / 100 / motifs.len());
    let needed = motifs.len() * sites;
    if needed > free.len() {
        return Err(PrepError::Invalid(format!(
            "{needed} sites do not fit in {} slots of 1 kb: lengthen the chromosomes",
            free.len()
        )));
    }
    // A seeded shuffle of the slots.
    for i in (1..free.len()).rev() {
        let j = rng.random_range(0..=i);
        free.swap(i, j);
    }
    std::fs::create_dir_all(o.out.join("peaks")).map_err(|e| PrepError::io(o.out.clone(), e))?;
    std::fs::create_dir_all(o.out.join("truth")).map_err(|e| PrepError::io(o.out.clone(), e))?;
    let name = |c: usize| format!("sim{}", c + 1);
    let mut manifest = String::from("name\tcategory\tpath\n");
    let mut labels = Vec::new();
    for (k, m) in motifs.iter().enumerate() {
        let mut truth = String::new();
        let mut peaks: Vec<(usize, usize, usize, usize)> = Vec::new(); // chrom, start, end, summit
        for s in 0..sites {
            let (c, slot) = free[k * sites + s];
            let w = m.width();
            let at = slot * 1000 + rng.random_range(100..900 - w);
            let reverse = rng.random_bool(0.5);
            let pfm = if reverse {
                m.reverse_complement().pfm
            } else {
                m.pfm.clone()
            };
            for (p, col) in pfm.iter().enumerate() {
                chroms[c][at + p] = pick(&mut rng, col);
            }
            truth.push_str(&format!(
                "{}\t{at}\t{}\t{}\t0\t{}\n",
                name(c),
                at + w,
                m.id,
                if reverse { '-' } else { '+' }
            ));
            if rng.random::<f64>() >= o.missed {
                // Broad peaks (900-1000 bp by default): a window is labelled positive about
                // when it holds the site, as with broad ChIP-seq or DNase peaks.
                let half = rng.random_range(o.peak_width.0..=o.peak_width.1) / 2;
                let centre = at + w / 2 + rng.random_range(0..40) - 20;
                peaks.push((c, centre - half, centre + half, half));
            }
        }
        let noise = (sites as f64 * o.noise).round() as usize;
        for _ in 0..noise {
            let c = rng.random_range(0..o.chromosomes);
            let centre = rng.random_range(1000..o.length - 1000);
            let half = rng.random_range(o.peak_width.0..=o.peak_width.1) / 2;
            peaks.push((c, centre - half, centre + half, half));
        }
        peaks.sort();
        let label = match &m.name {
            Some(n) => format!("{}|{n}", m.id),
            None => m.id.clone(),
        };
        let mut np = String::new();
        for (i, (c, s, e, summit)) in peaks.iter().enumerate() {
            np.push_str(&format!(
                "{}\t{s}\t{e}\tpeak{}\t1000\t.\t10.0\t8.0\t6.0\t{summit}\n",
                name(*c),
                i + 1
            ));
        }
        write(&o.out.join(format!("peaks/{}.narrowPeak", m.id)), &np)?;
        write(&o.out.join(format!("truth/{}.bed", m.id)), &truth)?;
        manifest.push_str(&format!("{label}\tTF\tpeaks/{}.narrowPeak\n", m.id));
        labels.push(label);
    }
    let mut fa = String::with_capacity(o.chromosomes * (o.length + o.length / 60 + 16));
    for (c, seq) in chroms.iter().enumerate() {
        fa.push_str(&format!(">{}\n", name(c)));
        for line in seq.chunks(60) {
            fa.push_str(std::str::from_utf8(line).expect("ACGT"));
            fa.push('\n');
        }
    }
    write(&o.out.join("genome.fa"), &fa)?;
    write(&o.out.join("targets.tsv"), &manifest)?;
    crate::recipes::write(&o.out.join("recipe.json"), &crate::recipes::simulation())?;
    use crate::workflow_config::*;
    let config = WorkflowConfig {
        out: o.out.join("run"),
        bin_dir: "target/release".into(),
        genome: o.out.join("genome.fa"),
        targets: o.out.join("targets.tsv"),
        prep: PrepSection {
            valid: format!("sim1:1-{}", o.length / 10),
            test: name(o.chromosomes - 1),
            keep: "all".into(),
            reverse_complement: false,
            extra: String::new(),
        },
        train: TrainSection {
            config: Some(o.out.join("recipe.json")),
            preset: None,
            epochs: 4,
            batch_size: None,
            devices: "cpu".into(),
            gpus: 0,
            seed: 1,
            extra: String::new(),
        },
        evaluate: EvaluateSection {
            rc_average: true,
            min_positives: 1,
            reference: None,
            batch_size: 256,
        },
        interpret: InterpretSection {
            db: o.motifs.clone(),
            threshold: 0.5,
            only_positive: true,
            min_sites: 10,
            influence: None,
            dist: "ed".into(),
            thresh: 0.5,
        },
        attribution: Some(AttributionSection {
            targets: labels,
            method: "deeplift-shap".into(),
            rows: 300,
            references: 10,
            null_rows: 100,
            seed: 1,
        }),
        truth: Some(TruthSection {
            dir: o.out.join("truth"),
            min_roc_auc: 0.95,
            max_q: 0.05,
            min_matched: 0.8,
            min_auprc: 0.5,
            seqlet_ratio: [0.5, 1.5],
        }),
    };
    let comment = format!(
        "A planted-motif simulation (ferrosea-prep simulate); run with\n  snakemake -s \
         workflows/Snakefile --configfile {}/config.yaml --cores 2 -- all truth",
        o.out.display()
    );
    write(&o.out.join("config.yaml"), &config.to_yaml(&comment))?;
    Ok(motifs)
}

/// `--peak-width`: `800` or `700-1000`.
fn parse_width(s: &str) -> Result<(usize, usize), String> {
    let num = |t: &str| {
        t.trim()
            .parse::<usize>()
            .map_err(|_| format!("'{s}': '{t}' is not a width in bp (expected BP or MIN-MAX)"))
    };
    let (lo, hi) = match s.split_once('-') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => (num(s)?, num(s)?),
    };
    if lo < 2 || lo > hi {
        return Err(format!(
            "'{s}': need 2 <= MIN <= MAX (widths in bp, e.g. 700-1000)"
        ));
    }
    Ok((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::parse_width;

    #[test]
    fn peak_widths_are_one_value_or_a_range() {
        assert_eq!(parse_width("800"), Ok((800, 800)));
        assert_eq!(parse_width("700-1000"), Ok((700, 1000)));
        for bad in ["", "x", "1000-700", "1", "5-", "-5", "2-3-4"] {
            let err = parse_width(bad).unwrap_err();
            assert!(err.contains(&format!("'{bad}'")), "{bad}: {err}");
        }
    }
}
