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
        ThreadGroup { world, slots: Mutex::new(vec![Vec::new(); world]), barrier: Barrier::new(world) }
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
                    return Err(candle_core::Error::Msg("replicas disagree on gradient sizes".into()));
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

#[cfg(feature = "nccl")]
pub use nccl::NcclGroup;

#[cfg(feature = "nccl")]
mod nccl {
    //! NCCL all-reduce over CUDA tensors, one communicator per local GPU.
    use std::sync::Arc;

    use candle_core::cuda_backend::cudarc::nccl::safe::{Comm, Id, ReduceOp};
    use candle_core::{backend::BackendStorage, Result, Storage, Tensor};

    use super::Collective;

    /// One NCCL communicator per replica, created for the local devices (`ranks`
    /// consecutive global ranks starting at `first_rank` out of `world`).
    pub struct NcclGroup {
        comms: Vec<Comm>,
        world: usize,
        first_rank: usize,
    }

    // Each communicator is used by exactly one replica thread.
    unsafe impl Send for NcclGroup {}
    unsafe impl Sync for NcclGroup {}

    impl NcclGroup {
        /// Communicators for `devices` (CUDA ordinals) at global ranks `first_rank..`, in a
        /// job of `world` ranks identified by `id` (from [`Id::new`] on rank 0, shared
        /// through a file across nodes).
        pub fn new(devices: &[Arc<candle_core::cuda_backend::cudarc::driver::CudaStream>], id: Id, first_rank: usize, world: usize) -> Result<NcclGroup> {
            let mut comms = Vec::new();
            candle_core::cuda_backend::cudarc::nccl::safe::group_start().map_err(|e| candle_core::Error::Msg(format!("NCCL: {e:?}")))?;
            for (i, stream) in devices.iter().enumerate() {
                let comm = Comm::from_rank(stream.clone(), first_rank + i, world, id)
                    .map_err(|e| candle_core::Error::Msg(format!("NCCL init of rank {}: {e:?}", first_rank + i)))?;
                comms.push(comm);
            }
            candle_core::cuda_backend::cudarc::nccl::safe::group_end().map_err(|e| candle_core::Error::Msg(format!("NCCL: {e:?}")))?;
            Ok(NcclGroup { comms, world, first_rank })
        }
    }

    impl Collective for NcclGroup {
        fn world(&self) -> usize {
            self.world
        }

        fn all_reduce_sum(&self, rank: usize, tensors: &mut [Tensor]) -> Result<()> {
            let comm = &self.comms[rank - self.first_rank];
            for t in tensors.iter_mut() {
                let t_c = t.contiguous()?;
                let (storage, layout) = t_c.storage_and_layout();
                let Storage::Cuda(cs) = &*storage else {
                    return Err(candle_core::Error::Msg("NCCL all-reduce needs CUDA tensors".into()));
                };
                let src = cs.as_cuda_slice::<f32>()?.slice(layout.start_offset()..layout.start_offset() + t_c.elem_count());
                let mut dst = unsafe { cs.device().alloc::<f32>(t_c.elem_count()) }?;
                comm.all_reduce(&src, &mut dst, &ReduceOp::Sum).map_err(|e| candle_core::Error::Msg(format!("NCCL all-reduce: {e:?}")))?;
                drop(storage);
                let out = candle_core::CudaStorage::wrap_cuda_slice(dst, cs_device(t)?);
                *t = Tensor::from_storage(Storage::Cuda(out), t.shape().clone(), candle_core::op::BackpropOp::none(), false);
            }
            Ok(())
        }
    }

    fn cs_device(t: &Tensor) -> Result<candle_core::CudaDevice> {
        match t.device() {
            candle_core::Device::Cuda(d) => Ok(d.clone()),
            _ => Err(candle_core::Error::Msg("not a CUDA tensor".into())),
        }
    }
}
