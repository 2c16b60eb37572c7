//! DeepLIFT's backward rules, as Captum's `DeepLift` and `DeepLiftShap` apply them.
//!
//! A DeepLIFT pass runs the network on a batch `[x; r]`: the first half the inputs, the
//! second their references, row `i` of one half paired with row `i` of the other. Linear
//! layers (convolutions, dense layers, batch norm in evaluation, average pooling, sums of
//! residual blocks) keep their gradients. The non-linear ones are run as the ops of this
//! module, whose forward passes are the layer's own and whose backward passes give
//! *multipliers* instead of gradients:
//!
//! - **Rescale** (ReLU, sigmoid, tanh, DeepSEA's threshold; Captum's `nonlinear`): the gradient at each element
//!   of either half is `g · Δout / Δin`, with `Δin = z_x - z_r` and `Δout = f(z_x) - f(z_r)`
//!   the differences of the pair; where `|Δin| < 1e-10` the ordinary gradient `g · f'(z)`.
//! - **Max pooling** (Captum's `maxpool`): per window, with `o`, `o_r` the maxima of the
//!   pair and `m = max(o, o_r)`, the input and the reference send `g_x · (m - o_r)` and `g_r
//!   · (o - m)` to the positions of their own maxima; the sum of the two, divided by each
//!   position's `Δin` (the ordinary gradient where `|Δin| < 1e-10`), is the multiplier of
//!   either half. A window's multipliers times its `Δin` sum to `Δout`, so a chain of these
//!   rules and linear layers keeps DeepLIFT's summation to delta: the contributions
//!   `Σ (x - r) · ∂y/∂x` of the first half sum to `y(x) - y(r)`.
//!
//! A global max pool is the max pooling rule with the window as wide as the sequence.
//! Recurrent layers multiply signals inside their gates, for which DeepLIFT's rules say
//! nothing; [`RecurrentRule::Gradient`] lets each half's gradient pass through them (what
//! Captum does with `nn.LSTM`, which it does not hook), and the summation to delta then
//! holds only approximately.
//!
//! The ops compute on the CPU; on another device the tensor visits the CPU for the rule.

use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, Device, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use crate::gemm::contiguous;
use crate::spec::Activation;

/// Below this `|Δin|`, a rule falls back to the ordinary gradient (Captum's `eps`).
pub const EPS: f32 = 1e-10;

/// What a DeepLIFT pass does at a recurrent layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RecurrentRule {
    /// Refuse the network (DeepLIFT has no rule for gates).
    #[default]
    Refuse,
    /// Pass each half's gradient through the layer (Captum's behaviour with `nn.LSTM`).
    Gradient,
}

fn f(a: Activation, z: f32) -> f32 {
    match a {
        Activation::Linear => z,
        Activation::Relu => z.max(0.0),
        Activation::Sigmoid => 1.0 / (1.0 + (-z).exp()),
        Activation::Tanh => z.tanh(),
        Activation::Threshold => {
            if z > 0.0 {
                z
            } else {
                crate::spec::THRESHOLD_VALUE
            }
        }
    }
}

/// `f'(z)` given `z` and `f(z)` (PyTorch's: ReLU's is 0 at 0).
fn df(a: Activation, z: f32, y: f32) -> f32 {
    match a {
        Activation::Linear => 1.0,
        Activation::Relu | Activation::Threshold => {
            if z > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        Activation::Sigmoid => y * (1.0 - y),
        Activation::Tanh => 1.0 - y * y,
    }
}

/// The values of a tensor on the host, row-major.
fn host(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all()?.to_vec1::<f32>()
}

/// Runs `op` on the CPU copy of `z` when `z` lives elsewhere (the copies are differentiable).
fn on_cpu(z: &Tensor, op: impl CustomOp1 + Send + Sync + 'static) -> Result<Tensor> {
    if z.device().is_cpu() {
        return z.contiguous()?.apply_op1(op);
    }
    let dev = z.device().clone();
    z.to_device(&Device::Cpu)?
        .contiguous()?
        .apply_op1(op)?
        .to_device(&dev)
}

/// Runs the two-input `op` on the CPU copies of `a` and `b` when they live elsewhere.
fn on_cpu2(a: &Tensor, b: &Tensor, op: impl CustomOp2 + Send + Sync + 'static) -> Result<Tensor> {
    if a.device().is_cpu() {
        return a.contiguous()?.apply_op2(&b.contiguous()?, op);
    }
    let dev = a.device().clone();
    a.to_device(&Device::Cpu)?
        .contiguous()?
        .apply_op2(&b.to_device(&Device::Cpu)?.contiguous()?, op)?
        .to_device(&dev)
}

/// The first dimension of a DeepLIFT batch, which must be even.
fn halves(dims: &[usize], what: &str) -> Result<usize> {
    match dims.first() {
        Some(&n) if n % 2 == 0 => Ok(n / 2),
        _ => bail!("{what}: a DeepLIFT batch holds inputs and references in two equal halves, got shape {dims:?}"),
    }
}

struct Rescale(Activation);

impl CustomOp1 for Rescale {
    fn name(&self) -> &'static str {
        "ferrosea-deeplift-rescale"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let z = contiguous(s, l, "DeepLIFT rescale input")?;
        let a = self.0;
        let y: Vec<f32> = z.par_iter().map(|&v| f(a, v)).collect();
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, z: &Tensor, y: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        halves(z.dims(), "DeepLIFT rescale")?;
        let (zv, yv, g) = (host(z)?, host(y)?, host(grad)?);
        let h = zv.len() / 2;
        let a = self.0;
        let mut dz = vec![0f32; zv.len()];
        let (dx, dr) = dz.split_at_mut(h);
        dx.par_iter_mut()
            .zip(dr.par_iter_mut())
            .enumerate()
            .for_each(|(i, (dx, dr))| {
                let j = i + h;
                (*dx, *dr) = rescale_rule(a, (zv[i], zv[j]), (yv[i], yv[j]), (g[i], g[j]));
            });
        Ok(Some(Tensor::from_vec(dz, z.shape(), z.device())?))
    }
}

/// The rescale rule at one element: the gradients `(d_x, d_r)` of the pair `z = (z_x, z_r)`,
/// `y = f(z)`, from their output gradients `g`.
fn rescale_rule(a: Activation, z: (f32, f32), y: (f32, f32), g: (f32, f32)) -> (f32, f32) {
    let din = z.0 - z.1;
    if din.abs() < EPS {
        (g.0 * df(a, z.0, y.0), g.1 * df(a, z.1, y.1))
    } else {
        let m = (y.0 - y.1) / din;
        (g.0 * m, g.1 * m)
    }
}

/// `f(z_x)` whose backward pass is the rescale rule against `z_r` (an input of its own, not
/// differentiated), the references' output gradient taken equal to the inputs'.
struct RescalePair(Activation);

impl CustomOp2 for RescalePair {
    fn name(&self) -> &'static str {
        "ferrosea-deeplift-rescale-pair"
    }

    fn cpu_fwd(
        &self,
        s: &CpuStorage,
        l: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        Rescale(self.0).cpu_fwd(s, l)
    }

    fn bwd(
        &self,
        zx: &Tensor,
        zr: &Tensor,
        y: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (x, r, yx, g) = (host(zx)?, host(zr)?, host(y)?, host(grad)?);
        let a = self.0;
        let dx: Vec<f32> = (0..x.len())
            .into_par_iter()
            .map(|i| rescale_rule(a, (x[i], r[i]), (yx[i], f(a, r[i])), (g[i], g[i])).0)
            .collect();
        Ok((Some(Tensor::from_vec(dx, zx.shape(), zx.device())?), None))
    }
}

/// The rescale rule with separate inputs and references: `(f(z_x), f(z_r))`, only the
/// first tracked.
pub fn rescale_pair(zx: &Tensor, zr: &Tensor, a: Activation) -> Result<(Tensor, Tensor)> {
    if a == Activation::Linear {
        return Ok((zx.clone(), zr.clone()));
    }
    let r = on_cpu(&zr.detach(), Rescale(a))?;
    Ok((on_cpu2(zx, zr, RescalePair(a))?, r))
}

/// `f(z)` whose backward pass is the rescale rule over the pairs of a DeepLIFT batch.
pub fn rescale(z: &Tensor, a: Activation) -> Result<Tensor> {
    if a == Activation::Linear {
        return Ok(z.clone());
    }
    on_cpu(z, Rescale(a))
}

struct MaxPoolRule {
    k: usize,
}

/// The first maximum of a window and its index (PyTorch's choice among ties).
fn first_max(w: &[f32]) -> (usize, f32) {
    let mut at = 0;
    for (i, &v) in w.iter().enumerate().skip(1) {
        if v > w[at] {
            at = i;
        }
    }
    (at, w[at])
}

impl CustomOp1 for MaxPoolRule {
    fn name(&self) -> &'static str {
        "ferrosea-deeplift-max-pool"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, len) = l.shape().dims3()?;
        let z = contiguous(s, l, "DeepLIFT max pool input")?;
        let out = len / self.k;
        let mut y = vec![0f32; b * c * out];
        if out > 0 {
            y.par_chunks_mut(out)
                .zip(z.par_chunks(len))
                .for_each(|(yr, zr)| {
                    for (w, v) in yr.iter_mut().enumerate() {
                        *v = first_max(&zr[w * self.k..(w + 1) * self.k]).1;
                    }
                });
        }
        Ok((CpuStorage::F32(y), Shape::from((b, c, out))))
    }

    fn bwd(&self, z: &Tensor, _y: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let (b, c, len) = z.dims3()?;
        let half = halves(z.dims(), "DeepLIFT max pool")?;
        let (zv, g) = (host(z)?, host(grad)?);
        let (k, out) = (self.k, len / self.k);
        let rows = half * c * len;
        let mut dz = vec![0f32; b * c * len];
        let (dx, dr) = dz.split_at_mut(rows);
        if out > 0 {
            dx.par_chunks_mut(len)
                .zip(dr.par_chunks_mut(len))
                .enumerate()
                .for_each(|(row, (dxr, drr))| {
                    let zx = &zv[row * len..(row + 1) * len];
                    let zr = &zv[rows + row * len..rows + (row + 1) * len];
                    for w in 0..out {
                        let (gx, gr) = (g[row * out + w], g[half * c * out + row * out + w]);
                        let span = w * k..(w + 1) * k;
                        pool_rule(
                            (&zx[span.clone()], &zr[span.clone()]),
                            (gx, gr),
                            (&mut dxr[span.clone()], &mut drr[span]),
                        );
                    }
                });
        }
        Ok(Some(Tensor::from_vec(dz, z.shape(), z.device())?))
    }
}

/// The max-pooling rule in one window: the gradients `d = (d_x, d_r)` of the pair's window
/// `z = (z_x, z_r)` from the output gradients `g = (g_x, g_r)`.
fn pool_rule(z: (&[f32], &[f32]), g: (f32, f32), d: (&mut [f32], &mut [f32])) {
    let (ix, o) = first_max(z.0);
    let (ir, orf) = first_max(z.1);
    let m = o.max(orf);
    for i in 0..z.0.len() {
        let mut num = 0.0;
        if i == ix {
            num += g.0 * (m - orf);
        }
        if i == ir {
            num += g.1 * (o - m);
        }
        let din = z.0[i] - z.1[i];
        if din.abs() < EPS {
            d.0[i] = if i == ix { g.0 } else { 0.0 };
            d.1[i] = if i == ir { g.1 } else { 0.0 };
        } else {
            d.0[i] = num / din;
            d.1[i] = num / din;
        }
    }
}

/// Max pooling of `z_x` whose backward pass is the max-pooling rule against `z_r` (not
/// differentiated), the references' output gradients taken equal to the inputs'.
struct MaxPoolPair {
    k: usize,
}

impl CustomOp2 for MaxPoolPair {
    fn name(&self) -> &'static str {
        "ferrosea-deeplift-max-pool-pair"
    }

    fn cpu_fwd(
        &self,
        s: &CpuStorage,
        l: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        MaxPoolRule { k: self.k }.cpu_fwd(s, l)
    }

    fn bwd(
        &self,
        zx: &Tensor,
        zr: &Tensor,
        _y: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (b, c, len) = zx.dims3()?;
        let (x, r, g) = (host(zx)?, host(zr)?, host(grad)?);
        let (k, out) = (self.k, len / self.k);
        let mut dx = vec![0f32; b * c * len];
        if out > 0 {
            dx.par_chunks_mut(len).enumerate().for_each(|(row, dxr)| {
                let (xr, rr) = (
                    &x[row * len..(row + 1) * len],
                    &r[row * len..(row + 1) * len],
                );
                let mut drr = vec![0f32; k];
                for w in 0..out {
                    let gx = g[row * out + w];
                    let span = w * k..(w + 1) * k;
                    pool_rule(
                        (&xr[span.clone()], &rr[span.clone()]),
                        (gx, gx),
                        (&mut dxr[span], &mut drr),
                    );
                }
            });
        }
        Ok((Some(Tensor::from_vec(dx, zx.shape(), zx.device())?), None))
    }
}

/// The max-pooling rule with separate inputs and references: the pooled `(z_x, z_r)`, only
/// the first tracked.
pub fn max_pool_pair(zx: &Tensor, zr: &Tensor, k: usize) -> Result<(Tensor, Tensor)> {
    if k == 0 {
        bail!("max pooling needs a window of at least 1");
    }
    let r = on_cpu(&zr.detach(), MaxPoolRule { k })?;
    Ok((on_cpu2(zx, zr, MaxPoolPair { k })?, r))
}

/// Max pooling of `[2B, C, L]` in windows of `k` (stride `k`, a trailing remainder dropped),
/// whose backward pass is Captum's max pooling rule over the pairs of a DeepLIFT batch.
pub fn max_pool(z: &Tensor, k: usize) -> Result<Tensor> {
    if k == 0 {
        bail!("max pooling needs a window of at least 1");
    }
    on_cpu(z, MaxPoolRule { k })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    /// Two rows of 2 channels x 6 positions: an input and its reference (pool 3).
    const X: [f32; 12] = [
        0.5, -1.0, 2.0, 0.1, 0.3, -0.2, 1.5, 1.5, -3.0, 0.0, 0.7, 0.2,
    ];
    const R: [f32; 12] = [0.1, 0.2, 2.0, -0.4, 0.9, 1.0, 1.5, 0.5, -1.0, 0.3, 0.0, 0.2];

    /// The multipliers of a rule op for one pair, times the pair's `Δin`, sum to its `Δout`.
    #[test]
    fn rules_sum_to_delta() {
        let dev = Device::Cpu;
        let (x, r) = (X, R);
        let data: Vec<f32> = x.iter().chain(&r).copied().collect();
        let z =
            Var::from_tensor(&Tensor::from_vec(data.clone(), (2, 2, 6), &dev).unwrap()).unwrap();
        for act in [Activation::Relu, Activation::Sigmoid, Activation::Tanh] {
            let h = rescale(z.as_tensor(), act).unwrap();
            let y = max_pool(&h, 3).unwrap();
            let s = y.sum_all().unwrap();
            let grads = s.backward().unwrap();
            let m = grads
                .get(z.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let yv = y.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let lhs: f32 = (0..12).map(|i| m[i] * (x[i] - r[i])).sum();
            let rhs: f32 = (0..4).map(|i| yv[i] - yv[i + 4]).sum();
            assert!((lhs - rhs).abs() < 1e-5, "{act:?}: {lhs} vs {rhs}");
            // The reference half gets the same multipliers where no rule fell back to the
            // ordinary gradient (a strictly monotonic activation keeps Δin non-zero).
            for i in 0..12 {
                if act != Activation::Relu && (x[i] - r[i]).abs() > 0.0 {
                    assert_eq!(m[i], m[i + 12], "{act:?} element {i}");
                }
            }
        }
    }

    /// The paired ops give the inputs the gradients the joined ops give the inputs' half.
    #[test]
    fn pairs_equal_the_joined_batch() {
        let dev = Device::Cpu;
        let (x, r) = (X, R);
        let joined: Vec<f32> = x.iter().chain(&r).copied().collect();
        for act in [Activation::Relu, Activation::Sigmoid, Activation::Tanh] {
            let z = Var::from_tensor(&Tensor::from_vec(joined.clone(), (2, 2, 6), &dev).unwrap())
                .unwrap();
            let y = max_pool(&rescale(z.as_tensor(), act).unwrap(), 3).unwrap();
            let g = y.sum_all().unwrap().backward().unwrap();
            let want = g
                .get(z.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let zx =
                Var::from_tensor(&Tensor::from_vec(x.to_vec(), (1, 2, 6), &dev).unwrap()).unwrap();
            let zr = Tensor::from_vec(r.to_vec(), (1, 2, 6), &dev).unwrap();
            let (hx, hr) = rescale_pair(zx.as_tensor(), &zr, act).unwrap();
            let (yx, yr) = max_pool_pair(&hx, &hr, 3).unwrap();
            assert!(!yr.track_op());
            let joined_y = y.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let pair_y: Vec<f32> = [yx.clone(), yr]
                .iter()
                .flat_map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap())
                .collect();
            assert_eq!(joined_y, pair_y, "{act:?}");
            let g = yx.sum_all().unwrap().backward().unwrap();
            let got = g
                .get(zx.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            assert_eq!(got, want[..12].to_vec(), "{act:?}");
        }
    }

    #[test]
    fn odd_batches_are_refused() {
        let z = Var::from_tensor(
            &Tensor::zeros((3, 1, 4), candle_core::DType::F32, &Device::Cpu).unwrap(),
        )
        .unwrap();
        let y = max_pool(z.as_tensor(), 2).unwrap().sum_all().unwrap();
        let e = y.backward().unwrap_err().to_string();
        assert!(e.contains("two equal halves"), "{e}");
    }
}
