//! Recurrent layers: LSTM, GRU and simple RNN cells, one or both directions, returning the
//! sequence, the last state or the maximum over time.
//!
//! A bidirectional LSTM is [`BiLstm`], whose CPU recurrence is one custom op
//! (`recurrence.rs`); the other cells and a one-way LSTM run step by step on Candle's ops,
//! which is fast enough for the small recurrent layers of the course's examples.

use candle_core::{Module, Result, Tensor};

use crate::layers::{declare_lstm, BiLstm, GateActivation, InitScheme, Linear};
use crate::params::{Init, Vb};
use crate::spec::{Cell, Recurrent, Return};

/// One direction's parameters.
struct Direction {
    w_ih: Tensor,
    w_hh: Tensor,
    /// The input bias (LSTM, simple RNN: the only bias).
    b_ih: Tensor,
    /// GRU only: the recurrent bias, inside the reset gate's product.
    b_hh: Option<Tensor>,
}

/// A recurrent layer `[B, T, I] -> [B, T, D·H]` (sequence) or `[B, D·H]`.
pub struct RecurrentLayer {
    spec: Recurrent,
    fused: Option<BiLstm>,
    dirs: Vec<Direction>,
}

/// Gate rows per unit of each cell.
fn gates(cell: Cell) -> usize {
    match cell {
        Cell::Lstm => 4,
        Cell::Gru => 3,
        Cell::Simple => 1,
    }
}

impl RecurrentLayer {
    /// Declares `name.forward.*` (and `name.backward.*`): LSTM `weight_ih [4H, I]`,
    /// `weight_hh [4H, H]`, `bias [4H]`; GRU `weight_ih [3H, I]`, `weight_hh [3H, H]`,
    /// `bias_ih [3H]`, `bias_hh [3H]`; simple `weight_ih [H, I]`, `weight_hh [H, H]`,
    /// `bias [H]`.
    pub fn new(
        vb: &Vb,
        name: &str,
        input: usize,
        spec: &Recurrent,
        init: InitScheme,
    ) -> Result<RecurrentLayer> {
        let h = spec.hidden;
        if spec.cell == Cell::Lstm && spec.bidirectional {
            let fused = BiLstm::new(vb, name, input, h, spec.gate_activation)?;
            return Ok(RecurrentLayer {
                spec: spec.clone(),
                fused: Some(fused),
                dirs: Vec::new(),
            });
        }
        let vb = vb.pp(name);
        let names: &[&str] = if spec.bidirectional {
            &["forward", "backward"]
        } else {
            &["forward"]
        };
        let mut dirs = Vec::new();
        for dir in names {
            let vb = vb.pp(*dir);
            let g = gates(spec.cell) * h;
            let (ih, hh, bias) = match init {
                InitScheme::Keras => (Init::glorot(input, h), Init::OrthogonalBlocks, Init::Zeros),
                InitScheme::Torch => {
                    let u = Init::torch(h);
                    (u.clone(), u.clone(), u)
                }
            };
            let d = match spec.cell {
                Cell::Lstm => {
                    let (w_ih, w_hh, b) = declare_lstm(&vb, input, h)?;
                    Direction {
                        w_ih,
                        w_hh,
                        b_ih: b,
                        b_hh: None,
                    }
                }
                Cell::Gru => Direction {
                    w_ih: vb.get_with_hints((g, input), "weight_ih", ih)?,
                    w_hh: vb.get_with_hints((g, h), "weight_hh", hh)?,
                    b_ih: vb.get_with_hints(g, "bias_ih", bias.clone())?,
                    b_hh: Some(vb.get_with_hints(g, "bias_hh", bias)?),
                },
                Cell::Simple => Direction {
                    w_ih: vb.get_with_hints((g, input), "weight_ih", ih)?,
                    w_hh: vb.get_with_hints((g, h), "weight_hh", hh)?,
                    b_ih: vb.get_with_hints(g, "bias", bias)?,
                    b_hh: None,
                },
            };
            dirs.push(d);
        }
        Ok(RecurrentLayer {
            spec: spec.clone(),
            fused: None,
            dirs,
        })
    }

    /// The parameters per direction: `(G·H)·(I + H) + biases`.
    pub fn params(&self, input: usize) -> usize {
        let (g, h) = (gates(self.spec.cell) * self.spec.hidden, self.spec.hidden);
        let biases = if self.spec.cell == Cell::Gru { 2 } else { 1 };
        let d = if self.spec.bidirectional { 2 } else { 1 };
        d * (g * (input + h) + biases * g)
    }

    /// `[B, T, I]` -> the sequence `[B, T, D·H]`, or the last state or the maximum over
    /// time `[B, D·H]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let seq = match &self.fused {
            Some(lstm) => lstm.forward(x)?,
            None => {
                let outs = self
                    .dirs
                    .iter()
                    .enumerate()
                    .map(|(i, d)| self.direction(x, d, i == 1))
                    .collect::<Result<Vec<_>>>()?;
                Tensor::cat(&outs, 2)?
            }
        };
        let (_, t, _) = seq.dims3()?;
        let h = self.spec.hidden;
        match self.spec.returns {
            Return::Sequence => Ok(seq),
            Return::Max => seq.max(1),
            Return::Last => {
                // The forward direction ends at the last step, the backward one at the first.
                let fwd = seq.narrow(2, 0, h)?.narrow(1, t - 1, 1)?.squeeze(1)?;
                if self.spec.bidirectional {
                    let bwd = seq.narrow(2, h, h)?.narrow(1, 0, 1)?.squeeze(1)?;
                    Tensor::cat(&[fwd, bwd], 1)
                } else {
                    Ok(fwd)
                }
            }
        }
    }

    /// One direction from Candle's ops: `[B, T, I] -> [B, T, H]`, each step's state at its
    /// own time.
    fn direction(&self, x: &Tensor, d: &Direction, reverse: bool) -> Result<Tensor> {
        let (b, t, i) = x.dims3()?;
        let h = self.spec.hidden;
        let g = gates(self.spec.cell) * h;
        let xp = Linear::new(d.w_ih.clone(), d.b_ih.clone())
            .forward(&x.reshape((b * t, i))?)?
            .reshape((b, t, g))?;
        let w_hh_t = d.w_hh.t()?;
        let gate = self.spec.gate_activation;
        let mut state = Tensor::zeros((b, h), x.dtype(), x.device())?;
        let mut cell = state.clone();
        let mut outs: Vec<Option<Tensor>> = vec![None; t];
        for s in 0..t {
            let at = if reverse { t - 1 - s } else { s };
            let xs = xp.narrow(1, at, 1)?.squeeze(1)?;
            let hh = state.matmul(&w_hh_t)?;
            state = match self.spec.cell {
                Cell::Simple => (xs + hh)?.tanh()?,
                Cell::Lstm => {
                    let z = (xs + hh)?;
                    let ig = gate.apply(&z.narrow(1, 0, h)?)?;
                    let fg = gate.apply(&z.narrow(1, h, h)?)?;
                    let gg = z.narrow(1, 2 * h, h)?.tanh()?;
                    let og = gate.apply(&z.narrow(1, 3 * h, h)?)?;
                    cell = ((fg * &cell)? + (ig * gg)?)?;
                    (og * cell.tanh()?)?
                }
                Cell::Gru => {
                    let hh = match &d.b_hh {
                        Some(bias) => hh.broadcast_add(bias)?,
                        None => hh,
                    };
                    let r = gate.apply(&(xs.narrow(1, 0, h)? + hh.narrow(1, 0, h)?)?)?;
                    let z = gate.apply(&(xs.narrow(1, h, h)? + hh.narrow(1, h, h)?)?)?;
                    let n = (xs.narrow(1, 2 * h, h)? + (r * hh.narrow(1, 2 * h, h)?)?)?.tanh()?;
                    // (1 - z) * n + z * h
                    (&n + (z * (&state - &n)?)?)?
                }
            };
            outs[at] = Some(state.clone());
        }
        let outs: Vec<Tensor> = outs.into_iter().flatten().collect();
        Tensor::stack(&outs, 1)
    }

    /// The summary's note.
    pub fn note(&self) -> String {
        let cell = match self.spec.cell {
            Cell::Lstm => "LSTM",
            Cell::Gru => "GRU",
            Cell::Simple => "simple RNN, tanh",
        };
        let dirs = if self.spec.bidirectional {
            "bidirectional "
        } else {
            ""
        };
        let gates = match (self.spec.cell, self.spec.gate_activation) {
            (Cell::Simple, _) => "",
            (_, GateActivation::Sigmoid) => ", sigmoid gates",
            (_, GateActivation::HardSigmoid) => ", hard-sigmoid gates",
        };
        let ret = match self.spec.returns {
            Return::Sequence => "",
            Return::Last => ", last state",
            Return::Max => ", max over time",
        };
        let bias = match self.spec.cell {
            Cell::Lstm => format!(
                ", one bias per gate as Keras (PyTorch's two would add {})",
                (if self.spec.bidirectional { 2 } else { 1 }) * 4 * self.spec.hidden
            ),
            _ => String::new(),
        };
        format!("{dirs}{cell}{gates}{ret}{bias}")
    }
}
