//! The methods behind `attribute`: hypothetical contributions `[rows, C, L]` of chosen
//! outputs for a block of inputs.
//!
//! Every method but `ism` differentiates the network's output (its logit) with respect to
//! the input through Candle's automatic differentiation and the network's own ops. One
//! forward pass serves all the chosen targets: each has its own backward pass over the same
//! graph. Passes have a fixed number of rows (the last padded with empty rows), so a row's
//! numbers do not depend on its neighbours or the thread count.

use candle_core::{Device, Tensor, Var};
use ferrosea_models::deeplift::RecurrentRule;
use ferrosea_models::{Mode, Network};

use super::Method;
use crate::InterpretError;

/// How a block is attributed.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// The method.
    pub method: Method,
    /// Integration points of integrated gradients.
    pub steps: usize,
    /// Rows per pass through the network (a multiple of 64: [`ferrosea_runtime::pass_rows`]).
    pub pass: usize,
    /// What DeepLIFT does at a recurrent layer.
    pub recurrent: RecurrentRule,
}

/// Per target: hypothetical contributions `[rows, C, L]`, and for DeepLIFT the convergence
/// delta per row (the contributions' sum minus the output's change from the references'
/// mean).
#[derive(Clone, Debug, Default)]
pub struct Attribution {
    /// `[rows, C, L]`, row-major.
    pub hypothetical: Vec<f32>,
    /// `[rows]`, with DeepLIFT.
    pub delta: Option<Vec<f32>>,
}

/// Gradients `[rows, C, L]` of each target's output (summed over the rows) for the inputs
/// `x`, in passes of `pass` rows, one forward pass per pass.
fn gradients(
    net: &Network,
    device: &Device,
    x: &[f32],
    (channels, window): (usize, usize),
    targets: &[usize],
    pass: usize,
) -> Result<Vec<Vec<f32>>, InterpretError> {
    let row = channels * window;
    let rows = x.len() / row;
    let mut out = vec![Vec::with_capacity(x.len()); targets.len()];
    for first in (0..rows).step_by(pass) {
        let n = pass.min(rows - first);
        let mut block = x[first * row..(first + n) * row].to_vec();
        block.resize(pass * row, 0.0);
        let input = input_var(block, (pass, channels, window), device)?;
        let logits = net.forward(input.as_tensor(), Mode::Eval)?.logits;
        for (o, &t) in out.iter_mut().zip(targets) {
            o.extend_from_slice(&input_gradient(&logits, t, &input)?[..n * row]);
        }
    }
    Ok(out)
}

/// A block of inputs `[rows, C, L]` to differentiate with respect to.
fn input_var(
    block: Vec<f32>,
    shape: (usize, usize, usize),
    device: &Device,
) -> Result<Var, InterpretError> {
    Var::from_tensor(&Tensor::from_vec(block, shape, device)?).map_err(InterpretError::Candle)
}

/// `∂(Σ_rows logits[:, t]) / ∂input`, flattened.
fn input_gradient(logits: &Tensor, t: usize, input: &Var) -> Result<Vec<f32>, InterpretError> {
    let y = logits.narrow(1, t, 1).and_then(|c| c.sum_all())?;
    let grads = y.backward()?;
    let g = grads.get(input.as_tensor()).ok_or_else(|| {
        InterpretError::Data("the network gives no gradient for its input".into())
    })?;
    g.flatten_all()
        .and_then(|g| g.to_vec1::<f32>())
        .map_err(InterpretError::Candle)
}

/// Hypothetical contributions of each target in `targets` by `settings.method` for the
/// inputs `x` (`[rows, C, L]`, row-major): from the all-zero reference, or, with
/// `references`, from `R` references `[C, L]` per row (`[rows, R, C, L]`), averaged.
/// Contributions are these times the inputs. (`ism` does not run here: see `ism`.)
pub fn hypothetical(
    net: &Network,
    device: &Device,
    x: &[f32],
    dims: (usize, usize),
    targets: &[usize],
    settings: Settings,
    references: Option<&[f32]>,
) -> Result<Vec<Attribution>, InterpretError> {
    let plain = |v: Vec<Vec<f32>>| {
        v.into_iter()
            .map(|hypothetical| Attribution {
                hypothetical,
                delta: None,
            })
            .collect()
    };
    match settings.method {
        Method::Saliency => Ok(plain(
            gradients(net, device, x, dims, targets, settings.pass)?
                .into_iter()
                .map(|g| g.into_iter().map(f32::abs).collect())
                .collect(),
        )),
        Method::GradXInput => Ok(plain(gradients(
            net,
            device,
            x,
            dims,
            targets,
            settings.pass,
        )?)),
        Method::IntegratedGradients => Ok(plain(integrated_gradients(
            net, device, x, dims, targets, settings, references,
        )?)),
        Method::DeepliftShap => deeplift_shap(net, device, x, dims, targets, settings, references),
        Method::Ism => Err(InterpretError::Usage(
            "ism attributions come from the analyze stage's mutagenesis, not from gradients".into(),
        )),
    }
}

/// The references of row `i`: `R` of them, or the zero input.
struct Refs<'a> {
    data: Option<&'a [f32]>,
    per: usize,
    row: usize,
    zero: Vec<f32>,
}

impl<'a> Refs<'a> {
    fn new(data: Option<&'a [f32]>, rows: usize, row: usize) -> Refs<'a> {
        let per = data.map_or(1, |r| r.len() / (rows * row).max(1)).max(1);
        Refs {
            data,
            per,
            row,
            zero: vec![0f32; row],
        }
    }

    fn get(&self, i: usize, j: usize) -> &[f32] {
        match self.data {
            Some(r) => &r[(i * self.per + j) * self.row..(i * self.per + j + 1) * self.row],
            None => &self.zero,
        }
    }
}

/// Adds `(m_b - Σ_c r_c m_c) / per` at each position to `out` (`[C, L]`): the hypothetical
/// contribution of base b from multipliers (or mean gradients) `m` against reference `r`.
fn add_hypothetical(out: &mut [f32], m: &[f32], r: &[f32], (c, l): (usize, usize), per: usize) {
    for p in 0..l {
        let rm: f32 = (0..c).map(|ch| r[ch * l + p] * m[ch * l + p]).sum();
        for ch in 0..c {
            out[ch * l + p] += (m[ch * l + p] - rm) / per as f32;
        }
    }
}

/// The mean gradient `g` over `steps` points `r + (x - r)(k + ½) / steps` (Captum's
/// `riemann_middle`) per row and reference, as hypothetical contributions.
fn integrated_gradients(
    net: &Network,
    device: &Device,
    x: &[f32],
    dims: (usize, usize),
    targets: &[usize],
    settings: Settings,
    references: Option<&[f32]>,
) -> Result<Vec<Vec<f32>>, InterpretError> {
    let (c, l) = dims;
    let row = c * l;
    let rows = x.len() / row;
    let steps = settings.steps;
    let refs = Refs::new(references, rows, row);
    let per = refs.per;
    // Row (i, j, k) of the points: r_ij + (x_i - r_ij)(k + ½) / steps.
    let mut points = Vec::with_capacity(x.len() * per * steps);
    for i in 0..rows {
        let xi = &x[i * row..(i + 1) * row];
        for j in 0..per {
            let r = refs.get(i, j);
            for k in 0..steps {
                let a = (k as f32 + 0.5) / steps as f32;
                points.extend(xi.iter().zip(r).map(|(x, r)| r + (x - r) * a));
            }
        }
    }
    let grads = gradients(net, device, &points, dims, targets, settings.pass)?;
    let mut all = Vec::with_capacity(targets.len());
    let mut mean = vec![0f32; row];
    for g in grads {
        let mut out = vec![0f32; x.len()];
        for i in 0..rows {
            for j in 0..per {
                mean.fill(0.0);
                for k in 0..steps {
                    let at = ((i * per + j) * steps + k) * row;
                    for (m, v) in mean.iter_mut().zip(&g[at..at + row]) {
                        *m += v;
                    }
                }
                mean.iter_mut().for_each(|m| *m /= steps as f32);
                add_hypothetical(
                    &mut out[i * row..(i + 1) * row],
                    &mean,
                    refs.get(i, j),
                    dims,
                    per,
                );
            }
        }
        all.push(out);
    }
    Ok(all)
}

/// DeepLIFT's multipliers of each (row, reference) pair, in passes of `pass / 2` pairs, as
/// hypothetical contributions averaged over the references (Captum's `DeepLiftShap`), with
/// the convergence delta. Without recurrent layers the inputs and the references run as
/// separate tensors and only the inputs' half is differentiated
/// (`Network::forward_deeplift_pair`: the same multipliers for half the backward work); with
/// them, as one batch `[x; r]` whose halves each keep their own gradients through the
/// recurrent layer (`Network::forward_deeplift`), as Captum runs them.
fn deeplift_shap(
    net: &Network,
    device: &Device,
    x: &[f32],
    dims: (usize, usize),
    targets: &[usize],
    settings: Settings,
    references: Option<&[f32]>,
) -> Result<Vec<Attribution>, InterpretError> {
    let (c, l) = dims;
    let row = c * l;
    let rows = x.len() / row;
    let refs = Refs::new(references, rows, row);
    let per = refs.per;
    let pairs = rows * per;
    let half = (settings.pass / 2).max(1);
    let joined = !net.recurrent_layers().is_empty();
    let mut out: Vec<Attribution> = (0..targets.len())
        .map(|_| Attribution {
            hypothetical: vec![0f32; x.len()],
            delta: Some(vec![0f32; rows]),
        })
        .collect();
    let (mut bx, mut br) = (vec![0f32; half * row], vec![0f32; half * row]);
    for first in (0..pairs).step_by(half) {
        let n = half.min(pairs - first);
        bx.fill(0.0);
        br.fill(0.0);
        for p in 0..n {
            let (i, j) = ((first + p) / per, (first + p) % per);
            bx[p * row..(p + 1) * row].copy_from_slice(&x[i * row..(i + 1) * row]);
            br[p * row..(p + 1) * row].copy_from_slice(refs.get(i, j));
        }
        // The inputs' logits `[half, T]` to differentiate, and both halves' values.
        let (input, logits, y) = if joined {
            let block: Vec<f32> = bx.iter().chain(&br).copied().collect();
            let input = input_var(block, (2 * half, c, l), device)?;
            let logits = net.forward_deeplift(input.as_tensor(), settings.recurrent)?;
            let y = logits.to_vec2::<f32>()?;
            (input, logits, y)
        } else {
            let input = input_var(bx.clone(), (half, c, l), device)?;
            let r = Tensor::from_vec(br.clone(), (half, c, l), device)?;
            let (lx, lr) = net.forward_deeplift_pair(input.as_tensor(), &r)?;
            let mut y = lx.to_vec2::<f32>()?;
            y.extend(lr.to_vec2::<f32>()?);
            (input, lx, y)
        };
        for (a, &t) in out.iter_mut().zip(targets) {
            let m = input_gradient(&logits, t, &input)?;
            let delta = a.delta.as_mut().expect("DeepLIFT has deltas");
            for p in 0..n {
                let (i, j) = ((first + p) / per, (first + p) % per);
                let mp = &m[p * row..(p + 1) * row];
                let r = refs.get(i, j);
                let xi = &x[i * row..(i + 1) * row];
                add_hypothetical(
                    &mut a.hypothetical[i * row..(i + 1) * row],
                    mp,
                    r,
                    dims,
                    per,
                );
                let sum: f32 = (0..row).map(|e| (xi[e] - r[e]) * mp[e]).sum();
                delta[i] += (sum - (y[p][t] - y[half + p][t])) / per as f32;
            }
        }
    }
    Ok(out)
}

/// Hypothetical contributions `[C, L]` per target from saturation mutagenesis: `effect [L,
/// 4, K]` (the logit's change when position p becomes base b; 0 at the sequence's base)
/// minus its mean over the four bases at each position (tangermeme's convention).
pub fn ism_hypothetical(effect: &[f32], l: usize, k: usize) -> Vec<Vec<f32>> {
    let mut out = vec![vec![0f32; 4 * l]; k];
    for (j, o) in out.iter_mut().enumerate() {
        for p in 0..l {
            let e = |b: usize| effect[(p * 4 + b) * k + j];
            let mean = (0..4).map(e).sum::<f32>() / 4.0;
            for b in 0..4 {
                o[b * l + p] = e(b) - mean;
            }
        }
    }
    out
}
