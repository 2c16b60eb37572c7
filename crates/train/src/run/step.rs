//! One optimizer step over a global batch, shared among the replicas.

use std::sync::Arc;

use candle_core::{DType, Tensor, Var};
use ferrosea_models::{DropoutKey, Mode};
use ferrosea_runtime::data::Batch;

use super::replicas::Replica;
use crate::collective::Collective;
use crate::{TrainConfig, TrainError};

/// What every step of a run shares.
pub(super) struct Step<'a> {
    pub(super) collective: &'a Arc<dyn Collective>,
    pub(super) cfg: &'a TrainConfig,
    pub(super) window: usize,
    pub(super) targets: usize,
    pub(super) seed: u64,
}

impl Step<'_> {
    /// Step number `step` (its dropout masks depend on it) at learning rate `lr`: each
    /// replica takes its shard of `batch`, the gradients are summed across replicas, and
    /// every replica applies the same update. Returns the batch's mean loss (without the
    /// L1 penalty).
    pub(super) fn run(
        &self,
        replicas: &mut [Replica],
        batch: &Batch,
        step: u64,
        lr: f64,
    ) -> Result<f64, TrainError> {
        let world = self.collective.world();
        let first_rank = self.collective.first_rank();
        let n = batch.rows;
        let scale = 1.0 / (n * self.cfg.loss.terms_per_row(self.targets)) as f64;
        let shard = |r: usize| (r * n / world, (r + 1) * n / world);
        let one = |rank: usize, rep: &mut Replica| -> Result<f64, TrainError> {
            let (lo, hi) = shard(first_rank + rank);
            let rows = hi - lo;
            let mut grads: Vec<Tensor>;
            let bce_value: Tensor;
            if rows > 0 {
                let channels = rep.net.channels();
                let x = Tensor::from_slice(
                    &batch.x[lo * channels * self.window..hi * channels * self.window],
                    (rows, channels, self.window),
                    &rep.device,
                )?;
                let y = Tensor::from_slice(
                    &batch.y[lo * self.targets..hi * self.targets],
                    (rows, self.targets),
                    &rep.device,
                )?;
                let key = DropoutKey {
                    seed: self.seed,
                    step,
                    first_sample: (batch.first + lo) as u64,
                };
                let out = rep.net.forward(&x, Mode::Train(key))?;
                let bce = (self.cfg.loss.sum(&out.logits, &y)? * scale)?;
                let loss = if self.cfg.l1_hidden > 0.0 {
                    (&bce + (out.hidden.abs()?.sum_all()? * self.cfg.l1_hidden)?)?
                } else {
                    bce.clone()
                };
                let g = loss.backward()?;
                bce_value = bce.reshape(1)?;
                grads = rep
                    .vars
                    .iter()
                    .zip(&rep.names)
                    .map(|(v, name)| match g.get(v.as_tensor()) {
                        Some(t) => Ok(t.clone()),
                        None => Err(TrainError::Internal(format!("no gradient reached {name}"))),
                    })
                    .collect::<Result<_, _>>()?;
            } else {
                grads = rep
                    .vars
                    .iter()
                    .map(|v| v.zeros_like())
                    .collect::<candle_core::Result<_>>()?;
                bce_value = Tensor::zeros(1, DType::F32, &rep.device)?;
            }
            // The loss travels with the gradients, so that every replica learns the global
            // batch's loss in the same exchange.
            grads.push(bce_value);
            self.collective.all_reduce_sum(rank, &mut grads)?;
            let bce_value = grads
                .pop()
                .expect("pushed above")
                .to_dtype(DType::F64)?
                .reshape(())?
                .to_scalar::<f64>()?;
            rep.optimizer.step(&rep.vars, &grads, lr)?;
            if let Some(max) = self.cfg.max_norm {
                max_norm(&rep.vars, &rep.names, max)?;
            }
            Ok(bce_value)
        };
        let losses: Vec<Result<f64, TrainError>> = if world == 1 {
            vec![one(0, &mut replicas[0])]
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = replicas
                    .iter_mut()
                    .enumerate()
                    .map(|(rank, rep)| s.spawn(move || one(rank, rep)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("replica thread"))
                    .collect()
            })
        };
        // Every replica holds the same global loss.
        let mut total = 0.0;
        for l in losses {
            total = l?;
        }
        Ok(total)
    }
}

/// Torch's `renorm`: rows (output units) of every weight whose L2 norm exceeds `max` are
/// scaled down to it.
fn max_norm(vars: &[Var], names: &[String], max: f64) -> Result<(), TrainError> {
    for (v, name) in vars.iter().zip(names) {
        // Kernels only: batch norm's `weight` (its scale) is a vector, not rows of units.
        if (!name.ends_with("weight") && !name.contains(".weight_")) || v.rank() < 2 {
            continue;
        }
        let w = v.as_tensor().detach();
        let rows = w.dim(0)?;
        let flat = w.reshape((rows, ()))?;
        let norms = flat.sqr()?.sum_keepdim(1)?.sqrt()?;
        let factor = ((norms + 1e-7)?.recip()? * max)?.clamp(0f64, 1f64)?;
        let out = flat.broadcast_mul(&factor)?.reshape(w.shape())?;
        v.set(&out)?;
    }
    Ok(())
}
