//! The convolution layer's forward pass and gradients against a direct sum in f64.
//!
//! Both paths of `layers::Conv1d` are checked: the matrix-product one of the CPU and the
//! height-1 `conv2d` used on other devices (Candle 0.11.1's own `conv1d` fails this test
//! for batches of more than one sample: its gradients are wrong).

use candle_core::{Device, Module, Tensor, Var};
use ferrosea_models::layers::{conv1d, InitScheme};
use ferrosea_models::ParamStore;

#[test]
fn conv1d_forward_and_gradients_match_a_direct_sum() {
    let dev = Device::Cpu;
    for (b, cin, l, cout, k) in [
        (16usize, 4usize, 60usize, 12usize, 8usize),
        (2, 4, 20, 3, 5),
        (8, 8, 30, 8, 4),
        (1, 4, 40, 6, 8),
        (19, 5, 25, 7, 25),
        (4, 4, 1000, 32, 26),
    ] {
        for candle_path in [false, true] {
            let store = ParamStore::new(b as u64);
            let conv = conv1d(&store.builder(&dev), "c", cin, cout, k, InitScheme::Torch).unwrap();
            let p = store.tensors();
            let wv = p["c.weight"]
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let bv = p["c.bias"].to_vec1::<f32>().unwrap();
            let (w, bias) = (store.vars()[1].1.clone(), store.vars()[0].1.clone());
            let x = Var::randn(0f32, 1., (b, cin, l), &dev).unwrap();
            let lo = l - k + 1;
            let r = Tensor::randn(0f32, 1., (b, cout, lo), &dev).unwrap();
            let y = if candle_path {
                conv.forward_with_candle(x.as_tensor()).unwrap()
            } else {
                conv.forward(x.as_tensor()).unwrap()
            };
            let yv = y.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let g = (y * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let gw = g
                .get(w.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let gb = g.get(bias.as_tensor()).unwrap().to_vec1::<f32>().unwrap();
            let gx = g
                .get(x.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let xv = x
                .as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let rv = r.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let mut want_y = vec![0f64; b * cout * lo];
            let mut want_gw = vec![0f64; cout * cin * k];
            let mut want_gb = vec![0f64; cout];
            let mut want_gx = vec![0f64; b * cin * l];
            for bb in 0..b {
                for o in 0..cout {
                    for t in 0..lo {
                        let ri = rv[(bb * cout + o) * lo + t] as f64;
                        let mut acc = bv[o] as f64;
                        want_gb[o] += ri;
                        for c in 0..cin {
                            for kk in 0..k {
                                let xi = (bb * cin + c) * l + t + kk;
                                let wi = (o * cin + c) * k + kk;
                                acc += wv[wi] as f64 * xv[xi] as f64;
                                want_gw[wi] += ri * xv[xi] as f64;
                                want_gx[xi] += ri * wv[wi] as f64;
                            }
                        }
                        want_y[(bb * cout + o) * lo + t] = acc;
                    }
                }
            }
            let close = |got: &[f32], want: &[f64], what: &str| {
                for (i, (a, e)) in got.iter().zip(want).enumerate() {
                    assert!(
                        (*a as f64 - e).abs() < 1e-3 * (1.0 + e.abs()),
                        "batch {b}, candle path {candle_path}: {what}[{i}] is {a}, expected {e}"
                    );
                }
            };
            close(&yv, &want_y, "output");
            close(&gw, &want_gw, "weight gradient");
            close(&gb, &want_gb, "bias gradient");
            close(&gx, &want_gx, "input gradient");
        }
    }
}
