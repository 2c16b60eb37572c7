//! `background`: the per-target reference distribution of DeepSEA's `|diff x log2fc|` that
//! turns a variant's scores into e-values, for any model.
//!
//! Either `--random-snvs N` SNVs drawn from the genome (positions uniform over the A/C/G/T
//! bases whose window fits in the chromosome, outside an optional exclusion BED; the
//! alternative base uniform among the other three; all from a ChaCha8 stream of `--seed`) or
//! the variants of a VCF the user supplies (`--vcf`, e.g. common variants). The file
//! (`ferrosea-background`) holds one row per background variant (`rows/chrom, pos, ref,
//! alt`) and `magnitude` float32 `[N, T]`, with the provenance `variants --background` checks
//! (checkpoint weights' SHA-256, targets, window, `rc_average`) and the genome's SHA-256.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ferrosea_dataset::{AttrValue, Column, ColumnKind, ResultsReader, ResultsSpec, ResultsWriter};
use ferrosea_genome::{onehot, Genome};
use rand::{Rng, SeedableRng};

use crate::alleles::{self, Skip};
use crate::variants::{genome_chrom, provenance, Scorer};
use crate::{scores, vcf, AnalyzeError, Model, RunArgs};

/// The `format` attribute of a background file.
pub const BACKGROUND_FORMAT: &str = "ferrosea-background";

/// Background variants scored per block.
const BLOCK: usize = 1024;

/// How to make a background.
#[derive(clap::Args, Clone, Debug)]
pub struct BackgroundOptions {
    /// The checkpoint, batch size and device.
    #[command(flatten)]
    pub run: RunArgs,
    /// Reference genome FASTA.
    #[arg(long)]
    pub genome: PathBuf,
    /// The background file to write (HDF5).
    #[arg(short, long)]
    pub out: PathBuf,
    /// Draw this many random SNVs from the genome.
    #[arg(
        long,
        value_name = "N",
        conflicts_with = "vcf",
        required_unless_present = "vcf"
    )]
    pub random_snvs: Option<usize>,
    /// Seed of the random SNVs.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// BED intervals where no random SNV is drawn (e.g. the ENCODE blacklist).
    #[arg(long, requires = "random_snvs")]
    pub exclude: Option<PathBuf>,
    /// Use the variants of this VCF instead (e.g. common variants).
    #[arg(long)]
    pub vcf: Option<PathBuf>,
    /// Score the mean of forward and reverse-complement predictions (must match the
    /// `variants` runs that use this background).
    #[arg(long)]
    pub rc_average: bool,
    /// CHROM names of --vcf missing from the genome are tried with this prefix added or
    /// removed.
    #[arg(long, value_name = "PREFIX")]
    pub chrom_alias: Option<String>,
}

/// What a background run did.
#[derive(Clone, Debug)]
pub struct BackgroundReport {
    /// The file written.
    pub out: PathBuf,
    /// Background variants scored.
    pub variants: usize,
    /// Targets.
    pub targets: usize,
    /// Wall time.
    pub seconds: f64,
}

impl BackgroundReport {
    /// One line for the log.
    pub fn line(&self) -> String {
        format!(
            "{}: {} background variants x {} targets in {:.1} s ({:.1} variants/s)",
            self.out.display(),
            self.variants,
            self.targets,
            self.seconds,
            self.variants as f64 / self.seconds.max(1e-9)
        )
    }
}

/// A loaded background: each target's scores, sorted ascending.
pub struct Background {
    sorted: Vec<Vec<f32>>,
}

impl Background {
    /// Loads a background and checks that it was made with `model`'s weights and targets and
    /// the same `rc_average`.
    pub fn load(path: &Path, model: &Model, rc_average: bool) -> Result<Background, AnalyzeError> {
        let r = ResultsReader::open(path, BACKGROUND_FORMAT)?;
        let ours = model.weights_sha256()?;
        let theirs = r.attr_str("checkpoint_sha256").unwrap_or_default();
        if ours != theirs {
            return Err(AnalyzeError::Mismatch(format!(
                "{}: this background was made with another checkpoint ({}, weights SHA-256 \
                 {}), not {} (SHA-256 {}): make one with `ferrosea-analyze background \
                 --checkpoint {}`",
                path.display(),
                r.attr_str("checkpoint").unwrap_or_default(),
                short(&theirs),
                model.json.display(),
                short(ours),
                model.json.display()
            )));
        }
        if r.targets().unwrap_or_default() != model.targets() {
            return Err(AnalyzeError::Mismatch(format!(
                "{}: its targets differ from those of {}",
                path.display(),
                model.json.display()
            )));
        }
        let theirs_rc = r.attr_int("rc_average").unwrap_or(0) != 0;
        if theirs_rc != rc_average {
            return Err(AnalyzeError::Mismatch(format!(
                "{}: made {} --rc-average, but these variants are scored {} it: e-values \
                 need the same scoring",
                path.display(),
                if theirs_rc { "with" } else { "without" },
                if rc_average { "with" } else { "without" }
            )));
        }
        let n = r.rows();
        if n == 0 {
            return Err(AnalyzeError::Input(format!(
                "{}: the background has no variants",
                path.display()
            )));
        }
        let t = model.targets().len();
        let mut sorted = vec![Vec::with_capacity(n); t];
        let mut a = 0;
        while a < n {
            let b = (a + 8192).min(n);
            let m = r.array("magnitude", a..b)?;
            for row in m.chunks_exact(t) {
                for (col, &v) in sorted.iter_mut().zip(row) {
                    col.push(v);
                }
            }
            a = b;
        }
        for col in &mut sorted {
            col.sort_by(f32::total_cmp);
        }
        Ok(Background { sorted })
    }

    /// The e-value of each target's `magnitude`.
    pub fn evalues(&self, magnitude: &[f32]) -> Vec<f32> {
        self.sorted
            .iter()
            .zip(magnitude)
            .map(|(col, &m)| scores::evalue(col, m))
            .collect()
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// One background variant.
struct Snv {
    chrom: String,
    pos: u64,
    reference: String,
    alt: String,
    windows: alleles::Windows,
}

/// Makes a background file.
pub fn background(opts: &BackgroundOptions) -> Result<BackgroundReport, AnalyzeError> {
    let started = Instant::now();
    let mut inputs: Vec<(&str, &Path)> = vec![
        ("--checkpoint", &opts.run.checkpoint),
        ("--genome", &opts.genome),
    ];
    if let Some(v) = &opts.vcf {
        inputs.push(("--vcf", v));
    }
    if let Some(x) = &opts.exclude {
        inputs.push(("--exclude", x));
    }
    crate::check_out_file(&opts.out, &inputs)?;
    let model = opts.run.load()?;
    let genome = Genome::open(&opts.genome, 2)?;
    let mut fetch = genome.fetcher()?;
    let l = model.window();
    let snvs: Vec<(String, u64, String, String)> = match (&opts.vcf, opts.random_snvs) {
        (Some(vcf), _) => {
            let mut r = vcf::Reader::open(vcf)?;
            let mut v = Vec::new();
            while let Some(rec) = r.next_record()? {
                for alt in &rec.alts {
                    v.push((
                        rec.chrom.clone(),
                        rec.pos,
                        rec.reference.clone(),
                        alt.clone(),
                    ));
                }
            }
            v
        }
        (None, Some(n)) => random_snvs(&genome, n, opts.seed, l, opts.exclude.as_deref())?,
        (None, None) => {
            return Err(AnalyzeError::Usage(
                "give --random-snvs N or --vcf FILE".into(),
            ))
        }
    };
    let mut attrs = provenance(&model, &opts.genome, opts.rc_average)?;
    attrs.push((
        "genome_sha256".into(),
        AttrValue::Str(crate::sha256_file(&opts.genome)?),
    ));
    match (&opts.vcf, opts.random_snvs) {
        (Some(v), _) => attrs.push(("source".into(), AttrValue::Str(v.display().to_string()))),
        (None, Some(n)) => {
            attrs.push(("source".into(), AttrValue::Str("random_snvs".into())));
            attrs.push(("random_snvs".into(), AttrValue::Int(n as i64)));
            attrs.push(("seed".into(), AttrValue::Int(opts.seed as i64)));
            if let Some(x) = &opts.exclude {
                attrs.push(("exclude".into(), AttrValue::Str(x.display().to_string())));
            }
        }
        _ => {}
    }
    attrs.push((
        "command_line".into(),
        AttrValue::Str(opts.run.command_line.clone()),
    ));
    let t = model.targets().len();
    let spec = ResultsSpec {
        format: BACKGROUND_FORMAT.into(),
        version: 1,
        attrs,
        targets: Some(model.targets().to_vec()),
        columns: vec![
            ("chrom".into(), ColumnKind::Str),
            ("pos".into(), ColumnKind::Int),
            ("ref".into(), ColumnKind::Str),
            ("alt".into(), ColumnKind::Str),
        ],
        arrays: vec![("magnitude".into(), vec![t])],
        chunk_rows: BLOCK,
        level: 4,
    };
    let mut w = ResultsWriter::create(&opts.out, &spec)?;
    let scorer = Scorer {
        model: &model,
        rc_average: opts.rc_average,
    };
    let bar = crate::progress_bar(opts.run.progress, Some(snvs.len() as u64), "variants");
    let mut skipped: HashMap<String, usize> = HashMap::new();
    let mut block: Vec<Snv> = Vec::new();
    let mut scored = 0;
    for (i, (chrom, pos, reference, alt)) in snvs.iter().enumerate() {
        let placed = match genome_chrom(&fetch, &genome, chrom, opts.chrom_alias.as_deref()) {
            Err(s) => Err(s),
            Ok(c) => {
                if let Err(s) = alleles::check_alt(alt) {
                    Err(s)
                } else if !alleles::valid_bases(reference) {
                    Err(Skip::BadLetters)
                } else {
                    alleles::windows(&mut fetch, &c, *pos, reference, alt, l)?
                }
            }
        };
        match placed {
            Ok(windows) => block.push(Snv {
                chrom: chrom.clone(),
                pos: *pos,
                reference: reference.clone(),
                alt: alt.clone(),
                windows,
            }),
            Err(s) => *skipped.entry(s.key().to_string()).or_default() += 1,
        }
        if block.len() >= BLOCK || (i + 1 == snvs.len() && !block.is_empty()) {
            let pairs: Vec<(&[u8], &[u8])> = block
                .iter()
                .map(|s| {
                    (
                        s.windows.reference.as_slice(),
                        s.windows.alternative.as_slice(),
                    )
                })
                .collect();
            let (p, q) = scorer.probabilities(&pairs)?;
            let mut magnitude = Vec::with_capacity(block.len() * t);
            for k in 0..block.len() {
                magnitude.extend(
                    scores::scores(&p[k * t..(k + 1) * t], &q[k * t..(k + 1) * t]).magnitude,
                );
            }
            let s = |f: fn(&Snv) -> &String| block.iter().map(f).cloned().collect::<Vec<_>>();
            let pos: Vec<i64> = block.iter().map(|s| s.pos as i64).collect();
            w.append(
                block.len(),
                &[
                    Column::Str(&s(|s| &s.chrom)),
                    Column::Int(&pos),
                    Column::Str(&s(|s| &s.reference)),
                    Column::Str(&s(|s| &s.alt)),
                ],
                &[&magnitude],
            )?;
            scored += block.len();
            block.clear();
            bar.set_position(i as u64 + 1);
        }
    }
    bar.finish_and_clear();
    if scored == 0 {
        return Err(AnalyzeError::Input(format!(
            "no background variant could be scored (skipped: {skipped:?})"
        )));
    }
    for (k, v) in &skipped {
        tracing::warn!("background: {v} variants skipped: {k}");
    }
    let out = w.finish()?;
    Ok(BackgroundReport {
        out,
        variants: scored,
        targets: t,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Reads BED intervals (chrom, start, end) per chromosome, sorted and merged.
fn read_exclusions(path: &Path) -> Result<HashMap<String, Vec<(u64, u64)>>, AnalyzeError> {
    use std::io::BufRead;
    let reader = crate::open_text(path)?;
    let mut out: HashMap<String, Vec<(u64, u64)>> = HashMap::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(AnalyzeError::io(path))?;
        if line.is_empty()
            || line.starts_with('#')
            || line.starts_with("track")
            || line.starts_with("browser")
        {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let parse = |s: Option<&&str>| s.and_then(|s| s.trim().parse::<u64>().ok());
        match (f.first(), parse(f.get(1)), parse(f.get(2))) {
            (Some(c), Some(a), Some(b)) if a <= b => {
                out.entry(c.to_string()).or_default().push((a, b))
            }
            _ => {
                return Err(AnalyzeError::Input(format!(
                    "{}: line {}: expected chrom, start, end (0 <= start <= end), found {:?}",
                    path.display(),
                    i + 1,
                    ferrosea_dataset::clip(&line, ferrosea_dataset::MESSAGE_VALUE_CHARS)
                )))
            }
        }
    }
    for v in out.values_mut() {
        v.sort_unstable();
    }
    Ok(out)
}

/// `n` SNVs at positions uniform over the eligible bases: A/C/G/T, window inside the
/// chromosome, outside `exclude`. Two passes over the genome: count, then pick.
fn random_snvs(
    genome: &Genome,
    n: usize,
    seed: u64,
    window: usize,
    exclude: Option<&Path>,
) -> Result<Vec<(String, u64, String, String)>, AnalyzeError> {
    let excl = match exclude {
        Some(p) => read_exclusions(p)?,
        None => HashMap::new(),
    };
    let h = (window / 2) as u64;
    let eligible = |name: &str, seq: &[u8], mask: &mut Vec<bool>| {
        mask.clear();
        mask.resize(seq.len(), false);
        let len = seq.len() as u64;
        if len < window as u64 {
            return;
        }
        for p in h..len - (window as u64 - h) + 1 {
            mask[p as usize] = onehot::is_acgt(seq[p as usize]);
        }
        if let Some(iv) = excl.get(name) {
            for &(a, b) in iv {
                for m in &mut mask[(a.min(len) as usize)..(b.min(len) as usize)] {
                    *m = false;
                }
            }
        }
    };
    let (mut name, mut seq, mut mask) = (String::new(), Vec::new(), Vec::new());
    let mut counts = Vec::new();
    let mut records = genome.records()?;
    while records.next_into(&mut name, &mut seq)? {
        eligible(&name, &seq, &mut mask);
        counts.push(mask.iter().filter(|&&m| m).count() as u64);
    }
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return Err(AnalyzeError::Input(format!(
            "{}: no position where a {window} bp window fits over A/C/G/T bases",
            genome.path().display()
        )));
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut picks: Vec<(u64, u8)> = (0..n)
        .map(|_| (rng.random_range(0..total), rng.random_range(0..3u8)))
        .collect();
    picks.sort_unstable();
    let mut out = Vec::with_capacity(n);
    let mut records = genome.records()?;
    let (mut offset, mut k, mut chrom) = (0u64, 0usize, 0usize);
    while records.next_into(&mut name, &mut seq)? {
        let end = offset + counts[chrom];
        if k < picks.len() && picks[k].0 < end {
            eligible(&name, &seq, &mut mask);
            let (mut rank, mut idx) = (offset, 0usize);
            for (p, &m) in mask.iter().enumerate() {
                if !m {
                    continue;
                }
                while k < picks.len() && picks[k].0 == rank {
                    let base = seq[p].to_ascii_uppercase();
                    let others: Vec<u8> = b"ACGT".iter().copied().filter(|&b| b != base).collect();
                    out.push((
                        name.clone(),
                        p as u64 + 1,
                        (base as char).to_string(),
                        (others[picks[k].1 as usize] as char).to_string(),
                    ));
                    k += 1;
                }
                rank += 1;
                idx += 1;
            }
            let _ = idx;
        }
        offset = end;
        chrom += 1;
    }
    Ok(out)
}
