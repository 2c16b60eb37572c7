//! FASTA records as windows: a small line reader (plain or gzip) that knows the line each
//! record starts on, for error messages.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use super::{center, open_text, Window};
use crate::AnalyzeError;

/// The records of a FASTA file, one window each.
pub struct Records {
    path: PathBuf,
    lines: Box<dyn BufRead>,
    line: usize,
    /// The next record's header (name) and its line, once read.
    pending: Option<(String, usize)>,
    center: bool,
    window: usize,
    cropped: usize,
    padded: usize,
    buf: String,
}

impl Records {
    /// Opens `path`; the first non-empty line must be a `>` header.
    pub fn open(path: &Path, center: bool, window: usize) -> Result<Records, AnalyzeError> {
        Ok(Records {
            path: path.to_path_buf(),
            lines: open_text(path)?,
            line: 0,
            pending: None,
            center,
            window,
            cropped: 0,
            padded: 0,
            buf: String::new(),
        })
    }

    /// Reads one line into `self.buf` (without its end); `false` at the end of the file.
    fn read_line(&mut self) -> Result<bool, AnalyzeError> {
        self.buf.clear();
        let n = self.lines.read_line(&mut self.buf).map_err(|e| {
            AnalyzeError::Input(format!(
                "{}: line {}: {e} (is it a text FASTA, plain or gzip?)",
                self.path.display(),
                self.line + 1
            ))
        })?;
        if n == 0 {
            return Ok(false);
        }
        self.line += 1;
        let t = self.buf.trim_end_matches(['\n', '\r']).len();
        self.buf.truncate(t);
        Ok(true)
    }

    /// The next record as a window, or `None` at the end.
    pub fn next_window(&mut self) -> Result<Option<Window>, AnalyzeError> {
        let (name, at) = match self.pending.take() {
            Some(p) => p,
            None => loop {
                if !self.read_line()? {
                    return Ok(None);
                }
                if self.buf.trim().is_empty() {
                    continue;
                }
                match self.buf.strip_prefix('>') {
                    Some(h) => break (header_name(h), self.line),
                    None => {
                        return Err(AnalyzeError::Input(format!(
                            "{}: line {}: expected a FASTA header ('>name'), found '{}'",
                            self.path.display(),
                            self.line,
                            ferrosea_dataset::clip(&self.buf, 40)
                        )))
                    }
                }
            },
        };
        let mut seq = Vec::new();
        while self.read_line()? {
            if let Some(h) = self.buf.strip_prefix('>') {
                self.pending = Some((header_name(h), self.line));
                break;
            }
            let bytes = self.buf.trim().as_bytes();
            if let Some(bad) = bytes
                .iter()
                .find(|b| !b.is_ascii_alphabetic() && **b != b'-')
            {
                return Err(AnalyzeError::Input(format!(
                    "{}: line {}: '{}' is not a base letter (record '{name}')",
                    self.path.display(),
                    self.line,
                    (*bad as char).escape_default()
                )));
            }
            seq.extend_from_slice(bytes);
        }
        if name.is_empty() {
            return Err(AnalyzeError::Input(format!(
                "{}: line {at}: a FASTA header without a name",
                self.path.display()
            )));
        }
        seq.make_ascii_uppercase();
        let len = seq.len();
        let (seq, padded) = if len == self.window {
            (seq, 0)
        } else if self.center {
            if len > self.window {
                self.cropped += 1;
            } else {
                self.padded += 1;
            }
            center(&seq, self.window)
        } else {
            return Err(AnalyzeError::Input(format!(
                "{}: line {at}: record '{name}' has {len} bases; the model's window is {}: give \
                 records of exactly {} bases, or --center to crop them to their middle (or pad \
                 them with N)",
                self.path.display(),
                self.window,
                self.window
            )));
        };
        Ok(Some(Window {
            chrom: name.clone(),
            start: 0,
            end: len as u64,
            name,
            seq,
            bin: None,
            padded,
        }))
    }

    /// The records cropped or padded by `--center`.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.cropped > 0 {
            w.push(format!(
                "{}: {} records longer than the window ({} bp) were cropped to their middle {} \
                 bases (--center)",
                self.path.display(),
                self.cropped,
                self.window,
                self.window
            ));
        }
        if self.padded > 0 {
            w.push(format!(
                "{}: {} records shorter than the window ({} bp) were padded with N on both sides \
                 (--center)",
                self.path.display(),
                self.padded,
                self.window
            ));
        }
        w
    }
}

/// The name of a header: its first word.
fn header_name(h: &str) -> String {
    h.split_whitespace().next().unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::Records;

    fn read(text: &[u8], center: bool, window: usize) -> Result<Vec<(String, Vec<u8>)>, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.fa");
        std::fs::write(&path, text).unwrap();
        let mut r = Records::open(&path, center, window).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        while let Some(w) = r.next_window().map_err(|e| e.to_string())? {
            out.push((w.name, w.seq));
        }
        Ok(out)
    }

    #[test]
    fn multi_line_records_with_crlf_and_blank_lines() {
        let got = read(b"\n>a desc\r\nac\r\ngt\r\n\n>b\nTTTT\n", false, 4).unwrap();
        assert_eq!(
            got,
            [
                ("a".into(), b"ACGT".to_vec()),
                ("b".into(), b"TTTT".to_vec())
            ]
        );
    }

    #[test]
    fn errors_name_the_line() {
        let e = read(b">a\nACGT\n>b\nACG\n", false, 4).unwrap_err();
        assert!(e.contains("line 3: record 'b' has 3 bases"), "{e}");
        let e = read(b"ACGT\n", false, 4).unwrap_err();
        assert!(e.contains("line 1: expected a FASTA header"), "{e}");
        let e = read(b">a\nAC1T\n", false, 4).unwrap_err();
        assert!(e.contains("line 2: '1' is not a base letter"), "{e}");
        assert_eq!(read(b">a\nACG\n", true, 4).unwrap()[0].1, b"ACGN");
    }
}
