//! MEME's motif format: reading (versions 4 and 5, DNA), the background line, and writing
//! (DNA, or any alphabet with a custom `ALPHABET` block).

use std::io::BufRead;
use std::path::Path;

use crate::{clip, kind_of_bad, read_text, too_wide, Motif, MotifError, BASES, MAX_WIDTH};

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

/// The frequencies on a `Background letter frequencies` line of `text`, normalised, if it has
/// one.
pub(crate) fn background(text: &str, path: &Path) -> Result<Option<[f64; 4]>, MotifError> {
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
