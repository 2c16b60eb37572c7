//! Motifs as position frequency matrices, read from MEME's minimal motif format (the
//! format JASPAR and HOCOMOCO distribute and `tomtom` reads), plain or gzip-compressed.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// A motif: one row of A, C, G, T probabilities per position.
#[derive(Clone, Debug, PartialEq)]
pub struct Motif {
    /// Identifier (`MOTIF <id> ...`).
    pub id: String,
    /// Alternate name, when given.
    pub name: Option<String>,
    /// Probabilities per position, columns A, C, G, T.
    pub pfm: Vec<[f64; 4]>,
}

impl Motif {
    /// Width in positions.
    pub fn width(&self) -> usize {
        self.pfm.len()
    }

    /// The reverse complement (positions reversed, A<->T, C<->G).
    pub fn reverse_complement(&self) -> Motif {
        Motif {
            id: self.id.clone(),
            name: self.name.clone(),
            pfm: self
                .pfm
                .iter()
                .rev()
                .map(|r| [r[3], r[2], r[1], r[0]])
                .collect(),
        }
    }
}

/// A motif file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MotifError {
    /// File-system error.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Malformed content.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What was expected.
        message: String,
    },
}

/// Reads every motif of a MEME file (`.gz` decompressed by content, not by name).
pub fn read_meme(path: &Path) -> Result<Vec<Motif>, MotifError> {
    let io = |source| MotifError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut raw = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut raw))
        .map_err(io)?;
    let text: Box<dyn BufRead> = if raw.starts_with(&[0x1f, 0x8b]) {
        Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(
            std::io::Cursor::new(raw),
        )))
    } else {
        Box::new(BufReader::new(std::io::Cursor::new(raw)))
    };
    parse_meme(text, path)
}

/// Parses MEME minimal format from a reader; `path` names it in errors.
pub fn parse_meme(reader: impl BufRead, path: &Path) -> Result<Vec<Motif>, MotifError> {
    let err = |line: usize, message: String| MotifError::Parse {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut motifs: Vec<Motif> = Vec::new();
    let mut seen_version = false;
    // Rows still expected for the current matrix.
    let mut expecting = 0usize;
    let lines = reader.lines().enumerate();
    for (i, line) in lines {
        let n = i + 1;
        let line = line.map_err(|e| MotifError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let t = line.trim();
        if expecting > 0 {
            if t.is_empty() {
                continue;
            }
            let vals: Vec<f64> = t
                .split_whitespace()
                .map(|v| v.parse::<f64>())
                .collect::<Result<_, _>>()
                .map_err(|_| err(n, format!("expected 4 probabilities, found '{t}'")))?;
            if vals.len() != 4 {
                return Err(err(
                    n,
                    format!("expected 4 probabilities (A C G T), found {}", vals.len()),
                ));
            }
            let sum: f64 = vals.iter().sum();
            if vals.iter().any(|v| *v < 0.0) || (sum - 1.0).abs() > 0.02 {
                return Err(err(
                    n,
                    format!("probabilities must be >= 0 and sum to 1, these sum to {sum}"),
                ));
            }
            let m = motifs.last_mut().expect("a matrix follows a MOTIF line");
            m.pfm
                .push([vals[0] / sum, vals[1] / sum, vals[2] / sum, vals[3] / sum]);
            expecting -= 1;
            continue;
        }
        if t.starts_with("MEME version") {
            seen_version = true;
        } else if let Some(rest) = t.strip_prefix("ALPHABET=") {
            if rest.trim() != "ACGT" {
                return Err(err(
                    n,
                    format!("alphabet {} is not DNA (ACGT)", rest.trim()),
                ));
            }
        } else if let Some(rest) = t.strip_prefix("MOTIF") {
            let mut f = rest.split_whitespace();
            let id = f
                .next()
                .ok_or_else(|| err(n, "MOTIF without an identifier".into()))?;
            motifs.push(Motif {
                id: id.to_string(),
                name: f.next().map(str::to_string),
                pfm: Vec::new(),
            });
        } else if t.starts_with("letter-probability matrix") {
            let m = motifs
                .last()
                .ok_or_else(|| err(n, "matrix before any MOTIF line".into()))?;
            if !m.pfm.is_empty() {
                return Err(err(n, format!("second matrix for motif {}", m.id)));
            }
            let w = t
                .split_whitespace()
                .collect::<Vec<_>>()
                .windows(2)
                .find(|p| p[0] == "w=")
                .and_then(|p| p[1].parse::<usize>().ok())
                .ok_or_else(|| {
                    err(
                        n,
                        "letter-probability matrix line without 'w= <width>'".into(),
                    )
                })?;
            if w == 0 {
                return Err(err(n, "motif of width 0".into()));
            }
            expecting = w;
        }
    }
    if expecting > 0 {
        return Err(err(
            0,
            format!(
                "file ends inside motif {}",
                motifs.last().map_or("", |m| &m.id)
            ),
        ));
    }
    if !seen_version && motifs.is_empty() {
        return Err(err(
            1,
            "not a MEME motif file (no 'MEME version' line, no motifs)".into(),
        ));
    }
    if let Some(m) = motifs.iter().find(|m| m.pfm.is_empty()) {
        return Err(err(
            0,
            format!("motif {} has no letter-probability matrix", m.id),
        ));
    }
    Ok(motifs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\nBackground letter frequencies\nA 0.25 C 0.25 G 0.25 T 0.25\n\n\
MOTIF MA0004.1 Arnt\nletter-probability matrix: alength= 4 w= 2 nsites= 20 E= 0\n 0.2 0.8 0.0 0.0\n0.0 0.0 1.0 0.0\n\n\
MOTIF MA0006.1 Ahr::Arnt\nletter-probability matrix: alength= 4 w= 1 nsites= 24 E= 0\n0.1 0.2 0.3 0.4\n";

    #[test]
    fn parses_and_reverse_complements() {
        let m = parse_meme(TEXT.as_bytes(), Path::new("t.meme")).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].id, "MA0004.1");
        assert_eq!(m[0].name.as_deref(), Some("Arnt"));
        assert_eq!(m[0].pfm, vec![[0.2, 0.8, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]);
        assert_eq!(
            m[0].reverse_complement().pfm,
            vec![[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.8, 0.2]]
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let bad = TEXT.replace("0.1 0.2 0.3 0.4", "0.1 0.2 0.3");
        let e = parse_meme(bad.as_bytes(), Path::new("t.meme"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.meme:17:") && e.contains("found 3"), "{e}");
        let e = parse_meme("hello\n".as_bytes(), Path::new("x.txt"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a MEME motif file"), "{e}");
    }

    #[test]
    fn reads_the_shared_jaspar_2016_file() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/motifs/JASPAR2016_CORE_vertebrates_latest.meme.gz");
        if !path.exists() {
            eprintln!("skipped: {} not present", path.display());
            return;
        }
        let m = read_meme(&path).unwrap();
        assert_eq!(
            m.len(),
            519,
            "JASPAR 2016 CORE vertebrates has 519 matrices"
        );
        assert!(m.iter().all(|m| m.width() >= 4));
    }
}
