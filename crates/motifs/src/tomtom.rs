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

fn column_score(d: Distance, q: &[f64; 4], t: &[f64; 4]) -> f64 {
    match d {
        Distance::Euclidean => {
            let d: [f64; 4] = std::array::from_fn(|k| q[k] - t[k]);
            -(d[0] * d[0] + d[1] * d[1] + d[2] * d[2] + d[3] * d[3]).sqrt()
        }
        Distance::Sandelin => 2.0 - (0..4).map(|k| (q[k] - t[k]).powi(2)).sum::<f64>(),
        Distance::Pearson => {
            let ((dq, vq), (dt, vt)) = (centre(q), centre(t));
            let c = dq[0] * dt[0] + dq[1] * dt[1] + dq[2] * dt[2] + dq[3] * dt[3];
            if vq == 0.0 || vt == 0.0 {
                0.0
            } else {
                c / (vq * vt).sqrt()
            }
        }
        Distance::Kullback => {
            // MEME's order of operations: each letter's average, summed, negated.
            let mut s = 0.0;
            for k in 0..4 {
                let (a, b) = (q[k].max(1e-10), t[k].max(1e-10));
                s += (a * (a / b).log10() + b * (b / a).log10()) / 2.0;
            }
            -s
        }
    }
}

/// The pooled target columns: target t's forward columns start at `forward[t]`, its reverse
/// complement's at `reverse[t]`. `letters[k]` holds letter k of every column (one array per
/// letter, so that scoring a query column against all of them vectorises); for Pearson,
/// `centred[k]` holds the columns minus their means and `spread` their sums of squares.
struct Pool {
    cols: Vec<[f64; 4]>,
    letters: [Vec<f64>; 4],
    centred: [Vec<f64>; 4],
    spread: Vec<f64>,
    forward: Vec<usize>,
    reverse: Vec<usize>,
    widths: Vec<usize>,
}

/// A column minus its mean, and the sum of squares of that (Pearson's ingredients).
fn centre(c: &[f64; 4]) -> ([f64; 4], f64) {
    let m = c.iter().sum::<f64>() / 4.0;
    let d: [f64; 4] = std::array::from_fn(|k| c[k] - m);
    let mut v = 0.0;
    for x in d {
        v += x.powi(2);
    }
    (d, v)
}

fn pool(targets: &[Motif], o: &Options) -> Pool {
    let mut cols = Vec::new();
    let (mut forward, mut reverse, mut widths) = (Vec::new(), Vec::new(), Vec::new());
    for t in targets {
        forward.push(cols.len());
        cols.extend(with_pseudocount(t, o));
        widths.push(t.width());
    }
    if o.both_strands {
        for t in targets {
            reverse.push(cols.len());
            cols.extend(with_pseudocount(&t.reverse_complement(), o));
        }
    }
    let letters = std::array::from_fn(|k| cols.iter().map(|c| c[k]).collect());
    let centred_cols: Vec<([f64; 4], f64)> = cols.iter().map(centre).collect();
    let centred = std::array::from_fn(|k| centred_cols.iter().map(|(d, _)| d[k]).collect());
    let spread = centred_cols.iter().map(|(_, v)| *v).collect();
    Pool {
        cols,
        letters,
        centred,
        spread,
        forward,
        reverse,
        widths,
    }
}

/// One query column against every pooled column: the same values as [`column_score`],
/// computed letter array by letter array for the two distances whose loops vectorise.
#[inline(always)]
fn score_row(d: Distance, q: &[f64; 4], pool: &Pool, row: &mut [f64]) {
    match d {
        Distance::Euclidean => {
            let [a, c, g, t] = &pool.letters;
            for ((((r, &a), &c), &g), &t) in row.iter_mut().zip(a).zip(c).zip(g).zip(t) {
                let (d0, d1, d2, d3) = (q[0] - a, q[1] - c, q[2] - g, q[3] - t);
                *r = -(d0 * d0 + d1 * d1 + d2 * d2 + d3 * d3).sqrt();
            }
        }
        Distance::Pearson => {
            let (dq, vq) = centre(q);
            let [a, c, g, t] = &pool.centred;
            let it = row.iter_mut().zip(a).zip(c).zip(g).zip(t).zip(&pool.spread);
            for (((((r, &a), &c), &g), &t), &vt) in it {
                let cov = dq[0] * a + dq[1] * c + dq[2] * g + dq[3] * t;
                *r = if vq == 0.0 || vt == 0.0 {
                    0.0
                } else {
                    cov / (vq * vt).sqrt()
                };
            }
        }
        Distance::Sandelin | Distance::Kullback => {
            for (r, tc) in row.iter_mut().zip(&pool.cols) {
                *r = column_score(d, q, tc);
            }
        }
    }
}

/// Compares every query with every target. Returns, per query, one [`Match`] per target
/// (in target order), on the target's better strand. Queries run in parallel; the result
/// does not depend on the number of threads.
pub fn compare(queries: &[Motif], targets: &[Motif], o: &Options) -> Vec<Vec<Match>> {
    if targets.is_empty() {
        return vec![Vec::new(); queries.len()];
    }
    let pool = pool(targets, o);
    queries
        .par_iter()
        .map(|q| SCRATCH.with(|scratch| one_query(q, &pool, o, &mut scratch.borrow_mut())))
        .collect()
}

thread_local! {
    /// Each thread's buffers, reused by every query it runs (rayon's `map_init` would make
    /// new ones for every piece it splits the queries into).
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// The buffers of one query's computation, kept from one query to the next: for a query of
/// width 26 against JASPAR they hold about 6 MB, and allocating and zeroing them for every
/// query cost more than some of the steps that use them.
#[derive(Default)]
struct Scratch {
    /// Column scores, query row by query row.
    scores: Vec<f64>,
    /// The [`key`]s of the median's candidates.
    keys: Vec<u64>,
    /// Integer scores, query row by query row, each row with [`margin`] values on either
    /// side (never used: reads there are masked off).
    integers: Vec<u16>,
    /// For each target width, the masks of [`diagonal_sums`] and the [`alignment_ranks`].
    masks: Vec<Vec<u16>>,
    ranks: Vec<Vec<i64>>,
    /// Histograms of a row (four interleaved, so that consecutive equal scores do not wait
    /// on each other's increment).
    counts: Vec<u32>,
    /// The (target width, score) pairs whose null probability is needed, and the buffers of
    /// [`null_log_cdfs`].
    requests: Vec<(usize, i64)>,
    null: NullScratch,
    /// Alignment scores of one target strand by diagonal (offset).
    diagonals: Vec<u32>,
}

/// An unsigned key that sorts like the float.
fn key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | 1 << 63
    }
}

fn unkey(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// The smallest and largest value of a row (which holds no NaN), in eight lanes so that the
/// loop vectorises.
#[inline(always)]
fn min_max(row: &[f64]) -> (f64, f64) {
    let mut lo = [f64::INFINITY; 8];
    let mut hi = [f64::NEG_INFINITY; 8];
    let chunks = row.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..8 {
            // Comparisons rather than f64::min and max, whose NaN rules keep the loop scalar.
            lo[k] = if c[k] < lo[k] { c[k] } else { lo[k] };
            hi[k] = if c[k] > hi[k] { c[k] } else { hi[k] };
        }
    }
    for &v in rest {
        lo[0] = lo[0].min(v);
        hi[0] = hi[0].max(v);
    }
    let lo = lo.into_iter().fold(f64::INFINITY, f64::min);
    let hi = hi.into_iter().fold(f64::NEG_INFINITY, f64::max);
    (lo, hi)
}

/// Values sampled from a row to bracket its median.
const SAMPLE: usize = 1024;
/// Sample ranks on either side of the median's: about 4 standard deviations of the rank of
/// the row's median within the sample, so that the bracket misses it about once in 10^4.
const MARGIN: usize = 64;
/// Bins of the median's histogram (when the bracket misses, or the row is short).
const MEDIAN_BINS: usize = 1024;

/// The median of a row whose extremes are `lo` and `hi`; for an even count the lower of the
/// two middle values (memelite's rule; with the average of the two, log10 p-values moved by
/// up to 0.8 against memelite's). Exact. Two values from an evenly spaced sample of the row
/// bracket its median; one branch-free pass counts the values below the bracket and
/// gathers those inside it (a few per cent of the row), and a selection among those finds
/// the median. When the bracket misses it (rarely; the result is the same), a histogram
/// over [lo, hi] finds the bin holding the middle rank, and a selection among that bin's
/// values finds it.
#[inline(always)]
fn median(row: &[f64], lo: f64, hi: f64, keys: &mut Vec<u64>) -> f64 {
    let n = row.len();
    let rank = (n - 1) / 2;
    if hi <= lo {
        return lo;
    }
    if n >= 4 * SAMPLE {
        let step = n / SAMPLE;
        let mut sample: [u64; SAMPLE] = std::array::from_fn(|k| key(row[k * step]));
        let centre = rank * SAMPLE / n;
        let (a, b) = (
            centre.saturating_sub(MARGIN),
            (centre + MARGIN).min(SAMPLE - 1),
        );
        let (_, &mut p_lo, above) = sample.select_nth_unstable(a);
        let p_hi = if b > a {
            *above.select_nth_unstable(b - a - 1).1
        } else {
            p_lo
        };
        if keys.len() < n {
            keys.resize(n, 0);
        }
        let (below, k) = bracket(row, unkey(p_lo), unkey(p_hi), keys);
        if below <= rank && rank < below + k {
            let (_, &mut m, _) = keys[..k].select_nth_unstable(rank - below);
            return unkey(m);
        }
    }
    let scale = (MEDIAN_BINS as f64) / (hi - lo);
    let bin = |x: f64| (((x - lo) * scale) as usize).min(MEDIAN_BINS - 1);
    let mut counts = [0u32; MEDIAN_BINS];
    for &x in row {
        counts[bin(x)] += 1;
    }
    let (mut below, mut at) = (0usize, 0usize);
    for (b, &c) in counts.iter().enumerate() {
        if below + c as usize > rank {
            at = b;
            break;
        }
        below += c as usize;
    }
    keys.clear();
    keys.extend(row.iter().filter(|&&x| bin(x) == at).map(|&x| key(x)));
    let (_, &mut m, _) = keys.select_nth_unstable(rank - below);
    unkey(m)
}

/// Counts the values of `row` below `lo` and copies the [`key`]s of those in `[lo, hi]`, in
/// order, to the start of `near` (at least as long as `row`): (count below, count copied).
#[inline(always)]
fn bracket(row: &[f64], lo: f64, hi: f64, near: &mut [u64]) -> (usize, usize) {
    assert!(near.len() >= row.len());
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above; `near` is long enough.
            return unsafe { bracket_avx2(row, lo, hi, near) };
        }
    }
    bracket_portable(row, lo, hi, near)
}

#[inline(always)]
fn bracket_portable(row: &[f64], lo: f64, hi: f64, near: &mut [u64]) -> (usize, usize) {
    let (mut below, mut k) = (0usize, 0usize);
    for &x in row {
        // k never passes the number of values seen, so it stays below row.len().
        near[k] = key(x);
        k += (x >= lo && x <= hi) as usize;
        below += (x < lo) as usize;
    }
    (below, k)
}

/// For each mask of 4 lanes, the 32-bit lane indices that bring the selected 64-bit lanes to
/// the front, in order.
#[cfg(target_arch = "x86_64")]
const COMPRESS: [[i32; 8]; 16] = {
    let mut table = [[0i32; 8]; 16];
    let mut m = 0;
    while m < 16 {
        let (mut lane, mut k) = (0i32, 0);
        while lane < 4 {
            if m & (1 << lane) != 0 {
                table[m][2 * k] = 2 * lane;
                table[m][2 * k + 1] = 2 * lane + 1;
                k += 1;
            }
            lane += 1;
        }
        m += 1;
    }
    table
};

/// [`bracket_portable`], 4 values at a time: the values inside are packed to the front of a
/// register by a permutation and stored whole (the next store overwrites the rest).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn bracket_avx2(row: &[f64], lo: f64, hi: f64, near: &mut [u64]) -> (usize, usize) {
    use std::arch::x86_64::*;
    let chunks = row.chunks_exact(4);
    let rest = chunks.remainder();
    let (vlo, vhi) = (_mm256_set1_pd(lo), _mm256_set1_pd(hi));
    let mut below = _mm256_setzero_si256();
    let mut k = 0usize;
    for (c, chunk) in chunks.enumerate() {
        // SAFETY: `chunk` holds 4 values; the store writes near[k..k + 4] with k <= 4c, and
        // 4c + 4 <= row.len() <= near.len().
        let m = unsafe {
            let x = _mm256_loadu_pd(chunk.as_ptr());
            let lt = _mm256_cmp_pd::<_CMP_LT_OQ>(x, vlo);
            let inside = _mm256_and_pd(
                _mm256_cmp_pd::<_CMP_GE_OQ>(x, vlo),
                _mm256_cmp_pd::<_CMP_LE_OQ>(x, vhi),
            );
            // Each lane below subtracts -1.
            below = _mm256_sub_epi64(below, _mm256_castpd_si256(lt));
            let m = _mm256_movemask_pd(inside) as usize;
            let order = _mm256_loadu_si256(COMPRESS[m].as_ptr().cast());
            // key(): negative values have all their bits flipped, the others their sign bit.
            let bits = _mm256_castpd_si256(x);
            let negative = _mm256_cmpgt_epi64(_mm256_setzero_si256(), bits);
            let flip = _mm256_or_si256(negative, _mm256_set1_epi64x(i64::MIN));
            let keys = _mm256_xor_si256(bits, flip);
            let packed = _mm256_permutevar8x32_epi32(keys, order);
            debug_assert!(k <= 4 * c);
            _mm256_storeu_si256(near.as_mut_ptr().add(k).cast(), packed);
            m
        };
        k += (m as u32).count_ones() as usize;
    }
    let mut lanes = [0u64; 4];
    // SAFETY: `lanes` holds 4 u64.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), below) };
    let mut below = lanes.iter().sum::<u64>() as usize;
    for &x in rest {
        near[k] = key(x);
        k += (x >= lo && x <= hi) as usize;
        below += (x < lo) as usize;
    }
    (below, k)
}

/// Outputs of [`convolve`] computed together (in registers).
const BLOCK: usize = 32;

/// Appends to `out` the convolution of `a`, extended by `left` on its left and by zeros on
/// its right, with `b`: `out[z] = sum over x of a[x] b[z - x]` for `z < a.len() + b.len() -
/// 1`, each sum taken in increasing x (the zero terms change nothing, since no term is
/// negative). With `left` 0 this is the distribution of a sum from its terms' probabilities;
/// with `left` 1 and `a` a survival function (`P(X >= k)`, 1 below 0), it is the survival
/// function of the sum, computed without a pass of suffix sums and with its small tail
/// values summed directly (no cancellation). Each block of [`BLOCK`] outputs accumulates
/// in registers over a padded copy of `a`, which keeps the loop free of stores and lets it
/// vectorise.
#[cfg(test)]
fn convolve(a: &[f64], left: f64, b: &[f64], padded: &mut Vec<f64>, out: &mut Vec<f64>) {
    pad(a, left, b.len(), padded);
    convolve_padded(padded, a.len(), b, out);
}

/// `a` as [`convolve_padded`] reads it: `padded[lb - 1 + x] = a[x]`, `left` before, zeros
/// after.
#[inline(always)]
fn pad(a: &[f64], left: f64, lb: usize, padded: &mut Vec<f64>) {
    let blocks = (a.len() + lb - 1).div_ceil(BLOCK);
    padded.clear();
    padded.resize(lb - 1, left);
    padded.extend_from_slice(a);
    padded.resize(blocks * BLOCK + 2 * lb, 0.0);
}

/// [`convolve`] of an `a` of `la` values padded by [`pad`]: output z reads
/// `padded[z + lb - 1 - k]`.
#[inline(always)]
fn convolve_padded(padded: &[f64], la: usize, b: &[f64], out: &mut Vec<f64>) {
    let lb = b.len();
    let n = la + lb - 1;
    let blocks = n.div_ceil(BLOCK);
    let base = out.len();
    out.resize(base + blocks * BLOCK, 0.0);
    for (z0, dst) in out[base..].chunks_exact_mut(BLOCK).enumerate() {
        let z0 = z0 * BLOCK;
        let mut acc = [0f64; BLOCK];
        // Window o starts at padded[z0 + o] and meets b[lb - 1 - o]: k descending is
        // x = z - k ascending.
        let windows = padded[z0..z0 + lb - 1 + BLOCK].windows(BLOCK);
        for (src, &c) in windows.zip(b.iter().rev()) {
            for j in 0..BLOCK {
                acc[j] += c * src[j];
            }
        }
        dst.copy_from_slice(&acc);
    }
    out.truncate(base + n);
}

/// The alignments of a query of width `w` with a target of width `l` that overlap at least
/// `min` columns: (offset of the target's first column on the query, first and last query
/// columns covered), offsets in increasing order.
fn alignments(w: usize, l: usize, min: usize) -> impl Iterator<Item = (isize, usize, usize)> {
    (-(l as isize - 1)..w as isize).filter_map(move |off| {
        let a = off.max(0) as usize;
        let b = ((off + l as isize - 1) as usize).min(w - 1);
        (b - a + 1 >= min).then_some((off, a, b))
    })
}

/// One query against the pool. On x86-64 a copy compiled for AVX2 runs where the CPU has
/// it (the loops over columns, histograms and convolutions vectorise twice as wide); it
/// multiplies and adds as the baseline does, with no fused multiply-add, and square roots
/// are exact, so the results are the same bits everywhere.
fn one_query(q: &Motif, pool: &Pool, o: &Options, scratch: &mut Scratch) -> Vec<Match> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { one_query_avx2(q, pool, o, scratch) };
        }
    }
    one_query_portable(q, pool, o, scratch)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn one_query_avx2(q: &Motif, pool: &Pool, o: &Options, scratch: &mut Scratch) -> Vec<Match> {
    one_query_portable(q, pool, o, scratch)
}

/// Diagonal sums computed together by [`diagonal_sums`].
const LANES: usize = 16;

/// Values kept on either side of each row of integer scores, so that [`diagonal_sums`] reads
/// whole blocks of [`LANES`] around any target.
fn margin(w: usize) -> usize {
    w + LANES
}

/// For a query of width `w` and a target of width `l`: `mask[e + i]` is all ones where query
/// row i meets the target on diagonal e (`0 <= e - (w - 1) + i < l`), zero elsewhere.
fn diagonal_mask(w: usize, l: usize) -> Vec<u16> {
    let mut mask = vec![0u16; (l + w - 1).next_multiple_of(LANES) + w];
    mask[w - 1..w - 1 + l].fill(u16::MAX);
    mask
}

/// One target strand among the integer scores, for [`diagonal_sums`]: its width `l`, its first
/// column at `at` in each of the query's `w` rows of `rows` (rows `stride` apart), and the
/// masks of [`diagonal_mask`] for (w, l).
struct Placed<'a> {
    rows: &'a [u16],
    stride: usize,
    at: usize,
    w: usize,
    l: usize,
    mask: &'a [u16],
}

/// The alignment scores of a [`Placed`] target with the query, by diagonal: `out[e]` sums
/// query row i on target column `e - (w - 1) + i`. Each block of [`LANES`] diagonals adds, row by
/// row, that row's values on those diagonals (a shifted read, masked to the target) in
/// registers: 16-bit sums, so every w values below `top` must sum below 2^16.
#[inline(always)]
fn diagonal_sums(target: &Placed, out: &mut [u32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { diagonal_sums_avx2(target, out) };
        }
    }
    diagonal_sums_portable(target, out)
}

#[inline(always)]
fn diagonal_sums_portable(target: &Placed, out: &mut [u32]) {
    diagonal_blocks(target, out, |acc, src, m| {
        for k in 0..LANES {
            acc[k] = acc[k].wrapping_add(src[k] & m[k]);
        }
    })
}

/// [`diagonal_sums`] with each row's masked add as one 256-bit operation (the compiler
/// splits the portable loop into two 128-bit halves).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn diagonal_sums_avx2(target: &Placed, out: &mut [u32]) {
    use std::arch::x86_64::*;
    diagonal_blocks(target, out, |acc, src, m| {
        // SAFETY: each pointer is to 16 u16 (256 bits); unaligned loads and store.
        unsafe {
            let s = _mm256_loadu_si256(src.as_ptr().cast());
            let m = _mm256_loadu_si256(m.as_ptr().cast());
            let a = _mm256_loadu_si256(acc.as_ptr().cast());
            let sum = _mm256_add_epi16(a, _mm256_and_si256(s, m));
            _mm256_storeu_si256(acc.as_mut_ptr().cast(), sum);
        }
    })
}

/// The blocks of [`diagonal_sums`]: `add(acc, src, mask)` adds a row's masked block.
#[inline(always)]
fn diagonal_blocks(
    target: &Placed,
    out: &mut [u32],
    mut add: impl FnMut(&mut [u16; LANES], &[u16; LANES], &[u16; LANES]),
) {
    let &Placed {
        rows,
        stride,
        at,
        w,
        l,
        mask,
    } = target;
    for (c, dst) in out.chunks_exact_mut(LANES).enumerate() {
        let e0 = c * LANES;
        // The rows that meet the target on a diagonal of this block.
        let first = w.saturating_sub(LANES + e0);
        let last = (w + l - 2 - e0).min(w - 1);
        let mut acc = [0u16; LANES];
        // Row i's block starts at i (stride + 1) + at + 1 + e0 - w, its mask at e0 + i.
        let blocks = rows[first * (stride + 1) + at + 1 + e0 - w..]
            .chunks(stride + 1)
            .take(last + 1 - first);
        for (src, m) in blocks.zip(mask[e0 + first..].windows(LANES)) {
            let src: &[u16; LANES] = src[..LANES].try_into().expect("a block");
            add(&mut acc, src, m.try_into().expect("a block"));
        }
        for (d, a) in dst.iter_mut().zip(acc) {
            *d = a as u32;
        }
    }
}

/// The entry of a per-width cache (emptied for each query) for target width `l`, made by
/// `make` the first time it is asked for.
fn per_width<T>(cache: &mut Vec<Vec<T>>, l: usize, make: impl FnOnce() -> Vec<T>) -> &[T] {
    if cache.len() <= l {
        cache.resize_with(l + 1, Vec::new);
    }
    if cache[l].is_empty() {
        cache[l] = make();
    }
    &cache[l]
}

/// A target's best alignment on one strand from its diagonal sums (see [`diagonal_sums`]):
/// (score, overlap, reported offset), ties broken as MEME breaks them: the larger overlap,
/// then the smaller reported offset. An unaligned query column scores `zero`; alignments
/// overlapping fewer than `min` columns are not candidates.
fn best_alignment_plain(
    diagonals: &[u32],
    w: usize,
    l: usize,
    min: usize,
    zero: i64,
) -> (i64, usize, isize) {
    let mut best: Option<(i64, usize, isize)> = None;
    for (off, a, b) in alignments(w, l, min) {
        let width = b - a + 1;
        let score = (w - width) as i64 * zero + diagonals[(w as isize - 1 - off) as usize] as i64;
        let better = match best {
            None => true,
            Some((bs, bo, boff)) => {
                score > bs || (score == bs && (width > bo || (width == bo && -off < boff)))
            }
        };
        if better {
            best = Some((score, width, -off));
        }
    }
    best.expect("every target has an alignment")
}

/// For a query of width `w` and a target of width `l` (`l + w < 2^16`), by diagonal e (the
/// alignment at offset `w - 1 - e`): the part of the alignment's rank that does not depend
/// on the diagonal sum, so that `(sum << 32) + rank` orders alignments as
/// [`best_alignment_plain`] does: `((w - overlap) zero) << 32 | overlap << 16 | e'`, with
/// `e' = l + w - 2 - e` larger for smaller reported offsets; `i64::MIN` for an alignment
/// overlapping fewer than `min` columns. Sums must stay below 2^31 minus the shift.
fn alignment_ranks(w: usize, l: usize, min: usize, zero: i64) -> Vec<i64> {
    let mut ranks = vec![i64::MIN; l + w - 1];
    for (off, a, b) in alignments(w, l, min) {
        let width = b - a + 1;
        let e = (w as isize - 1 - off) as usize;
        ranks[e] =
            ((w - width) as i64 * zero) << 32 | (width as i64) << 16 | (l + w - 2 - e) as i64;
    }
    ranks
}

/// [`best_alignment_plain`] as one maximum over the diagonals (a loop that vectorises),
/// with the ranks of [`alignment_ranks`].
#[inline(always)]
fn best_alignment(diagonals: &[u32], ranks: &[i64], l: usize) -> (i64, usize, isize) {
    let mut lanes = [i64::MIN; 4];
    let chunks = ranks.chunks_exact(4);
    let rest = chunks.remainder();
    for (r, d) in chunks.zip(diagonals.chunks_exact(4)) {
        for k in 0..4 {
            let key = ((d[k] as i64) << 32) + r[k];
            lanes[k] = if key > lanes[k] { key } else { lanes[k] };
        }
    }
    let n = ranks.len() - rest.len();
    for (r, &d) in rest.iter().zip(&diagonals[n..]) {
        lanes[0] = lanes[0].max(((d as i64) << 32) + r);
    }
    let key = lanes.into_iter().max().expect("four lanes");
    let w_plus = ranks.len() + 1; // l + w
    let e = w_plus - 2 - (key & 0xffff) as usize;
    let offset = e as isize - (w_plus - l) as isize + 1; // -(w - 1 - e)
    (key >> 32, ((key >> 16) & 0xffff) as usize, offset)
}

/// 2^52, the smallest f64 whose spacing is 1.
const TWO_52: f64 = 4_503_599_627_370_496.0;

/// The most integer score bins per column: scores are stored as `u16`.
const MAX_BINS: usize = u16::MAX as usize - 2;

#[inline(always)]
fn one_query_portable(q: &Motif, pool: &Pool, o: &Options, sc: &mut Scratch) -> Vec<Match> {
    let qcols = with_pseudocount(q, o);
    let (w, n) = (qcols.len(), pool.cols.len());
    // Scores, and each query row's median.
    sc.scores.resize(w * n, 0.0);
    let mut medians = Vec::with_capacity(w);
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for (i, qc) in qcols.iter().enumerate() {
        let row = &mut sc.scores[i * n..(i + 1) * n];
        score_row(o.distance, qc, pool, row);
        let (rmin, rmax) = min_max(row);
        let m = median(row, rmin, rmax, &mut sc.keys);
        lo = lo.min(rmin - m);
        hi = hi.max(rmax - m);
        medians.push(m);
    }
    let lo = lo.floor();
    let bins = o.bins.clamp(1, MAX_BINS);
    let scale = if hi > lo {
        ((bins as f64 / (hi - lo)).floor() as i64).max(1)
    } else {
        1
    };
    let zero = (-lo) as i64 * scale; // the score of an unaligned query column
    let top = ((hi - lo) * scale as f64 + 0.5) as usize + 1;
    // Per query row: the integer scores of the median-shifted scores, and the column's null
    // distribution over its own range: (first value, probabilities).
    let margin = margin(w);
    let stride = n + 2 * margin;
    sc.integers.resize(w * stride, 0);
    let mut pmfs: Vec<(usize, Vec<f64>)> = Vec::with_capacity(w);
    for (i, &m) in medians.iter().enumerate() {
        let row = &sc.scores[i * n..(i + 1) * n];
        let ints = &mut sc.integers[i * stride + margin..][..n];
        for (s, &v) in ints.iter_mut().zip(row) {
            // An integer y < 2^52 plus 2^52 has y in its low mantissa bits: a conversion
            // that vectorises (`as` checks for NaN and saturates, one value at a time).
            let y = (((v - m) - lo) * scale as f64 + 0.5).floor();
            *s = (y + TWO_52).to_bits() as u16;
        }
        let bins = top + 1;
        sc.counts.clear();
        sc.counts.resize(4 * bins, 0);
        let counts = &mut sc.counts[..];
        let quads = ints.chunks_exact(4);
        for &s in quads.remainder() {
            counts[s as usize] += 1;
        }
        for q in quads {
            counts[q[0] as usize] += 1;
            counts[bins + q[1] as usize] += 1;
            counts[2 * bins + q[2] as usize] += 1;
            counts[3 * bins + q[3] as usize] += 1;
        }
        let (counts, others) = counts.split_at_mut(bins);
        for other in others.chunks_exact(bins) {
            for (c, &o) in counts.iter_mut().zip(other) {
                *c += o;
            }
        }
        let first = counts.iter().position(|&x| x > 0).unwrap_or(0);
        let last = counts.iter().rposition(|&x| x > 0).unwrap_or(0);
        let probs = counts[first..=last]
            .iter()
            .map(|&x| x as f64 / n as f64)
            .collect();
        pmfs.push((first, probs));
    }
    let min_ov = |l: usize| o.min_overlap.max(1).min(w).min(l);
    let diagonals = &mut sc.diagonals;
    // Diagonal sums fit 16 bits when w values below `top` do.
    let narrow = w * top <= u16::MAX as usize;
    sc.masks.iter_mut().for_each(Vec::clear);
    sc.ranks.iter_mut().for_each(Vec::clear);
    // Each strand's best alignment, target by target, from the integer scores alone:
    // (score, overlap, reported offset, reverse).
    let mut bests: Vec<(i64, usize, isize, bool)> = Vec::with_capacity(2 * pool.widths.len());
    for (t, &l) in pool.widths.iter().enumerate() {
        let starts = std::iter::once((pool.forward[t], false))
            .chain(pool.reverse.get(t).map(|&r| (r, true)));
        for (start, reverse) in starts {
            // Query column i on target column j is on diagonal j - i + w - 1 (offset i - j).
            diagonals.clear();
            diagonals.resize((l + w - 1).next_multiple_of(LANES), 0);
            if narrow {
                let mask = per_width(&mut sc.masks, l, || diagonal_mask(w, l));
                let target = Placed {
                    rows: &sc.integers,
                    stride,
                    at: margin + start,
                    w,
                    l,
                    mask,
                };
                diagonal_sums(&target, diagonals);
            } else {
                // Each query row adds the target's l scores to l consecutive diagonals.
                for i in 0..w {
                    let scores = &sc.integers[i * stride + margin + start..][..l];
                    for (d, &s) in diagonals[w - 1 - i..][..l].iter_mut().zip(scores) {
                        *d += s as u32;
                    }
                }
            }
            let (score, overlap, offset) = if narrow && l + w < 1 << 16 {
                let ranks = per_width(&mut sc.ranks, l, || alignment_ranks(w, l, min_ov(l), zero));
                best_alignment(diagonals, ranks, l)
            } else {
                best_alignment_plain(diagonals, w, l, min_ov(l), zero)
            };
            bests.push((score, overlap, offset, reverse));
        }
    }
    // The null: ln P(max over the offsets of one strand < v) for each (target width, v) met.
    let strands = if o.both_strands { 2 } else { 1 };
    let width_of = |k: usize| pool.widths[k / strands];
    sc.requests.clear();
    sc.requests
        .extend(bests.iter().enumerate().map(|(k, b)| (width_of(k), b.0)));
    sc.requests.sort_unstable();
    sc.requests.dedup();
    let log_cdfs = null_log_cdfs(w, zero, &pmfs, &sc.requests, &mut sc.null);
    // p-values of both strands of every target; q-values come from all of them, as MEME
    // computes them.
    let p_values: Vec<f64> = bests
        .iter()
        .enumerate()
        .map(|(k, b)| {
            let r = sc
                .requests
                .binary_search(&(width_of(k), b.0))
                .expect("every score was requested");
            (-(strands as f64 * log_cdfs[r]).exp_m1()).clamp(0.0, 1.0)
        })
        .collect();
    let q = storey_qvalues(&p_values);
    let e = pool.widths.len() as f64;
    (0..pool.widths.len())
        .map(|t| {
            // The strands as MEME orders its matches: the smaller p-value as printed (single
            // precision), then the larger overlap, then the forward strand.
            let mut k = t * strands;
            if strands == 2 {
                let (pf, pr) = (p_values[k] as f32, p_values[k + 1] as f32);
                if pr < pf || (pr == pf && bests[k + 1].1 > bests[k].1) {
                    k += 1;
                }
            }
            let (score, overlap, offset, reverse) = bests[k];
            Match {
                target: t,
                offset,
                overlap,
                reverse,
                score,
                p_value: p_values[k],
                e_value: p_values[k] * e,
                q_value: q[k],
            }
        })
        .collect()
}

/// Buffers of [`null_log_cdfs`].
#[derive(Default)]
struct NullScratch {
    /// The survival function of the current span and the next one.
    chain: [Vec<f64>; 2],
    padded: Vec<f64>,
    /// (span `a * w + b`, first request, end of requests): one entry per alignment that
    /// covers query columns `a..=b`, for the requests of the target width it belongs to.
    users: Vec<(usize, usize, usize)>,
    product: Vec<f64>,
    small: Vec<f64>,
}

/// For a query of width `w` whose columns have the null distributions `pmfs` (first integer
/// value, probabilities), and each `(l, v)` of `requests` (sorted, distinct): ln P(every
/// alignment of the query with a target of width `l` scores below `v`), the alignments'
/// scores independent and an unaligned query column scoring `zero`; every alignment counts,
/// whatever the minimum overlap (which only limits the choice of the best one): MEME's null.
///
/// The survival function of each span `a..=b` of query columns comes from that of `a..b`
/// (see [`convolve_padded`]); while it is at hand, every request whose target width has an
/// alignment covering that span reads it, so that no span is kept (they would take
/// megabytes) and the reads stay in cache. Each alignment's `ln(1 - sf)` is summed, small
/// `sf` by their series (so that tiny p-values keep their precision), the others as one
/// product and one logarithm.
#[inline(always)]
fn null_log_cdfs(
    w: usize,
    zero: i64,
    pmfs: &[(usize, Vec<f64>)],
    requests: &[(usize, i64)],
    ns: &mut NullScratch,
) -> Vec<f64> {
    ns.users.clear();
    let mut r0 = 0;
    while r0 < requests.len() {
        let l = requests[r0].0;
        let r1 = r0 + requests[r0..].partition_point(|&(x, _)| x == l);
        ns.users
            .extend(alignments(w, l, 1).map(|(_, a, b)| (a * w + b, r0, r1)));
        r0 = r1;
    }
    ns.users.sort_unstable();
    ns.product.clear();
    ns.product.resize(requests.len(), 1.0);
    ns.small.clear();
    ns.small.resize(requests.len(), 0.0);
    let (product, small) = (&mut ns.product[..], &mut ns.small[..]);
    let [current, next] = &mut ns.chain;
    let mut users = ns.users.iter().peekable();
    for a in 0..w {
        // The single column's survival function by suffix sums; `first` is its first value.
        let (fa, pa) = &pmfs[a];
        let mut first = *fa as i64;
        current.clear();
        current.resize(pa.len(), 0.0);
        let mut acc = 0.0;
        for (s, &p) in current.iter_mut().zip(pa).rev() {
            acc += p;
            *s = acc;
        }
        for (b, (fb, pb)) in pmfs.iter().enumerate().skip(a) {
            if b > a {
                pad(current, 1.0, pb.len(), &mut ns.padded);
                next.clear();
                convolve_padded(&ns.padded, current.len(), pb, next);
                std::mem::swap(current, next);
                first += *fb as i64;
            }
            let shift = (w - (b - a + 1)) as i64 * zero + first;
            if users.peek().is_none_or(|u| u.0 != a * w + b) {
                continue;
            }
            // The lookups without branches: P(span sum >= v - shift) is current[k] for k
            // inside, 1 at and below its first value (current[0] for now) and 0 above its
            // last (one value more).
            let (head, last) = (current[0], current.len() as i64);
            current[0] = 1.0;
            current.push(0.0);
            while let Some(&(_, r0, r1)) = users.next_if(|u| u.0 == a * w + b) {
                for r in r0..r1 {
                    let sf = current[(requests[r].1 - shift).clamp(0, last) as usize];
                    // ln(1 - sf) = -sf - sf^2/2 - ..., the rest below 1e-12 of it; sf of 1
                    // makes the product 0.
                    let tiny = sf < 1e-6;
                    small[r] -= if tiny { sf + 0.5 * sf * sf } else { 0.0 };
                    product[r] *= if tiny { 1.0 } else { (1.0 - sf).max(0.0) };
                }
            }
            current.pop();
            current[0] = head;
        }
    }
    product
        .iter()
        .zip(small.iter())
        .map(|(p, s)| p.ln() + s)
        .collect()
}

/// Storey's q-values (Storey & Tibshirani 2003): the proportion of true nulls `pi0` is
/// estimated with the bootstrap choice of lambda (Storey, Taylor & Siegmund 2004) over
/// lambda = 0, 0.05, ..., 0.95: the lambda whose estimate has the smallest mean squared
/// error against the smallest estimate over bootstrap resamples of the p-values. That error
/// is computed exactly rather than from random resamples (MEME draws 100): a resample's
/// count above lambda is binomial, so its error is the binomial variance plus the squared
/// bias. On 180 filters x 879 JASPAR motifs this changed no q-value's agreement with MEME
/// 5.5.8's (the same 0.6% median, 2.4% largest difference; MEME's own draws differ from
/// run to run) and made the q-values independent of any seed.
pub fn storey_qvalues(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    if m == 0 {
        return Vec::new();
    }
    // #{p > lambda_k} for lambda_k = k / 20 from a histogram of p over 20 bins: bin b holds
    // (b/20, (b+1)/20], and p = 0 goes below every lambda.
    let mut histogram = [0usize; 21];
    for &x in p {
        let b = if x <= 0.0 {
            0
        } else {
            ((x * 20.0).ceil() as usize).min(20)
        };
        histogram[b] += 1;
    }
    let lambdas: Vec<f64> = (0..20).map(|i| i as f64 * 0.05).collect();
    let mut above = [0usize; 20];
    let mut acc = 0;
    for k in (0..20).rev() {
        acc += histogram[k + 1];
        above[k] = acc;
    }
    let n = m as f64;
    let pi0s: Vec<f64> = lambdas
        .iter()
        .zip(above)
        .map(|(&l, c)| c as f64 / (n * (1.0 - l)))
        .collect();
    let min_pi0 = pi0s.iter().copied().fold(f64::INFINITY, f64::min);
    // A resample's count above lambda is binomial (m, c / m): the estimate's variance plus
    // its squared distance from the smallest estimate.
    let mse: Vec<f64> = lambdas
        .iter()
        .zip(above.iter().zip(&pi0s))
        .map(|(&l, (&c, &pi0))| {
            let f = c as f64 / n;
            let d = n * (1.0 - l);
            n * f * (1.0 - f) / (d * d) + (pi0 - min_pi0).powi(2)
        })
        .collect();
    let best = (0..lambdas.len())
        .min_by(|&a, &b| mse[a].total_cmp(&mse[b]))
        .expect("lambdas");
    // With few p-values the estimate can reach 0 (no p above lambda): fall back to 1, i.e.
    // Benjamini-Hochberg.
    let pi0 = match pi0s[best] {
        x if x > 0.0 => x.min(1.0),
        _ => 1.0,
    };
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut q = vec![0f64; m];
    let mut running = f64::INFINITY;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(pi0 * p[i] * m as f64 / (rank + 1) as f64);
        q[i] = running.min(1.0);
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    fn motif(id: &str, pfm: Vec<[f64; 4]>) -> Motif {
        Motif {
            id: id.into(),
            name: None,
            pfm,
            nsites: Some(20.0),
        }
    }

    /// A deterministic pseudo-random motif.
    /// Uniform values in [0, 1) from a seeded xorshift generator.
    fn uniform(seed: u64) -> impl FnMut() -> f64 {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn random_motif(id: &str, w: usize, seed: u64) -> Motif {
        let mut next = uniform(seed);
        let pfm = (0..w)
            .map(|_| {
                let mut c: [f64; 4] = std::array::from_fn(|_| next().powi(3) + 0.01);
                let sum: f64 = c.iter().sum();
                c.iter_mut().for_each(|x| *x /= sum);
                c
            })
            .collect();
        motif(id, pfm)
    }

    fn database(n: usize) -> Vec<Motif> {
        (0..n)
            .map(|i| random_motif(&format!("t{i}"), 6 + i % 10, 1000 + i as u64))
            .collect()
    }

    #[test]
    fn a_motif_finds_itself_its_reverse_complement_and_a_shifted_copy() {
        for d in [
            Distance::Euclidean,
            Distance::Pearson,
            Distance::Sandelin,
            Distance::Kullback,
        ] {
            let db = database(60);
            let o = Options {
                distance: d,
                ..Options::default()
            };
            let q = db[17].clone();
            let rc = q.reverse_complement();
            // The query without its first two columns: it sits 2 columns into target 17.
            let shifted = motif("shifted", q.pfm[2..].to_vec());
            let r = compare(&[q, rc, shifted], &db, &o);
            for (k, (reverse, offset)) in [(false, 0), (true, 0), (false, 2)].iter().enumerate() {
                let best = r[k]
                    .iter()
                    .min_by(|a, b| a.p_value.total_cmp(&b.p_value))
                    .unwrap();
                assert_eq!(best.target, 17, "{d:?} query {k}");
                assert_eq!(
                    (best.reverse, best.offset),
                    (*reverse, *offset),
                    "{d:?} query {k}"
                );
                assert!(best.p_value < 1e-6, "{d:?} query {k}: p {}", best.p_value);
            }
        }
    }

    #[test]
    fn ties_and_the_null_follow_meme() {
        let mut db = database(60);
        // A target of period 2: the query "AC" fits at offsets 0, 2 and 4 with the same
        // score and overlap; MEME reports the smallest offset.
        let a = [0.97, 0.01, 0.01, 0.01];
        let c = [0.01, 0.97, 0.01, 0.01];
        db.push(motif("periodic", vec![a, c, a, c, a, c]));
        let q = motif("ac", vec![a, c]);
        let r = compare(std::slice::from_ref(&q), &db, &Options::default());
        let m = &r[0][60];
        assert_eq!((m.offset, m.overlap, m.reverse), (0, 2, false));
        // The minimum overlap restricts the best alignment, not the null: a full-overlap
        // match keeps its p-value.
        let q = db[17].clone();
        let p = |min_overlap| {
            let o = Options {
                min_overlap,
                ..Options::default()
            };
            compare(std::slice::from_ref(&q), &db, &o)[0][17].p_value
        };
        assert_eq!(p(1), p(5));
    }

    #[test]
    fn consensus_ties_fall_as_tomtom_breaks_them() {
        // JASPAR MA0074.1's columns 7 and 10 (10 sites): tomtom 5.5.8 writes T and G, the
        // later letters, because the pseudocounted 0.3985... and 0.4975... round down in
        // single precision; without a pseudocount 0.4 rounds up and A stays.
        let mut m = motif("tie", vec![[0.4, 0.2, 0.0, 0.4], [0.5, 0.0, 0.5, 0.0]]);
        m.nsites = Some(10.0);
        assert_eq!(consensus(&m, &Options::default()), "TG");
        let none = Options {
            pseudocount: 0.0,
            ..Options::default()
        };
        assert_eq!(consensus(&m, &none), "AA");
    }

    #[test]
    fn p_values_of_random_queries_are_roughly_uniform() {
        for d in [Distance::Pearson, Distance::Sandelin, Distance::Euclidean] {
            let db = database(200);
            let queries: Vec<Motif> = (0..40)
                .map(|i| random_motif(&format!("q{i}"), 8, 77 + i))
                .collect();
            let o = Options {
                distance: d,
                ..Options::default()
            };
            let ps: Vec<f64> = compare(&queries, &db, &o)
                .into_iter()
                .flatten()
                .map(|m| m.p_value)
                .collect();
            // Fractions below 0.05, 0.25, 0.5 close to those values (8,000 p-values; not
            // independent, so a loose band).
            for cut in [0.05, 0.25, 0.5] {
                let frac = ps.iter().filter(|&&p| p <= cut).count() as f64 / ps.len() as f64;
                assert!(
                    (frac - cut).abs() < 0.1 + cut * 0.5,
                    "{d:?}: {frac} at {cut}"
                );
            }
        }
    }

    #[test]
    fn convolution_gives_the_bits_of_the_plain_sum() {
        let mut next = uniform(11);
        let mut padded = Vec::new();
        for (la, lb) in [
            (1, 1),
            (1, 9),
            (7, 3),
            (8, 8),
            (9, 100),
            (250, 61),
            (2600, 100),
        ] {
            // Distributions with zeros inside, as integerised score histograms have.
            let mut dist = |n: usize| -> Vec<f64> {
                (0..n)
                    .map(|_| if next() < 0.2 { 0.0 } else { next() / n as f64 })
                    .collect()
            };
            let (a, b) = (dist(la), dist(lb));
            let mut plain = vec![0f64; la + lb - 1];
            for (x, &px) in a.iter().enumerate() {
                for (y, &py) in b.iter().enumerate() {
                    plain[x + y] += px * py;
                }
            }
            let mut ours = Vec::new();
            convolve(&a, 0.0, &b, &mut padded, &mut ours);
            assert_eq!(ours.len(), plain.len());
            for (z, (u, v)) in ours.iter().zip(&plain).enumerate() {
                assert_eq!(
                    u.to_bits(),
                    v.to_bits(),
                    "{la} x {lb}, output {z}: {u} vs {v}"
                );
            }
        }
    }

    #[test]
    fn survival_of_a_sum_is_the_suffix_sum_of_its_distribution() {
        let mut next = uniform(5);
        let mut padded = Vec::new();
        for (la, lb) in [(1, 1), (3, 40), (75, 75), (900, 80)] {
            let mut dist = |n: usize| -> Vec<f64> {
                let v: Vec<f64> = (0..n).map(|_| next().powi(4)).collect();
                let sum: f64 = v.iter().sum();
                v.iter().map(|x| x / sum).collect()
            };
            let (a, b) = (dist(la), dist(lb));
            let suffix = |p: &[f64]| -> Vec<f64> {
                let mut acc = 0.0;
                let mut sf: Vec<f64> = p
                    .iter()
                    .rev()
                    .map(|x| {
                        acc += x;
                        acc
                    })
                    .collect();
                sf.reverse();
                sf
            };
            let mut pmf = Vec::new();
            convolve(&a, 0.0, &b, &mut padded, &mut pmf);
            let mut sf = Vec::new();
            convolve(&suffix(&a), 1.0, &b, &mut padded, &mut sf);
            let want = suffix(&pmf);
            assert_eq!(sf.len(), want.len());
            for (k, (u, v)) in sf.iter().zip(&want).enumerate() {
                // Relative: the tail values are tiny and must keep their precision.
                assert!(
                    (u - v).abs() <= 1e-12 * v,
                    "{la} x {lb}, value {k}: {u} vs {v}"
                );
            }
        }
    }

    #[test]
    fn diagonal_sums_are_the_plain_sums() {
        let mut next = uniform(3);
        for (w, l) in [
            (1, 1),
            (5, 3),
            (8, 20),
            (26, 6),
            (26, 35),
            (30, 16),
            (17, 40),
        ] {
            let n = 120;
            let (margin, stride) = (margin(w), n + 2 * margin(w));
            let rows: Vec<u16> = (0..w * stride).map(|_| (next() * 100.0) as u16).collect();
            let start = 50;
            let mut want = vec![0u32; l + w - 1];
            for i in 0..w {
                for j in 0..l {
                    want[j + w - 1 - i] += rows[i * stride + margin + start + j] as u32;
                }
            }
            let mask = diagonal_mask(w, l);
            for sums in [diagonal_sums, diagonal_sums_portable] {
                let mut got = vec![0u32; (l + w - 1).next_multiple_of(LANES)];
                let target = Placed {
                    rows: &rows,
                    stride,
                    at: margin + start,
                    w,
                    l,
                    mask: &mask,
                };
                sums(&target, &mut got);
                assert_eq!(&got[..l + w - 1], &want[..], "w {w}, l {l}");
            }
        }
    }

    #[test]
    fn the_best_alignment_by_rank_is_the_plain_one() {
        let mut next = uniform(17);
        for (w, l, min) in [
            (1usize, 1usize, 1),
            (5, 3, 1),
            (8, 20, 5),
            (26, 6, 5),
            (26, 35, 1),
            (30, 16, 16),
        ] {
            for zero in [0, 3, 40] {
                // Few distinct sums, so that ties are common.
                let n = (l + w - 1).next_multiple_of(LANES);
                for _ in 0..50 {
                    let diagonals: Vec<u32> = (0..n).map(|_| (next() * 4.0) as u32 * 10).collect();
                    let ranks = alignment_ranks(w, l, min, zero);
                    assert_eq!(
                        best_alignment(&diagonals, &ranks, l),
                        best_alignment_plain(&diagonals, w, l, min, zero),
                        "w {w}, l {l}, min {min}, zero {zero}: {diagonals:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn scores_wider_than_16_bits_take_the_plain_path() {
        // 30 columns x 3000 bins: diagonal sums beyond 2^16.
        let db = database(60);
        let o = Options {
            bins: 3000,
            ..Options::default()
        };
        let q = random_motif("wide", 30, 5);
        let mut with_q = db.clone();
        with_q.push(q.clone());
        let r = compare(&[q], &with_q, &o);
        let best = r[0]
            .iter()
            .min_by(|a, b| a.p_value.total_cmp(&b.p_value))
            .unwrap();
        assert_eq!((best.target, best.offset, best.overlap), (60, 0, 30));
        assert!(best.score > u16::MAX as i64, "{}", best.score);
    }

    #[test]
    fn the_null_is_the_plain_sum_over_alignments() {
        let mut next = uniform(21);
        let w = 9;
        let zero = 7;
        // Column distributions with their first integer value, zeros inside.
        let pmfs: Vec<(usize, Vec<f64>)> = (0..w)
            .map(|i| {
                let n = 3 + (i * 5) % 11;
                let v: Vec<f64> = (0..n)
                    .map(|_| if next() < 0.2 { 0.0 } else { next() })
                    .collect();
                let sum: f64 = v.iter().sum();
                (i % 4, v.iter().map(|x| x / sum).collect())
            })
            .collect();
        // Each span's distribution (first value, probabilities) by plain convolution.
        let span = |a: usize, b: usize| -> (i64, Vec<f64>) {
            let (mut first, mut dist) = (pmfs[a].0 as i64, pmfs[a].1.clone());
            for (f, p) in &pmfs[a + 1..=b] {
                let mut out = vec![0.0; dist.len() + p.len() - 1];
                for (x, &px) in dist.iter().enumerate() {
                    for (y, &py) in p.iter().enumerate() {
                        out[x + y] += px * py;
                    }
                }
                first += *f as i64;
                dist = out;
            }
            (first, dist)
        };
        let mut requests = Vec::new();
        for l in [1, 3, 4, 9, 12] {
            for v in [-5, 0, 30, 45, 60, 75, 90, 200] {
                requests.push((l, v));
            }
        }
        let got = null_log_cdfs(w, zero, &pmfs, &requests, &mut NullScratch::default());
        for (&(l, v), got) in requests.iter().zip(got) {
            let mut want = 0.0;
            for (_, a, b) in alignments(w, l, 1) {
                let (first, dist) = span(a, b);
                let shift = (w - (b - a + 1)) as i64 * zero;
                let sf: f64 = dist
                    .iter()
                    .enumerate()
                    .filter(|&(k, _)| first + k as i64 >= v - shift)
                    .map(|(_, p)| p)
                    .sum();
                want += (-sf.min(1.0)).ln_1p();
            }
            if want == f64::NEG_INFINITY || got == f64::NEG_INFINITY {
                // sf of exactly 1 on one side only would mean a different span or shift.
                assert!(got < -30.0 && want < -30.0, "l {l}, v {v}: {got} vs {want}");
            } else {
                assert!(
                    (got - want).abs() <= 1e-9 * want.abs().max(1e-300),
                    "l {l}, v {v}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn the_vector_bracket_is_the_plain_one() {
        let mut next = uniform(13);
        for n in [0, 1, 3, 4, 7, 1000, 1003] {
            let row: Vec<f64> = (0..n)
                .map(|i| match i % 17 {
                    0 => 0.0,
                    1 => -0.0,
                    _ => next() * 4.0 - 2.0,
                })
                .collect();
            for (lo, hi) in [(-0.5, 0.5), (0.0, 0.0), (-3.0, 3.0), (1.0, -1.0)] {
                let (mut a, mut b) = (vec![0u64; n], vec![0u64; n]);
                let (ba, ka) = bracket(&row, lo, hi, &mut a);
                let (bb, kb) = bracket_portable(&row, lo, hi, &mut b);
                assert_eq!((ba, ka), (bb, kb), "{n} values in [{lo}, {hi}]");
                assert_eq!(a[..ka], b[..kb], "{n} values in [{lo}, {hi}]");
                let want: Vec<u64> = row
                    .iter()
                    .filter(|&&x| x >= lo && x <= hi)
                    .map(|&x| key(x))
                    .collect();
                assert_eq!(a[..ka], want[..]);
                assert_eq!(ba, row.iter().filter(|&&x| x < lo).count());
            }
        }
    }

    #[test]
    fn median_is_the_lower_middle_value() {
        let mut next = uniform(9);
        let mut keys = Vec::new();
        let mut rows: Vec<Vec<f64>> = [1, 2, 5, 2047, 2048, 5000, 17741]
            .iter()
            .map(|&n| {
                (0..n)
                    .map(|_| (next() * 50.0).round() / 10.0 - 2.0)
                    .collect()
            })
            .collect();
        // Every sampled value far above the rest: the bracket misses, the histogram answers.
        let mut biased: Vec<f64> = (0..8192).map(|_| next()).collect();
        for k in 0..SAMPLE {
            biased[k * (8192 / SAMPLE)] = 100.0 + k as f64;
        }
        rows.push(biased);
        for row in rows {
            let mut sorted = row.clone();
            sorted.sort_by(f64::total_cmp);
            let (lo, hi) = min_max(&row);
            assert_eq!((lo, hi), (sorted[0], sorted[row.len() - 1]));
            let m = median(&row, lo, hi, &mut keys);
            assert_eq!(m, sorted[(row.len() - 1) / 2], "{} values", row.len());
        }
    }

    #[test]
    fn q_values_are_monotone_and_bounded() {
        let p = [0.001, 0.5, 0.02, 0.9, 0.03, 0.7];
        let q = storey_qvalues(&p);
        let mut pairs: Vec<(f64, f64)> = p.iter().copied().zip(q.iter().copied()).collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(pairs.windows(2).all(|w| w[0].1 <= w[1].1));
        assert!(q.iter().all(|&x| (0.0..=1.0).contains(&x)));
        assert!(q[0] >= p[0]);
        // Many uniform p-values: pi0 near 1.
        let p: Vec<f64> = (1..=1000).map(|i| i as f64 / 1000.0).collect();
        let q = storey_qvalues(&p);
        assert!((q[999] - 1.0).abs() < 0.1, "{}", q[999]);
        // 800 uniform p-values and 200 true effects: the largest p's q-value is pi0, 0.8.
        let p: Vec<f64> = (1..=1000)
            .map(|i| {
                if i <= 200 {
                    1e-6 * i as f64
                } else {
                    (i - 200) as f64 / 800.0
                }
            })
            .collect();
        let q = storey_qvalues(&p);
        assert!((q[999] - 0.8).abs() < 0.05, "{}", q[999]);
    }
}
