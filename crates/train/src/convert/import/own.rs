//! ferrosea's own PyTorch export (`model.safetensors` + `config.json`) read back.

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use ferrosea_models::spec::Layers;

use super::{ImportOptions, Model, Weights};
use crate::TrainError;

/// ferrosea's own PyTorch export: `config.json` and `model.safetensors`.
pub(super) fn own_export(opts: &ImportOptions) -> Result<(Model, serde_json::Value), TrainError> {
    let dir = if opts.weights.is_dir() {
        opts.weights.clone()
    } else {
        opts.weights
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf()
    };
    let config_path = dir.join("config.json");
    let text = std::fs::read_to_string(&config_path)
        .map_err(|e| TrainError::Io(config_path.clone(), e))?;
    let spec: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        TrainError::Data(format!(
            "{}: not the config.json of ferrosea-train export ({e})",
            config_path.display()
        ))
    })?;
    let weights = dir.join("model.safetensors");
    let tensors = candle_core::safetensors::load(&weights, &Device::Cpu)
        .map_err(|e| TrainError::Data(format!("{}: {e}", weights.display())))?;
    let layers: Layers = serde_json::from_value(spec["layers"].clone())
        .map_err(|e| TrainError::Data(format!("{}: layers: {e}", config_path.display())))?;
    let w = Weights {
        file: weights,
        what: "the export's model.py",
        tensors: tensors.into_iter().collect(),
    };
    let mut t = BTreeMap::new();
    unexport(&layers, &w, &mut t)?;
    let out = w.get("output.weight", &[None, None])?;
    t.insert("output.weight".into(), out.clone());
    t.insert(
        "output.bias".into(),
        w.get("output.bias", &[Some(out.dim(0)?)])?,
    );
    let window = spec["window"].as_u64().unwrap_or(1000) as usize;
    Ok((
        Model {
            layers: spec["layers"].clone(),
            tensors: t,
            outputs: out.dim(0)?,
            window,
            notes: Vec::new(),
        },
        spec,
    ))
}

/// The export's PyTorch keys back to ours, by the key map export writes with
/// ([`super::pytorch::key_pairs`]).
fn unexport(
    layers: &Layers,
    w: &Weights,
    t: &mut BTreeMap<String, Tensor>,
) -> Result<(), TrainError> {
    use crate::convert::pytorch::{key_pairs, Theirs};
    let (mut pairs, mut pytorch_only) = (Vec::new(), Vec::new());
    key_pairs(
        &ferrosea_models::spec::named(layers),
        "",
        &mut pairs,
        &mut pytorch_only,
    )?;
    let get = |key: &str| -> Result<Tensor, TrainError> {
        w.tensors
            .get(key)
            .cloned()
            .ok_or_else(|| TrainError::Data(format!("{}: no tensor {key}", w.file.display())))
    };
    for p in pairs {
        let v = match &p.theirs {
            Theirs::Key(k) => get(k)?,
            Theirs::SplitBias(ih, hh) => (get(ih)? + get(hh)?)?,
        };
        t.insert(p.ours, v);
    }
    Ok(())
}
