//! The output directory's policy: a previous run there is continued (`--resume`, with the
//! settings it recorded), replaced (`--force`) or refused; and what a run records of its
//! start so that a resumed one can tell what changed.

use std::path::Path;

use super::inputs::{first_difference, Inputs};
use super::Options;
use crate::checkpoint::{self, CheckpointMeta, RunStart};
use crate::TrainError;

/// Files a run writes into its output directory.
const RUN_FILES: &[&str] = &["latest.json", "best.json", "metrics.tsv"];

/// Makes the output directory ready: returns the record of the run to continue (after
/// checking that it was started on the same data with the same settings), or `None` for a
/// fresh run (a previous one replaced under `--force`). Only the `leader` removes files.
pub(super) fn prepare(
    opts: &Options,
    inputs: &Inputs,
    leader: bool,
) -> Result<Option<CheckpointMeta>, TrainError> {
    let cfg = &opts.config;
    let (alphabet, targets, window) = (&inputs.alphabet, &inputs.targets, inputs.window);
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
        if ferrosea_runtime::checkpoint::AlphabetRecord::of(alphabet) != meta.alphabet {
            return Err(TrainError::Mismatch(format!(
                "{} was trained on sequences over {} ({}), but {} holds {alphabet}",
                latest_json.display(),
                old.symbols,
                old.encoding,
                opts.train.display(),
            )));
        }
        if meta.targets != *targets || meta.window != window {
            return Err(TrainError::Mismatch(format!(
                "{} was trained on {} targets of {} bp windows, but {} has {} targets of {} bp{}",
                latest_json.display(),
                meta.targets.len(),
                meta.window,
                opts.train.display(),
                targets.len(),
                window,
                first_difference(&meta.targets, targets)
            )));
        }
        if meta.config.model != cfg.model {
            return Err(TrainError::Mismatch(format!(
                "{} holds a {} model with other settings than the recipe given now; resume without --preset/--config or with the same one",
                latest_json.display(),
                meta.config.model.arch()
            )));
        }
        let changed = changed_settings(meta, opts, inputs.train.len())?;
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
    Ok(resumed)
}

/// The start of the run: the resumed run's record, or this one's.
pub(super) fn run_start(
    opts: &Options,
    resumed: Option<&CheckpointMeta>,
) -> Result<RunStart, TrainError> {
    Ok(match resumed.and_then(|m| m.start.clone()) {
        Some(s) => s,
        None => RunStart {
            steps_per_epoch: opts.steps_per_epoch,
            train_path: absolute(&opts.train),
            train_bytes: file_size(&opts.train)?,
        },
    })
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
