//! DanQ's bidirectional LSTM (75 steps of 320 inputs, 320 units per direction, batch 64),
//! forward and backward: ours (`ferrosea_models::layers::BiLstm`: one matrix product for the
//! input projections of all steps and both directions, one batched recurrent product per
//! step) against two of candle-nn's `LSTM` (one per direction, run through `seq`), in the
//! same run on the same input.
//!
//! `cargo bench -p ferrosea-benches --bench lstm` (threads: `BENCH_THREADS`, default 2;
//! repetitions: `BENCH_STEPS`, default 5).

use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::rnn::{LSTMConfig, RNN};
use ferrosea_models::layers::{BiLstm, GateActivation};
use ferrosea_models::ParamStore;

const BATCH: usize = 64;
const STEPS: usize = 75;
const INPUT: usize = 320;
const HIDDEN: usize = 320;

fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let t = Instant::now();
    for _ in 0..reps {
        f();
    }
    t.elapsed().as_secs_f64() / reps as f64
}

fn main() {
    let threads = ferrosea_benches::env_usize("BENCH_THREADS", 2);
    let reps = ferrosea_benches::env_usize("BENCH_STEPS", 5);
    unsafe { std::env::set_var("RAYON_NUM_THREADS", threads.to_string()) };
    let dev = Device::Cpu;
    let x = Tensor::randn(0f32, 1., (BATCH, STEPS, INPUT), &dev).unwrap();
    let r = Tensor::randn(0f32, 1., (BATCH, STEPS, 2 * HIDDEN), &dev).unwrap();

    let store = ParamStore::new(1);
    let ours = BiLstm::new(
        &store.builder(&dev),
        "lstm",
        INPUT,
        HIDDEN,
        GateActivation::Sigmoid,
    )
    .unwrap();
    let ours_fwd = time(reps, || {
        ours.forward(&x)
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
    });
    let xv = candle_core::Var::from_tensor(&x).unwrap();
    let ours_train = time(reps, || {
        let y = ours.forward(xv.as_tensor()).unwrap();
        (y * &r).unwrap().sum_all().unwrap().backward().unwrap();
    });

    let map = candle_nn::VarMap::new();
    let vb = candle_nn::VarBuilder::from_varmap(&map, DType::F32, &dev);
    let fwd = candle_nn::rnn::lstm(INPUT, HIDDEN, LSTMConfig::default(), vb.pp("f")).unwrap();
    let bwd = candle_nn::rnn::lstm(INPUT, HIDDEN, LSTMConfig::default(), vb.pp("b")).unwrap();
    let candle_bi = |x: &Tensor| -> Tensor {
        let states = |m: &candle_nn::rnn::LSTM, x: &Tensor| -> Vec<Tensor> {
            m.seq(x).unwrap().iter().map(|s| s.h().clone()).collect()
        };
        let f = Tensor::stack(&states(&fwd, x), 1).unwrap();
        let reversed: Vec<u32> = (0..STEPS as u32).rev().collect();
        let idx = Tensor::from_vec(reversed, STEPS, &dev).unwrap();
        let mut b = states(&bwd, &x.index_select(&idx, 1).unwrap());
        b.reverse();
        let b = Tensor::stack(&b, 1).unwrap();
        Tensor::cat(&[f, b], 2).unwrap()
    };
    let candle_fwd = time(reps, || {
        candle_bi(&x).sum_all().unwrap().to_scalar::<f32>().unwrap();
    });
    let candle_train = time(reps, || {
        let y = candle_bi(xv.as_tensor());
        (y * &r).unwrap().sum_all().unwrap().backward().unwrap();
    });

    println!("BiLSTM, CPU, {threads} threads, batch {BATCH}, {STEPS} steps, {INPUT} inputs, {HIDDEN} units per direction, mean of {reps} after 1 warm-up");
    println!(
        "{:<28} {:>12} {:>20}",
        "", "forward ms", "forward+backward ms"
    );
    println!(
        "{:<28} {:>12.1} {:>20.1}",
        "ferrosea BiLstm",
        ours_fwd * 1e3,
        ours_train * 1e3
    );
    println!(
        "{:<28} {:>12.1} {:>20.1}",
        "candle-nn LSTM x 2",
        candle_fwd * 1e3,
        candle_train * 1e3
    );
    println!(
        "{:<28} {:>12.2} {:>20.2}",
        "speed-up",
        candle_fwd / ours_fwd,
        candle_train / ours_train
    );
}
