//! `regions`: predictions on regions (to be written: see issue 16).

use std::path::PathBuf;

use crate::AnalyzeError;

/// What to predict and where to write.
#[derive(clap::Args, Clone, Debug)]
pub struct RegionsOptions {
    /// Checkpoint JSON or a ferrosea-train run directory.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// The output directory.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Recorded in the output's provenance.
    #[arg(skip)]
    pub command_line: String,
    /// Show a progress bar on stderr.
    #[arg(skip)]
    pub progress: bool,
}

/// What a regions run did.
#[derive(Clone, Debug)]
pub struct RegionsReport {}

impl RegionsReport {
    /// One line for the log.
    pub fn line(&self) -> String {
        String::new()
    }
}

/// Predicts regions.
pub fn regions(_opts: &RegionsOptions) -> Result<RegionsReport, AnalyzeError> {
    Err(AnalyzeError::Usage("regions: not written yet".into()))
}
