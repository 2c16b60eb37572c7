//! The training loop: replicas, steps, validation, checkpoints, early stopping.
//!
//! [`run`] reads as the stage does: open the datasets ([`inputs`]), settle the output
//! directory ([`resume`]), build the replicas ([`replicas`]), then epochs of steps
//! ([`step`]), each ending with validation ([`validation`]) and checkpoints
//! ([`checkpointing`]).

use std::path::PathBuf;
use std::time::Instant;

use ferrosea_runtime::data::{epoch_order, Loader, LoaderSpec};
use ferrosea_runtime::DeviceSpec;

use crate::checkpoint::{CheckpointMeta, EpochMetrics, RunState};
use crate::collective::Cluster;
use crate::config::TrainConfig;
use crate::TrainError;

mod checkpointing;
mod inputs;
mod replicas;
mod resume;
mod step;
mod validation;

use checkpointing::{diverged, last_good, Checkpointer};
use inputs::Inputs;
use replicas::{non_finite_weights, Replica, Shape};
use step::Step;
use validation::validate;

/// Everything a training run needs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Training dataset.
    pub train: PathBuf,
    /// Validation dataset.
    pub valid: PathBuf,
    /// Output directory (checkpoints, metrics.tsv).
    pub out: PathBuf,
    /// The recipe.
    pub config: TrainConfig,
    /// Seed of every random choice.
    pub seed: u64,
    /// One replica per device; several give data-parallel training.
    pub devices: Vec<DeviceSpec>,
    /// Continue the run in `out`.
    pub resume: bool,
    /// Replace a previous run in `out`.
    pub force: bool,
    /// Also save `latest` every this many steps (besides every epoch).
    pub checkpoint_every: Option<u64>,
    /// Start the first convolution's filters from these motifs (MEME file).
    pub init_filters: Option<PathBuf>,
    /// Stop after this global step as if the process had been killed (tests).
    pub halt_after_steps: Option<u64>,
    /// Limit each epoch to this many steps (quick runs and benchmarks).
    pub steps_per_epoch: Option<usize>,
    /// Samples per batch during validation.
    pub eval_batch: usize,
    /// Draw a progress bar (on a terminal).
    pub progress: bool,
    /// This process's place in a multi-node run (CUDA devices and the `nccl` feature);
    /// `None` for a run in one process.
    pub cluster: Option<Cluster>,
}

impl Options {
    /// A fresh run on the CPU with seed 1: no resuming or replacing, checkpoints every
    /// epoch, whole epochs, validation in batches of 256, no progress bar.
    pub fn new(
        train: impl Into<PathBuf>,
        valid: impl Into<PathBuf>,
        out: impl Into<PathBuf>,
        config: TrainConfig,
    ) -> Options {
        Options {
            train: train.into(),
            valid: valid.into(),
            out: out.into(),
            config,
            seed: 1,
            devices: vec![DeviceSpec::Cpu],
            resume: false,
            force: false,
            checkpoint_every: None,
            init_filters: None,
            halt_after_steps: None,
            steps_per_epoch: None,
            eval_batch: 256,
            progress: false,
            cluster: None,
        }
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// All epochs done.
    Finished,
    /// Early stopping: no better validation loss for `patience` epochs.
    EarlyStopped,
    /// `halt_after_steps` reached.
    Halted,
}

/// What a run reports.
#[derive(Clone, Debug)]
pub struct Report {
    /// How it ended.
    pub outcome: Outcome,
    /// The per-epoch metrics.
    pub history: Vec<EpochMetrics>,
    /// Best validation loss and its epoch.
    pub best: Option<(f64, usize)>,
    /// Largest absolute difference between any replica's weights and the first one's at
    /// the end (0 when replicas stay identical, as they should).
    pub replica_divergence: f32,
}

/// Trains.
pub fn run(opts: &Options) -> Result<Report, TrainError> {
    let cfg = &opts.config;
    // Settings that cannot give a run are refused before anything is read or written.
    cfg.check()
        .map_err(|m| TrainError::Usage(format!("recipe: {m}")))?;
    if opts.steps_per_epoch == Some(0) {
        return Err(TrainError::Usage(
            "--steps-per-epoch must be at least 1 (leave it out for whole epochs)".into(),
        ));
    }
    let inputs = Inputs::open(opts)?;
    let devices = opts
        .devices
        .iter()
        .map(|d| d.open())
        .collect::<Result<Vec<_>, _>>()?;
    if devices.is_empty() {
        return Err(TrainError::Usage("no device given".into()));
    }
    // In a multi-node run only node 0 writes to the (shared) output directory.
    let leader = opts.cluster.as_ref().is_none_or(|c| c.node_rank == 0);
    let resumed = resume::prepare(opts, &inputs, leader)?;
    let latest_json = opts.out.join("latest.json");
    let seed = resumed.as_ref().map_or(opts.seed, |m| m.seed);
    let start = resume::run_start(opts, resumed.as_ref())?;
    let Inputs {
        train,
        valid,
        window,
        targets,
        alphabet,
    } = inputs;

    let shape = Shape {
        channels: alphabet.channels(),
        window,
        targets: targets.len(),
    };
    let mut replicas = replicas::build(&devices, cfg, seed, &shape)?;
    let mut state = RunState::new(cfg);
    if let Some(meta) = &resumed {
        replicas::restore(&mut replicas, &latest_json, meta, &cfg.model)?;
        state = meta.state.clone();
        tracing::info!(
            "resuming {} at epoch {}, sample {}, step {}",
            latest_json.display(),
            state.epoch + 1,
            state.position,
            state.step
        );
    } else if let Some(motifs) = &opts.init_filters {
        let n = replicas::init_from_motifs(&replicas, &cfg.model, motifs, seed)?;
        tracing::info!(
            "initialised {n} first-layer filters from {}",
            motifs.display()
        );
    }
    tracing::info!(
        "{} model, {} parameters, {} targets, window {window} bp, {} training rows, {} validation rows, {} replica(s)",
        cfg.model.arch(),
        replicas[0].store.count(),
        targets.len(),
        train.len(),
        valid.len(),
        replicas.len()
    );

    let collective = replicas::collective_for(&devices, opts.cluster.as_ref())?;
    let step = Step {
        collective: &collective,
        cfg,
        window,
        targets: targets.len(),
        seed,
    };
    let rows = train.len();
    let unit = ferrosea_runtime::data::read_unit(&train);
    let epoch_rows = opts
        .steps_per_epoch
        .map_or(rows, |s| (s * cfg.batch_size).min(rows));
    let mut saver = Checkpointer {
        out: opts.out.clone(),
        latest_json,
        leader,
        meta: CheckpointMeta {
            state: state.clone(),
            train_file: opts.train.display().to_string(),
            train_rows: rows,
            start: Some(start),
            alphabet: ferrosea_runtime::checkpoint::AlphabetRecord::of(&alphabet),
            ..CheckpointMeta::new(cfg, window, targets.clone(), seed)
        },
    };
    let targets = targets.len();

    while state.epoch < cfg.epochs {
        let epoch = state.epoch as u64;
        let lr = state.scheduler.lr;
        let order = epoch_order(rows, unit, cfg.shuffle_buffer, seed, epoch);
        let loader = Loader::spawn(LoaderSpec {
            path: opts.train.clone(),
            order: Some(order),
            start: state.position,
            batch: cfg.batch_size,
            reverse_complement: cfg.reverse_complement.then_some((seed, epoch)),
            prefetch: 8,
            loss: cfg.loss,
        });
        let bar = progress_bar(
            opts.progress,
            epoch_rows as u64,
            state.position as u64,
            state.epoch + 1,
            cfg.epochs,
        );
        let started = Instant::now();
        let start_position = state.position;
        for batch in loader {
            if state.position >= epoch_rows {
                break;
            }
            let batch = batch?;
            let loss = step.run(&mut replicas, &batch, state.step, lr)?;
            if !loss.is_finite() {
                return Err(diverged(
                    state.step + 1,
                    &state,
                    &format!("the training loss became {loss}"),
                    &saver.latest_json,
                ));
            }
            if let Some(what) = non_finite_weights(&replicas[0])? {
                return Err(diverged(state.step + 1, &state, &what, &saver.latest_json));
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
                && state.position < epoch_rows
            {
                saver.save("latest", &state, &replicas)?;
            }
            if opts.halt_after_steps == Some(state.step) {
                return report(Outcome::Halted, state, &replicas);
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        let trained = (state.position - start_position) as f64;
        let seconds = started.elapsed().as_secs_f64();
        let (valid_loss, auc) = validate(
            &replicas[0],
            &opts.valid,
            opts.eval_batch,
            targets,
            cfg.loss,
        )?;
        if !valid_loss.is_finite() {
            return Err(TrainError::Diverged(format!(
                "training diverged: the validation loss is {valid_loss} after epoch {} (step {}); {}",
                state.epoch + 1,
                state.step,
                last_good(&saver.latest_json)
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
        tracing::info!("{}", validation::summary(&metrics, cfg.epochs, &state));
        let improved = validation::close_epoch(&mut state, metrics);
        if improved {
            saver.save("best", &state, &replicas)?;
        }
        saver.save("latest", &state, &replicas)?;
        saver.write_metrics(&state.history)?;
        if cfg.patience.is_some_and(|p| state.since_best >= p) {
            tracing::info!(
                "early stopping: no lower validation loss for {} epochs",
                state.since_best
            );
            return report(Outcome::EarlyStopped, state, &replicas);
        }
    }
    report(Outcome::Finished, state, &replicas)
}

fn report(outcome: Outcome, state: RunState, replicas: &[Replica]) -> Result<Report, TrainError> {
    Ok(Report {
        outcome,
        history: state.history,
        best: state.best,
        replica_divergence: replicas::divergence(replicas)?,
    })
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
