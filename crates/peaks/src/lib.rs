//! Peak calls: ENCODE narrowPeak and BED3+ files, read into per-chromosome interval sets.
//!
//! A peak file is read line by line; `#` comments, `track` and `browser` lines and blank lines
//! are skipped. The first three columns (chrom, 0-based start, exclusive end) are parsed by
//! noodles-bed; a file named `*.narrowPeak` (or `.narrowPeak.gz`) must have the format's ten
//! columns. Every error names the file and the 1-based line.
//!
//! ```text
//! chr22  100  300  .  0  .  5.2  -1  3.1  120     narrowPeak (BED6+4)
//! chr22  250  400                                 BED3
//!        |--------------|                          merged per target: [100, 400)
//! ```
//!
//! Peaks of one target that overlap or touch are merged, so that the coverage of a bin is the
//! number of its bases inside any peak.

mod reader;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use reader::{read_path, Format};

/// A half-open, 0-based stretch of one chromosome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval {
    /// First base, 0-based.
    pub start: u64,
    /// One past the last base.
    pub end: u64,
}

/// The peaks of one target, by chromosome, sorted and merged.
///
/// # Examples
///
/// ```
/// use ferrosea_peaks::{Interval, PeakSet};
/// let mut set = PeakSet::default();
/// set.push("chr1", Interval { start: 10, end: 20 });
/// set.push("chr1", Interval { start: 15, end: 30 });
/// set.push("chr1", Interval { start: 30, end: 35 });
/// set.push("chr1", Interval { start: 50, end: 60 });
/// let set = set.merged();
/// assert_eq!(set.chrom("chr1"), [Interval { start: 10, end: 35 }, Interval { start: 50, end: 60 }]);
/// assert_eq!(set.records(), 4);
/// ```
#[derive(Clone, Debug, Default)]
pub struct PeakSet {
    by_chrom: BTreeMap<String, Vec<Interval>>,
    records_by_chrom: BTreeMap<String, usize>,
    records: usize,
    empty: usize,
}

impl PeakSet {
    /// Adds a peak; an empty one (start == end) is counted and dropped.
    pub fn push(&mut self, chrom: &str, iv: Interval) {
        self.records += 1;
        match self.records_by_chrom.get_mut(chrom) {
            Some(n) => *n += 1,
            None => {
                self.records_by_chrom.insert(chrom.to_string(), 1);
            }
        }
        if iv.start >= iv.end {
            self.empty += 1;
            return;
        }
        match self.by_chrom.get_mut(chrom) {
            Some(v) => v.push(iv),
            None => {
                self.by_chrom.insert(chrom.to_string(), vec![iv]);
            }
        }
    }

    /// Sorts each chromosome's peaks and merges those that overlap or touch.
    pub fn merged(mut self) -> Self {
        for v in self.by_chrom.values_mut() {
            v.sort_unstable();
            let mut out: Vec<Interval> = Vec::with_capacity(v.len());
            for iv in v.drain(..) {
                match out.last_mut() {
                    Some(last) if iv.start <= last.end => last.end = last.end.max(iv.end),
                    _ => out.push(iv),
                }
            }
            *v = out;
        }
        self
    }

    /// The peaks on `chrom` (empty when none).
    pub fn chrom(&self, chrom: &str) -> &[Interval] {
        self.by_chrom.get(chrom).map_or(&[], Vec::as_slice)
    }

    /// Chromosomes named by at least one record, with the number of records on each.
    pub fn chroms(&self) -> impl Iterator<Item = (&str, usize)> {
        self.records_by_chrom.iter().map(|(c, &n)| (c.as_str(), n))
    }

    /// Removes the peaks of `chrom`, returning how many records named it.
    pub fn remove_chrom(&mut self, chrom: &str) -> usize {
        self.by_chrom.remove(chrom);
        self.records_by_chrom.remove(chrom).unwrap_or(0)
    }

    /// Clips every interval to `[0, len)` of its chromosome; returns how many were cut or
    /// dropped.
    pub fn clip(&mut self, chrom: &str, len: u64) -> usize {
        let Some(v) = self.by_chrom.get_mut(chrom) else {
            return 0;
        };
        let before: Vec<Interval> = std::mem::take(v);
        let mut clipped = 0;
        for mut iv in before {
            if iv.end > len {
                clipped += 1;
                iv.end = len;
            }
            if iv.start < iv.end {
                v.push(iv);
            }
        }
        clipped
    }

    /// Number of records read (peak lines), before merging.
    pub fn records(&self) -> usize {
        self.records
    }

    /// Number of records of length zero, which were dropped.
    pub fn empty_records(&self) -> usize {
        self.empty
    }
}

/// Errors reading a peak file; each names the file, and the line where there is one.
#[derive(Debug, thiserror::Error)]
pub enum PeaksError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A line could not be read as a peak.
    #[error("{path}:{line}: {kind}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        kind: ParseError,
    },
    /// The file holds no peaks at all.
    #[error("{path}: no peaks in file (expected {format} records)")]
    Empty {
        /// The file.
        path: PathBuf,
        /// The expected format.
        format: Format,
    },
}

/// What was wrong with one line of a peak file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    /// Fewer columns than the format needs.
    #[error("expected at least {expected} tab-separated columns ({format}), found {found}")]
    TooFewColumns {
        /// Columns needed.
        expected: usize,
        /// Columns present.
        found: usize,
        /// The format.
        format: Format,
    },
    /// A coordinate is not a non-negative integer.
    #[error("invalid {column} '{value}': expected a non-negative integer")]
    InvalidPosition {
        /// `start` or `end`.
        column: &'static str,
        /// The text found.
        value: String,
    },
    /// start > end.
    #[error("start {start} is greater than end {end}")]
    StartAfterEnd {
        /// Column 2.
        start: u64,
        /// Column 3.
        end: u64,
    },
}
