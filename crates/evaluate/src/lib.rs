//! The evaluate stage: a checkpoint's predictions on a dataset, and their per-target scores.
//!
//! [`predict()`] streams a dataset file through a trained network into a prediction file
//! (`pred` probabilities, with the dataset's labels, targets and coordinates);
//! [`metrics()`] scores a prediction file per target (ROC AUC, PR AUC with the one
//! implementation in `ferrosea-metrics`; accuracy for class labels; Pearson, Spearman and
//! MSE for real-valued labels), summarises per category with polars, joins
//! published per-target figures ([`reference`](mod@reference)) and draws the curves ([`plots`]). The binary
//! `ferrosea-evaluate` is a thin command line over both.

pub mod cli;
pub mod labels;
mod metrics;
pub mod plots;
mod predict;
pub mod reference;

use std::path::PathBuf;

pub use metrics::{metrics, MetricsOptions, MetricsReport, SummaryRow, TargetRow};
pub use predict::{predict, PredictOptions, PredictReport};

/// Why an evaluation failed. Every message names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    /// Wrong flags or an unusable output location.
    #[error("{0}")]
    Usage(String),
    /// A dataset or prediction file that cannot be read or written.
    #[error(transparent)]
    Dataset(#[from] ferrosea_dataset::DatasetError),
    /// Bad values in an input (NaN predictions, an empty file, a malformed table).
    #[error("{0}")]
    Data(String),
    /// Two inputs that disagree (checkpoint and dataset, predictions and labels).
    #[error("{0}")]
    Mismatch(String),
    /// The checkpoint cannot be loaded.
    #[error(transparent)]
    Runtime(#[from] ferrosea_runtime::RuntimeError),
    /// A tensor operation failed.
    #[error("tensor operation: {0}")]
    Candle(#[from] candle_core::Error),
    /// A table operation failed.
    #[error("table operation: {0}")]
    Polars(#[from] polars::prelude::PolarsError),
    /// A file-system error.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// A plot could not be drawn.
    #[error("{0}: drawing the plot: {1}")]
    Plot(PathBuf, String),
}

/// The first five names, comma-separated, with ", ..." when there are more.
pub(crate) fn first_names(names: &[&str]) -> String {
    let mut s = names.iter().take(5).copied().collect::<Vec<_>>().join(", ");
    if names.len() > 5 {
        s.push_str(", ...");
    }
    s
}

/// Writes `contents` to `<path>.tmp`, then renames it to `path`.
pub(crate) fn write_atomically(
    path: &std::path::Path,
    contents: &[u8],
) -> Result<(), EvaluateError> {
    ferrosea_dataset::write_atomically(path, contents)
        .map_err(|e| EvaluateError::Io(path.to_path_buf(), e))
}

/// Checks an output file before any work: it is not a directory, not one of `inputs`
/// (`(flag, path)` pairs, also through links) and can be created
/// ([`ferrosea_dataset::ensure_output_file`]).
pub(crate) fn check_output(
    path: &std::path::Path,
    inputs: &[(&str, &std::path::Path)],
) -> Result<(), EvaluateError> {
    ferrosea_dataset::ensure_output_file(path, inputs).map_err(EvaluateError::Usage)
}
