//! Gradient exchange between data-parallel replicas.
//!
//! Every replica computes gradients on its shard of each global batch; [`Collective::
//! all_reduce_sum`] leaves every replica holding the sum over replicas (each shard's loss
//! is already scaled by the global batch size, so the sum is the global gradient), and all
//! replicas then take the same optimizer step. The CPU implementation ([`ThreadGroup`])
//! lets tests check data-parallel training without a GPU; the NCCL one (feature `nccl`,
//! `nccl::NcclGroup`) does the same on CUDA devices, within one process or across the
//! nodes of a cluster (one process per node, [`Cluster`]).

use std::path::{Path, PathBuf};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use candle_core::{Result, Tensor};

/// A group of replicas exchanging gradients.
pub trait Collective: Send + Sync {
    /// Number of replicas, over all processes.
    fn world(&self) -> usize;
    /// Global rank of this process's first replica (its others follow in order).
    fn first_rank(&self) -> usize {
        0
    }
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

/// This process's place in a multi-node run: one process per node drives that node's
/// devices; the global ranks of node `r` follow those of nodes `0..r`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    /// Processes (nodes) in the run.
    pub nodes: usize,
    /// This process's index, `0..nodes`; node 0 writes checkpoints and metrics.
    pub node_rank: usize,
    /// File on a filesystem every node sees, through which node 0 hands out the NCCL
    /// unique id. Must not exist when the run starts.
    pub id_file: PathBuf,
}

impl Cluster {
    /// The cluster of a SLURM job step with several tasks (`SLURM_NTASKS`, `SLURM_PROCID`,
    /// `SLURM_JOB_ID`), with the id file in `dir`; `None` outside such a step.
    pub fn from_slurm(dir: &Path) -> Option<Cluster> {
        Cluster::from_vars(|k| std::env::var(k).ok(), dir)
    }

    fn from_vars(var: impl Fn(&str) -> Option<String>, dir: &Path) -> Option<Cluster> {
        let nodes: usize = var("SLURM_NTASKS")?.parse().ok()?;
        let node_rank: usize = var("SLURM_PROCID")?.parse().ok()?;
        let job = var("SLURM_JOB_ID").unwrap_or_else(|| "job".into());
        let step = var("SLURM_STEP_ID").unwrap_or_else(|| "0".into());
        (nodes > 1 && node_rank < nodes).then(|| Cluster {
            nodes,
            node_rank,
            id_file: dir.join(format!(".nccl-id-{job}.{step}")),
        })
    }
}

/// Hands `id` from node 0 to every node through `path`: node 0 (`id` is `Some`) writes it
/// (temporary name, then rename, refusing a file left by another run); the others wait up
/// to `wait` for the file and read it. Returns the id.
pub fn exchange_id(path: &Path, id: Option<&[u8]>, wait: Duration) -> Result<Vec<u8>> {
    let err = |m: String| candle_core::Error::Msg(m);
    match id {
        Some(bytes) => {
            if path.exists() {
                return Err(err(format!(
                    "{} already exists (left by another run?); remove it or name another --nccl-id-file",
                    path.display()
                )));
            }
            ferrosea_dataset::write_atomically(path, bytes)
                .map_err(|e| err(format!("{}: {e}", path.display())))?;
            Ok(bytes.to_vec())
        }
        None => {
            let started = Instant::now();
            loop {
                if let Ok(bytes) = std::fs::read(path) {
                    return Ok(bytes);
                }
                if started.elapsed() > wait {
                    return Err(err(format!(
                        "waited {} s for node 0 to write {}; is node 0 running, and is the file on a filesystem every node sees?",
                        wait.as_secs(),
                        path.display()
                    )));
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

/// Gradient exchange between CUDA devices through NCCL all-reduce.
#[cfg(feature = "nccl")]
pub mod nccl {
    use std::sync::Mutex;
    use std::time::Duration;

    use candle_core::cuda_backend::cudarc::nccl::safe::{
        group_end, group_start, Comm, Id, ReduceOp,
    };
    use candle_core::cuda_backend::CudaStorage;
    use candle_core::{CpuStorage, CustomOp1, Device, Error, Layout, Result, Shape, Tensor};

    use super::{exchange_id, Cluster, Collective};

    /// A communicator, used by one replica thread at a time (behind a mutex).
    struct RankComm(Comm);

    // SAFETY: NCCL communicators may be used from any thread as long as calls on one
    // communicator do not overlap; the mutex in `NcclGroup` guarantees that.
    unsafe impl Send for RankComm {}

    fn nccl_err(e: impl std::fmt::Debug) -> Error {
        Error::Msg(format!("NCCL: {e:?}"))
    }

    /// This process's CUDA devices as consecutive ranks of one NCCL group.
    pub struct NcclGroup {
        comms: Vec<Mutex<RankComm>>,
        first_rank: usize,
        world: usize,
    }

    impl NcclGroup {
        /// One communicator per device. Without a cluster all ranks are local; with one,
        /// node 0 creates the unique id and hands it out through the cluster's id file,
        /// and every node assumes it drives as many devices as this one.
        pub fn new(devices: &[Device], cluster: Option<&Cluster>) -> Result<NcclGroup> {
            let streams = devices
                .iter()
                .map(|d| Ok(d.as_cuda_device()?.cuda_stream()))
                .collect::<Result<Vec<_>>>()?;
            let local = streams.len();
            let (nodes, node_rank) = cluster.map_or((1, 0), |c| (c.nodes, c.node_rank));
            let world = nodes * local;
            let first_rank = node_rank * local;
            let comms = if let Some(c) = cluster {
                let mine = (node_rank == 0)
                    .then(Id::new)
                    .transpose()
                    .map_err(nccl_err)?;
                let bytes: Vec<u8> = mine
                    .map(|id| id.internal().iter().map(|&b| b as u8).collect())
                    .unwrap_or_default();
                let bytes = exchange_id(
                    &c.id_file,
                    mine.map(|_| bytes.as_slice()),
                    Duration::from_secs(600),
                )?;
                let internal: [core::ffi::c_char; 128] = bytes
                    .iter()
                    .map(|&b| b as core::ffi::c_char)
                    .collect::<Vec<_>>()
                    .try_into()
                    .map_err(|_| {
                        Error::Msg(format!(
                            "{}: not an NCCL id ({} bytes, expected 128)",
                            c.id_file.display(),
                            bytes.len()
                        ))
                    })?;
                let id = Id::uninit(internal);
                group_start().map_err(nccl_err)?;
                let comms = streams
                    .into_iter()
                    .enumerate()
                    .map(|(i, s)| Comm::from_rank(s, first_rank + i, world, id))
                    .collect::<std::result::Result<Vec<_>, _>>();
                group_end().map_err(nccl_err)?;
                comms.map_err(nccl_err)?
            } else {
                Comm::from_devices(streams).map_err(nccl_err)?
            };
            Ok(NcclGroup {
                comms: comms.into_iter().map(|c| Mutex::new(RankComm(c))).collect(),
                first_rank,
                world,
            })
        }
    }

    /// Sum over ranks of a contiguous f32 tensor, as a custom op so that it reaches the
    /// device buffers.
    struct AllReduce<'a>(&'a Comm);

    impl CustomOp1 for AllReduce<'_> {
        fn name(&self) -> &'static str {
            "nccl-all-reduce"
        }

        fn cpu_fwd(&self, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
            Err(Error::Msg("NCCL all-reduce of a CPU tensor".into()))
        }

        fn cuda_fwd(&self, s: &CudaStorage, l: &Layout) -> Result<(CudaStorage, Shape)> {
            let (lo, hi) = l
                .contiguous_offsets()
                .ok_or_else(|| Error::Msg("NCCL all-reduce of a strided tensor".into()))?;
            let src = s.as_cuda_slice::<f32>()?.slice(lo..hi);
            let dev = s.device.clone();
            // SAFETY: every element is written by the all-reduce before anyone reads it.
            let mut dst = unsafe { dev.alloc::<f32>(hi - lo) }?;
            self.0
                .all_reduce(&src, &mut dst, &ReduceOp::Sum)
                .map_err(nccl_err)?;
            Ok((CudaStorage::wrap_cuda_slice(dst, dev), l.shape().clone()))
        }
    }

    impl Collective for NcclGroup {
        fn world(&self) -> usize {
            self.world
        }

        fn first_rank(&self) -> usize {
            self.first_rank
        }

        fn all_reduce_sum(&self, rank: usize, tensors: &mut [Tensor]) -> Result<()> {
            // One call for all tensors: flatten, concatenate, reduce, split.
            let flat = tensors
                .iter()
                .map(|t| t.flatten_all())
                .collect::<Result<Vec<_>>>()?;
            let flat = Tensor::cat(&flat, 0)?.contiguous()?;
            let sum = {
                let comm = self.comms[rank]
                    .lock()
                    .map_err(|_| Error::Msg("NCCL lock".into()))?;
                flat.apply_op1_no_bwd(&AllReduce(&comm.0))?
            };
            let mut at = 0;
            for t in tensors.iter_mut() {
                let n = t.elem_count();
                *t = sum.narrow(0, at, n)?.reshape(t.shape())?;
                at += n;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_zero_hands_its_id_to_the_others_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id");
        let id: Vec<u8> = (0..128).map(|i| i as u8).collect();
        let waiting: Vec<_> = (0..3)
            .map(|_| {
                let p = path.clone();
                std::thread::spawn(move || exchange_id(&p, None, Duration::from_secs(30)).unwrap())
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(exchange_id(&path, Some(&id), Duration::ZERO).unwrap(), id);
        for w in waiting {
            assert_eq!(w.join().unwrap(), id);
        }
        // A file left behind is refused rather than handed out again.
        let e = exchange_id(&path, Some(&id), Duration::ZERO).unwrap_err();
        assert!(e.to_string().contains("already exists"), "{e}");
        // A node waiting for a node 0 that never comes gives up with a message.
        let e =
            exchange_id(&dir.path().join("never"), None, Duration::from_millis(300)).unwrap_err();
        assert!(e.to_string().contains("is node 0 running"), "{e}");
    }

    #[test]
    fn slurm_variables_make_a_cluster() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|p| p.0 == k).map(|p| p.1.to_string())
        };
        let dir = Path::new("/shared/run");
        assert_eq!(
            Cluster::from_vars(
                vars(&[
                    ("SLURM_NTASKS", "4"),
                    ("SLURM_PROCID", "2"),
                    ("SLURM_JOB_ID", "77")
                ]),
                dir
            ),
            Some(Cluster {
                nodes: 4,
                node_rank: 2,
                id_file: dir.join(".nccl-id-77.0")
            })
        );
        // One task, or no SLURM at all: not a cluster.
        assert_eq!(
            Cluster::from_vars(vars(&[("SLURM_NTASKS", "1"), ("SLURM_PROCID", "0")]), dir),
            None
        );
        assert_eq!(Cluster::from_vars(vars(&[]), dir), None);
    }
}
