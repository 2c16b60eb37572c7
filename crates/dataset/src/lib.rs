//! The ferrosea dataset format: labelled one-hot sequence windows in HDF5.
//!
//! One file holds one split (train, valid or test). Any HDF5 reader opens it with no plugin:
//!
//! ```text
//! /x                  uint8 [N, window, 4]  one-hot, columns A,C,G,T (attr alphabet="ACGT")
//! /y                  uint8 [N, T]          0/1 labels, column t = target t
//!                     (attr `labels`: class indices uint8 [N], or real values float32 [N, T])
//! /targets/name       str [T]               target names, in label-column order
//! /targets/category   str [T]               TF, DNase, Histone, ...
//! /targets/cell       str [T]               (when the manifest has it)
//! /targets/treatment  str [T]               (when the manifest has it)
//! /coords/chrom       uint32 [N]            index into /coords/chrom_names
//! /coords/chrom_names str [C]
//! /coords/start       int64 [N]             0-based start of the window
//! /coords/strand      uint8 [N]             b'+' forward, b'-' reverse complement
//! ```
//!
//! Row datasets are chunked along N and deflate-compressed; see `docs/FORMAT.md` for the
//! file attributes and the layout rules. [`Writer`] streams rows to disk under a temporary
//! name and renames the file when it is complete; [`Reader`] reads it back.

mod alphabet;
mod guard;
mod layout;
mod predictions;
mod reader;
mod results;
mod temp_file;
mod writer;

use std::path::PathBuf;

pub use alphabet::{real_label_bytes, Alphabet, Encoding, LabelKind};
pub use guard::{
    clip, command_line, ensure_not_input, ensure_output_dir, ensure_output_file, ensure_writable,
    provenance, same_file, sha256_file, OutputIsInput, MESSAGE_VALUE_CHARS,
};
pub use predictions::{Predictions, PredictionsOptions, PredictionsWriter, PREDICTIONS_FORMAT};
pub use reader::Reader;
pub use results::{Column, ColumnKind, ResultsReader, ResultsSpec, ResultsWriter};
pub use temp_file::{tmp_path, write_atomically, TempFile};
pub use writer::{Block, Closed, Writer, WriterOptions};

impl DatasetError {
    /// The HDF5 failure of `what` on `path`, for `map_err`.
    pub(crate) fn hdf5(
        path: &std::path::Path,
        what: &str,
    ) -> impl FnOnce(hdf5::Error) -> DatasetError + use<> {
        let (path, what) = (path.to_path_buf(), what.to_string());
        move |source| DatasetError::Hdf5 { path, what, source }
    }
}

/// Flushes and closes a complete file whose datasets are dropped, naming it on failure.
pub(crate) fn close_file(path: &std::path::Path, file: hdf5::File) -> Result<(), DatasetError> {
    file.flush()
        .map_err(DatasetError::hdf5(path, "closing (is the disk full?)"))?;
    file.close()
        .map_err(DatasetError::hdf5(path, "closing (is the disk full?)"))
}

/// An error and its causes on one line, for the binaries' `error:` line: each cause is
/// appended after `: ` unless the text so far already holds it (our errors name their cause
/// in their own message, so `{:#}` would say it twice).
pub fn error_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    line
}

/// A binary's exit: 0 on success; otherwise `PROGRAM: error: ...` ([`error_line`]) on stderr
/// and exit code 2.
pub fn exit_code<E>(program: &str, result: Result<(), E>) -> std::process::ExitCode
where
    E: Into<Box<dyn std::error::Error + 'static>>,
{
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let e: Box<dyn std::error::Error + 'static> = e.into();
            eprintln!("{program}: error: {}", error_line(e.as_ref()));
            std::process::ExitCode::from(2)
        }
    }
}

/// Raw coordinate columns of some rows: chromosome indices, window starts, strand bytes.
pub type CoordColumns = (Vec<u32>, Vec<i64>, Vec<u8>);

/// Version of the layout described above, stored as the `format_version` attribute: files
/// over A, C, G, T with binary labels are version 1, as before other alphabets and labels
/// existed; files that use them are version 2, so that a reader of version 1 refuses them.
pub const FORMAT_VERSION: u32 = 2;

/// Value of the `format` file attribute.
pub const FORMAT_NAME: &str = "ferrosea-dataset";

/// The targets (label columns) of a dataset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Targets {
    /// Names, unique, in column order.
    pub name: Vec<String>,
    /// Category of each target (TF, DNase, Histone, ...).
    pub category: Vec<String>,
    /// Cell type of each target, when known.
    pub cell: Option<Vec<String>>,
    /// Treatment of each target, when known.
    pub treatment: Option<Vec<String>>,
}

impl Targets {
    /// Number of targets.
    pub fn len(&self) -> usize {
        self.name.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.name.is_empty()
    }
}

/// A file attribute value.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    /// A UTF-8 string.
    Str(String),
    /// A signed integer.
    Int(i64),
}

/// What a dataset file holds besides its rows.
#[derive(Clone, Debug, Default)]
pub struct Header {
    /// Window length in bases.
    pub window: usize,
    /// The label columns.
    pub targets: Targets,
    /// Chromosome names that `coords/chrom` indexes.
    pub chrom_names: Vec<String>,
    /// File attributes written besides `format`, `format_version` and `window`.
    pub attrs: Vec<(String, AttrValue)>,
    /// The symbols of `/x` (default: one-hot A, C, G, T).
    pub alphabet: Alphabet,
    /// What `/y` holds (default: 0/1 per target).
    pub labels: LabelKind,
}

impl Header {
    /// The `format_version` a file of this header gets: 1 for one-hot ACGT with binary
    /// labels, [`FORMAT_VERSION`] otherwise.
    pub fn format_version(&self) -> u32 {
        if self.alphabet.is_dna() && self.labels == LabelKind::Binary {
            1
        } else {
            FORMAT_VERSION
        }
    }
}

/// Bytes of `/y` per row for `targets` targets.
pub(crate) fn label_row_bytes(kind: LabelKind, targets: usize) -> usize {
    match kind {
        LabelKind::Binary => targets,
        LabelKind::Class => 1,
        LabelKind::Real => 4 * targets,
    }
}

/// Errors reading or writing a dataset file; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// An HDF5 call failed.
    #[error("{path}: {what}: {source}")]
    Hdf5 {
        /// The file.
        path: PathBuf,
        /// What was being done.
        what: String,
        /// The HDF5 error.
        #[source]
        source: hdf5::Error,
    },
    /// A file-system call failed.
    #[error("{path}: {what}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not laid out as this crate expects.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::error_line;

    #[test]
    fn error_lines_name_each_cause_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("{path}: {source}")]
        struct Wrapped {
            path: String,
            source: std::io::Error,
        }
        #[derive(Debug, thiserror::Error)]
        #[error("reading the recipe")]
        struct Outer(#[source] Wrapped);
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let w = Wrapped {
            path: "a.json".into(),
            source: io(),
        };
        assert_eq!(error_line(&w), "a.json: no such file");
        let o = Outer(Wrapped {
            path: "a.json".into(),
            source: io(),
        });
        assert_eq!(error_line(&o), "reading the recipe: a.json: no such file");
    }
}
