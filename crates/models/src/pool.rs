//! ReLU followed by non-overlapping max pooling, as one CPU op with its own backward pass.
//!
//! Built from Candle ops (`relu`, then `narrow` + `reshape` + `max`), the pair costs about
//! a dozen passes over the convolution's output in the backward pass (the maximum's
//! equality mask, its conversion and product, the narrow's zero padding, ReLU's mask, and
//! the zero-filled accumulators of each), and that output is the largest tensor of both
//! networks: DanQ's is `[64, 320, 975]`, 80 MB at batch 64. Here the forward pass is one
//! read of it, and the backward pass one read of it and one write of its gradient.
//!
//! Semantics are PyTorch's `max_pool1d(relu(x))`: the gradient of each window goes to the
//! first position holding its maximum, and only when that maximum is positive; a NaN wins
//! its window and propagates. Positions past the last whole window get no gradient.

use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use crate::gemm::contiguous;

/// Rows (of length L) handed to one rayon task.
const ROWS_PER_TASK: usize = 16;

/// Windows scanned side by side: their running maxima are independent, so the processor
/// overlaps them instead of waiting on one window's chain of comparisons.
const LANES: usize = 8;

/// Whether `v` takes over from the running maximum `m`: larger, or the first NaN.
#[inline(always)]
fn beats(v: f32, m: f32) -> bool {
    v > m || (v.is_nan() && !m.is_nan())
}

/// For each whole window of `k` values in `row`, in order: `emit(window, first position
/// of its maximum inside the window, maximum)`.
#[inline]
fn window_maxima(row: &[f32], k: usize, mut emit: impl FnMut(usize, usize, f32)) {
    let windows = row.len() / k;
    let mut w0 = 0;
    while w0 + LANES <= windows {
        let base = &row[w0 * k..(w0 + LANES) * k];
        let mut m: [f32; LANES] = std::array::from_fn(|i| base[i * k]);
        let mut at = [0usize; LANES];
        for j in 1..k {
            for i in 0..LANES {
                let v = base[i * k + j];
                if beats(v, m[i]) {
                    m[i] = v;
                    at[i] = j;
                }
            }
        }
        for i in 0..LANES {
            emit(w0 + i, at[i], m[i]);
        }
        w0 += LANES;
    }
    for w in w0..windows {
        let win = &row[w * k..(w + 1) * k];
        let (mut at, mut m) = (0, win[0]);
        for (j, &v) in win.iter().enumerate().skip(1) {
            if beats(v, m) {
                m = v;
                at = j;
            }
        }
        emit(w, at, m);
    }
}

/// ReLU, keeping NaN.
#[inline]
fn relu(v: f32) -> f32 {
    if v > 0.0 || v.is_nan() {
        v
    } else {
        0.0
    }
}

fn dims3(l: &Layout) -> Result<(usize, usize, usize)> {
    let d = l.shape().dims();
    match *d {
        [b, c, n] => Ok((b, c, n)),
        _ => bail!("relu + max pool: expected [B, C, L], got {d:?}"),
    }
}

struct Forward {
    k: usize,
}

impl CustomOp1 for Forward {
    fn name(&self) -> &'static str {
        "ferrosea-relu-max-pool1d"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, n) = dims3(l)?;
        let x = contiguous(s, l, "relu + max pool input")?;
        let k = self.k;
        let out = n / k;
        let mut y = vec![0f32; b * c * out];
        if out > 0 {
            y.par_chunks_mut(ROWS_PER_TASK * out)
                .zip(x.par_chunks(ROWS_PER_TASK * n))
                .for_each(|(yr, xr)| {
                    for (yrow, xrow) in yr.chunks_mut(out).zip(xr.chunks(n)) {
                        window_maxima(xrow, k, |w, _, m| yrow[w] = relu(m));
                    }
                });
        }
        Ok((CpuStorage::F32(y), Shape::from((b, c, out))))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let dx = x.apply_op2_no_bwd(&grad.contiguous()?, &Backward { k: self.k })?;
        Ok(Some(dx))
    }
}

/// `(x [B, C, L], dy [B, C, L / k]) -> dx [B, C, L]`.
struct Backward {
    k: usize,
}

impl CustomOp2 for Backward {
    fn name(&self) -> &'static str {
        "ferrosea-relu-max-pool1d-backward"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, c, n) = dims3(xl)?;
        let k = self.k;
        let out = n / k;
        if dims3(gl)? != (b, c, out) {
            bail!(
                "relu + max pool backward: gradient {:?} for input {:?}",
                gl.dims(),
                xl.dims()
            );
        }
        let x = contiguous(xs, xl, "relu + max pool input")?;
        let g = contiguous(gs, gl, "relu + max pool gradient")?;
        let mut dx = vec![0f32; b * c * n];
        if out > 0 {
            dx.par_chunks_mut(ROWS_PER_TASK * n)
                .zip(x.par_chunks(ROWS_PER_TASK * n))
                .zip(g.par_chunks(ROWS_PER_TASK * out))
                .for_each(|((dr, xr), gr)| {
                    for ((drow, xrow), grow) in
                        dr.chunks_mut(n).zip(xr.chunks(n)).zip(gr.chunks(out))
                    {
                        window_maxima(xrow, k, |w, at, m| {
                            if m > 0.0 {
                                drow[w * k + at] = grow[w];
                            }
                        });
                    }
                });
        }
        Ok((CpuStorage::F32(dx), Shape::from((b, c, n))))
    }
}

/// `max_pool1d(relu(x), k)` for `x [B, C, L]` f32 on the CPU.
pub(crate) fn relu_max_pool1d_cpu(x: &Tensor, k: usize) -> Result<Tensor> {
    if k == 0 {
        bail!("max pooling needs a window of at least 1");
    }
    x.contiguous()?.apply_op1(Forward { k })
}
