//! ReLU followed by non-overlapping max pooling, as one CPU op with its own backward pass.
//!
//! Built from Candle ops (`relu`, then `narrow` + `reshape` + `max`), the pair costs about
//! a dozen passes over the convolution's output in the backward pass (the maximum's
//! equality mask, its conversion and product, the narrow's zero padding, ReLU's mask, and
//! the zero-filled accumulators of each), and that output is the largest tensor of both
//! networks: DanQ's is `[64, 320, 975]`, 80 MB at batch 64. Here the forward pass is one
//! read of it, and the backward pass one read of it and one write of its gradient: the
//! pooled output says where each window's maximum is (the first position equal to it).
//! Both scans are branch-free.
//!
//! Semantics are PyTorch's `max_pool1d(relu(x))`: the gradient of each window goes to the
//! first position holding its maximum, and only when that maximum is positive; a NaN wins
//! its window and propagates. Positions past the last whole window get no gradient.

use candle_core::{bail, CpuStorage, CustomOp1, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use crate::gemm::contiguous;

/// Rows (of length L) handed to one rayon task.
const ROWS_PER_TASK: usize = 16;

/// `max(0, max(window))` for each whole window of `k` values of `x`, NaN if the window holds
/// one. Branch-free: on real activations the comparisons are unpredictable, and a branch
/// per comparison cost more than the arithmetic.
#[inline]
fn row_forward(x: &[f32], k: usize, y: &mut [f32]) {
    for (out, w) in y.iter_mut().zip(x.chunks_exact(k)) {
        let mut m = w[0];
        let mut nan = w[0].is_nan();
        for &v in &w[1..] {
            m = if v > m { v } else { m };
            nan |= v.is_nan();
        }
        let r = if m > 0.0 { m } else { 0.0 };
        *out = if nan { f32::NAN } else { r };
    }
}

/// [`row_forward`] that also records, per window, the first position of its maximum, or
/// `u16::MAX` when the output is not positive (0 or NaN: no gradient). `k` < 65,535.
#[inline]
pub(crate) fn row_forward_argmax(x: &[f32], k: usize, y: &mut [f32], at: &mut [u16]) {
    for ((out, a), w) in y.iter_mut().zip(at).zip(x.chunks_exact(k)) {
        let (mut m, mut pos) = (w[0], 0);
        let mut nan = w[0].is_nan();
        for (j, &v) in w.iter().enumerate().skip(1) {
            let take = v > m;
            m = if take { v } else { m };
            pos = if take { j } else { pos };
            nan |= v.is_nan();
        }
        let r = if m > 0.0 { m } else { 0.0 };
        *out = if nan { f32::NAN } else { r };
        *a = if !nan && m > 0.0 {
            pos as u16
        } else {
            u16::MAX
        };
    }
}

/// The gradient of [`row_forward`]: for each window whose output `y` is positive, `dy` goes
/// to the first position holding `y` (the window's maximum). `dx` holds zeros on entry.
#[inline]
fn row_backward(x: &[f32], k: usize, y: &[f32], dy: &[f32], dx: &mut [f32]) {
    for (((w, d), &yv), &g) in x.chunks_exact(k).zip(dx.chunks_exact_mut(k)).zip(y).zip(dy) {
        let mut at = 0;
        for j in (0..k).rev() {
            at = if w[j] == yv { j } else { at };
        }
        // A NaN or non-positive output gets no gradient; writing 0 keeps this branch-free.
        d[at] = if yv > 0.0 { g } else { 0.0 };
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
                        row_forward(xrow, k, yrow);
                    }
                });
        }
        Ok((CpuStorage::F32(y), Shape::from((b, c, out))))
    }

    fn bwd(&self, x: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let op = Backward { k: self.k };
        let dx = x.apply_op3_no_bwd(&res.contiguous()?, &grad.contiguous()?, &op)?;
        Ok(Some(dx))
    }
}

/// `(x [B, C, L], y [B, C, L / k], dy [B, C, L / k]) -> dx [B, C, L]`.
struct Backward {
    k: usize,
}

impl CustomOp3 for Backward {
    fn name(&self) -> &'static str {
        "ferrosea-relu-max-pool1d-backward"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ys: &CpuStorage,
        yl: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, c, n) = dims3(xl)?;
        let k = self.k;
        let out = n / k;
        if dims3(gl)? != (b, c, out) || dims3(yl)? != (b, c, out) {
            bail!(
                "relu + max pool backward: output {:?} and gradient {:?} for input {:?}",
                yl.dims(),
                gl.dims(),
                xl.dims()
            );
        }
        let x = contiguous(xs, xl, "relu + max pool input")?;
        let y = contiguous(ys, yl, "relu + max pool output")?;
        let g = contiguous(gs, gl, "relu + max pool gradient")?;
        let mut dx = vec![0f32; b * c * n];
        if out > 0 {
            dx.par_chunks_mut(ROWS_PER_TASK * n)
                .zip(x.par_chunks(ROWS_PER_TASK * n))
                .zip(
                    y.par_chunks(ROWS_PER_TASK * out)
                        .zip(g.par_chunks(ROWS_PER_TASK * out)),
                )
                .for_each(|((dr, xr), (yr, gr))| {
                    let rows = dr.chunks_mut(n).zip(xr.chunks(n));
                    for ((drow, xrow), (yrow, grow)) in rows.zip(yr.chunks(out).zip(gr.chunks(out)))
                    {
                        row_backward(xrow, k, yrow, grow, drow);
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
