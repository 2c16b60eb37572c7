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

/// The PyTorch state dict of `layers` (each named) from ferrosea's `tensors`, keys under
/// `prefix`.
fn layer_keys(
    layers: &Layers,
    prefix: &str,
    tensors: &BTreeMap<String, Tensor>,
    out: &mut BTreeMap<String, Tensor>,
) -> Result<(), TrainError> {
    for layer in &layers.0 {
        let own = layer.name.as_deref().expect("named layers");
        if own.contains('.') {
            return Err(TrainError::Data(format!(
                "layer {own}: a PyTorch module name cannot hold '.'; rename the layer"
            )));
        }
        let name = format!("{prefix}{own}");
        let mut copy = |suffix: &str| -> Result<(), TrainError> {
            let key = format!("{name}.{suffix}");
            out.insert(key.clone(), take(tensors, &key, &name)?);
            Ok(())
        };
        match &layer.kind {
            LayerKind::Conv(c) => {
                copy("weight")?;
                if c.bias {
                    copy("bias")?;
                }
            }
            LayerKind::Dense(d) => {
                copy("weight")?;
                if d.bias {
                    copy("bias")?;
                }
            }
            LayerKind::BatchNorm(_) => {
                for k in ["weight", "bias", "running_mean", "running_var"] {
                    copy(k)?;
                }
                out.insert(
                    format!("{name}.num_batches_tracked"),
                    Tensor::zeros((), DType::I64, &Device::Cpu)?,
                );
            }
            LayerKind::Residual { body } => layer_keys(body, &format!("{name}."), tensors, out)?,
            LayerKind::Recurrent(r) => {
                let dirs: &[(&str, &str)] = if r.bidirectional {
                    &[("forward", ""), ("backward", "_reverse")]
                } else {
                    &[("forward", "")]
                };
                for (dir, suffix) in dirs {
                    let ours = |k: &str| take(tensors, &format!("{name}.{dir}.{k}"), &name);
                    out.insert(format!("{name}.weight_ih_l0{suffix}"), ours("weight_ih")?);
                    out.insert(format!("{name}.weight_hh_l0{suffix}"), ours("weight_hh")?);
                    let (b_ih, b_hh) = match r.cell {
                        Cell::Gru => (ours("bias_ih")?, ours("bias_hh")?),
                        Cell::Lstm | Cell::Simple => {
                            let b = ours("bias")?;
                            let zeros = b.zeros_like()?;
                            (b, zeros)
                        }
                    };
                    out.insert(format!("{name}.bias_ih_l0{suffix}"), b_ih);
                    out.insert(format!("{name}.bias_hh_l0{suffix}"), b_hh);
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
    let mut out = BTreeMap::new();
    layer_keys(&model.layers, "", &model.tensors, &mut out)?;
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
