//! Batched inference: logits of one-hot windows in passes whose bits do not depend on the
//! batch size or the thread count, and whole-file predictions.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use ferrosea_models::{Mode, Network};

use crate::data::{Loader, LoaderSpec};
use crate::loss::Loss;
use crate::RuntimeError;

/// The fewest rows of an inference pass (see [`eval_logits`]).
pub const MIN_PASS_ROWS: usize = 128;

/// The rows of the passes [`eval_logits`] runs for at most `batch` windows: `batch` rounded
/// up to a multiple of 64, at least [`MIN_PASS_ROWS`].
pub fn pass_rows(batch: usize) -> usize {
    batch.max(1).next_multiple_of(64).max(MIN_PASS_ROWS)
}

/// Logits `[rows, T]` of windows `x` (`[rows, C, window]` with the network's C channels,
/// row-major, at most `batch` rows) in evaluation mode. Every pass is padded with empty windows to the same shape,
/// `batch` rounded up to a multiple of 64 rows and at least [`MIN_PASS_ROWS`]: Candle's CPU
/// matrix products split rows across threads and compute a partial block of rows
/// differently, so ragged passes made predictions depend on the thread count; and the `gemm`
/// crate sums products of at most 64 x 64 in other blocks than larger ones, so passes of 64
/// rows gave other last bits than passes of 128 (the batch size changed the output).
///
/// ```
/// use ferrosea_models::{ModelConfig, Network, ParamStore};
/// use ferrosea_runtime::{eval_logits, DeviceSpec};
///
/// let device = "cpu".parse::<DeviceSpec>()?.open()?;
/// let cfg: ModelConfig = serde_json::from_str(
///     r#"{"arch": "layers", "layers": [
///         {"kind": "conv", "filters": 4, "width": 3, "activation": "relu", "pool": "global-max"}]}"#,
/// )?;
/// let store = ParamStore::new(1);
/// let net = Network::new(&cfg, 10, 2, &store.builder(&device))?;
/// // Three windows of 10 bp, one-hot [rows, 4, 10]: all A, all C, all G.
/// let mut x = vec![0f32; 3 * 4 * 10];
/// for (row, base) in [0, 1, 2].into_iter().enumerate() {
///     x[(row * 4 + base) * 10..(row * 4 + base + 1) * 10].fill(1.0);
/// }
/// let all = eval_logits(&net, &device, x.clone(), 10, 3)?.to_vec2::<f32>()?;
/// assert_eq!(all.len(), 3);
/// // The second window alone gives the same bits as within the batch.
/// let one = eval_logits(&net, &device, x[40..80].to_vec(), 10, 1)?.to_vec2::<f32>()?;
/// assert_eq!(one[0], all[1]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn eval_logits(
    net: &Network,
    device: &Device,
    mut x: Vec<f32>,
    window: usize,
    batch: usize,
) -> candle_core::Result<Tensor> {
    let c = net.channels();
    let rows = x.len() / (c * window);
    let padded = pass_rows(batch.max(rows));
    x.resize(padded * c * window, 0.0);
    let x = Tensor::from_vec(x, (padded, c, window), device)?;
    net.forward(&x, Mode::Eval)?.logits.narrow(0, 0, rows)
}

/// Outputs `[rows, targets]` for a whole file (probabilities, or values for MSE: see
/// [`Loss::outputs`]), its labels (as numbers, class labels one-hot), and the mean `loss`.
pub fn predict(
    net: &Network,
    device: &Device,
    path: &Path,
    batch: usize,
    targets: usize,
    loss: Loss,
) -> Result<(Vec<f32>, Vec<f32>, f64), RuntimeError> {
    let loader = Loader::spawn(LoaderSpec::in_file_order(path.to_path_buf(), batch, loss));
    let mut scores = Vec::new();
    let mut labels = Vec::new();
    let mut loss_sum = 0.0;
    let mut window = 0;
    for b in loader {
        let b = b?;
        if window == 0 {
            window = b.x.len() / (net.channels() * b.rows);
        }
        let y = Tensor::from_slice(&b.y, (b.rows, targets), device)?;
        let logits = eval_logits(net, device, b.x, window, batch)?;
        loss_sum += loss
            .sum(&logits, &y)?
            .to_dtype(DType::F64)?
            .to_scalar::<f64>()?;
        scores.extend(loss.outputs(&logits)?.flatten_all()?.to_vec1::<f32>()?);
        labels.extend(b.y);
    }
    let rows = labels.len() / targets.max(1);
    let n = (rows * loss.terms_per_row(targets)).max(1) as f64;
    Ok((scores, labels, loss_sum / n))
}
