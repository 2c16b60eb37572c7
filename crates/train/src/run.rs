//! The training loop: replicas, steps, validation, checkpoints, early stopping.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use ferrosea_dataset::Reader;
use ferrosea_models::params::rng_for;
use ferrosea_models::{DropoutKey, Mode, Network, ParamStore};
use rand::Rng;

use crate::checkpoint::{self, CheckpointMeta, EpochMetrics, RunState, CHECKPOINT_FORMAT};
use crate::collective::{Cluster, Collective, Single, ThreadGroup};
use crate::config::TrainConfig;
use crate::optim::Optimizer;
use crate::schedule::Scheduler;
use crate::TrainError;
use ferrosea_runtime::data::{epoch_order, Batch, Loader, LoaderSpec};
use ferrosea_runtime::{predict, DeviceSpec};

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

/// One model copy on one device.
struct Replica {
    device: Device,
    store: ParamStore,
    net: Network,
    vars: Vec<Var>,
    names: Vec<String>,
    optimizer: Optimizer,
}

/// Files a run writes into its output directory.
const RUN_FILES: &[&str] = &["latest.json", "best.json", "metrics.tsv"];

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
    let train = Reader::open(&opts.train)?;
    let valid = Reader::open(&opts.valid)?;
    check_compatible(&opts.train, &train, &opts.valid, &valid)?;
    if train.is_empty() || valid.is_empty() {
        return Err(TrainError::Data(format!(
            "{} has {} rows and {} has {}: both need at least one",
            opts.train.display(),
            train.len(),
            opts.valid.display(),
            valid.len()
        )));
    }
    let window = train.window();
    let targets = train.targets().name.clone();
    let alphabet = train.alphabet().clone();
    let channels = alphabet.channels();
    cfg.loss
        .check_kind(train.labels())
        .map_err(|m| TrainError::Mismatch(format!("{}: {m}", opts.train.display())))?;
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
    std::fs::create_dir_all(&opts.out).map_err(|e| TrainError::Io(opts.out.clone(), e))?;
    let latest_json = opts.out.join("latest.json");

    // A previous run in the output directory is continued, replaced, or refused.
    let existing: Vec<&str> = RUN_FILES
        .iter()
        .copied()
        .filter(|f| opts.out.join(f).exists())
        .collect();
    let resumed = if opts.resume {
        if !latest_json.exists() {
            return Err(TrainError::Usage(format!(
                "--resume: {} does not exist; nothing to resume",
                latest_json.display()
            )));
        }
        Some(checkpoint::read_meta(&latest_json)?)
    } else {
        if !existing.is_empty() {
            if !opts.force {
                return Err(TrainError::Usage(format!(
                    "{} already holds a run ({}); pass --resume to continue it or --force to replace it",
                    opts.out.display(),
                    existing.join(", ")
                )));
            }
            if leader {
                remove_run(&opts.out)?;
            }
        }
        None
    };
    if let Some(meta) = &resumed {
        let old =
            meta.alphabet
                .clone()
                .unwrap_or_else(|| ferrosea_runtime::checkpoint::AlphabetRecord {
                    symbols: "ACGT".into(),
                    encoding: "one-hot".into(),
                });
        if ferrosea_runtime::checkpoint::AlphabetRecord::of(&alphabet) != meta.alphabet {
            return Err(TrainError::Mismatch(format!(
                "{} was trained on sequences over {} ({}), but {} holds {alphabet}",
                latest_json.display(),
                old.symbols,
                old.encoding,
                opts.train.display(),
            )));
        }
        if meta.targets != targets || meta.window != window {
            return Err(TrainError::Mismatch(format!(
                "{} was trained on {} targets of {} bp windows, but {} has {} targets of {} bp{}",
                latest_json.display(),
                meta.targets.len(),
                meta.window,
                opts.train.display(),
                targets.len(),
                window,
                first_difference(&meta.targets, &targets)
            )));
        }
        if meta.config.model != cfg.model {
            return Err(TrainError::Mismatch(format!(
                "{} holds a {} model with other settings than the recipe given now; resume without --preset/--config or with the same one",
                latest_json.display(),
                meta.config.model.arch()
            )));
        }
        let changed = changed_settings(meta, opts, train.len())?;
        if !changed.is_empty() {
            return Err(TrainError::Mismatch(format!(
                "--resume: the run in {} was started with other settings than those given now: {}; \
                 a resumed run keeps its settings: drop the override, or start a new --out",
                opts.out.display(),
                changed.join("; ")
            )));
        }
        if leader {
            let removed = checkpoint::remove_unreferenced(&opts.out);
            if !removed.is_empty() {
                tracing::info!(
                    "removed files no checkpoint refers to: {}",
                    removed.join(", ")
                );
            }
        }
    }
    let seed = resumed.as_ref().map_or(opts.seed, |m| m.seed);
    let start = match resumed.as_ref().and_then(|m| m.start.clone()) {
        Some(s) => s,
        None => checkpoint::RunStart {
            steps_per_epoch: opts.steps_per_epoch,
            train_path: absolute(&opts.train),
            train_bytes: file_size(&opts.train)?,
        },
    };

    // Replicas: the same seed gives every replica the same initial weights.
    let mut replicas = Vec::new();
    for device in &devices {
        let store = ParamStore::new(seed);
        let net = Network::with_channels(
            &cfg.model,
            channels,
            window,
            targets.len(),
            &store.builder(device),
        )?;
        let (names, vars): (Vec<String>, Vec<Var>) = store.vars().into_iter().unzip();
        let optimizer = Optimizer::new(cfg.optimizer.clone(), vars.len());
        replicas.push(Replica {
            device: device.clone(),
            store,
            net,
            vars,
            names,
            optimizer,
        });
    }
    let mut state = RunState {
        epoch: 0,
        position: 0,
        step: 0,
        epoch_loss_sum: 0.0,
        scheduler: Scheduler::new(cfg.schedule.clone(), cfg.optimizer.lr()),
        best: None,
        since_best: 0,
        history: Vec::new(),
    };
    if let Some(meta) = &resumed {
        for r in &mut replicas {
            let weights = checkpoint::load_tensors(&latest_json, &meta.weights_file, &r.device)?;
            checkpoint::check_same_parameters(
                &latest_json,
                &weights,
                &r.store.tensors(),
                &format!("the {} model", cfg.model.arch()),
            )?;
            for (name, t) in &weights {
                r.store.set(name, t)?;
            }
            let opt = match &meta.optimizer_file {
                Some(f) => checkpoint::load_tensors(&latest_json, f, &r.device)?,
                None => BTreeMap::new(),
            };
            r.optimizer
                .restore(meta.optimizer_steps, opt)
                .map_err(|m| TrainError::Mismatch(format!("{}: {m}", latest_json.display())))?;
        }
        state = meta.state.clone();
        tracing::info!(
            "resuming {} at epoch {}, sample {}, step {}",
            latest_json.display(),
            state.epoch + 1,
            state.position,
            state.step
        );
    } else if let Some(motifs) = &opts.init_filters {
        let n = init_filters(&replicas[0].store, &cfg.model, motifs, seed)?;
        let first = replicas[0].store.tensors();
        for r in &replicas[1..] {
            for (name, t) in &first {
                r.store.set(name, &t.to_device(&r.device)?)?;
            }
        }
        if let Some((name, i, v)) = checkpoint::first_non_finite(&first)? {
            return Err(TrainError::Data(format!(
                "{}: the first-layer filters made from these motifs are not finite \
                 ({name} holds {v} at index {i}); check the motif probabilities",
                motifs.display()
            )));
        }
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

    let collective = collective_for(&devices, opts.cluster.as_ref())?;

    let rows = train.len();
    let unit = ferrosea_runtime::data::read_unit(&train);
    let epoch_rows = opts
        .steps_per_epoch
        .map_or(rows, |s| (s * cfg.batch_size).min(rows));
    let mut meta = CheckpointMeta {
        format: CHECKPOINT_FORMAT.into(),
        format_version: 1,
        config: cfg.clone(),
        window,
        targets: targets.clone(),
        seed,
        state: state.clone(),
        optimizer_steps: 0,
        train_file: opts.train.display().to_string(),
        train_rows: rows,
        weights_file: String::new(),
        optimizer_file: None,
        start: Some(start),
        alphabet: ferrosea_runtime::checkpoint::AlphabetRecord::of(&alphabet),
    };
    let save = |kind: &str,
                state: &RunState,
                replicas: &[Replica],
                meta: &mut CheckpointMeta|
     -> Result<(), TrainError> {
        if !leader {
            return Ok(());
        }
        meta.state = state.clone();
        meta.optimizer_steps = replicas[0].optimizer.steps();
        let weights = replicas[0].store.tensors();
        if let Some((name, i, v)) = checkpoint::first_non_finite(&weights)? {
            return Err(diverged(
                state.step,
                state,
                &format!("weight {name} holds {v} (at index {i})"),
                &latest_json,
            ));
        }
        let optim = (kind == "latest")
            .then(|| replicas[0].optimizer.state_tensors())
            .transpose()?;
        checkpoint::save(&opts.out, kind, meta, &weights, optim.as_ref())?;
        Ok(())
    };

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
            let batch = batch.map_err(TrainError::Data)?;
            let loss = train_step(
                &mut replicas,
                &collective,
                &batch,
                window,
                targets.len(),
                cfg,
                seed,
                state.step,
                lr,
            )?;
            if !loss.is_finite() {
                return Err(diverged(
                    state.step + 1,
                    &state,
                    &format!("the training loss became {loss}"),
                    &latest_json,
                ));
            }
            if let Some(what) = non_finite_weights(&replicas[0])? {
                return Err(diverged(state.step + 1, &state, &what, &latest_json));
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
                save("latest", &state, &replicas, &mut meta)?;
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
            targets.len(),
            cfg.loss,
        )?;
        if !valid_loss.is_finite() {
            return Err(TrainError::Diverged(format!(
                "training diverged: the validation loss is {valid_loss} after epoch {} (step {}); {}",
                state.epoch + 1,
                state.step,
                last_good(&latest_json)
            )));
        }
        let train_loss = state.epoch_loss_sum / state.position.max(1) as f64;
        state.history.push(EpochMetrics {
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
        });
        let improved = state.best.is_none_or(|(b, _)| valid_loss < b);
        if improved {
            state.best = Some((valid_loss, state.epoch + 1));
            state.since_best = 0;
        } else {
            state.since_best += 1;
        }
        state.scheduler.end_epoch(valid_loss);
        state.epoch += 1;
        state.position = 0;
        state.epoch_loss_sum = 0.0;
        let m = state.history.last().expect("just pushed");
        let line = format!(
            "epoch {}/{}: train loss {:.5}, valid loss {:.5}, valid mean ROC AUC {} ({} targets), {:.0} samples/s{}",
            m.epoch,
            cfg.epochs,
            m.train_loss,
            m.valid_loss,
            m.valid_mean_roc_auc.map_or("n/a".into(), |a| format!("{a:.4}")),
            m.valid_targets_scored,
            m.samples_per_s,
            if improved { ", best so far" } else { "" }
        );
        tracing::info!("{line}");
        if improved {
            save("best", &state, &replicas, &mut meta)?;
        }
        save("latest", &state, &replicas, &mut meta)?;
        if leader {
            write_metrics(&opts.out.join("metrics.tsv"), &state.history)?;
        }
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

/// The error for a `step` that left something non-finite (`what`).
fn diverged(step: u64, state: &RunState, what: &str, latest_json: &Path) -> TrainError {
    TrainError::Diverged(format!(
        "training diverged at step {step} (epoch {}, sample {}): {what}; {}",
        state.epoch + 1,
        state.position,
        last_good(latest_json)
    ))
}

/// Where a diverged run stands, and what to do.
fn last_good(latest_json: &Path) -> String {
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

/// After a step: a parameter of the first replica holding a NaN or an infinity, named.
/// One sum per parameter, fetched in one transfer, finds them (any non-finite value makes
/// the sum non-finite); a sum that overflowed is told apart by looking at the values.
fn non_finite_weights(rep: &Replica) -> Result<Option<String>, TrainError> {
    let sums = rep
        .vars
        .iter()
        .map(|v| v.as_tensor().sum_all()?.to_dtype(DType::F32)?.reshape(1))
        .collect::<candle_core::Result<Vec<_>>>()?;
    let sums = Tensor::cat(&sums, 0)?.to_vec1::<f32>()?;
    for ((v, name), sum) in rep.vars.iter().zip(&rep.names).zip(sums) {
        if sum.is_finite() {
            continue;
        }
        if let Some((i, x)) = checkpoint::non_finite_in(v.as_tensor())? {
            return Ok(Some(format!("weight {name} became {x} (at index {i})")));
        }
    }
    Ok(None)
}

/// The settings of a resumed run that differ from what it recorded, one phrase each
/// (the recipe's model and the targets are checked before).
fn changed_settings(
    meta: &CheckpointMeta,
    opts: &Options,
    train_rows: usize,
) -> Result<Vec<String>, TrainError> {
    let (old, new) = (&meta.config, &opts.config);
    let mut changed = Vec::new();
    let mut differ = |what: &str, flag: &str, a: String, b: String| {
        if a != b {
            changed.push(format!("{what} was {a}, now {b}{flag}"));
        }
    };
    differ(
        "the batch size",
        " (--batch-size)",
        old.batch_size.to_string(),
        new.batch_size.to_string(),
    );
    differ(
        "the learning rate",
        " (--lr)",
        old.optimizer.lr().to_string(),
        new.optimizer.lr().to_string(),
    );
    let (mut o, mut n) = (old.optimizer.clone(), new.optimizer.clone());
    o.set_lr(0.0);
    n.set_lr(0.0);
    differ("the optimizer", "", json(&o), json(&n));
    differ("the schedule", "", json(&old.schedule), json(&new.schedule));
    differ(
        "the shuffle buffer",
        " (--shuffle-buffer)",
        old.shuffle_buffer.to_string(),
        new.shuffle_buffer.to_string(),
    );
    differ(
        "reverse-complement augmentation",
        " (--reverse-complement)",
        old.reverse_complement.to_string(),
        new.reverse_complement.to_string(),
    );
    differ(
        "l1_hidden",
        "",
        old.l1_hidden.to_string(),
        new.l1_hidden.to_string(),
    );
    differ("max_norm", "", json(&old.max_norm), json(&new.max_norm));
    differ("loss", "", old.loss.name().into(), new.loss.name().into());
    differ(
        "the seed",
        " (--seed)",
        meta.seed.to_string(),
        opts.seed.to_string(),
    );
    let per_epoch = |s: Option<usize>| s.map_or("whole epochs".into(), |k| k.to_string());
    if let Some(start) = &meta.start {
        differ(
            "steps per epoch",
            " (--steps-per-epoch)",
            per_epoch(start.steps_per_epoch),
            per_epoch(opts.steps_per_epoch),
        );
        let path = absolute(&opts.train);
        let bytes = file_size(&opts.train)?;
        if path != start.train_path || bytes != start.train_bytes || train_rows != meta.train_rows {
            changed.push(format!(
                "the training file was {} ({} bytes, {} rows), now {} ({bytes} bytes, {train_rows} rows) (--train)",
                start.train_path, start.train_bytes, meta.train_rows, path
            ));
        }
    } else if train_rows != meta.train_rows {
        changed.push(format!(
            "the training file was {} with {} rows, now {} with {train_rows} rows (--train)",
            meta.train_file,
            meta.train_rows,
            opts.train.display()
        ));
    }
    Ok(changed)
}

/// A value as JSON text, for comparing and showing settings.
fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// `path` made absolute (symbolic links resolved when it exists), for the run record.
fn absolute(path: &Path) -> String {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

fn file_size(path: &Path) -> Result<u64, TrainError> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| TrainError::Io(path.to_path_buf(), e))
}

fn report(outcome: Outcome, state: RunState, replicas: &[Replica]) -> Result<Report, TrainError> {
    Ok(Report {
        outcome,
        history: state.history,
        best: state.best,
        replica_divergence: divergence(replicas)?,
    })
}

fn divergence(replicas: &[Replica]) -> Result<f32, TrainError> {
    let mut worst = 0f32;
    for r in &replicas[1..] {
        for (a, b) in replicas[0].vars.iter().zip(&r.vars) {
            let d = (a.as_tensor().to_device(&Device::Cpu)?
                - b.as_tensor().to_device(&Device::Cpu)?)?
            .abs()?
            .max_all()?
            .to_scalar::<f32>()?;
            worst = worst.max(d);
        }
    }
    Ok(worst)
}

/// One optimizer step over a global batch; returns its mean loss (cross-entropy only).
#[allow(clippy::too_many_arguments)]
fn train_step(
    replicas: &mut [Replica],
    collective: &Arc<dyn Collective>,
    batch: &Batch,
    window: usize,
    targets: usize,
    cfg: &TrainConfig,
    seed: u64,
    step: u64,
    lr: f64,
) -> Result<f64, TrainError> {
    let world = collective.world();
    let first_rank = collective.first_rank();
    let n = batch.rows;
    let scale = 1.0 / (n * cfg.loss.terms_per_row(targets)) as f64;
    let shard = |r: usize| (r * n / world, (r + 1) * n / world);
    let one = |rank: usize, rep: &mut Replica| -> Result<f64, TrainError> {
        let (lo, hi) = shard(first_rank + rank);
        let rows = hi - lo;
        let mut grads: Vec<Tensor>;
        let bce_value: Tensor;
        if rows > 0 {
            let channels = rep.net.channels();
            let x = Tensor::from_slice(
                &batch.x[lo * channels * window..hi * channels * window],
                (rows, channels, window),
                &rep.device,
            )?;
            let y = Tensor::from_slice(
                &batch.y[lo * targets..hi * targets],
                (rows, targets),
                &rep.device,
            )?;
            let key = DropoutKey {
                seed,
                step,
                first_sample: (batch.first + lo) as u64,
            };
            let out = rep.net.forward(&x, Mode::Train(key))?;
            let bce = (cfg.loss.sum(&out.logits, &y)? * scale)?;
            let loss = if cfg.l1_hidden > 0.0 {
                (&bce + (out.hidden.abs()?.sum_all()? * cfg.l1_hidden)?)?
            } else {
                bce.clone()
            };
            let g = loss.backward()?;
            bce_value = bce.reshape(1)?;
            grads = rep
                .vars
                .iter()
                .zip(&rep.names)
                .map(|(v, name)| match g.get(v.as_tensor()) {
                    Some(t) => Ok(t.clone()),
                    None => Err(TrainError::Internal(format!("no gradient reached {name}"))),
                })
                .collect::<Result<_, _>>()?;
        } else {
            grads = rep
                .vars
                .iter()
                .map(|v| v.zeros_like())
                .collect::<candle_core::Result<_>>()?;
            bce_value = Tensor::zeros(1, DType::F32, &rep.device)?;
        }
        // The loss travels with the gradients, so that every replica learns the global
        // batch's loss in the same exchange.
        grads.push(bce_value);
        collective.all_reduce_sum(rank, &mut grads)?;
        let bce_value = grads
            .pop()
            .expect("pushed above")
            .to_dtype(DType::F64)?
            .reshape(())?
            .to_scalar::<f64>()?;
        rep.optimizer.step(&rep.vars, &grads, lr)?;
        if let Some(max) = cfg.max_norm {
            max_norm(&rep.vars, &rep.names, max)?;
        }
        Ok(bce_value)
    };
    let losses: Vec<Result<f64, TrainError>> = if world == 1 {
        vec![one(0, &mut replicas[0])]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = replicas
                .iter_mut()
                .enumerate()
                .map(|(rank, rep)| s.spawn(move || one(rank, rep)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("replica thread"))
                .collect()
        })
    };
    // Every replica holds the same global loss.
    let mut total = 0.0;
    for l in losses {
        total = l?;
    }
    Ok(total)
}

/// The gradient exchange for these devices: nothing for one replica in one process,
/// threads for CPU replicas, NCCL for CUDA devices.
fn collective_for(
    devices: &[Device],
    cluster: Option<&Cluster>,
) -> Result<Arc<dyn Collective>, TrainError> {
    let cuda = devices.iter().any(|d| d.is_cuda());
    if cluster.is_some() && !cuda {
        return Err(TrainError::Usage(
            "a multi-node run needs CUDA devices (--devices cuda:0,...) and a build with --features nccl".into(),
        ));
    }
    if devices.len() == 1 && cluster.is_none() {
        return Ok(Arc::new(Single));
    }
    if !cuda {
        return Ok(Arc::new(ThreadGroup::new(devices.len())));
    }
    if devices.iter().any(|d| !d.is_cuda()) {
        return Err(TrainError::Usage(
            "--devices mixes cpu and cuda; data-parallel replicas must all be CUDA devices or all cpu".into(),
        ));
    }
    nccl_group(devices, cluster)
}

#[cfg(feature = "nccl")]
fn nccl_group(
    devices: &[Device],
    cluster: Option<&Cluster>,
) -> Result<Arc<dyn Collective>, TrainError> {
    Ok(Arc::new(crate::collective::nccl::NcclGroup::new(
        devices, cluster,
    )?))
}

#[cfg(not(feature = "nccl"))]
fn nccl_group(
    _devices: &[Device],
    _cluster: Option<&Cluster>,
) -> Result<Arc<dyn Collective>, TrainError> {
    Err(TrainError::Usage(
        "several CUDA devices (or nodes) exchange gradients through NCCL, and this ferrosea-train was built without it; \
         rebuild with `cargo build --release -p ferrosea-train --features nccl`"
            .into(),
    ))
}

/// Torch's `renorm`: rows (output units) of every weight whose L2 norm exceeds `max` are
/// scaled down to it.
fn max_norm(vars: &[Var], names: &[String], max: f64) -> Result<(), TrainError> {
    for (v, name) in vars.iter().zip(names) {
        // Kernels only: batch norm's `weight` (its scale) is a vector, not rows of units.
        if (!name.ends_with("weight") && !name.contains(".weight_")) || v.rank() < 2 {
            continue;
        }
        let w = v.as_tensor().detach();
        let rows = w.dim(0)?;
        let flat = w.reshape((rows, ()))?;
        let norms = flat.sqr()?.sum_keepdim(1)?.sqrt()?;
        let factor = ((norms + 1e-7)?.recip()? * max)?.clamp(0f64, 1f64)?;
        let out = flat.broadcast_mul(&factor)?.reshape(w.shape())?;
        v.set(&out)?;
    }
    Ok(())
}

/// Validation loss and mean ROC AUC (with the number of targets scored).
fn validate(
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

/// Starts the first convolution's filters from motifs, DanQ-JASPAR's way: each motif and
/// then its reverse complement, in file order, as many as there are filters; the filter
/// gets PFM - 0.25 at a random offset inside the kernel and a bias drawn from U(-1, 0).
pub fn init_filters(
    store: &ParamStore,
    model: &ferrosea_models::ModelConfig,
    path: &Path,
    seed: u64,
) -> Result<usize, TrainError> {
    let motifs = ferrosea_motifs::read_meme(path).map_err(|e| TrainError::Data(e.to_string()))?;
    let Some((conv, width)) = model.first_conv() else {
        return Err(TrainError::Data(format!(
            "{}: --init-filters needs a model whose first layer is a convolution",
            path.display()
        )));
    };
    let wname = format!("{conv}.weight");
    let bname = format!("{conv}.bias");
    let tensors = store.tensors();
    let w = &tensors[&wname];
    let (filters, channels, k) = w.dims3()?;
    debug_assert_eq!(k, width);
    let mut wv = w.flatten_all()?.to_vec1::<f32>()?;
    let Some(b) = tensors.get(&bname) else {
        return Err(TrainError::Data(format!(
            "{}: --init-filters needs the first convolution to have a bias ({conv} has \"bias\": false)",
            path.display()
        )));
    };
    let mut bv = b.to_vec1::<f32>()?;
    let mut too_wide = 0;
    let mut used = 0;
    let candidates = motifs
        .iter()
        .flat_map(|m| [m.clone(), m.reverse_complement()]);
    for m in candidates {
        if used == filters {
            break;
        }
        if m.width() > k {
            too_wide += 1;
            continue;
        }
        let mut rng = rng_for(seed, &[0x1f17, used as u64]);
        let offset = rng.random_range(0..=k - m.width());
        let f = used;
        for c in 0..channels {
            for p in 0..k {
                wv[(f * channels + c) * k + p] = 0.0;
            }
            for (j, row) in m.pfm.iter().enumerate() {
                wv[(f * channels + c) * k + offset + j] = (row[c] - 0.25) as f32;
            }
        }
        bv[f] = rng.random_range(-1.0f32..0.0);
        used += 1;
    }
    if used == 0 {
        return Err(TrainError::Data(format!(
            "{}: no motif fits the {k}-wide first-layer filters ({too_wide} are wider)",
            path.display()
        )));
    }
    if too_wide > 0 {
        tracing::warn!(
            "{}: {too_wide} motifs (or reverse complements) wider than {k} positions were skipped",
            path.display()
        );
    }
    let device = w.device();
    store.set(
        &wname,
        &Tensor::from_vec(wv, (filters, channels, k), device)?,
    )?;
    store.set(&bname, &Tensor::from_vec(bv, filters, device)?)?;
    Ok(used)
}

fn check_compatible(tp: &Path, t: &Reader, vp: &Path, v: &Reader) -> Result<(), TrainError> {
    if t.window() != v.window() {
        return Err(TrainError::Mismatch(format!(
            "{} has {} bp windows and {} has {} bp",
            tp.display(),
            t.window(),
            vp.display(),
            v.window()
        )));
    }
    if t.alphabet() != v.alphabet() || t.labels() != v.labels() {
        return Err(TrainError::Mismatch(format!(
            "{} holds sequences over {} with {} labels and {} over {} with {} labels",
            tp.display(),
            t.alphabet(),
            t.labels(),
            vp.display(),
            v.alphabet(),
            v.labels()
        )));
    }
    if t.targets().name != v.targets().name {
        return Err(TrainError::Mismatch(format!(
            "{} and {} have different targets ({} and {}){}",
            tp.display(),
            vp.display(),
            t.targets().len(),
            v.targets().len(),
            first_difference(&t.targets().name, &v.targets().name)
        )));
    }
    Ok(())
}

fn first_difference(a: &[String], b: &[String]) -> String {
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => format!(
            "; first difference at target {}: '{}' vs '{}'",
            i + 1,
            a[i],
            b[i]
        ),
        None => String::new(),
    }
}

fn remove_run(dir: &Path) -> Result<(), TrainError> {
    for kind in ["latest", "best"] {
        let json = dir.join(format!("{kind}.json"));
        if let Ok(meta) = checkpoint::read_meta(&json) {
            for f in std::iter::once(meta.weights_file).chain(meta.optimizer_file) {
                let _ = std::fs::remove_file(dir.join(f));
            }
        }
        let _ = std::fs::remove_file(&json);
    }
    let _ = std::fs::remove_file(dir.join("metrics.tsv"));
    Ok(())
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
