//! The model copies of a run, one per device: built from the same seed, restored from a
//! checkpoint or started from motifs, checked for non-finite weights, compared at the end;
//! and the gradient exchange that keeps them equal.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use candle_core::{DType, Device, Tensor, Var};
use ferrosea_models::{ModelConfig, Network, ParamStore};

use crate::checkpoint::{self, CheckpointMeta};
use crate::collective::{Cluster, Collective, Single, ThreadGroup};
use crate::optim::Optimizer;
use crate::{TrainConfig, TrainError};

/// One model copy on one device.
pub(super) struct Replica {
    pub(super) device: Device,
    pub(super) store: ParamStore,
    pub(super) net: Network,
    pub(super) vars: Vec<Var>,
    pub(super) names: Vec<String>,
    pub(super) optimizer: Optimizer,
}

/// The shape of the data the replicas see.
pub(super) struct Shape {
    pub(super) channels: usize,
    pub(super) window: usize,
    pub(super) targets: usize,
}

/// One replica per device: the same seed gives every replica the same initial weights.
pub(super) fn build(
    devices: &[Device],
    cfg: &TrainConfig,
    seed: u64,
    shape: &Shape,
) -> Result<Vec<Replica>, TrainError> {
    let mut replicas = Vec::new();
    for device in devices {
        let store = ParamStore::new(seed);
        let net = Network::with_channels(
            &cfg.model,
            shape.channels,
            shape.window,
            shape.targets,
            &store.builder(device),
        )?;
        let (names, vars): (Vec<String>, Vec<Var>) = store.vars().into_iter().unzip();
        let optimizer = Optimizer::new(cfg.optimizer.clone(), vars.len());
        replicas.push(Replica {
            device: device.clone(),
            store,
            net,
            vars,
            names,
            optimizer,
        });
    }
    Ok(replicas)
}

/// Every replica takes the weights and optimizer state of the checkpoint `latest_json`
/// records (`meta`), checked to be the parameters of `model`.
pub(super) fn restore(
    replicas: &mut [Replica],
    latest_json: &Path,
    meta: &CheckpointMeta,
    model: &ModelConfig,
) -> Result<(), TrainError> {
    for r in replicas {
        let weights = checkpoint::load_tensors(latest_json, &meta.weights_file, &r.device)?;
        checkpoint::check_same_parameters(
            latest_json,
            &weights,
            &r.store.tensors(),
            &format!("the {} model", model.arch()),
        )?;
        for (name, t) in &weights {
            r.store.set(name, t)?;
        }
        let opt = match &meta.optimizer_file {
            Some(f) => checkpoint::load_tensors(latest_json, f, &r.device)?,
            None => BTreeMap::new(),
        };
        r.optimizer
            .restore(meta.optimizer_steps, opt)
            .map_err(|m| TrainError::Mismatch(format!("{}: {m}", latest_json.display())))?;
    }
    Ok(())
}

/// Starts the first replica's first-layer filters from the motifs in `motifs` and copies
/// its weights to the others; returns how many filters were set.
pub(super) fn init_from_motifs(
    replicas: &[Replica],
    model: &ModelConfig,
    motifs: &Path,
    seed: u64,
) -> Result<usize, TrainError> {
    let n = crate::init_filters(&replicas[0].store, model, motifs, seed)?;
    let first = replicas[0].store.tensors();
    for r in &replicas[1..] {
        for (name, t) in &first {
            r.store.set(name, &t.to_device(&r.device)?)?;
        }
    }
    if let Some((name, i, v)) = checkpoint::first_non_finite(&first)? {
        return Err(TrainError::Data(format!(
            "{}: the first-layer filters made from these motifs are not finite \
             ({name} holds {v} at index {i}); check the motif probabilities",
            motifs.display()
        )));
    }
    Ok(n)
}

/// After a step: a parameter of the first replica holding a NaN or an infinity, named.
/// One sum per parameter, fetched in one transfer, finds them (any non-finite value makes
/// the sum non-finite); a sum that overflowed is told apart by looking at the values.
pub(super) fn non_finite_weights(rep: &Replica) -> Result<Option<String>, TrainError> {
    let sums = rep
        .vars
        .iter()
        .map(|v| v.as_tensor().sum_all()?.to_dtype(DType::F32)?.reshape(1))
        .collect::<candle_core::Result<Vec<_>>>()?;
    let sums = Tensor::cat(&sums, 0)?.to_vec1::<f32>()?;
    for ((v, name), sum) in rep.vars.iter().zip(&rep.names).zip(sums) {
        if sum.is_finite() {
            continue;
        }
        if let Some((i, x)) = checkpoint::non_finite_in(v.as_tensor())? {
            return Ok(Some(format!("weight {name} became {x} (at index {i})")));
        }
    }
    Ok(None)
}

/// Largest absolute difference between any replica's weights and the first one's.
pub(super) fn divergence(replicas: &[Replica]) -> Result<f32, TrainError> {
    let mut worst = 0f32;
    for r in &replicas[1..] {
        for (a, b) in replicas[0].vars.iter().zip(&r.vars) {
            let d = (a.as_tensor().to_device(&Device::Cpu)?
                - b.as_tensor().to_device(&Device::Cpu)?)?
            .abs()?
            .max_all()?
            .to_scalar::<f32>()?;
            worst = worst.max(d);
        }
    }
    Ok(worst)
}

/// The gradient exchange for these devices: nothing for one replica in one process,
/// threads for CPU replicas, NCCL for CUDA devices.
pub(super) fn collective_for(
    devices: &[Device],
    cluster: Option<&Cluster>,
) -> Result<Arc<dyn Collective>, TrainError> {
    let cuda = devices.iter().any(|d| d.is_cuda());
    if cluster.is_some() && !cuda {
        return Err(TrainError::Usage(
            "a multi-node run needs CUDA devices (--devices cuda:0,...) and a build with --features nccl".into(),
        ));
    }
    if devices.len() == 1 && cluster.is_none() {
        return Ok(Arc::new(Single));
    }
    if !cuda {
        return Ok(Arc::new(ThreadGroup::new(devices.len())));
    }
    if devices.iter().any(|d| !d.is_cuda()) {
        return Err(TrainError::Usage(
            "--devices mixes cpu and cuda; data-parallel replicas must all be CUDA devices or all cpu".into(),
        ));
    }
    nccl_group(devices, cluster)
}

#[cfg(feature = "nccl")]
fn nccl_group(
    devices: &[Device],
    cluster: Option<&Cluster>,
) -> Result<Arc<dyn Collective>, TrainError> {
    Ok(Arc::new(crate::collective::nccl::NcclGroup::new(
        devices, cluster,
    )?))
}

#[cfg(not(feature = "nccl"))]
fn nccl_group(
    _devices: &[Device],
    _cluster: Option<&Cluster>,
) -> Result<Arc<dyn Collective>, TrainError> {
    Err(TrainError::Usage(
        "several CUDA devices (or nodes) exchange gradients through NCCL, and this ferrosea-train was built without it; \
         rebuild with `cargo build --release -p ferrosea-train --features nccl`"
            .into(),
    ))
}
