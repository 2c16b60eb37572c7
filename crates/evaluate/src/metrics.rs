//! `metrics`: per-target ROC AUC and PR AUC of a prediction file, summaries, plots.
//!
//! Memory stays bounded whatever the number of targets: the labels are kept as bits (52 MB
//! for DeepSEA's test set) and the predictions stream a band of targets at a time (the
//! prediction file's tile width, 64 by default: 116 MB at 455,024 rows), read by one thread
//! while the previous band is ranked on all cores.

use std::path::PathBuf;
use std::sync::mpsc::sync_channel;
use std::time::Instant;

use ferrosea_dataset::{LabelKind, Predictions};
use ferrosea_metrics::Ranked;
use polars::prelude::*;
use rayon::prelude::*;
use serde::Serialize;

use crate::labels::{self, LabelColumns};
use crate::plots::{self, Curve, Group, Pair};
use crate::reference;
use crate::{write_atomically, EvalError};

/// What to score and where to write the report.
#[derive(Clone, Debug)]
pub struct MetricsOptions {
    /// The prediction file.
    pub predictions: PathBuf,
    /// A dataset file whose labels replace those stored with the predictions.
    pub labels: Option<PathBuf>,
    /// The report directory (created when missing).
    pub out: PathBuf,
    /// Targets with fewer positives get no metrics (NA), like Selene's threshold.
    pub min_positives: u64,
    /// Published per-target figures to compare with.
    pub reference: Option<PathBuf>,
    /// Targets whose curves to draw; `None`: the best, median and worst few.
    pub plot_targets: Option<Vec<String>>,
    /// Draw no plots.
    pub no_plots: bool,
    /// 0/1 labels: also each target's accuracy when probabilities of at least this are
    /// called positive (class labels always get accuracy, from the most probable class).
    pub threshold: Option<f64>,
}

/// One target's line of `per_target.tsv`.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct TargetRow {
    /// Target name.
    pub name: String,
    /// Its category (TF, DNase, Histone, ...).
    pub category: String,
    /// Positive rows.
    pub n_pos: u64,
    /// Negative rows.
    pub n_neg: u64,
    /// ROC AUC; `None` without enough positives or without negatives.
    pub roc_auc: Option<f64>,
    /// PR AUC (average precision); `None` like `roc_auc`.
    pub pr_auc: Option<f64>,
    /// The reference's ROC AUC, with `--reference`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_roc_auc: Option<f64>,
    /// The reference's PR AUC, with `--reference`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_pr_auc: Option<f64>,
    /// Class labels: the fraction of this class's rows whose most probable class is it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// Real labels: Pearson's correlation of predictions and labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pearson: Option<f64>,
    /// Real labels: Spearman's rank correlation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spearman: Option<f64>,
    /// Real labels: mean squared error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mse: Option<f64>,
}

/// One line of `summary.tsv`: a category, or `all`.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct SummaryRow {
    /// Category, or `all`.
    pub category: String,
    /// Targets with metrics.
    pub targets: u64,
    /// Targets without (too few positives, or no negatives).
    pub targets_na: u64,
    /// Mean ROC AUC.
    pub mean_roc_auc: Option<f64>,
    /// Median ROC AUC.
    pub median_roc_auc: Option<f64>,
    /// Mean PR AUC.
    pub mean_pr_auc: Option<f64>,
    /// Median PR AUC.
    pub median_pr_auc: Option<f64>,
    /// Mean reference ROC AUC over the same targets, with `--reference`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_reference_roc_auc: Option<f64>,
    /// Mean reference PR AUC over the same targets, with `--reference`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_reference_pr_auc: Option<f64>,
    /// Class labels: the fraction of the rows whose most probable class is theirs (`all`),
    /// or the mean per-class accuracy of a category.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// Real labels: mean Pearson correlation over the targets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_pearson: Option<f64>,
    /// Real labels: mean Spearman correlation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_spearman: Option<f64>,
    /// Real labels: mean of the targets' mean squared errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_mse: Option<f64>,
}

/// What `metrics` found and wrote.
#[derive(Clone, Debug, Serialize)]
pub struct MetricsReport {
    /// Per target, in file order.
    pub targets: Vec<TargetRow>,
    /// Per category (sorted), then `all`.
    pub summary: Vec<SummaryRow>,
    /// Things the user should know (alignment by name, unmatched reference names).
    pub notes: Vec<String>,
    /// Files written, metrics.json last.
    pub files: Vec<PathBuf>,
    /// Rows scored.
    pub rows: usize,
    /// Seconds spent reading and ranking (without plots).
    pub scoring_seconds: f64,
}

/// Scores `opts.predictions` and writes the report into `opts.out`.
pub fn metrics(opts: &MetricsOptions) -> Result<MetricsReport, EvalError> {
    let started = Instant::now();
    let p = Predictions::open(&opts.predictions)?;
    if p.is_empty() {
        return Err(EvalError::Data(format!(
            "{}: the prediction file has no rows",
            opts.predictions.display()
        )));
    }
    std::fs::create_dir_all(&opts.out).map_err(|e| EvalError::Io(opts.out.clone(), e))?;
    let mut inputs = vec![("--predictions", opts.predictions.as_path())];
    inputs.extend(opts.labels.as_deref().map(|l| ("--labels", l)));
    inputs.extend(opts.reference.as_deref().map(|r| ("--reference", r)));
    for name in ["per_target.tsv", "summary.tsv", "metrics.json"] {
        crate::check_output(&opts.out.join(name), &inputs)?;
    }
    // metrics.json marks a finished report: an older one must not stand beside the tables
    // of a run that fails or is killed from here on.
    let json_path = opts.out.join("metrics.json");
    match std::fs::remove_file(&json_path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(EvalError::Io(json_path, e));
        }
        _ => {}
    }
    let reference = opts.reference.as_deref().map(reference::read).transpose()?;
    let mut notes = Vec::new();
    let kind = p.labels();
    if kind == LabelKind::Real {
        return crate::regression::metrics(opts, &p, started, json_path);
    }
    let labels = match &opts.labels {
        None => labels::from_predictions(&p)?,
        Some(path) => {
            let (l, note) = labels::from_dataset(&p, path)?;
            notes.extend(note);
            l
        }
    };
    if let Some(th) = opts.threshold {
        if !(0.0..=1.0).contains(&th) {
            return Err(EvalError::Usage(format!(
                "--threshold {th}: expected a probability from 0 to 1"
            )));
        }
    }
    let threshold = opts.threshold.filter(|_| kind == LabelKind::Binary);
    let counts = score_all(&p, &labels, threshold)?;
    let scoring_seconds = started.elapsed().as_secs_f64();
    let targets = p.targets();
    let mut rows: Vec<TargetRow> = counts
        .iter()
        .enumerate()
        .map(|(t, r)| {
            let scored = r.pos >= opts.min_positives.max(1) && r.neg > 0;
            TargetRow {
                name: targets.name[t].clone(),
                category: targets.category[t].clone(),
                n_pos: r.pos,
                n_neg: r.neg,
                roc_auc: scored.then_some(r.roc_auc).flatten(),
                pr_auc: scored.then_some(r.pr_auc).flatten(),
                reference_roc_auc: None,
                reference_pr_auc: None,
                accuracy: r.accuracy,
                pearson: None,
                spearman: None,
                mse: None,
            }
        })
        .collect();
    let overall_accuracy = if kind == LabelKind::Class {
        let (overall, per_class) = class_accuracy(&p, &labels)?;
        for (r, a) in rows.iter_mut().zip(per_class) {
            r.accuracy = a;
        }
        Some(overall)
    } else {
        None
    };
    let na: Vec<&str> = rows
        .iter()
        .filter(|r| r.roc_auc.is_none())
        .map(|r| r.name.as_str())
        .collect();
    if !na.is_empty() {
        notes.push(format!(
            "{} targets have no metrics (fewer than {} positives, or no negatives): {}",
            na.len(),
            opts.min_positives.max(1),
            crate::first_names(&na)
        ));
    }
    if let Some(r) = &reference {
        join_reference(&mut rows, r, &mut notes)?;
    }
    let mut summary = summarise(&rows, reference.is_some())?;
    if overall_accuracy.is_some() || threshold.is_some() {
        for s in summary.iter_mut() {
            s.accuracy = if s.category == "all" && overall_accuracy.is_some() {
                overall_accuracy.flatten()
            } else {
                let a: Vec<f64> = rows
                    .iter()
                    .filter(|r| s.category == "all" || r.category == s.category)
                    .filter_map(|r| r.accuracy)
                    .collect();
                (!a.is_empty()).then(|| a.iter().sum::<f64>() / a.len() as f64)
            };
        }
    }

    let mut files = Vec::new();
    let per_target = opts.out.join("per_target.tsv");
    write_atomically(
        &per_target,
        per_target_tsv(
            &rows,
            reference.is_some(),
            overall_accuracy.is_some() || threshold.is_some(),
        )
        .as_bytes(),
    )?;
    files.push(per_target);
    let summary_path = opts.out.join("summary.tsv");
    write_atomically(
        &summary_path,
        summary_tsv(
            &summary,
            reference.is_some(),
            overall_accuracy.is_some() || threshold.is_some(),
        )
        .as_bytes(),
    )?;
    files.push(summary_path);
    if !opts.no_plots {
        files.extend(draw(opts, &p, &labels, &rows, reference.is_some())?);
    }
    let mut report = MetricsReport {
        targets: rows,
        summary,
        notes,
        files,
        rows: p.len(),
        scoring_seconds,
    };
    let json = serde_json::json!({
        "predictions": opts.predictions.display().to_string(),
        "labels": opts.labels.as_ref().map(|l| l.display().to_string()),
        "reference": opts.reference.as_ref().map(|l| l.display().to_string()),
        "min_positives": opts.min_positives.max(1),
        "threshold": threshold,
        "label_kind": kind.name(),
    });
    write_report_json(&mut report, json, json_path)?;
    Ok(report)
}

/// Writes `metrics.json` last: the format fields, `inputs` (what was scored and how), the
/// tables and the notes of `report`; adds it to the report's files.
pub(crate) fn write_report_json(
    report: &mut MetricsReport,
    inputs: serde_json::Value,
    json_path: PathBuf,
) -> Result<(), EvalError> {
    let mut json = serde_json::json!({
        "format": "ferrosea-metrics",
        "format_version": 1,
    });
    let map = json.as_object_mut().expect("an object");
    if let serde_json::Value::Object(inputs) = inputs {
        map.extend(inputs);
    }
    map.insert("rows".into(), report.rows.into());
    map.insert(
        "summary".into(),
        serde_json::to_value(&report.summary).expect("serialisable"),
    );
    map.insert(
        "targets".into(),
        serde_json::to_value(&report.targets).expect("serialisable"),
    );
    map.insert(
        "notes".into(),
        serde_json::to_value(&report.notes).expect("serialisable"),
    );
    map.insert("ferrosea_version".into(), env!("CARGO_PKG_VERSION").into());
    let text = serde_json::to_string_pretty(&json).expect("serialisable") + "\n";
    write_atomically(&json_path, text.as_bytes())?;
    report.files.push(json_path);
    Ok(())
}

/// Class labels: the fraction of rows whose most probable class (the first of ties) is
/// their class, and per class the fraction of its rows predicted as it (`None` for a class
/// without rows).
fn class_accuracy(
    p: &Predictions,
    labels: &LabelColumns,
) -> Result<(Option<f64>, Vec<Option<f64>>), EvalError> {
    let (n, t) = (p.len(), p.targets().len());
    let (mut right, mut seen) = (vec![0u64; t], vec![0u64; t]);
    let block = BLOCK_ROWS.next_multiple_of(p.chunk_rows());
    for first in (0..n).step_by(block) {
        let end = (first + block).min(n);
        let pred = p.read_pred(first..end, 0..t)?;
        for (i, row) in pred.chunks_exact(t).enumerate() {
            let Some(class) = (0..t).find(|&c| labels.get(first + i, c)) else {
                continue;
            };
            seen[class] += 1;
            if ferrosea_metrics::argmax(row) == Some(class) {
                right[class] += 1;
            }
        }
    }
    let total: u64 = seen.iter().sum();
    let overall = (total > 0).then(|| right.iter().sum::<u64>() as f64 / total as f64);
    let per_class = right
        .iter()
        .zip(&seen)
        .map(|(&r, &s)| (s > 0).then(|| r as f64 / s as f64))
        .collect();
    Ok((overall, per_class))
}

/// Counts and metrics of one target.
#[derive(Clone, Copy, Debug, Default)]
struct Scored {
    pos: u64,
    neg: u64,
    roc_auc: Option<f64>,
    pr_auc: Option<f64>,
    accuracy: Option<f64>,
}

/// Rows read at a time within a band.
pub(crate) const BLOCK_ROWS: usize = 16384;

/// The columns of targets `cols` over all rows (one `Vec` per target).
fn read_band(p: &Predictions, cols: std::ops::Range<usize>) -> Result<Vec<Vec<f32>>, EvalError> {
    let (n, w) = (p.len(), cols.len());
    let mut out = vec![Vec::with_capacity(n); w];
    let block = BLOCK_ROWS.next_multiple_of(p.chunk_rows());
    for first in (0..n).step_by(block) {
        let end = (first + block).min(n);
        let v = p.read_pred(first..end, cols.clone())?;
        for row in v.chunks_exact(w) {
            for (o, &x) in out.iter_mut().zip(row) {
                o.push(x);
            }
        }
    }
    Ok(out)
}

/// Ranks every target: one thread reads bands of targets while the previous band is ranked
/// on the rayon pool.
fn score_all(
    p: &Predictions,
    labels: &LabelColumns,
    threshold: Option<f64>,
) -> Result<Vec<Scored>, EvalError> {
    let t = p.targets().len();
    let band = p.band();
    let path = p.path().to_path_buf();
    let mut scored = vec![Scored::default(); t];
    std::thread::scope(|s| -> Result<(), EvalError> {
        let (tx, rx) = sync_channel(0);
        let reader = s.spawn(move || {
            let p = match Predictions::open(&path) {
                Ok(p) => p,
                Err(e) => {
                    let _ = tx.send(Err(e.into()));
                    return;
                }
            };
            for c0 in (0..t).step_by(band) {
                let cols = read_band(&p, c0..(c0 + band).min(t)).map(|b| (c0, b));
                let failed = cols.is_err();
                if tx.send(cols).is_err() || failed {
                    return;
                }
            }
        });
        for msg in rx {
            let (c0, cols) = msg?;
            let results: Vec<Result<Scored, EvalError>> = cols
                .par_iter()
                .enumerate()
                .map(|(j, col)| score_one(p, col, labels, c0 + j, threshold))
                .collect();
            for (j, r) in results.into_iter().enumerate() {
                scored[c0 + j] = r?;
            }
        }
        reader.join().expect("the band reader does not panic");
        Ok(())
    })?;
    Ok(scored)
}

fn score_one(
    p: &Predictions,
    col: &[f32],
    labels: &LabelColumns,
    t: usize,
    threshold: Option<f64>,
) -> Result<Scored, EvalError> {
    if let Some(row) = col.iter().position(|v| !v.is_finite()) {
        return Err(EvalError::Data(format!(
            "{}: the prediction at row {row}, target {} is {}: predictions must be finite \
             probabilities",
            p.path().display(),
            p.targets().name[t],
            col[row]
        )));
    }
    let r = Ranked::new(col.iter().enumerate().map(|(i, &s)| (s, labels.get(i, t))));
    Ok(Scored {
        pos: r.positives(),
        neg: r.negatives(),
        roc_auc: r.roc_auc(),
        pr_auc: r.average_precision(),
        accuracy: threshold.filter(|_| !col.is_empty()).map(|th| {
            let right = col
                .iter()
                .enumerate()
                .filter(|&(i, &s)| (s as f64 >= th) == labels.get(i, t))
                .count();
            right as f64 / col.len() as f64
        }),
    })
}

fn join_reference(
    rows: &mut [TargetRow],
    r: &reference::Reference,
    notes: &mut Vec<String>,
) -> Result<(), EvalError> {
    let ours: Vec<String> = rows.iter().map(|t| t.name.clone()).collect();
    // Exact names first; then, for the rest against the reference rows left, the name with
    // DeepSEA's "untreated" suffix, then names compared loosely (case, '-' and white space
    // ignored: DeepSEA's names file has USF-1 where its table has USF1, and stray
    // non-breaking spaces).
    let mut found = labels::match_names(&ours, &r.names);
    let loose = |n: &str| -> String {
        n.chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let passes: [&dyn Fn(&str) -> String; 2] = [&|n| format!("{n}|None"), &|n| loose(n)];
    for (k, key) in passes.iter().enumerate() {
        let mut used = vec![false; r.names.len()];
        found.iter().flatten().for_each(|&i| used[i] = true);
        let free: Vec<usize> = (0..r.names.len()).filter(|&i| !used[i]).collect();
        let free_names: Vec<String> = free
            .iter()
            .map(|&i| {
                if k == 1 {
                    loose(&r.names[i])
                } else {
                    r.names[i].clone()
                }
            })
            .collect();
        let unmatched: Vec<usize> = (0..ours.len()).filter(|&t| found[t].is_none()).collect();
        let alt: Vec<String> = unmatched.iter().map(|&t| key(&ours[t])).collect();
        for (j, m) in labels::match_names(&alt, &free_names)
            .into_iter()
            .enumerate()
        {
            found[unmatched[j]] = m.map(|f| free[f]);
        }
    }
    let matched = found.iter().flatten().count();
    if matched == 0 {
        return Err(EvalError::Mismatch(format!(
            "{}: none of the {} target names is in the reference (ours look like '{}', the \
             reference's like '{}')",
            r.path.display(),
            rows.len(),
            ours.first().map_or("", String::as_str),
            r.names.first().map_or("", String::as_str)
        )));
    }
    for (row, f) in rows.iter_mut().zip(&found) {
        if let Some(i) = *f {
            row.reference_roc_auc = r.roc_auc.as_ref().and_then(|v| v[i]);
            row.reference_pr_auc = r.pr_auc.as_ref().and_then(|v| v[i]);
        }
    }
    let missing: Vec<&str> = ours
        .iter()
        .zip(&found)
        .filter(|(_, f)| f.is_none())
        .map(|(n, _)| n.as_str())
        .collect();
    let mut note = format!(
        "reference {}: {matched} of {} targets matched by name",
        r.path.display(),
        rows.len()
    );
    if !missing.is_empty() {
        note.push_str(&format!(
            "; not in the reference: {}",
            crate::first_names(&missing)
        ));
    }
    let repeated = r.names.len()
        - r.names
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len();
    if repeated > 0 {
        note.push_str(&format!(
            "; {repeated} reference rows repeat an earlier name (matched in order of appearance)"
        ));
    }
    notes.push(note);
    Ok(())
}

/// Per category (sorted) and overall: counts, means and medians, with polars.
fn summarise(rows: &[TargetRow], with_reference: bool) -> Result<Vec<SummaryRow>, EvalError> {
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
    let lookup = |frame: &DataFrame, column: &str, cat: &str| -> Result<Option<f64>, EvalError> {
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
    let col =
        |name: &str| -> Result<Float64Chunked, EvalError> { Ok(df.column(name)?.f64()?.clone()) };
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

pub(crate) fn fmt(v: Option<f64>) -> String {
    v.map_or_else(|| "NA".into(), |x| x.to_string())
}

fn per_target_tsv(rows: &[TargetRow], with_reference: bool, classes: bool) -> String {
    let mut s = String::from("name\tcategory\tn_pos\tn_neg\troc_auc\tpr_auc");
    if classes {
        s.push_str("\taccuracy");
    }
    if with_reference {
        s.push_str("\treference_roc_auc\treference_pr_auc\tdelta_roc_auc\tdelta_pr_auc");
    }
    s.push('\n');
    for r in rows {
        s.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            r.name,
            r.category,
            r.n_pos,
            r.n_neg,
            fmt(r.roc_auc),
            fmt(r.pr_auc)
        ));
        if classes {
            s.push_str(&format!("\t{}", fmt(r.accuracy)));
        }
        if with_reference {
            let delta = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a - b);
            s.push_str(&format!(
                "\t{}\t{}\t{}\t{}",
                fmt(r.reference_roc_auc),
                fmt(r.reference_pr_auc),
                fmt(delta(r.roc_auc, r.reference_roc_auc)),
                fmt(delta(r.pr_auc, r.reference_pr_auc))
            ));
        }
        s.push('\n');
    }
    s
}

fn summary_tsv(rows: &[SummaryRow], with_reference: bool, classes: bool) -> String {
    let mut s = String::from(
        "category\ttargets\ttargets_na\tmean_roc_auc\tmedian_roc_auc\tmean_pr_auc\tmedian_pr_auc",
    );
    if classes {
        s.push_str("\taccuracy");
    }
    if with_reference {
        s.push_str("\tmean_reference_roc_auc\tmean_reference_pr_auc");
    }
    s.push('\n');
    for r in rows {
        s.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            r.category,
            r.targets,
            r.targets_na,
            fmt(r.mean_roc_auc),
            fmt(r.median_roc_auc),
            fmt(r.mean_pr_auc),
            fmt(r.median_pr_auc)
        ));
        if classes {
            s.push_str(&format!("\t{}", fmt(r.accuracy)));
        }
        if with_reference {
            s.push_str(&format!(
                "\t{}\t{}",
                fmt(r.mean_reference_roc_auc),
                fmt(r.mean_reference_pr_auc)
            ));
        }
        s.push('\n');
    }
    s
}

/// Curves drawn per group by default: the best, median and worst targets by ROC AUC.
const CURVES_PER_GROUP: usize = 3;

/// The targets whose curves to draw, by index.
fn curve_targets(opts: &MetricsOptions, rows: &[TargetRow]) -> Result<Vec<usize>, EvalError> {
    if let Some(names) = &opts.plot_targets {
        return names
            .iter()
            .map(|n| {
                rows.iter().position(|r| &r.name == n).ok_or_else(|| {
                    EvalError::Usage(format!(
                        "--plot-targets: {} has no target named '{n}'",
                        opts.predictions.display()
                    ))
                })
            })
            .collect();
    }
    let mut order: Vec<usize> = (0..rows.len())
        .filter(|&i| rows[i].roc_auc.is_some())
        .collect();
    order.sort_by(|&a, &b| {
        rows[b]
            .roc_auc
            .unwrap()
            .total_cmp(&rows[a].roc_auc.unwrap())
    });
    let k = CURVES_PER_GROUP;
    if order.len() <= 3 * k {
        return Ok(order);
    }
    let mid = order.len() / 2 - k / 2;
    let mut pick: Vec<usize> = order[..k].to_vec();
    pick.extend(&order[mid..mid + k]);
    pick.extend(&order[order.len() - k..]);
    Ok(pick)
}

fn draw(
    opts: &MetricsOptions,
    p: &Predictions,
    labels: &LabelColumns,
    rows: &[TargetRow],
    with_reference: bool,
) -> Result<Vec<PathBuf>, EvalError> {
    let dir = opts.out.join("plots");
    std::fs::create_dir_all(&dir).map_err(|e| EvalError::Io(dir.clone(), e))?;
    let mut files = Vec::new();
    let picked = curve_targets(opts, rows)?;
    if !picked.is_empty() {
        let (mut roc, mut pr) = (Vec::new(), Vec::new());
        for &t in &picked {
            let col = p.read_pred(0..p.len(), t..t + 1)?;
            let r = Ranked::new(col.iter().enumerate().map(|(i, &s)| (s, labels.get(i, t))));
            let row = &rows[t];
            let pts = |c: Vec<(f64, f64, f32)>| {
                let xy: Vec<(f64, f64)> = c.into_iter().map(|(x, y, _)| (x, y)).collect();
                plots::thin(&xy, 2000)
            };
            roc.push(Curve {
                label: format!("{} ({})", row.name, fmt_auc(r.roc_auc())),
                points: pts(r.roc_curve()),
            });
            // The step from recall 0 at precision 1, as scikit-learn draws it.
            let mut pr_points = vec![(0.0, 1.0)];
            pr_points.extend(pts(r.pr_curve()));
            pr.push(Curve {
                label: format!("{} ({})", row.name, fmt_auc(r.average_precision())),
                points: pr_points,
            });
        }
        let n = p.len();
        files.extend(plots::curves(
            &dir.join("roc_curves"),
            &format!("ROC curves ({n} samples)"),
            ("False positive rate", "True positive rate"),
            &roc,
            true,
        )?);
        files.extend(plots::curves(
            &dir.join("pr_curves"),
            &format!("Precision-recall curves ({n} samples)"),
            ("Recall", "Precision"),
            &pr,
            false,
        )?);
    }
    let groups = |f: fn(&TargetRow) -> Option<f64>| -> Vec<Group> {
        let mut cats: Vec<&str> = rows.iter().map(|r| r.category.as_str()).collect();
        cats.sort();
        cats.dedup();
        cats.into_iter()
            .map(|c| Group {
                name: c.to_string(),
                values: rows
                    .iter()
                    .filter(|r| r.category == c)
                    .filter_map(f)
                    .collect(),
            })
            .filter(|g| !g.values.is_empty())
            .collect()
    };
    let (roc_groups, pr_groups) = (groups(|r| r.roc_auc), groups(|r| r.pr_auc));
    if !roc_groups.is_empty() {
        files.extend(plots::distributions(
            &dir.join("auc_distribution"),
            "ROC AUC and PR AUC per target, by category",
            [("ROC AUC", &roc_groups), ("PR AUC", &pr_groups)],
        )?);
    }
    if with_reference {
        for (stem, metric, ours, theirs) in [
            (
                "reference_roc_auc",
                "ROC AUC",
                (|r: &TargetRow| r.roc_auc) as fn(&TargetRow) -> Option<f64>,
                (|r: &TargetRow| r.reference_roc_auc) as fn(&TargetRow) -> Option<f64>,
            ),
            (
                "reference_pr_auc",
                "PR AUC",
                |r| r.pr_auc,
                |r| r.reference_pr_auc,
            ),
        ] {
            let pairs: Vec<Pair> = rows
                .iter()
                .filter_map(|r| {
                    Some(Pair {
                        reference: theirs(r)?,
                        ours: ours(r)?,
                        category: r.category.clone(),
                    })
                })
                .collect();
            if pairs.is_empty() {
                continue;
            }
            files.extend(plots::scatter(
                &dir.join(stem),
                &format!(
                    "{metric}: ferrosea against the reference ({} targets)",
                    pairs.len()
                ),
                (
                    &format!("reference {metric}"),
                    &format!("ferrosea {metric}"),
                ),
                &pairs,
            )?);
        }
    }
    Ok(files)
}

fn fmt_auc(v: Option<f64>) -> String {
    v.map_or_else(|| "NA".into(), |x| format!("{x:.3}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_names_match_exactly_then_untreated_then_loosely() {
        let row = |name: &str| TargetRow {
            name: name.into(),
            category: "TF".into(),
            n_pos: 1,
            n_neg: 1,
            roc_auc: Some(0.5),
            pr_auc: Some(0.5),
            ..Default::default()
        };
        let mut rows = vec![
            row("K562|CTCF|None"),
            row("K562|CTCF|None"),
            row("HepG2|FOXA1"),
            row("A549|USF-1|EtOH"),
            row("Mono\u{a0}|H2AZ|None"),
            row("nowhere"),
        ];
        let r = reference::Reference {
            path: "ref.tsv".into(),
            names: [
                "K562|CTCF|None",
                "HepG2|FOXA1|None",
                "A549|USF1|EtOH",
                "K562|CTCF|None",
                "Mono|H2AZ|None",
            ]
            .map(String::from)
            .to_vec(),
            roc_auc: Some(vec![Some(0.1), Some(0.2), Some(0.3), Some(0.4), Some(0.5)]),
            pr_auc: None,
        };
        let mut notes = Vec::new();
        join_reference(&mut rows, &r, &mut notes).unwrap();
        let got: Vec<Option<f64>> = rows.iter().map(|r| r.reference_roc_auc).collect();
        assert_eq!(
            got,
            [Some(0.1), Some(0.4), Some(0.2), Some(0.3), Some(0.5), None]
        );
        assert!(notes[0].contains("5 of 6 targets matched") && notes[0].contains("nowhere"));
    }
}
