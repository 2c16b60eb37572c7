//! Building blocks: 1-D convolution, max pooling, seeded dropout, dense layers and a
//! bidirectional LSTM.

use candle_core::{Module, Result, Tensor, D};
use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::params::{rng_for, Init, Vb};

/// Where dropout masks come from during a training step.
///
/// Masks are drawn on the host from ChaCha streams keyed by (seed, step, layer, sample),
/// where `sample` is the row's position in the global batch. A sample therefore gets the
/// same mask whichever replica processes it and however the batch is split, which is what
/// makes data-parallel training reproduce single-device training.
#[derive(Clone, Copy, Debug)]
pub struct DropoutKey {
    /// The run's seed.
    pub seed: u64,
    /// The global optimizer step.
    pub step: u64,
    /// Position of this batch's first row in the global batch.
    pub first_sample: u64,
}

/// Whether a forward pass trains (dropout active) or evaluates.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// Inference: dropout is the identity.
    Eval,
    /// Training: dropout masks come from the key.
    Train(DropoutKey),
}

/// Stream tag separating dropout from other random streams.
const DROPOUT_STREAM: u64 = 0xd20;

/// Inverted dropout with probability `p` of zeroing; `layer` distinguishes the model's
/// dropout layers.
pub fn dropout(x: &Tensor, p: f32, layer: u64, mode: Mode) -> Result<Tensor> {
    let key = match mode {
        Mode::Train(key) if p > 0.0 => key,
        _ => return Ok(x.clone()),
    };
    let dims = x.dims();
    let batch = dims[0];
    let per = x.elem_count() / batch.max(1);
    let scale = 1.0 / (1.0 - p);
    // Keep when a uniform u32 is at or above p * 2^32.
    let cut = (p as f64 * 4_294_967_296.0) as u64;
    let mut mask = vec![0f32; x.elem_count()];
    mask.par_chunks_mut(per.max(1))
        .enumerate()
        .for_each(|(i, m)| {
            let mut rng = rng_for(
                key.seed,
                &[DROPOUT_STREAM, key.step, layer, key.first_sample + i as u64],
            );
            for v in m {
                *v = if (rng.random::<u32>() as u64) >= cut {
                    scale
                } else {
                    0.0
                };
            }
        });
    let mask = Tensor::from_vec(mask, dims, x.device())?;
    x.mul(&mask)
}

/// Non-overlapping max pooling over the last dimension with window and stride `k`; a
/// trailing remainder shorter than `k` is dropped, as Keras and PyTorch do.
///
/// Written with reshape + max because Candle's `max_pool2d` back-propagates wrong gradients.
pub fn max_pool1d(x: &Tensor, k: usize) -> Result<Tensor> {
    if k <= 1 {
        return Ok(x.clone());
    }
    let (b, c, l) = x.dims3()?;
    let out = l / k;
    x.narrow(2, 0, out * k)?
        .reshape((b, c, out, k))?
        .max(D::Minus1)
}

/// `max_pool1d(relu(x), k)` from Candle's ops, for devices other than the CPU (where
/// [`Conv1d::forward_relu_pool`] does the three as one op). Candle's max sends a window's
/// gradient to every position that ties for its maximum.
pub fn relu_max_pool1d(x: &Tensor, k: usize) -> Result<Tensor> {
    max_pool1d(&x.relu()?, k.max(1))
}

/// How a model's weights are drawn before training.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitScheme {
    /// Lua Torch's defaults (DeepSEA): weights and biases uniform in +-1/sqrt(fan_in).
    Torch,
    /// Keras' defaults (DanQ): Glorot-uniform kernels, zero biases, orthogonal recurrent
    /// kernels, forget-gate bias one.
    #[default]
    Keras,
}

/// A valid (unpadded) 1-D convolution `[B, in, L] -> [B, out, L - width + 1]`, weight
/// `[out, in, width]`, as PyTorch's `Conv1d` (a cross-correlation).
///
/// On the CPU it runs as matrix products with hand-written backward passes (see
/// `conv.rs`): Candle 0.11.1's `conv1d` back-propagates wrong gradients (to the weights
/// and to the input) whenever the batch has more than one sample, and its `conv2d`
/// backward is slow. On other devices it runs as Candle's 2-D convolution of height 1,
/// whose gradients are right. `tests/conv_gradients.rs` checks both against a direct sum.
#[derive(Clone, Debug)]
pub struct Conv1d {
    pub(crate) weight: Tensor,
    pub(crate) bias: Tensor,
}

impl Module for Conv1d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if x.device().is_cpu() && x.dtype() == candle_core::DType::F32 {
            return crate::conv::conv1d_cpu(x, &self.weight, &self.bias, x.track_op());
        }
        self.forward_with_candle(x)
    }
}

impl Conv1d {
    /// A convolution with the given weight `[out, in, width]` and bias `[out]`.
    pub fn new(weight: Tensor, bias: Tensor) -> Conv1d {
        Conv1d { weight, bias }
    }

    /// `max_pool1d(relu(conv(x)), pool)`. On the CPU one op, whose convolution output
    /// never becomes a tensor (see `conv.rs`); elsewhere the convolution, then
    /// [`relu_max_pool1d`].
    pub fn forward_relu_pool(&self, x: &Tensor, pool: usize) -> Result<Tensor> {
        if x.device().is_cpu() && x.dtype() == candle_core::DType::F32 {
            let pool = pool.max(1);
            return crate::conv::conv1d_relu_pool_cpu(
                x,
                &self.weight,
                &self.bias,
                pool,
                x.track_op(),
            );
        }
        relu_max_pool1d(&self.forward(x)?, pool)
    }

    /// The path of devices other than the CPU: Candle's `conv2d` with height 1. Public so
    /// that the gradient test can check it on the CPU too.
    pub fn forward_with_candle(&self, x: &Tensor) -> Result<Tensor> {
        let y = x
            .unsqueeze(2)?
            .conv2d(&self.weight.unsqueeze(2)?, 0, 1, 1, 1)?
            .squeeze(2)?;
        y.broadcast_add(&self.bias.reshape((1, (), 1))?)
    }
}

/// Declares `weight` of `shape` (its first dimension the outputs) and `bias` (zeros, not a
/// parameter, when `bias` is false), initialised by `init` from the layer's fans.
fn weight_and_bias(
    vb: &Vb,
    shape: candle_core::Shape,
    (fan_in, fan_out): (usize, usize),
    init: InitScheme,
    bias: bool,
) -> Result<(Tensor, Tensor)> {
    let out = shape.dims()[0];
    let (w_init, b_init) = match init {
        InitScheme::Torch => (Init::torch(fan_in), Init::torch(fan_in)),
        InitScheme::Keras => (Init::glorot(fan_in, fan_out), Init::Zeros),
    };
    let w = vb.get_with_hints(shape, "weight", w_init)?;
    let b = if bias {
        vb.get_with_hints(out, "bias", b_init)?
    } else {
        Tensor::zeros(out, w.dtype(), w.device())?
    };
    Ok((w, b))
}

/// Declares a [`Conv1d`] under `name.weight`, `name.bias`.
pub fn conv1d(
    vb: &Vb,
    name: &str,
    cin: usize,
    cout: usize,
    width: usize,
    init: InitScheme,
) -> Result<Conv1d> {
    conv1d_with_bias(vb, name, cin, cout, width, init, true)
}

/// [`conv1d`], or with `bias` false one without a bias parameter (zeros are added).
pub fn conv1d_with_bias(
    vb: &Vb,
    name: &str,
    cin: usize,
    cout: usize,
    width: usize,
    init: InitScheme,
    bias: bool,
) -> Result<Conv1d> {
    let (w, b) = weight_and_bias(
        &vb.pp(name),
        (cout, cin, width).into(),
        (cin * width, cout * width),
        init,
        bias,
    )?;
    Ok(Conv1d { weight: w, bias: b })
}

/// A dense layer `[B, in] -> [B, out]`: `x × weightᵀ + bias`, weight `[out, in]` as in
/// PyTorch. On the CPU one op whose backward pass writes the weight gradient in place
/// (see `dense.rs`); elsewhere Candle's matmul.
#[derive(Clone, Debug)]
pub struct Linear {
    pub(crate) weight: Tensor,
    pub(crate) bias: Tensor,
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if x.device().is_cpu() && x.dtype() == candle_core::DType::F32 && x.rank() == 2 {
            return crate::dense::dense_cpu(x, &self.weight, &self.bias);
        }
        self.forward_with_candle(x)
    }
}

impl Linear {
    /// A dense layer with the given weight `[out, in]` and bias `[out]`.
    pub fn new(weight: Tensor, bias: Tensor) -> Linear {
        Linear { weight, bias }
    }

    /// The path of devices other than the CPU, as `candle_nn::Linear`. Public so that tests
    /// can compare both on the CPU.
    pub fn forward_with_candle(&self, x: &Tensor) -> Result<Tensor> {
        x.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)
    }
}

/// Declares a [`Linear`] layer `[B, in] -> [B, out]` under `name.weight`, `name.bias`.
pub fn linear(vb: &Vb, name: &str, din: usize, dout: usize, init: InitScheme) -> Result<Linear> {
    linear_with_bias(vb, name, din, dout, init, true)
}

/// [`linear`], or with `bias` false one without a bias parameter (zeros are added).
pub fn linear_with_bias(
    vb: &Vb,
    name: &str,
    din: usize,
    dout: usize,
    init: InitScheme,
    bias: bool,
) -> Result<Linear> {
    let (w, b) = weight_and_bias(&vb.pp(name), (dout, din).into(), (din, dout), init, bias)?;
    Ok(Linear { weight: w, bias: b })
}

/// The gate non-linearity of an LSTM.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GateActivation {
    /// The logistic function.
    #[default]
    Sigmoid,
    /// Keras' piecewise-linear clamp(0.2 x + 0.5, 0, 1), the default of the Keras 0.x
    /// LSTM that DanQ was trained with.
    HardSigmoid,
}

impl GateActivation {
    pub(crate) fn apply(self, x: &Tensor) -> Result<Tensor> {
        match self {
            GateActivation::Sigmoid => candle_nn::ops::sigmoid(x),
            GateActivation::HardSigmoid => x.affine(0.2, 0.5)?.clamp(0f32, 1f32),
        }
    }
}

/// Declares one LSTM direction's `weight_ih [4H, I]` (Glorot), `weight_hh [4H, H]`
/// (orthogonal blocks) and `bias [4H]` (forget gate one), Keras' initialisation.
pub(crate) fn declare_lstm(
    vb: &Vb,
    input: usize,
    hidden: usize,
) -> Result<(Tensor, Tensor, Tensor)> {
    Ok((
        vb.get_with_hints(
            (4 * hidden, input),
            "weight_ih",
            Init::glorot(input, hidden),
        )?,
        vb.get_with_hints((4 * hidden, hidden), "weight_hh", Init::OrthogonalBlocks)?,
        vb.get_with_hints(4 * hidden, "bias", Init::LstmBias)?,
    ))
}

/// A bidirectional single-layer LSTM over `[B, T, I]` returning the whole sequence
/// `[B, T, 2H]` (forward states, then backward states, each at its own time step).
///
/// Parameters per direction, gate order (input, forget, cell, output) as in Keras and
/// PyTorch: `weight_ih [4H, I]`, `weight_hh [4H, H]` and one `bias [4H]` (Keras' count;
/// PyTorch keeps two bias vectors, which add nothing but 4H parameters).
///
/// The input projection of every time step and both directions is one matrix product
/// before the recurrence; each step then does a single batched `[2, B, H] x [2, H, 4H]`
/// product for both directions.
///
/// The per-direction parameters are kept as they are and combined in every forward pass:
/// an optimizer updates them in place, so a combination cached at construction would go
/// stale.
pub struct BiLstm {
    w_ih: [Tensor; 2],
    bias: [Tensor; 2],
    w_hh: [Tensor; 2],
    hidden: usize,
    gate: GateActivation,
}

impl BiLstm {
    /// Declares the parameters under `name.forward.*` and `name.backward.*`.
    pub fn new(
        vb: &Vb,
        name: &str,
        input: usize,
        hidden: usize,
        gate: GateActivation,
    ) -> Result<BiLstm> {
        let vb = vb.pp(name);
        let get = |dir: &str| declare_lstm(&vb.pp(dir), input, hidden);
        let (f, b) = (get("forward")?, get("backward")?);
        Ok(BiLstm {
            w_ih: [f.0, b.0],
            w_hh: [f.1, b.1],
            bias: [f.2, b.2],
            hidden,
            gate,
        })
    }

    /// `[B, T, I] -> [B, T, 2H]`. On the CPU the recurrence is one custom op with a
    /// hand-written backward pass (`recurrence.rs`); elsewhere it is built from Candle ops
    /// ([`BiLstm::forward_with_candle`]).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let xp = self.project(x)?;
        if x.device().is_cpu() && x.dtype() == candle_core::DType::F32 {
            let w_hh = Tensor::stack(&self.w_hh, 0)?;
            return crate::recurrence::bilstm_cpu(&xp, &w_hh, self.gate);
        }
        self.recur_with_candle(&xp)
    }

    /// The recurrence built from Candle ops, as run on devices other than the CPU. Public
    /// so that tests can compare both on the CPU.
    pub fn forward_with_candle(&self, x: &Tensor) -> Result<Tensor> {
        self.recur_with_candle(&self.project(x)?)
    }

    /// `[B, T, I] -> [B, T, 2, 4H]`: both directions' input projections (plus bias) of
    /// every step in one matrix product.
    fn project(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, i) = x.dims3()?;
        let w_ih = Tensor::cat(&self.w_ih, 0)?;
        let bias = Tensor::cat(&self.bias, 0)?;
        Linear::new(w_ih, bias)
            .forward(&x.reshape((b * t, i))?)?
            .reshape((b, t, 2, 4 * self.hidden))
    }

    fn recur_with_candle(&self, xp: &Tensor) -> Result<Tensor> {
        let (_, t, _, _) = xp.dims4()?;
        let w_hh_t = Tensor::stack(&[self.w_hh[0].t()?, self.w_hh[1].t()?], 0)?;
        let fwd = xp.narrow(2, 0, 1)?.squeeze(2)?;
        let bwd = xp.narrow(2, 1, 1)?.squeeze(2)?.contiguous()?.flip(&[1])?;
        // [T, 2, B, 4H]: per step, the forward input at t and the backward input at T-1-t.
        let steps = Tensor::stack(&[fwd, bwd], 0)?
            .permute((2, 0, 1, 3))?
            .contiguous()?;
        let hsz = self.hidden;
        let mut h: Option<Tensor> = None;
        let mut c: Option<Tensor> = None;
        let mut outs = Vec::with_capacity(t);
        for s in 0..t {
            let xs = steps.get(s)?;
            let gates = match &h {
                Some(h) => (xs + h.matmul(&w_hh_t)?)?,
                None => xs,
            };
            let ig = self.gate.apply(&gates.narrow(2, 0, hsz)?)?;
            let fg = self.gate.apply(&gates.narrow(2, hsz, hsz)?)?;
            let gg = gates.narrow(2, 2 * hsz, hsz)?.tanh()?;
            let og = self.gate.apply(&gates.narrow(2, 3 * hsz, hsz)?)?;
            let c_new = match &c {
                Some(c) => ((fg * c)? + (ig * gg)?)?,
                None => (ig * gg)?,
            };
            let h_new = (og * c_new.tanh()?)?;
            outs.push(h_new.clone());
            h = Some(h_new);
            c = Some(c_new);
        }
        // [T, 2, B, H] -> forward [B, T, H] and backward put back in time order.
        let out = Tensor::stack(&outs, 0)?;
        let f = out.narrow(1, 0, 1)?.squeeze(1)?.transpose(0, 1)?;
        let bk = out
            .narrow(1, 1, 1)?
            .squeeze(1)?
            .contiguous()?
            .flip(&[0])?
            .transpose(0, 1)?;
        Tensor::cat(&[f, bk], 2)
    }
}
