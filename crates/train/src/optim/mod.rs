//! Update rules with PyTorch's semantics (checked against PyTorch's numbers in
//! `tests/optim_torch.rs`): SGD with momentum, dampening, Nesterov and weight decay;
//! RMSprop (optionally Keras' form, epsilon inside the square root); Adam and AdamW.
//!
//! candle-nn has only plain SGD and AdamW, and candle-optimisers pins an older Candle, so
//! these are written here. Updates run as tensor operations on the parameters' device; on
//! the CPU as one fused in-place pass per parameter (`fused.rs`), with the same bits.

mod fused;

use std::collections::BTreeMap;

use candle_core::{Result, Shape, Tensor, Var};
use serde::{Deserialize, Serialize};

/// An optimizer and its hyper-parameters. In JSON: `{"kind": "sgd", "lr": 0.1, ...}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum OptimizerConfig {
    /// Stochastic gradient descent.
    Sgd {
        /// Learning rate.
        lr: f64,
        /// Momentum factor.
        #[serde(default)]
        momentum: f64,
        /// Dampening of the momentum.
        #[serde(default)]
        dampening: f64,
        /// Nesterov momentum.
        #[serde(default)]
        nesterov: bool,
        /// L2 penalty added to the gradient.
        #[serde(default)]
        weight_decay: f64,
    },
    /// RMSprop.
    Rmsprop {
        /// Learning rate.
        lr: f64,
        /// Smoothing constant of the squared-gradient average (Keras' rho).
        #[serde(default = "alpha")]
        alpha: f64,
        /// Term added for stability.
        #[serde(default = "eps8")]
        eps: f64,
        /// Momentum factor.
        #[serde(default)]
        momentum: f64,
        /// L2 penalty added to the gradient.
        #[serde(default)]
        weight_decay: f64,
        /// Keras' form `g / sqrt(avg + eps)` instead of PyTorch's `g / (sqrt(avg) + eps)`.
        #[serde(default)]
        eps_inside_sqrt: bool,
    },
    /// Adam (weight decay as an L2 term in the gradient).
    Adam {
        /// Learning rate.
        lr: f64,
        /// First-moment decay.
        #[serde(default = "beta1")]
        beta1: f64,
        /// Second-moment decay.
        #[serde(default = "beta2")]
        beta2: f64,
        /// Term added for stability.
        #[serde(default = "eps8")]
        eps: f64,
        /// L2 penalty added to the gradient.
        #[serde(default)]
        weight_decay: f64,
    },
    /// AdamW (decoupled weight decay).
    Adamw {
        /// Learning rate.
        lr: f64,
        /// First-moment decay.
        #[serde(default = "beta1")]
        beta1: f64,
        /// Second-moment decay.
        #[serde(default = "beta2")]
        beta2: f64,
        /// Term added for stability.
        #[serde(default = "eps8")]
        eps: f64,
        /// Decoupled weight decay.
        #[serde(default = "wd_adamw")]
        weight_decay: f64,
    },
}

fn alpha() -> f64 {
    0.99
}
fn eps8() -> f64 {
    1e-8
}
fn beta1() -> f64 {
    0.9
}
fn beta2() -> f64 {
    0.999
}
fn wd_adamw() -> f64 {
    0.01
}

impl OptimizerConfig {
    /// Plain SGD at `lr` (no momentum, no weight decay).
    pub fn sgd(lr: f64) -> OptimizerConfig {
        OptimizerConfig::Sgd {
            lr,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        }
    }

    /// Adam at `lr` with its usual moments (0.9, 0.999), eps 1e-8 and no weight decay.
    pub fn adam(lr: f64) -> OptimizerConfig {
        OptimizerConfig::Adam {
            lr,
            beta1: beta1(),
            beta2: beta2(),
            eps: eps8(),
            weight_decay: 0.0,
        }
    }

    /// The base learning rate.
    pub fn lr(&self) -> f64 {
        match *self {
            OptimizerConfig::Sgd { lr, .. }
            | OptimizerConfig::Rmsprop { lr, .. }
            | OptimizerConfig::Adam { lr, .. }
            | OptimizerConfig::Adamw { lr, .. } => lr,
        }
    }

    /// Sets the base learning rate.
    pub fn set_lr(&mut self, new: f64) {
        match self {
            OptimizerConfig::Sgd { lr, .. }
            | OptimizerConfig::Rmsprop { lr, .. }
            | OptimizerConfig::Adam { lr, .. }
            | OptimizerConfig::Adamw { lr, .. } => *lr = new,
        }
    }

    /// Checks ranges.
    pub fn check(&self) -> std::result::Result<(), String> {
        let bad = |what: &str| Err(format!("optimizer: {what}"));
        if !(self.lr() > 0.0 && self.lr().is_finite()) {
            return bad("lr must be positive");
        }
        match *self {
            OptimizerConfig::Sgd {
                momentum,
                nesterov,
                dampening,
                ..
            } => {
                if nesterov && (momentum <= 0.0 || dampening != 0.0) {
                    return bad("nesterov needs momentum > 0 and dampening 0");
                }
            }
            OptimizerConfig::Rmsprop { alpha, eps, .. } => {
                if !(0.0..1.0).contains(&alpha) || eps < 0.0 {
                    return bad("alpha must be in [0, 1) and eps >= 0");
                }
            }
            OptimizerConfig::Adam {
                beta1, beta2, eps, ..
            }
            | OptimizerConfig::Adamw {
                beta1, beta2, eps, ..
            } => {
                if !(0.0..1.0).contains(&beta1) || !(0.0..1.0).contains(&beta2) || eps < 0.0 {
                    return bad("betas must be in [0, 1) and eps >= 0");
                }
            }
        }
        Ok(())
    }
}

/// One parameter's state buffers by name ("momentum", "square_avg", "exp_avg", ...).
#[derive(Clone)]
enum State {
    /// Tensors on the parameter's device (also what a restored checkpoint gives).
    Tensors(BTreeMap<&'static str, Tensor>),
    /// Host vectors of the fused CPU update, with the parameter's shape.
    Host {
        shape: Shape,
        buffers: BTreeMap<&'static str, Vec<f32>>,
    },
}

/// An optimizer with its per-parameter state.
pub struct Optimizer {
    cfg: OptimizerConfig,
    /// Steps taken.
    steps: u64,
    /// Per parameter, the state buffers.
    state: Vec<State>,
    /// Whether CPU parameters take the fused in-place update.
    fused: bool,
}

impl Optimizer {
    /// A fresh optimizer for `params` parameters.
    pub fn new(cfg: OptimizerConfig, params: usize) -> Optimizer {
        Optimizer {
            cfg,
            steps: 0,
            state: vec![State::Tensors(BTreeMap::new()); params],
            fused: true,
        }
    }

    /// The same optimizer updating CPU parameters with tensor operations, as on other
    /// devices (for tests that compare both forms).
    pub fn with_tensor_ops(mut self) -> Optimizer {
        self.fused = false;
        self
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The configuration.
    pub fn config(&self) -> &OptimizerConfig {
        &self.cfg
    }

    /// One update of every parameter at learning rate `lr`, with `grads[i]` the gradient of
    /// `params[i]`.
    pub fn step(&mut self, params: &[Var], grads: &[Tensor], lr: f64) -> Result<()> {
        assert_eq!(params.len(), grads.len());
        assert_eq!(params.len(), self.state.len());
        self.steps += 1;
        let rule = fused::Rule::new(&self.cfg, lr, self.steps);
        for ((p, g), state) in params.iter().zip(grads).zip(self.state.iter_mut()) {
            if self.fused && fused::applies(p.as_tensor(), g) {
                let mut bufs = take_host(state, p.as_tensor(), rule.buffers())?;
                fused::update(p.as_tensor(), g, rule, &mut bufs)?;
                if let State::Host { buffers, .. } = state {
                    buffers.extend(rule.buffers().iter().copied().zip(bufs));
                }
                continue;
            }
            if let State::Host { shape, buffers } = state {
                *state = State::Tensors(to_tensors(shape, std::mem::take(buffers), p.device())?);
            }
            let State::Tensors(st) = state else {
                unreachable!("converted above")
            };
            // Detached, so that neither the update nor the state it keeps records a graph. A
            // momentum buffer computed from the tracked weight (weight decay) held the
            // previous step's buffer and gradient alive through its graph, so every step's
            // piled up: DeepSEA's preset grew by about 400 MB per step and slowed down.
            let (w, g) = (&p.as_tensor().detach(), &g.detach());
            // The rule's scalars are f32, as Candle casts them; `f64::from` gives them back
            // exactly, so this form and the fused one see the same values.
            let f = f64::from;
            let l2 = |g: &Tensor, wd: Option<f32>| match wd {
                Some(wd) => g + (w * f(wd))?,
                None => Ok(g.clone()),
            };
            let new = match rule {
                fused::Rule::Sgd {
                    lr,
                    weight_decay,
                    momentum,
                } => {
                    let mut g = l2(g, weight_decay)?;
                    if let Some((m, keep, nesterov)) = momentum {
                        let buf = match st.get("momentum") {
                            None => g.clone(),
                            Some(b) => ((b * f(m))? + (&g * f(keep))?)?,
                        };
                        g = if nesterov {
                            (&g + (&buf * f(m))?)?
                        } else {
                            buf.clone()
                        };
                        st.insert("momentum", buf);
                    }
                    (w - (g * f(lr))?)?
                }
                fused::Rule::Rmsprop {
                    lr,
                    weight_decay,
                    alpha,
                    one_minus_alpha,
                    eps,
                    eps_inside_sqrt,
                    momentum,
                } => {
                    let g = l2(g, weight_decay)?;
                    let sq = match st.get("square_avg") {
                        None => (g.sqr()? * f(one_minus_alpha))?,
                        Some(s) => ((s * f(alpha))? + (g.sqr()? * f(one_minus_alpha))?)?,
                    };
                    let avg = if eps_inside_sqrt {
                        (&sq + f(eps))?.sqrt()?
                    } else {
                        (sq.sqrt()? + f(eps))?
                    };
                    st.insert("square_avg", sq);
                    match momentum {
                        Some(m) => {
                            let q = (g / avg)?;
                            let buf = match st.get("momentum") {
                                None => q,
                                Some(b) => ((b * f(m))? + q)?,
                            };
                            let out = (w - (&buf * f(lr))?)?;
                            st.insert("momentum", buf);
                            out
                        }
                        None => (w - ((g / avg)? * f(lr))?)?,
                    }
                }
                fused::Rule::Adam {
                    shrink,
                    weight_decay,
                    beta1,
                    one_minus_beta1,
                    beta2,
                    one_minus_beta2,
                    inv_sqrt_bc2,
                    eps,
                    step,
                } => {
                    let x = match shrink {
                        Some(k) => (w * f(k))?,
                        None => w.clone(),
                    };
                    let g = l2(g, weight_decay)?;
                    let m = match st.get("exp_avg") {
                        None => (&g * f(one_minus_beta1))?,
                        Some(m) => ((m * f(beta1))? + (&g * f(one_minus_beta1))?)?,
                    };
                    let v = match st.get("exp_avg_sq") {
                        None => (g.sqr()? * f(one_minus_beta2))?,
                        Some(v) => ((v * f(beta2))? + (g.sqr()? * f(one_minus_beta2))?)?,
                    };
                    let denom = ((v.sqrt()? * f(inv_sqrt_bc2))? + f(eps))?;
                    let out = (&x - ((&m / denom)? * f(step))?)?;
                    st.insert("exp_avg", m);
                    st.insert("exp_avg_sq", v);
                    out
                }
            };
            p.set(&new)?;
        }
        Ok(())
    }

    /// The state as named tensors (`<param index>.<buffer>`), for checkpoints.
    pub fn state_tensors(&self) -> Result<BTreeMap<String, Tensor>> {
        let mut out = BTreeMap::new();
        for (i, st) in self.state.iter().enumerate() {
            let tensors = match st {
                State::Tensors(t) => t.clone(),
                State::Host { shape, buffers } => {
                    to_tensors(shape, buffers.clone(), &candle_core::Device::Cpu)?
                }
            };
            for (k, v) in tensors {
                out.insert(format!("{i:04}.{k}"), v);
            }
        }
        Ok(out)
    }

    /// Restores the state saved by [`Optimizer::state_tensors`] after `steps` steps.
    pub fn restore(
        &mut self,
        steps: u64,
        tensors: BTreeMap<String, Tensor>,
    ) -> std::result::Result<(), String> {
        const NAMES: [&str; 4] = ["momentum", "square_avg", "exp_avg", "exp_avg_sq"];
        for st in &mut self.state {
            *st = State::Tensors(BTreeMap::new());
        }
        for (k, v) in tensors {
            let (i, buf) = k
                .split_once('.')
                .ok_or_else(|| format!("unexpected optimizer tensor {k}"))?;
            let i: usize = i
                .parse()
                .map_err(|_| format!("unexpected optimizer tensor {k}"))?;
            let buf = NAMES
                .iter()
                .find(|n| **n == buf)
                .ok_or_else(|| format!("unexpected optimizer tensor {k}"))?;
            let st = self
                .state
                .get_mut(i)
                .ok_or_else(|| format!("optimizer tensor {k} for a parameter the model lacks"))?;
            if let State::Tensors(st) = st {
                st.insert(buf, v);
            }
        }
        self.steps = steps;
        Ok(())
    }
}

/// Tensors of `shape` on `device` from host buffers.
fn to_tensors(
    shape: &Shape,
    buffers: BTreeMap<&'static str, Vec<f32>>,
    device: &candle_core::Device,
) -> Result<BTreeMap<&'static str, Tensor>> {
    buffers
        .into_iter()
        .map(|(k, v)| Ok((k, Tensor::from_vec(v, shape.clone(), device)?)))
        .collect()
}

/// `p`'s buffers for the fused update, in `names` order: taken out of the host state (empty
/// vector for a buffer not yet started), or copied from tensors once (after a restore).
fn take_host(state: &mut State, p: &Tensor, names: &[&'static str]) -> Result<Vec<Vec<f32>>> {
    if let State::Tensors(t) = state {
        let mut buffers = BTreeMap::new();
        for (k, v) in std::mem::take(t) {
            buffers.insert(k, v.flatten_all()?.to_vec1::<f32>()?);
        }
        *state = State::Host {
            shape: p.shape().clone(),
            buffers,
        };
    }
    let State::Host { buffers, .. } = state else {
        unreachable!("converted above")
    };
    Ok(names
        .iter()
        .map(|n| buffers.remove(n).unwrap_or_default())
        .collect())
}
