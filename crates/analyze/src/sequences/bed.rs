//! BED intervals as windows centred on them (BED3 or more, plain or gzip).

use std::io::BufRead;
use std::path::{Path, PathBuf};

use ferrosea_genome::Fetcher;

use super::{open_text, Window};
use crate::AnalyzeError;

/// The intervals of a BED file, each as the window centred on it.
pub struct Intervals {
    path: PathBuf,
    genome: PathBuf,
    lines: Box<dyn BufRead>,
    line: usize,
    fetch: Fetcher,
    window: usize,
    padded: usize,
    buf: String,
}

impl Intervals {
    /// Opens `bed`, whose intervals lie on the sequences of `genome` (read through `fetch`).
    pub fn open(
        bed: &Path,
        genome: &Path,
        fetch: Fetcher,
        window: usize,
    ) -> Result<Intervals, AnalyzeError> {
        Ok(Intervals {
            path: bed.to_path_buf(),
            genome: genome.to_path_buf(),
            lines: open_text(bed)?,
            line: 0,
            fetch,
            window,
            padded: 0,
            buf: String::new(),
        })
    }

    /// The next interval's window, or `None` at the end.
    pub fn next_window(&mut self) -> Result<Option<Window>, AnalyzeError> {
        loop {
            self.buf.clear();
            let n = self.lines.read_line(&mut self.buf).map_err(|e| {
                AnalyzeError::Input(format!(
                    "{}: line {}: {e} (is it a text BED, plain or gzip?)",
                    self.path.display(),
                    self.line + 1
                ))
            })?;
            if n == 0 {
                return Ok(None);
            }
            self.line += 1;
            let text = self.buf.trim_end_matches(['\n', '\r']);
            if text.trim().is_empty()
                || text.starts_with('#')
                || text.starts_with("track")
                || text.starts_with("browser")
            {
                continue;
            }
            let (chrom, start, end, name) = parse(text).map_err(|why| {
                AnalyzeError::Input(format!(
                    "{}: line {}: {why}",
                    self.path.display(),
                    self.line
                ))
            })?;
            let Some(len) = self.fetch.length(&chrom) else {
                return Err(AnalyzeError::Input(format!(
                    "{}: line {}: chromosome '{chrom}' is not in {}{}",
                    self.path.display(),
                    self.line,
                    self.genome.display(),
                    self.alias_hint(&chrom)
                )));
            };
            if end > len {
                return Err(AnalyzeError::Input(format!(
                    "{}: line {}: interval {chrom}:{start}-{end} runs past the end of {chrom} \
                     ({len} bp in {}): expected end <= {len}",
                    self.path.display(),
                    self.line,
                    self.genome.display()
                )));
            }
            let (seq, padded) = self.centred(&chrom, len, start, end)?;
            if padded > 0 {
                self.padded += 1;
            }
            return Ok(Some(Window {
                chrom,
                start,
                end,
                name,
                seq,
                bin: None,
                padded,
            }));
        }
    }

    fn alias_hint(&self, chrom: &str) -> String {
        let bare = chrom.strip_prefix("chr").unwrap_or(chrom);
        for other in [format!("chr{bare}"), bare.to_string()] {
            if other != chrom && self.fetch.length(&other).is_some() {
                return format!(" (it has '{other}': a naming mismatch?)");
            }
        }
        String::new()
    }

    /// The window centred on `[start, end)`: `[c - h, c - h + L)`, `c = (start + end) / 2`;
    /// bases off the chromosome are `N`.
    fn centred(
        &mut self,
        chrom: &str,
        len: u64,
        start: u64,
        end: u64,
    ) -> Result<(Vec<u8>, usize), AnalyzeError> {
        let l = self.window as i64;
        let s = ((start + end) / 2) as i64 - l / 2;
        let (a, b) = (s.max(0), (s + l).min(len as i64));
        let mut seq = vec![b'N'; self.window];
        if a < b {
            let got = self.fetch.fetch(chrom, a as u64, b as u64)?;
            seq[(a - s) as usize..(b - s) as usize].copy_from_slice(&got);
        }
        seq.make_ascii_uppercase();
        Ok((seq, self.window - (b - a).max(0) as usize))
    }

    /// Intervals whose window ran off a chromosome.
    pub fn warnings(&self) -> Vec<String> {
        if self.padded == 0 {
            return Vec::new();
        }
        vec![format!(
            "{}: the windows of {} intervals run off their chromosome and were padded with N",
            self.path.display(),
            self.padded
        )]
    }
}

/// Parses a BED line: chromosome, 0-based start, end (>= start) and name (column 4, `.`
/// when absent). Columns are tab-separated (any whitespace when the line has no tab).
fn parse(text: &str) -> Result<(String, u64, u64, String), String> {
    let cols: Vec<&str> = if text.contains('\t') {
        text.split('\t').collect()
    } else {
        text.split_whitespace().collect()
    };
    if cols.len() < 3 {
        return Err(format!(
            "expected at least 3 tab-separated columns (chrom, start, end), found {}",
            cols.len()
        ));
    }
    let int = |i: usize, what: &str| {
        cols[i].trim().parse::<u64>().map_err(|_| {
            format!(
                "{what} '{}' is not a non-negative integer",
                ferrosea_dataset::clip(cols[i], 20)
            )
        })
    };
    let (start, end) = (int(1, "start")?, int(2, "end")?);
    if end < start {
        return Err(format!("end {end} is before start {start}"));
    }
    let chrom = cols[0].trim();
    if chrom.is_empty() {
        return Err("empty chromosome name".into());
    }
    let name = cols
        .get(3)
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .unwrap_or(".");
    Ok((chrom.to_string(), start, end, name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn bed3_and_bed6() {
        assert_eq!(
            parse("chr1\t10\t20").unwrap(),
            ("chr1".into(), 10, 20, ".".into())
        );
        assert_eq!(
            parse("chr1\t10\t20\tpeak1\t0\t+").unwrap(),
            ("chr1".into(), 10, 20, "peak1".into())
        );
        assert_eq!(parse("chr1 5 6 x").unwrap().3, "x");
    }

    #[test]
    fn bad_lines_say_why() {
        assert!(parse("chr1\t10").unwrap_err().contains("at least 3"));
        assert!(parse("chr1\tten\t20").unwrap_err().contains("start 'ten'"));
        assert!(parse("chr1\t30\t20").unwrap_err().contains("before start"));
        assert!(parse("chr1\t-1\t20").unwrap_err().contains("non-negative"));
    }
}
