//! `prep.json`: what a prep run read, decided and wrote.
//!
//! Everything in it follows from the inputs and options, so that two runs of the same
//! command give the same bytes whatever the thread count; timings go to the log instead.

use std::collections::BTreeMap;

use serde::Serialize;

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// ferrosea version that wrote it.
    pub ferrosea_version: String,
    /// The command line, without the thread count.
    pub command_line: String,
    /// The options as resolved (defaults filled in).
    pub options: serde_json::Value,
    /// The input files.
    pub inputs: Inputs,
    /// What happened to the bins.
    pub bins: BinCounts,
    /// One entry per output file, train, valid, test.
    pub splits: Vec<SplitReport>,
    /// One entry per target, in label-column order.
    pub targets: Vec<TargetReport>,
    /// Things a user should look at (skipped peaks, empty splits, ...).
    pub warnings: Vec<String>,
    /// Wall-clock seconds of each phase; not written to prep.json, which stays reproducible.
    #[serde(skip)]
    pub timings: Timings,
}

/// Wall-clock seconds of the phases of a run.
#[derive(Clone, Debug, Default)]
pub struct Timings {
    /// Manifest, genome index, peak files and checksums.
    pub load: f64,
    /// Pass 1: labelling and deciding every bin.
    pub decide: f64,
    /// Pass 2: encoding, compressing and writing.
    pub write: f64,
}

/// A file and its checksum.
#[derive(Clone, Debug, Serialize)]
pub struct FileRef {
    /// The path as given (or resolved against the manifest).
    pub path: String,
    /// SHA-256 of the file's bytes.
    pub sha256: String,
}

/// The inputs.
#[derive(Clone, Debug, Serialize)]
pub struct Inputs {
    /// The reference genome.
    pub genome: FileRef,
    /// plain, gzip or bgzip.
    pub genome_compression: String,
    /// Where the sequence index came from.
    pub genome_index: String,
    /// Sequences of the genome, in file order, with lengths.
    pub sequences: Vec<(String, u64)>,
    /// The targets manifest.
    pub targets_manifest: FileRef,
}

/// Bin counts over the whole genome (forward strand; reverse complements are not counted).
#[derive(Clone, Debug, Default, Serialize)]
pub struct BinCounts {
    /// All bins of all sequences.
    pub seen: u64,
    /// Bins that became samples.
    pub kept: u64,
    /// Bins not selected by the keep rule.
    pub not_selected_by_keep_rule: u64,
    /// Selected bins whose window runs past a sequence end.
    pub dropped_window_past_sequence_end: u64,
    /// Selected bins whose window has more unknown bases than `--max-n` allows.
    pub dropped_too_many_n: u64,
}

/// One output file.
#[derive(Clone, Debug, Serialize)]
pub struct SplitReport {
    /// train, valid or test.
    pub split: String,
    /// File name inside the output directory.
    pub file: String,
    /// Rows in the file.
    pub rows: u64,
    /// Rows of the forward block (the reverse-complement block, when present, follows it).
    pub forward_rows: u64,
    /// Forward rows per sequence.
    pub rows_per_sequence: BTreeMap<String, u64>,
}

/// One target.
#[derive(Clone, Debug, Serialize)]
pub struct TargetReport {
    /// Name.
    pub name: String,
    /// Category.
    pub category: String,
    /// The peak file.
    pub peaks: FileRef,
    /// Peak records read.
    pub peak_records: u64,
    /// Records skipped, by reason.
    pub peaks_skipped: PeaksSkipped,
    /// Records cut at a sequence end (kept, shortened).
    pub peaks_clipped_at_sequence_end: u64,
    /// Positive forward rows per split: train, valid, test.
    pub positives: BTreeMap<String, u64>,
}

/// Peak records skipped, by reason.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PeaksSkipped {
    /// Records on sequences the genome does not have, by sequence name.
    pub sequence_not_in_genome: BTreeMap<String, u64>,
    /// Records of length zero.
    pub empty: u64,
}
