//! The training loop: replicas, steps, validation, checkpoints, early stopping.
//!
//! [`run`] reads as the stage does: open the datasets ([`inputs`]), settle the output
//! directory ([`resume`]), build the replicas ([`replicas`]), then epochs of steps
//! ([`epoch`], [`step`]), each ending with validation ([`validation`]) and checkpoints
//! ([`checkpointing`]).

use std::path::PathBuf;

use ferrosea_runtime::DeviceSpec;

use crate::checkpoint::{CheckpointMeta, EpochMetrics, RunState};
use crate::collective::Cluster;
use crate::config::TrainConfig;
use crate::TrainError;

mod checkpointing;
mod epoch;
mod inputs;
mod replicas;
mod resume;
mod step;
mod validation;

use checkpointing::Checkpointer;
use epoch::Epochs;
use inputs::Inputs;
use replicas::{Replica, Shape};
use step::Step;

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
    let saver = Checkpointer {
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
    let mut epochs = Epochs {
        opts,
        step,
        replicas,
        saver,
        rows,
        unit: ferrosea_runtime::data::read_unit(&train),
        epoch_rows: opts
            .steps_per_epoch
            .map_or(rows, |s| (s * cfg.batch_size).min(rows)),
        seed,
    };
    while state.epoch < cfg.epochs {
        if let Some(outcome) = epochs.run(&mut state)? {
            return report(outcome, state, &epochs.replicas);
        }
    }
    report(Outcome::Finished, state, &epochs.replicas)
}

fn report(outcome: Outcome, state: RunState, replicas: &[Replica]) -> Result<Report, TrainError> {
    Ok(Report {
        outcome,
        history: state.history,
        best: state.best,
        replica_divergence: replicas::divergence(replicas)?,
    })
}
