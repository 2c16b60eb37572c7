//! The end of an epoch: loss and mean ROC AUC on the validation dataset, the best epoch
//! so far, and the epoch's log line.

use std::path::Path;

use ferrosea_runtime::predict;

use super::replicas::Replica;
use crate::checkpoint::{EpochMetrics, RunState};
use crate::TrainError;

/// Validation loss and mean ROC AUC (with the number of targets scored).
pub(super) fn validate(
    rep: &Replica,
    path: &Path,
    batch: usize,
    targets: usize,
    loss: ferrosea_runtime::loss::Loss,
) -> Result<(f64, Option<(f64, usize)>), TrainError> {
    let (scores, labels, loss) = predict(&rep.net, &rep.device, path, batch, targets, loss)?;
    // Real-valued labels have no ROC AUC (0/1 labels under MSE do: the course's
    // next-character task).
    if labels.iter().any(|&v| v != 0.0 && v != 1.0) {
        return Ok((loss, None));
    }
    let labels: Vec<u8> = labels.iter().map(|&v| v as u8).collect();
    let aucs = ferrosea_metrics::per_target(&scores, &labels, targets, ferrosea_metrics::roc_auc);
    Ok((loss, ferrosea_metrics::mean_defined(&aucs)))
}

/// Whether an epoch's validation loss beats every earlier one in `state`.
fn improves(state: &RunState, m: &EpochMetrics) -> bool {
    state.best.is_none_or(|(b, _)| m.valid_loss < b)
}

/// The log line of an epoch about to be closed in `state`.
pub(super) fn summary(m: &EpochMetrics, epochs: usize, state: &RunState) -> String {
    format!(
        "epoch {}/{}: train loss {:.5}, valid loss {:.5}, valid mean ROC AUC {} ({} targets), {:.0} samples/s{}",
        m.epoch,
        epochs,
        m.train_loss,
        m.valid_loss,
        m.valid_mean_roc_auc.map_or("n/a".into(), |a| format!("{a:.4}")),
        m.valid_targets_scored,
        m.samples_per_s,
        if improves(state, m) { ", best so far" } else { "" }
    )
}

/// Records an epoch's metrics in `state`: the best loss and the epochs since, the
/// schedule's step, and the start of the next epoch. Returns whether it is the best so far.
pub(super) fn close_epoch(state: &mut RunState, m: EpochMetrics) -> bool {
    let improved = improves(state, &m);
    if improved {
        state.best = Some((m.valid_loss, m.epoch));
        state.since_best = 0;
    } else {
        state.since_best += 1;
    }
    state.scheduler.end_epoch(m.valid_loss);
    state.history.push(m);
    state.epoch += 1;
    state.position = 0;
    state.epoch_loss_sum = 0.0;
    improved
}
