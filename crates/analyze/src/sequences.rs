//! Where the windows of `ism` and `regions` come from: FASTA records, BED intervals centred
//! in the model's window, or windows tiled along chromosomes.
//!
//! Every source yields [`Window`]s of exactly the model's length `L` (`h = L / 2`, rounded
//! down), in input order, in blocks ([`Reader::next_block`]), so memory stays bounded:
//!
//! - **FASTA records** (`--fasta`, plain or gzip): one window per record, which must have
//!   `L` bases; with `center`, a longer record is cropped to its middle `L` bases (the first
//!   kept base is `(len - L) / 2`) and a shorter one padded with `N` on both sides (`(L -
//!   len) / 2` on the left). The row is `name, 0, len, name`.
//! - **BED intervals** (`--regions`, BED3 or more, plain or gzip; `track`, `browser` and `#`
//!   lines skipped): the window centred on the interval, `[c - h, c - h + L)` with `c =
//!   (start + end) / 2` (rounded down), so a one-base interval `[p, p + 1)` puts `p` at index
//!   `h`, where `variants` puts an SNV. Bases of the window before the chromosome's start or
//!   past its end are `N` (counted). The row is the interval as written and its name (column
//!   4, `.` when absent).
//! - **Tiles** (`--tile chr22,chr1:1001-50000 --step S`): for each region `[a, b)` (a whole
//!   chromosome is `[0, len)`), bins `[a + kS, a + (k + 1)S)` for `k = 0, 1, ...` while `a +
//!   kS < b` (the last one clipped at `b`); bin `k`'s window is the `L` bases centred on it,
//!   starting at `s = a + kS + S / 2 - h`, so the bin is the window's middle `S` bases (for
//!   `S <= L`). Windows with `s < 0` or `s + L` past the chromosome's end are skipped, and so
//!   are windows made only of `N` (assembly gaps): the track has no value there. Regions
//!   are tiled in the order of chromosome name (bytes, as `sort -k1,1`), then start, the
//!   order bigWig files want; overlapping regions are an error.
//!
//! Sources are checked completely before any output is made ([`Source::check`]): a BED
//! interval past a chromosome's end, an unknown chromosome or a FASTA record of the wrong
//! length is an error naming the file and line.

mod bed;
mod fasta;
mod tiles;

use std::path::{Path, PathBuf};

use ferrosea_genome::{Fetcher, Genome, Region};

pub(crate) use crate::open_text;
use crate::AnalyzeError;

/// The flags that say where `ism` and `regions` take their sequences from.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct SequenceArgs {
    /// Sequences, one window per record (plain or gzip FASTA).
    #[arg(long, value_name = "FASTA")]
    pub fasta: Option<PathBuf>,
    /// Reference genome FASTA (plain with .fai, or bgzip with .fai and .gzi), for --regions
    /// (and for the --tile of `regions`).
    #[arg(long)]
    pub genome: Option<PathBuf>,
    /// BED intervals (BED3 or more, plain or gzip), each in the window centred on it.
    #[arg(long, value_name = "BED")]
    pub regions: Option<PathBuf>,
    /// FASTA records of another length than the window are cropped to their middle or padded
    /// with N (default: an error).
    #[arg(long)]
    pub center: bool,
}

/// One window to predict, with the row it is reported under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    /// The row's chromosome (FASTA: the record's name).
    pub chrom: String,
    /// The row's start (0-based): the BED start, the tile window's start, 0 for FASTA.
    pub start: u64,
    /// The row's end (exclusive): the BED end, the tile window's end, the record's length.
    pub end: u64,
    /// The row's name: BED column 4, the FASTA record's name, `.` otherwise.
    pub name: String,
    /// The `L` bases fed to the network (upper case; `N` where padded).
    pub seq: Vec<u8>,
    /// For tiles, the bin `[start, end)` whose track value this window gives.
    pub bin: Option<(u64, u64)>,
    /// Bases of `seq` that are padding (outside the record or the chromosome).
    pub padded: usize,
}

/// Where windows come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// FASTA records; `center` crops or pads records of another length than the window.
    Fasta {
        /// The FASTA file.
        path: PathBuf,
        /// Crop or pad with `N` instead of rejecting records of the wrong length.
        center: bool,
    },
    /// BED intervals of a genome, each centred in a window.
    Bed {
        /// The reference genome.
        genome: PathBuf,
        /// The BED file.
        bed: PathBuf,
    },
    /// Windows tiled along regions of a genome.
    Tiles {
        /// The reference genome.
        genome: PathBuf,
        /// The regions, as given (`--tile`).
        regions: Vec<Region>,
        /// Bases between consecutive windows.
        step: u64,
    },
}

/// What [`Source::check`] found.
#[derive(Clone, Debug, Default)]
pub struct Checked {
    /// Windows the source will yield.
    pub windows: usize,
    /// Things the user should know (records cropped or padded).
    pub warnings: Vec<String>,
}

impl Source {
    /// Builds the source from the command line's choice: `--fasta`, or `--genome` with
    /// `--regions` or `--tile`.
    pub fn from_flags(
        fasta: Option<&Path>,
        genome: Option<&Path>,
        bed: Option<&Path>,
        tile: Option<&str>,
        step: u64,
        center: bool,
    ) -> Result<Source, AnalyzeError> {
        let usage = |m: &str| Err(AnalyzeError::Usage(m.to_string()));
        match (fasta, genome, bed, tile) {
            (Some(path), None, None, None) => Ok(Source::Fasta {
                path: path.to_path_buf(),
                center,
            }),
            (None, Some(g), Some(b), None) => Ok(Source::Bed {
                genome: g.to_path_buf(),
                bed: b.to_path_buf(),
            }),
            (None, Some(g), None, Some(t)) => {
                if step == 0 {
                    return usage("--step must be at least 1");
                }
                let regions = Region::parse_list(t)
                    .map_err(|e| AnalyzeError::Usage(format!("--tile: {e}")))?;
                if regions.is_empty() {
                    return usage("--tile: no regions given");
                }
                Ok(Source::Tiles {
                    genome: g.to_path_buf(),
                    regions,
                    step,
                })
            }
            (Some(_), ..) => {
                usage("give either --fasta, or --genome with --regions (or --tile), not both kinds")
            }
            (None, None, ..) => usage(
                "no sequences: give --fasta FILE, or --genome FILE with --regions BED (or --tile)",
            ),
            (None, Some(_), None, None) => usage("--genome needs --regions BED (or --tile)"),
            (None, Some(_), Some(_), Some(_)) => usage("give --regions or --tile, not both"),
        }
    }

    /// The input files (for the output-is-not-an-input check).
    pub fn inputs(&self) -> Vec<(&'static str, &Path)> {
        match self {
            Source::Fasta { path, .. } => vec![("--fasta", path.as_path())],
            Source::Bed { genome, bed } => {
                vec![("--genome", genome.as_path()), ("--regions", bed.as_path())]
            }
            Source::Tiles { genome, .. } => vec![("--genome", genome.as_path())],
        }
    }

    /// The genome, when the source reads one.
    pub fn genome(&self) -> Option<&Path> {
        match self {
            Source::Fasta { .. } => None,
            Source::Bed { genome, .. } | Source::Tiles { genome, .. } => Some(genome),
        }
    }

    /// Reads the whole input once and checks it against the window length `window`: every
    /// error the run could meet in its input is met here, before any output exists.
    pub fn check(&self, window: usize) -> Result<Checked, AnalyzeError> {
        let mut reader = self.open(window)?;
        let mut checked = Checked::default();
        loop {
            let n = reader.skip_block(4096)?;
            if n == 0 {
                break;
            }
            checked.windows += n;
        }
        checked.warnings = reader.warnings();
        Ok(checked)
    }

    /// Opens the source for reading windows of length `window`.
    pub fn open(&self, window: usize) -> Result<Reader, AnalyzeError> {
        Ok(match self {
            Source::Fasta { path, center } => {
                Reader::Fasta(fasta::Records::open(path, *center, window)?)
            }
            Source::Bed { genome, bed } => {
                let fetch = open_genome(genome)?;
                Reader::Bed(bed::Intervals::open(bed, genome, fetch, window)?)
            }
            Source::Tiles {
                genome,
                regions,
                step,
            } => {
                let g = Genome::open(genome, 2)?;
                let sizes = g
                    .sequences()
                    .iter()
                    .map(|s| (s.name.clone(), s.length))
                    .collect();
                let fetch = g.fetcher()?;
                Reader::Tiles(tiles::Tiles::new(
                    genome, fetch, sizes, regions, *step, window,
                )?)
            }
        })
    }
}

fn open_genome(path: &Path) -> Result<Fetcher, AnalyzeError> {
    Ok(Genome::open(path, 2)?.fetcher()?)
}

/// Reads the windows of a [`Source`].
pub enum Reader {
    /// FASTA records.
    Fasta(fasta::Records),
    /// BED intervals.
    Bed(bed::Intervals),
    /// Tiled windows.
    Tiles(tiles::Tiles),
}

impl Reader {
    /// Up to `max` next windows, in input order; empty at the end.
    pub fn next_block(&mut self, max: usize) -> Result<Vec<Window>, AnalyzeError> {
        let mut out = Vec::new();
        while out.len() < max {
            let w = match self {
                Reader::Fasta(r) => r.next_window()?,
                Reader::Bed(r) => r.next_window()?,
                Reader::Tiles(r) => r.next_window()?,
            };
            match w {
                Some(w) => out.push(w),
                None => break,
            }
        }
        Ok(out)
    }

    fn skip_block(&mut self, max: usize) -> Result<usize, AnalyzeError> {
        Ok(self.next_block(max)?.len())
    }

    /// Windows skipped so far (tiles off a chromosome's end or entirely `N`).
    pub fn skipped(&self) -> usize {
        match self {
            Reader::Tiles(t) => t.skipped,
            _ => 0,
        }
    }

    /// What the user should know about the windows read so far.
    pub fn warnings(&self) -> Vec<String> {
        match self {
            Reader::Fasta(r) => r.warnings(),
            Reader::Bed(r) => r.warnings(),
            Reader::Tiles(_) => Vec::new(),
        }
    }
}

/// Fits `seq` into `window` bases: the middle `window` bases of a longer one, a shorter one
/// padded with `N` on both sides. Returns the bases and the padding added.
///
/// # Examples
///
/// ```
/// use ferrosea_analyze::sequences::center;
/// assert_eq!(center(b"ACGTAC", 4), (b"CGTA".to_vec(), 0));
/// assert_eq!(center(b"AC", 5), (b"NACNN".to_vec(), 3));
/// ```
pub fn center(seq: &[u8], window: usize) -> (Vec<u8>, usize) {
    if seq.len() >= window {
        let a = (seq.len() - window) / 2;
        (seq[a..a + window].to_vec(), 0)
    } else {
        let left = (window - seq.len()) / 2;
        let mut out = vec![b'N'; window];
        out[left..left + seq.len()].copy_from_slice(seq);
        (out, window - seq.len())
    }
}

/// A name made safe for a file name: characters other than letters, digits, `.`, `-` and
/// `_` become `_`.
///
/// # Examples
///
/// ```
/// use ferrosea_analyze::sequences::file_safe;
/// assert_eq!(file_safe("GM12878|CTCF (ENCODE)"), "GM12878_CTCF__ENCODE_");
/// ```
pub fn file_safe(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        format!("_{s}")
    } else {
        s
    }
}
