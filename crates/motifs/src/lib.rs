//! Motifs as position frequency matrices, read from MEME's minimal motif format (the
//! format JASPAR and HOCOMOCO distribute and `tomtom` reads) or JASPAR's count format, plain
//! or gzip-compressed; written as MEME; compared with [`tomtom`].

pub mod discovery;
pub mod tomtom;

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

/// The widest motif read (positions). Real databases are far narrower (JASPAR's and
/// HOCOMOCO's motifs are under 50 positions; MEME itself finds motifs of at most 300), and a
/// Tomtom comparison's time grows about as the cube of the width: one query of width 500
/// against JASPAR 2024 takes 3.3 s on 2 cores, one of width 1000 25 s, and a motif of 200,000
/// positions would need tens of gigabytes.
pub const MAX_WIDTH: usize = 500;

/// Letters of the columns, in order.
const BASES: [char; 4] = ['A', 'C', 'G', 'T'];

/// The longest part of a value quoted in an error message (as `ferrosea_dataset::clip`,
/// which this crate does not depend on).
const MESSAGE_VALUE_CHARS: usize = 80;

/// At most [`MESSAGE_VALUE_CHARS`] characters of `value`, saying how long it was when cut.
fn clip(value: &str) -> std::borrow::Cow<'_, str> {
    match value.char_indices().nth(MESSAGE_VALUE_CHARS) {
        None => std::borrow::Cow::Borrowed(value),
        Some((end, _)) => std::borrow::Cow::Owned(format!(
            "{}... ({} bytes in all)",
            &value[..end],
            value.len()
        )),
    }
}

/// What is wrong with a value that is not a probability or a count.
fn kind_of_bad(v: f64) -> &'static str {
    if v.is_nan() {
        "not a number"
    } else if v.is_infinite() {
        "infinite"
    } else if v < 0.0 {
        "negative"
    } else {
        "above 1"
    }
}

/// The error for a motif wider than [`MAX_WIDTH`].
fn too_wide(path: &Path, line: usize, id: &str, width: usize) -> MotifError {
    MotifError::Parse {
        path: path.to_path_buf(),
        line,
        message: format!(
            "motif {} is {width} positions wide; the most this program reads is {MAX_WIDTH}",
            clip(id)
        ),
    }
}

/// A motif: one row of A, C, G, T probabilities per position.
#[derive(Clone, Debug, PartialEq)]
pub struct Motif {
    /// Identifier (`MOTIF <id> ...`).
    pub id: String,
    /// Alternate name, when given.
    pub name: Option<String>,
    /// Probabilities per position, columns A, C, G, T.
    pub pfm: Vec<[f64; 4]>,
    /// Number of sites the matrix was built from, when known (`nsites=`).
    pub nsites: Option<f64>,
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
            nsites: self.nsites,
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

/// Reads every motif of a MEME or JASPAR file (told apart by content: a JASPAR file starts
/// with a `>` header line), plain or gzip-compressed. A MEME file with its header and no
/// motifs gives none; a JASPAR or other file without motifs is an error.
pub fn read_motifs(path: &Path) -> Result<Vec<Motif>, MotifError> {
    motifs_from_text(&read_text(path)?, path)
}

/// [`read_motifs`], and the letter frequencies on a MEME file's `Background letter
/// frequencies` line if it has one (`None` for JASPAR files and MEME files without it), from
/// one reading of the file.
pub fn read_motifs_and_background(
    path: &Path,
) -> Result<(Vec<Motif>, Option<[f64; 4]>), MotifError> {
    let text = read_text(path)?;
    Ok((motifs_from_text(&text, path)?, background(&text, path)?))
}

fn motifs_from_text(text: &str, path: &Path) -> Result<Vec<Motif>, MotifError> {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'));
    let jaspar = first.is_some_and(|l| l.starts_with('>'));
    let motifs = if jaspar {
        parse_jaspar(text, path)?
    } else {
        parse_meme(std::io::Cursor::new(text.as_bytes()), path)?
    };
    // A MEME file may list no motifs (a search that found none); a JASPAR file is its
    // motifs.
    if motifs.is_empty() && (jaspar || !text.contains("MEME version")) {
        return Err(MotifError::Parse {
            path: path.to_path_buf(),
            line: 1,
            message: "no motifs in the file".into(),
        });
    }
    Ok(motifs)
}

fn read_text(path: &Path) -> Result<String, MotifError> {
    let io = |source| MotifError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut raw = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut raw))
        .map_err(io)?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(std::io::Cursor::new(raw))
            .read_to_end(&mut out)
            .map_err(io)?;
        raw = out;
    }
    String::from_utf8(raw).map_err(|e| MotifError::Parse {
        path: path.to_path_buf(),
        line: 0,
        message: format!("not UTF-8 text: {e}"),
    })
}

/// Parses JASPAR's count format: `>ID name`, then rows `A [ counts ]`, `C [...]`, `G [...]`,
/// `T [...]` (brackets optional). Counts become probabilities per column; `nsites` is the
/// largest column total.
pub fn parse_jaspar(text: &str, path: &Path) -> Result<Vec<Motif>, MotifError> {
    let err = |line: usize, message: String| MotifError::Parse {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut motifs = Vec::new();
    let mut header: Option<(usize, String, Option<String>)> = None;
    let mut rows: Vec<Vec<f64>> = Vec::new();
    let finish = |header: &(usize, String, Option<String>),
                  rows: &[Vec<f64>]|
     -> Result<Motif, MotifError> {
        if rows.len() != 4 {
            return Err(err(
                header.0,
                format!(
                    "motif {} has {} rows, expected A, C, G, T",
                    header.1,
                    rows.len()
                ),
            ));
        }
        let w = rows[0].len();
        if w == 0 || rows.iter().any(|r| r.len() != w) {
            return Err(err(
                header.0,
                format!("motif {}: rows of different lengths", header.1),
            ));
        }
        if w > MAX_WIDTH {
            return Err(too_wide(path, header.0, &header.1, w));
        }
        let mut pfm = Vec::with_capacity(w);
        let mut nsites = 0f64;
        let columns = (0..w).map(|c| -> [f64; 4] { std::array::from_fn(|k| rows[k][c]) });
        for (c, col) in columns.enumerate() {
            let sum: f64 = col.iter().sum();
            if sum <= 0.0 {
                return Err(err(
                    header.0,
                    format!("motif {}: column {} is empty", header.1, c + 1),
                ));
            }
            nsites = nsites.max(sum);
            pfm.push(col.map(|v| v / sum));
        }
        Ok(Motif {
            id: header.1.clone(),
            name: header.2.clone(),
            pfm,
            nsites: Some(nsites),
        })
    };
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if let Some(rest) = t.strip_prefix('>') {
            if let Some(h) = &header {
                motifs.push(finish(h, &rows)?);
            }
            let mut f = rest.split_whitespace();
            let id = f
                .next()
                .ok_or_else(|| err(i + 1, "'>' without a motif identifier".into()))?;
            header = Some((i + 1, id.to_string(), f.next().map(str::to_string)));
            rows.clear();
            continue;
        }
        if header.is_none() {
            return Err(err(i + 1, "a matrix row before any '>' header".into()));
        }
        let body = t.trim_start_matches(['A', 'C', 'G', 'T']).trim();
        let body = body.trim_start_matches('[').trim_end_matches(']');
        let tokens: Vec<&str> = body.split_whitespace().collect();
        let vals: Vec<f64> = tokens
            .iter()
            .map(|v| v.parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| {
                err(
                    i + 1,
                    format!("expected a row of counts, found '{}'", clip(t)),
                )
            })?;
        if let Some(c) = vals.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
            return Err(err(
                i + 1,
                format!(
                    "motif {}: value '{}' in column {} is {}, not a count (expected a \
                     finite number >= 0)",
                    clip(header.as_ref().map_or("", |h| h.1.as_str())),
                    clip(tokens[c]),
                    c + 1,
                    kind_of_bad(vals[c])
                ),
            ));
        }
        rows.push(vals);
    }
    if let Some(h) = &header {
        motifs.push(finish(h, &rows)?);
    }
    Ok(motifs)
}

/// Writes motifs in MEME minimal format version 4 (`background` as its letter frequencies).
pub fn write_meme(motifs: &[Motif], background: [f64; 4]) -> String {
    let mut s = format!(
        "MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\nBackground letter frequencies\n\
         A {:.4} C {:.4} G {:.4} T {:.4}\n",
        background[0], background[1], background[2], background[3]
    );
    for m in motifs {
        s.push_str(&format!("\nMOTIF {}", m.id));
        if let Some(n) = &m.name {
            s.push_str(&format!(" {n}"));
        }
        s.push_str(&format!(
            "\nletter-probability matrix: alength= 4 w= {} nsites= {} E= 0\n",
            m.width(),
            m.nsites.map_or(20.0, |n| n)
        ));
        for r in &m.pfm {
            s.push_str(&format!(
                "{:.6} {:.6} {:.6} {:.6}\n",
                r[0], r[1], r[2], r[3]
            ));
        }
    }
    s
}

/// JASPAR 2024 CORE vertebrates (879 motifs, CC BY 4.0; data/motifs), gzipped: the default
/// database of `ferrosea-interpret compare` and the motifs of `ferrosea-prep
/// simulate-examples`.
pub const JASPAR2024: &[u8] =
    include_bytes!("../../../data/motifs/JASPAR2024_CORE_vertebrates_latest.meme.gz");

/// The motifs of [`JASPAR2024`].
pub fn embedded_jaspar() -> Result<Vec<Motif>, MotifError> {
    let path = Path::new("JASPAR2024_CORE_vertebrates_latest.meme.gz (embedded)");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(JASPAR2024), &mut text)
        .map_err(|source| MotifError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    parse_meme(std::io::Cursor::new(text.as_bytes()), path)
}

/// A MEME file (version 5, with its custom-alphabet block) of matrices over any `symbols`:
/// `(id, rows of probabilities in symbol order, sites)` each. For alphabets other than DNA
/// (the course's {0, 1} sequences); [`write_meme`] writes DNA motifs.
pub fn write_meme_alphabet(
    symbols: &str,
    motifs: &[(String, Vec<Vec<f64>>, f64)],
    background: &[f64],
) -> String {
    let mut s = String::from("MEME version 5\n\nALPHABET \"ferrosea\"\n");
    for c in symbols.chars() {
        s.push_str(&format!("{c}\n"));
    }
    s.push_str("END ALPHABET\n\nBackground letter frequencies\n");
    let bg: Vec<String> = symbols
        .chars()
        .zip(background)
        .map(|(c, f)| format!("{c} {f:.4}"))
        .collect();
    s.push_str(&bg.join(" "));
    s.push('\n');
    for (id, pfm, sites) in motifs {
        s.push_str(&format!(
            "\nMOTIF {id}\nletter-probability matrix: alength= {} w= {} nsites= {sites} E= 0\n",
            symbols.chars().count(),
            pfm.len()
        ));
        for r in pfm {
            let row: Vec<String> = r.iter().map(|v| format!("{v:.6}")).collect();
            s.push_str(&row.join(" "));
            s.push('\n');
        }
    }
    s
}

/// Consensus of a matrix over any `symbols`: a position's symbol when it has at least half
/// the probability and twice the next, else `.` (DNA: [`consensus`], with IUPAC codes).
pub fn consensus_of(symbols: &str, pfm: &[Vec<f64>]) -> String {
    let chars: Vec<char> = symbols.chars().collect();
    pfm.iter()
        .map(|col| {
            let mut order: Vec<usize> = (0..col.len()).collect();
            order.sort_by(|&a, &b| col[b].total_cmp(&col[a]));
            let (a, b) = (order[0], order.get(1).copied());
            let next = b.map_or(0.0, |b| col[b]);
            if col[a] >= 0.5 && col[a] > 2.0 * next {
                chars[a]
            } else {
                '.'
            }
        })
        .collect()
}

/// IUPAC consensus of a matrix: a base when it has at least half the probability and twice
/// the next; a two-base code when two bases have more than three quarters together; else N.
pub fn consensus(pfm: &[[f64; 4]]) -> String {
    pfm.iter()
        .map(|col| {
            let mut order = [0usize, 1, 2, 3];
            order.sort_by(|&a, &b| col[b].total_cmp(&col[a]));
            let (a, b) = (order[0], order[1]);
            if col[a] >= 0.5 && col[a] > 2.0 * col[b] {
                BASES[a]
            } else if col[a] + col[b] > 0.75 {
                match (a.min(b), a.max(b)) {
                    (0, 1) => 'M',
                    (0, 2) => 'R',
                    (0, 3) => 'W',
                    (1, 2) => 'S',
                    (1, 3) => 'Y',
                    _ => 'K',
                }
            } else {
                'N'
            }
        })
        .collect()
}

/// Tomtom's consensus: the most probable letter of each column, found as tomtom's `get_cons`
/// finds it (a running maximum in single precision, so that of equal frequencies the later
/// letter wins when the first rounds down to f32). See also [`crate::tomtom::consensus`].
pub fn argmax_consensus(pfm: &[[f64; 4]]) -> String {
    pfm.iter()
        .map(|col| {
            let (mut best, mut max) = (0, col[0] as f32);
            for (k, &x) in col.iter().enumerate().skip(1) {
                if x > max as f64 {
                    best = k;
                    max = x as f32;
                }
            }
            BASES[best]
        })
        .collect()
}

/// The frequencies on a `Background letter frequencies` line of `text`, normalised, if it has
/// one.
fn background(text: &str, path: &Path) -> Result<Option<[f64; 4]>, MotifError> {
    let mut lines = text.lines().enumerate();
    while let Some((_, line)) = lines.next() {
        if !line
            .trim_start()
            .starts_with("Background letter frequencies")
        {
            continue;
        }
        let Some((n, values)) = lines.find(|(_, l)| !l.trim().is_empty()) else {
            return Ok(None);
        };
        let t: Vec<&str> = values.split_whitespace().collect();
        let mut bg = [f64::NAN; 4];
        for pair in t.chunks(2) {
            let k = match pair[0] {
                "A" => 0,
                "C" => 1,
                "G" => 2,
                "T" => 3,
                _ => continue,
            };
            bg[k] = pair.get(1).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
        }
        if bg.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(MotifError::Parse {
                path: path.to_path_buf(),
                line: n + 1,
                message: format!(
                    "expected background frequencies 'A p C p G p T p', all above 0, found '{}'",
                    values.trim()
                ),
            });
        }
        let sum: f64 = bg.iter().sum();
        return Ok(Some(bg.map(|v| v / sum)));
    }
    Ok(None)
}

/// Reads every motif of a MEME file (`.gz` decompressed by content, not by name).
pub fn read_meme(path: &Path) -> Result<Vec<Motif>, MotifError> {
    parse_meme(std::io::Cursor::new(read_text(path)?), path)
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
            let tokens: Vec<&str> = t.split_whitespace().collect();
            let vals: Vec<f64> = tokens
                .iter()
                .map(|v| v.parse::<f64>())
                .collect::<Result<_, _>>()
                .map_err(|_| err(n, format!("expected 4 probabilities, found '{}'", clip(t))))?;
            if vals.len() != 4 {
                return Err(err(
                    n,
                    format!("expected 4 probabilities (A C G T), found {}", vals.len()),
                ));
            }
            let id = &motifs.last().expect("a matrix follows a MOTIF line").id;
            if let Some(k) = vals.iter().position(|v| !(0.0..=1.0).contains(v)) {
                return Err(err(
                    n,
                    format!(
                        "motif {}: {} value '{}' is {}, not a probability (expected a number \
                         from 0 to 1)",
                        clip(id),
                        BASES[k],
                        clip(tokens[k]),
                        kind_of_bad(vals[k])
                    ),
                ));
            }
            let sum: f64 = vals.iter().sum();
            if (sum - 1.0).abs() > 0.02 {
                return Err(err(
                    n,
                    format!(
                        "motif {}: probabilities must sum to 1, these sum to {sum}",
                        clip(id)
                    ),
                ));
            }
            let m = motifs.last_mut().expect("a matrix follows a MOTIF line");
            // MEME's rule: rows within 1e-5 of 1 are kept as written (dividing them moves
            // some scores across an integer bin in Tomtom).
            m.pfm.push(if (sum - 1.0).abs() > 1e-5 {
                [vals[0] / sum, vals[1] / sum, vals[2] / sum, vals[3] / sum]
            } else {
                [vals[0], vals[1], vals[2], vals[3]]
            });
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
                nsites: None,
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
            if w > MAX_WIDTH {
                return Err(too_wide(path, n, &m.id, w));
            }
            let nsites = t
                .split_whitespace()
                .collect::<Vec<_>>()
                .windows(2)
                .find(|p| p[0] == "nsites=")
                .and_then(|p| p[1].parse::<f64>().ok())
                .filter(|v| *v > 0.0);
            motifs.last_mut().expect("checked above").nsites = nsites;
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
    fn rows_are_normalised_as_meme_normalises_them() {
        let text = "MEME version 4\n\nALPHABET= ACGT\n\n\
MOTIF a\nletter-probability matrix: alength= 4 w= 2 nsites= 20 E= 0\n\
0.249999 0.25 0.25 0.25\n0.2475 0.2475 0.2475 0.2475\n";
        let m = parse_meme(text.as_bytes(), Path::new("t.meme")).unwrap();
        // Within 1e-5 of 1: kept as written; 0.99: divided by its sum.
        assert_eq!(m[0].pfm[0], [0.249999, 0.25, 0.25, 0.25]);
        assert_eq!(m[0].pfm[1], [0.25; 4]);
    }

    #[test]
    fn background_line_and_tomtom_consensus() {
        let dir = std::env::temp_dir().join(format!("ferrosea-bg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let with = dir.join("with.meme");
        std::fs::write(
            &with,
            TEXT.replace("A 0.25 C 0.25 G 0.25 T 0.25", "A 0.3 C 0.2 G 0.2 T 0.3"),
        )
        .unwrap();
        let (motifs, bg) = read_motifs_and_background(&with).unwrap();
        assert_eq!((motifs.len(), bg), (2, Some([0.3, 0.2, 0.2, 0.3])));
        let bad = dir.join("bad.meme");
        std::fs::write(&bad, TEXT.replace("A 0.25 C 0.25", "A x C 0.25")).unwrap();
        let e = read_motifs_and_background(&bad).unwrap_err().to_string();
        assert!(
            e.contains("bad.meme:8:") && e.contains("'A x C 0.25"),
            "{e}"
        );
        let jaspar = dir.join("m.jaspar");
        std::fs::write(&jaspar, ">MA1 x\nA [1 0]\nC [0 1]\nG [0 0]\nT [0 0]\n").unwrap();
        let (motifs, bg) = read_motifs_and_background(&jaspar).unwrap();
        assert_eq!((motifs.len(), bg), (1, None));
        std::fs::remove_dir_all(&dir).unwrap();
        // The most probable letter; on these ties (0.25 is exact in f32, 0.4 rounds up) the
        // first of A, C, G, T.
        let pfm = [[0.2, 0.8, 0.0, 0.0], [0.25; 4], [0.1, 0.1, 0.4, 0.4]];
        assert_eq!(argmax_consensus(&pfm), "CAG");
    }

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
    fn meme_values_that_are_not_probabilities_are_refused() {
        for (value, why) in [
            ("nan", "is not a number"),
            ("NaN", "is not a number"),
            ("-0.1", "is negative"),
            ("inf", "is infinite"),
            ("-inf", "is infinite"),
            ("1.5", "is above 1"),
        ] {
            let bad = TEXT.replace("0.1 0.2 0.3 0.4", &format!("0.1 0.2 {value} 0.4"));
            let e = parse_meme(bad.as_bytes(), Path::new("t.meme"))
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("t.meme:17: motif MA0006.1: G value ")
                    && e.contains(&format!("'{value}' {why}, not a probability")),
                "{value}: {e}"
            );
            assert!(!e.contains("sum"), "{e}");
        }
        // A whole row of NaN, the first column named.
        let bad = TEXT.replace("0.1 0.2 0.3 0.4", "nan nan nan nan");
        let e = parse_meme(bad.as_bytes(), Path::new("t.meme"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("A value 'nan' is not a number"), "{e}");
    }

    #[test]
    fn jaspar_values_that_are_not_counts_are_refused() {
        for (value, why) in [
            ("nan", "is not a number"),
            ("-3", "is negative"),
            ("inf", "is infinite"),
        ] {
            let text = format!(">MA9 x\nA [ 1 2 ]\nC [ 1 {value} ]\nG [ 0 0 ]\nT [ 0 0 ]\n");
            let e = parse_jaspar(&text, Path::new("j.jaspar"))
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("j.jaspar:3: motif MA9: value ")
                    && e.contains(&format!("'{value}' in column 2 {why}, not a count")),
                "{value}: {e}"
            );
        }
    }

    #[test]
    fn motifs_wider_than_the_maximum_are_refused() {
        let header = "MEME version 4\n\nALPHABET= ACGT\n\nMOTIF long\n";
        let meme =
            format!("{header}letter-probability matrix: alength= 4 w= 200000 nsites= 20 E= 0\n");
        let e = parse_meme(meme.as_bytes(), Path::new("w.meme"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!(
                "w.meme:6: motif long is 200000 positions wide; the most this program reads \
                 is {MAX_WIDTH}"
            )
        );
        // The maximum itself is read.
        let rows = "0.25 0.25 0.25 0.25\n".repeat(MAX_WIDTH);
        let meme = format!(
            "{header}letter-probability matrix: alength= 4 w= {MAX_WIDTH} nsites= 20 E= 0\n{rows}"
        );
        let m = parse_meme(meme.as_bytes(), Path::new("w.meme")).unwrap();
        assert_eq!(m[0].width(), MAX_WIDTH);
        let row = " 1".repeat(MAX_WIDTH + 1);
        let jaspar = format!(">J1 x\nA [{row} ]\nC [{row} ]\nG [{row} ]\nT [{row} ]\n");
        let e = parse_jaspar(&jaspar, Path::new("w.jaspar"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!(
                "w.jaspar:1: motif J1 is {} positions wide",
                MAX_WIDTH + 1
            )),
            "{e}"
        );
    }

    #[test]
    fn jaspar_format_and_writing() {
        let text = ">MA0002.3\tRunx1\nA  [ 1 0 ]\nC  [ 1 0 ]\nG  [ 0 4 ]\nT  [ 2 0 ]\n";
        let m = parse_jaspar(text, Path::new("j")).unwrap();
        assert_eq!(m[0].id, "MA0002.3");
        assert_eq!(m[0].pfm, vec![[0.25, 0.25, 0.0, 0.5], [0.0, 0.0, 1.0, 0.0]]);
        assert_eq!(m[0].nsites, Some(4.0));
        assert_eq!(consensus(&m[0].pfm), "NG");
        let again = parse_meme(write_meme(&m, [0.25; 4]).as_bytes(), Path::new("w")).unwrap();
        assert_eq!(again[0].pfm, m[0].pfm);
        assert_eq!(again[0].nsites, Some(4.0));
        let e = parse_jaspar(">X\nA [ 1 ]\nC [ 1 ]\nG [ 1 ]\n", Path::new("j"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("j:1: motif X has 3 rows"), "{e}");
        let e = parse_jaspar(">X\nA [ 1 x ]\n", Path::new("j"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("j:2: expected a row of counts"), "{e}");
        assert_eq!(
            consensus(&[[0.45, 0.4, 0.1, 0.05], [0.9, 0.05, 0.05, 0.0]]),
            "MA"
        );
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
