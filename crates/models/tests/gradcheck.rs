//! Every parameter's gradient against central finite differences, through the whole
//! network. This caught two real defects: Candle's conv1d gradients for batches > 1, and a
//! BiLSTM that cached combined weights at construction (so optimizer updates never reached
//! its forward pass).

use candle_core::{Device, Tensor};
use ferrosea_models::*;
#[test]
fn gradients_match_finite_differences() {
    let dev = Device::Cpu;
    for cfg in [
        r#"{"arch": "deepsea", "conv": [{"filters": 4, "width": 5, "pool": 3}, {"filters": 3, "width": 3}], "hidden": 6}"#,
        r#"{"arch": "danq", "filters": 4, "width": 5, "pool": 4, "conv_dropout": 0, "lstm_hidden": 3, "lstm_dropout": 0, "hidden": 5, "gate_activation": "sigmoid"}"#,
    ] {
        let cfg: ModelConfig = serde_json::from_str(cfg).unwrap();
        let store = ParamStore::new(5);
        let net = Network::new(&cfg, 40, 2, &store.builder(&dev)).unwrap();
        let mut rng = ferrosea_models::params::rng_for(3, &[1]);
        use rand::Rng;
        let xv: Vec<f32> = (0..3 * 4 * 40)
            .map(|_| rng.random_range(-1.0f32..1.0))
            .collect();
        let x = Tensor::from_vec(xv, (3, 4, 40), &dev).unwrap();
        let r = Tensor::new(&[[1.0f32, -0.5], [0.3, 0.8], [-1.0, 0.2]], &dev).unwrap();
        let loss = |net: &Network| -> f64 {
            (net.forward(&x, Mode::Eval).unwrap().logits * &r)
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap() as f64
        };
        let l0 = net.forward(&x, Mode::Eval).unwrap().logits;
        let g = (l0 * &r).unwrap().sum_all().unwrap().backward().unwrap();
        for (name, var) in store.vars() {
            let grad = g
                .get(var.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let base = var
                .as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let mut worst = 0f64;
            for i in (0..base.len()).step_by(1 + base.len() / 7) {
                let eps = 2e-3f32;
                let mut v = base.clone();
                v[i] += eps;
                var.set(&Tensor::from_vec(v.clone(), var.shape(), &dev).unwrap())
                    .unwrap();
                let lp = loss(&net);
                v[i] -= 2.0 * eps;
                var.set(&Tensor::from_vec(v, var.shape(), &dev).unwrap())
                    .unwrap();
                let lm = loss(&net);
                var.set(&Tensor::from_vec(base.clone(), var.shape(), &dev).unwrap())
                    .unwrap();
                let num = (lp - lm) / (2.0 * eps as f64);
                worst = worst.max((num - grad[i] as f64).abs() / (1e-2 + num.abs()));
            }
            // Loose: ReLU and max-pool kinks blur finite differences; the defects this
            // guards against gave errors of 1 to 40.
            assert!(
                worst < 0.25,
                "{} {name}: gradient off by {worst:.3} (relative)",
                cfg.arch()
            );
        }
    }
}
