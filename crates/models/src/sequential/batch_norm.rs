//! Batch normalisation over the channel axis.

use candle_core::{Result, Tensor};

use super::Feat;
use crate::layers::Mode;
use crate::params::{Init, Vb};
use crate::spec::{self};

/// Batch normalisation over the channel axis, PyTorch's `BatchNorm1d`.
pub struct BatchNorm1d {
    pub(super) weight: Tensor,
    pub(super) bias: Tensor,
    running_mean: Tensor,
    running_var: Tensor,
    momentum: f64,
    eps: f64,
}

impl BatchNorm1d {
    /// Declares `name.weight` (ones), `name.bias` (zeros) and the buffers
    /// `name.running_mean` (zeros) and `name.running_var` (ones).
    pub fn new(vb: &Vb, name: &str, channels: usize, spec: &spec::BatchNorm) -> Result<Self> {
        let vb = vb.pp(name);
        Ok(BatchNorm1d {
            weight: vb.get_with_hints(channels, "weight", Init::Const(1.0))?,
            bias: vb.get_with_hints(channels, "bias", Init::Zeros)?,
            running_mean: vb.get_with_hints(channels, "running_mean", Init::Buffer(0.0))?,
            running_var: vb.get_with_hints(channels, "running_var", Init::Buffer(1.0))?,
            momentum: spec.momentum,
            eps: spec.eps,
        })
    }

    /// Normalises `x` (`feat` says which axis holds the channels). In training the batch's
    /// statistics are used and the running estimates updated (with the unbiased variance, as
    /// PyTorch); in evaluation the running estimates.
    pub fn forward(&self, x: &Tensor, feat: Feat, mode: Mode) -> Result<Tensor> {
        let cpu = x.device().is_cpu() && x.dtype() == candle_core::DType::F32;
        if cpu && !matches!(feat, Feat::Time { .. }) {
            return self.forward_cpu(x, mode);
        }
        self.forward_with_candle(x, feat, mode)
    }

    /// [`BatchNorm1d::forward`] from Candle's ops, as run on other devices (and for
    /// time-first inputs). Public so that tests can compare both on the CPU.
    pub fn forward_with_candle(&self, x: &Tensor, feat: Feat, mode: Mode) -> Result<Tensor> {
        let c = self.weight.elem_count();
        let (axes, shape): (Vec<usize>, Vec<usize>) = match feat {
            Feat::Seq { .. } => (vec![0, 2], vec![1, c, 1]),
            Feat::Time { .. } => (vec![0, 1], vec![1, 1, c]),
            Feat::Flat(_) => (vec![0], vec![1, c]),
        };
        let (mean, var) = match mode {
            Mode::Eval => (
                self.running_mean.reshape(shape.as_slice())?,
                self.running_var.reshape(shape.as_slice())?,
            ),
            Mode::Train(_) => {
                let n: usize = axes.iter().map(|&a| x.dim(a).unwrap_or(1)).product();
                if n < 2 {
                    candle_core::bail!(
                        "batch norm in training needs more than one value per channel, got {n} (a batch of one sample without positions)"
                    );
                }
                let mean = x.mean_keepdim(axes.as_slice())?;
                let centred = x.broadcast_sub(&mean)?;
                let var = centred.sqr()?.mean_keepdim(axes.as_slice())?;
                self.update(&mean.flatten_all()?, &var.flatten_all()?, n)?;
                (mean, var)
            }
        };
        let inv = (var + self.eps)?.sqrt()?.recip()?;
        x.broadcast_sub(&mean)?
            .broadcast_mul(&inv)?
            .broadcast_mul(&self.weight.reshape(shape.as_slice())?)?
            .broadcast_add(&self.bias.reshape(shape.as_slice())?)
    }

    /// Moves the running estimates towards a batch's mean and biased variance (over `n`
    /// values per channel), PyTorch's way: the variance unbiased.
    fn update(&self, mean: &Tensor, var: &Tensor, n: usize) -> Result<()> {
        let m = self.momentum;
        let step = |running: &Tensor, batch: &Tensor, scale: f64| -> Result<()> {
            let batch = batch.detach().affine(scale * m, 0.0)?;
            let new = (running.affine(1.0 - m, 0.0)? + batch)?;
            running.slice_set(&new, 0, 0)
        };
        step(&self.running_mean, mean, 1.0)?;
        step(&self.running_var, var, n as f64 / (n - 1) as f64)
    }

    /// The CPU op of `norm.rs` on `[B, C, L]` or `[B, F]` (as `[B, F, 1]`).
    fn forward_cpu(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let x3 = if dims.len() == 2 {
            x.unsqueeze(2)?
        } else {
            x.clone()
        };
        let (b, _, l) = x3.dims3()?;
        let given = match mode {
            Mode::Eval => Some(crate::norm::BatchStats {
                mean: self.running_mean.to_vec1::<f32>()?,
                var: self.running_var.to_vec1::<f32>()?,
            }),
            Mode::Train(_) => {
                if b * l < 2 {
                    candle_core::bail!(
                        "batch norm in training needs more than one value per channel, got {} (a batch of one sample without positions)",
                        b * l
                    );
                }
                None
            }
        };
        let training = given.is_none();
        let (y, stats) =
            crate::norm::batch_norm_cpu(&x3, &self.weight, &self.bias, self.eps, given)?;
        if training {
            let dev = x.device();
            let c = stats.mean.len();
            self.update(
                &Tensor::from_vec(stats.mean, c, dev)?,
                &Tensor::from_vec(stats.var, c, dev)?,
                b * l,
            )?;
        }
        y.reshape(dims)
    }
}
