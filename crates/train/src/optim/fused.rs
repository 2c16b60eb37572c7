//! The update rules on the CPU as one in-place pass over each parameter, its gradient and
//! its state.
//!
//! Written as tensor operations, an RMSprop step over DanQ's 46M parameters is about ten
//! passes, each allocating a new tensor, and the result is then copied into the parameter
//! (`Var::set`). Here each element is read and written once: the parameter is updated
//! through Candle's in-place op, the state buffers live in host memory.
//!
//! Each element goes through the same f32 operations, in the same order, as the tensor
//! form in `mod.rs` (a tensor-scalar product is Candle's affine `x * a + 0`), so both give
//! the same bits; `tests` checks it for every rule.

use std::cell::RefCell;

use candle_core::{bail, CpuStorage, InplaceOp2, Layout, Result, Tensor};
use rayon::prelude::*;

use super::OptimizerConfig;

/// Elements per rayon task.
const CHUNK: usize = 1 << 16;

/// An update rule with its scalars in f32, as Candle casts them: the one reading of the
/// configuration, for both this form and the tensor form of `mod.rs`.
#[derive(Clone, Copy, Debug)]
pub(super) enum Rule {
    Sgd {
        lr: f32,
        weight_decay: Option<f32>,
        /// Momentum, `1 - dampening`, Nesterov.
        momentum: Option<(f32, f32, bool)>,
    },
    Rmsprop {
        lr: f32,
        weight_decay: Option<f32>,
        alpha: f32,
        one_minus_alpha: f32,
        eps: f32,
        eps_inside_sqrt: bool,
        momentum: Option<f32>,
    },
    Adam {
        /// Decoupled decay: the factor `1 - lr · wd` on the weight (AdamW).
        shrink: Option<f32>,
        /// L2 decay added to the gradient (Adam).
        weight_decay: Option<f32>,
        beta1: f32,
        one_minus_beta1: f32,
        beta2: f32,
        one_minus_beta2: f32,
        /// `1 / sqrt(1 - beta2^t)`.
        inv_sqrt_bc2: f32,
        eps: f32,
        /// `lr / (1 - beta1^t)`.
        step: f32,
    },
}

fn nonzero(v: f64) -> Option<f32> {
    (v != 0.0).then_some(v as f32)
}

impl Rule {
    /// The rule of `cfg` at learning rate `lr`, for the `t`-th step.
    pub(super) fn new(cfg: &OptimizerConfig, lr: f64, t: u64) -> Rule {
        match *cfg {
            OptimizerConfig::Sgd {
                momentum,
                dampening,
                nesterov,
                weight_decay,
                ..
            } => Rule::Sgd {
                lr: lr as f32,
                weight_decay: nonzero(weight_decay),
                momentum: (momentum != 0.0).then_some((
                    momentum as f32,
                    (1.0 - dampening) as f32,
                    nesterov,
                )),
            },
            OptimizerConfig::Rmsprop {
                alpha,
                eps,
                momentum,
                weight_decay,
                eps_inside_sqrt,
                ..
            } => Rule::Rmsprop {
                lr: lr as f32,
                weight_decay: nonzero(weight_decay),
                alpha: alpha as f32,
                one_minus_alpha: (1.0 - alpha) as f32,
                eps: eps as f32,
                eps_inside_sqrt,
                momentum: (momentum > 0.0).then_some(momentum as f32),
            },
            OptimizerConfig::Adam {
                beta1,
                beta2,
                eps,
                weight_decay,
                ..
            }
            | OptimizerConfig::Adamw {
                beta1,
                beta2,
                eps,
                weight_decay,
                ..
            } => {
                let decoupled = matches!(cfg, OptimizerConfig::Adamw { .. });
                let bc1 = 1.0 - beta1.powi(t as i32);
                let bc2 = 1.0 - beta2.powi(t as i32);
                Rule::Adam {
                    shrink: (decoupled && weight_decay != 0.0)
                        .then_some((1.0 - lr * weight_decay) as f32),
                    weight_decay: if decoupled {
                        None
                    } else {
                        nonzero(weight_decay)
                    },
                    beta1: beta1 as f32,
                    one_minus_beta1: (1.0 - beta1) as f32,
                    beta2: beta2 as f32,
                    one_minus_beta2: (1.0 - beta2) as f32,
                    inv_sqrt_bc2: (1.0 / bc2.sqrt()) as f32,
                    eps: eps as f32,
                    step: (lr / bc1) as f32,
                }
            }
        }
    }

    /// The state buffers this rule keeps, by name, in the order the kernel takes them.
    pub(super) fn buffers(&self) -> &'static [&'static str] {
        match self {
            Rule::Sgd { momentum: None, .. } => &[],
            Rule::Sgd { .. } => &["momentum"],
            Rule::Rmsprop { momentum: None, .. } => &["square_avg"],
            Rule::Rmsprop { .. } => &["square_avg", "momentum"],
            Rule::Adam { .. } => &["exp_avg", "exp_avg_sq"],
        }
    }

    /// Updates `w` from `g` and the state `a`, `b` (empty when unused); `fresh` says which
    /// of them start at this step (PyTorch starts a momentum buffer at the gradient itself).
    fn apply(&self, w: &mut [f32], g: &[f32], a: &mut [f32], b: &mut [f32], fresh: [bool; 2]) {
        let [fresh_a, fresh_b] = fresh;
        // `x * s + 0.0` is Candle's affine form of a tensor times a scalar; the `+ 0.0`
        // only turns -0 into +0, which the tensor form does too.
        match *self {
            Rule::Sgd {
                lr,
                weight_decay,
                momentum,
            } => {
                for (i, (w, &g)) in w.iter_mut().zip(g).enumerate() {
                    let mut g = match weight_decay {
                        Some(wd) => g + (*w * wd + 0.0),
                        None => g,
                    };
                    if let Some((m, keep, nesterov)) = momentum {
                        let buf = if fresh_a {
                            g
                        } else {
                            (a[i] * m + 0.0) + (g * keep + 0.0)
                        };
                        a[i] = buf;
                        g = if nesterov { g + (buf * m + 0.0) } else { buf };
                    }
                    *w -= g * lr + 0.0;
                }
            }
            Rule::Rmsprop {
                lr,
                weight_decay,
                alpha,
                one_minus_alpha,
                eps,
                eps_inside_sqrt,
                momentum,
            } => {
                for (i, (w, &g)) in w.iter_mut().zip(g).enumerate() {
                    let g = match weight_decay {
                        Some(wd) => g + (*w * wd + 0.0),
                        None => g,
                    };
                    let new = (g * g) * one_minus_alpha + 0.0;
                    let sq = if fresh_a {
                        new
                    } else {
                        (a[i] * alpha + 0.0) + new
                    };
                    a[i] = sq;
                    let avg = if eps_inside_sqrt {
                        (sq + eps).sqrt()
                    } else {
                        sq.sqrt() + eps
                    };
                    match momentum {
                        Some(m) => {
                            let q = g / avg;
                            let buf = if fresh_b { q } else { (b[i] * m + 0.0) + q };
                            b[i] = buf;
                            *w -= buf * lr + 0.0;
                        }
                        None => *w -= (g / avg) * lr + 0.0,
                    }
                }
            }
            Rule::Adam {
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
                for (i, (w, &g)) in w.iter_mut().zip(g).enumerate() {
                    let x = match shrink {
                        Some(s) => *w * s + 0.0,
                        None => *w,
                    };
                    let g = match weight_decay {
                        Some(wd) => g + (*w * wd + 0.0),
                        None => g,
                    };
                    let new_m = g * one_minus_beta1 + 0.0;
                    let m = if fresh_a {
                        new_m
                    } else {
                        (a[i] * beta1 + 0.0) + new_m
                    };
                    let new_v = (g * g) * one_minus_beta2 + 0.0;
                    let v = if fresh_b {
                        new_v
                    } else {
                        (b[i] * beta2 + 0.0) + new_v
                    };
                    a[i] = m;
                    b[i] = v;
                    let denom = (v.sqrt() * inv_sqrt_bc2 + 0.0) + eps;
                    *w = x - ((m / denom) * step + 0.0);
                }
            }
        }
    }
}

/// The in-place op: the parameter is the destination, the gradient the source, the state
/// buffers are borrowed for the call.
struct Update<'a> {
    rule: Rule,
    fresh: [bool; 2],
    state: RefCell<&'a mut [Vec<f32>]>,
}

impl InplaceOp2 for Update<'_> {
    fn name(&self) -> &'static str {
        "ferrosea-optimizer-update"
    }

    fn cpu_fwd(
        &self,
        dst: &mut CpuStorage,
        dst_l: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
    ) -> Result<()> {
        let (Some((w0, w1)), Some((g0, g1))) =
            (dst_l.contiguous_offsets(), gl.contiguous_offsets())
        else {
            bail!("optimizer: parameter or gradient not contiguous");
        };
        let CpuStorage::F32(w) = dst else {
            bail!("optimizer: parameter is not f32");
        };
        let (w, g) = (&mut w[w0..w1], &gs.as_slice::<f32>()?[g0..g1]);
        let mut state = self.state.borrow_mut();
        if g.len() != w.len() || state.iter().any(|s| s.len() != w.len()) {
            bail!("optimizer: gradient or state does not match the parameter");
        }
        let (a, b): (&mut [f32], &mut [f32]) = match &mut state[..] {
            [] => (&mut [], &mut []),
            [a] => (a, &mut []),
            [a, b, ..] => (a, b),
        };
        let (rule, fresh) = (self.rule, self.fresh);
        let tasks = w.len().div_ceil(CHUNK);
        let (ca, cb) = (chunks(a, tasks), chunks(b, tasks));
        w.par_chunks_mut(CHUNK)
            .zip(g.par_chunks(CHUNK))
            .zip(ca.into_par_iter().zip(cb))
            .for_each(|((w, g), (a, b))| rule.apply(w, g, a, b, fresh));
        Ok(())
    }
}

/// `s` cut into `tasks` chunks of [`CHUNK`] elements, or `tasks` empty slices when unused.
fn chunks(s: &mut [f32], tasks: usize) -> Vec<&mut [f32]> {
    if s.is_empty() {
        (0..tasks).map(|_| &mut [][..]).collect()
    } else {
        s.chunks_mut(CHUNK).collect()
    }
}

/// Whether `p` and `g` can take the in-place CPU update.
pub(super) fn applies(p: &Tensor, g: &Tensor) -> bool {
    p.device().is_cpu()
        && p.dtype() == candle_core::DType::F32
        && g.dtype() == candle_core::DType::F32
        && p.is_contiguous()
        && p.shape() == g.shape()
}

/// One update of `p` (in place) from `g`, with `state` the rule's buffers in
/// [`Rule::buffers`] order (an empty vector for one that starts now).
pub(super) fn update(p: &Tensor, g: &Tensor, rule: Rule, state: &mut [Vec<f32>]) -> Result<()> {
    let n = p.elem_count();
    let mut fresh = [false; 2];
    for (s, f) in state.iter_mut().zip(&mut fresh) {
        if s.is_empty() {
            *s = vec![0f32; n];
            *f = true;
        }
    }
    let op = Update {
        rule,
        fresh,
        state: RefCell::new(state),
    };
    p.inplace_op2(&g.contiguous()?, &op)
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor, Var};

    use super::super::{Optimizer, OptimizerConfig};

    fn configs() -> Vec<OptimizerConfig> {
        let sgd = |momentum, dampening, nesterov, weight_decay| OptimizerConfig::Sgd {
            lr: 0.05,
            momentum,
            dampening,
            nesterov,
            weight_decay,
        };
        let rms = |momentum, weight_decay, eps_inside_sqrt| OptimizerConfig::Rmsprop {
            lr: 0.01,
            alpha: 0.9,
            eps: 1e-6,
            momentum,
            weight_decay,
            eps_inside_sqrt,
        };
        vec![
            sgd(0.0, 0.0, false, 0.0),
            sgd(0.9, 0.1, false, 1e-3),
            sgd(0.9, 0.0, true, 5e-4),
            rms(0.0, 0.0, true),
            rms(0.5, 1e-3, false),
            OptimizerConfig::Adam {
                lr: 0.01,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 1e-3,
            },
            OptimizerConfig::Adamw {
                lr: 0.01,
                beta1: 0.8,
                beta2: 0.99,
                eps: 1e-8,
                weight_decay: 1e-2,
            },
        ]
    }

    /// Values in (-1, 1) from a small generator, some exactly zero.
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|i| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                if i % 97 == 0 {
                    0.0
                } else {
                    (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
                }
            })
            .collect()
    }

    /// Parameters (one larger than a task's chunk, one a matrix) after `steps` steps, and
    /// the optimizer state.
    fn run(cfg: &OptimizerConfig, fused: bool, steps: u64) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
        let shapes: [&[usize]; 2] = [&[70_001], &[3, 5]];
        let params: Vec<Var> = shapes
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let n = s.iter().product();
                Var::from_vec(values(n, i as u64), *s, &Device::Cpu).unwrap()
            })
            .collect();
        let mut opt = Optimizer::new(cfg.clone(), params.len());
        if !fused {
            opt = opt.with_tensor_ops();
        }
        for t in 0..steps {
            let grads: Vec<Tensor> = params
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let g = values(p.elem_count(), 100 + 10 * t + i as u64);
                    Tensor::from_vec(g, p.shape(), &Device::Cpu).unwrap()
                })
                .collect();
            opt.step(&params, &grads, cfg.lr() * (1.0 + t as f64))
                .unwrap();
        }
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let state = opt.state_tensors().unwrap();
        (
            params.iter().map(|p| flat(p.as_tensor())).collect(),
            state.values().map(flat).collect(),
        )
    }

    #[test]
    fn fused_update_gives_the_bits_of_the_tensor_form() {
        for cfg in configs() {
            let (fused, tensor) = (run(&cfg, true, 4), run(&cfg, false, 4));
            let bits = |v: &[Vec<f32>]| -> Vec<Vec<u32>> {
                v.iter()
                    .map(|x| x.iter().map(|f| f.to_bits()).collect())
                    .collect()
            };
            assert_eq!(bits(&fused.0), bits(&tensor.0), "{cfg:?}: parameters");
            assert_eq!(bits(&fused.1), bits(&tensor.1), "{cfg:?}: state");
            let moved = fused.0[0]
                .iter()
                .zip(values(70_001, 0))
                .filter(|(a, b)| **a != *b)
                .count();
            assert!(moved > 60_000, "{cfg:?}: only {moved} weights moved");
        }
    }

    /// A fused optimizer restored from a checkpoint's tensors continues as if never stopped.
    #[test]
    fn fused_update_resumes_from_state_tensors() {
        let cfg = configs()[4].clone();
        let p = Var::from_vec(values(1000, 1), 1000, &Device::Cpu).unwrap();
        let grad = |t: u64| Tensor::from_vec(values(1000, 50 + t), 1000, &Device::Cpu).unwrap();
        let mut a = Optimizer::new(cfg.clone(), 1);
        for t in 0..2 {
            a.step(std::slice::from_ref(&p), &[grad(t)], 0.01).unwrap();
        }
        // A copy with its own storage, as a checkpoint load gives.
        let q = Var::from_tensor(&p.as_tensor().copy().unwrap()).unwrap();
        let mut b = Optimizer::new(cfg, 1);
        b.restore(a.steps(), a.state_tensors().unwrap()).unwrap();
        for t in 2..4 {
            a.step(std::slice::from_ref(&p), &[grad(t)], 0.01).unwrap();
            b.step(std::slice::from_ref(&q), &[grad(t)], 0.01).unwrap();
        }
        let flat = |t: &Tensor| t.to_vec1::<f32>().unwrap();
        assert_eq!(flat(p.as_tensor()), flat(q.as_tensor()));
    }
}
