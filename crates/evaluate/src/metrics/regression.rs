//! `metrics` for real-valued labels: per target Pearson and Spearman correlation and mean
//! squared error between predictions and labels, summarised per category.

use std::path::PathBuf;
use std::time::Instant;

use ferrosea_dataset::Predictions;
use rayon::prelude::*;

use crate::metrics::{fmt, MetricsOptions, MetricsReport, SummaryRow, TargetRow, BLOCK_ROWS};
use crate::{write_atomically, EvaluateError};

/// Scores the real-valued labels stored in `p` and writes `per_target.tsv`, `summary.tsv`
/// and `json_path` (last).
pub(crate) fn metrics(
    opts: &MetricsOptions,
    p: &Predictions,
    started: Instant,
    json_path: PathBuf,
) -> Result<MetricsReport, EvaluateError> {
    if opts.labels.is_some() {
        return Err(EvaluateError::Usage(format!(
            "--labels: {} has real-valued labels; they are scored from the prediction file \
             itself (--labels replaces 0/1 labels only)",
            opts.predictions.display()
        )));
    }
    if opts.reference.is_some() {
        return Err(EvaluateError::Usage(
            "--reference holds published ROC/PR AUCs, which real-valued labels do not have".into(),
        ));
    }
    let (n, t) = (p.len(), p.targets().len());
    let (mut pred, mut y) = (
        vec![Vec::with_capacity(n); t],
        vec![Vec::with_capacity(n); t],
    );
    let block = BLOCK_ROWS.next_multiple_of(p.chunk_rows());
    for first in (0..n).step_by(block) {
        let end = (first + block).min(n);
        let pv = p.read_pred(first..end, 0..t)?;
        let yv = p.read_labels(first..end, 0..t)?;
        for (i, (pr, yr)) in pv.chunks_exact(t).zip(yv.chunks_exact(t)).enumerate() {
            if let Some(c) = pr.iter().position(|v| !v.is_finite()) {
                return Err(EvaluateError::Data(format!(
                    "{}: the prediction at row {}, target {} is {}: predictions must be finite",
                    p.path().display(),
                    first + i,
                    p.targets().name[c],
                    pr[c]
                )));
            }
            for c in 0..t {
                pred[c].push(pr[c]);
                y[c].push(yr[c]);
            }
        }
    }
    let targets = p.targets();
    let rows: Vec<TargetRow> = (0..t)
        .into_par_iter()
        .map(|c| TargetRow {
            name: targets.name[c].clone(),
            category: targets.category[c].clone(),
            pearson: ferrosea_metrics::pearson(&pred[c], &y[c]),
            spearman: ferrosea_metrics::spearman(&pred[c], &y[c]),
            mse: ferrosea_metrics::mean_squared_error(&pred[c], &y[c]),
            ..Default::default()
        })
        .collect();
    let scoring_seconds = started.elapsed().as_secs_f64();
    let mut notes = Vec::new();
    let constant: Vec<&str> = rows
        .iter()
        .filter(|r| r.pearson.is_none())
        .map(|r| r.name.as_str())
        .collect();
    if !constant.is_empty() {
        notes.push(format!(
            "{} targets have no correlation (constant labels or predictions): {}",
            constant.len(),
            crate::first_names(&constant)
        ));
    }
    let summary = summarise(&rows);
    std::fs::create_dir_all(&opts.out).map_err(|e| EvaluateError::Io(opts.out.clone(), e))?;
    let mut files = Vec::new();
    let mut s = String::from("name\tcategory\tn\tpearson\tspearman\tmse\n");
    for r in &rows {
        s.push_str(&format!(
            "{}\t{}\t{n}\t{}\t{}\t{}\n",
            r.name,
            r.category,
            fmt(r.pearson),
            fmt(r.spearman),
            fmt(r.mse)
        ));
    }
    let per_target = opts.out.join("per_target.tsv");
    write_atomically(&per_target, s.as_bytes())?;
    files.push(per_target);
    let mut s =
        String::from("category\ttargets\ttargets_na\tmean_pearson\tmean_spearman\tmean_mse\n");
    for r in &summary {
        s.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\n",
            r.category,
            r.targets,
            r.targets_na,
            fmt(r.mean_pearson),
            fmt(r.mean_spearman),
            fmt(r.mean_mse)
        ));
    }
    let summary_path = opts.out.join("summary.tsv");
    write_atomically(&summary_path, s.as_bytes())?;
    files.push(summary_path);
    if !opts.no_plots {
        notes.push("no plots for real-valued labels (curves need 0/1 labels)".into());
    }
    let mut report = MetricsReport {
        targets: rows,
        summary,
        notes,
        files,
        rows: n,
        scoring_seconds,
    };
    let inputs = serde_json::json!({
        "predictions": opts.predictions.display().to_string(),
        "label_kind": "real",
    });
    crate::metrics::write_report_json(&mut report, inputs, json_path)?;
    Ok(report)
}

/// Per category (sorted) and `all`: the means of the defined values.
fn summarise(rows: &[TargetRow]) -> Vec<SummaryRow> {
    let mut categories: Vec<String> = rows.iter().map(|r| r.category.clone()).collect();
    categories.sort();
    categories.dedup();
    let mean = |v: Vec<Option<f64>>| ferrosea_metrics::mean_defined(&v).map(|(m, _)| m);
    let row = |category: &str, of: Vec<&TargetRow>| {
        let scored = of.iter().filter(|r| r.pearson.is_some()).count() as u64;
        SummaryRow {
            category: category.into(),
            targets: scored,
            targets_na: of.len() as u64 - scored,
            mean_pearson: mean(of.iter().map(|r| r.pearson).collect()),
            mean_spearman: mean(of.iter().map(|r| r.spearman).collect()),
            mean_mse: mean(of.iter().map(|r| r.mse).collect()),
            ..Default::default()
        }
    };
    let mut out: Vec<SummaryRow> = categories
        .iter()
        .map(|c| row(c, rows.iter().filter(|r| &r.category == c).collect()))
        .collect();
    out.push(row("all", rows.iter().collect()));
    out
}
