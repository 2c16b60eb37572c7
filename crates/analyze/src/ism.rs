//! `ism`: saturation mutagenesis (to be written: see issue 16).

use std::path::PathBuf;

use crate::AnalyzeError;

/// What to mutate and where to write.
#[derive(clap::Args, Clone, Debug)]
pub struct IsmOptions {
    /// Checkpoint JSON or a ferrosea-train run directory.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// The HDF5 file to write.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Recorded in the output's provenance.
    #[arg(skip)]
    pub command_line: String,
    /// Show a progress bar on stderr.
    #[arg(skip)]
    pub progress: bool,
}

/// What an ism run did.
#[derive(Clone, Debug)]
pub struct IsmReport {}

impl IsmReport {
    /// One line for the log.
    pub fn line(&self) -> String {
        String::new()
    }
}

/// Runs saturation mutagenesis.
pub fn ism(_opts: &IsmOptions) -> Result<IsmReport, AnalyzeError> {
    Err(AnalyzeError::Usage("ism: not written yet".into()))
}
