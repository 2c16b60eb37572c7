//! Batch normalisation and ReLU + max pooling of `[B, C, L]` on the CPU, each one op with a
//! hand-written backward pass.
//!
//! Built from Candle's ops, Basset's first batch norm (`[64, 300, 982]`, 75 MB) took about
//! fifteen passes over the tensor forward and backward, each allocating its result, and its
//! ReLU and max pool another six: Basset trained at a third of PyTorch's speed. Here the batch
//! norm is one pass for the statistics and one for the output forward, two backward; ReLU +
//! max pool is one pass each way, keeping each window's argmax (2 bytes per output) as the
//! convolution's pooled epilogue does (`conv.rs`).
//!
//! Per-channel sums run in a fixed order (sample by sample, then position by position) in
//! f64, whatever the thread count, so the bytes do not depend on it.

use std::sync::{Arc, Mutex};

use candle_core::{bail, CpuStorage, CustomOp1, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use crate::conv::{pool_row, NO_GRADIENT};
use crate::gemm::contiguous;

/// What a training-mode forward pass measured, for the backward pass and the running
/// estimates.
#[derive(Clone, Debug)]
pub(crate) struct BatchStats {
    /// Per-channel mean.
    pub mean: Vec<f32>,
    /// Per-channel biased variance.
    pub var: Vec<f32>,
}

struct BatchNorm {
    eps: f64,
    /// Evaluation: the running estimates to use; training: `None` (the batch's).
    given: Option<BatchStats>,
    /// The statistics used by the forward pass (shared with the caller).
    used: Arc<Mutex<Option<BatchStats>>>,
}

fn dims3(l: &Layout, what: &str) -> Result<(usize, usize, usize)> {
    match l.shape().dims() {
        &[a, b, c] => Ok((a, b, c)),
        d => bail!("batch norm: {what} must have 3 dimensions, got {d:?}"),
    }
}

/// Per-channel `(Σ f(x), count)` over `[B, C, L]` in a fixed order.
fn channel_sums(
    x: &[f32],
    (b, c, l): (usize, usize, usize),
    f: impl Fn(usize, f32) -> f64 + Sync,
) -> Vec<f64> {
    (0..c)
        .into_par_iter()
        .map(|ci| {
            let mut s = 0f64;
            for bi in 0..b {
                let row = &x[(bi * c + ci) * l..][..l];
                let mut part = 0f64;
                for &v in row {
                    part += f(ci, v);
                }
                s += part;
            }
            s
        })
        .collect()
}

impl CustomOp3 for BatchNorm {
    fn name(&self) -> &'static str {
        "ferrosea-batch-norm"
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
        if wl.dims() != [c] || bl.dims() != [c] {
            bail!(
                "batch norm: input {:?}, weight {:?}, bias {:?} do not fit",
                xl.dims(),
                wl.dims(),
                bl.dims()
            );
        }
        let x = contiguous(xs, xl, "batch norm input")?;
        let (w, bias) = (
            contiguous(ws, wl, "batch norm weight")?,
            contiguous(bs, bl, "batch norm bias")?,
        );
        let stats = match &self.given {
            Some(s) => s.clone(),
            None => {
                let n = (b * l) as f64;
                let mean: Vec<f64> = channel_sums(x, (b, c, l), |_, v| v as f64)
                    .into_iter()
                    .map(|s| s / n)
                    .collect();
                let var = channel_sums(x, (b, c, l), |ci, v| {
                    let d = v as f64 - mean[ci];
                    d * d
                });
                BatchStats {
                    mean: mean.iter().map(|&m| m as f32).collect(),
                    var: var.iter().map(|&s| (s / n) as f32).collect(),
                }
            }
        };
        let (scale, shift): (Vec<f32>, Vec<f32>) = (0..c)
            .map(|ci| {
                let inv = 1.0 / (stats.var[ci] as f64 + self.eps).sqrt();
                let s = (w[ci] as f64 * inv) as f32;
                (s, bias[ci] - stats.mean[ci] * s)
            })
            .unzip();
        let mut y = vec![0f32; b * c * l];
        y.par_chunks_mut(l.max(1))
            .zip(x.par_chunks(l.max(1)))
            .enumerate()
            .for_each(|(row, (yr, xr))| {
                let ci = row % c;
                for (o, &v) in yr.iter_mut().zip(xr) {
                    *o = v * scale[ci] + shift[ci];
                }
            });
        *self.used.lock().expect("batch norm cache") = Some(stats);
        Ok((CpuStorage::F32(y), Shape::from((b, c, l))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let saved = self.used.lock().expect("batch norm cache");
        let Some(stats) = saved.as_ref() else {
            bail!("batch norm: backward without a forward pass");
        };
        let (b, c, l) = x.dims3()?;
        let xv = x.flatten_all()?.to_vec1::<f32>()?;
        let dy = grad.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let wv = w.to_vec1::<f32>()?;
        let inv: Vec<f64> = stats
            .var
            .iter()
            .map(|&v| 1.0 / (v as f64 + self.eps).sqrt())
            .collect();
        let xhat = |ci: usize, v: f32| (v as f64 - stats.mean[ci] as f64) * inv[ci];
        // Σ dy and Σ dy·x̂ per channel, in a fixed order.
        let sums: Vec<(f64, f64)> = (0..c)
            .into_par_iter()
            .map(|ci| {
                let (mut s, mut sx) = (0f64, 0f64);
                for bi in 0..b {
                    let at = (bi * c + ci) * l;
                    let (mut p, mut px) = (0f64, 0f64);
                    for (&g, &v) in dy[at..at + l].iter().zip(&xv[at..at + l]) {
                        p += g as f64;
                        px += g as f64 * xhat(ci, v);
                    }
                    s += p;
                    sx += px;
                }
                (s, sx)
            })
            .collect();
        let n = (b * l) as f64;
        let training = self.given.is_none();
        let mut dx = vec![0f32; b * c * l];
        dx.par_chunks_mut(l.max(1))
            .enumerate()
            .for_each(|(row, out)| {
                let ci = row % c;
                let at = row * l;
                let k = wv[ci] as f64 * inv[ci];
                let (s, sx) = sums[ci];
                for (j, o) in out.iter_mut().enumerate() {
                    let g = dy[at + j] as f64;
                    *o = if training {
                        // The batch's statistics depend on x too.
                        (k * (g - s / n - xhat(ci, xv[at + j]) * sx / n)) as f32
                    } else {
                        (k * g) as f32
                    };
                }
            });
        let dev = x.device();
        let dw: Vec<f32> = sums.iter().map(|&(_, sx)| sx as f32).collect();
        let db: Vec<f32> = sums.iter().map(|&(s, _)| s as f32).collect();
        Ok((
            Some(Tensor::from_vec(dx, (b, c, l), dev)?),
            Some(Tensor::from_vec(dw, c, dev)?),
            Some(Tensor::from_vec(db, c, dev)?),
        ))
    }
}

/// Batch norm of `x [B, C, L]` with scale `w [C]` and shift `bias [C]`: with `given` the
/// running estimates (evaluation), else the batch's statistics, which are returned.
pub(crate) fn batch_norm_cpu(
    x: &Tensor,
    w: &Tensor,
    bias: &Tensor,
    eps: f64,
    given: Option<BatchStats>,
) -> Result<(Tensor, BatchStats)> {
    let used = Arc::new(Mutex::new(None));
    let op = BatchNorm {
        eps,
        given,
        used: used.clone(),
    };
    let y = x
        .contiguous()?
        .apply_op3(&w.contiguous()?, &bias.contiguous()?, op)?;
    let stats = used
        .lock()
        .expect("batch norm cache")
        .clone()
        .expect("the forward pass ran");
    Ok((y, stats))
}

/// `max_pool1d(relu(x), k)` of `[B, C, L]`.
struct ReluMaxPool {
    k: usize,
    argmax: Mutex<Option<Vec<u16>>>,
}

impl CustomOp1 for ReluMaxPool {
    fn name(&self) -> &'static str {
        "ferrosea-relu-max-pool"
    }

    fn cpu_fwd(&self, xs: &CpuStorage, xl: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, l) = dims3(xl, "input")?;
        let x = contiguous(xs, xl, "relu + max pool input")?;
        let out = l / self.k;
        let mut y = vec![0f32; b * c * out];
        let mut at = vec![NO_GRADIENT; b * c * out];
        if out > 0 {
            y.par_chunks_mut(out)
                .zip(at.par_chunks_mut(out))
                .zip(x.par_chunks(l))
                .for_each(|((yr, ar), xr)| pool_row(&xr[..out * self.k], self.k, yr, ar));
        }
        *self.argmax.lock().expect("pool cache") = Some(at);
        Ok((CpuStorage::F32(y), Shape::from((b, c, out))))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let saved = self.argmax.lock().expect("pool cache");
        let Some(argmax) = saved.as_ref() else {
            bail!("relu + max pool: backward without a forward pass");
        };
        let (b, c, l) = x.dims3()?;
        let out = l / self.k;
        let g = grad.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let mut dx = vec![0f32; b * c * l];
        if out > 0 {
            dx.par_chunks_mut(l)
                .zip(g.par_chunks(out).zip(argmax.par_chunks(out)))
                .for_each(|(row, (gr, ar))| {
                    for (wi, (&gv, &a)) in gr.iter().zip(ar).enumerate() {
                        if a != NO_GRADIENT {
                            row[wi * self.k + a as usize] = gv;
                        }
                    }
                });
        }
        Ok(Some(Tensor::from_vec(dx, (b, c, l), x.device())?))
    }
}

/// `max_pool1d(relu(x), k)` of `x [B, C, L]` on the CPU as one op; the gradient goes to the
/// first maximum of each window (as PyTorch), none where the output is 0.
pub(crate) fn relu_max_pool_cpu(x: &Tensor, k: usize) -> Result<Tensor> {
    if k == 0 || k >= NO_GRADIENT as usize {
        bail!(
            "max pooling needs a window between 1 and {}",
            NO_GRADIENT - 1
        );
    }
    x.contiguous()?.apply_op1(ReluMaxPool {
        k,
        argmax: Mutex::new(None),
    })
}
