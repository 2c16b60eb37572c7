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

/// The first position of the window's maximum, and the maximum; a NaN wins.
#[inline]
fn window_max(w: &[f32]) -> (usize, f32) {
    let mut at = 0;
    let mut m = w[0];
    for (i, &v) in w.iter().enumerate().skip(1) {
        if v > m || (v.is_nan() && !m.is_nan()) {
            at = i;
            m = v;
        }
    }
    (at, m)
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
                        for (v, w) in yrow.iter_mut().zip(xrow.chunks_exact(k)) {
                            *v = relu(window_max(w).1);
                        }
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
                        for ((d, w), &gv) in drow.chunks_mut(k).zip(xrow.chunks_exact(k)).zip(grow)
                        {
                            let (at, m) = window_max(w);
                            if m > 0.0 {
                                d[at] = gv;
                            }
                        }
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
