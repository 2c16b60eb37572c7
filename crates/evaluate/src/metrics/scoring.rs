//! Ranking each target's predictions against its labels: ROC AUC, PR AUC and accuracy, a
//! band of targets at a time.

use std::sync::mpsc::sync_channel;

use ferrosea_dataset::Predictions;
use ferrosea_metrics::Ranked;
use rayon::prelude::*;

use crate::labels::LabelColumns;
use crate::EvaluateError;

/// Class labels: the fraction of rows whose most probable class (the first of ties) is
/// their class, and per class the fraction of its rows predicted as it (`None` for a class
/// without rows).
pub(super) fn class_accuracy(
    p: &Predictions,
    labels: &LabelColumns,
) -> Result<(Option<f64>, Vec<Option<f64>>), EvaluateError> {
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
pub(super) struct Scored {
    pub(super) pos: u64,
    pub(super) neg: u64,
    pub(super) roc_auc: Option<f64>,
    pub(super) pr_auc: Option<f64>,
    pub(super) accuracy: Option<f64>,
}

/// Rows read at a time within a band.
pub(crate) const BLOCK_ROWS: usize = 16384;

/// The columns of targets `cols` over all rows (one `Vec` per target).
fn read_band(
    p: &Predictions,
    cols: std::ops::Range<usize>,
) -> Result<Vec<Vec<f32>>, EvaluateError> {
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
pub(super) fn score_all(
    p: &Predictions,
    labels: &LabelColumns,
    threshold: Option<f64>,
) -> Result<Vec<Scored>, EvaluateError> {
    let t = p.targets().len();
    let band = p.band();
    let path = p.path().to_path_buf();
    let mut scored = vec![Scored::default(); t];
    std::thread::scope(|s| -> Result<(), EvaluateError> {
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
            let results: Vec<Result<Scored, EvaluateError>> = cols
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
) -> Result<Scored, EvaluateError> {
    if let Some(row) = col.iter().position(|v| !v.is_finite()) {
        return Err(EvaluateError::Data(format!(
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
