//! One epoch: its batches through the replicas, then validation, checkpoints and the early
//! stopping rule.

use std::time::Instant;

use ferrosea_runtime::data::{epoch_order, Loader, LoaderSpec};

use super::checkpointing::{diverged, last_good, Checkpointer};
use super::replicas::{non_finite_weights, Replica};
use super::step::Step;
use super::validation::{self, validate};
use super::{Options, Outcome};
use crate::checkpoint::{EpochMetrics, RunState};
use crate::TrainError;

/// What every epoch of a run shares.
pub(super) struct Epochs<'a> {
    pub(super) opts: &'a Options,
    pub(super) step: Step<'a>,
    pub(super) replicas: Vec<Replica>,
    pub(super) saver: Checkpointer,
    /// Training rows.
    pub(super) rows: usize,
    /// Rows kept together when shuffling ([`ferrosea_runtime::data::read_unit`]).
    pub(super) unit: usize,
    /// Rows an epoch trains on (all, or `--steps-per-epoch` batches).
    pub(super) epoch_rows: usize,
    pub(super) seed: u64,
}

impl Epochs<'_> {
    /// Trains epoch `state.epoch` from `state.position` on; then validates, checkpoints and
    /// closes it. Returns how the run ends when it ends here (halted, stopped early).
    pub(super) fn run(&mut self, state: &mut RunState) -> Result<Option<Outcome>, TrainError> {
        let lr = state.scheduler.lr;
        let started = Instant::now();
        let start_position = state.position;
        if self.train(state, lr)? {
            return Ok(Some(Outcome::Halted));
        }
        let trained = (state.position - start_position) as f64;
        let seconds = started.elapsed().as_secs_f64();
        self.close(state, lr, trained, seconds)
    }

    /// The epoch's batches; `true` when `--halt-after-steps` stopped it.
    fn train(&mut self, state: &mut RunState, lr: f64) -> Result<bool, TrainError> {
        let (opts, cfg) = (self.opts, self.step.cfg);
        let epoch = state.epoch as u64;
        let order = epoch_order(self.rows, self.unit, cfg.shuffle_buffer, self.seed, epoch);
        let loader = Loader::spawn(LoaderSpec {
            path: opts.train.clone(),
            order: Some(order),
            start: state.position,
            batch: cfg.batch_size,
            reverse_complement: cfg.reverse_complement.then_some((self.seed, epoch)),
            prefetch: 8,
            loss: cfg.loss,
        });
        let bar = progress_bar(
            opts.progress,
            self.epoch_rows as u64,
            state.position as u64,
            state.epoch + 1,
            cfg.epochs,
        );
        for batch in loader {
            if state.position >= self.epoch_rows {
                break;
            }
            let batch = batch?;
            let loss = self.step.run(&mut self.replicas, &batch, state.step, lr)?;
            if !loss.is_finite() {
                return Err(diverged(
                    state.step + 1,
                    state,
                    &format!("the training loss became {loss}"),
                    &self.saver.latest_json,
                ));
            }
            if let Some(what) = non_finite_weights(&self.replicas[0])? {
                return Err(diverged(
                    state.step + 1,
                    state,
                    &what,
                    &self.saver.latest_json,
                ));
            }
            state.step += 1;
            state.position += batch.rows;
            state.epoch_loss_sum += loss * batch.rows as f64;
            if let Some(b) = &bar {
                b.set_position(state.position as u64);
                b.set_message(format!(
                    "loss {:.4}",
                    state.epoch_loss_sum / (state.position) as f64
                ));
            }
            if opts
                .checkpoint_every
                .is_some_and(|k| state.step.is_multiple_of(k))
                && state.position < self.epoch_rows
            {
                self.saver.save("latest", state, &self.replicas)?;
            }
            if opts.halt_after_steps == Some(state.step) {
                return Ok(true);
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        Ok(false)
    }

    /// Validation, the epoch's line of metrics, `best` and `latest` checkpoints, and the
    /// early stopping rule.
    fn close(
        &mut self,
        state: &mut RunState,
        lr: f64,
        trained: f64,
        seconds: f64,
    ) -> Result<Option<Outcome>, TrainError> {
        let (opts, cfg) = (self.opts, self.step.cfg);
        let (valid_loss, auc) = validate(
            &self.replicas[0],
            &opts.valid,
            opts.eval_batch,
            self.step.targets,
            cfg.loss,
        )?;
        if !valid_loss.is_finite() {
            return Err(TrainError::Diverged(format!(
                "training diverged: the validation loss is {valid_loss} after epoch {} (step {}); {}",
                state.epoch + 1,
                state.step,
                last_good(&self.saver.latest_json)
            )));
        }
        let train_loss = state.epoch_loss_sum / state.position.max(1) as f64;
        let metrics = EpochMetrics {
            epoch: state.epoch + 1,
            step: state.step,
            lr,
            train_loss,
            valid_loss,
            valid_mean_roc_auc: auc.map(|a| a.0),
            valid_targets_scored: auc.map_or(0, |a| a.1),
            samples_per_s: if seconds > 0.0 {
                trained / seconds
            } else {
                0.0
            },
        };
        tracing::info!("{}", validation::summary(&metrics, cfg.epochs, state));
        let improved = validation::close_epoch(state, metrics);
        if improved {
            self.saver.save("best", state, &self.replicas)?;
        }
        self.saver.save("latest", state, &self.replicas)?;
        self.saver.write_metrics(&state.history)?;
        if cfg.patience.is_some_and(|p| state.since_best >= p) {
            tracing::info!(
                "early stopping: no lower validation loss for {} epochs",
                state.since_best
            );
            return Ok(Some(Outcome::EarlyStopped));
        }
        Ok(None)
    }
}

fn progress_bar(
    enabled: bool,
    len: u64,
    pos: u64,
    epoch: usize,
    epochs: usize,
) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !enabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "epoch {epoch}/{epochs} [{{bar:30}}] {{pos}}/{{len}} {{per_sec}} ETA {{eta}} {{msg}}"
        ))
        .expect("valid template"),
    );
    bar.set_position(pos);
    Some(bar)
}
