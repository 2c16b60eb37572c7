//! One query against the pooled targets: scores, the median shift, integer scores, every
//! alignment's score by diagonal sums, each target's best, and their p-values.

use super::*;

/// The buffers of one query's computation, kept from one query to the next: for a query of
/// width 26 against JASPAR they hold about 6 MB, and allocating and zeroing them for every
/// query cost more than some of the steps that use them.
#[derive(Default)]
pub(super) struct Scratch {
    /// Column scores, query row by query row.
    pub(super) scores: Vec<f64>,
    /// The [`key`]s of the median's candidates.
    pub(super) keys: Vec<u64>,
    /// Integer scores, query row by query row, each row with [`margin`] values on either
    /// side (never used: reads there are masked off).
    pub(super) integers: Vec<u16>,
    /// For each target width, the masks of [`diagonal_sums`] and the [`alignment_ranks`].
    pub(super) masks: Vec<Vec<u16>>,
    pub(super) ranks: Vec<Vec<i64>>,
    /// Histograms of a row (four interleaved, so that consecutive equal scores do not wait
    /// on each other's increment).
    pub(super) counts: Vec<u32>,
    /// The (target width, score) pairs whose null probability is needed, and the buffers of
    /// [`null_log_cdfs`].
    pub(super) requests: Vec<(usize, i64)>,
    pub(super) null: NullScratch,
    /// Alignment scores of one target strand by diagonal (offset).
    pub(super) diagonals: Vec<u32>,
}

/// The alignments of a query of width `w` with a target of width `l` that overlap at least
/// `min` columns: (offset of the target's first column on the query, first and last query
/// columns covered), offsets in increasing order.
pub(super) fn alignments(
    w: usize,
    l: usize,
    min: usize,
) -> impl Iterator<Item = (isize, usize, usize)> {
    (-(l as isize - 1)..w as isize).filter_map(move |off| {
        let a = off.max(0) as usize;
        let b = ((off + l as isize - 1) as usize).min(w - 1);
        (b - a + 1 >= min).then_some((off, a, b))
    })
}

/// One query against the pool, with the kernels of `simd`. With AVX2 the whole query runs
/// in a copy compiled for it (the loops over columns, histograms and convolutions vectorise
/// twice as wide); it multiplies and adds as the baseline does, with no fused multiply-add,
/// and square roots are exact, so the results are the same bits everywhere.
pub(super) fn one_query(
    simd: Simd,
    q: &Motif,
    pool: &Pool,
    o: &Options,
    scratch: &mut Scratch,
) -> Vec<Match> {
    match simd {
        // SAFETY: `Avx2` proves the CPU has AVX2.
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2(_) => unsafe { one_query_avx2(simd, q, pool, o, scratch) },
        Simd::Portable => one_query_with(simd, q, pool, o, scratch),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn one_query_avx2(
    simd: Simd,
    q: &Motif,
    pool: &Pool,
    o: &Options,
    scratch: &mut Scratch,
) -> Vec<Match> {
    one_query_with(simd, q, pool, o, scratch)
}

/// Values kept on either side of each row of integer scores, so that [`diagonal_sums`] reads
/// whole blocks of [`LANES`] around any target.
pub(super) fn margin(w: usize) -> usize {
    w + LANES
}

/// For a query of width `w` and a target of width `l`: `mask[e + i]` is all ones where query
/// row i meets the target on diagonal e (`0 <= e - (w - 1) + i < l`), zero elsewhere.
pub(super) fn diagonal_mask(w: usize, l: usize) -> Vec<u16> {
    let mut mask = vec![0u16; (l + w - 1).next_multiple_of(LANES) + w];
    mask[w - 1..w - 1 + l].fill(u16::MAX);
    mask
}

/// One target strand among the integer scores, for [`diagonal_sums`]: its width `l`, its first
/// column at `at` in each of the query's `w` rows of `rows` (rows `stride` apart), and the
/// masks of [`diagonal_mask`] for (w, l).
pub(super) struct Placed<'a> {
    pub(super) rows: &'a [u16],
    pub(super) stride: usize,
    pub(super) at: usize,
    pub(super) w: usize,
    pub(super) l: usize,
    pub(super) mask: &'a [u16],
}

/// The entry of a per-width cache (emptied for each query) for target width `l`, made by
/// `make` the first time it is asked for.
pub(super) fn per_width<T>(
    cache: &mut Vec<Vec<T>>,
    l: usize,
    make: impl FnOnce() -> Vec<T>,
) -> &[T] {
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
pub(super) fn best_alignment_plain(
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
pub(super) fn alignment_ranks(w: usize, l: usize, min: usize, zero: i64) -> Vec<i64> {
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
pub(super) fn best_alignment(diagonals: &[u32], ranks: &[i64], l: usize) -> (i64, usize, isize) {
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
pub(super) const TWO_52: f64 = 4_503_599_627_370_496.0;

/// The most integer score bins per column: scores are stored as `u16`.
pub(super) const MAX_BINS: usize = u16::MAX as usize - 2;

#[inline(always)]
fn one_query_with(simd: Simd, q: &Motif, pool: &Pool, o: &Options, sc: &mut Scratch) -> Vec<Match> {
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
        let m = median(simd, row, rmin, rmax, &mut sc.keys);
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
                diagonal_sums(simd, &target, diagonals);
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
