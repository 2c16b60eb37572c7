//! The analyze stage: what a trained network says about sequences it was not trained on.
//!
//! - [`variants()`]: the effect of each VCF variant on every target (reference and
//!   alternative probabilities, differences, log odds, DeepSEA's log fold change and, against
//!   a [`background()`], e-values), as HDF5, Selene-layout TSVs and an annotated VCF;
//! - [`background()`]: the per-target distribution of DeepSEA's |diff x log2fc| over random
//!   SNVs or a VCF of the user's, which turns scores into e-values;
//! - [`ism()`]: saturation mutagenesis, every single-base substitution of each sequence;
//! - [`regions()`]: predictions for BED intervals, FASTA records or windows tiled along
//!   chromosomes, with bigWig and bedGraph tracks.
//!
//! Every part runs the network through [`Model`] (checkpoint loading and batched inference
//! from `ferrosea-train`). The binary `ferrosea-analyze` is a thin command line over these
//! functions; docs/ANALYSIS.md states the rules (window placement, scores, e-values).

pub mod alleles;
pub mod background;
pub mod ism;
pub mod model;
pub mod plot;
pub mod regions;
pub mod scores;
pub mod sequences;
pub mod variants;
pub mod vcf;

use std::path::{Path, PathBuf};

pub use background::{background, BackgroundOptions, BackgroundReport};
pub use ism::{ism, IsmOptions, IsmReport};
pub use model::{Model, RunArgs};
pub use regions::{regions, RegionsOptions, RegionsReport};
pub use sequences::SequenceArgs;
pub use variants::{gather, variants, GatherOptions, VariantsOptions, VariantsReport};

/// Why an analysis failed. Every message names the file at fault (and the line, for text
/// inputs).
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// Wrong flags or an unusable output location.
    #[error("{0}")]
    Usage(String),
    /// An input that cannot be used as it is (a malformed VCF line, a BED interval past a
    /// chromosome end, a FASTA record of the wrong length).
    #[error("{0}")]
    Input(String),
    /// Two inputs that disagree (a background of another checkpoint, unknown targets).
    #[error("{0}")]
    Mismatch(String),
    /// The reference genome cannot be read.
    #[error(transparent)]
    Genome(#[from] ferrosea_genome::GenomeError),
    /// A result file cannot be read or written.
    #[error(transparent)]
    Dataset(#[from] ferrosea_dataset::DatasetError),
    /// The checkpoint cannot be loaded or the device opened.
    #[error(transparent)]
    Runtime(#[from] ferrosea_runtime::RuntimeError),
    /// A tensor operation failed.
    #[error("tensor operation: {0}")]
    Candle(#[from] candle_core::Error),
    /// A file-system error.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
}

impl AnalyzeError {
    /// An I/O error on `path`.
    pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AnalyzeError + '_ {
        move |e| AnalyzeError::Io(path.to_path_buf(), e)
    }
}

/// Checks an output directory before any work ([`ferrosea_dataset::ensure_output_dir`]).
pub fn check_out_dir(dir: &Path, inputs: &[(&str, &Path)]) -> Result<(), AnalyzeError> {
    ferrosea_dataset::ensure_output_dir(dir, inputs).map_err(AnalyzeError::Usage)
}

/// Checks an output file before any work ([`ferrosea_dataset::ensure_output_file`]).
pub fn check_out_file(path: &Path, inputs: &[(&str, &Path)]) -> Result<(), AnalyzeError> {
    ferrosea_dataset::ensure_output_file(path, inputs).map_err(AnalyzeError::Usage)
}

/// Removes the `summary.json` of an earlier run in `out`, before anything is replaced: every
/// subcommand with an output directory writes it last, so its presence says the run finished.
/// Returns its path.
pub(crate) fn remove_summary(out: &Path) -> Result<PathBuf, AnalyzeError> {
    let path = out.join("summary.json");
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(AnalyzeError::Io(path, e)),
        _ => Ok(path),
    }
}

/// Writes a run's report as `summary.json` (pretty JSON, through a temporary name).
pub(crate) fn write_summary(
    path: &Path,
    report: &impl serde::Serialize,
) -> Result<(), AnalyzeError> {
    let text = serde_json::to_string_pretty(report).expect("serialisable") + "\n";
    ferrosea_dataset::write_atomically(path, text.as_bytes()).map_err(AnalyzeError::io(path))
}

/// Opens a text file, plain or gzip (bgzip included, as gzip's multi-member form), for
/// reading lines.
pub(crate) fn open_text(path: &Path) -> Result<Box<dyn std::io::BufRead + Send>, AnalyzeError> {
    use std::io::{BufReader, Read};
    let mut f = std::fs::File::open(path).map_err(AnalyzeError::io(path))?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic).map_err(AnalyzeError::io(path))?;
    let f = std::fs::File::open(path).map_err(AnalyzeError::io(path))?;
    Ok(if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::read::MultiGzDecoder::new(f),
        ))
    } else {
        Box::new(BufReader::with_capacity(1 << 20, f))
    })
}

/// A progress bar on stderr (hidden unless `show`), counting `what` with their rate.
pub fn progress_bar(show: bool, len: Option<u64>, what: &str) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let (bar, template) = match len {
        Some(n) => (
            indicatif::ProgressBar::new(n),
            format!("{{bar:30}} {{pos}}/{{len}} {what}, {{per_sec}}, eta {{eta}}"),
        ),
        None => (
            indicatif::ProgressBar::new_spinner(),
            format!("{{spinner}} {{pos}} {what}, {{per_sec}}"),
        ),
    };
    bar.set_style(indicatif::ProgressStyle::with_template(&template).expect("valid template"));
    bar
}

/// The hex SHA-256 of a file's bytes (provenance of genomes and checkpoints).
pub fn sha256_file(path: &Path) -> Result<String, AnalyzeError> {
    ferrosea_dataset::sha256_file(path).map_err(AnalyzeError::io(path))
}
