//! Published per-target figures to compare with (`--reference`).
//!
//! A tab-separated table with a header line. The target name comes from a column called
//! `name` (or `target`, `feature`), or, for DeepSEA's supplementary table, from its
//! `Cell Type`, `TF/DNase/HistoneMark` and `Treatment` columns joined with `|` (DeepSEA's
//! own naming). ROC AUC comes from a column called `roc_auc`, `auc`, `auroc` or `roc auc`;
//! PR AUC from `pr_auc`, `auprc`, `average_precision` or `pr auc` (case ignored); a table
//! needs at least one of them. Decimal commas (`0,9103`) are read as points; `NA` (also with
//! a comment after it), `NaN`, `N/A` and empty cells are missing values.
//!
//! Names are matched exactly; a name that repeats is matched occurrence by occurrence, and a
//! name without a match is tried again with DeepSEA's `|None` (untreated) suffix, so that
//! `K562|CTCF` finds `K562|CTCF|None`, then loosely (case, `-` and white space ignored).

use std::path::{Path, PathBuf};

use crate::EvaluateError;

/// A reference table.
#[derive(Clone, Debug, Default)]
pub struct Reference {
    /// The file.
    pub path: PathBuf,
    /// Target names, in file order (may repeat).
    pub names: Vec<String>,
    /// ROC AUC per row, when the table has it.
    pub roc_auc: Option<Vec<Option<f64>>>,
    /// PR AUC per row, when the table has it.
    pub pr_auc: Option<Vec<Option<f64>>>,
}

const NAME_COLUMNS: [&str; 4] = ["name", "target", "feature", "target_name"];
const ROC_COLUMNS: [&str; 5] = ["roc_auc", "auc", "auroc", "roc auc", "rocauc"];
const PR_COLUMNS: [&str; 6] = [
    "pr_auc",
    "auprc",
    "average_precision",
    "pr auc",
    "prauc",
    "ap",
];
const DEEPSEA_NAME: [&str; 3] = ["cell type", "tf/dnase/histonemark", "treatment"];

/// Reads a reference table.
pub fn read(path: &Path) -> Result<Reference, EvaluateError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| EvaluateError::Io(path.to_path_buf(), e))?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'));
    let (_, header) = lines
        .next()
        .ok_or_else(|| EvaluateError::Data(format!("{}: empty reference table", path.display())))?;
    let cols: Vec<String> = header
        .split('\t')
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    let find = |names: &[&str]| names.iter().find_map(|n| cols.iter().position(|c| c == n));
    let name_cols: Vec<usize> = match find(&NAME_COLUMNS) {
        Some(c) => vec![c],
        None => DEEPSEA_NAME
            .iter()
            .map(|n| cols.iter().position(|c| c == n))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                EvaluateError::Data(format!(
                    "{}: no target name column: expected one called name, target or feature, or \
                     DeepSEA's 'Cell Type', 'TF/DNase/HistoneMark' and 'Treatment'; the header \
                     has: {}",
                    path.display(),
                    header.replace('\t', ", ")
                ))
            })?,
    };
    let roc = find(&ROC_COLUMNS);
    let pr = find(&PR_COLUMNS);
    if roc.is_none() && pr.is_none() {
        return Err(EvaluateError::Data(format!(
            "{}: no AUC column: expected roc_auc (or auc, auroc) and/or pr_auc (or auprc, \
             average_precision); the header has: {}",
            path.display(),
            header.replace('\t', ", ")
        )));
    }
    let mut r = Reference {
        path: path.to_path_buf(),
        roc_auc: roc.map(|_| Vec::new()),
        pr_auc: pr.map(|_| Vec::new()),
        ..Reference::default()
    };
    for (i, line) in lines {
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() != cols.len() {
            return Err(EvaluateError::Data(format!(
                "{}:{}: {} fields, the header has {}",
                path.display(),
                i + 1,
                fields.len(),
                cols.len()
            )));
        }
        let name: Vec<&str> = name_cols.iter().map(|&c| fields[c].trim()).collect();
        r.names.push(name.join("|"));
        for (col, values) in [(roc, &mut r.roc_auc), (pr, &mut r.pr_auc)] {
            if let (Some(c), Some(values)) = (col, values.as_mut()) {
                values.push(number(fields[c]).map_err(|v| {
                    EvaluateError::Data(format!(
                        "{}:{}: column {}: '{v}' is not a number",
                        path.display(),
                        i + 1,
                        cols[c]
                    ))
                })?);
            }
        }
    }
    Ok(r)
}

/// A number with a decimal point or comma; `None` for a missing value.
fn number(s: &str) -> Result<Option<f64>, String> {
    let t = s.trim();
    // "NA", "NaN", "N/A", and DeepSEA's "NA (No positive in Test region)".
    let first = t.split([' ', '(']).next().unwrap_or("");
    if t.is_empty()
        || ["na", "nan", "n/a"]
            .iter()
            .any(|m| first.eq_ignore_ascii_case(m))
    {
        return Ok(None);
    }
    t.replace(',', ".")
        .parse::<f64>()
        .map(Some)
        .map_err(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_deepsea_and_plain_tables() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.tsv");
        std::fs::write(
            &a,
            "Cell Type\tTF/DNase/HistoneMark\tTreatment\tFile accession\tAUC\tAUPRC\n\
             8988T\tDNase\tNone\tx.narrowPeak\t0,910351436460982\t0,4010\n\
             K562\tBRF1\tNone\ty.narrowPeak\tNA (No positive in Test region)\t\n",
        )
        .unwrap();
        let r = read(&a).unwrap();
        assert_eq!(r.names, ["8988T|DNase|None", "K562|BRF1|None"]);
        assert_eq!(r.roc_auc, Some(vec![Some(0.910351436460982), None]));
        assert_eq!(r.pr_auc, Some(vec![Some(0.401), None]));

        let b = dir.path().join("b.tsv");
        std::fs::write(&b, "name\troc_auc\nCTCF\t0.9\nYY1\tzero\n").unwrap();
        let e = read(&b).unwrap_err().to_string();
        assert!(
            e.contains("b.tsv:3: column roc_auc: 'zero' is not a number"),
            "{e}"
        );
        std::fs::write(&b, "target\tscore\nCTCF\t0.9\n").unwrap();
        let e = read(&b).unwrap_err().to_string();
        assert!(e.contains("no AUC column"), "{e}");
        std::fs::write(&b, "name\tauc\nCTCF\n").unwrap();
        let e = read(&b).unwrap_err().to_string();
        assert!(e.contains("b.tsv:2: 1 fields, the header has 2"), "{e}");
    }
}
