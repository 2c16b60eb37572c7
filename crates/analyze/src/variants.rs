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

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use ferrosea_dataset::{
    AttrValue, Column, ColumnKind, ResultsReader, ResultsSpec, ResultsWriter, TempFile,
};
use ferrosea_genome::{onehot, Fetcher, Genome};
use serde::{Deserialize, Serialize};

use crate::alleles::{self, Skip};
use crate::background::Background;
use crate::scores;
use crate::vcf;
use crate::{AnalyzeError, Model, RunArgs};

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

/// The names of the Selene-layout TSVs, in the order they are written.
fn tsv_names(prefix: &str) -> [String; 5] {
    [
        format!("{prefix}_diffs.tsv"),
        format!("{prefix}_abs_diffs.tsv"),
        format!("{prefix}_logits.tsv"),
        format!("{prefix}.ref_predictions.tsv"),
        format!("{prefix}.alt_predictions.tsv"),
    ]
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

/// INFO keys added to the annotated VCF (Number=A: one value per ALT, `.` when skipped).
const INFO_HEADER: [&str; 4] = [
    "##INFO=<ID=FS_MAX_ABS_DIFF,Number=A,Type=Float,Description=\"ferrosea: largest |alt - ref| probability over the targets\">",
    "##INFO=<ID=FS_MAX_TARGET,Number=A,Type=String,Description=\"ferrosea: the target of FS_MAX_ABS_DIFF\">",
    "##INFO=<ID=FS_REF_MATCH,Number=A,Type=Integer,Description=\"ferrosea: 1 when REF matches the genome\">",
    "##INFO=<ID=FS_SKIPPED,Number=A,Type=String,Description=\"ferrosea: why the allele was not scored (. when scored)\">",
];
const INFO_EVALUE: &str = "##INFO=<ID=FS_MEAN_NEG_LOG10_E,Number=A,Type=Float,Description=\"ferrosea: mean over targets of -log10 e-value against the background\">";

/// The INFO keys ferrosea writes. An input that already has them (an annotated.vcf.gz scored
/// again) has its values and their header lines replaced, not repeated.
const INFO_KEYS: [&str; 5] = [
    "FS_MAX_ABS_DIFF",
    "FS_MAX_TARGET",
    "FS_REF_MATCH",
    "FS_SKIPPED",
    "FS_MEAN_NEG_LOG10_E",
];

/// Whether a header line declares one of [`INFO_KEYS`].
fn declares_ours(line: &str) -> bool {
    line.strip_prefix("##INFO=<ID=")
        .and_then(|rest| rest.split_once(','))
        .is_some_and(|(id, _)| INFO_KEYS.contains(&id))
}

/// A target name as an INFO value (no spaces, commas, semicolons or equals signs).
fn info_value(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ' ' | ',' | ';' | '=' | '\t' => '_',
            c => c,
        })
        .collect()
}

/// The output files of one run, each under its temporary name until [`Outputs::finish`].
struct Outputs {
    h5: ResultsWriter,
    tsvs: Vec<(PathBuf, BufWriter<File>)>,
    vcf: (PathBuf, noodles_bgzf::io::Writer<BufWriter<File>>),
    skipped: (PathBuf, BufWriter<File>),
    /// The text outputs' temporary files, committed in this order by [`Outputs::finish`].
    temps: Vec<TempFile>,
    targets: Vec<String>,
}

/// Creates `path` under its temporary name (kept in `temps`) for writing.
fn create(path: &Path, temps: &mut Vec<TempFile>) -> Result<BufWriter<File>, AnalyzeError> {
    let tmp = TempFile::new(path);
    let file = File::create(tmp.path()).map_err(AnalyzeError::io(tmp.path()))?;
    temps.push(tmp);
    Ok(BufWriter::with_capacity(1 << 20, file))
}

/// One scored allele.
struct Row {
    chrom: String,
    pos: u64,
    id: String,
    reference: String,
    alt: String,
    ref_match: bool,
    contains_unk: bool,
}

/// The provenance and layout shared by a run and a gather, so that both write the same
/// bytes.
struct Layout {
    attrs: Vec<(String, AttrValue)>,
    targets: Vec<String>,
    evalues: bool,
    prefix: String,
    vcf_header: Vec<String>,
}

impl Outputs {
    fn open(dir: &Path, layout: &Layout) -> Result<Outputs, AnalyzeError> {
        let t = layout.targets.len();
        let mut arrays = vec![
            ("ref".to_string(), vec![t]),
            ("alt".to_string(), vec![t]),
            ("diff".to_string(), vec![t]),
            ("logit_diff".to_string(), vec![t]),
            ("log2fc".to_string(), vec![t]),
        ];
        if layout.evalues {
            arrays.push(("evalue".into(), vec![t]));
        }
        // The per-variant summary (also in the annotated VCF): float32 [V].
        arrays.push(("max_abs_diff".into(), vec![]));
        if layout.evalues {
            arrays.push(("mean_neg_log10_e".into(), vec![]));
        }
        let spec = ResultsSpec {
            format: VARIANTS_FORMAT.into(),
            version: 1,
            attrs: layout.attrs.clone(),
            targets: Some(layout.targets.clone()),
            columns: vec![
                ("chrom".into(), ColumnKind::Str),
                ("pos".into(), ColumnKind::Int),
                ("id".into(), ColumnKind::Str),
                ("ref".into(), ColumnKind::Str),
                ("alt".into(), ColumnKind::Str),
                ("ref_match".into(), ColumnKind::Bool),
                ("contains_unk".into(), ColumnKind::Bool),
                ("max_target".into(), ColumnKind::Str),
            ],
            arrays,
            chunk_rows: BLOCK,
            level: 4,
        };
        let h5 = ResultsWriter::create(&dir.join("variants.h5"), &spec)?;
        let header = {
            let mut h = String::from("chrom\tpos\tname\tref\talt\tstrand\tref_match\tcontains_unk");
            for n in &layout.targets {
                h.push('\t');
                h.push_str(n);
            }
            h.push('\n');
            h
        };
        let mut tsvs = Vec::new();
        let mut temps = Vec::new();
        for name in tsv_names(&layout.prefix) {
            let path = dir.join(name);
            let mut w = create(&path, &mut temps)?;
            w.write_all(header.as_bytes())
                .map_err(AnalyzeError::io(&path))?;
            tsvs.push((path, w));
        }
        let vcf_path = dir.join("annotated.vcf.gz");
        let mut vcf = noodles_bgzf::io::Writer::new(create(&vcf_path, &mut temps)?);
        let n = layout.vcf_header.len();
        let mut text = String::new();
        for (i, l) in layout.vcf_header.iter().enumerate() {
            if declares_ours(l) {
                continue;
            }
            if i + 1 == n {
                for h in INFO_HEADER {
                    text.push_str(h);
                    text.push('\n');
                }
                if layout.evalues {
                    text.push_str(INFO_EVALUE);
                    text.push('\n');
                }
            }
            text.push_str(l);
            text.push('\n');
        }
        vcf.write_all(text.as_bytes())
            .map_err(AnalyzeError::io(&vcf_path))?;
        let skipped_path = dir.join("skipped.tsv");
        let mut skipped = create(&skipped_path, &mut temps)?;
        skipped
            .write_all(b"chrom\tpos\tid\tref\talt\treason\n")
            .map_err(AnalyzeError::io(&skipped_path))?;
        Ok(Outputs {
            h5,
            tsvs,
            vcf: (vcf_path, vcf),
            skipped: (skipped_path, skipped),
            temps,
            targets: layout.targets.clone(),
        })
    }

    /// Appends scored rows: `arrays` are `ref, alt, diff, logit_diff, log2fc[, evalue]`,
    /// each `[rows, T]`.
    fn rows(&mut self, rows: &[Row], arrays: &[Vec<f32>]) -> Result<(), AnalyzeError> {
        let n = rows.len();
        let t = self.targets.len();
        let s = |f: fn(&Row) -> &String| rows.iter().map(f).cloned().collect::<Vec<_>>();
        let (chrom, id, reference, alt) = (
            s(|r| &r.chrom),
            s(|r| &r.id),
            s(|r| &r.reference),
            s(|r| &r.alt),
        );
        let pos: Vec<i64> = rows.iter().map(|r| r.pos as i64).collect();
        let ref_match: Vec<bool> = rows.iter().map(|r| r.ref_match).collect();
        let unk: Vec<bool> = rows.iter().map(|r| r.contains_unk).collect();
        // The summary columns follow from the arrays, so a gather writes them the same way.
        let (mut max_abs, mut max_target) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for d in arrays[2].chunks_exact(t.max(1)) {
            let (m, i) = scores::max_abs_diff(d).unwrap_or((0.0, 0));
            max_abs.push(m);
            max_target.push(self.targets.get(i).cloned().unwrap_or_default());
        }
        let mean_e: Option<Vec<f32>> = arrays.get(5).map(|e| {
            e.chunks_exact(t.max(1))
                .map(scores::mean_neg_log10)
                .collect()
        });
        let mut slices: Vec<&[f32]> = arrays.iter().map(Vec::as_slice).collect();
        slices.push(&max_abs);
        if let Some(e) = &mean_e {
            slices.push(e);
        }
        self.h5.append(
            n,
            &[
                Column::Str(&chrom),
                Column::Int(&pos),
                Column::Str(&id),
                Column::Str(&reference),
                Column::Str(&alt),
                Column::Bool(&ref_match),
                Column::Bool(&unk),
                Column::Str(&max_target),
            ],
            &slices,
        )?;
        // diffs, abs diffs, logits (logit_diff), ref, alt.
        let abs: Vec<f32> = arrays[2].iter().map(|v| v.abs()).collect();
        let tables: [&[f32]; 5] = [&arrays[2], &abs, &arrays[3], &arrays[0], &arrays[1]];
        let py = |b: bool| if b { "True" } else { "False" };
        for ((path, w), values) in self.tsvs.iter_mut().zip(tables) {
            let mut line = String::new();
            for (i, r) in rows.iter().enumerate() {
                line.clear();
                use std::fmt::Write as _;
                let _ = write!(
                    line,
                    "{}\t{}\t{}\t{}\t{}\t+\t{}\t{}",
                    r.chrom,
                    r.pos,
                    r.id,
                    r.reference,
                    r.alt,
                    py(r.ref_match),
                    py(r.contains_unk)
                );
                for v in &values[i * t..(i + 1) * t] {
                    let _ = write!(line, "\t{v}");
                }
                line.push('\n');
                w.write_all(line.as_bytes())
                    .map_err(AnalyzeError::io(path))?;
            }
        }
        Ok(())
    }

    /// Writes one line of `skipped.tsv` ([`skipped_line`]).
    fn skipped(&mut self, line: &str) -> Result<(), AnalyzeError> {
        let (path, w) = &mut self.skipped;
        writeln!(w, "{line}").map_err(AnalyzeError::io(path))
    }

    /// Writes a scored block: its skipped alleles, its rows and its records' annotated lines.
    fn block(&mut self, b: &BlockOut) -> Result<(), AnalyzeError> {
        for line in &b.skipped {
            self.skipped(line)?;
        }
        if !b.rows.is_empty() {
            self.rows(&b.rows, &b.arrays)?;
        }
        for (text, info) in &b.annotated {
            self.annotated(text, info)?;
        }
        Ok(())
    }

    /// Writes an input line to the annotated VCF with `info` appended to its INFO column
    /// (in place of any [`INFO_KEYS`] it had).
    fn annotated(&mut self, text: &str, info: &str) -> Result<(), AnalyzeError> {
        let mut cols: Vec<&str> = text.split('\t').collect();
        let kept: Vec<&str> = cols[7]
            .split(';')
            .filter(|kv| {
                let key = kv.split_once('=').map_or(*kv, |(k, _)| k);
                !kv.is_empty() && *kv != "." && !INFO_KEYS.contains(&key)
            })
            .collect();
        let merged = if kept.is_empty() {
            info.to_string()
        } else {
            format!("{};{info}", kept.join(";"))
        };
        cols[7] = &merged;
        let (path, w) = &mut self.vcf;
        w.write_all(cols.join("\t").as_bytes())
            .and_then(|()| w.write_all(b"\n"))
            .map_err(AnalyzeError::io(path))
    }

    /// Closes and renames every file into place; returns their names.
    fn finish(self) -> Result<Vec<String>, AnalyzeError> {
        let mut names = Vec::new();
        let h5 = self.h5.finish()?;
        names.push(h5);
        let Outputs {
            tsvs,
            vcf,
            skipped,
            temps,
            ..
        } = self;
        // Every text file complete before any is put in place.
        for (path, mut w) in tsvs {
            w.flush().map_err(AnalyzeError::io(&path))?;
        }
        let (path, w) = vcf;
        w.finish()
            .and_then(|mut b| b.flush())
            .map_err(AnalyzeError::io(&path))?;
        let (path, mut w) = skipped;
        w.flush().map_err(AnalyzeError::io(&path))?;
        drop(w);
        for t in temps {
            let path = t.target().to_path_buf();
            names.push(t.commit().map_err(AnalyzeError::io(&path))?);
        }
        Ok(names
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect())
    }
}

/// What one block writes, handed from the scoring loop to the writer thread.
struct BlockOut {
    /// Lines of `skipped.tsv`.
    skipped: Vec<String>,
    /// The scored alleles.
    rows: Vec<Row>,
    /// `ref, alt, diff, logit_diff, log2fc[, evalue]`, each `[rows, T]`.
    arrays: Vec<Vec<f32>>,
    /// The block's records: their lines and the INFO to add.
    annotated: Vec<(String, String)>,
}

/// A line of `skipped.tsv`: `chrom pos id ref alt reason`.
fn skipped_line(rec: &vcf::Record, alt: &str, why: &Skip) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}",
        rec.chrom,
        rec.pos,
        rec.id,
        rec.reference,
        alt,
        why.reason()
    )
}

/// An allele waiting for its block to be scored.
struct Pending {
    row: Row,
    windows: alleles::Windows,
}

/// One VCF record and what became of each ALT (its pending row index, or why skipped).
struct RecordFate {
    text: String,
    alts: Vec<Result<usize, Skip>>,
}

/// The per-ALT INFO of a record.
fn info_for(
    fate: &RecordFate,
    summaries: &[(f32, String, bool, Option<f32>)],
    evalues: bool,
) -> String {
    let mut cols: Vec<Vec<String>> = vec![Vec::new(); if evalues { 5 } else { 4 }];
    for a in &fate.alts {
        match a {
            Ok(i) => {
                let (m, target, ref_match, e) = &summaries[*i];
                cols[0].push(format!("{m}"));
                cols[1].push(info_value(target));
                cols[2].push(if *ref_match { "1".into() } else { "0".into() });
                cols[3].push(".".into());
                if evalues {
                    cols[4].push(format!("{}", e.unwrap_or(0.0)));
                }
            }
            Err(skip) => {
                for c in cols.iter_mut().take(3) {
                    c.push(".".into());
                }
                cols[3].push(info_value(&skip.reason()));
                if evalues {
                    cols[4].push(".".into());
                }
            }
        }
    }
    INFO_KEYS
        .iter()
        .zip(&cols)
        .map(|(k, v)| format!("{k}={}", v.join(",")))
        .collect::<Vec<_>>()
        .join(";")
}

/// The scoring context of one run.
pub(crate) struct Scorer<'a> {
    pub model: &'a Model,
    pub rc_average: bool,
}

impl Scorer<'_> {
    /// Reference and alternative probabilities `[n, T]` of `n` window pairs.
    pub fn probabilities(
        &self,
        pairs: &[(&[u8], &[u8])],
    ) -> Result<(Vec<f32>, Vec<f32>), AnalyzeError> {
        let l = self.model.window();
        let mut xr = vec![0f32; pairs.len() * 4 * l];
        let mut xa = vec![0f32; pairs.len() * 4 * l];
        for (i, (r, a)) in pairs.iter().enumerate() {
            onehot::encode_channels(r, &mut xr[i * 4 * l..(i + 1) * 4 * l]);
            onehot::encode_channels(a, &mut xa[i * 4 * l..(i + 1) * 4 * l]);
        }
        Ok((
            self.model.probabilities(&xr, self.rc_average)?,
            self.model.probabilities(&xa, self.rc_average)?,
        ))
    }
}

/// Resolves a VCF chromosome name against the genome: `Ok(name)` or why it is skipped.
pub(crate) fn genome_chrom(
    fetch: &Fetcher,
    genome: &Genome,
    chrom: &str,
    alias_prefix: Option<&str>,
) -> Result<String, Skip> {
    if fetch.length(chrom).is_some() {
        return Ok(chrom.to_string());
    }
    if let Some(p) = alias_prefix {
        let other = match chrom.strip_prefix(p) {
            Some(bare) => bare.to_string(),
            None => format!("{p}{chrom}"),
        };
        if fetch.length(&other).is_some() {
            return Ok(other);
        }
    }
    Err(Skip::UnknownChrom {
        alias: alleles::alias(chrom, genome.sequences().iter().map(|s| s.name.as_str())),
    })
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

/// Places one ALT of a record, or says why it is skipped.
fn place(
    fetch: &mut Fetcher,
    rec: &vcf::Record,
    chrom: Result<String, Skip>,
    alt: &str,
    window: usize,
) -> Result<Result<alleles::Windows, Skip>, AnalyzeError> {
    if let Err(s) = alleles::check_alt(alt) {
        return Ok(Err(s));
    }
    if !alleles::valid_bases(&rec.reference) {
        return Ok(Err(Skip::BadLetters));
    }
    let chrom = match chrom {
        Ok(c) => c,
        Err(s) => return Ok(Err(s)),
    };
    Ok(alleles::windows(
        fetch,
        &chrom,
        rec.pos,
        &rec.reference,
        alt,
        window,
    )?)
}

/// Scores the pending alleles and writes their rows and their records' annotated lines.
fn score_block(
    scorer: &Scorer,
    background: Option<&Background>,
    pending: &mut Vec<Pending>,
    fates: &mut Vec<RecordFate>,
    skipped: &mut Vec<String>,
    report: &mut VariantsReport,
) -> Result<BlockOut, AnalyzeError> {
    let t = scorer.model.targets().len();
    let pairs: Vec<(&[u8], &[u8])> = pending
        .iter()
        .map(|p| {
            (
                p.windows.reference.as_slice(),
                p.windows.alternative.as_slice(),
            )
        })
        .collect();
    let (pr, pa) = if pairs.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        scorer.probabilities(&pairs)?
    };
    let n = pending.len();
    let mut arrays = vec![pr.clone(), pa.clone(), Vec::new(), Vec::new(), Vec::new()];
    let mut evalue = Vec::new();
    let mut summaries = Vec::with_capacity(n);
    for i in 0..n {
        let s = scores::scores(&pr[i * t..(i + 1) * t], &pa[i * t..(i + 1) * t]);
        let e = background.map(|b| b.evalues(&s.magnitude));
        let (m, target) = scores::max_abs_diff(&s.diff).unwrap_or((0.0, 0));
        summaries.push((
            m,
            scorer
                .model
                .targets()
                .get(target)
                .cloned()
                .unwrap_or_default(),
            pending[i].row.ref_match,
            e.as_deref().map(scores::mean_neg_log10),
        ));
        arrays[2].extend(s.diff);
        arrays[3].extend(s.logit_diff);
        arrays[4].extend(s.log2fc);
        if let Some(e) = e {
            evalue.extend(e);
        }
    }
    if background.is_some() {
        arrays.push(evalue);
    }
    let rows: Vec<Row> = pending.drain(..).map(|p| p.row).collect();
    report.ref_mismatch += rows.iter().filter(|r| !r.ref_match).count();
    report.contains_unk += rows.iter().filter(|r| r.contains_unk).count();
    report.scored += rows.len();
    let annotated = fates
        .drain(..)
        .map(|fate| {
            let info = info_for(&fate, &summaries, background.is_some());
            (fate.text, info)
        })
        .collect();
    Ok(BlockOut {
        skipped: std::mem::take(skipped),
        rows,
        arrays,
        annotated,
    })
}

/// Which chunk outputs to join, and where.
#[derive(clap::Args, Clone, Debug)]
pub struct GatherOptions {
    /// The output directories of `variants --chunk 1/N` ... `N/N`, in chunk order.
    #[arg(required = true, num_args = 1..)]
    pub chunks: Vec<PathBuf>,
    /// The output directory of the whole.
    #[arg(short, long)]
    pub out: PathBuf,
}

/// What a gather did.
#[derive(Clone, Debug)]
pub struct GatherReport {
    /// The joined summary.
    pub summary: VariantsReport,
}

impl GatherReport {
    /// One line for the log.
    pub fn line(&self) -> String {
        format!("gathered: {}", self.summary.line())
    }
}

/// Joins the outputs of scattered `variants` runs (`--chunk 1/N` ... `N/N`) into the outputs
/// one run over the whole VCF writes: the same rows, the same bytes.
pub fn gather(opts: &GatherOptions) -> Result<GatherReport, AnalyzeError> {
    let started = Instant::now();
    let inputs: Vec<(&str, &Path)> = opts.chunks.iter().map(|c| ("chunk", c.as_path())).collect();
    crate::check_out_dir(&opts.out, &inputs)?;
    let summary_path = crate::remove_summary(&opts.out)?;
    let mut summaries = Vec::new();
    for (i, dir) in opts.chunks.iter().enumerate() {
        let p = dir.join("summary.json");
        let text = std::fs::read_to_string(&p).map_err(|e| {
            AnalyzeError::Input(format!(
                "{}: {e}: not a finished `variants` output (its summary.json is written last)",
                p.display()
            ))
        })?;
        let s: VariantsReport = serde_json::from_str(&text)
            .map_err(|e| AnalyzeError::Input(format!("{}: {e}", p.display())))?;
        let want = Chunk {
            k: i + 1,
            n: opts.chunks.len(),
        };
        if s.chunk != Some(want) {
            return Err(AnalyzeError::Mismatch(format!(
                "{} is chunk {} of the VCF, expected {}/{} (give the chunk directories in \
                 order, all of them)",
                dir.display(),
                s.chunk
                    .map_or("(none)".into(), |c| format!("{}/{}", c.k, c.n)),
                want.k,
                want.n
            )));
        }
        summaries.push(s);
    }
    let first = ResultsReader::open(&opts.chunks[0].join("variants.h5"), VARIANTS_FORMAT)?;
    let targets = first.targets().unwrap_or_default();
    let attrs = read_attrs(&first)?;
    let evalues = first.array_shape("evalue").is_some();
    let prefix = tsv_prefix(&opts.chunks[0])?;
    let vcf_header = vcf_header_lines(&opts.chunks[0].join("annotated.vcf.gz"))?;
    let layout = Layout {
        attrs,
        targets: targets.clone(),
        evalues,
        prefix: prefix.clone(),
        vcf_header,
    };
    let mut out = Outputs::open(&opts.out, &layout)?;
    for dir in &opts.chunks {
        let r = ResultsReader::open(&dir.join("variants.h5"), VARIANTS_FORMAT)?;
        if r.targets().unwrap_or_default() != targets || read_attrs(&r)? != layout.attrs {
            return Err(AnalyzeError::Mismatch(format!(
                "{}: scored with another checkpoint, genome or settings than {}",
                dir.display(),
                opts.chunks[0].display()
            )));
        }
        let mut names = vec!["ref", "alt", "diff", "logit_diff", "log2fc"];
        if evalues {
            names.push("evalue");
        }
        let mut a = 0;
        while a < r.rows() {
            let b = (a + BLOCK).min(r.rows());
            let strings = |c: &str| r.strings(c, a..b);
            let (chrom, id, reference, alt) = (
                strings("chrom")?,
                strings("id")?,
                strings("ref")?,
                strings("alt")?,
            );
            let pos = r.ints("pos", a..b)?;
            let ref_match = r.bools("ref_match", a..b)?;
            let unk = r.bools("contains_unk", a..b)?;
            let rows: Vec<Row> = (0..b - a)
                .map(|i| Row {
                    chrom: chrom[i].clone(),
                    pos: pos[i] as u64,
                    id: id[i].clone(),
                    reference: reference[i].clone(),
                    alt: alt[i].clone(),
                    ref_match: ref_match[i],
                    contains_unk: unk[i],
                })
                .collect();
            let arrays = names
                .iter()
                .map(|n| r.array(n, a..b))
                .collect::<Result<Vec<_>, _>>()?;
            out.rows(&rows, &arrays)?;
            a = b;
        }
        copy_lines(&dir.join("skipped.tsv"), &mut out.skipped.1, 1)?;
        let vcf = dir.join("annotated.vcf.gz");
        let (path, w) = &mut out.vcf;
        for line in crate::open_text(&vcf)?.lines() {
            let line = line.map_err(AnalyzeError::io(&vcf))?;
            if !line.starts_with('#') {
                w.write_all(line.as_bytes())
                    .and_then(|()| w.write_all(b"\n"))
                    .map_err(AnalyzeError::io(path))?;
            }
        }
    }
    let mut summary = VariantsReport {
        checkpoint: summaries[0].checkpoint.clone(),
        vcf: summaries[0].vcf.clone(),
        chunk: None,
        targets: summaries[0].targets,
        window: summaries[0].window,
        rc_average: summaries[0].rc_average,
        background: summaries[0].background.clone(),
        command_line: ferrosea_dataset::command_line(),
        ..VariantsReport::default()
    };
    for s in &summaries {
        summary.records += s.records;
        summary.alleles += s.alleles;
        summary.scored += s.scored;
        summary.ref_mismatch += s.ref_mismatch;
        summary.contains_unk += s.contains_unk;
        for (k, v) in &s.skipped {
            *summary.skipped.entry(k.clone()).or_default() += v;
        }
        summary.seconds += s.seconds;
        summary.setup_seconds += s.setup_seconds;
    }
    // The warnings of one run over the whole VCF: those from counts (no records, REF
    // mismatches) anew from the totals, the chromosome ones once each, in name order.
    let genome = layout
        .attrs
        .iter()
        .find(|(k, _)| k == "genome")
        .and_then(|(_, v)| match v {
            AttrValue::Str(g) => Some(g.clone()),
            _ => None,
        })
        .unwrap_or_default();
    let mut chroms: Vec<String> = Vec::new();
    for s in &summaries {
        let own = [no_records_warning(s), ref_mismatch_warning(s, &genome)];
        for w in &s.warnings {
            if !own.iter().flatten().any(|o| o == w) && !chroms.contains(w) {
                chroms.push(w.clone());
            }
        }
    }
    chroms.sort();
    summary.warnings.extend(no_records_warning(&summary));
    summary.warnings.extend(chroms);
    summary
        .warnings
        .extend(ref_mismatch_warning(&summary, &genome));
    summary.variants_per_s = summary.scored as f64 / summary.seconds.max(1e-9);
    summary.outputs = out.finish()?;
    summary.outputs.push("summary.json".into());
    let _ = started;
    crate::write_summary(&summary_path, &summary)?;
    Ok(GatherReport { summary })
}

fn read_attrs(r: &ResultsReader) -> Result<Vec<(String, AttrValue)>, AnalyzeError> {
    let mut out = Vec::new();
    for name in [
        "checkpoint",
        "checkpoint_sha256",
        "model",
        "window",
        "genome",
        "rc_average",
        "ferrosea_version",
        "vcf",
        "background",
    ] {
        if let Some(s) = r.attr_str(name) {
            out.push((name.to_string(), AttrValue::Str(s)));
        } else if let Some(i) = r.attr_int(name) {
            out.push((name.to_string(), AttrValue::Int(i)));
        }
    }
    Ok(out)
}

/// The TSV prefix of a variants output directory (from its `*_diffs.tsv`).
fn tsv_prefix(dir: &Path) -> Result<String, AnalyzeError> {
    for e in std::fs::read_dir(dir).map_err(AnalyzeError::io(dir))? {
        let name = e.map_err(AnalyzeError::io(dir))?.file_name();
        let name = name.to_string_lossy();
        if let Some(p) = name.strip_suffix("_diffs.tsv") {
            if !p.ends_with("_abs") {
                return Ok(p.to_string());
            }
        }
    }
    Err(AnalyzeError::Input(format!(
        "{}: no <prefix>_diffs.tsv: not a `variants` output",
        dir.display()
    )))
}

/// The header lines of an annotated VCF, without the INFO lines ferrosea added.
fn vcf_header_lines(path: &Path) -> Result<Vec<String>, AnalyzeError> {
    let mut out = Vec::new();
    for line in crate::open_text(path)?.lines() {
        let line = line.map_err(AnalyzeError::io(path))?;
        if !line.starts_with('#') {
            break;
        }
        if declares_ours(&line) {
            continue;
        }
        let last = line.starts_with("#CHROM");
        out.push(line);
        if last {
            break;
        }
    }
    Ok(out)
}

/// Appends the lines of `path` after its first `skip` lines to `w`.
fn copy_lines(path: &Path, w: &mut BufWriter<File>, skip: usize) -> Result<(), AnalyzeError> {
    let f = File::open(path).map_err(AnalyzeError::io(path))?;
    for line in std::io::BufReader::new(f).lines().skip(skip) {
        let line = line.map_err(AnalyzeError::io(path))?;
        writeln!(w, "{line}").map_err(AnalyzeError::io(path))?;
    }
    Ok(())
}

/// Appends the TSV rows of a chunk (after its header).
#[allow(dead_code)]
fn copy_tsv(path: &Path, w: &mut BufWriter<File>) -> Result<(), AnalyzeError> {
    copy_lines(path, w, 1)
}
