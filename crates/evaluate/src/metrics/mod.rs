//! `metrics`: per-target ROC AUC and PR AUC of a prediction file, summaries, plots.
//!
//! Memory stays bounded whatever the number of targets: the labels are kept as bits (52 MB
//! for DeepSEA's test set) and the predictions stream a band of targets at a time (the
//! prediction file's tile width, 64 by default: 116 MB at 455,024 rows), read by one thread
//! while the previous band is ranked on all cores.

use std::path::PathBuf;
use std::time::Instant;

use ferrosea_dataset::{LabelKind, Predictions};
use serde::Serialize;

use crate::labels;
use crate::reference;
use crate::{write_atomically, EvaluateError};

mod join;
pub(crate) mod regression;
mod report;
mod scoring;
mod summary;

use join::join_reference;
pub(crate) use report::fmt;
use report::{draw, per_target_tsv, summary_tsv};
pub(crate) use scoring::BLOCK_ROWS;
use scoring::{class_accuracy, score_all};
use summary::summarise;

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
///
/// ```
/// use ferrosea_dataset::{Header, PredictionsOptions, PredictionsWriter, Targets};
/// use ferrosea_evaluate::{metrics, MetricsOptions};
///
/// let dir = tempfile::tempdir()?;
/// // Four rows of two targets: the first ranked perfectly, the second with one tie.
/// let header = Header {
///     window: 1000,
///     targets: Targets {
///         name: vec!["K562|CTCF".into(), "K562|DNase".into()],
///         category: vec!["TF".into(), "DNase".into()],
///         ..Default::default()
///     },
///     chrom_names: vec!["chr22".into()],
///     ..Default::default()
/// };
/// let pred = [0.9, 0.9, 0.8, 0.8, 0.2, 0.8, 0.1, 0.1];
/// let y = [1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0];
/// let path = dir.path().join("predictions.h5");
/// let mut writer = PredictionsWriter::create(&path, &header, 4, PredictionsOptions::default())?;
/// writer.write_rows(&pred, &y, &[0; 4], &[0, 200, 400, 600], &[b'+'; 4])?;
/// writer.finish()?;
///
/// let report = metrics(&MetricsOptions {
///     predictions: path,
///     labels: None,
///     out: dir.path().join("metrics"),
///     min_positives: 1,
///     reference: None,
///     plot_targets: None,
///     no_plots: true,
///     threshold: None,
/// })?;
/// assert_eq!(report.rows, 4);
/// assert_eq!(report.targets[0].roc_auc, Some(1.0));
/// assert_eq!(report.targets[1].roc_auc, Some(0.875));
/// // Per category (sorted), then all.
/// let all = report.summary.last().unwrap();
/// assert_eq!((all.category.as_str(), all.mean_roc_auc), ("all", Some(0.9375)));
/// assert!(dir.path().join("metrics/per_target.tsv").exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn metrics(opts: &MetricsOptions) -> Result<MetricsReport, EvaluateError> {
    let started = Instant::now();
    let p = Predictions::open(&opts.predictions)?;
    if p.is_empty() {
        return Err(EvaluateError::Data(format!(
            "{}: the prediction file has no rows",
            opts.predictions.display()
        )));
    }
    std::fs::create_dir_all(&opts.out).map_err(|e| EvaluateError::Io(opts.out.clone(), e))?;
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
            return Err(EvaluateError::Io(json_path, e));
        }
        _ => {}
    }
    let reference = opts.reference.as_deref().map(reference::read).transpose()?;
    let mut notes = Vec::new();
    let kind = p.labels();
    if kind == LabelKind::Real {
        return regression::metrics(opts, &p, started, json_path);
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
            return Err(EvaluateError::Usage(format!(
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
) -> Result<(), EvaluateError> {
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
