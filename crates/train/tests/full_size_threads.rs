//! The bytes of a full-size training step do not depend on the thread count: DeepSEA's and
//! DanQ's gradients (batch 64, window 1000, 919 targets) on pools of 1, 2 and 3 threads.
//! The CLI test checks this end to end on the tiny presets, whose matrices are too small
//! for `gemm` to split across threads; here they are large enough.
//!
//! Slow in a debug build, so ignored by default:
//! `cargo test --release -p ferrosea-train --test full_size_threads -- --ignored`.

use candle_core::{Device, Tensor};
use ferrosea_models::{DropoutKey, Mode, Network, ParamStore};
use ferrosea_runtime::loss::bce_with_logits_sum;
use ferrosea_train::TrainConfig;

/// Loss and every gradient's bits after one forward and backward pass.
fn step_bits(preset: &str) -> (u32, Vec<Vec<u32>>) {
    let cfg = TrainConfig::preset(preset).unwrap();
    let dev = Device::Cpu;
    let store = ParamStore::new(3);
    let net = Network::new(&cfg.model, 1000, 919, &store.builder(&dev)).unwrap();
    let (mut x, mut y) = (vec![0f32; 64 * 4 * 1000], vec![0f32; 64 * 919]);
    let mut s = 1u64;
    let mut next = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        s >> 33
    };
    for b in 0..64 {
        for p in 0..1000 {
            x[b * 4000 + (next() % 4) as usize * 1000 + p] = 1.0;
        }
    }
    for v in &mut y {
        *v = (next() % 20 == 0) as u8 as f32;
    }
    let x = Tensor::from_vec(x, (64, 4, 1000), &dev).unwrap();
    let y = Tensor::from_vec(y, (64, 919), &dev).unwrap();
    let key = DropoutKey {
        seed: 1,
        step: 0,
        first_sample: 0,
    };
    let out = net.forward(&x, Mode::Train(key)).unwrap();
    let loss = (bce_with_logits_sum(&out.logits, &y).unwrap() / (64.0 * 919.0)).unwrap();
    let grads = loss.backward().unwrap();
    let bits = store
        .vars()
        .iter()
        .map(|(_, v)| {
            let g = grads.get(v.as_tensor()).unwrap();
            let g = g.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            g.iter().map(|f| f.to_bits()).collect()
        })
        .collect();
    (loss.to_scalar::<f32>().unwrap().to_bits(), bits)
}

#[test]
#[ignore = "full-size networks: run in release with --ignored"]
fn full_size_gradients_do_not_depend_on_the_thread_count() {
    for preset in ["deepsea", "danq"] {
        let on = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| step_bits(preset))
        };
        let one = on(1);
        assert!(
            one.1.iter().flatten().any(|&b| b != 0),
            "{preset}: all gradients zero"
        );
        for threads in [2, 3] {
            assert!(
                on(threads) == one,
                "{preset}: {threads} threads differ from 1"
            );
        }
    }
}
