//! `gather`: joining the outputs of scattered `variants --chunk i/N` runs into the bytes one
//! run over the whole VCF writes.

use std::fs::File;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};

use ferrosea_dataset::{AttrValue, ResultsReader};

use super::outputs::{declares_ours, Layout, Outputs, Row};
use super::{
    no_records_warning, ref_mismatch_warning, Chunk, VariantsReport, BLOCK, VARIANTS_FORMAT,
};
use crate::AnalyzeError;

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
    let attrs = read_attrs(&first);
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
        if r.targets().unwrap_or_default() != targets || read_attrs(&r) != layout.attrs {
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
    crate::write_summary(&summary_path, &summary)?;
    Ok(GatherReport { summary })
}

fn read_attrs(r: &ResultsReader) -> Vec<(String, AttrValue)> {
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
    out
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
