//! Export as PyTorch: `model.py`, a self-contained `nn.Module` that interprets the layer list
//! (the template `model.py` beside this file, with the checkpoint's description written in),
//! and `model.safetensors`, its state dict.
//!
//! The keys are ferrosea's (`conv1.weight`, `block1.conv1.bias`, `output.weight`), except
//! where PyTorch's modules name their own parameters:
//!
//! | ferrosea | PyTorch |
//! |---|---|
//! | `lstm.forward.weight_ih`, `weight_hh`, `bias` (LSTM, simple RNN) | `lstm.weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0` (= our bias), `bias_hh_l0` (zeros) |
//! | `gru.forward.bias_ih`, `bias_hh` | `gru.bias_ih_l0`, `bias_hh_l0` |
//! | `*.backward.*` | `*_reverse` |
//! | batch norm `weight`, `bias`, `running_mean`, `running_var` | the same, and `num_batches_tracked` (0) |
//!
//! Both use the gate order i, f, g, o (LSTM) and r, z, n (GRU). A recurrent layer with
//! Keras' hard-sigmoid gates (DanQ imported from Keras) becomes `model.py`'s own
//! `Recurrent` module with the same parameters, since torch's cannot use that gate.

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use ferrosea_models::spec::{Cell, LayerKind, Layers};

use super::Exported;
use crate::TrainError;

/// The template of `model.py` (`__SPEC__` stands for the description).
pub const PYTORCH_TEMPLATE: &str = include_str!("model.py");

fn take(tensors: &BTreeMap<String, Tensor>, key: &str, layer: &str) -> Result<Tensor, TrainError> {
    tensors.get(key).cloned().ok_or_else(|| {
        TrainError::Data(format!(
            "the checkpoint has no {key} (layer {layer}): its weights do not match its recipe"
        ))
    })
}

/// One parameter of ours and where `model.py`'s state dict keeps it: the one key map that
/// export writes by and `import --from pytorch` reads back by.
pub(super) struct KeyPair {
    /// The layer (for messages).
    pub layer: String,
    /// Our key.
    pub ours: String,
    /// PyTorch's key(s).
    pub theirs: Theirs,
}

/// Where PyTorch keeps one of our parameters.
pub(super) enum Theirs {
    /// The same tensor under this key.
    Key(String),
    /// Our single recurrent bias (LSTM, simple RNN) as PyTorch's `bias_ih` (ours) and
    /// `bias_hh` (zeros on export); ours is their sum.
    SplitBias(String, String),
}

/// The key pairs of `layers` (each named), under `prefix`, and the keys only PyTorch has
/// (batch norm's `num_batches_tracked`).
pub(super) fn key_pairs(
    layers: &Layers,
    prefix: &str,
    pairs: &mut Vec<KeyPair>,
    pytorch_only: &mut Vec<String>,
) -> Result<(), TrainError> {
    for layer in &layers.0 {
        let own = layer.name.as_deref().expect("named layers");
        if own.contains('.') {
            return Err(TrainError::Data(format!(
                "layer {own}: a PyTorch module name cannot hold '.'; rename the layer"
            )));
        }
        let name = format!("{prefix}{own}");
        let mut same = |k: &str| {
            pairs.push(KeyPair {
                layer: name.clone(),
                ours: format!("{name}.{k}"),
                theirs: Theirs::Key(format!("{name}.{k}")),
            })
        };
        match &layer.kind {
            LayerKind::Conv(c) => {
                same("weight");
                if c.bias {
                    same("bias");
                }
            }
            LayerKind::Dense(d) => {
                same("weight");
                if d.bias {
                    same("bias");
                }
            }
            LayerKind::BatchNorm(_) => {
                for k in ["weight", "bias", "running_mean", "running_var"] {
                    same(k);
                }
                pytorch_only.push(format!("{name}.num_batches_tracked"));
            }
            LayerKind::Residual { body } => {
                key_pairs(body, &format!("{name}."), pairs, pytorch_only)?
            }
            LayerKind::Recurrent(r) => {
                let dirs: &[(&str, &str)] = if r.bidirectional {
                    &[("forward", ""), ("backward", "_reverse")]
                } else {
                    &[("forward", "")]
                };
                for (dir, suffix) in dirs {
                    let pair = |ours: &str, theirs: Theirs| KeyPair {
                        layer: name.clone(),
                        ours: format!("{name}.{dir}.{ours}"),
                        theirs,
                    };
                    let theirs = |k: &str| format!("{name}.{k}_l0{suffix}");
                    pairs.push(pair("weight_ih", Theirs::Key(theirs("weight_ih"))));
                    pairs.push(pair("weight_hh", Theirs::Key(theirs("weight_hh"))));
                    match r.cell {
                        Cell::Gru => {
                            pairs.push(pair("bias_ih", Theirs::Key(theirs("bias_ih"))));
                            pairs.push(pair("bias_hh", Theirs::Key(theirs("bias_hh"))));
                        }
                        Cell::Lstm | Cell::Simple => pairs.push(pair(
                            "bias",
                            Theirs::SplitBias(theirs("bias_ih"), theirs("bias_hh")),
                        )),
                    }
                }
            }
            LayerKind::Dropout { .. }
            | LayerKind::Flatten {}
            | LayerKind::Activation { .. }
            | LayerKind::Pool { .. } => {}
        }
    }
    Ok(())
}

/// The state dict of `model.py`'s `Net` for this checkpoint.
pub fn pytorch_state_dict(model: &Exported) -> Result<BTreeMap<String, Tensor>, TrainError> {
    let (mut pairs, mut pytorch_only) = (Vec::new(), Vec::new());
    key_pairs(&model.layers, "", &mut pairs, &mut pytorch_only)?;
    let mut out = BTreeMap::new();
    for p in pairs {
        let ours = take(&model.tensors, &p.ours, &p.layer)?;
        match p.theirs {
            Theirs::Key(k) => {
                out.insert(k, ours);
            }
            Theirs::SplitBias(ih, hh) => {
                out.insert(hh, ours.zeros_like()?);
                out.insert(ih, ours);
            }
        }
    }
    for k in pytorch_only {
        out.insert(k, Tensor::zeros((), DType::I64, &Device::Cpu)?);
    }
    for k in ["output.weight", "output.bias"] {
        out.insert(k.into(), take(&model.tensors, k, "output")?);
    }
    Ok(out)
}

/// Writes `model.py`, `model.safetensors` and `config.json` (the description, which
/// `import --from pytorch` reads back) into `dir`.
pub(super) fn write(model: &Exported, dir: &Path) -> Result<(), TrainError> {
    let state = pytorch_state_dict(model)?;
    let spec = model.spec_json();
    let text = serde_json::to_string_pretty(&spec).expect("JSON");
    if text.contains("\"\"\"") {
        return Err(TrainError::Data(
            "a target name holds three double quotes in a row, which model.py cannot embed".into(),
        ));
    }
    super::write_safetensors(&dir.join("model.safetensors"), &state)?;
    super::write_file(&dir.join("config.json"), (text.clone() + "\n").as_bytes())?;
    super::write_file(
        &dir.join("model.py"),
        PYTORCH_TEMPLATE.replace("__SPEC__", &text).as_bytes(),
    )?;
    Ok(())
}
