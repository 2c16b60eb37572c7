//! The dense layer of the CPU: `y = x × Wᵀ + b` as one op whose backward pass writes the
//! weight gradient in the weight's own layout.
//!
//! Built from Candle ops (`x.matmul(&w.t())`, as `candle_nn::Linear` does), the weight's
//! gradient comes out of the product as `[in, out]` and is transposed back into a zeroed
//! `[out, in]` accumulator, element by element across rows. For the hidden layers of DanQ
//! (48,000 x 925) and DeepSEA (50,880 x 925) that strided pass, with the extra zeroed
//! buffer of the transposed node, cost more than the two matrix products of the backward
//! pass. Here `dW = dyᵀ × x` is one product straight into `[out, in]`.

use candle_core::{bail, CpuStorage, CustomOp1, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use crate::gemm::{contiguous, matmul_with, on_rayon};

struct Dense;

impl CustomOp3 for Dense {
    fn name(&self) -> &'static str {
        "ferrosea-dense"
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
        let (&[n, i], &[o, wi], &[bo]) = (xl.dims(), wl.dims(), bl.dims()) else {
            bail!(
                "dense: expected x [B, in], weight [out, in], bias [out]; got {:?}, {:?}, {:?}",
                xl.dims(),
                wl.dims(),
                bl.dims()
            );
        };
        if wi != i || bo != o {
            bail!(
                "dense: input {:?} does not fit weight {:?} and bias {:?}",
                xl.dims(),
                wl.dims(),
                bl.dims()
            );
        }
        let x = contiguous(xs, xl, "dense input")?;
        let w = contiguous(ws, wl, "dense weight")?;
        let b = contiguous(bs, bl, "dense bias")?;
        let mut y = vec![0f32; n * o];
        // y [B, out] = x × Wᵀ; Wᵀ[j, k] = w[k·in + j]. Then the bias, after the product as
        // in `candle_nn::Linear`.
        matmul_with(on_rayon(), (n, o, i), &mut y, false, x, (i, 1), w, (1, i));
        for row in y.chunks_exact_mut(o.max(1)) {
            for (v, bv) in row.iter_mut().zip(b) {
                *v += bv;
            }
        }
        Ok((CpuStorage::F32(y), Shape::from((n, o))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let dx = if x.track_op() {
            Some(grad.matmul(w)?)
        } else {
            None
        };
        // Constant weights (a frozen store: attributions) need no gradient.
        if !w.track_op() {
            return Ok((dx, None, None));
        }
        let dw = grad.t()?.matmul(x)?;
        let db = grad.apply_op1_no_bwd(&ColumnSums)?;
        Ok((dx, Some(dw), Some(db)))
    }
}

/// Rows per partial sum of [`ColumnSums`]: fixed, so that the bytes do not depend on the
/// thread count.
const ROWS: usize = 64;

/// `dy [N, out] -> [out]`, the bias gradient: rows added into partial sums of [`ROWS`]
/// rows, then the partials in order. (Candle's `sum(0)` reduces down the columns with a
/// stride; for the BiLSTM's input projection, `[4800, 2560]`, it was slower than the
/// projection's matrix products.)
struct ColumnSums;

impl CustomOp1 for ColumnSums {
    fn name(&self) -> &'static str {
        "ferrosea-column-sums"
    }

    fn cpu_fwd(&self, gs: &CpuStorage, gl: &Layout) -> Result<(CpuStorage, Shape)> {
        let &[_, o] = gl.dims() else {
            bail!("column sums: expected [N, out], got {:?}", gl.dims());
        };
        let g = contiguous(gs, gl, "dense gradient")?;
        let partials: Vec<Vec<f32>> = g
            .par_chunks(ROWS * o.max(1))
            .map(|rows| {
                let mut acc = vec![0f32; o];
                for row in rows.chunks_exact(o.max(1)) {
                    for (a, v) in acc.iter_mut().zip(row) {
                        *a += v;
                    }
                }
                acc
            })
            .collect();
        let mut db = vec![0f32; o];
        for p in &partials {
            for (d, v) in db.iter_mut().zip(p) {
                *d += v;
            }
        }
        Ok((CpuStorage::F32(db), Shape::from(o)))
    }
}

/// `x [B, in] × weight [out, in]ᵀ + bias [out]` for f32 tensors on the CPU.
pub(crate) fn dense_cpu(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
    x.contiguous()?
        .apply_op3(&weight.contiguous()?, &bias.contiguous()?, Dense)
}
