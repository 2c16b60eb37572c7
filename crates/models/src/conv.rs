//! The 1-D valid convolution of the CPU: forward and both gradients as matrix products.
//!
//! Candle 0.11.1's CPU `conv1d` back-propagates wrong gradients for batches of more than one
//! sample, and its `conv2d` backward, though right, builds the weight gradient as a
//! convolution whose im2col buffer holds `C_in x K x B x L_out` values and the input
//! gradient with a direct transposed convolution; together they made DeepSEA train at a
//! third of PyTorch's speed. This module does what PyTorch's CPU path does instead:
//!
//! * forward: `y_b = W [O, C·K] × col(x_b) [C·K, L_out] + bias`,
//! * input gradient: `dcol = Wᵀ × dy_b`, then col2im adds it back onto `dx_b`,
//! * weight gradient: `dW = Σ_b dy_b × col(x_b)ᵀ`, and the bias gradient as row sums,
//!   summed in fixed groups of samples and then across groups in order, so the bytes do not
//!   depend on the number of threads.
//!
//! Where a sample's output is short, several samples share one product (their columns side
//! by side, [`Sizes::per_product`]): DeepSEA's third convolution has 53 positions per
//! sample, and 8 samples per product made its forward, input gradient and weight gradient
//! 20-30% faster.
//!
//! Both networks follow each convolution with ReLU and max pooling; [`PooledForward`] does
//! the three as one op, so that the convolution output (DanQ's is `[64, 320, 975]`, 80 MB
//! at batch 64) lives only in a per-sample scratch buffer: the op keeps each window's
//! argmax (2 bytes per pooled value), and its backward pass rebuilds each sample's output
//! gradient from them. Its results are bit for bit those of the convolution op followed by
//! Candle's ReLU and max pooling where no two positions of a window tie (tested; on a tie
//! the gradient goes to the first, as in PyTorch, where Candle's max gives it to each);
//! it saves memory (peak of a DanQ training step 1.65 -> 1.40
//! GB, DeepSEA 1.88 -> 1.71 GB), not measurable time.
//!
//! Each matrix product is single-threaded (`gemm`'s `Parallelism::None`); the samples (or
//! sample groups) run in parallel on rayon's pool.

use std::sync::Mutex;

use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
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

/// The columns of sample `s` of a group: `col[(c·K + k)·W + s·L_out + t] = x[c·L + t + k]`,
/// with `W = g·L_out` the width of the group's column matrix.
fn im2col(x: &[f32], z: Sizes, g: usize, s: usize, col: &mut [f32]) {
    let (lout, wide) = (z.lout(), g * z.lout());
    for ci in 0..z.c {
        let row = &x[ci * z.l..(ci + 1) * z.l];
        for kk in 0..z.k {
            col[(ci * z.k + kk) * wide + s * lout..][..lout].copy_from_slice(&row[kk..kk + lout]);
        }
    }
}

/// The sizes of one convolution: input channels and length, filters, width.
#[derive(Clone, Copy)]
struct Sizes {
    c: usize,
    l: usize,
    o: usize,
    k: usize,
}

impl Sizes {
    fn lout(&self) -> usize {
        self.l - self.k + 1
    }

    fn ck(&self) -> usize {
        self.c * self.k
    }

    /// Samples per matrix product: enough that the products are about 512 columns wide
    /// (DeepSEA's third convolution has 53 output positions per sample, a narrow product
    /// that `gemm` runs at 70-80% of its speed on wide ones), a power of two up to
    /// [`GROUP`] so that products never straddle the weight gradient's sample groups. It
    /// depends on the sizes only, never on the thread count.
    fn per_product(&self) -> usize {
        let mut g = 1;
        while g < GROUP && 2 * g * self.lout() <= 512 {
            g *= 2;
        }
        g
    }
}

/// A group of `g` samples forward: `out [O, g·L_out] = W × col(x) + bias`, sample `s` in
/// columns `s·L_out..`, with `col` scratch.
fn forward_group(
    z: Sizes,
    xg: &[f32],
    g: usize,
    (w, bias): (&[f32], &[f32]),
    col: &mut [f32],
    out: &mut [f32],
) {
    let wide = g * z.lout();
    for (s, xb) in xg.chunks(z.c * z.l).take(g).enumerate() {
        im2col(xb, z, g, s, col);
    }
    for (row, &bo) in out.chunks_mut(wide).zip(bias) {
        row.fill(bo);
    }
    matmul(
        (z.o, wide, z.ck()),
        out,
        true,
        w,
        (z.ck(), 1),
        col,
        (wide, 1),
    );
}

/// A group's input gradient: `dx [g, C, L] = col2im(Wᵀ × dy)` for `dy [O, g·L_out]`, with
/// `dcol` scratch; `dx` holds zeros on entry.
fn input_grad_group(z: Sizes, dy: &[f32], g: usize, w: &[f32], dcol: &mut [f32], dx: &mut [f32]) {
    let (lout, ck, wide) = (z.lout(), z.ck(), g * z.lout());
    // dcol [C·K, g·L_out] = Wᵀ × dy; Wᵀ[i, j] = w[j·C·K + i].
    matmul((ck, wide, z.o), dcol, false, w, (1, ck), dy, (wide, 1));
    for (s, dxb) in dx.chunks_mut(z.c * z.l).take(g).enumerate() {
        for ci in 0..z.c {
            let row = &mut dxb[ci * z.l..(ci + 1) * z.l];
            for kk in 0..z.k {
                let src = &dcol[(ci * z.k + kk) * wide + s * lout..][..lout];
                for (d, v) in row[kk..kk + lout].iter_mut().zip(src) {
                    *d += v;
                }
            }
        }
    }
}

/// A group's weight and bias gradients, added to `dw [O, C·K]` and `db [O]` (written
/// instead when `first`), for `dy [O, g·L_out]`, with `col` scratch.
#[allow(clippy::too_many_arguments)]
fn param_grads_group(
    z: Sizes,
    xg: &[f32],
    dy: &[f32],
    g: usize,
    col: &mut [f32],
    dw: &mut [f32],
    db: &mut [f32],
    first: bool,
) {
    let wide = g * z.lout();
    for (s, xb) in xg.chunks(z.c * z.l).take(g).enumerate() {
        im2col(xb, z, g, s, col);
    }
    // dw [O, C·K] += dy [O, g·L_out] × colᵀ; colᵀ[t, j] = col[j·g·L_out + t].
    matmul(
        (z.o, z.ck(), wide),
        dw,
        !first,
        dy,
        (wide, 1),
        col,
        (1, wide),
    );
    for (d, row) in db.iter_mut().zip(dy.chunks(wide.max(1))) {
        let s = row.iter().sum::<f32>();
        *d = if first { s } else { *d + s };
    }
}

/// Partial sums (one per group of samples) added in order into the first.
fn add_in_order(partials: Vec<Vec<f32>>, len: usize) -> Vec<f32> {
    let mut out = vec![0f32; len];
    for p in &partials {
        for (d, s) in out.iter_mut().zip(p) {
            *d += s;
        }
    }
    out
}

/// The forward products, group of samples by group ([`Sizes::per_product`]) in parallel:
/// `emit(out, s, oi, row)` receives the output row of filter `oi` for sample `s` of the
/// group, with `out` the group's share of the op's outputs (one per group, in order).
fn forward_rows<T: Send>(
    z: Sizes,
    x: &[f32],
    (w, bias): (&[f32], &[f32]),
    outs: Vec<T>,
    emit: impl Fn(&mut T, usize, usize, &[f32]) + Sync,
) {
    let (per, lout) = (z.per_product(), z.lout());
    outs.into_par_iter()
        .zip(x.par_chunks(per * z.c * z.l))
        .for_each_init(
            || {
                (
                    vec![0f32; z.ck() * per * lout],
                    vec![0f32; z.o * per * lout],
                )
            },
            |(col, conv), (mut out, xg)| {
                let g = xg.len() / (z.c * z.l);
                forward_group(z, xg, g, (w, bias), col, conv);
                // conv [O, g·L_out]: sample s's row of filter oi is columns s·L_out...
                for (oi, row) in conv.chunks(g * lout).take(z.o).enumerate() {
                    for (s, part) in row.chunks(lout).enumerate() {
                        emit(&mut out, s, oi, part);
                    }
                }
            },
        );
}

/// ReLU and max pooling of one row of the convolution output: `y` gets `max(0, max(window))`
/// for each whole window of `k` values (NaN if the window holds one), `at` the first
/// position of the window's maximum, or [`NO_GRADIENT`] when the output is not positive
/// (0 or NaN). Branch-free: on real activations the comparisons are unpredictable, and a
/// branch per comparison cost more than the arithmetic.
pub(crate) fn pool_row(x: &[f32], k: usize, y: &mut [f32], at: &mut [u16]) {
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
            NO_GRADIENT
        };
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
        let (z, b) = check(xl, wl, bl)?;
        let (x, w, bias) = (
            contiguous(xs, xl, "conv1d input")?,
            contiguous(ws, wl, "conv1d weight")?,
            contiguous(bs, bl, "conv1d bias")?,
        );
        let (o, lout) = (z.o, z.lout());
        let mut y = vec![0f32; b * o * lout];
        let outs = y.chunks_mut(z.per_product() * o * lout).collect();
        // Sample s's row of filter oi -> y [s, oi, ..].
        forward_rows(z, x, (w, bias), outs, |yg, s, oi, row| {
            yg[(s * o + oi) * lout..][..lout].copy_from_slice(row)
        });
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
        let op = Grads {
            input_grad: self.input_grad,
            weight_grad: w.track_op(),
            dy: OutputGrad::Dense,
        };
        let flat = x.apply_op3_no_bwd(w, &grad.contiguous()?, &op)?;
        split_grads(&flat, x, w, self.input_grad)
    }
}

/// Where a sample's output gradient comes from.
enum OutputGrad<'a> {
    /// The gradient of the convolution's output, `[B, O, L_out]`.
    Dense,
    /// The gradient of the pooled output `[B, O, L_out / pool]`, sent to the positions
    /// in `argmax` (one per window, [`NO_GRADIENT`] for a window whose output was not
    /// positive).
    Pooled { pool: usize, argmax: &'a [u16] },
}

/// The window position meaning "no gradient" (the window's output was 0 or NaN).
pub(crate) const NO_GRADIENT: u16 = u16::MAX;

/// `(x [B, C, L], w [O, C, K], dy) -> [dW (O·C·K) | db (O) | dx (B·C·L, when input_grad)]`,
/// flattened (a custom op has one output). Per sample: its output gradient (dense, or
/// expanded from the pooled one) in a scratch buffer, then `dW += dy_b × col(x_b)ᵀ`,
/// `db += row sums` and `dx_b = col2im(Wᵀ × dy_b)`. Weight and bias gradients are summed
/// in fixed groups of samples and then across groups in order, so the bytes do not depend
/// on the number of threads.
struct Grads<'a> {
    input_grad: bool,
    /// Whether the weight and bias need gradients (not for constant weights: attributions).
    weight_grad: bool,
    dy: OutputGrad<'a>,
}

impl CustomOp3 for Grads<'_> {
    fn name(&self) -> &'static str {
        "ferrosea-conv1d-backward"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, c, l) = dims3(xl, "input")?;
        let (o, _, k) = dims3(wl, "weight")?;
        let z = Sizes { c, l, o, k };
        let (lout, ck) = (z.lout(), z.ck());
        let want = match self.dy {
            OutputGrad::Dense => (b, o, lout),
            OutputGrad::Pooled { pool, .. } => (b, o, lout / pool),
        };
        if dims3(gl, "gradient")? != want {
            bail!(
                "conv1d backward: gradient {:?}, expected {want:?}",
                gl.dims()
            );
        }
        let (x, w, g) = (
            contiguous(xs, xl, "conv1d input")?,
            contiguous(ws, wl, "conv1d weight")?,
            contiguous(gs, gl, "conv1d gradient")?,
        );
        // Sample `sample`'s output gradient into columns s·L_out.. of a group's dy [O, wide].
        let fill = |sample: usize, s: usize, wide: usize, dy: &mut [f32]| {
            for oi in 0..o {
                let row = &mut dy[oi * wide + s * lout..][..lout];
                match self.dy {
                    OutputGrad::Dense => {
                        row.copy_from_slice(&g[(sample * o + oi) * lout..][..lout]);
                    }
                    OutputGrad::Pooled { pool, argmax } => {
                        let out = lout / pool;
                        let at0 = (sample * o + oi) * out;
                        row.fill(0.0);
                        let windows = g[at0..at0 + out].iter().zip(&argmax[at0..at0 + out]);
                        for (wi, (&gv, &at)) in windows.enumerate() {
                            if at != NO_GRADIENT {
                                row[wi * pool + at as usize] = gv;
                            }
                        }
                    }
                }
            }
        };
        let (groups, per) = (b.div_ceil(GROUP), z.per_product());
        let mut dx = vec![0f32; if self.input_grad { b * c * l } else { 0 }];
        let dx_groups: Vec<&mut [f32]> = if self.input_grad {
            dx.chunks_mut(GROUP * c * l).collect()
        } else {
            (0..groups).map(|_| &mut [][..]).collect()
        };
        let partials: Vec<(Vec<f32>, Vec<f32>)> = dx_groups
            .into_par_iter()
            .enumerate()
            .map(|(gi, dxg)| {
                let mut col = vec![0f32; ck * per * lout];
                let mut dy = vec![0f32; o * per * lout];
                let (mut dw, mut db) = (vec![0f32; o * ck], vec![0f32; o]);
                let first = gi * GROUP;
                let end = (first + GROUP).min(b);
                for s0 in (first..end).step_by(per) {
                    let g = per.min(end - s0);
                    let wide = g * lout;
                    for s in 0..g {
                        fill(s0 + s, s, wide, &mut dy);
                    }
                    let (dy, xg) = (&dy[..o * wide], &x[s0 * c * l..(s0 + g) * c * l]);
                    if self.weight_grad {
                        param_grads_group(z, xg, dy, g, &mut col, &mut dw, &mut db, s0 == first);
                    }
                    if self.input_grad {
                        let dx = &mut dxg[(s0 - first) * c * l..][..g * c * l];
                        input_grad_group(z, dy, g, w, &mut col, dx);
                    }
                }
                (dw, db)
            })
            .collect();
        let (dws, dbs): (Vec<_>, Vec<_>) = partials.into_iter().unzip();
        let mut flat = add_in_order(dws, o * ck);
        flat.extend(add_in_order(dbs, o));
        flat.extend(dx);
        let n = flat.len();
        Ok((CpuStorage::F32(flat), Shape::from(n)))
    }
}

/// `(dx, dW, db)` from the flat output of [`Grads`].
fn split_grads(
    flat: &Tensor,
    x: &Tensor,
    w: &Tensor,
    input_grad: bool,
) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
    let (nw, o) = (w.elem_count(), w.dim(0)?);
    let (dw, db) = if w.track_op() {
        (
            Some(flat.narrow(0, 0, nw)?.reshape(w.shape())?),
            Some(flat.narrow(0, nw, o)?),
        )
    } else {
        (None, None)
    };
    let dx = if input_grad {
        Some(flat.narrow(0, nw + o, x.elem_count())?.reshape(x.shape())?)
    } else {
        None
    };
    Ok((dx, dw, db))
}

/// `max_pool1d(relu(conv1d(x, w) + bias), pool)`: each sample's convolution output lives
/// only in a scratch buffer, which the pooling reads; the forward pass keeps where each
/// window's maximum was, for the backward pass.
struct PooledForward {
    input_grad: bool,
    pool: usize,
    argmax: Mutex<Option<Vec<u16>>>,
}

impl CustomOp3 for PooledForward {
    fn name(&self) -> &'static str {
        "ferrosea-conv1d-relu-max-pool"
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
        let (z, b) = check(xl, wl, bl)?;
        let (x, w, bias) = (
            contiguous(xs, xl, "conv1d input")?,
            contiguous(ws, wl, "conv1d weight")?,
            contiguous(bs, bl, "conv1d bias")?,
        );
        let (o, lout, pool) = (z.o, z.lout(), self.pool);
        let out = lout / pool;
        let mut y = vec![0f32; b * o * out];
        let mut argmax = vec![NO_GRADIENT; b * o * out];
        if out > 0 {
            let n = z.per_product() * o * out;
            let outs = y.chunks_mut(n).zip(argmax.chunks_mut(n)).collect();
            forward_rows(z, x, (w, bias), outs, |(yg, ag), s, oi, row| {
                let at = (s * o + oi) * out;
                pool_row(row, pool, &mut yg[at..at + out], &mut ag[at..at + out]);
            });
        }
        *self.argmax.lock().expect("conv1d pool cache") = Some(argmax);
        Ok((CpuStorage::F32(y), Shape::from((b, o, out))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let saved = self.argmax.lock().expect("conv1d pool cache");
        let Some(argmax) = saved.as_ref() else {
            bail!("conv1d + pool: backward without a forward pass");
        };
        let op = Grads {
            input_grad: self.input_grad,
            weight_grad: w.track_op(),
            dy: OutputGrad::Pooled {
                pool: self.pool,
                argmax,
            },
        };
        let flat = x.apply_op3_no_bwd(w, &grad.contiguous()?, &op)?;
        split_grads(&flat, x, w, self.input_grad)
    }
}

/// The sizes of `conv1d(x [B, C, L], w [O, C, K]) + bias [O]`, checked, and B.
fn check(xl: &Layout, wl: &Layout, bl: &Layout) -> Result<(Sizes, usize)> {
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
    Ok((Sizes { c, l, o, k }, b))
}

/// `max_pool1d(relu(conv1d(x, w) + bias), pool)` on the CPU, as one op (see
/// [`PooledForward`]); `x` needs a gradient only when `input_grad` is set.
pub(crate) fn conv1d_relu_pool_cpu(
    x: &Tensor,
    w: &Tensor,
    bias: &Tensor,
    pool: usize,
    input_grad: bool,
) -> Result<Tensor> {
    if pool == 0 || pool >= NO_GRADIENT as usize {
        bail!(
            "max pooling needs a window between 1 and {}",
            NO_GRADIENT - 1
        );
    }
    let op = PooledForward {
        input_grad,
        pool,
        argmax: Mutex::new(None),
    };
    x.contiguous()?
        .apply_op3(&w.contiguous()?, &bias.contiguous()?, op)
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
