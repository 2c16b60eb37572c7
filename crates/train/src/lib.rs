//! The train stage: streams a ferrosea dataset through a network of layers.
//!
//! [`run`] is the whole stage; the binary `ferrosea-train` is a thin command line over it.
//! Modules: [`config`] (recipes and presets), [`optim`] and [`schedule`] (update rules,
//! learning rates), [`checkpoint`] (writing and resuming), [`collective`] (gradient exchange
//! for data-parallel replicas). Running a trained network (devices, checkpoints, batched
//! inference, the batch loader) is `ferrosea-runtime`, which the other stages use without
//! this crate.

pub mod checkpoint;
pub mod cli;
pub mod collective;
pub mod config;
pub mod convert;
mod filters;
pub mod optim;
mod run;
pub mod schedule;

use std::path::PathBuf;

pub use config::TrainConfig;
pub use filters::init_filters;
pub use run::{run, Options, Outcome, Report};

/// Why a run failed. Every message names the file or setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Wrong flags or an unusable output directory.
    #[error("{0}")]
    Usage(String),
    /// A recipe problem.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// A dataset that cannot be read.
    #[error(transparent)]
    Dataset(#[from] ferrosea_dataset::DatasetError),
    /// Data that does not fit (shapes, rows, motif files, weights of another architecture,
    /// a model a format cannot express).
    #[error("{0}")]
    Data(String),
    /// Two inputs that disagree (train/valid targets, checkpoint/dataset).
    #[error("{0}")]
    Mismatch(String),
    /// A model that cannot be built.
    #[error(transparent)]
    Model(#[from] ferrosea_models::ModelError),
    /// A checkpoint problem.
    #[error(transparent)]
    Checkpoint(#[from] checkpoint::CheckpointError),
    /// Running the network (device, inference).
    #[error(transparent)]
    Runtime(#[from] ferrosea_runtime::RuntimeError),
    /// The loss is no longer finite.
    #[error("{0}")]
    Diverged(String),
    /// A file-system error.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// A tensor operation failed.
    #[error("tensor operation: {0}")]
    Candle(#[from] candle_core::Error),
    /// An output path that is one of the inputs.
    #[error(transparent)]
    OutputIsInput(#[from] ferrosea_dataset::OutputIsInput),
    /// A bug.
    #[error("internal error: {0}")]
    Internal(String),
}
