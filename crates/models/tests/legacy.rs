//! The presets `deepsea` and `danq` now expand into layers; these are the hand-coded forward
//! passes they replaced (DeepSea::forward and DanQ::forward before the layer library), run
//! on the same parameters. The layer-built networks must give the same bits, in evaluation
//! and in training (the same dropout streams), so that checkpoints written before keep
//! predicting what they predicted.

use candle_core::{Device, Module, Tensor};
use ferrosea_models::layers::{dropout, BiLstm, Conv1d, Linear};
use ferrosea_models::*;

fn t(store: &ParamStore, name: &str) -> Tensor {
    store.tensors()[name].clone()
}

fn conv(store: &ParamStore, name: &str) -> Conv1d {
    Conv1d::new(
        t(store, &format!("{name}.weight")),
        t(store, &format!("{name}.bias")),
    )
}

fn linear(store: &ParamStore, name: &str) -> Linear {
    Linear::new(
        t(store, &format!("{name}.weight")),
        t(store, &format!("{name}.bias")),
    )
}

/// The dense tail both had: flatten, `hidden` (ReLU), `output`.
fn head(store: &ParamStore, h: &Tensor) -> Tensor {
    let hidden = linear(store, "hidden")
        .forward(&h.flatten_from(1).unwrap())
        .unwrap()
        .relu()
        .unwrap();
    linear(store, "output").forward(&hidden).unwrap()
}

/// DeepSea::forward as it was: per block conv + ReLU + max pool, dropout with the block's
/// index as its stream; hidden (ReLU), output.
fn old_deepsea(store: &ParamStore, cfg: &DeepSeaConfig, x: &Tensor, mode: Mode) -> Tensor {
    let mut h = x.clone();
    for (i, block) in cfg.conv.iter().enumerate() {
        h = conv(store, &format!("conv{}", i + 1))
            .forward_relu_pool(&h, block.pool)
            .unwrap();
        h = dropout(&h, block.dropout, i as u64, mode).unwrap();
    }
    head(store, &h)
}

/// DanQ::forward as it was.
fn old_danq(store: &ParamStore, cfg: &DanQConfig, x: &Tensor, mode: Mode) -> Tensor {
    let h = conv(store, "conv1").forward_relu_pool(x, cfg.pool).unwrap();
    let h = dropout(&h, cfg.conv_dropout, 0, mode).unwrap();
    // BiLstm::new finds the existing parameters in the store.
    let lstm = BiLstm::new(
        &store.builder(&Device::Cpu),
        "lstm",
        cfg.filters,
        cfg.lstm_hidden,
        cfg.gate_activation,
    )
    .unwrap();
    let h = lstm
        .forward(&h.transpose(1, 2).unwrap().contiguous().unwrap())
        .unwrap();
    let h = dropout(&h, cfg.lstm_dropout, 1, mode).unwrap();
    head(store, &h)
}

fn one_hot(batch: usize, len: usize, seed: u64) -> Tensor {
    let mut v = vec![0f32; batch * 4 * len];
    let mut s = seed;
    for b in 0..batch {
        for p in 0..len {
            s = params::mix(s);
            v[b * 4 * len + (s % 4) as usize * len + p] = 1.0;
        }
    }
    Tensor::from_vec(v, (batch, 4, len), &Device::Cpu).unwrap()
}

fn bits(t: &Tensor) -> Vec<u32> {
    t.flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .map(|v| v.to_bits())
        .collect()
}

fn preset(name: &str) -> ModelConfig {
    let path = format!(
        "{}/../train/presets/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    serde_json::from_value(v["model"].clone()).unwrap()
}

#[test]
fn presets_give_the_bits_of_the_hand_coded_networks() {
    let dev = Device::Cpu;
    for name in ["deepsea-tiny", "danq-tiny", "danq-jaspar-tiny"] {
        let cfg = preset(name);
        let store = ParamStore::new(11);
        let net = Network::new(&cfg, 1000, 13, &store.builder(&dev)).unwrap();
        let x = one_hot(6, 1000, 5);
        let key = DropoutKey {
            seed: 3,
            step: 7,
            first_sample: 64,
        };
        for mode in [Mode::Eval, Mode::Train(key)] {
            let new = net.forward(&x, mode).unwrap().logits;
            let old = match &cfg {
                ModelConfig::Deepsea(c) => old_deepsea(&store, c, &x, mode),
                ModelConfig::Danq(c) => old_danq(&store, c, &x, mode),
                ModelConfig::Layers(_) => unreachable!("{name} is a compact preset"),
            };
            assert_eq!(bits(&new), bits(&old), "{name} {mode:?}");
        }
        // The layers' names are the old checkpoint keys.
        let keys: Vec<String> = store.tensors().into_keys().collect();
        let expected: Vec<&str> = match &cfg {
            ModelConfig::Deepsea(c) => {
                let mut k: Vec<String> = (1..=c.conv.len())
                    .flat_map(|i| [format!("conv{i}.bias"), format!("conv{i}.weight")])
                    .collect();
                k.extend(
                    [
                        "hidden.bias",
                        "hidden.weight",
                        "output.bias",
                        "output.weight",
                    ]
                    .map(String::from),
                );
                assert_eq!(keys, k, "{name}");
                continue;
            }
            _ => vec![
                "conv1.bias",
                "conv1.weight",
                "hidden.bias",
                "hidden.weight",
                "lstm.backward.bias",
                "lstm.backward.weight_hh",
                "lstm.backward.weight_ih",
                "lstm.forward.bias",
                "lstm.forward.weight_hh",
                "lstm.forward.weight_ih",
                "output.bias",
                "output.weight",
            ],
        };
        assert_eq!(keys, expected, "{name}");
    }
}
