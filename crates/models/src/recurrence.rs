//! The BiLSTM recurrence of the CPU, with back-propagation through time written by hand.
//!
//! Built from Candle ops, the recurrence takes one slice of the projected inputs per time
//! step; Candle back-propagates each slice as a zero tensor the size of the whole input,
//! so the backward pass costs O(T²) memory traffic (6.1 s for DanQ's 75 steps at batch 64,
//! against 1.4 s for candle-nn's LSTM). Here the recurrence is one custom op: the forward
//! pass keeps the activated gates and the cell states, and the backward pass walks the
//! steps in reverse with two matrix products per step. The two directions run in parallel.
//!
//! Input: `xp [B, T, 2, 4H]`, the input projections plus bias of both directions (gate
//! order i, f, g, o), and `w_hh [2, 4H, H]`. Output `[B, T, 2H]`: forward states, then
//! backward states, each at its own time step.

use std::sync::Mutex;

use candle_core::{bail, CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};

use crate::fastmath;
use crate::gemm::{contiguous, matmul};
use crate::layers::GateActivation;

#[derive(Clone, Copy)]
struct Dims {
    b: usize,
    t: usize,
    h: usize,
}

impl Dims {
    /// The time step that direction `d` processes at step `s`.
    fn time(&self, d: usize, s: usize) -> usize {
        if d == 0 {
            s
        } else {
            self.t - 1 - s
        }
    }
}

/// Puts the two directions' `[T, B, W]` arrays (time-indexed) into `out [B, T, 2, W]`.
fn interleave(dirs: [&[f32]; 2], dims: Dims, width: usize, out: &mut [f32]) {
    let Dims { b, t, .. } = dims;
    for (d, part) in dirs.into_iter().enumerate() {
        for ti in 0..t {
            for bi in 0..b {
                out[((bi * t + ti) * 2 + d) * width..][..width]
                    .copy_from_slice(&part[(ti * b + bi) * width..][..width]);
            }
        }
    }
}

/// A gate non-linearity, as a type so that the cell loops are compiled once per kind
/// (and vectorise: no branch on the kind inside them).
trait Gate {
    fn act(x: f32) -> f32;
    /// The derivative, from the gate's value.
    fn slope(a: f32) -> f32;
}

struct Logistic;

impl Gate for Logistic {
    #[inline(always)]
    fn act(x: f32) -> f32 {
        fastmath::sigmoid(x)
    }
    #[inline(always)]
    fn slope(a: f32) -> f32 {
        a * (1.0 - a)
    }
}

struct Hard;

impl Gate for Hard {
    #[inline(always)]
    fn act(x: f32) -> f32 {
        (0.2 * x + 0.5).clamp(0.0, 1.0)
    }
    #[inline(always)]
    fn slope(a: f32) -> f32 {
        if a > 0.0 && a < 1.0 {
            0.2
        } else {
            0.0
        }
    }
}

/// One step's cells, forward, for each batch row: activates `gates [B, 4H]` in place
/// (gate order i, f, g, o) and writes `c = f·c_prev + i·g` and `h = o·tanh(c)`.
#[inline(always)]
fn cells_forward_with<G: Gate>(
    hd: usize,
    gates: &mut [f32],
    c_prev: &[f32],
    c: &mut [f32],
    h: &mut [f32],
) {
    let rows = gates
        .chunks_exact_mut(4 * hd)
        .zip(c_prev.chunks_exact(hd))
        .zip(c.chunks_exact_mut(hd).zip(h.chunks_exact_mut(hd)));
    for ((g, cp), (c, h)) in rows {
        let (gi, rest) = g.split_at_mut(hd);
        let (gf, rest) = rest.split_at_mut(hd);
        let (gg, go) = rest.split_at_mut(hd);
        // Simple passes of one or two streams each: LLVM vectorises these, where one loop
        // doing all of it stayed scalar.
        for part in [&mut *gi, &mut *gf, &mut *go] {
            for v in part.iter_mut() {
                *v = G::act(*v);
            }
        }
        for v in gg.iter_mut() {
            *v = fastmath::tanh(*v);
        }
        for ((c, &cp), ((&i_, &f_), &g_)) in c.iter_mut().zip(cp).zip(gi.iter().zip(&*gf).zip(&*gg))
        {
            *c = f_ * cp + i_ * g_;
        }
        for ((h, &c), &o_) in h.iter_mut().zip(&*c).zip(&*go) {
            *h = o_ * fastmath::tanh(c);
        }
    }
}

/// One step's cells, backward, for each batch row: from the activated gates `a`, the
/// cells `c` and `c_prev`, and the state gradient `dh` (from the output plus the next
/// step), writes the pre-activation gate gradients `dg` and carries `dc_next` back.
#[inline(always)]
fn cells_backward_with<G: Gate>(
    hd: usize,
    a: &[f32],
    c: &[f32],
    c_prev: &[f32],
    dh: &[f32],
    dc_next: &mut [f32],
    dg: &mut [f32],
) {
    let rows = a
        .chunks_exact(4 * hd)
        .zip(c.chunks_exact(hd).zip(c_prev.chunks_exact(hd)))
        .zip(dh.chunks_exact(hd))
        .zip(
            dc_next
                .chunks_exact_mut(hd)
                .zip(dg.chunks_exact_mut(4 * hd)),
        );
    for (((a, (c, cp)), dh), (dcn, dg)) in rows {
        let (ai, rest) = a.split_at(hd);
        let (af, rest) = rest.split_at(hd);
        let (ag, ao) = rest.split_at(hd);
        let (di, rest) = dg.split_at_mut(hd);
        let (df, rest) = rest.split_at_mut(hd);
        let (dgg, d_o) = rest.split_at_mut(hd);
        let (ai, af, ag, ao) = (&ai[..hd], &af[..hd], &ag[..hd], &ao[..hd]);
        let (di, df, dgg, d_o) = (&mut di[..hd], &mut df[..hd], &mut dgg[..hd], &mut d_o[..hd]);
        let (c, cp, dh, dcn) = (&c[..hd], &cp[..hd], &dh[..hd], &mut dcn[..hd]);
        for j in 0..hd {
            let tc = fastmath::tanh(c[j]);
            let (i_, f_, g_, o_) = (ai[j], af[j], ag[j], ao[j]);
            let dc = dcn[j] + dh[j] * o_ * (1.0 - tc * tc);
            dcn[j] = dc * f_;
            di[j] = dc * g_ * G::slope(i_);
            df[j] = dc * cp[j] * G::slope(f_);
            dgg[j] = dc * i_ * (1.0 - g_ * g_);
            d_o[j] = dh[j] * tc * G::slope(o_);
        }
    }
}

/// [`cells_forward_with`] for the gate kind.
#[inline(always)]
fn cells_forward(
    gate: GateActivation,
    hd: usize,
    gates: &mut [f32],
    c_prev: &[f32],
    c: &mut [f32],
    h: &mut [f32],
) {
    match gate {
        GateActivation::Sigmoid => cells_forward_with::<Logistic>(hd, gates, c_prev, c, h),
        GateActivation::HardSigmoid => cells_forward_with::<Hard>(hd, gates, c_prev, c, h),
    }
}

/// [`cells_backward_with`] for the gate kind.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn cells_backward(
    gate: GateActivation,
    hd: usize,
    a: &[f32],
    c: &[f32],
    c_prev: &[f32],
    dh: &[f32],
    dc_next: &mut [f32],
    dg: &mut [f32],
) {
    match gate {
        GateActivation::Sigmoid => {
            cells_backward_with::<Logistic>(hd, a, c, c_prev, dh, dc_next, dg)
        }
        GateActivation::HardSigmoid => {
            cells_backward_with::<Hard>(hd, a, c, c_prev, dh, dc_next, dg)
        }
    }
}

/// The instruction set the cell loops run with, chosen once per direction by
/// [`Simd::detect`]; the AVX2 copies can only be reached through a value that proves the
/// processor has it.
#[derive(Clone, Copy, Debug)]
enum Simd {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2(Avx2),
}

/// Proof that the processor runs AVX2: made only by [`Simd::detect`].
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug)]
struct Avx2(());

impl Simd {
    fn detect() -> Simd {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            return Simd::Avx2(Avx2(()));
        }
        Simd::Portable
    }
}

/// [`cells_forward`], in the copy compiled for `simd`.
fn step_forward(
    simd: Simd,
    gate: GateActivation,
    hd: usize,
    gates: &mut [f32],
    c_prev: &[f32],
    c: &mut [f32],
    h: &mut [f32],
) {
    match simd {
        // SAFETY: `Avx2` proves the processor has AVX2.
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2(_) => unsafe { step_forward_avx2(gate, hd, gates, c_prev, c, h) },
        Simd::Portable => cells_forward(gate, hd, gates, c_prev, c, h),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn step_forward_avx2(
    gate: GateActivation,
    hd: usize,
    gates: &mut [f32],
    c_prev: &[f32],
    c: &mut [f32],
    h: &mut [f32],
) {
    cells_forward(gate, hd, gates, c_prev, c, h);
}

/// [`cells_backward`], in the copy compiled for `simd`.
#[allow(clippy::too_many_arguments)]
fn step_backward(
    simd: Simd,
    gate: GateActivation,
    hd: usize,
    a: &[f32],
    c: &[f32],
    c_prev: &[f32],
    dh: &[f32],
    dc_next: &mut [f32],
    dg: &mut [f32],
) {
    match simd {
        // SAFETY: `Avx2` proves the processor has AVX2.
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2(_) => unsafe { step_backward_avx2(gate, hd, a, c, c_prev, dh, dc_next, dg) },
        Simd::Portable => cells_backward(gate, hd, a, c, c_prev, dh, dc_next, dg),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
fn step_backward_avx2(
    gate: GateActivation,
    hd: usize,
    a: &[f32],
    c: &[f32],
    c_prev: &[f32],
    dh: &[f32],
    dc_next: &mut [f32],
    dg: &mut [f32],
) {
    cells_backward(gate, hd, a, c, c_prev, dh, dc_next, dg);
}

/// What the forward pass keeps for the backward one, per direction: activated gates
/// `[T, B, 4H]` and cell states `[T, B, H]`, indexed by time step.
struct Saved {
    gates: [Vec<f32>; 2],
    cells: [Vec<f32>; 2],
}

struct Forward {
    gate: GateActivation,
    saved: Mutex<Option<Saved>>,
}

/// One direction forward: returns its states `[T, B, H]`, gates and cells.
fn forward_direction(
    d: usize,
    dims: Dims,
    gate: GateActivation,
    xp: &[f32],
    w: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let Dims { b, t, h } = dims;
    let h4 = 4 * h;
    let w = &w[d * h4 * h..(d + 1) * h4 * h];
    // W_hhᵀ [H, 4H] laid out row by row: gemm then reads it in place at every step, where
    // the transposed view of `w` was packed again at each of the T steps.
    let mut wt = vec![0f32; h * h4];
    for (i, row) in w.chunks_exact(h).enumerate() {
        for (j, &v) in row.iter().enumerate() {
            wt[j * h4 + i] = v;
        }
    }
    let mut hs = vec![0f32; t * b * h];
    let mut gates = vec![0f32; t * b * h4];
    let mut cells = vec![0f32; t * b * h];
    let zeros = vec![0f32; b * h];
    let simd = Simd::detect();
    for s in 0..t {
        let ti = dims.time(d, s);
        let (g_lo, g_hi) = (ti * b * h4, (ti + 1) * b * h4);
        for bi in 0..b {
            let src = &xp[((bi * t + ti) * 2 + d) * h4..][..h4];
            gates[g_lo + bi * h4..][..h4].copy_from_slice(src);
        }
        if s > 0 {
            let tp = dims.time(d, s - 1);
            // gates [B, 4H] += h_prev [B, H] × W_hhᵀ.
            let (hp, gt) = (&hs[tp * b * h..(tp + 1) * b * h], &mut gates[g_lo..g_hi]);
            matmul((b, h4, h), gt, true, hp, (h, 1), &wt, (h4, 1));
        }
        // The previous step's cells (zeros before the first), and this step's.
        let (c_prev, c_now) = match s {
            0 => (&zeros[..], &mut cells[ti * b * h..(ti + 1) * b * h]),
            _ => {
                // Adjacent time steps: one before the other, whichever the direction.
                let tp = dims.time(d, s - 1);
                let lo = ti.min(tp) * b * h;
                let (first, second) = cells[lo..lo + 2 * b * h].split_at_mut(b * h);
                if tp < ti {
                    (&*first, second)
                } else {
                    (&*second, first)
                }
            }
        };
        let h_now = &mut hs[ti * b * h..(ti + 1) * b * h];
        step_forward(simd, gate, h, &mut gates[g_lo..g_hi], c_prev, c_now, h_now);
    }
    (hs, gates, cells)
}

impl CustomOp2 for Forward {
    fn name(&self) -> &'static str {
        "ferrosea-bilstm"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, t, two, h4) = xl.shape().dims4()?;
        let h = h4 / 4;
        if two != 2 || h4 != 4 * h || wl.shape().dims() != [2, h4, h] {
            bail!(
                "bilstm: inputs {:?} and recurrent weights {:?} do not fit",
                xl.dims(),
                wl.dims()
            );
        }
        let xp = contiguous(xs, xl, "bilstm input")?;
        let w = contiguous(ws, wl, "bilstm weights")?;
        let dims = Dims { b, t, h };
        let (f, r) = rayon::join(
            || forward_direction(0, dims, self.gate, xp, w),
            || forward_direction(1, dims, self.gate, xp, w),
        );
        let mut y = vec![0f32; b * t * 2 * h];
        interleave([&f.0, &r.0], dims, h, &mut y);
        *self.saved.lock().expect("bilstm cache") = Some(Saved {
            gates: [f.1, r.1],
            cells: [f.2, r.2],
        });
        Ok((CpuStorage::F32(y), Shape::from((b, t, 2 * h))))
    }

    fn bwd(
        &self,
        xp: &Tensor,
        w: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let saved = self.saved.lock().expect("bilstm cache");
        let Some(saved) = saved.as_ref() else {
            bail!("bilstm: backward without a forward pass");
        };
        let (b, t, _, h4) = xp.dims4()?;
        let op = Backward {
            dims: Dims { b, t, h: h4 / 4 },
            gate: self.gate,
            saved,
        };
        let both = grad.contiguous()?.apply_op3_no_bwd(res, w, &op)?;
        let n = b * t * 2 * h4;
        let dxp = both.narrow(0, 0, n)?.reshape((b, t, 2, h4))?;
        let dw = both.narrow(0, n, 2 * h4 * (h4 / 4))?.reshape(w.shape())?;
        Ok((Some(dxp), Some(dw)))
    }
}

/// `(dy [B, T, 2H], y [B, T, 2H], w_hh [2, 4H, H])` -> `dxp` and `dw_hh`, flattened and
/// concatenated (a custom op has one output).
struct Backward<'a> {
    dims: Dims,
    gate: GateActivation,
    saved: &'a Saved,
}

impl Backward<'_> {
    /// One direction: `dgates [T, B, 4H]` (pre-activation) and `dw_hh [4H, H]`.
    fn direction(&self, d: usize, dy: &[f32], y: &[f32], w: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let Dims { b, t, h } = self.dims;
        let h4 = 4 * h;
        let w = &w[d * h4 * h..(d + 1) * h4 * h];
        let (gates, cells) = (&self.saved.gates[d], &self.saved.cells[d]);
        let mut dgates = vec![0f32; t * b * h4];
        let mut dw = vec![0f32; h4 * h];
        let mut dh_next = vec![0f32; b * h];
        let mut dc_next = vec![0f32; b * h];
        let zeros = vec![0f32; b * h];
        let mut dw_started = false;
        let simd = Simd::detect();
        for s in (0..t).rev() {
            let ti = self.dims.time(d, s);
            let tp = (s > 0).then(|| self.dims.time(d, s - 1));
            let dg = &mut dgates[ti * b * h4..(ti + 1) * b * h4];
            // dh [B, H]: this step's output gradient plus what the next step sent back.
            for (bi, dh) in dh_next.chunks_exact_mut(h).enumerate() {
                let from_y = &dy[(bi * t + ti) * 2 * h + d * h..][..h];
                for (v, y) in dh.iter_mut().zip(from_y) {
                    *v += y;
                }
            }
            let c_prev = tp.map_or(&zeros[..], |p| &cells[p * b * h..(p + 1) * b * h]);
            step_backward(
                simd,
                self.gate,
                h,
                &gates[ti * b * h4..(ti + 1) * b * h4],
                &cells[ti * b * h..(ti + 1) * b * h],
                c_prev,
                &dh_next,
                &mut dc_next,
                dg,
            );
            if let Some(p) = tp {
                // dh_prev [B, H] = dgates [B, 4H] × W_hh [4H, H].
                matmul((b, h, h4), &mut dh_next, false, dg, (h4, 1), w, (h, 1));
                // dW_hh [4H, H] += dgatesᵀ × h_prev; h_prev[bi, j] = y[(bi·T + p)·2H + d·H + j].
                let hp = &y[p * 2 * h + d * h..];
                matmul(
                    (h4, h, b),
                    &mut dw,
                    dw_started,
                    dg,
                    (1, h4),
                    hp,
                    (t * 2 * h, 1),
                );
                dw_started = true;
            }
        }
        (dgates, dw)
    }
}

impl CustomOp3 for Backward<'_> {
    fn name(&self) -> &'static str {
        "ferrosea-bilstm-backward"
    }

    fn cpu_fwd(
        &self,
        gs: &CpuStorage,
        gl: &Layout,
        ys: &CpuStorage,
        yl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let dy = contiguous(gs, gl, "bilstm gradient")?;
        let y = contiguous(ys, yl, "bilstm output")?;
        let w = contiguous(ws, wl, "bilstm weights")?;
        let Dims { b, t, h } = self.dims;
        let h4 = 4 * h;
        let (f, r) = rayon::join(
            || self.direction(0, dy, y, w),
            || self.direction(1, dy, y, w),
        );
        let n = b * t * 2 * h4;
        let mut out = vec![0f32; n + 2 * h4 * h];
        interleave([&f.0, &r.0], self.dims, h4, &mut out[..n]);
        out[n..n + h4 * h].copy_from_slice(&f.1);
        out[n + h4 * h..].copy_from_slice(&r.1);
        Ok((CpuStorage::F32(out), Shape::from(n + 2 * h4 * h)))
    }
}

/// The recurrence of [`crate::layers::BiLstm`] on the CPU: `xp [B, T, 2, 4H]`,
/// `w_hh [2, 4H, H]` -> `[B, T, 2H]`.
pub(crate) fn bilstm_cpu(xp: &Tensor, w_hh: &Tensor, gate: GateActivation) -> Result<Tensor> {
    xp.contiguous()?.apply_op2(
        &w_hh.contiguous()?,
        Forward {
            gate,
            saved: Mutex::new(None),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u64, scale: f32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = crate::params::mix(s);
                ((s >> 40) as f32 / (1u64 << 23) as f32 - 1.0) * scale
            })
            .collect()
    }

    /// The AVX2 build of the cell loops gives the bits of the portable one (no fused
    /// multiply-add, the same operations), for both gate kinds.
    #[test]
    fn cell_loops_give_the_same_bits_with_and_without_avx2() {
        let (b, hd) = (3, 37);
        for gate in [GateActivation::Sigmoid, GateActivation::HardSigmoid] {
            let gates = values(b * 4 * hd, 1, 6.0);
            let c_prev = values(b * hd, 2, 3.0);
            let run = |simd: Simd| {
                let (mut g, mut c, mut h) = (gates.clone(), vec![0.0; b * hd], vec![0.0; b * hd]);
                step_forward(simd, gate, hd, &mut g, &c_prev, &mut c, &mut h);
                let dh = values(b * hd, 3, 1.0);
                let (mut dc, mut dg) = (values(b * hd, 4, 1.0), vec![0.0; b * 4 * hd]);
                step_backward(simd, gate, hd, &g, &c, &c_prev, &dh, &mut dc, &mut dg);
                [g, c, h, dc, dg].map(|v| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>())
            };
            assert_eq!(run(Simd::detect()), run(Simd::Portable), "{gate:?}");
        }
    }
}
