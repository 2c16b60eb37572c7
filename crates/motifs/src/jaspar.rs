//! JASPAR's text format: `>ID NAME` headers, then four rows `A [ counts ]` ... `T [ ... ]`.

use std::path::Path;

use crate::{clip, kind_of_bad, too_wide, Motif, MotifError, MAX_WIDTH};

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
