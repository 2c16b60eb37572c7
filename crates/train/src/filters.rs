//! Motif-initialised first-layer filters (DanQ-JASPAR).

use std::path::Path;

use candle_core::Tensor;
use ferrosea_models::params::rng_for;
use ferrosea_models::ParamStore;
use rand::Rng;

use crate::TrainError;

/// Starts the first convolution's filters from motifs, DanQ-JASPAR's way: each motif and
/// then its reverse complement, in file order, as many as there are filters; the filter
/// gets PFM - 0.25 at a random offset inside the kernel and a bias drawn from U(-1, 0).
pub fn init_filters(
    store: &ParamStore,
    model: &ferrosea_models::ModelConfig,
    path: &Path,
    seed: u64,
) -> Result<usize, TrainError> {
    let motifs = ferrosea_motifs::read_meme(path).map_err(|e| TrainError::Data(e.to_string()))?;
    let Some((conv, width)) = model.first_conv() else {
        return Err(TrainError::Data(format!(
            "{}: --init-filters needs a model whose first layer is a convolution",
            path.display()
        )));
    };
    let wname = format!("{conv}.weight");
    let bname = format!("{conv}.bias");
    let tensors = store.tensors();
    let w = &tensors[&wname];
    let (filters, channels, k) = w.dims3()?;
    debug_assert_eq!(k, width);
    let mut wv = w.flatten_all()?.to_vec1::<f32>()?;
    let Some(b) = tensors.get(&bname) else {
        return Err(TrainError::Data(format!(
            "{}: --init-filters needs the first convolution to have a bias ({conv} has \"bias\": false)",
            path.display()
        )));
    };
    let mut bv = b.to_vec1::<f32>()?;
    let mut too_wide = 0;
    let mut used = 0;
    let candidates = motifs
        .iter()
        .flat_map(|m| [m.clone(), m.reverse_complement()]);
    for m in candidates {
        if used == filters {
            break;
        }
        if m.width() > k {
            too_wide += 1;
            continue;
        }
        let mut rng = rng_for(seed, &[0x1f17, used as u64]);
        let offset = rng.random_range(0..=k - m.width());
        let f = used;
        for c in 0..channels {
            for p in 0..k {
                wv[(f * channels + c) * k + p] = 0.0;
            }
            for (j, row) in m.pfm.iter().enumerate() {
                wv[(f * channels + c) * k + offset + j] = (row[c] - 0.25) as f32;
            }
        }
        bv[f] = rng.random_range(-1.0f32..0.0);
        used += 1;
    }
    if used == 0 {
        return Err(TrainError::Data(format!(
            "{}: no motif fits the {k}-wide first-layer filters ({too_wide} are wider)",
            path.display()
        )));
    }
    if too_wide > 0 {
        tracing::warn!(
            "{}: {too_wide} motifs (or reverse complements) wider than {k} positions were skipped",
            path.display()
        );
    }
    let device = w.device();
    store.set(
        &wname,
        &Tensor::from_vec(wv, (filters, channels, k), device)?,
    )?;
    store.set(&bname, &Tensor::from_vec(bv, filters, device)?)?;
    Ok(used)
}
