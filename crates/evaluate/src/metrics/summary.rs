//! Per-category summaries of the per-target figures.

use polars::prelude::*;

use super::{SummaryRow, TargetRow};
use crate::EvaluateError;

/// Per category (sorted) and overall: counts, means and medians, with polars.
pub(super) fn summarise(
    rows: &[TargetRow],
    with_reference: bool,
) -> Result<Vec<SummaryRow>, EvaluateError> {
    let scored: Vec<&TargetRow> = rows.iter().filter(|r| r.roc_auc.is_some()).collect();
    let df = df!(
        "category" => scored.iter().map(|r| r.category.as_str()).collect::<Vec<_>>(),
        "roc_auc" => scored.iter().map(|r| r.roc_auc).collect::<Vec<_>>(),
        "pr_auc" => scored.iter().map(|r| r.pr_auc).collect::<Vec<_>>(),
        "reference_roc_auc" => scored.iter().map(|r| r.reference_roc_auc).collect::<Vec<_>>(),
        "reference_pr_auc" => scored.iter().map(|r| r.reference_pr_auc).collect::<Vec<_>>(),
    )?;
    let values = ["roc_auc", "pr_auc", "reference_roc_auc", "reference_pr_auc"];
    #[allow(deprecated)] // eager group_by: the lazy API would double polars' build time
    let (mean, median, count) = {
        let g = || df.group_by(["category"]);
        (
            g()?.select(values).mean()?,
            g()?.select(values).median()?,
            g()?.select(["roc_auc"]).count()?,
        )
    };
    let lookup =
        |frame: &DataFrame, column: &str, cat: &str| -> Result<Option<f64>, EvaluateError> {
            let cats = frame.column("category")?.str()?.clone();
            let vals = frame.column(column)?.cast(&DataType::Float64)?;
            let vals = vals.f64()?;
            let i = cats.iter().position(|c| c == Some(cat));
            Ok(i.and_then(|i| vals.get(i)))
        };
    let mut categories: Vec<String> = rows.iter().map(|r| r.category.clone()).collect();
    categories.sort();
    categories.dedup();
    let mut out = Vec::new();
    for cat in &categories {
        let na = rows
            .iter()
            .filter(|r| &r.category == cat && r.roc_auc.is_none())
            .count() as u64;
        out.push(SummaryRow {
            category: cat.clone(),
            targets: lookup(&count, "roc_auc_count", cat)?.unwrap_or(0.0) as u64,
            targets_na: na,
            mean_roc_auc: lookup(&mean, "roc_auc_mean", cat)?,
            median_roc_auc: lookup(&median, "roc_auc_median", cat)?,
            mean_pr_auc: lookup(&mean, "pr_auc_mean", cat)?,
            median_pr_auc: lookup(&median, "pr_auc_median", cat)?,
            mean_reference_roc_auc: with_reference
                .then(|| lookup(&mean, "reference_roc_auc_mean", cat))
                .transpose()?
                .flatten(),
            mean_reference_pr_auc: with_reference
                .then(|| lookup(&mean, "reference_pr_auc_mean", cat))
                .transpose()?
                .flatten(),
            accuracy: None,
            mean_pearson: None,
            mean_spearman: None,
            mean_mse: None,
        });
    }
    let col = |name: &str| -> Result<Float64Chunked, EvaluateError> {
        Ok(df.column(name)?.f64()?.clone())
    };
    let (roc, pr) = (col("roc_auc")?, col("pr_auc")?);
    out.push(SummaryRow {
        category: "all".into(),
        targets: scored.len() as u64,
        targets_na: (rows.len() - scored.len()) as u64,
        mean_roc_auc: roc.mean(),
        median_roc_auc: roc.median(),
        mean_pr_auc: pr.mean(),
        median_pr_auc: pr.median(),
        mean_reference_roc_auc: with_reference
            .then(|| col("reference_roc_auc"))
            .transpose()?
            .and_then(|c| c.mean()),
        mean_reference_pr_auc: with_reference
            .then(|| col("reference_pr_auc"))
            .transpose()?
            .and_then(|c| c.mean()),
        accuracy: None,
        mean_pearson: None,
        mean_spearman: None,
        mean_mse: None,
    });
    Ok(out)
}
