//! The kernels that run in vector registers, each with its portable form and, on x86-64, an
//! AVX2 form; [`Simd`] says which, chosen once per comparison.

use super::*;

/// The instruction set the kernels run with, chosen once per comparison by
/// [`Simd::detect`]: the AVX2 kernels can only be reached through a value that proves the CPU
/// has it.
#[derive(Clone, Copy, Debug)]
pub(super) enum Simd {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2(Avx2),
}

/// Proof that the CPU runs AVX2: made only by [`Simd::detect`].
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug)]
pub(super) struct Avx2(());

impl Simd {
    /// The widest instruction set of this CPU that the kernels have a form for.
    pub(super) fn detect() -> Simd {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                return Simd::Avx2(Avx2(()));
            }
        }
        Simd::Portable
    }
}

/// Counts the values of `row` below `lo` and copies the [`key`]s of those in `[lo, hi]`, in
/// order, to the start of `near` (at least as long as `row`): (count below, count copied).
#[inline(always)]
pub(super) fn bracket(
    simd: Simd,
    row: &[f64],
    lo: f64,
    hi: f64,
    near: &mut [u64],
) -> (usize, usize) {
    assert!(near.len() >= row.len());
    match simd {
        // SAFETY: `Avx2` proves the CPU has AVX2; `near` is long enough.
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2(_) => unsafe { bracket_avx2(row, lo, hi, near) },
        Simd::Portable => bracket_portable(row, lo, hi, near),
    }
}

#[inline(always)]
pub(super) fn bracket_portable(row: &[f64], lo: f64, hi: f64, near: &mut [u64]) -> (usize, usize) {
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
pub(super) const COMPRESS: [[i32; 8]; 16] = {
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
pub(super) unsafe fn bracket_avx2(
    row: &[f64],
    lo: f64,
    hi: f64,
    near: &mut [u64],
) -> (usize, usize) {
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

/// Diagonal sums computed together by [`diagonal_sums`].
pub(super) const LANES: usize = 16;

/// The alignment scores of a [`Placed`] target with the query, by diagonal: `out[e]` sums
/// query row i on target column `e - (w - 1) + i`. Each block of [`LANES`] diagonals adds, row by
/// row, that row's values on those diagonals (a shifted read, masked to the target) in
/// registers: 16-bit sums, so every w values below `top` must sum below 2^16.
#[inline(always)]
pub(super) fn diagonal_sums(simd: Simd, target: &Placed, out: &mut [u32]) {
    match simd {
        // SAFETY: `Avx2` proves the CPU has AVX2.
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2(_) => unsafe { diagonal_sums_avx2(target, out) },
        Simd::Portable => diagonal_sums_portable(target, out),
    }
}

#[inline(always)]
pub(super) fn diagonal_sums_portable(target: &Placed, out: &mut [u32]) {
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
pub(super) unsafe fn diagonal_sums_avx2(target: &Placed, out: &mut [u32]) {
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
pub(super) fn diagonal_blocks(
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
