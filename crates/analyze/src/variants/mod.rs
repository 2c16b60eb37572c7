//! `variants`: the effect of each VCF variant on every target.
//!
//! The VCF is streamed: records are read, their alleles placed ([`crate::alleles`]), encoded
//! and scored in blocks, and each block's rows are written before the next is read, so memory
//! stays bounded whatever the VCF's size. Outputs (in the output directory, each under a
//! temporary name until complete, `summary.json` last):
//!
//! - `variants.h5`: one row per scored allele (`rows/chrom, pos, id, ref, alt, ref_match,
//!   contains_unk, line`), float32 `[V, T]` arrays `ref`, `alt`, `diff`, `logit_diff`,
//!   `log2fc` (and `evalue` with a background), the targets and the provenance;
//! - `<prefix>_diffs.tsv`, `<prefix>_abs_diffs.tsv`, `<prefix>_logits.tsv`,
//!   `<prefix>.ref_predictions.tsv`, `<prefix>.alt_predictions.tsv`: Selene's layout;
//! - `annotated.vcf.gz`: the input records in input order, with the summary scores in INFO;
//! - `skipped.tsv`: the alleles not scored and why.
//!
//! This file holds the run; `outputs.rs` writes the files, `scoring.rs` places and scores
//! the alleles, and `gather.rs` joins scattered runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ferrosea_dataset::AttrValue;
use ferrosea_genome::Genome;
use serde::{Deserialize, Serialize};

use crate::alleles::Skip;
use crate::background::Background;
use crate::vcf;
use crate::{AnalyzeError, Model, RunArgs};

pub use gather::{gather, GatherOptions, GatherReport};
use outputs::{skipped_line, BlockOut, Layout, Outputs, RecordFate, Row};
pub(crate) use scoring::{genome_chrom, Scorer};
use scoring::{place, score_block, Pending};

mod gather;
mod outputs;
mod scoring;

/// The `format` attribute of `variants.h5`.
pub const VARIANTS_FORMAT: &str = "ferrosea-variants";

/// Alleles scored per block (the unit of reading, inference and writing).
const BLOCK: usize = 1024;

/// One piece of a VCF: `K/N` takes the K-th (1-based) of N contiguous runs of records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// Which piece, 1-based.
    pub k: usize,
    /// Of how many.
    pub n: usize,
}

impl std::str::FromStr for Chunk {
    type Err = String;
    fn from_str(s: &str) -> Result<Chunk, String> {
        let bad = || format!("'{s}' is not a chunk: expected K/N with 1 <= K <= N");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (k, n): (usize, usize) = (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
        if k == 0 || n == 0 || k > n {
            return Err(bad());
        }
        Ok(Chunk { k, n })
    }
}

impl Chunk {
    /// The record indices of this piece of `records`.
    pub fn range(&self, records: usize) -> std::ops::Range<usize> {
        (self.k - 1) * records / self.n..self.k * records / self.n
    }
}

/// What to score and where to write.
#[derive(clap::Args, Clone, Debug)]
pub struct VariantsOptions {
    /// The checkpoint, batch size and device.
    #[command(flatten)]
    pub run: RunArgs,
    /// Reference genome FASTA (plain with .fai, or bgzip with .fai and .gzi).
    #[arg(long)]
    pub genome: PathBuf,
    /// The variants: VCF 4.x, plain or bgzip.
    #[arg(long)]
    pub vcf: PathBuf,
    /// Output directory.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Score the mean of the forward and reverse-complement predictions (as DeepSEA did).
    #[arg(long)]
    pub rc_average: bool,
    /// A background from `ferrosea-analyze background` (same checkpoint): adds e-values.
    #[arg(long)]
    pub background: Option<PathBuf>,
    /// A REF that does not match the genome is an error (default: scored as written and
    /// flagged ref_match=False, as Selene does).
    #[arg(long)]
    pub strict_ref: bool,
    /// CHROM names missing from the genome are tried with this prefix added or removed
    /// (`--chrom-alias chr` maps 1 to chr1 and chr1 to 1).
    #[arg(long, value_name = "PREFIX")]
    pub chrom_alias: Option<String>,
    /// Score only piece K of N of the records (for scatter-gather; join with `gather`).
    #[arg(long, value_name = "K/N")]
    pub chunk: Option<Chunk>,
    /// Prefix of the Selene-layout TSVs (default: the VCF's name without .vcf[.gz]).
    #[arg(long)]
    pub prefix: Option<String>,
}

/// What a variants run did (also `summary.json`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct VariantsReport {
    /// The checkpoint JSON used.
    pub checkpoint: String,
    /// The VCF.
    pub vcf: String,
    /// The piece of the VCF, when `--chunk` was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk: Option<Chunk>,
    /// VCF records read (of this piece).
    pub records: usize,
    /// Alleles (one per ALT of each record).
    pub alleles: usize,
    /// Alleles scored (rows of variants.h5).
    pub scored: usize,
    /// Alleles skipped, by reason.
    pub skipped: BTreeMap<String, usize>,
    /// Scored alleles whose REF does not match the genome.
    pub ref_mismatch: usize,
    /// Scored alleles with a base other than A, C, G, T in a window.
    pub contains_unk: usize,
    /// Targets per allele.
    pub targets: usize,
    /// The model's window.
    pub window: usize,
    /// Whether predictions were reverse-complement averaged.
    pub rc_average: bool,
    /// The background, when e-values were computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<String>,
    /// Wall time.
    pub seconds: f64,
    /// Scored alleles per second.
    pub variants_per_s: f64,
    /// Of `seconds`, the set-up before the first record is read (loading the checkpoint and
    /// hashing its weights, opening the genome and the background).
    #[serde(default)]
    pub setup_seconds: f64,
    /// The command line.
    pub command_line: String,
    /// The files written.
    pub outputs: Vec<String>,
    /// Things the user should know (no records, chromosome naming).
    pub warnings: Vec<String>,
}

impl VariantsReport {
    /// One line for the log.
    pub fn line(&self) -> String {
        format!(
            "{} records, {} alleles: {} scored, {} skipped; {:.1} s ({:.1} variants/s)",
            self.records,
            self.alleles,
            self.scored,
            self.skipped.values().sum::<usize>(),
            self.seconds,
            self.variants_per_s
        )
    }
}

/// The default TSV prefix: the VCF's file name without `.vcf`, `.vcf.gz` or `.vcf.bgz`.
pub fn default_prefix(vcf: &Path) -> String {
    let name = vcf
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "variants".into());
    for ext in [".vcf.gz", ".vcf.bgz", ".vcf", ".gz"] {
        if let Some(stem) = name.strip_suffix(ext) {
            return stem.to_string();
        }
    }
    name
}

/// The provenance attributes of variants.h5 (and of a background): the same for every
/// piece of a scattered run.
pub(crate) fn provenance(
    model: &Model,
    genome: &Path,
    rc_average: bool,
) -> Result<Vec<(String, AttrValue)>, AnalyzeError> {
    Ok(vec![
        (
            "checkpoint".into(),
            AttrValue::Str(model.json.display().to_string()),
        ),
        (
            "checkpoint_sha256".into(),
            AttrValue::Str(model.weights_sha256()?.to_string()),
        ),
        (
            "model".into(),
            AttrValue::Str(model.meta.model().arch().into()),
        ),
        ("window".into(), AttrValue::Int(model.window() as i64)),
        (
            "genome".into(),
            AttrValue::Str(genome.display().to_string()),
        ),
        ("rc_average".into(), AttrValue::Int(rc_average as i64)),
        (
            "ferrosea_version".into(),
            AttrValue::Str(env!("CARGO_PKG_VERSION").into()),
        ),
    ])
}

/// Scores the variants of `opts.vcf`.
pub fn variants(opts: &VariantsOptions) -> Result<VariantsReport, AnalyzeError> {
    let started = Instant::now();
    let mut inputs: Vec<(&str, &Path)> = vec![
        ("--checkpoint", &opts.run.checkpoint),
        ("--genome", &opts.genome),
        ("--vcf", &opts.vcf),
    ];
    if let Some(b) = &opts.background {
        inputs.push(("--background", b));
    }
    crate::check_out_dir(&opts.out, &inputs)?;
    // A summary from an earlier run would make this one look finished if it is interrupted.
    let summary_path = crate::remove_summary(&opts.out)?;
    let model = opts.run.load()?;
    let genome = Genome::open(&opts.genome, 2)?;
    let mut fetch = genome.fetcher()?;
    let background = match &opts.background {
        Some(p) => Some(Background::load(p, &model, opts.rc_average)?),
        None => None,
    };
    let mut reader = vcf::Reader::open(&opts.vcf)?;
    let range = match opts.chunk {
        Some(c) => Some(c.range(vcf::count_records(&opts.vcf)?)),
        None => None,
    };
    let layout = Layout {
        attrs: {
            let mut a = provenance(&model, &opts.genome, opts.rc_average)?;
            a.push(("vcf".into(), AttrValue::Str(opts.vcf.display().to_string())));
            if let Some(b) = &opts.background {
                a.push(("background".into(), AttrValue::Str(b.display().to_string())));
            }
            a
        },
        targets: model.targets().to_vec(),
        evalues: background.is_some(),
        prefix: opts
            .prefix
            .clone()
            .unwrap_or_else(|| default_prefix(&opts.vcf)),
        vcf_header: reader.header_lines().to_vec(),
    };
    let out = Outputs::open(&opts.out, &layout)?;
    let scorer = Scorer {
        model: &model,
        rc_average: opts.rc_average,
    };
    let mut report = VariantsReport {
        checkpoint: model.json.display().to_string(),
        vcf: opts.vcf.display().to_string(),
        chunk: opts.chunk,
        targets: model.targets().len(),
        window: model.window(),
        rc_average: opts.rc_average,
        background: opts.background.as_ref().map(|p| p.display().to_string()),
        command_line: opts.run.command_line.clone(),
        ..VariantsReport::default()
    };
    report.setup_seconds = started.elapsed().as_secs_f64();
    let bar = crate::progress_bar(opts.run.progress, None, "variants");
    let mut unknown_chroms: BTreeMap<String, Option<String>> = BTreeMap::new();
    // Blocks are scored here and written by a second thread, so that formatting, deflating
    // and writing one block overlaps the network's work on the next.
    let (tx, rx) = std::sync::mpsc::sync_channel::<BlockOut>(2);
    let out = std::thread::scope(|scope| -> Result<Outputs, AnalyzeError> {
        let writer = scope.spawn(move || -> Result<Outputs, AnalyzeError> {
            let mut out = out;
            for b in rx {
                out.block(&b)?;
            }
            Ok(out)
        });
        let scored = (|| -> Result<(), AnalyzeError> {
            let mut pending: Vec<Pending> = Vec::new();
            let mut skipped: Vec<String> = Vec::new();
            let mut fates: Vec<RecordFate> = Vec::new();
            let mut index = 0usize;
            loop {
                let rec = reader.next_record()?;
                let done = rec.is_none();
                if let Some(rec) = rec {
                    let i = index;
                    index += 1;
                    if range.as_ref().is_some_and(|r| !r.contains(&i)) {
                        continue;
                    }
                    report.records += 1;
                    let mut fate = RecordFate {
                        text: rec.text.clone(),
                        alts: Vec::new(),
                    };
                    let chrom =
                        genome_chrom(&fetch, &genome, &rec.chrom, opts.chrom_alias.as_deref());
                    for alt in &rec.alts {
                        report.alleles += 1;
                        let placed = place(&mut fetch, &rec, chrom.clone(), alt, model.window())?;
                        match placed {
                            Ok(w) => {
                                if !w.ref_match && opts.strict_ref {
                                    let mut g = fetch.fetch(
                                        chrom.as_deref().unwrap_or(&rec.chrom),
                                        rec.pos - 1,
                                        rec.pos - 1 + rec.reference.len() as u64,
                                    )?;
                                    g.make_ascii_uppercase();
                                    return Err(AnalyzeError::Input(format!(
                                        "{}: line {}: REF {} does not match the genome ({}) at {}:{} \
                                         (--strict-ref)",
                                        opts.vcf.display(),
                                        rec.line,
                                        ferrosea_dataset::clip(&rec.reference, 40),
                                        ferrosea_dataset::clip(&String::from_utf8_lossy(&g), 40),
                                        rec.chrom,
                                        rec.pos
                                    )));
                                }
                                fate.alts.push(Ok(pending.len()));
                                pending.push(Pending {
                                    row: Row {
                                        chrom: rec.chrom.clone(),
                                        pos: rec.pos,
                                        id: rec.id.clone(),
                                        reference: rec.reference.clone(),
                                        alt: alt.clone(),
                                        ref_match: w.ref_match,
                                        contains_unk: w.contains_unk,
                                    },
                                    windows: w,
                                });
                            }
                            Err(skip) => {
                                if let Skip::UnknownChrom { alias } = &skip {
                                    unknown_chroms.insert(rec.chrom.clone(), alias.clone());
                                }
                                *report.skipped.entry(skip.key().into()).or_default() += 1;
                                skipped.push(skipped_line(&rec, alt, &skip));
                                fate.alts.push(Err(skip));
                            }
                        }
                    }
                    fates.push(fate);
                }
                // Records wait for their block; records whose alleles are all skipped count too, so
                // that a VCF of unscorable records does not pile up in memory.
                if pending.len() >= BLOCK || fates.len() >= BLOCK || (done && !fates.is_empty()) {
                    let b = score_block(
                        &scorer,
                        background.as_ref(),
                        &mut pending,
                        &mut fates,
                        &mut skipped,
                        &mut report,
                    )?;
                    bar.set_position(report.scored as u64);
                    if tx.send(b).is_err() {
                        break; // the writer failed: its error is returned below
                    }
                }
                if done {
                    break;
                }
            }
            Ok(())
        })();
        drop(tx);
        let written = writer.join().expect("the writer thread does not panic");
        scored.and(written)
    })?;
    bar.finish_and_clear();
    report.warnings.extend(no_records_warning(&report));
    for (chrom, alias) in &unknown_chroms {
        report.warnings.push(match alias {
            Some(a) => format!(
                "{}: chromosome '{chrom}' is not in {}, which has '{a}': a naming mismatch? \
                 rerun with --chrom-alias chr",
                opts.vcf.display(),
                opts.genome.display()
            ),
            None => format!(
                "{}: chromosome '{chrom}' is not in {}: its variants were skipped",
                opts.vcf.display(),
                opts.genome.display()
            ),
        });
    }
    let genome_name = opts.genome.display().to_string();
    report
        .warnings
        .extend(ref_mismatch_warning(&report, &genome_name));
    report.outputs = out.finish()?;
    report.outputs.push("summary.json".into());
    report.seconds = started.elapsed().as_secs_f64();
    report.variants_per_s = report.scored as f64 / report.seconds.max(1e-9);
    crate::write_summary(&summary_path, &report)?;
    Ok(report)
}

/// The warning of a run (or chunk) without records.
fn no_records_warning(r: &VariantsReport) -> Option<String> {
    (r.records == 0).then(|| {
        format!(
            "{}: no variant records{}: the outputs are empty",
            r.vcf,
            if r.chunk.is_some() {
                " in this chunk"
            } else {
                ""
            }
        )
    })
}

/// The warning of a run (or chunk) with REF mismatches.
fn ref_mismatch_warning(r: &VariantsReport, genome: &str) -> Option<String> {
    (r.ref_mismatch > 0).then(|| {
        format!(
            "{}: {} scored alleles have a REF that does not match {genome} (ref_match=False; \
             --strict-ref makes this an error)",
            r.vcf, r.ref_mismatch
        )
    })
}
