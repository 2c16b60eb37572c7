use candle_core::{Device, Tensor, Var, D};

use super::*;
use crate::layers::{dropout, max_pool1d, relu_max_pool1d, BiLstm};

fn danq(filters: usize, width: usize, pool: usize, lstm: usize, hidden: usize) -> ModelConfig {
    ModelConfig::Danq(DanQConfig {
        filters,
        width,
        pool,
        conv_dropout: 0.2,
        lstm_hidden: lstm,
        lstm_dropout: 0.5,
        hidden,
        gate_activation: GateActivation::HardSigmoid,
        init: InitScheme::Keras,
    })
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

#[test]
fn danq_summary_matches_the_paper() {
    let store = ParamStore::new(1);
    let net = Network::new(
        &danq(320, 26, 13, 320, 925),
        1000,
        919,
        &store.builder(&Device::Cpu),
    )
    .unwrap();
    let rows = net.summary();
    let row = |name: &str| rows.iter().find(|r| r.layer == name).unwrap();
    assert_eq!(row("conv1").params, 33_600);
    assert_eq!(row("conv1.pool").shape, vec![320, 75]);
    assert_eq!(row("lstm").params, 1_640_960);
    assert_eq!(row("flatten").shape, vec![48_000]);
    assert!(row("lstm").note.contains("one bias per gate"));
    // The table's counts are the parameters the store really holds.
    assert_eq!(rows.iter().map(|r| r.params).sum::<usize>(), store.count());
    let text = format_summary(rows);
    assert!(text.contains("1,640,960"), "{text}");
}

#[test]
fn deepsea_shapes_and_counts() {
    let cfg: ModelConfig = serde_json::from_str(
        r#"{"arch": "deepsea", "conv": [
            {"filters": 320, "width": 8, "pool": 4, "dropout": 0.2},
            {"filters": 480, "width": 8, "pool": 4, "dropout": 0.2},
            {"filters": 960, "width": 8, "dropout": 0.5}], "hidden": 925}"#,
    )
    .unwrap();
    let store = ParamStore::new(1);
    let net = Network::new(&cfg, 1000, 919, &store.builder(&Device::Cpu)).unwrap();
    let rows = net.summary();
    let flat = rows.iter().find(|r| r.layer == "flatten").unwrap();
    assert_eq!(flat.shape, vec![50_880]);
    assert_eq!(rows.iter().map(|r| r.params).sum::<usize>(), store.count());
    let names: Vec<String> = store.vars().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "conv1.bias",
            "conv1.weight",
            "conv2.bias",
            "conv2.weight",
            "conv3.bias",
            "conv3.weight",
            "hidden.bias",
            "hidden.weight",
            "output.bias",
            "output.weight"
        ]
    );
}

#[test]
fn unknown_keys_and_short_windows_are_refused() {
    let err = serde_json::from_str::<ModelConfig>(r#"{"arch": "danq", "filters": 3, "width": 2, "pool": 2, "conv_dropout": 0, "lstm_hidden": 2, "lstm_dropout": 0, "hidden": 2, "lstm_units": 4}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("lstm_units"), "{err}");
    let err = serde_json::from_str::<ModelConfig>(r#"{"arch": "resnet"}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("resnet"), "{err}");
    let store = ParamStore::new(1);
    let err = Network::new(&danq(8, 26, 13, 4, 8), 30, 3, &store.builder(&Device::Cpu))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("window of 30 positions") && err.contains("conv1"),
        "{err}"
    );
}

#[test]
fn forward_gives_one_logit_per_target() {
    for cfg in [
        danq(8, 6, 5, 4, 16),
        serde_json::from_str(r#"{"arch": "deepsea", "conv": [{"filters": 8, "width": 5, "pool": 3, "dropout": 0.2}, {"filters": 6, "width": 3}], "hidden": 10}"#).unwrap(),
    ] {
        let store = ParamStore::new(3);
        let net = Network::new(&cfg, 60, 7, &store.builder(&Device::Cpu)).unwrap();
        let x = one_hot(5, 60, 9);
        let eval = net.forward(&x, Mode::Eval).unwrap();
        assert_eq!(eval.logits.dims(), &[5, 7]);
        let key = DropoutKey { seed: 1, step: 0, first_sample: 0 };
        let a = net.forward(&x, Mode::Train(key)).unwrap().logits.to_vec2::<f32>().unwrap();
        let b = net.forward(&x, Mode::Train(key)).unwrap().logits.to_vec2::<f32>().unwrap();
        assert_eq!(a, b, "same dropout key, same output");
        assert_ne!(a, eval.logits.to_vec2::<f32>().unwrap());
        // Rows 2.. of the batch, given their global position, see the same masks.
        let tail = net
            .forward(&x.narrow(0, 2, 3).unwrap(), Mode::Train(DropoutKey { first_sample: 2, ..key }))
            .unwrap()
            .logits
            .to_vec2::<f32>()
            .unwrap();
        for (r, row) in tail.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                assert!((v - a[r + 2][c]).abs() < 1e-5);
            }
        }
    }
}

/// Plain per-step LSTM in f64, one direction, Keras gate order and hard sigmoid.
fn reference_lstm(
    x: &[Vec<f64>],
    w_ih: &[f32],
    w_hh: &[f32],
    bias: &[f32],
    h: usize,
) -> Vec<Vec<f64>> {
    let i_dim = x[0].len();
    let hs = |v: f64| (0.2 * v + 0.5).clamp(0.0, 1.0);
    let (mut hv, mut cv) = (vec![0f64; h], vec![0f64; h]);
    let mut out = Vec::new();
    for xt in x {
        let mut g = vec![0f64; 4 * h];
        for (r, gr) in g.iter_mut().enumerate() {
            *gr = bias[r] as f64
                + (0..i_dim)
                    .map(|k| w_ih[r * i_dim + k] as f64 * xt[k])
                    .sum::<f64>()
                + (0..h).map(|k| w_hh[r * h + k] as f64 * hv[k]).sum::<f64>();
        }
        for u in 0..h {
            let (ig, fg, gg, og) = (
                hs(g[u]),
                hs(g[h + u]),
                g[2 * h + u].tanh(),
                hs(g[3 * h + u]),
            );
            cv[u] = fg * cv[u] + ig * gg;
            hv[u] = og * cv[u].tanh();
        }
        out.push(hv.clone());
    }
    out
}

#[test]
fn bilstm_matches_a_plain_loop() {
    let (b, t, i, h) = (2, 5, 3, 4);
    let store = ParamStore::new(11);
    let vb = store.builder(&Device::Cpu);
    let lstm = BiLstm::new(&vb, "lstm", i, h, GateActivation::HardSigmoid).unwrap();
    // Non-zero biases so that the test sees them.
    for dir in ["forward", "backward"] {
        let n = format!("lstm.{dir}.bias");
        let v: Vec<f32> = (0..4 * h).map(|k| (k as f32 * 0.37).sin()).collect();
        store
            .set(&n, &Tensor::new(v, &Device::Cpu).unwrap())
            .unwrap();
    }
    let lstm = {
        drop(lstm);
        BiLstm::new(&vb, "lstm", i, h, GateActivation::HardSigmoid).unwrap()
    };
    let xv: Vec<f32> = (0..b * t * i)
        .map(|k| ((k * 7919) % 13) as f32 / 6.0 - 1.0)
        .collect();
    let x = Tensor::from_vec(xv.clone(), (b, t, i), &Device::Cpu).unwrap();
    let out = lstm.forward(&x).unwrap();
    assert_eq!(out.dims(), &[b, t, 2 * h]);
    let out = out.to_vec3::<f32>().unwrap();
    let p = store.tensors();
    let flat = |n: &str| p[n].flatten_all().unwrap().to_vec1::<f32>().unwrap();
    for bi in 0..b {
        let seq: Vec<Vec<f64>> = (0..t)
            .map(|s| (0..i).map(|k| xv[(bi * t + s) * i + k] as f64).collect())
            .collect();
        let fwd = reference_lstm(
            &seq,
            &flat("lstm.forward.weight_ih"),
            &flat("lstm.forward.weight_hh"),
            &flat("lstm.forward.bias"),
            h,
        );
        let rev: Vec<Vec<f64>> = seq.iter().rev().cloned().collect();
        let mut bwd = reference_lstm(
            &rev,
            &flat("lstm.backward.weight_ih"),
            &flat("lstm.backward.weight_hh"),
            &flat("lstm.backward.bias"),
            h,
        );
        bwd.reverse();
        for s in 0..t {
            for u in 0..h {
                assert!(
                    (out[bi][s][u] as f64 - fwd[s][u]).abs() < 1e-5,
                    "forward b{bi} t{s} u{u}"
                );
                assert!(
                    (out[bi][s][h + u] as f64 - bwd[s][u]).abs() < 1e-5,
                    "backward b{bi} t{s} u{u}"
                );
            }
        }
    }
    // The forget-gate bias starts at one, the others at zero (Keras).
    let fresh = ParamStore::new(1);
    BiLstm::new(
        &fresh.builder(&Device::Cpu),
        "l",
        2,
        3,
        GateActivation::Sigmoid,
    )
    .unwrap();
    let bias = fresh.tensors()["l.forward.bias"].to_vec1::<f32>().unwrap();
    assert_eq!(bias, [0., 0., 0., 1., 1., 1., 0., 0., 0., 0., 0., 0.]);
}

#[test]
fn max_pool_gradient_goes_to_the_maximum() {
    let x = Var::from_vec(vec![1f32, 5., 2., 0., 3., 4., 9.], (1, 1, 7), &Device::Cpu).unwrap();
    let y = max_pool1d(x.as_tensor(), 3).unwrap();
    assert_eq!(y.flatten_all().unwrap().to_vec1::<f32>().unwrap(), [5., 4.]);
    let grads = y.sum_all().unwrap().backward().unwrap();
    let g = grads
        .get(x.as_tensor())
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_eq!(g, [0., 1., 0., 0., 0., 1., 0.]);
}

/// The fused convolution + ReLU + pooling op gives the bits of the convolution op followed
/// by Candle's ReLU and max pooling, forward and for every gradient, with and without an
/// input gradient, for sample counts that leave a partial group and pools that leave a
/// remainder (random values: no ties, where Candle's max would share the gradient).
#[test]
fn fused_conv_relu_pool_gives_the_bits_of_the_two_ops() {
    let (b, c, l, o, k) = (19, 5, 40, 7, 6);
    let mut s = 5u64;
    let mut draw = |len: usize| -> Vec<f32> {
        (0..len)
            .map(|_| {
                s = params::mix(s);
                (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    };
    let (xv, wv, bv) = (draw(b * c * l), draw(o * c * k), draw(o));
    let up = draw(b * o * (l - k + 1));
    for pool in [1, 3, 4] {
        for input_grad in [false, true] {
            let run = |fused: bool| {
                let x = Var::from_vec(xv.clone(), (b, c, l), &Device::Cpu).unwrap();
                let w = Var::from_vec(wv.clone(), (o, c, k), &Device::Cpu).unwrap();
                let bias = Var::from_vec(bv.clone(), o, &Device::Cpu).unwrap();
                let conv =
                    crate::layers::Conv1d::new(w.as_tensor().clone(), bias.as_tensor().clone());
                // A tracked input, as behind another layer, or plain data.
                let input = if input_grad {
                    x.as_tensor().clone()
                } else {
                    x.as_tensor().detach()
                };
                let y = if fused {
                    conv.forward_relu_pool(&input, pool).unwrap()
                } else {
                    relu_max_pool1d(&candle_core::Module::forward(&conv, &input).unwrap(), pool)
                        .unwrap()
                };
                let n = y.elem_count();
                let upstream = Tensor::from_vec(up[..n].to_vec(), y.shape(), &Device::Cpu).unwrap();
                let g = (&y * &upstream)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap();
                let bits = |t: &Tensor| -> Vec<u32> {
                    let v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                    v.iter().map(|f| f.to_bits()).collect()
                };
                let dx = g.get(x.as_tensor()).map(bits);
                (
                    bits(&y),
                    bits(g.get(w.as_tensor()).unwrap()),
                    bits(g.get(bias.as_tensor()).unwrap()),
                    dx,
                )
            };
            let (fused, plain) = (run(true), run(false));
            assert_eq!(fused, plain, "pool {pool}, input gradient {input_grad}");
            assert_eq!(fused.3.is_some(), input_grad);
        }
    }
}

/// The CPU op of the dense layer against the Candle ops of other devices: values and the
/// gradients of input, weight and bias.
#[test]
fn dense_op_matches_candle_ops() {
    let (n, i, o) = (5, 37, 11);
    let mut s = 3u64;
    let mut draw = |len: usize| -> Vec<f32> {
        (0..len)
            .map(|_| {
                s = params::mix(s);
                (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect()
    };
    let x = Var::from_vec(draw(n * i), (n, i), &Device::Cpu).unwrap();
    let w = Var::from_vec(draw(o * i), (o, i), &Device::Cpu).unwrap();
    let b = Var::from_vec(draw(o), o, &Device::Cpu).unwrap();
    let up = Tensor::from_vec(draw(n * o), (n, o), &Device::Cpu).unwrap();
    let layer = crate::layers::Linear::new(w.as_tensor().clone(), b.as_tensor().clone());
    let run = |y: Tensor| {
        let g = (&y * &up).unwrap().sum_all().unwrap().backward().unwrap();
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let grads: Vec<Vec<f32>> = [&x, &w, &b]
            .iter()
            .map(|v| flat(g.get(v.as_tensor()).unwrap()))
            .collect();
        (flat(&y), grads)
    };
    let ours = run(candle_core::Module::forward(&layer, x.as_tensor()).unwrap());
    let candle = run(layer.forward_with_candle(x.as_tensor()).unwrap());
    let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(p, q)| (p - q).abs() <= 1e-5);
    assert!(close(&ours.0, &candle.0));
    for (a, b) in ours.1.iter().zip(&candle.1) {
        assert_eq!(a.len(), b.len());
        assert!(close(a, b), "{a:?}\n{b:?}");
    }
}

/// Ties send the gradient to the first maximum (as PyTorch), a window at or below zero
/// gets none, and a NaN wins its window: the fused op with a convolution that copies its
/// input (one channel, width 1, weight 1, bias 0).
#[test]
fn fused_relu_max_pool_ties_and_nan() {
    let pattern = [2f32, 5., 5., -1., -3., 0., f32::NAN, 7., 1.];
    let x: Vec<f32> = pattern
        .iter()
        .copied()
        .cycle()
        .take(4 * pattern.len())
        .collect();
    let x = Var::from_vec(x, (1, 1, 4 * pattern.len()), &Device::Cpu).unwrap();
    let identity = crate::layers::Conv1d::new(
        Tensor::ones((1, 1, 1), candle_core::DType::F32, &Device::Cpu).unwrap(),
        Tensor::zeros(1, candle_core::DType::F32, &Device::Cpu).unwrap(),
    );
    let y = identity.forward_relu_pool(x.as_tensor(), 3).unwrap();
    let y_v = y.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let g = y.sum_all().unwrap().backward().unwrap();
    let g = g.get(x.as_tensor()).unwrap().flatten_all().unwrap();
    let g = g.to_vec1::<f32>().unwrap();
    for r in 0..4 {
        assert_eq!(y_v[3 * r..3 * r + 2], [5., 0.]);
        assert!(y_v[3 * r + 2].is_nan());
        assert_eq!(g[9 * r..9 * (r + 1)], [0., 1., 0., 0., 0., 0., 0., 0., 0.]);
    }
}

#[test]
fn dropout_keeps_about_one_minus_p_and_rescales() {
    let x = Tensor::ones((4, 10_000), candle_core::DType::F32, &Device::Cpu).unwrap();
    let key = DropoutKey {
        seed: 5,
        step: 2,
        first_sample: 0,
    };
    let y = dropout(&x, 0.2, 0, Mode::Train(key)).unwrap();
    let v = y.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let kept = v.iter().filter(|&&a| a > 0.0).count() as f64 / v.len() as f64;
    assert!((kept - 0.8).abs() < 0.01, "{kept}");
    assert!(v.iter().all(|&a| a == 0.0 || (a - 1.25).abs() < 1e-6));
    let mean = y.mean_all().unwrap().to_scalar::<f32>().unwrap();
    assert!((mean - 1.0).abs() < 0.02);
    let other = dropout(&x, 0.2, 1, Mode::Train(key)).unwrap();
    assert_ne!(other.flatten_all().unwrap().to_vec1::<f32>().unwrap(), v);
    let _ = y.max(D::Minus1).unwrap();
}

#[test]
fn bilstm_cpu_recurrence_matches_the_candle_one_with_gradients() {
    let dev = Device::Cpu;
    for gate in [GateActivation::Sigmoid, GateActivation::HardSigmoid] {
        let (b, t, i, h) = (3, 7, 5, 4);
        let store = ParamStore::new(5);
        let vb = store.builder(&dev);
        let lstm = BiLstm::new(&vb, "lstm", i, h, gate).unwrap();
        let x = Var::randn(0f32, 2., (b, t, i), &dev).unwrap();
        let r = Tensor::randn(0f32, 1., (b, t, 2 * h), &dev).unwrap();
        let grads = |y: Tensor| {
            let g = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let mut all = vec![y];
            all.push(g.get(x.as_tensor()).unwrap().clone());
            for (_, v) in store.vars() {
                all.push(g.get(v.as_tensor()).unwrap().clone());
            }
            all
        };
        let ours = grads(lstm.forward(x.as_tensor()).unwrap());
        let candle = grads(lstm.forward_with_candle(x.as_tensor()).unwrap());
        for (k, (a, e)) in ours.iter().zip(&candle).enumerate() {
            let a = a.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let e = e.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert_eq!(a.len(), e.len());
            for (j, (p, q)) in a.iter().zip(&e).enumerate() {
                assert!(
                    (p - q).abs() < 1e-4 * (1.0 + q.abs()),
                    "{gate:?}: tensor {k} (0 output, 1 input gradient, then parameters) [{j}]: {p} vs {q}"
                );
            }
        }
    }
}

#[test]
fn batch_norm_op_matches_the_candle_ops_with_gradients() {
    use crate::sequential::{BatchNorm1d, Feat};
    let dev = Device::Cpu;
    let store = ParamStore::new(4);
    let vb = store.builder(&dev);
    let spec = crate::spec::BatchNorm {
        momentum: 0.2,
        eps: 1e-3,
    };
    let bn = BatchNorm1d::new(&vb, "bn", 5, &spec).unwrap();
    store
        .set(
            "bn.weight",
            &Tensor::new(&[0.5f32, 1.5, -1.0, 2.0, 1.0], &dev).unwrap(),
        )
        .unwrap();
    store
        .set(
            "bn.running_var",
            &Tensor::new(&[0.5f32, 1.5, 1.0, 2.0, 0.7], &dev).unwrap(),
        )
        .unwrap();
    let feat = Feat::Seq {
        channels: 5,
        len: 9,
    };
    let key = DropoutKey {
        seed: 0,
        step: 0,
        first_sample: 0,
    };
    for mode in [Mode::Train(key), Mode::Eval] {
        let x = Var::from_tensor(
            &(one_hot(4, 45, 3)
                .reshape((4, 4, 45))
                .unwrap()
                .narrow(1, 0, 1)
                .unwrap()
                .reshape((4, 5, 9))
                .unwrap()
                * 3.0)
                .unwrap(),
        )
        .unwrap();
        let r = one_hot(4, 45, 8)
            .narrow(1, 1, 1)
            .unwrap()
            .reshape((4, 5, 9))
            .unwrap();
        let run = |cpu: bool| {
            let before: std::collections::BTreeMap<String, Tensor> = store
                .tensors()
                .into_iter()
                .map(|(k, t)| (k, t.copy().unwrap()))
                .collect();
            let y = if cpu {
                bn.forward(x.as_tensor(), feat, mode).unwrap()
            } else {
                bn.forward_with_candle(x.as_tensor(), feat, mode).unwrap()
            };
            let after: std::collections::BTreeMap<String, Tensor> = store
                .tensors()
                .into_iter()
                .map(|(k, t)| (k, t.copy().unwrap()))
                .collect();
            for k in ["bn.running_mean", "bn.running_var"] {
                store.set(k, &before[k]).unwrap();
            }
            let g = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let grad = |t: &Tensor| {
                g.get(t)
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap()
            };
            let w = store.tensors();
            (
                y.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                [
                    grad(x.as_tensor()),
                    grad(&w["bn.weight"]),
                    grad(&w["bn.bias"]),
                ],
                [
                    after["bn.running_mean"].to_vec1::<f32>().unwrap(),
                    after["bn.running_var"].to_vec1::<f32>().unwrap(),
                ],
            )
        };
        let (a, b) = (run(true), run(false));
        let near = |p: &[f32], q: &[f32], what: &str| {
            for (i, (u, v)) in p.iter().zip(q).enumerate() {
                assert!(
                    (u - v).abs() < 1e-4 * (1.0 + v.abs()),
                    "{mode:?} {what}[{i}]: {u} vs {v}"
                );
            }
        };
        near(&a.0, &b.0, "output");
        for (i, (p, q)) in a.1.iter().zip(&b.1).enumerate() {
            near(
                p,
                q,
                ["input gradient", "weight gradient", "bias gradient"][i],
            );
        }
        near(&a.2[0], &b.2[0], "running mean");
        near(&a.2[1], &b.2[1], "running var");
    }
}

#[test]
fn relu_max_pool_op_gives_the_bits_of_the_candle_ops() {
    let dev = Device::Cpu;
    let mut rng = params::rng_for(5, &[]);
    use rand::Rng;
    let v: Vec<f32> = (0..3 * 4 * 23)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    let x = Var::from_tensor(&Tensor::from_vec(v, (3, 4, 23), &dev).unwrap()).unwrap();
    let r = Tensor::from_vec(
        (0..3 * 4 * 7)
            .map(|i| (i % 5) as f32 - 2.0)
            .collect::<Vec<_>>(),
        (3, 4, 7),
        &dev,
    )
    .unwrap();
    let ours = crate::norm::relu_max_pool_cpu(x.as_tensor(), 3).unwrap();
    let theirs = relu_max_pool1d(x.as_tensor(), 3).unwrap();
    assert_eq!(
        ours.to_vec3::<f32>().unwrap(),
        theirs.to_vec3::<f32>().unwrap()
    );
    let g = |y: &Tensor| {
        (y * &r)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap()
            .get(x.as_tensor())
            .unwrap()
            .to_vec3::<f32>()
            .unwrap()
    };
    assert_eq!(g(&ours), g(&theirs));
}

/// A DeepLIFT pass of separate inputs and references gives the inputs the multipliers the
/// joined batch gives its inputs' half, through deepsea-tiny's fused conv + ReLU + pool and
/// dense layers and a global max pool.
#[test]
fn deeplift_pairs_equal_the_joined_batch() {
    let cfg: ModelConfig = serde_json::from_str(
        r#"{"arch": "layers", "init": "torch", "layers": [
            {"kind": "conv", "filters": 6, "width": 5, "activation": "relu", "pool": {"max": 4}},
            {"kind": "conv", "filters": 5, "width": 3, "activation": "tanh", "pool": "global-max"},
            {"kind": "dense", "units": 7, "activation": "relu"}
        ]}"#,
    )
    .unwrap();
    let store = ParamStore::new(3).frozen();
    let net = Network::new(&cfg, 60, 3, &store.builder(&Device::Cpu)).unwrap();
    let (x, r) = (one_hot(4, 60, 1), one_hot(4, 60, 2));
    let joined = Var::from_tensor(&Tensor::cat(&[&x, &r], 0).unwrap()).unwrap();
    let logits = net
        .forward_deeplift(joined.as_tensor(), deeplift::RecurrentRule::Refuse)
        .unwrap();
    let g = logits
        .narrow(1, 1, 1)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let want = g.get(joined.as_tensor()).unwrap().narrow(0, 0, 4).unwrap();
    let xv = Var::from_tensor(&x).unwrap();
    let (lx, lr) = net.forward_deeplift_pair(xv.as_tensor(), &r).unwrap();
    assert_eq!(
        Tensor::cat(&[&lx, &lr], 0)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap(),
        logits.to_vec2::<f32>().unwrap()
    );
    let g = lx
        .narrow(1, 1, 1)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let got = g.get(xv.as_tensor()).unwrap();
    let diff = (got - &want)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    let scale = want
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(scale > 0.0 && diff <= 1e-5 * scale, "{diff} of {scale}");
}
