//! The training objective.

use candle_core::{Result, Tensor};

/// Sum over all elements of binary cross-entropy with logits, in the stable form
/// `max(x, 0) - x * y + log(1 + exp(-|x|))` (candle-nn's version overflows for large
/// logits). Divide by the element count of the global batch for the mean.
pub fn bce_with_logits_sum(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let soft = (logits.abs()?.neg()?.exp()? + 1.0)?.log()?;
    ((logits.relu()? - (logits * targets)?)? + soft)?.sum_all()
}
