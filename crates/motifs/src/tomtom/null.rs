//! The null distribution: the survival functions of every span of query columns, by
//! convolution, and the p-values of the scores asked for.

use super::*;

/// Outputs of [`convolve`] computed together (in registers).
pub(super) const BLOCK: usize = 32;

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
pub(super) fn convolve(a: &[f64], left: f64, b: &[f64], padded: &mut Vec<f64>, out: &mut Vec<f64>) {
    pad(a, left, b.len(), padded);
    convolve_padded(padded, a.len(), b, out);
}

/// `a` as [`convolve_padded`] reads it: `padded[lb - 1 + x] = a[x]`, `left` before, zeros
/// after.
#[inline(always)]
pub(super) fn pad(a: &[f64], left: f64, lb: usize, padded: &mut Vec<f64>) {
    let blocks = (a.len() + lb - 1).div_ceil(BLOCK);
    padded.clear();
    padded.resize(lb - 1, left);
    padded.extend_from_slice(a);
    padded.resize(blocks * BLOCK + 2 * lb, 0.0);
}

/// [`convolve`] of an `a` of `la` values padded by [`pad`]: output z reads
/// `padded[z + lb - 1 - k]`.
#[inline(always)]
pub(super) fn convolve_padded(padded: &[f64], la: usize, b: &[f64], out: &mut Vec<f64>) {
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

/// Buffers of [`null_log_cdfs`].
#[derive(Default)]
pub(super) struct NullScratch {
    /// The survival function of the current span and the next one.
    pub(super) chain: [Vec<f64>; 2],
    pub(super) padded: Vec<f64>,
    /// (span `a * w + b`, first request, end of requests): one entry per alignment that
    /// covers query columns `a..=b`, for the requests of the target width it belongs to.
    pub(super) users: Vec<(usize, usize, usize)>,
    pub(super) product: Vec<f64>,
    pub(super) small: Vec<f64>,
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
pub(super) fn null_log_cdfs(
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
