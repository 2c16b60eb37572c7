//! DeepLIFT's paired passes: a layer applied to inputs and references together, as one
//! joined batch or as two tensors of which only the inputs are differentiated.

use candle_core::{Module, Result, Tensor};

use super::{channels_first, conv_linear, padded, pool, residual_layout, time_first, Op, Step};
use crate::deeplift::{self};
use crate::layers::Mode;
use crate::spec::{Activation, Pool};

/// What flows through a DeepLIFT pass: one batch `[x; r]` (inputs and references in two
/// halves), or the two as separate tensors, only the inputs' tracked.
pub(super) trait Pairs: Sized {
    /// A linear map, applied to both.
    fn map(&self, f: &dyn Fn(&Tensor) -> Result<Tensor>) -> Result<Self>;
    /// An activation by the rescale rule.
    fn rescale(&self, a: Activation) -> Result<Self>;
    /// Max pooling by the max-pooling rule (`None`: as wide as the positions).
    fn max_pool(&self, k: Option<usize>) -> Result<Self>;
    /// The sum of two.
    fn add(&self, other: &Self) -> Result<Self>;
    /// A recurrent layer, gradients passing through.
    fn recurrent(&self, f: &dyn Fn(&Tensor) -> Result<Tensor>) -> Result<Self>;
}

impl Pairs for Tensor {
    fn map(&self, f: &dyn Fn(&Tensor) -> Result<Tensor>) -> Result<Self> {
        f(self)
    }

    fn rescale(&self, a: Activation) -> Result<Self> {
        deeplift::rescale(self, a)
    }

    fn max_pool(&self, k: Option<usize>) -> Result<Self> {
        match k {
            Some(k) => deeplift::max_pool(self, k),
            None => deeplift::max_pool(self, self.dim(2)?)?.squeeze(2),
        }
    }

    fn add(&self, other: &Self) -> Result<Self> {
        self + other
    }

    fn recurrent(&self, f: &dyn Fn(&Tensor) -> Result<Tensor>) -> Result<Self> {
        f(self)
    }
}

impl Pairs for (Tensor, Tensor) {
    fn map(&self, f: &dyn Fn(&Tensor) -> Result<Tensor>) -> Result<Self> {
        Ok((f(&self.0)?, f(&self.1)?))
    }

    fn rescale(&self, a: Activation) -> Result<Self> {
        deeplift::rescale_pair(&self.0, &self.1, a)
    }

    fn max_pool(&self, k: Option<usize>) -> Result<Self> {
        match k {
            Some(k) => deeplift::max_pool_pair(&self.0, &self.1, k),
            None => {
                let (x, r) = deeplift::max_pool_pair(&self.0, &self.1, self.0.dim(2)?)?;
                Ok((x.squeeze(2)?, r.squeeze(2)?))
            }
        }
    }

    fn add(&self, other: &Self) -> Result<Self> {
        Ok(((&self.0 + &other.0)?, (&self.1 + &other.1)?))
    }

    fn recurrent(&self, _: &dyn Fn(&Tensor) -> Result<Tensor>) -> Result<Self> {
        candle_core::bail!(
            "a DeepLIFT pass of separate inputs and references cannot cross a recurrent layer"
        )
    }
}

/// One step of a DeepLIFT pass: linear parts as in [`apply`], non-linear ones by the rules.
pub(super) fn apply_deeplift<H: Pairs>(step: &Step, h: &H) -> Result<H> {
    let pool_rule = |y: H, p: Option<Pool>| -> Result<H> {
        match p {
            Some(Pool::Max(k)) => y.max_pool(Some(k)),
            Some(Pool::GlobalMax) => y.max_pool(None),
            other => y.map(&|t| pool(t, other)),
        }
    };
    match &step.op {
        Op::Conv {
            conv,
            spec,
            pad,
            lout,
        } => {
            let y = h.map(&|x| conv_linear(conv, spec, &padded(x, step.input, *pad)?, *lout))?;
            pool_rule(y.rescale(spec.activation)?, spec.pool)
        }
        Op::Dense { linear, activation } => h.map(&|x| linear.forward(x))?.rescale(*activation),
        Op::BatchNorm(bn) => h.map(&|x| bn.forward(x, step.input, Mode::Eval)),
        Op::Dropout { .. } => h.map(&|x| Ok(x.clone())),
        Op::Flatten => h.map(&|x| x.flatten_from(1)),
        Op::Activation(a) => h.rescale(*a),
        Op::Pool(p) => pool_rule(h.map(&|x| channels_first(x, step.input))?, Some(*p)),
        Op::Residual(body) => {
            let mut y = h.map(&|x| Ok(x.clone()))?;
            for s in body {
                y = apply_deeplift(s, &y)?;
            }
            h.add(&y.map(&|y| residual_layout(step, body, y))?)
        }
        Op::Recurrent(r) => h.recurrent(&|x| r.forward(&time_first(x, step.input)?)),
        Op::ReluMaxPool(k) => h.rescale(Activation::Relu)?.max_pool(Some(*k)),
    }
}
