//! Placing each ALT allele in its windows and scoring blocks of them.

use ferrosea_genome::{onehot, Fetcher, Genome};

use super::outputs::{info_for, BlockOut, RecordFate, Row};
use super::VariantsReport;
use crate::alleles::{self, Skip};
use crate::background::Background;
use crate::scores;
use crate::vcf;
use crate::{AnalyzeError, Model};

/// An allele waiting for its block to be scored.
pub(super) struct Pending {
    pub(super) row: Row,
    pub(super) windows: alleles::Windows,
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

/// Places one ALT of a record, or says why it is skipped.
pub(super) fn place(
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
pub(super) fn score_block(
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
