//! `seqlets`: the windows of high contribution in an attribution file, with a threshold
//! taken from the null of shuffled sequences.
//!
//! Per target, each sequence's per-position score is its contribution (the contribution of
//! the base present, summed over the channels), and each window of `w` positions scores the
//! sum (TF-MoDISco's smoothing). Per sign, a sequence's **candidates** are picked greedily:
//! the window of largest sum, then the largest that overlaps none picked, and so on (for
//! negative seqlets the same on the negated sums). The attributions of the dinucleotide
//! shuffles `attribute` made (`/null/scores`) give candidates of the same kind, and the
//! threshold is the smallest candidate score `T` whose estimated false discovery rate,
//!
//! ```text
//! FDR(T) = (null candidates ≥ T per null sequence) / (candidates ≥ T per sequence),
//! ```
//!
//! is at most `fdr`. The seqlets are the candidates past their sign's threshold (where a
//! positive and a negative one overlap, the stronger stays).
//!
//! The table (`seqlets.tsv`) is BED-like: `sequence start end strand score` then `target
//! row offset sign`, one seqlet per line, after `#` lines that name the attribution file
//! (its weights' SHA-256, rows, window: `motifs` checks them) and the thresholds.

use std::path::{Path, PathBuf};

use ferrosea_dataset::ResultsReader;

use crate::attribute::ATTRIBUTIONS_FORMAT;
use crate::InterpretError;

/// What to find.
#[derive(Clone, Debug)]
pub struct SeqletsOptions {
    /// The attribution file.
    pub attributions: PathBuf,
    /// The table to write.
    pub out: PathBuf,
    /// Window width.
    pub window: usize,
    /// The false discovery rate the threshold keeps to.
    pub fdr: f64,
    /// A fixed |window sum| threshold instead of the null's.
    pub threshold: Option<f64>,
    /// Targets (names); empty: all.
    pub targets: Vec<String>,
    /// Recorded in the table.
    pub command_line: String,
}

/// One seqlet.
#[derive(Clone, Debug, PartialEq)]
pub struct Seqlet {
    /// Row of the attribution file.
    pub index: usize,
    /// The sequence's name (chromosome, FASTA record).
    pub chrom: String,
    /// Start of the window in the sequence's coordinates (0-based).
    pub start: i64,
    /// End (exclusive).
    pub end: i64,
    /// The attributed sequence's strand.
    pub strand: char,
    /// The window's contribution (signed).
    pub score: f32,
    /// Index of the target among the file's targets.
    pub target: usize,
    /// The row the sequence came from (dataset row, or index in the FASTA or BED input).
    pub row: i64,
    /// First position of the window in the attributed sequence.
    pub offset: usize,
}

/// A threshold and what passed it.
#[derive(Clone, Debug)]
pub struct Threshold {
    /// Target name.
    pub target: String,
    /// `+` or `-`.
    pub sign: char,
    /// The |window sum| threshold (infinite: nothing passes).
    pub value: f64,
    /// The estimated FDR at the threshold.
    pub fdr: f64,
    /// Seqlets found.
    pub seqlets: usize,
}

/// What `seqlets` found.
#[derive(Clone, Debug)]
pub struct SeqletsReport {
    /// The seqlets, in row, offset and target order.
    pub seqlets: Vec<Seqlet>,
    /// The thresholds.
    pub thresholds: Vec<Threshold>,
    /// Shuffled sequences of the null.
    pub null_sequences: usize,
}

/// What identifies an attribution file to the tables made from it.
#[derive(Clone, Debug, PartialEq)]
pub struct Provenance {
    /// The weights' SHA-256.
    pub weights_sha256: String,
    /// The method.
    pub method: String,
    /// Rows.
    pub rows: usize,
    /// Window.
    pub window: usize,
    /// Targets.
    pub targets: Vec<String>,
}

impl Provenance {
    /// Reads it from an attribution file.
    pub fn of(r: &ResultsReader) -> Provenance {
        Provenance {
            weights_sha256: r.attr_str("weights_sha256").unwrap_or_default(),
            method: r.attr_str("method").unwrap_or_default(),
            rows: r.rows(),
            window: r.attr_int("window").unwrap_or(0) as usize,
            targets: r.targets().unwrap_or_default(),
        }
    }

    /// The `#` line of a table.
    pub fn line(&self, path: &Path) -> String {
        format!(
            "# attributions: {} (weights_sha256 {}, method {}, rows {}, window {})",
            path.display(),
            self.weights_sha256,
            self.method,
            self.rows,
            self.window
        )
    }

    /// Reads [`line`](Self::line)'s fields back: `(weights_sha256, rows, window)`.
    pub fn parse(line: &str) -> Option<(String, usize, usize)> {
        let inner = line.split_once(" (weights_sha256 ")?.1;
        let (sha, rest) = inner.split_once(", method ")?;
        let rows = rest.split_once(", rows ")?.1;
        let (rows, window) = rows.split_once(", window ")?;
        Some((
            sha.to_string(),
            rows.parse().ok()?,
            window.trim_end_matches(')').parse().ok()?,
        ))
    }
}

fn usage(e: impl std::fmt::Display) -> InterpretError {
    InterpretError::Usage(e.to_string())
}

fn data(e: impl std::fmt::Display) -> InterpretError {
    InterpretError::Data(e.to_string())
}

/// Opens an attribution file.
pub fn open_attributions(path: &Path) -> Result<ResultsReader, InterpretError> {
    Ok(ResultsReader::open(path, ATTRIBUTIONS_FORMAT)?)
}

/// Per-position scores `[rows, L]` of target `j` (contributions summed over the channels).
pub(crate) fn scores(r: &ResultsReader, j: usize) -> Result<Vec<f32>, InterpretError> {
    let shape = r
        .array_shape("contributions")
        .ok_or_else(|| data(format!("{}: no contributions", r.path().display())))?;
    let (l, c, k) = (shape[1], shape[2], shape[3]);
    let mut out = Vec::with_capacity(r.rows() * l);
    for first in (0..r.rows()).step_by(256) {
        let n = 256.min(r.rows() - first);
        let a = r.array("contributions", first..first + n)?;
        for pos in a.chunks(c * k) {
            out.push((0..c).map(|ch| pos[ch * k + j]).sum());
        }
    }
    Ok(out)
}

/// Window sums of width `w` over rows of `l` scores: `[rows, l - w + 1]`.
fn window_sums(scores: &[f32], l: usize, w: usize) -> Vec<f32> {
    let n = l + 1 - w;
    let mut out = Vec::with_capacity(scores.len() / l * n);
    for row in scores.chunks(l) {
        let mut s: f64 = row[..w].iter().map(|&v| v as f64).sum();
        out.push(s as f32);
        for p in 1..n {
            s += row[p + w - 1] as f64 - row[p - 1] as f64;
            out.push(s as f32);
        }
    }
    out
}

/// The smallest `t` among the observed scores whose FDR against the null is at most `fdr`,
/// and that FDR; `(inf, 0)` when none is. Rates are per sequence: `observed` comes from
/// `n_obs` sequences, `null` from `n_null`.
fn fdr_threshold(
    observed: &[f32],
    null: &[f32],
    (n_obs, n_null): (usize, usize),
    fdr: f64,
) -> (f64, f64) {
    let mut obs: Vec<f32> = observed.to_vec();
    let mut nul: Vec<f32> = null.to_vec();
    let (n_obs, n_null) = (n_obs.max(1) as f64, n_null.max(1) as f64);
    obs.sort_by(|a, b| b.total_cmp(a));
    nul.sort_by(|a, b| b.total_cmp(a));
    let mut out = (f64::INFINITY, 0.0);
    let mut j = 0;
    // Going down from the largest: at obs[i], i + 1 observed and j null candidates reach it.
    for (i, &t) in obs.iter().enumerate() {
        while j < nul.len() && nul[j] >= t {
            j += 1;
        }
        let rate = (j as f64 / n_null) / ((i + 1) as f64 / n_obs);
        if rate <= fdr {
            out = (t as f64, rate);
        }
    }
    out
}

/// The candidate seqlets of one sequence's window sums for one sign (`sign` 1 or -1): the
/// window of largest `sign · sum`, then the largest that overlaps none picked, and so on
/// while the sums are positive; as `(window start, sign · sum)`.
fn candidates(sums: &[f32], w: usize, sign: f32) -> Vec<(usize, f32)> {
    let mut order: Vec<usize> = (0..sums.len()).filter(|&p| sign * sums[p] > 0.0).collect();
    order.sort_by(|&a, &b| {
        (sign * sums[b])
            .total_cmp(&(sign * sums[a]))
            .then(a.cmp(&b))
    });
    let mut taken = vec![false; sums.len()];
    let mut out = Vec::new();
    for p in order {
        if taken[p] {
            continue;
        }
        out.push((p, sign * sums[p]));
        let end = (p + w).min(sums.len());
        taken[p.saturating_sub(w - 1)..end].fill(true);
    }
    out
}

/// Finds the seqlets of `opts` (without writing the table).
pub fn find_seqlets(opts: &SeqletsOptions) -> Result<SeqletsReport, InterpretError> {
    let r = open_attributions(&opts.attributions)?;
    let names = r.targets().unwrap_or_default();
    let l = r.attr_int("window").unwrap_or(0) as usize;
    let w = opts.window;
    if w == 0 || w > l {
        return Err(usage(format!(
            "--window {w}: must be between 1 and the attributed sequences' length, {l}"
        )));
    }
    if !(opts.fdr > 0.0 && opts.fdr < 1.0) {
        return Err(usage("--fdr must be between 0 and 1"));
    }
    let chosen: Vec<usize> = if opts.targets.is_empty() {
        (0..names.len()).collect()
    } else {
        opts.targets
            .iter()
            .map(|t| {
                names.iter().position(|n| n == t).ok_or_else(|| {
                    usage(format!(
                        "--targets: {} holds no attributions of '{t}' (it has {})",
                        opts.attributions.display(),
                        names.join(", ")
                    ))
                })
            })
            .collect::<Result<_, _>>()?
    };
    let null_rows = r.array_shape("null/scores").map_or(0, |s| s[0]);
    if opts.threshold.is_none() && null_rows == 0 {
        return Err(data(format!(
            "{} has no null (attribute ran with --null-rows 0): give --threshold, or attribute \
             again with --null-rows N",
            opts.attributions.display()
        )));
    }
    let null_all = if null_rows > 0 {
        r.array("null/scores", 0..null_rows)?
    } else {
        Vec::new()
    };
    let rows = r.rows();
    let chroms = r.strings("chrom", 0..rows)?;
    let starts = r.ints("start", 0..rows)?;
    let strands = r.strings("strand", 0..rows)?;
    let row_ids = r.ints("row", 0..rows)?;
    let k = names.len();
    let mut seqlets = Vec::new();
    let mut thresholds = Vec::new();
    let n = l + 1 - w;
    for &j in &chosen {
        let sums = window_sums(&scores(&r, j)?, l, w);
        let null: Vec<f32> = null_all.iter().skip(j).step_by(k.max(1)).copied().collect();
        let null_sums = if null.is_empty() {
            Vec::new()
        } else {
            window_sums(&null, l, w)
        };
        // Per sign: the candidates of every sequence, the threshold from the null's.
        let mut picked: Vec<Vec<(usize, f32)>> = vec![Vec::new(); rows];
        let mut counts = Vec::new();
        for sign in [1f32, -1.0] {
            let cands: Vec<Vec<(usize, f32)>> =
                sums.chunks(n).map(|row| candidates(row, w, sign)).collect();
            let (value, fdr) = match opts.threshold {
                Some(t) => (t, f64::NAN),
                None => {
                    let obs: Vec<f32> = cands.iter().flatten().map(|c| c.1).collect();
                    let nul: Vec<f32> = null_sums
                        .chunks(n)
                        .flat_map(|row| candidates(row, w, sign))
                        .map(|c| c.1)
                        .collect();
                    fdr_threshold(&obs, &nul, (rows, null_rows), opts.fdr)
                }
            };
            let mut count = 0;
            for (i, c) in cands.into_iter().enumerate() {
                for (p, v) in c {
                    if v as f64 >= value {
                        picked[i].push((p, sign * v));
                        count += 1;
                    }
                }
            }
            counts.push((if sign > 0.0 { '+' } else { '-' }, value, fdr, count));
        }
        for (i, mut cands) in picked.into_iter().enumerate() {
            // The two signs' seqlets may overlap: the stronger one stays.
            cands.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
            let mut kept: Vec<(usize, f32)> = Vec::new();
            for (p, score) in cands {
                if kept.iter().all(|&(q, _)| q.abs_diff(p) >= w) {
                    kept.push((p, score));
                } else if let Some(c) = counts.iter_mut().find(|c| (c.0 == '+') == (score > 0.0)) {
                    c.3 -= 1;
                }
            }
            for (p, score) in kept {
                let strand = strands[i].chars().next().unwrap_or('+');
                let (a, b) = if strand == '-' {
                    let e = starts[i] + (l - p) as i64;
                    (e - w as i64, e)
                } else {
                    (starts[i] + p as i64, starts[i] + (p + w) as i64)
                };
                seqlets.push(Seqlet {
                    index: i,
                    chrom: chroms[i].clone(),
                    start: a,
                    end: b,
                    strand,
                    score,
                    target: j,
                    row: row_ids[i],
                    offset: p,
                });
            }
        }
        for (sign, value, fdr, count) in counts {
            thresholds.push(Threshold {
                target: names[j].clone(),
                sign,
                value,
                fdr,
                seqlets: count,
            });
        }
    }
    seqlets.sort_by_key(|s| (s.index, s.offset, s.target));
    Ok(SeqletsReport {
        seqlets,
        thresholds,
        null_sequences: null_rows,
    })
}

/// Finds the seqlets and writes the table.
pub fn seqlets(opts: &SeqletsOptions) -> Result<SeqletsReport, InterpretError> {
    crate::refuse_inputs(
        std::slice::from_ref(&opts.out),
        &[("--attributions", &opts.attributions)],
    )?;
    let report = find_seqlets(opts)?;
    let r = open_attributions(&opts.attributions)?;
    let names = r.targets().unwrap_or_default();
    let mut text = format!(
        "# ferrosea-interpret seqlets {}\n{}\n",
        env!("CARGO_PKG_VERSION"),
        Provenance::of(&r).line(&opts.attributions)
    );
    text += &format!("# command: {}\n", opts.command_line);
    text += &match opts.threshold {
        Some(t) => format!(
            "# window {}; threshold |window sum| >= {t} (given)\n",
            opts.window
        ),
        None => format!(
            "# window {}; thresholds from the null of {} dinucleotide-shuffled sequences: per \
             target and sign, the smallest |window sum| T of a candidate seqlet with (null \
             candidates >= T per null sequence) / (candidates >= T per sequence) <= {}\n",
            opts.window, report.null_sequences, opts.fdr
        ),
    };
    for t in &report.thresholds {
        text += &format!(
            "# threshold\t{}\t{}\t{}\tfdr {}\tseqlets {}\n",
            t.target,
            t.sign,
            if t.value.is_finite() {
                format!("{:.6}", t.value)
            } else {
                "none".into()
            },
            if t.fdr.is_nan() {
                "NA".into()
            } else {
                format!("{:.4}", t.fdr)
            },
            t.seqlets
        );
    }
    text += "#sequence\tstart\tend\tstrand\tscore\ttarget\trow\toffset\tsign\n";
    for s in &report.seqlets {
        text += &format!(
            "{}\t{}\t{}\t{}\t{:.6}\t{}\t{}\t{}\t{}\n",
            s.chrom,
            s.start,
            s.end,
            s.strand,
            s.score,
            names[s.target],
            s.row,
            s.offset,
            if s.score > 0.0 { '+' } else { '-' }
        );
    }
    if report.seqlets.is_empty() {
        tracing::warn!(
            "{}: no window passed the thresholds: no seqlets (the table has its header only)",
            opts.attributions.display()
        );
    }
    crate::write_atomically(&opts.out, text.as_bytes())?;
    Ok(report)
}

/// Reads a seqlets table written by [`seqlets`], checking that it was made from `r` (whose
/// path is `attributions`): its seqlets, and its window width.
pub fn read_seqlets(
    path: &Path,
    r: &ResultsReader,
    attributions: &Path,
) -> Result<(Vec<Seqlet>, usize), InterpretError> {
    let text = std::fs::read_to_string(path).map_err(|e| InterpretError::Io(path.into(), e))?;
    let here = Provenance::of(r);
    let names = here.targets.clone();
    let mut made_from = None;
    let mut out = Vec::new();
    let mut width = None;
    for (n, line) in text.lines().enumerate() {
        let at = || format!("{}:{}", path.display(), n + 1);
        if line.starts_with("# attributions: ") {
            made_from = Provenance::parse(line);
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some((sha, rows, window)) = made_from.clone() else {
            return Err(data(format!(
                "{}: not a table of ferrosea-interpret seqlets (no '# attributions:' line)",
                at()
            )));
        };
        if sha != here.weights_sha256 || rows != here.rows || window != here.window {
            return Err(InterpretError::Mismatch(format!(
                "{}: these seqlets were found in attributions of other weights or sequences \
                 (weights_sha256 {}, {rows} rows of {window}), but {} holds attributions of \
                 weights_sha256 {} ({} rows of {}): give the attribution file the seqlets \
                 came from, or run seqlets on this one",
                path.display(),
                clip(&sha),
                attributions.display(),
                clip(&here.weights_sha256),
                here.rows,
                here.window
            )));
        }
        let f: Vec<&str> = line.split('\t').collect();
        let bad = |what: &str| data(format!("{}: {what}", at()));
        if f.len() != 9 {
            return Err(bad(&format!("{} columns, expected 9", f.len())));
        }
        let num = |i: usize, what: &str| -> Result<i64, InterpretError> {
            f[i].parse()
                .map_err(|_| bad(&format!("{what} '{}' is not an integer", f[i])))
        };
        let target = names.iter().position(|t| t == f[5]).ok_or_else(|| {
            bad(&format!(
                "target '{}' is not in {}",
                f[5],
                attributions.display()
            ))
        })?;
        let (start, end) = (num(1, "start")?, num(2, "end")?);
        let offset = num(7, "offset")?;
        let w = (end - start) as usize;
        if *width.get_or_insert(w) != w || offset < 0 || offset as usize + w > here.window {
            return Err(bad("a window of another width, or past the sequence"));
        }
        let row = num(6, "row")?;
        let score: f32 = f[4]
            .parse()
            .map_err(|_| bad(&format!("score '{}' is not a number", f[4])))?;
        out.push(Seqlet {
            index: usize::MAX,
            chrom: f[0].to_string(),
            start,
            end,
            strand: f[3].chars().next().unwrap_or('+'),
            score,
            target,
            row,
            offset: offset as usize,
        });
    }
    if made_from.is_none() {
        return Err(data(format!(
            "{}: not a table of ferrosea-interpret seqlets (no '# attributions:' line)",
            path.display()
        )));
    }
    // The file's row index of each seqlet, from its row id.
    let ids = r.ints("row", 0..r.rows())?;
    let index: std::collections::HashMap<i64, usize> =
        ids.iter().enumerate().map(|(i, &id)| (id, i)).collect();
    for s in &mut out {
        s.index = *index.get(&s.row).ok_or_else(|| {
            InterpretError::Mismatch(format!(
                "{}: row {} is not among the rows of {}",
                path.display(),
                s.row,
                attributions.display()
            ))
        })?;
    }
    Ok((out, width.unwrap_or(0)))
}

fn clip(s: &str) -> &str {
    &s[..s.len().min(12)]
}
