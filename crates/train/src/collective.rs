//! Gradient exchange between data-parallel replicas.
//!
//! Every replica computes gradients on its shard of each global batch; [`Collective::
//! all_reduce_sum`] leaves every replica holding the sum over replicas (each shard's loss
//! is already scaled by the global batch size, so the sum is the global gradient), and all
//! replicas then take the same optimizer step. The CPU implementation ([`ThreadGroup`])
//! lets tests check data-parallel training without a GPU; the NCCL one (feature `nccl`)
//! does the same on CUDA devices.

use std::sync::{Barrier, Mutex};

use candle_core::{Result, Tensor};

/// A group of replicas exchanging gradients.
pub trait Collective: Send + Sync {
    /// Number of replicas.
    fn world(&self) -> usize;
    /// Replaces each of `rank`'s tensors by its sum over all ranks; every rank calls it
    /// with tensors of the same shapes, in the same order.
    fn all_reduce_sum(&self, rank: usize, tensors: &mut [Tensor]) -> Result<()>;
}

/// One replica: nothing to exchange.
pub struct Single;

impl Collective for Single {
    fn world(&self) -> usize {
        1
    }
    fn all_reduce_sum(&self, _rank: usize, _tensors: &mut [Tensor]) -> Result<()> {
        Ok(())
    }
}

/// Replicas as threads of one process, exchanging through host memory. Sums are taken in
/// rank order, so every replica gets bit-identical results.
pub struct ThreadGroup {
    world: usize,
    slots: Mutex<Vec<Vec<f32>>>,
    barrier: Barrier,
}

impl ThreadGroup {
    /// A group of `world` replicas.
    pub fn new(world: usize) -> ThreadGroup {
        ThreadGroup {
            world,
            slots: Mutex::new(vec![Vec::new(); world]),
            barrier: Barrier::new(world),
        }
    }
}

impl Collective for ThreadGroup {
    fn world(&self) -> usize {
        self.world
    }

    fn all_reduce_sum(&self, rank: usize, tensors: &mut [Tensor]) -> Result<()> {
        let mut mine = Vec::new();
        for t in tensors.iter() {
            mine.extend(t.flatten_all()?.to_vec1::<f32>()?);
        }
        self.slots.lock().expect("collective lock")[rank] = mine;
        self.barrier.wait();
        let sum = {
            let slots = self.slots.lock().expect("collective lock");
            let mut sum = slots[0].clone();
            for other in &slots[1..] {
                if other.len() != sum.len() {
                    return Err(candle_core::Error::Msg(
                        "replicas disagree on gradient sizes".into(),
                    ));
                }
                for (s, o) in sum.iter_mut().zip(other) {
                    *s += o;
                }
            }
            sum
        };
        // Nobody refills a slot before everyone has read them all.
        self.barrier.wait();
        let mut at = 0;
        for t in tensors.iter_mut() {
            let n = t.elem_count();
            *t = Tensor::from_slice(&sum[at..at + n], t.shape(), t.device())?;
            at += n;
        }
        Ok(())
    }
}
