//! The dense layer of the CPU: `y = x × Wᵀ + b` as one op whose backward pass writes the
//! weight gradient in the weight's own layout.
//!
//! Built from Candle ops (`x.matmul(&w.t())`, as `candle_nn::Linear` does), the weight's
//! gradient comes out of the product as `[in, out]` and is transposed back into a zeroed
//! `[out, in]` accumulator, element by element across rows. For the hidden layers of DanQ
//! (48,000 x 925) and DeepSEA (50,880 x 925) that strided pass, with the extra zeroed
//! buffer of the transposed node, cost more than the two matrix products of the backward
//! pass. Here `dW = dyᵀ × x` is one product straight into `[out, in]`.

use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};

use crate::gemm::{contiguous, matmul_parallel};

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
        matmul_parallel((n, o, i), &mut y, false, x, (i, 1), w, (1, i));
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
        let dw = grad.t()?.matmul(x)?;
        let db = grad.sum(0)?;
        Ok((dx, Some(dw), Some(db)))
    }
}

/// `x [B, in] × weight [out, in]ᵀ + bias [out]` for f32 tensors on the CPU.
pub(crate) fn dense_cpu(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
    x.contiguous()?
        .apply_op3(&weight.contiguous()?, &bias.contiguous()?, Dense)
}
