//! `attribute`: per-base contribution scores of a network's outputs (which bases drive each
//! prediction).
//!
//! For each chosen sequence and target, the gradient of the target's output (its logit: the
//! value before the sigmoid or softmax, as Captum attributes a model's raw output) with
//! respect to the input, by Candle's automatic differentiation through the network's own
//! ops (the CPU conv, conv + ReLU + pool, dense and BiLSTM ops compute their input gradients).
//!
//! - `saliency`: hypothetical contributions `|∂y/∂x|` (Captum's `Saliency`), contributions
//!   hypothetical x one-hot.
//! - `grad-x-input`: hypothetical `∂y/∂x`, contributions `x ⊙ ∂y/∂x` (Captum's
//!   `InputXGradient`).
//! - `integrated-gradients`: the mean gradient `g` over `steps` points
//!   `r + (x - r)(k + ½) / steps` (Captum's `riemann_middle` rule) from a reference `r`: the
//!   all-zero sequence, or each of `references` dinucleotide shuffles of the sequence, the
//!   results averaged. The hypothetical contribution of base b at a position is
//!   `g_b - Σ_c r_c g_c` (zero reference: `g_b`), and the contributions, that times the
//!   one-hot input, sum to `y(x) - mean y(r)` up to the integration error (completeness).
//!
//! The output is a result file (`ferrosea_dataset::ResultsWriter`, format
//! `ferrosea-attributions`): per row the dataset row, its coordinates, the sequence and both
//! arrays `[window, channels, targets]`. Every pass has the same number of rows (padded), so
//! the bits do not depend on the batch size or the thread count.

use std::path::PathBuf;

use candle_core::{Device, Tensor, Var};
use ferrosea_dataset::{AttrValue, Column, ColumnKind, Reader, ResultsSpec, ResultsWriter};
use ferrosea_models::{Mode, Network};
use ferrosea_runtime::checkpoint;
use ferrosea_runtime::data::{Loader, LoaderSpec};
use ferrosea_runtime::DeviceSpec;

use crate::InterpretError;

/// Value of the `format` attribute of an attribution file.
pub const ATTRIBUTIONS_FORMAT: &str = "ferrosea-attributions";

/// How contributions are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// The gradient's magnitude.
    Saliency,
    /// Gradient times input.
    GradXInput,
    /// Integrated gradients from the all-zero reference.
    IntegratedGradients,
}

impl Method {
    /// Its name on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            Method::Saliency => "saliency",
            Method::GradXInput => "grad-x-input",
            Method::IntegratedGradients => "integrated-gradients",
        }
    }
}

/// Which sequences, which targets, how.
#[derive(Clone, Debug)]
pub struct AttributeOptions {
    /// A checkpoint JSON or a ferrosea-train output directory.
    pub checkpoint: PathBuf,
    /// A dataset file.
    pub data: PathBuf,
    /// The attribution file to write.
    pub out: PathBuf,
    /// Target names; empty: every target (at most [`MAX_DEFAULT_TARGETS`]).
    pub targets: Vec<String>,
    /// Only rows with a positive label for this target.
    pub positives: Option<String>,
    /// At most this many rows (the first ones kept).
    pub max_rows: Option<usize>,
    /// The method.
    pub method: Method,
    /// Integration points of integrated gradients.
    pub steps: usize,
    /// Where integrated gradients start.
    pub reference: Reference,
    /// Rows per pass through the network.
    pub batch_size: usize,
    /// Where the network runs.
    pub device: DeviceSpec,
    /// Draw each row's contribution logo per target into this directory (DNA only).
    pub plot: Option<PathBuf>,
    /// Recorded in the file.
    pub command_line: String,
}

/// What integrated gradients start from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reference {
    /// The all-zero input.
    Zero,
    /// `count` dinucleotide shuffles of each sequence (Altschul–Erickson, seeded by `seed`
    /// and the row).
    Shuffled {
        /// Shuffles per sequence.
        count: usize,
        /// Seed of the shuffles.
        seed: u64,
    },
}

/// Targets attributed when none are named: a model with more needs `--targets`.
pub const MAX_DEFAULT_TARGETS: usize = 16;

/// What `attribute` wrote.
#[derive(Clone, Debug)]
pub struct AttributeReport {
    /// Sequences attributed.
    pub rows: usize,
    /// The targets, in the file's order.
    pub targets: Vec<String>,
    /// Sequences per second.
    pub sequences_per_s: f64,
    /// The file.
    pub out: PathBuf,
    /// The logos drawn (SVG and PNG), with `plot`.
    pub plots: Vec<PathBuf>,
}

fn candle(e: candle_core::Error) -> InterpretError {
    InterpretError::Usage(format!("tensor operation: {e}"))
}

/// Gradients `[rows, C, L]` of output `t` summed over the rows, for inputs `x` of `rows`
/// rows, in passes of `pass` rows (the last padded with zeros).
fn gradients(
    net: &Network,
    device: &Device,
    x: &[f32],
    (channels, window): (usize, usize),
    t: usize,
    pass: usize,
) -> Result<Vec<f32>, InterpretError> {
    let row = channels * window;
    let rows = x.len() / row;
    let mut out = Vec::with_capacity(x.len());
    for first in (0..rows).step_by(pass) {
        let n = pass.min(rows - first);
        let mut block = x[first * row..(first + n) * row].to_vec();
        block.resize(pass * row, 0.0);
        let input = Var::from_tensor(
            &Tensor::from_vec(block, (pass, channels, window), device).map_err(candle)?,
        )
        .map_err(candle)?;
        let logits = net
            .forward(input.as_tensor(), Mode::Eval)
            .map_err(candle)?
            .logits;
        let y = logits
            .narrow(1, t, 1)
            .and_then(|c| c.sum_all())
            .map_err(candle)?;
        let grads = y.backward().map_err(candle)?;
        let g = grads.get(input.as_tensor()).ok_or_else(|| {
            InterpretError::Usage("the network gives no gradient for its input".into())
        })?;
        let g = g
            .flatten_all()
            .and_then(|g| g.to_vec1::<f32>())
            .map_err(candle)?;
        out.extend_from_slice(&g[..n * row]);
    }
    Ok(out)
}

/// Hypothetical contributions `[rows, C, L]` of output `t` by `method` for the inputs `x`
/// (`[rows, C, L]`, row-major), in passes of `pass` rows through `net` (`steps` integration
/// points per row for integrated gradients, from the zero input or from `references`: `R`
/// references `[C, L]` per row, `[rows, R, C, L]`). Contributions are these times the
/// inputs.
pub fn hypothetical(
    net: &Network,
    device: &Device,
    x: &[f32],
    dims: (usize, usize),
    t: usize,
    (method, steps, pass): (Method, usize, usize),
    references: Option<&[f32]>,
) -> Result<Vec<f32>, InterpretError> {
    match method {
        Method::Saliency => Ok(gradients(net, device, x, dims, t, pass)?
            .into_iter()
            .map(f32::abs)
            .collect()),
        Method::GradXInput => gradients(net, device, x, dims, t, pass),
        Method::IntegratedGradients => {
            let (c, l) = dims;
            let row = c * l;
            let rows = x.len() / row;
            let zero = vec![0f32; row];
            let per = references
                .map_or(1, |r| r.len() / (rows * row).max(1))
                .max(1);
            let reference = |i: usize, j: usize| -> &[f32] {
                match references {
                    Some(r) => &r[(i * per + j) * row..(i * per + j + 1) * row],
                    None => &zero,
                }
            };
            // Row (i, j, k) of the points: r_ij + (x_i - r_ij)(k + ½) / steps.
            let mut points = Vec::with_capacity(x.len() * per * steps);
            for i in 0..rows {
                let xi = &x[i * row..(i + 1) * row];
                for j in 0..per {
                    let r = reference(i, j);
                    for k in 0..steps {
                        let a = (k as f32 + 0.5) / steps as f32;
                        points.extend(xi.iter().zip(r).map(|(x, r)| r + (x - r) * a));
                    }
                }
            }
            let g = gradients(net, device, &points, dims, t, pass)?;
            let mut out = vec![0f32; x.len()];
            let mut mean = vec![0f32; row];
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
                    // g_b - Σ_c r_c g_c at each position.
                    let r = reference(i, j);
                    for p in 0..l {
                        let rg: f32 = (0..c).map(|ch| r[ch * l + p] * mean[ch * l + p]).sum();
                        for ch in 0..c {
                            out[i * row + ch * l + p] += (mean[ch * l + p] - rg) / per as f32;
                        }
                    }
                }
            }
            Ok(out)
        }
    }
}

/// `count` dinucleotide shuffles `[count, C, L]` of the sequence `x` (`[C, L]`), seeded by
/// `seed` and `row`; an unknown symbol (an all-zero one-hot column) is shuffled as one more
/// symbol and stays all zero.
fn shuffled_references(
    x: &[f32],
    alphabet: &ferrosea_dataset::Alphabet,
    window: usize,
    (count, seed, row): (usize, u64, usize),
) -> Vec<f32> {
    let c = alphabet.channels();
    let n = alphabet.len();
    let symbols: Vec<u8> = (0..window)
        .map(|p| match alphabet.encoding() {
            ferrosea_dataset::Encoding::OneHot => {
                (0..c).find(|&ch| x[ch * window + p] > 0.5).unwrap_or(n) as u8
            }
            ferrosea_dataset::Encoding::Index => x[p] as u8,
        })
        .collect();
    let mut out = vec![0f32; count * c * window];
    for j in 0..count {
        let mut rng = ferrosea_models::params::rng_for(seed, &[0xd1_5e7f, row as u64, j as u64]);
        let s = ferrosea_genome::shuffle::dinucleotide_shuffle(&symbols, n + 1, &mut rng);
        let r = &mut out[j * c * window..(j + 1) * c * window];
        for (p, &v) in s.iter().enumerate() {
            match alphabet.encoding() {
                ferrosea_dataset::Encoding::OneHot if (v as usize) < n => {
                    r[v as usize * window + p] = 1.0
                }
                ferrosea_dataset::Encoding::OneHot => {}
                ferrosea_dataset::Encoding::Index => r[p] = v as f32,
            }
        }
    }
    out
}

/// Runs the method over the chosen rows and writes the attribution file.
pub fn attribute(opts: &AttributeOptions) -> Result<AttributeReport, InterpretError> {
    let started = std::time::Instant::now();
    let usage = |e: String| InterpretError::Usage(e);
    if opts.batch_size == 0 || opts.steps == 0 {
        return Err(usage("--batch-size and --steps must be at least 1".into()));
    }
    if let Reference::Shuffled { count, .. } = opts.reference {
        if opts.method != Method::IntegratedGradients {
            return Err(usage(format!(
                "--reference shuffle applies to integrated-gradients, not {}",
                opts.method.name()
            )));
        }
        if count == 0 {
            return Err(usage("--references must be at least 1".into()));
        }
    }
    let reader = Reader::open(&opts.data).map_err(|e| usage(e.to_string()))?;
    let json = checkpoint::resolve(&opts.checkpoint).map_err(|e| usage(e.to_string()))?;
    crate::refuse_inputs(
        std::slice::from_ref(&opts.out),
        &[
            ("--checkpoint", &opts.checkpoint),
            ("--checkpoint", &json),
            ("--data", &opts.data),
        ],
    )?;
    let device = opts.device.open().map_err(|e| usage(e.to_string()))?;
    let (net, meta) = checkpoint::load_network(&json, &device).map_err(|e| usage(e.to_string()))?;
    let (window, channels) = (reader.window(), reader.alphabet().channels());
    if meta.window != window || meta.alphabet != *reader.alphabet() {
        return Err(usage(format!(
            "{} holds {window}-long sequences over {}, but {} was trained on {}-long \
             sequences over {}",
            opts.data.display(),
            reader.alphabet(),
            json.display(),
            meta.window,
            meta.alphabet
        )));
    }
    let index = |name: &str, flag: &str| -> Result<usize, InterpretError> {
        meta.targets.iter().position(|t| t == name).ok_or_else(|| {
            usage(format!(
                "{flag}: {} has no target named '{name}' (it has {}: {}{})",
                json.display(),
                meta.targets.len(),
                meta.targets
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                if meta.targets.len() > 5 { ", ..." } else { "" }
            ))
        })
    };
    let targets: Vec<usize> = if opts.targets.is_empty() {
        if meta.targets.len() > MAX_DEFAULT_TARGETS {
            return Err(usage(format!(
                "{} has {} targets: name those to attribute with --targets (one array of \
                 window x channels per sequence and target)",
                json.display(),
                meta.targets.len()
            )));
        }
        (0..meta.targets.len()).collect()
    } else {
        opts.targets
            .iter()
            .map(|n| index(n, "--targets"))
            .collect::<Result<_, _>>()?
    };
    let positive = opts
        .positives
        .as_deref()
        .map(|n| {
            reader
                .targets()
                .name
                .iter()
                .position(|t| t == n)
                .ok_or_else(|| {
                    usage(format!(
                        "--positives: {} has no target '{n}'",
                        opts.data.display()
                    ))
                })
        })
        .transpose()?;
    let names: Vec<String> = targets.iter().map(|&t| meta.targets[t].clone()).collect();
    let k = targets.len();
    let spec = ResultsSpec {
        format: ATTRIBUTIONS_FORMAT.into(),
        version: 1,
        attrs: vec![
            ("method".into(), AttrValue::Str(opts.method.name().into())),
            ("steps".into(), AttrValue::Int(opts.steps as i64)),
            (
                "reference".into(),
                AttrValue::Str(match opts.reference {
                    Reference::Zero => "zero".into(),
                    Reference::Shuffled { count, seed } => {
                        format!("{count} dinucleotide shuffles, seed {seed}")
                    }
                }),
            ),
            ("output".into(), AttrValue::Str("logit".into())),
            (
                "checkpoint".into(),
                AttrValue::Str(json.display().to_string()),
            ),
            ("checkpoint_step".into(), AttrValue::Int(meta.step as i64)),
            (
                "data".into(),
                AttrValue::Str(opts.data.display().to_string()),
            ),
            ("window".into(), AttrValue::Int(window as i64)),
            (
                "alphabet".into(),
                AttrValue::Str(reader.alphabet().symbols().into()),
            ),
            (
                "command_line".into(),
                AttrValue::Str(opts.command_line.clone()),
            ),
            (
                "ferrosea_version".into(),
                AttrValue::Str(env!("CARGO_PKG_VERSION").into()),
            ),
        ],
        targets: Some(names.clone()),
        columns: vec![
            ("row".into(), ColumnKind::Int),
            ("chrom".into(), ColumnKind::Str),
            ("start".into(), ColumnKind::Int),
            ("strand".into(), ColumnKind::Str),
        ],
        arrays: vec![
            ("x".into(), vec![window, channels]),
            ("hypothetical".into(), vec![window, channels, k]),
            ("contributions".into(), vec![window, channels, k]),
        ],
        chunk_rows: 64,
        level: 4,
    };
    let dna = reader.alphabet().is_dna();
    if let Some(dir) = &opts.plot {
        if !dna {
            return Err(usage(format!(
                "--plot draws DNA letters; {} holds sequences over {}",
                opts.data.display(),
                reader.alphabet()
            )));
        }
        std::fs::create_dir_all(dir).map_err(|e| InterpretError::Io(dir.clone(), e))?;
    }
    let mut plots = Vec::new();
    let mut writer = ResultsWriter::create(&opts.out, &spec).map_err(|e| usage(e.to_string()))?;
    let pass = ferrosea_runtime::pass_rows(opts.batch_size);
    // The labels only choose rows: any kind will do.
    let loader = Loader::spawn(LoaderSpec::in_file_order(
        opts.data.clone(),
        opts.batch_size,
        ferrosea_runtime::loss::Loss::Mse,
    ));
    let t_all = reader.targets().len();
    let limit = opts.max_rows.unwrap_or(usize::MAX);
    let row = channels * window;
    let mut done = 0usize;
    for b in loader {
        if done >= limit {
            break;
        }
        let b = b.map_err(usage)?;
        let keep: Vec<usize> = (0..b.rows)
            .filter(|&i| positive.is_none_or(|p| b.y[i * t_all + p] > 0.5))
            .take(limit - done)
            .collect();
        if keep.is_empty() {
            continue;
        }
        let x: Vec<f32> = keep
            .iter()
            .flat_map(|&i| b.x[i * row..(i + 1) * row].iter().copied())
            .collect();
        let n = keep.len();
        let refs: Option<Vec<f32>> = match opts.reference {
            Reference::Zero => None,
            Reference::Shuffled { count, seed } => Some(
                keep.iter()
                    .enumerate()
                    .flat_map(|(j, &i)| {
                        shuffled_references(
                            &x[j * row..(j + 1) * row],
                            reader.alphabet(),
                            window,
                            (count, seed, b.first + i),
                        )
                    })
                    .collect(),
            ),
        };
        // [rows, C, L] per target -> [rows, L, C, K].
        let mut hyp = vec![0f32; n * row * k];
        for (j, &t) in targets.iter().enumerate() {
            let h = hypothetical(
                &net,
                &device,
                &x,
                (channels, window),
                t,
                (opts.method, opts.steps, pass),
                refs.as_deref(),
            )?;
            for i in 0..n {
                for c in 0..channels {
                    for p in 0..window {
                        hyp[((i * window + p) * channels + c) * k + j] =
                            h[i * row + c * window + p];
                    }
                }
            }
        }
        let mut xs = vec![0f32; n * row];
        for i in 0..n {
            for c in 0..channels {
                for p in 0..window {
                    xs[(i * window + p) * channels + c] = x[i * row + c * window + p];
                }
            }
        }
        let contributions: Vec<f32> = hyp.iter().enumerate().map(|(e, h)| h * xs[e / k]).collect();
        let rows: Vec<usize> = keep.iter().map(|&i| b.first + i).collect();
        // The batch's coordinates in one read; the kept rows' picked from them.
        let coords = reader
            .read_coords(b.first..b.first + b.rows)
            .map_err(|e| usage(e.to_string()))?;
        let mut chroms = Vec::with_capacity(n);
        let mut starts = Vec::with_capacity(n);
        let mut strands = Vec::with_capacity(n);
        for &i in &keep {
            let (c, s, d) = &coords[i];
            chroms.push(c.clone());
            starts.push(*s);
            strands.push((*d as char).to_string());
        }
        if let Some(dir) = &opts.plot {
            for i in 0..n {
                let letters: Vec<Option<usize>> = (0..window)
                    .map(|p| (0..channels).find(|&c| xs[(i * window + p) * channels + c] > 0.5))
                    .collect();
                for (j, name) in names.iter().enumerate() {
                    let heights: Vec<f64> = (0..window)
                        .map(|p| {
                            (0..channels)
                                .map(|c| {
                                    contributions[((i * window + p) * channels + c) * k + j] as f64
                                })
                                .sum()
                        })
                        .collect();
                    let title = format!(
                        "row {} ({}:{} {}), {name}, {}",
                        rows[i],
                        chroms[i],
                        starts[i],
                        strands[i],
                        opts.method.name()
                    );
                    let stem = dir.join(format!("row{}.target{}", rows[i], targets[j]));
                    plots.extend(crate::logo::draw_contributions(
                        &stem, &title, &letters, &heights,
                    )?);
                }
            }
        }
        let rows: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
        writer
            .append(
                n,
                &[
                    Column::Int(&rows),
                    Column::Str(&chroms),
                    Column::Int(&starts),
                    Column::Str(&strands),
                ],
                &[&xs, &hyp, &contributions],
            )
            .map_err(|e| usage(e.to_string()))?;
        done += n;
    }
    if done == 0 {
        tracing::warn!(
            "{}: no rows chosen (--positives {}): the attribution file has no rows",
            opts.data.display(),
            opts.positives.as_deref().unwrap_or("")
        );
    }
    let out = writer.finish().map_err(|e| usage(e.to_string()))?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(AttributeReport {
        rows: done,
        targets: names,
        sequences_per_s: done as f64 / seconds.max(1e-9),
        out,
        plots,
    })
}
