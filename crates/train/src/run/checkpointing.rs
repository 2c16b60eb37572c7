//! Saving checkpoints and metrics.tsv during a run, and what a diverged run says.

use std::path::{Path, PathBuf};

use crate::checkpoint::{self, CheckpointMeta, EpochMetrics, RunState};
use crate::TrainError;

use super::replicas::Replica;

/// Writes a run's checkpoints into its output directory (only on the leader of a
/// multi-node run: the directory is shared).
pub(super) struct Checkpointer {
    pub(super) out: PathBuf,
    pub(super) latest_json: PathBuf,
    pub(super) leader: bool,
    /// The record written with every checkpoint; its state is updated at each save.
    pub(super) meta: CheckpointMeta,
}

impl Checkpointer {
    /// Saves `kind` ("latest" with the optimizer state, or "best") from the first replica,
    /// refusing weights that are no longer finite.
    pub(super) fn save(
        &mut self,
        kind: &str,
        state: &RunState,
        replicas: &[Replica],
    ) -> Result<(), TrainError> {
        if !self.leader {
            return Ok(());
        }
        self.meta.state = state.clone();
        self.meta.optimizer_steps = replicas[0].optimizer.steps();
        let weights = replicas[0].store.tensors();
        if let Some((name, i, v)) = checkpoint::first_non_finite(&weights)? {
            return Err(diverged(
                state.step,
                state,
                &format!("weight {name} holds {v} (at index {i})"),
                &self.latest_json,
            ));
        }
        let optim = (kind == "latest")
            .then(|| replicas[0].optimizer.state_tensors())
            .transpose()?;
        checkpoint::save(&self.out, kind, &mut self.meta, &weights, optim.as_ref())?;
        Ok(())
    }

    /// Rewrites metrics.tsv with the epochs so far.
    pub(super) fn write_metrics(&self, history: &[EpochMetrics]) -> Result<(), TrainError> {
        if self.leader {
            write_metrics(&self.out.join("metrics.tsv"), history)?;
        }
        Ok(())
    }
}

/// The error for a `step` that left something non-finite (`what`).
pub(super) fn diverged(step: u64, state: &RunState, what: &str, latest_json: &Path) -> TrainError {
    TrainError::Diverged(format!(
        "training diverged at step {step} (epoch {}, sample {}): {what}; {}",
        state.epoch + 1,
        state.position,
        last_good(latest_json)
    ))
}

/// Where a diverged run stands, and what to do.
pub(super) fn last_good(latest_json: &Path) -> String {
    let advice = "start a new run (a new --out, or --force) with a lower --lr";
    match checkpoint::read_meta(latest_json) {
        Ok(m) => format!(
            "the last good checkpoint, {} (step {}), is kept; {advice}",
            latest_json.display(),
            m.state.step
        ),
        Err(_) => format!("no checkpoint was written; {advice}"),
    }
}

/// Writes metrics.tsv (temporary name, then rename).
fn write_metrics(path: &Path, history: &[EpochMetrics]) -> Result<(), TrainError> {
    let mut s = String::from("epoch\tstep\tlr\ttrain_loss\tvalid_loss\tvalid_mean_roc_auc\tvalid_targets_scored\tsamples_per_s\n");
    for m in history {
        s += &format!(
            "{}\t{}\t{}\t{:.6}\t{:.6}\t{}\t{}\t{:.1}\n",
            m.epoch,
            m.step,
            m.lr,
            m.train_loss,
            m.valid_loss,
            m.valid_mean_roc_auc
                .map_or("NA".into(), |a| format!("{a:.6}")),
            m.valid_targets_scored,
            m.samples_per_s
        );
    }
    ferrosea_dataset::write_atomically(path, s.as_bytes())
        .map_err(|e| TrainError::Io(path.to_path_buf(), e))
}
