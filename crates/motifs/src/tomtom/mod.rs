//! Motif-motif similarity with the Tomtom method (Gupta, Stamatoyannopoulos, Bailey & Noble,
//! Genome Biology 2007), following MEME 5.5's `tomtom` program (complete scores).
//!
//! For one query against a database of targets:
//!
//! 1. every column gets a pseudocount: `p' = (p n + c bg) / (n + c)` (n = nsites as an
//!    integer, 20 when unknown; c = `pseudocount`, 0.1 by default);
//! 2. the targets and their reverse complements are pooled into one list of columns;
//! 3. each query column is scored against every pooled column ([`Distance`]), and each query
//!    row is shifted by its median, so that a query column aligned with nothing scores 0;
//! 4. scores become integers: `s = round((S - lo) k)` with `lo = floor(min S)` and
//!    `k = floor(bins / (max S - lo))`, an unaligned column counting `-lo k`;
//! 5. the null distribution of a query column is its row's empirical distribution; the
//!    distribution of every contiguous span of query columns is their convolution;
//! 6. a target's score on a strand is the best summed score over the offsets with enough
//!    overlap (ties: the larger overlap, then the smaller offset); its p-value is the
//!    probability that the maximum of the independent span scores of every offset, whatever
//!    the overlap, on both strands, reaches it; the strand reported has the smaller p-value
//!    in single precision (ties: the larger overlap, then the forward strand);
//! 7. E-value = p x number of targets; q-values by Storey's method over the p-values of both
//!    strands of every target.
//!
//! These are the choices of MEME 5.5.8's `tomtom`, checked against its output. p-values are
//! computed as `-expm1(sum ln(1 - sf))`, the small `sf` through their series, so that tiny
//! ones keep their precision.

use std::cell::RefCell;

use rayon::prelude::*;

use crate::Motif;

mod median;
mod null;
mod query;
mod qvalues;
mod scores;
mod simd;

use median::*;
use null::*;
use query::*;
pub use qvalues::storey_qvalues;
use scores::*;
use simd::*;

/// Column similarity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Distance {
    /// `-sqrt(sum (q - t)^2)` (tomtom's default, `ed`).
    Euclidean,
    /// Pearson correlation over the four letters (0 when a column is flat).
    Pearson,
    /// Sandelin-Wasserman: `2 - sum (q - t)^2`.
    Sandelin,
    /// Symmetrised Kullback-Leibler: `-sum (q log10(q/t) + t log10(t/q)) / 2`.
    Kullback,
}

impl std::str::FromStr for Distance {
    type Err = String;
    fn from_str(s: &str) -> Result<Distance, String> {
        Ok(match s {
            "ed" | "euclidean" => Distance::Euclidean,
            "pearson" => Distance::Pearson,
            "sandelin" => Distance::Sandelin,
            "kullback" => Distance::Kullback,
            _ => {
                return Err(format!(
                    "'{s}' is not a distance: expected ed, pearson, sandelin or kullback"
                ))
            }
        })
    }
}

/// Settings; the defaults are tomtom's.
#[derive(Clone, Debug)]
pub struct Options {
    /// Column similarity.
    pub distance: Distance,
    /// Alignments overlapping fewer columns (or the narrower motif's width, when smaller)
    /// cannot be a target's best; the null distribution still takes every alignment.
    pub min_overlap: usize,
    /// Motif pseudocount (0 for none).
    pub pseudocount: f64,
    /// Background letter frequencies (A, C, G, T) for the pseudocount.
    pub background: [f64; 4],
    /// Integer score bins per column.
    pub bins: usize,
    /// Compare with the targets' reverse complements too.
    pub both_strands: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            distance: Distance::Euclidean,
            min_overlap: 1,
            pseudocount: 0.1,
            background: [0.25; 4],
            bins: 100,
            both_strands: true,
        }
    }
}

/// A query's best alignment with one target.
#[derive(Clone, Debug, PartialEq)]
pub struct Match {
    /// Index of the target.
    pub target: usize,
    /// Offset of the query relative to the target (on the matched strand): positive when the
    /// query's first column lies that many columns into the target.
    pub offset: isize,
    /// Columns aligned.
    pub overlap: usize,
    /// Whether the best alignment is with the target's reverse complement.
    pub reverse: bool,
    /// The alignment's integer score.
    pub score: i64,
    /// Probability that a random alignment scores as well.
    pub p_value: f64,
    /// p-value x number of targets.
    pub e_value: f64,
    /// Storey's q-value among the p-values of both strands of every target for this query.
    pub q_value: f64,
}

fn with_pseudocount(m: &Motif, o: &Options) -> Vec<[f64; 4]> {
    // As MEME: the site count as an integer, 20 when unknown.
    let n = match m.nsites {
        Some(n) if n > 0.0 => n.trunc(),
        _ => 20.0,
    };
    let c = o.pseudocount;
    m.pfm
        .iter()
        .map(|col| std::array::from_fn(|k| (col[k] * n + c * o.background[k]) / (n + c)))
        .collect()
}

/// Tomtom's consensus of a motif: [`crate::argmax_consensus`] of its columns with the
/// pseudocount of `o`, as the comparison sees them (ties between letters fall as tomtom's
/// single-precision maximum breaks them, so the pseudocount matters).
pub fn consensus(m: &Motif, o: &Options) -> String {
    crate::argmax_consensus(&with_pseudocount(m, o))
}

/// Compares every query with every target. Returns, per query, one [`Match`] per target
/// (in target order), on the target's better strand. Queries run in parallel; the result
/// does not depend on the number of threads.
pub fn compare(queries: &[Motif], targets: &[Motif], o: &Options) -> Vec<Vec<Match>> {
    if targets.is_empty() {
        return vec![Vec::new(); queries.len()];
    }
    let pool = pool(targets, o);
    let simd = Simd::detect();
    queries
        .par_iter()
        .map(|q| SCRATCH.with(|scratch| one_query(simd, q, &pool, o, &mut scratch.borrow_mut())))
        .collect()
}

thread_local! {
    /// Each thread's buffers, reused by every query it runs (rayon's `map_init` would make
    /// new ones for every piece it splits the queries into).
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

#[cfg(test)]
mod tests;
