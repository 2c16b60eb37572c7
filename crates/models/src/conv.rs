//! The 1-D valid convolution of the CPU: forward and both gradients as matrix products.
//!
//! Candle 0.11.1's CPU `conv1d` back-propagates wrong gradients for batches of more than one
//! sample, and its `conv2d` backward, though right, builds the weight gradient as a
//! convolution whose im2col buffer holds `C_in x K x B x L_out` values and the input
//! gradient with a direct transposed convolution; together they made DeepSEA train at a
//! third of PyTorch's speed. This module does what PyTorch's CPU path does instead:
//!
//! * forward, per sample: `y_b = W [O, C·K] × col(x_b) [C·K, L_out] + bias`,
//! * input gradient, per sample: `dcol = Wᵀ × dy_b`, then col2im adds it back onto `dx_b`,
//! * weight gradient: `dW = Σ_b dy_b × col(x_b)ᵀ`, summed in fixed groups of samples and
//!   then across groups in order, so the bytes do not depend on the number of threads.
//!
//! Each matrix product is single-threaded (`gemm`'s `Parallelism::None`); the samples (or
//! sample groups) run in parallel on rayon's pool.

use candle_core::{
    bail, CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor,
};
use rayon::prelude::*;

use crate::gemm::{contiguous, matmul};

/// Samples per partial weight gradient. Fixed, so that the summation order, and so the
/// result, is the same whatever the thread count.
const GROUP: usize = 8;

fn dims3(l: &Layout, what: &str) -> Result<(usize, usize, usize)> {
    match l.shape().dims() {
        &[a, b, c] => Ok((a, b, c)),
        d => bail!("conv1d: {what} must have 3 dimensions, got {d:?}"),
    }
}

/// `col[(c·K + k)·L_out + t] = x[c·L + t + k]`.
fn im2col(x: &[f32], c: usize, l: usize, k: usize, col: &mut [f32]) {
    let lout = l - k + 1;
    for ci in 0..c {
        let row = &x[ci * l..(ci + 1) * l];
        for kk in 0..k {
            col[(ci * k + kk) * lout..][..lout].copy_from_slice(&row[kk..kk + lout]);
        }
    }
}

/// `conv1d(x [B, C, L], w [O, C, K], bias [O]) -> [B, O, L - K + 1]`.
struct Forward {
    /// Whether the input needs a gradient (not for the network's first layer).
    input_grad: bool,
}

impl CustomOp3 for Forward {
    fn name(&self) -> &'static str {
        "ferrosea-conv1d"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, c, l) = dims3(xl, "input")?;
        let (o, wc, k) = dims3(wl, "weight")?;
        if wc != c || k == 0 || k > l || bl.shape().dims() != [o] {
            bail!(
                "conv1d: input {:?}, weight {:?}, bias {:?} do not fit",
                xl.dims(),
                wl.dims(),
                bl.dims()
            );
        }
        let (x, w, bias) = (
            contiguous(xs, xl, "conv1d input")?,
            contiguous(ws, wl, "conv1d weight")?,
            contiguous(bs, bl, "conv1d bias")?,
        );
        let lout = l - k + 1;
        let ck = c * k;
        let mut y = vec![0f32; b * o * lout];
        y.par_chunks_mut(o * lout)
            .zip(x.par_chunks(c * l))
            .for_each_init(
                || vec![0f32; ck * lout],
                |col, (yb, xb)| {
                    im2col(xb, c, l, k, col);
                    for (row, &bo) in yb.chunks_mut(lout).zip(bias) {
                        row.fill(bo);
                    }
                    matmul((o, lout, ck), yb, true, w, (ck, 1), col, (lout, 1));
                },
            );
        Ok((CpuStorage::F32(y), Shape::from((b, o, lout))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let dx = if self.input_grad {
            Some(grad.apply_op2_no_bwd(w, &InputGrad { l: x.dim(2)? })?)
        } else {
            None
        };
        let dw = x.apply_op2_no_bwd(&grad, &WeightGrad { k: w.dim(2)? })?;
        let db = grad.apply_op1_no_bwd(&BiasGrad)?;
        Ok((dx, Some(dw), Some(db)))
    }
}

/// `dy [B, O, L_out] -> db [O]`, the sum over samples and positions, in fixed sample groups
/// as the weight gradient. (Candle's `sum((0, 2))` reduces across the strided dimension
/// and took as long as the weight gradient's matrix products.)
struct BiasGrad;

impl CustomOp1 for BiasGrad {
    fn name(&self) -> &'static str {
        "ferrosea-conv1d-bias-grad"
    }

    fn cpu_fwd(&self, gs: &CpuStorage, gl: &Layout) -> Result<(CpuStorage, Shape)> {
        let (_, o, lout) = dims3(gl, "gradient")?;
        let g = contiguous(gs, gl, "conv1d gradient")?;
        let partials: Vec<Vec<f32>> = g
            .par_chunks(GROUP * o * lout)
            .map(|gg| {
                let mut db = vec![0f32; o];
                for gb in gg.chunks(o * lout) {
                    for (d, row) in db.iter_mut().zip(gb.chunks(lout.max(1))) {
                        *d += row.iter().sum::<f32>();
                    }
                }
                db
            })
            .collect();
        let mut db = vec![0f32; o];
        for p in &partials {
            for (d, s) in db.iter_mut().zip(p) {
                *d += s;
            }
        }
        Ok((CpuStorage::F32(db), Shape::from(o)))
    }
}

/// `(dy [B, O, L_out], w [O, C, K]) -> dx [B, C, L]`.
struct InputGrad {
    l: usize,
}

impl CustomOp2 for InputGrad {
    fn name(&self) -> &'static str {
        "ferrosea-conv1d-input-grad"
    }

    fn cpu_fwd(
        &self,
        gs: &CpuStorage,
        gl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, o, lout) = dims3(gl, "gradient")?;
        let (_, c, k) = dims3(wl, "weight")?;
        let l = self.l;
        let (g, w) = (
            contiguous(gs, gl, "conv1d gradient")?,
            contiguous(ws, wl, "conv1d weight")?,
        );
        let ck = c * k;
        let mut dx = vec![0f32; b * c * l];
        dx.par_chunks_mut(c * l)
            .zip(g.par_chunks(o * lout))
            .for_each_init(
                || vec![0f32; ck * lout],
                |dcol, (dxb, gb)| {
                    // dcol [C·K, L_out] = Wᵀ × dy_b; Wᵀ[i, j] = w[j·C·K + i].
                    matmul((ck, lout, o), dcol, false, w, (1, ck), gb, (lout, 1));
                    for ci in 0..c {
                        let row = &mut dxb[ci * l..(ci + 1) * l];
                        for kk in 0..k {
                            let src = &dcol[(ci * k + kk) * lout..][..lout];
                            for (d, s) in row[kk..kk + lout].iter_mut().zip(src) {
                                *d += s;
                            }
                        }
                    }
                },
            );
        Ok((CpuStorage::F32(dx), Shape::from((b, c, l))))
    }
}

/// `(x [B, C, L], dy [B, O, L_out]) -> dw [O, C, K]`.
struct WeightGrad {
    k: usize,
}

impl CustomOp2 for WeightGrad {
    fn name(&self) -> &'static str {
        "ferrosea-conv1d-weight-grad"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (_, c, l) = dims3(xl, "input")?;
        let (_, o, lout) = dims3(gl, "gradient")?;
        let k = self.k;
        let (x, g) = (
            contiguous(xs, xl, "conv1d input")?,
            contiguous(gs, gl, "conv1d gradient")?,
        );
        let ck = c * k;
        let partials: Vec<Vec<f32>> = x
            .par_chunks(GROUP * c * l)
            .zip(g.par_chunks(GROUP * o * lout))
            .map(|(xg, gg)| {
                let mut col = vec![0f32; ck * lout];
                let mut dw = vec![0f32; o * ck];
                for (i, (xb, gb)) in xg.chunks(c * l).zip(gg.chunks(o * lout)).enumerate() {
                    im2col(xb, c, l, k, &mut col);
                    // dw [O, C·K] += dy_b [O, L_out] × colᵀ; colᵀ[t, j] = col[j·L_out + t].
                    matmul(
                        (o, ck, lout),
                        &mut dw,
                        i > 0,
                        gb,
                        (lout, 1),
                        &col,
                        (1, lout),
                    );
                }
                dw
            })
            .collect();
        let mut dw = vec![0f32; o * ck];
        for p in &partials {
            for (d, s) in dw.iter_mut().zip(p) {
                *d += s;
            }
        }
        Ok((CpuStorage::F32(dw), Shape::from((o, c, k))))
    }
}

/// `conv1d(x [B, C, L], w [O, C, K]) + bias` with stride 1 and no padding, on the CPU.
/// `x` needs a gradient only when `input_grad` is set.
pub(crate) fn conv1d_cpu(
    x: &Tensor,
    w: &Tensor,
    bias: &Tensor,
    input_grad: bool,
) -> Result<Tensor> {
    x.contiguous()?.apply_op3(w, bias, Forward { input_grad })
}
