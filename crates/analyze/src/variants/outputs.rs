//! The outputs of a variants run: `variants.h5`, Selene's TSVs, the annotated VCF (its INFO
//! keys) and `skipped.tsv`, each under its temporary name until the run completes.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use ferrosea_dataset::{AttrValue, Column, ColumnKind, ResultsSpec, ResultsWriter, TempFile};

use super::{BLOCK, VARIANTS_FORMAT};
use crate::alleles::Skip;
use crate::scores;
use crate::vcf;
use crate::AnalyzeError;

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
pub(super) fn declares_ours(line: &str) -> bool {
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
pub(super) struct Outputs {
    h5: ResultsWriter,
    tsvs: Vec<(PathBuf, BufWriter<File>)>,
    pub(super) vcf: (PathBuf, noodles_bgzf::io::Writer<BufWriter<File>>),
    pub(super) skipped: (PathBuf, BufWriter<File>),
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
pub(super) struct Row {
    pub(super) chrom: String,
    pub(super) pos: u64,
    pub(super) id: String,
    pub(super) reference: String,
    pub(super) alt: String,
    pub(super) ref_match: bool,
    pub(super) contains_unk: bool,
}

/// The provenance and layout shared by a run and a gather, so that both write the same
/// bytes.
pub(super) struct Layout {
    pub(super) attrs: Vec<(String, AttrValue)>,
    pub(super) targets: Vec<String>,
    pub(super) evalues: bool,
    pub(super) prefix: String,
    pub(super) vcf_header: Vec<String>,
}

impl Outputs {
    pub(super) fn open(dir: &Path, layout: &Layout) -> Result<Outputs, AnalyzeError> {
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
    pub(super) fn rows(&mut self, rows: &[Row], arrays: &[Vec<f32>]) -> Result<(), AnalyzeError> {
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
    pub(super) fn skipped(&mut self, line: &str) -> Result<(), AnalyzeError> {
        let (path, w) = &mut self.skipped;
        writeln!(w, "{line}").map_err(AnalyzeError::io(path))
    }

    /// Writes a scored block: its skipped alleles, its rows and its records' annotated lines.
    pub(super) fn block(&mut self, b: &BlockOut) -> Result<(), AnalyzeError> {
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
    pub(super) fn annotated(&mut self, text: &str, info: &str) -> Result<(), AnalyzeError> {
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
    pub(super) fn finish(self) -> Result<Vec<String>, AnalyzeError> {
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
pub(super) struct BlockOut {
    /// Lines of `skipped.tsv`.
    pub(super) skipped: Vec<String>,
    /// The scored alleles.
    pub(super) rows: Vec<Row>,
    /// `ref, alt, diff, logit_diff, log2fc[, evalue]`, each `[rows, T]`.
    pub(super) arrays: Vec<Vec<f32>>,
    /// The block's records: their lines and the INFO to add.
    pub(super) annotated: Vec<(String, String)>,
}

/// A line of `skipped.tsv`: `chrom pos id ref alt reason`.
pub(super) fn skipped_line(rec: &vcf::Record, alt: &str, why: &Skip) -> String {
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

/// One VCF record and what became of each ALT (its pending row index, or why skipped).
pub(super) struct RecordFate {
    pub(super) text: String,
    pub(super) alts: Vec<Result<usize, Skip>>,
}

/// The per-ALT INFO of a record.
pub(super) fn info_for(
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
