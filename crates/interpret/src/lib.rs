//! The interpret stage: what a trained network's first layer learned.
//!
//! [`filters()`] turns the first convolution's filters into position weight matrices (the
//! argmax-window method), with logos and, optionally, each filter's influence on the
//! predictions; [`compare()`] matches motifs (those, or any MEME/JASPAR file) against a motif
//! database with the Tomtom method (`ferrosea_motifs::tomtom`) and writes tomtom's table;
//! [`report()`] puts both on one self-contained HTML page; [`attribute()`] scores each base's
//! contribution to chosen outputs (saliency, gradient x input, integrated gradients,
//! DeepLIFT/SHAP, mutagenesis); [`seqlets()`] finds the windows of high contribution in
//! them, against the null of shuffled sequences; [`motifs()`] clusters those into motifs.
//! The binary `ferrosea-interpret` is a thin command line over these.

mod attribute;
pub mod cli;
mod compare;
mod discover;
mod filters;
mod logo;
mod report;
mod seqlets;

pub use attribute::{
    attribute, attributions_spec, hypothetical, ism_hypothetical, AttributeOptions,
    AttributeReport, Attribution, Input, Method, Reference, Settings, ATTRIBUTIONS_FORMAT,
    MAX_DEFAULT_TARGETS,
};
pub use compare::{compare, CompareOptions, Threshold, JASPAR2024};
pub use discover::{motifs, MotifSummary, MotifsOptions, MotifsReport, MOTIFS_FORMAT};
pub use ferrosea_models::deeplift::RecurrentRule;
pub use filters::{filters, Background, FilterSummary, FiltersOptions, FiltersReport};
pub use report::{report, ReportOptions};
pub use seqlets::{
    find_seqlets, read_seqlets, seqlets, Provenance, Seqlet, SeqletsOptions, SeqletsReport,
    Threshold as SeqletThreshold,
};

use std::path::PathBuf;

/// Why an interpretation step failed. Every message names the file at fault. Failures of
/// the other crates keep their own type; [`Usage`](InterpretError::Usage) is only for flags
/// that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum InterpretError {
    /// Wrong or conflicting flags.
    #[error("{0}")]
    Usage(String),
    /// An input whose contents cannot be used (no contributions, too few rows, a filter
    /// layer that is not there).
    #[error("{0}")]
    Data(String),
    /// Two inputs that disagree (a checkpoint and a dataset, attributions and seqlets).
    #[error("{0}")]
    Mismatch(String),
    /// A motif file that cannot be read.
    #[error(transparent)]
    Motifs(#[from] ferrosea_motifs::MotifError),
    /// A dataset, attribution or seqlet file that cannot be read or written.
    #[error(transparent)]
    Dataset(#[from] ferrosea_dataset::DatasetError),
    /// A checkpoint that cannot be found or read.
    #[error(transparent)]
    Checkpoint(#[from] ferrosea_runtime::checkpoint::CheckpointError),
    /// A device or network that cannot be run.
    #[error(transparent)]
    Runtime(#[from] ferrosea_runtime::RuntimeError),
    /// Mutagenesis or sequences from a genome (the analyze stage's model and inputs; boxed,
    /// being large).
    #[error(transparent)]
    Analyze(Box<ferrosea_analyze::AnalyzeError>),
    /// A tensor operation failed.
    #[error("tensor operation: {0}")]
    Candle(#[from] candle_core::Error),
    /// A logo or plot could not be drawn.
    #[error("{0}")]
    Draw(String),
    /// A file-system error.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// An output path that is one of the inputs.
    #[error(transparent)]
    OutputIsInput(#[from] ferrosea_dataset::OutputIsInput),
}

impl From<ferrosea_analyze::AnalyzeError> for InterpretError {
    fn from(e: ferrosea_analyze::AnalyzeError) -> InterpretError {
        InterpretError::Analyze(Box::new(e))
    }
}

/// Refuses, before any work, every output that is one of the inputs (also through links,
/// and the output's temporary name).
pub(crate) fn refuse_inputs(
    outputs: &[std::path::PathBuf],
    inputs: &[(&str, &std::path::Path)],
) -> Result<(), InterpretError> {
    for out in outputs {
        ferrosea_dataset::ensure_not_input(out, inputs)?;
    }
    Ok(())
}

/// Writes `contents` to `<path>.tmp`, then renames it to `path`.
pub(crate) fn write_atomically(
    path: &std::path::Path,
    contents: &[u8],
) -> Result<(), InterpretError> {
    ferrosea_dataset::write_atomically(path, contents)
        .map_err(|e| InterpretError::Io(path.to_path_buf(), e))
}
