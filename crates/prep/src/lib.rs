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
pub mod report;
mod run;
pub mod simulate;

use std::path::PathBuf;

use ferrosea_genome::Region;
pub use import::{import_deepsea, ImportError, ImportOptions, ImportReport};
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

/// Errors of a prep run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The genome.
    #[error(transparent)]
    Genome(#[from] ferrosea_genome::fasta::Error),
    /// A peak file.
    #[error(transparent)]
    Peaks(#[from] ferrosea_peaks::Error),
    /// The manifest.
    #[error(transparent)]
    Manifest(#[from] manifest::Error),
    /// An output file.
    #[error(transparent)]
    Dataset(#[from] ferrosea_dataset::Error),
    /// Options that cannot work together with the inputs.
    #[error("{0}")]
    Invalid(String),
    /// A file-system problem with the output.
    #[error("{path}: {what}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}
