//! The training objectives, and the probabilities (or values) each makes of the logits.

use candle_core::{Result, Tensor, D};
use serde::{Deserialize, Serialize};

/// What a network's outputs are trained against. In a recipe: `"loss": "bce"` (the
/// default), `"softmax"` or `"mse"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    /// Binary cross-entropy with logits: one independent 0/1 label per target (multi-label;
    /// DeepSEA, DanQ). Probabilities are the outputs' sigmoid.
    #[default]
    Bce,
    /// Softmax cross-entropy: the targets are mutually exclusive classes and each row's
    /// labels are one-hot (exactly one 1). Probabilities are the outputs' softmax.
    Softmax,
    /// Squared error between the outputs and the labels (the course's next-character
    /// regression; DeepBind's affinities once labels may be real values). The outputs are
    /// the predictions as they are.
    Mse,
}

impl Loss {
    /// Its name in recipes and files.
    pub fn name(self) -> &'static str {
        match self {
            Loss::Bce => "bce",
            Loss::Softmax => "softmax",
            Loss::Mse => "mse",
        }
    }

    /// The loss summed over a batch: `logits` and `targets` `[B, T]`.
    pub fn sum(self, logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
        match self {
            Loss::Bce => bce_with_logits_sum(logits, targets),
            Loss::Softmax => softmax_cross_entropy_sum(logits, targets),
            Loss::Mse => (logits - targets)?.sqr()?.sum_all(),
        }
    }

    /// Terms of the loss per row, what its sum is divided by (with the rows) for the mean:
    /// one per target for BCE and MSE (PyTorch's `BCEWithLogitsLoss`, `MSELoss`), one per
    /// row for softmax (`CrossEntropyLoss`).
    pub fn terms_per_row(self, targets: usize) -> usize {
        match self {
            Loss::Softmax => 1,
            Loss::Bce | Loss::Mse => targets,
        }
    }

    /// Probabilities (BCE: sigmoid; softmax: softmax over the targets) or, for MSE, the
    /// outputs themselves.
    pub fn outputs(self, logits: &Tensor) -> Result<Tensor> {
        match self {
            Loss::Bce => candle_nn::ops::sigmoid(logits),
            Loss::Softmax => candle_nn::ops::softmax_last_dim(logits),
            Loss::Mse => Ok(logits.clone()),
        }
    }

    /// Whether a file's kind of labels fits: BCE and softmax need 0/1 labels or classes,
    /// MSE takes any. `Err` says what to use instead.
    pub fn check_kind(self, kind: ferrosea_dataset::LabelKind) -> std::result::Result<(), String> {
        use ferrosea_dataset::LabelKind;
        match (self, kind) {
            (Loss::Bce | Loss::Softmax, LabelKind::Real) => Err(format!(
                "the labels are real values, which \"loss\": \"{}\" cannot take: use \"loss\": \"mse\"",
                self.name()
            )),
            _ => Ok(()),
        }
    }

    /// Whether one row's labels fit: BCE and softmax need 0/1 values, softmax exactly one 1
    /// (one class per row). `Err` says what the row holds.
    pub fn check_row(self, labels: &[f32]) -> std::result::Result<(), RowError> {
        if self == Loss::Mse {
            return Ok(());
        }
        if let Some(target) = labels.iter().position(|&v| v != 0.0 && v != 1.0) {
            return Err(RowError::NotBinary {
                loss: self,
                target,
                value: labels[target],
            });
        }
        if self != Loss::Softmax {
            return Ok(());
        }
        let ones = labels.iter().filter(|&&v| v == 1.0).count();
        if ones == 1 {
            return Ok(());
        }
        Err(RowError::NotOneClass { ones })
    }
}

/// Why a row's labels do not fit a loss ([`Loss::check_row`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RowError {
    /// A label other than 0 or 1 under BCE or softmax.
    NotBinary {
        /// The loss.
        loss: Loss,
        /// The target (label column).
        target: usize,
        /// Its value.
        value: f32,
    },
    /// Softmax with other than one label set.
    NotOneClass {
        /// Labels set.
        ones: usize,
    },
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RowError::NotBinary {
                loss,
                target,
                value,
            } => write!(
                f,
                "label {value} for target {target}: \"loss\": \"{}\" needs labels 0 or 1",
                loss.name()
            ),
            RowError::NotOneClass { ones } => write!(
                f,
                "{ones} labels set where \"loss\": \"softmax\" needs exactly one (one class per row, the targets mutually exclusive); use \"loss\": \"bce\" for targets that may hold together"
            ),
        }
    }
}

/// Sum over all elements of binary cross-entropy with logits, in the stable form
/// `max(x, 0) - x * y + log(1 + exp(-|x|))` (candle-nn's version overflows for large
/// logits). Divide by the element count of the global batch for the mean.
pub fn bce_with_logits_sum(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let soft = (logits.abs()?.neg()?.exp()? + 1.0)?.log()?;
    ((logits.relu()? - (logits * targets)?)? + soft)?.sum_all()
}

/// Sum over rows of `-Σ_t y_t log softmax(x)_t` (with one-hot `y`, minus the log
/// probability of the row's class), from the stable log-softmax `x - max - log Σ exp(x -
/// max)`.
pub fn softmax_cross_entropy_sum(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let max = logits.max_keepdim(D::Minus1)?.detach();
    let shifted = logits.broadcast_sub(&max)?;
    let log_z = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    let log_p = shifted.broadcast_sub(&log_z)?;
    (log_p * targets)?.sum_all()?.neg()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn values(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    }

    #[test]
    fn softmax_cross_entropy_and_its_gradient() {
        let dev = Device::Cpu;
        // Large logits too: the stable form must not overflow.
        let x = Var::from_tensor(
            &Tensor::new(&[[1.0f32, 2.0, 0.5], [300.0, -300.0, 0.0]], &dev).unwrap(),
        )
        .unwrap();
        let y = Tensor::new(&[[0f32, 1.0, 0.0], [0.0, 0.0, 1.0]], &dev).unwrap();
        let l = Loss::Softmax.sum(x.as_tensor(), &y).unwrap();
        let lse = |v: &[f64]| {
            let m = v.iter().cloned().fold(f64::MIN, f64::max);
            m + v.iter().map(|a| (a - m).exp()).sum::<f64>().ln()
        };
        let want = (lse(&[1.0, 2.0, 0.5]) - 2.0) + (lse(&[300.0, -300.0, 0.0]) - 0.0);
        let got = l.to_scalar::<f32>().unwrap() as f64;
        assert!(
            (got - want).abs() < 1e-3 * want.abs().max(1.0),
            "{got} vs {want}"
        );
        // d/dx = softmax(x) - y.
        let g = l.backward().unwrap();
        let p = values(&Loss::Softmax.outputs(x.as_tensor()).unwrap());
        let want: Vec<f32> = p.iter().zip(values(&y)).map(|(p, y)| p - y).collect();
        for (a, b) in values(g.get(x.as_tensor()).unwrap()).iter().zip(&want) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        // Each row of the probabilities sums to one.
        for row in p.chunks(3) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn mse_and_bce_and_their_normalisation() {
        let dev = Device::Cpu;
        let x = Tensor::new(&[[0.5f32, -1.0], [2.0, 0.0]], &dev).unwrap();
        let y = Tensor::new(&[[1f32, 0.0], [1.0, 1.0]], &dev).unwrap();
        let mse = Loss::Mse.sum(&x, &y).unwrap().to_scalar::<f32>().unwrap();
        assert!((mse - (0.25 + 1.0 + 1.0 + 1.0)).abs() < 1e-6, "{mse}");
        assert_eq!(values(&Loss::Mse.outputs(&x).unwrap()), values(&x));
        let bce = Loss::Bce.sum(&x, &y).unwrap().to_scalar::<f32>().unwrap();
        let want: f64 = [(0.5, 1.0), (-1.0, 0.0), (2.0, 1.0), (0.0, 1.0)]
            .iter()
            .map(|&(x, y): &(f64, f64)| {
                -(y * (1.0 / (1.0 + (-x).exp())).ln() + (1.0 - y) * (1.0 / (1.0 + x.exp())).ln())
            })
            .sum();
        assert!((bce as f64 - want).abs() < 1e-5, "{bce} vs {want}");
        assert_eq!(Loss::Bce.terms_per_row(919), 919);
        assert_eq!(Loss::Softmax.terms_per_row(11), 1);
    }

    #[test]
    fn softmax_needs_one_class_per_row() {
        assert!(Loss::Softmax.check_row(&[0., 1., 0.]).is_ok());
        let e = Loss::Softmax
            .check_row(&[0., 1., 1.])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("2 labels set") && e.contains("exactly one"),
            "{e}"
        );
        assert!(Loss::Softmax.check_row(&[0., 0., 0.]).is_err());
        assert!(Loss::Bce.check_row(&[1., 1., 1.]).is_ok());
        assert!(Loss::Bce
            .check_row(&[0.5])
            .unwrap_err()
            .to_string()
            .contains("labels 0 or 1"));
        assert!(Loss::Mse.check_row(&[0.5, -2.0]).is_ok());
        let real = ferrosea_dataset::LabelKind::Real;
        assert!(Loss::Bce.check_kind(real).unwrap_err().contains("\"mse\""));
        assert!(Loss::Mse.check_kind(real).is_ok());
        let l: Loss = serde_json::from_str("\"softmax\"").unwrap();
        assert_eq!(l, Loss::Softmax);
        assert!(serde_json::from_str::<Loss>("\"hinge\"")
            .unwrap_err()
            .to_string()
            .contains("hinge"));
    }
}
