//! Reading one peak file.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use noodles_bed as bed;

use crate::{Interval, ParseError, PeakSet, PeaksError};

/// The layout a peak file is held to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// ENCODE narrowPeak: BED6+4, ten columns.
    NarrowPeak,
    /// BED3 or more columns.
    Bed,
}

impl Format {
    /// Chooses the format from the file name: `*.narrowPeak[.gz]` is narrowPeak, anything
    /// else BED3+.
    ///
    /// # Examples
    ///
    /// ```
    /// use ferrosea_peaks::Format;
    /// assert_eq!(Format::from_path("a/ENCFF1.narrowPeak.gz".as_ref()), Format::NarrowPeak);
    /// assert_eq!(Format::from_path("atac.bed.gz".as_ref()), Format::Bed);
    /// ```
    pub fn from_path(path: &Path) -> Format {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        if name.ends_with(".narrowpeak") {
            Format::NarrowPeak
        } else {
            Format::Bed
        }
    }

    fn min_columns(self) -> usize {
        match self {
            Format::NarrowPeak => 10,
            Format::Bed => 3,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::NarrowPeak => "narrowPeak",
            Format::Bed => "BED3+",
        })
    }
}

/// Reads a peak file (plain or gzip/bgzip) into a merged [`PeakSet`].
///
/// # Examples
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("p.bed");
/// std::fs::write(&path, "track name=x\nchr1\t10\t20\nchr1\t15\t40\n")?;
/// let peaks = ferrosea_peaks::read_path(&path)?;
/// assert_eq!(peaks.chrom("chr1")[0].end, 40);
///
/// std::fs::write(&path, "chr1\t10\n")?;
/// let err = ferrosea_peaks::read_path(&path).unwrap_err().to_string();
/// assert!(err.ends_with("p.bed:1: expected at least 3 tab-separated columns (BED3+), found 2"));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn read_path(path: &Path) -> Result<PeakSet, PeaksError> {
    let io_err = |source| PeaksError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io_err)?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic).map_err(io_err)?;
    let file = File::open(path).map_err(io_err)?;
    let reader: Box<dyn BufRead> = if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(file)))
    } else {
        Box::new(BufReader::new(file))
    };
    read(reader, path, Format::from_path(path))
}

fn read(mut reader: impl BufRead, path: &Path, format: Format) -> Result<PeakSet, PeaksError> {
    let mut set = PeakSet::default();
    let mut line = String::new();
    let mut record = bed::Record::<3>::default();
    let mut number = 0;
    loop {
        line.clear();
        if reader
            .read_line(&mut line)
            .map_err(|source| PeaksError::Io {
                path: path.to_path_buf(),
                source,
            })?
            == 0
        {
            break;
        }
        number += 1;
        let text = line.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty()
            || text.starts_with('#')
            || text.starts_with("track")
            || text.starts_with("browser")
        {
            continue;
        }
        let (chrom, iv) =
            parse_line(text, format, &mut record).map_err(|kind| PeaksError::Parse {
                path: path.to_path_buf(),
                line: number,
                kind,
            })?;
        set.push(chrom, iv);
    }
    if set.records() == 0 {
        return Err(PeaksError::Empty {
            path: path.to_path_buf(),
            format,
        });
    }
    Ok(set.merged())
}

/// Parses the first three columns of one data line with noodles-bed.
fn parse_line<'a>(
    text: &'a str,
    format: Format,
    record: &mut bed::Record<3>,
) -> Result<(&'a str, Interval), ParseError> {
    let fields: Vec<&str> = text.split('\t').collect();
    if fields.len() < format.min_columns() {
        return Err(ParseError::TooFewColumns {
            expected: format.min_columns(),
            found: fields.len(),
            format,
        });
    }
    let invalid = |column, value: &str| ParseError::InvalidPosition {
        column,
        value: clipped(value),
    };
    // The first three fields alone, so that other columns cannot fail the parse.
    let head = &text[..fields[0].len() + fields[1].len() + fields[2].len() + 2];
    bed::io::Reader::<3, _>::new(head.as_bytes())
        .read_record(record)
        .map_err(|_| invalid("start", fields[1]))?;
    let start = record
        .feature_start()
        .map_err(|_| invalid("start", fields[1]))?
        .get() as u64
        - 1;
    // noodles has no position 0: a zero end (an empty peak at the chromosome start) is read here.
    let end = match fields[2] {
        "0" => 0,
        _ => match record.feature_end() {
            Some(Ok(p)) => p.get() as u64,
            _ => return Err(invalid("end", fields[2])),
        },
    };
    if start > end {
        return Err(ParseError::StartAfterEnd { start, end });
    }
    Ok((fields[0], Interval { start, end }))
}

/// A field quoted in an error message, cut to 80 characters (a corrupt file can hold a
/// field of megabytes, which must not become an error line of megabytes).
fn clipped(value: &str) -> String {
    match value.char_indices().nth(80) {
        None => value.to_string(),
        Some((end, _)) => format!("{}... ({} bytes in all)", &value[..end], value.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, format: Format) -> Result<PeakSet, PeaksError> {
        read(text.as_bytes(), Path::new("t.narrowPeak"), format)
    }

    fn kind(text: &str, format: Format) -> (usize, ParseError) {
        match parse(text, format) {
            Err(PeaksError::Parse { line, kind, .. }) => (line, kind),
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    #[test]
    fn narrowpeak_rows() {
        let set = parse(
            "chr1\t100\t300\t.\t0\t.\t5.2\t-1\t3.1\t120\nchr2\t0\t50\t.\t0\t.\t1\t-1\t1\t10\n",
            Format::NarrowPeak,
        )
        .unwrap();
        assert_eq!(
            set.chrom("chr1"),
            [Interval {
                start: 100,
                end: 300
            }]
        );
        assert_eq!(set.chrom("chr2"), [Interval { start: 0, end: 50 }]);
    }

    #[test]
    fn errors_carry_line_numbers() {
        let np = "chr1\t1\t5\t.\t0\t.\t1\t-1\t1\t1\n";
        assert_eq!(
            kind(&format!("{np}chr1\t1\t5\n"), Format::NarrowPeak),
            (
                2,
                ParseError::TooFewColumns {
                    expected: 10,
                    found: 3,
                    format: Format::NarrowPeak
                }
            )
        );
        assert_eq!(kind("# c\nchr1\tx\t5\n", Format::Bed).0, 2);
        assert!(matches!(
            kind("chr1\t1.5\t5\n", Format::Bed).1,
            ParseError::InvalidPosition {
                column: "start",
                ..
            }
        ));
        assert!(matches!(
            kind("chr1\t-4\t5\n", Format::Bed).1,
            ParseError::InvalidPosition {
                column: "start",
                ..
            }
        ));
        assert!(matches!(
            kind("chr1\t4\tten\n", Format::Bed).1,
            ParseError::InvalidPosition { column: "end", .. }
        ));
        assert_eq!(
            kind("chr1\t9\t5\n", Format::Bed).1,
            ParseError::StartAfterEnd { start: 9, end: 5 }
        );
        let msg = parse("chr1\t9\t5\n", Format::Bed).unwrap_err().to_string();
        assert_eq!(msg, "t.narrowPeak:1: start 9 is greater than end 5");
    }

    #[test]
    fn headers_blank_lines_and_empty_peaks() {
        let set = parse("browser position chr1\ntrack type=narrowPeak\n\nchr1\t5\t5\nchr1\t0\t0\nchr1\t5\t9\r\n", Format::Bed).unwrap();
        assert_eq!(set.records(), 3);
        assert_eq!(set.empty_records(), 2);
        assert_eq!(set.chrom("chr1"), [Interval { start: 5, end: 9 }]);
    }

    #[test]
    fn empty_file() {
        assert!(matches!(
            parse("# nothing\n", Format::Bed),
            Err(PeaksError::Empty { .. })
        ));
    }
}
