//! Row-major matrix products with explicit strides, on one thread, through the `gemm`
//! crate (the kernels Candle's CPU backend uses), for the hand-written CPU layers.

use candle_core::{bail, CpuStorage, Layout, Result};
use gemm::{gemm, Parallelism};

/// The f32 values of a contiguous tensor's storage.
pub(crate) fn contiguous<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => bail!("{what} is not contiguous"),
    }
}

/// `dst [m, n] (row-major) = dst·read + lhs × rhs`, with explicit strides `(row, col)`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul(
    mnk: (usize, usize, usize),
    dst: &mut [f32],
    accumulate: bool,
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_strides: (usize, usize),
) {
    matmul_with(
        Parallelism::None,
        mnk,
        dst,
        accumulate,
        lhs,
        lhs_strides,
        rhs,
        rhs_strides,
    )
}

/// Rayon's threads for one large product (none when the pool has one thread), for
/// [`matmul_with`].
pub(crate) fn on_rayon() -> Parallelism {
    match rayon::current_num_threads() {
        1 => Parallelism::None,
        n => Parallelism::Rayon(n),
    }
}

/// [`matmul`] with the given parallelism.
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul_with(
    parallelism: Parallelism,
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    accumulate: bool,
    lhs: &[f32],
    (lhs_rs, lhs_cs): (usize, usize),
    rhs: &[f32],
    (rhs_rs, rhs_cs): (usize, usize),
) {
    debug_assert!(dst.len() >= m * n);
    debug_assert!(m == 0 || k == 0 || lhs.len() > (m - 1) * lhs_rs + (k - 1) * lhs_cs);
    debug_assert!(k == 0 || n == 0 || rhs.len() > (k - 1) * rhs_rs + (n - 1) * rhs_cs);
    // SAFETY: the asserts above bound every index the strides can reach, and `dst` is a
    // unique borrow that does not alias `lhs` or `rhs`.
    unsafe {
        gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
}
