//! The prep stage: a reference genome and peak files become DeepSEA-style training data.
//!
//! ```text
//! genome.fa ─┐                 ┌─ train.h5   one-hot windows [N, 1000, 4],
//! targets.tsv┼─> bins, labels ─┼─ valid.h5   labels [N, T], coordinates
//! peaks/*    ┘   keep rule     ├─ test.h5
//!                splits        └─ prep.json  options, checksums, counts
//! ```
//!
//! [`run`] reads the genome twice, one chromosome at a time: the first pass decides which bins
//! become samples (so that every file's size, and the place of the reverse-complement block,
//! are known), the second writes them. Memory is bounded by the longest chromosome, whatever
//! the genome size. Labelling follows Zhou & Troyanskaya (2015); see [`label`].

pub mod cli;
pub mod examples;
pub mod import;
pub mod label;
pub mod manifest;
pub mod mat;
pub mod pass;
pub mod recipes;
pub mod report;
mod run;
pub mod simulate;
pub mod workflow_config;

use std::path::PathBuf;

use ferrosea_genome::Region;
pub use import::{import_deepsea, ImportOptions, ImportReport};
pub use label::Keep;
pub use run::run;

/// Options of a prep run; [`Options::default`] reproduces DeepSEA's choices.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Options {
    /// Reference FASTA (plain, gzip or bgzip).
    pub genome: PathBuf,
    /// Targets manifest (TSV).
    pub targets: PathBuf,
    /// Output directory.
    pub out: PathBuf,
    /// Worker threads; 0 uses every core. Does not change the output.
    #[serde(skip)]
    pub threads: usize,
    /// Bin size in bp.
    pub bin_size: u64,
    /// Window length in bp, centred on the bin.
    pub window: u64,
    /// Peak bases a bin needs for a positive label.
    pub min_overlap: u64,
    /// Which bins become samples.
    pub keep: Keep,
    /// Test split: chromosomes and regions.
    #[serde(serialize_with = "regions")]
    pub test: Vec<Region>,
    /// Validation split: chromosomes and regions.
    #[serde(serialize_with = "regions")]
    pub valid: Vec<Region>,
    /// Append the reverse complement of every sample.
    pub reverse_complement: bool,
    /// Largest fraction of unknown bases in a window.
    pub max_n: f64,
    /// Keep targets that have no usable peaks (all-zero label columns).
    pub allow_empty_targets: bool,
    /// Rows per HDF5 chunk of x and y.
    pub chunk_rows: usize,
    /// Deflate level of the HDF5 datasets.
    pub compression_level: u32,
    /// The command line recorded in the outputs (without the thread count).
    #[serde(skip)]
    pub command_line: String,
}

fn regions<S: serde::Serializer>(r: &[Region], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(r.iter().map(ToString::to_string))
}

/// DeepSEA's test chromosomes.
pub const DEFAULT_TEST: &str = "chr8,chr9";
/// DeepSEA's validation region (its 4,000 validation bins lie in it).
pub const DEFAULT_VALID: &str = "chr7:30508751-35296850";

impl Default for Options {
    fn default() -> Self {
        Options {
            genome: PathBuf::new(),
            targets: PathBuf::new(),
            out: PathBuf::new(),
            threads: 0,
            bin_size: 200,
            window: 1000,
            min_overlap: 101,
            keep: Keep::Positive,
            test: Region::parse_list(DEFAULT_TEST).expect("valid default"),
            valid: Region::parse_list(DEFAULT_VALID).expect("valid default"),
            reverse_complement: false,
            max_n: 0.01,
            allow_empty_targets: false,
            chunk_rows: 256,
            compression_level: 4,
            command_line: String::new(),
        }
    }
}

/// Why a prep stage failed: the labelling run, `import-deepsea`, `simulate` or
/// `simulate-examples`. Every message names the file (and line, where there is one) at fault;
/// failures of the genome, peak, dataset and motif crates keep their own type.
#[derive(Debug, thiserror::Error)]
pub enum PrepError {
    /// Flags that cannot work.
    #[error("{0}")]
    Usage(String),
    /// Settings that cannot work with these inputs, or inputs whose contents do not fit.
    #[error("{0}")]
    Invalid(String),
    /// The genome.
    #[error(transparent)]
    Genome(#[from] ferrosea_genome::GenomeError),
    /// A peak file.
    #[error(transparent)]
    Peaks(#[from] ferrosea_peaks::PeaksError),
    /// A dataset file (read or written).
    #[error(transparent)]
    Dataset(#[from] ferrosea_dataset::DatasetError),
    /// A motif file.
    #[error(transparent)]
    Motifs(#[from] ferrosea_motifs::MotifError),
    /// A file that is not what is expected (a MAT-file of another kind).
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A line of a text input (the manifest) is wrong.
    #[error("{path}:{line}: {message}")]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// An HDF5 call failed (MAT-files of version 7.3).
    #[error("{path}: {source}")]
    Hdf5 {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: hdf5::Error,
    },
    /// A file-system error; `what` says what was being done, when that helps.
    #[error("{path}: {what}{source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// What was being done, followed by ": " (or empty).
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl PrepError {
    /// A file-system error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> PrepError {
        PrepError::Io {
            path: path.into(),
            what: String::new(),
            source,
        }
    }

    /// A file-system error on `path` while doing `what`.
    pub(crate) fn io_while(
        path: &std::path::Path,
        what: &str,
    ) -> impl FnOnce(std::io::Error) -> PrepError {
        let (path, what) = (path.to_path_buf(), format!("{what}: "));
        move |source| PrepError::Io { path, what, source }
    }

    /// `path` is not the file expected.
    pub(crate) fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> PrepError {
        PrepError::Format {
            path: path.into(),
            message: message.into(),
        }
    }

    /// An HDF5 failure on `path`.
    pub(crate) fn hdf5(path: impl Into<PathBuf>, source: hdf5::Error) -> PrepError {
        PrepError::Hdf5 {
            path: path.into(),
            source,
        }
    }
}
