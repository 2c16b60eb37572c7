//! The median of a row of column scores (each query row is shifted by it), found without
//! sorting the row: a bracket from an evenly spaced sample, then a selection inside it.

use super::*;

/// An unsigned key that sorts like the float.
pub(super) fn key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | 1 << 63
    }
}

pub(super) fn unkey(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// The smallest and largest value of a row (which holds no NaN), in eight lanes so that the
/// loop vectorises.
#[inline(always)]
pub(super) fn min_max(row: &[f64]) -> (f64, f64) {
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
pub(super) const SAMPLE: usize = 1024;
/// Sample ranks on either side of the median's: about 4 standard deviations of the rank of
/// the row's median within the sample, so that the bracket misses it about once in 10^4.
pub(super) const MARGIN: usize = 64;
/// Bins of the median's histogram (when the bracket misses, or the row is short).
pub(super) const MEDIAN_BINS: usize = 1024;

/// The median of a row whose extremes are `lo` and `hi`; for an even count the lower of the
/// two middle values (memelite's rule; with the average of the two, log10 p-values moved by
/// up to 0.8 against memelite's). Exact. Two values from an evenly spaced sample of the row
/// bracket its median; one branch-free pass counts the values below the bracket and
/// gathers those inside it (a few per cent of the row), and a selection among those finds
/// the median. When the bracket misses it (rarely; the result is the same), a histogram
/// over [lo, hi] finds the bin holding the middle rank, and a selection among that bin's
/// values finds it.
#[inline(always)]
pub(super) fn median(simd: Simd, row: &[f64], lo: f64, hi: f64, keys: &mut Vec<u64>) -> f64 {
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
        let (below, k) = bracket(simd, row, unkey(p_lo), unkey(p_hi), keys);
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
