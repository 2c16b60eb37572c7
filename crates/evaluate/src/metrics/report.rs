//! Writing the report: per_target.tsv, summary.tsv and the curves.

use std::path::PathBuf;

use ferrosea_dataset::Predictions;
use ferrosea_metrics::Ranked;

use super::{MetricsOptions, SummaryRow, TargetRow};
use crate::labels::LabelColumns;
use crate::plots::{self, Curve, Group, Pair};
use crate::EvaluateError;

pub(crate) fn fmt(v: Option<f64>) -> String {
    v.map_or_else(|| "NA".into(), |x| x.to_string())
}

pub(super) fn per_target_tsv(rows: &[TargetRow], with_reference: bool, classes: bool) -> String {
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

pub(super) fn summary_tsv(rows: &[SummaryRow], with_reference: bool, classes: bool) -> String {
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
fn curve_targets(opts: &MetricsOptions, rows: &[TargetRow]) -> Result<Vec<usize>, EvaluateError> {
    if let Some(names) = &opts.plot_targets {
        return names
            .iter()
            .map(|n| {
                rows.iter().position(|r| &r.name == n).ok_or_else(|| {
                    EvaluateError::Usage(format!(
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

pub(super) fn draw(
    opts: &MetricsOptions,
    p: &Predictions,
    labels: &LabelColumns,
    rows: &[TargetRow],
    with_reference: bool,
) -> Result<Vec<PathBuf>, EvaluateError> {
    let dir = opts.out.join("plots");
    std::fs::create_dir_all(&dir).map_err(|e| EvaluateError::Io(dir.clone(), e))?;
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
