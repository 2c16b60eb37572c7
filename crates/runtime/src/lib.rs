//! Running trained networks without training: what every stage that applies a model needs
//! (`ferrosea-evaluate`, `ferrosea-interpret`, `ferrosea-analyze`, and `ferrosea-train`
//! itself for validation).
//!
//! Modules: [`checkpoint`] (finding, reading and checking a checkpoint, building its
//! network), [`device`] (`cpu`, `cuda:N`), [`predict`](mod@predict) (batched inference whose bits do not
//! depend on the batch size or the thread count), [`data`] (streaming batches out of a
//! dataset file), [`loss`], [`process`] (the binaries' set-up and shared flags).

pub mod checkpoint;
pub mod data;
pub mod device;
pub mod loss;
pub mod predict;
pub mod process;

pub use checkpoint::{load_network, ModelCheckpoint};
pub use device::DeviceSpec;
pub use predict::{eval_logits, pass_rows, predict, MIN_PASS_ROWS};

/// Why a model could not be run. Every message names the file or setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// An unusable device or flag.
    #[error("{0}")]
    Usage(String),
    /// A dataset that cannot be read.
    #[error(transparent)]
    Dataset(#[from] ferrosea_dataset::DatasetError),
    /// Data that does not fit the model.
    #[error("{0}")]
    Data(String),
    /// A model that cannot be built.
    #[error(transparent)]
    Model(#[from] ferrosea_models::ModelError),
    /// A checkpoint problem.
    #[error(transparent)]
    Checkpoint(#[from] checkpoint::CheckpointError),
    /// A tensor operation failed.
    #[error("tensor operation: {0}")]
    Candle(#[from] candle_core::Error),
}
