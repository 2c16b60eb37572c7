//! `predict`: a checkpoint's probabilities for every row of a dataset file.

use std::path::PathBuf;
use std::time::Instant;

use ferrosea_dataset::{AttrValue, Header, PredictionsOptions, PredictionsWriter, Reader};
use ferrosea_runtime::checkpoint;
use ferrosea_runtime::data::{Loader, LoaderSpec};
use ferrosea_runtime::{DeviceSpec, RuntimeError};

use crate::{check_output, EvaluateError};

/// What to predict and how.
#[derive(Clone, Debug)]
pub struct PredictOptions {
    /// A checkpoint JSON, or a ferrosea-train output directory (its best checkpoint).
    pub checkpoint: PathBuf,
    /// The dataset file.
    pub data: PathBuf,
    /// The prediction file to write.
    pub out: PathBuf,
    /// Average each sample's prediction with that of its reverse complement.
    pub rc_average: bool,
    /// Samples per forward pass.
    pub batch_size: usize,
    /// Where the network runs.
    pub device: DeviceSpec,
    /// Deflate level of the `pred` dataset (0: uncompressed).
    pub compression_level: u32,
    /// Recorded in the file's `command_line` attribute.
    pub command_line: String,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

/// What a prediction run did.
#[derive(Clone, Debug)]
pub struct PredictReport {
    /// The checkpoint JSON used.
    pub checkpoint: PathBuf,
    /// Rows predicted.
    pub rows: usize,
    /// Targets per row.
    pub targets: usize,
    /// Wall time of the whole run.
    pub seconds: f64,
}

impl PredictReport {
    /// Samples per second, over the whole run.
    pub fn samples_per_s(&self) -> f64 {
        self.rows as f64 / self.seconds.max(1e-9)
    }
}

/// Rows written to the prediction file at a time (a multiple of its chunk rows).
const FLUSH_ROWS: usize = 4096;

/// Streams `opts.data` through the network of `opts.checkpoint` into `opts.out`, holding at
/// most a few batches and `FLUSH_ROWS` (4,096) rows of predictions in memory.
pub fn predict(opts: &PredictOptions) -> Result<PredictReport, EvaluateError> {
    let started = Instant::now();
    check_output(
        &opts.out,
        &[("--data", &opts.data), ("--checkpoint", &opts.checkpoint)],
    )?;
    let reader = Reader::open(&opts.data)?;
    if reader.is_empty() {
        return Err(EvaluateError::Data(format!(
            "{}: the dataset has no rows: nothing to predict",
            opts.data.display()
        )));
    }
    if opts.batch_size == 0 {
        return Err(EvaluateError::Usage(
            "--batch-size must be at least 1".into(),
        ));
    }
    let json = checkpoint::resolve(&opts.checkpoint).map_err(RuntimeError::from)?;
    // The resolved checkpoint JSON (the output was checked as a path at the start).
    ferrosea_dataset::ensure_not_input(&opts.out, &[("--checkpoint", &json)])
        .map_err(|e| EvaluateError::Usage(e.to_string()))?;
    let device = opts.device.open()?;
    let (net, meta) = checkpoint::load_network(&json, &device)?;
    let window = reader.window();
    if meta.window != window {
        return Err(EvaluateError::Mismatch(format!(
            "{} was trained on {} bp windows, {} has {window} bp windows",
            json.display(),
            meta.window,
            opts.data.display()
        )));
    }
    if meta.alphabet != *reader.alphabet() {
        return Err(EvaluateError::Mismatch(format!(
            "{} was trained on sequences over {}, {} holds {}",
            json.display(),
            meta.alphabet,
            opts.data.display(),
            reader.alphabet()
        )));
    }
    if opts.rc_average && !reader.alphabet().is_dna() {
        return Err(EvaluateError::Usage(format!(
            "--rc-average needs one-hot A, C, G, T; {} holds {}",
            opts.data.display(),
            reader.alphabet()
        )));
    }
    let targets = reader.targets();
    check_same_targets(&meta.targets, &targets.name, &json, &opts.data)?;
    let t = targets.len();

    let mut attrs = vec![
        (
            "checkpoint".into(),
            AttrValue::Str(json.display().to_string()),
        ),
        ("checkpoint_step".into(), AttrValue::Int(meta.step as i64)),
        ("model".into(), AttrValue::Str(meta.model().arch().into())),
        ("loss".into(), AttrValue::Str(meta.loss.name().into())),
        (
            "data".into(),
            AttrValue::Str(opts.data.display().to_string()),
        ),
        ("rc_average".into(), AttrValue::Int(opts.rc_average as i64)),
    ]
    .into_iter()
    .chain(ferrosea_dataset::provenance(&opts.command_line))
    .collect::<Vec<_>>();
    if let Some(split) = reader.attr_str("split") {
        attrs.push(("split".into(), AttrValue::Str(split)));
    }
    for name in ["forward_rows", "reverse_complement"] {
        if let Some(v) = reader.attr_int(name) {
            attrs.push((name.into(), AttrValue::Int(v)));
        }
    }
    let header = Header {
        window,
        targets: targets.clone(),
        chrom_names: reader.chrom_names().to_vec(),
        attrs,
        labels: reader.labels(),
        ..Default::default()
    };
    let rows = reader.len();
    let mut writer = PredictionsWriter::create(
        &opts.out,
        &header,
        rows,
        PredictionsOptions {
            level: opts.compression_level,
            ..PredictionsOptions::default()
        },
    )?;
    let bar = if opts.progress {
        let bar = indicatif::ProgressBar::new(rows as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "predict {bar:30} {pos}/{len} samples, {per_sec}, eta {eta}",
            )
            .expect("valid template"),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };

    let loader = Loader::spawn(LoaderSpec::in_file_order(
        opts.data.clone(),
        opts.batch_size,
        meta.loss,
    ));
    let (mut pred, mut labels) = (Vec::new(), Vec::new());
    let mut next_row = 0; // first row not yet predicted
    for batch in loader {
        let b = batch?;
        let n = b.rows;
        let probs = if opts.rc_average {
            // One pass over both blocks, each starting on a padded boundary: the forward
            // windows at rows 0.., their reverse complements at rows `half`...
            let half = opts.batch_size.next_multiple_of(64);
            let mut x = b.x;
            let rc = ferrosea_genome::onehot::reverse_complements(&x, window);
            x.resize(half * 4 * window, 0.0);
            x.extend(rc);
            let p = probabilities(&net, &device, x, (window, 2 * half), meta.loss)?;
            let (fwd, rc) = p.split_at(half * t);
            fwd[..n * t]
                .iter()
                .zip(&rc[..n * t])
                .map(|(a, b)| (a + b) / 2.0)
                .collect()
        } else {
            probabilities(&net, &device, b.x, (window, opts.batch_size), meta.loss)?
        };
        if let Some(i) = probs.iter().position(|p| !p.is_finite()) {
            let (row, target) = (next_row + i / t, i % t);
            let (chrom, start, strand) = reader.read_coords(row..row + 1)?.remove(0);
            return Err(EvaluateError::Data(format!(
                "{}: the prediction for row {row} ({chrom}:{start} {}), target {} is {}: the \
                 checkpoint's weights are probably not finite",
                json.display(),
                strand as char,
                targets.name[target],
                probs[i]
            )));
        }
        pred.extend(probs);
        labels.extend(b.y);
        next_row += n;
        bar.set_position(next_row as u64);
        let done = writer.rows_written();
        if next_row - done >= FLUSH_ROWS {
            flush(&mut writer, &reader, &mut pred, &mut labels, FLUSH_ROWS, t)?;
        }
    }
    while writer.rows_written() < next_row {
        let k = (next_row - writer.rows_written()).min(FLUSH_ROWS);
        flush(&mut writer, &reader, &mut pred, &mut labels, k, t)?;
    }
    if next_row != rows {
        return Err(EvaluateError::Data(format!(
            "{}: read {next_row} of {rows} rows",
            opts.data.display()
        )));
    }
    writer.finish()?;
    bar.finish_and_clear();
    Ok(PredictReport {
        checkpoint: json,
        rows,
        targets: t,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Probabilities `[rows, T]` of `[rows, 4, window]` windows, row-major: the outputs'
/// sigmoid (or softmax, or the values themselves, as `loss` says).
fn probabilities(
    net: &ferrosea_models::Network,
    device: &candle_core::Device,
    x: Vec<f32>,
    (window, batch): (usize, usize),
    loss: ferrosea_runtime::loss::Loss,
) -> Result<Vec<f32>, EvaluateError> {
    let logits = ferrosea_runtime::eval_logits(net, device, x, window, batch)?;
    Ok(loss.outputs(&logits)?.flatten_all()?.to_vec1::<f32>()?)
}

/// Writes the first `k` buffered rows with their coordinates.
fn flush(
    writer: &mut PredictionsWriter,
    reader: &Reader,
    pred: &mut Vec<f32>,
    labels: &mut Vec<f32>,
    k: usize,
    t: usize,
) -> Result<(), EvaluateError> {
    let first = writer.rows_written();
    let (chrom, start, strand) = reader.read_coord_columns(first..first + k)?;
    writer.write_rows(&pred[..k * t], &labels[..k * t], &chrom, &start, &strand)?;
    pred.drain(..k * t);
    labels.drain(..k * t);
    Ok(())
}

/// The checkpoint's targets must be the dataset's, in the same order.
fn check_same_targets(
    ours: &[String],
    theirs: &[String],
    json: &std::path::Path,
    data: &std::path::Path,
) -> Result<(), EvaluateError> {
    if ours == theirs {
        return Ok(());
    }
    let detail = if ours.len() != theirs.len() {
        format!("{} targets against {}", ours.len(), theirs.len())
    } else {
        let i = ours
            .iter()
            .zip(theirs)
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        let same_set = {
            let (mut a, mut b) = (ours.to_vec(), theirs.to_vec());
            a.sort();
            b.sort();
            a == b
        };
        format!(
            "target {} is {} in the checkpoint and {} in the data{}",
            i + 1,
            ours[i],
            theirs[i],
            if same_set {
                " (the same targets in another order: make the dataset with the manifest the \
                 model was trained on)"
            } else {
                ""
            }
        )
    };
    Err(EvaluateError::Mismatch(format!(
        "{} was trained on other targets than {} has: {detail}",
        json.display(),
        data.display()
    )))
}
