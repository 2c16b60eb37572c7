//! Our update rules, schedules and loss against PyTorch's numbers.
//!
//! The expected values come from `tests/python/optim_reference.py` (torch 2.15, float32),
//! stored in `tests/fixtures/optim_torch.json`: given initial values and gradients, the
//! parameters after each of 5 steps.

use candle_core::{Device, Tensor, Var};
use ferrosea_runtime::loss::bce_with_logits_sum;
use ferrosea_train::optim::{Optimizer, OptimizerConfig};
use ferrosea_train::schedule::{ScheduleConfig, Scheduler};
use serde_json::Value;

fn fixture() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/optim_torch.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn f(v: &Value, k: &str, default: f64) -> f64 {
    v.get(k).and_then(Value::as_f64).unwrap_or(default)
}

fn config(kind: &str, h: &Value) -> OptimizerConfig {
    let lr = f(h, "lr", 0.0);
    let wd = f(h, "weight_decay", 0.0);
    let betas = h
        .get("betas")
        .and_then(Value::as_array)
        .map(|b| (b[0].as_f64().unwrap(), b[1].as_f64().unwrap()));
    let (beta1, beta2) = betas.unwrap_or((0.9, 0.999));
    match kind {
        "sgd" => OptimizerConfig::Sgd {
            lr,
            momentum: f(h, "momentum", 0.0),
            dampening: f(h, "dampening", 0.0),
            nesterov: h.get("nesterov").and_then(Value::as_bool).unwrap_or(false),
            weight_decay: wd,
        },
        "rmsprop" => OptimizerConfig::Rmsprop {
            lr,
            alpha: f(h, "alpha", 0.99),
            eps: f(h, "eps", 1e-8),
            momentum: f(h, "momentum", 0.0),
            weight_decay: wd,
            eps_inside_sqrt: false,
        },
        "adam" => OptimizerConfig::Adam {
            lr,
            beta1,
            beta2,
            eps: f(h, "eps", 1e-8),
            weight_decay: wd,
        },
        "adamw" => OptimizerConfig::Adamw {
            lr,
            beta1,
            beta2,
            eps: f(h, "eps", 1e-8),
            weight_decay: f(h, "weight_decay", 0.01),
        },
        other => panic!("unknown optimizer {other}"),
    }
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn shape(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

#[test]
fn update_rules_match_pytorch() {
    let fx = fixture();
    let cases = fx["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 11);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let cfg = config(case["optimizer"].as_str().unwrap(), &case["hyper"]);
        cfg.check().unwrap();
        let shapes: Vec<Vec<usize>> = case["shapes"]
            .as_array()
            .unwrap()
            .iter()
            .map(shape)
            .collect();
        let params: Vec<Var> = case["init"]
            .as_array()
            .unwrap()
            .iter()
            .zip(&shapes)
            .map(|(v, s)| Var::from_vec(floats(v), s.as_slice(), &Device::Cpu).unwrap())
            .collect();
        let mut opt = Optimizer::new(cfg.clone(), params.len());
        let grads = case["grads"].as_array().unwrap();
        let expected = case["expected"].as_array().unwrap();
        assert_eq!(grads.len(), 5);
        for (step, (g, e)) in grads.iter().zip(expected).enumerate() {
            let g: Vec<Tensor> = g
                .as_array()
                .unwrap()
                .iter()
                .zip(&shapes)
                .map(|(v, s)| Tensor::from_vec(floats(v), s.as_slice(), &Device::Cpu).unwrap())
                .collect();
            opt.step(&params, &g, cfg.lr()).unwrap();
            for (i, (p, e)) in params.iter().zip(e.as_array().unwrap()).enumerate() {
                let got = p
                    .as_tensor()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap();
                for (k, (a, b)) in got.iter().zip(floats(e)).enumerate() {
                    let tol = 1e-6 + 2e-6 * b.abs();
                    assert!(
                        (a - b).abs() <= tol,
                        "{name}: step {} param {i}[{k}]: ours {a}, torch {b}",
                        step + 1
                    );
                }
            }
        }
    }
}

#[test]
fn keras_rmsprop_puts_epsilon_inside_the_root() {
    // Keras 0.x: a = rho a + (1 - rho) g^2; p -= lr g / sqrt(a + eps).
    let cfg = OptimizerConfig::Rmsprop {
        lr: 0.01,
        alpha: 0.9,
        eps: 1e-6,
        momentum: 0.0,
        weight_decay: 0.0,
        eps_inside_sqrt: true,
    };
    let p = Var::from_vec(vec![1.0f32, -2.0], 2, &Device::Cpu).unwrap();
    let mut opt = Optimizer::new(cfg, 1);
    let (mut a, mut want) = ([0f64; 2], [1.0f64, -2.0]);
    for g in [[0.5f32, -0.001], [0.25, 0.003], [-1.0, 0.0]] {
        opt.step(
            std::slice::from_ref(&p),
            &[Tensor::new(&g, &Device::Cpu).unwrap()],
            0.01,
        )
        .unwrap();
        for k in 0..2 {
            a[k] = 0.9 * a[k] + 0.1 * (g[k] as f64).powi(2);
            want[k] -= 0.01 * g[k] as f64 / (a[k] + 1e-6).sqrt();
        }
    }
    let got = p.as_tensor().to_vec1::<f32>().unwrap();
    for k in 0..2 {
        assert!(
            (got[k] as f64 - want[k]).abs() < 1e-6,
            "{got:?} vs {want:?}"
        );
    }
}

#[test]
fn schedules_match_pytorch() {
    let fx = fixture();
    for s in fx["schedules"].as_array().unwrap() {
        let h = &s["hyper"];
        let base = s["base_lr"].as_f64().unwrap();
        let want: Vec<f64> = s["lrs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let got: Vec<f64> = match s["kind"].as_str().unwrap() {
            "StepLR" => {
                let mut sch = Scheduler::new(
                    ScheduleConfig::Step {
                        step_size: h["step_size"].as_u64().unwrap() as usize,
                        gamma: h["gamma"].as_f64().unwrap(),
                    },
                    base,
                );
                // The lr used in epoch e: before e's end.
                (0..want.len())
                    .map(|_| {
                        let lr = sch.lr;
                        sch.end_epoch(0.0);
                        lr
                    })
                    .collect()
            }
            "ReduceLROnPlateau" => {
                let mut sch = Scheduler::new(
                    ScheduleConfig::Plateau {
                        factor: h["factor"].as_f64().unwrap(),
                        patience: h["patience"].as_u64().unwrap() as usize,
                        threshold: h["threshold"].as_f64().unwrap(),
                        cooldown: h["cooldown"].as_u64().unwrap() as usize,
                        min_lr: h["min_lr"].as_f64().unwrap(),
                    },
                    base,
                );
                s["val_losses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| sch.end_epoch(l.as_f64().unwrap()))
                    .collect()
            }
            k => panic!("unknown schedule {k}"),
        };
        assert_eq!(got.len(), want.len());
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert!(
                (a - b).abs() <= 1e-12 + 1e-9 * b.abs(),
                "{}: epoch {i}: ours {a}, torch {b}",
                s["name"]
            );
        }
    }
}

#[test]
fn stable_bce_matches_pytorch_at_extreme_logits() {
    let fx = fixture();
    let b = &fx["bce_with_logits"];
    let x = floats(&b["logits"]);
    let y = floats(&b["targets"]);
    let n = x.len();
    let xt = Tensor::new(x.as_slice(), &Device::Cpu).unwrap();
    let yt = Tensor::new(y.as_slice(), &Device::Cpu).unwrap();
    let mean = bce_with_logits_sum(&xt, &yt)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap() as f64
        / n as f64;
    let want = b["mean"].as_f64().unwrap();
    assert!(mean.is_finite());
    assert!(
        (mean - want).abs() < 1e-6 * want.abs(),
        "ours {mean}, torch {want}"
    );
    for (i, e) in floats(&b["per_element"]).iter().enumerate() {
        let one = bce_with_logits_sum(&xt.narrow(0, i, 1).unwrap(), &yt.narrow(0, i, 1).unwrap())
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(
            (one - e).abs() <= 1e-6 + 1e-6 * e.abs(),
            "logit {} target {}: ours {one}, torch {e}",
            x[i],
            y[i]
        );
    }
}

#[test]
fn optimizer_state_records_no_graph() {
    // With weight decay the gradient is combined with the (tracked) weight; a state buffer
    // built from it must not carry a graph, or each step's buffer keeps the previous one
    // alive and memory grows with every step.
    let configs = [
        OptimizerConfig::Sgd {
            lr: 0.1,
            momentum: 0.9,
            dampening: 0.0,
            nesterov: true,
            weight_decay: 1e-3,
        },
        OptimizerConfig::Rmsprop {
            lr: 0.01,
            alpha: 0.9,
            eps: 1e-6,
            momentum: 0.5,
            weight_decay: 1e-3,
            eps_inside_sqrt: false,
        },
        OptimizerConfig::Adam {
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-3,
        },
        OptimizerConfig::Adamw {
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-2,
        },
    ];
    // Both forms: the fused CPU update, and the tensor form other devices run.
    for (cfg, tensor_ops) in configs.iter().flat_map(|c| [(c, false), (c, true)]) {
        let p = Var::from_vec(vec![1.0f32, -2.0, 0.5], 3, &Device::Cpu).unwrap();
        let mut opt = Optimizer::new(cfg.clone(), 1);
        if tensor_ops {
            opt = opt.with_tensor_ops();
        }
        for step in 0..3 {
            // A gradient that carries a graph, as one computed from the weight would.
            let g = ((p.as_tensor() * 0.1).unwrap() + step as f64).unwrap();
            assert!(g.track_op());
            opt.step(std::slice::from_ref(&p), &[g], 0.01).unwrap();
        }
        let state = opt.state_tensors().unwrap();
        assert!(!state.is_empty(), "{cfg:?}: no state");
        for (name, t) in state {
            assert!(!t.track_op(), "{cfg:?}: state {name} records a graph");
        }
    }
}
