//! `attribute`: per-base contribution scores of a network's outputs (which bases drive each
//! prediction).
//!
//! For each chosen sequence and target, the contribution of each base to the target's output
//! (its logit: the value before the sigmoid or softmax, as Captum attributes a model's raw
//! output):
//!
//! - `saliency`: hypothetical contributions `|∂y/∂x|` (Captum's `Saliency`).
//! - `grad-x-input`: hypothetical `∂y/∂x` (Captum's `InputXGradient`).
//! - `integrated-gradients`: the mean gradient `g` over `steps` points `r + (x - r)(k + ½) /
//!   steps` (Captum's `riemann_middle` rule) from a reference `r`: the all-zero sequence, or
//!   each of `references` dinucleotide shuffles of the sequence, the results averaged.
//! - `deeplift-shap`: DeepLIFT's multipliers `m` against each reference (dinucleotide
//!   shuffles by default; Captum's `DeepLiftShap`), by the rules of
//!   `ferrosea_models::deeplift`, averaged; the convergence delta of each row and target is
//!   kept.
//! - `ism`: saturation mutagenesis by the analyze stage (`ferrosea_analyze::ism`): the
//!   logit's change when position p becomes base b, minus its mean over the four bases there
//!   (tangermeme's convention).
//!
//! The hypothetical contribution of base b at a position is `g_b - Σ_c r_c g_c` for
//! integrated gradients and DeepLIFT (with the zero reference: `g_b`), the gradient itself
//! for the others; the contributions are the hypothetical ones times the one-hot input, and
//! for integrated gradients and DeepLIFT they sum to `y(x) - mean y(r)` (up to the
//! integration error and, for DeepLIFT, the delta).
//!
//! The first `null_rows` sequences are also attributed as one dinucleotide shuffle each, by
//! the same method: their per-position contributions are the null that `seqlets` takes its
//! threshold from.
//!
//! The output is a result file (`ferrosea_dataset::ResultsWriter`, format
//! `ferrosea-attributions`, docs/INTERPRETATION.md).
//!
//! This file holds the options and the run; `setup.rs` checks the flags and opens the
//! checkpoint, device and input, `input.rs` reads the sequences, `methods.rs` computes the
//! attributions, and `output.rs` lays out the file and draws the logos.

mod input;
mod methods;
mod output;
mod setup;

use std::path::PathBuf;

use candle_core::Device;
use ferrosea_dataset::{Column, ResultsWriter};
use ferrosea_models::deeplift::RecurrentRule;
use ferrosea_models::Network;
use ferrosea_runtime::DeviceSpec;

pub use input::Input;
pub use methods::{hypothetical, ism_hypothetical, Attribution, Settings};
pub use output::attributions_spec;

use crate::InterpretError;
use output::{draw, file_spec};
use setup::{check_flags, choose_targets, open};

/// Value of the `format` attribute of an attribution file.
pub const ATTRIBUTIONS_FORMAT: &str = "ferrosea-attributions";

/// How contributions are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// The gradient's magnitude.
    Saliency,
    /// Gradient times input.
    GradXInput,
    /// Integrated gradients.
    IntegratedGradients,
    /// DeepLIFT's rescale rules against shuffled references, averaged (DeepSHAP).
    DeepliftShap,
    /// Saturation mutagenesis, each effect minus the mean at its position.
    Ism,
}

impl Method {
    /// Its name on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            Method::Saliency => "saliency",
            Method::GradXInput => "grad-x-input",
            Method::IntegratedGradients => "integrated-gradients",
            Method::DeepliftShap => "deeplift-shap",
            Method::Ism => "ism",
        }
    }

    /// Whether the method starts from references.
    pub fn has_reference(self) -> bool {
        matches!(self, Method::IntegratedGradients | Method::DeepliftShap)
    }
}

/// Which sequences, which targets, how.
#[derive(Clone, Debug)]
pub struct AttributeOptions {
    /// A checkpoint JSON or a ferrosea-train output directory.
    pub checkpoint: PathBuf,
    /// The sequences.
    pub input: Input,
    /// The attribution file to write.
    pub out: PathBuf,
    /// Target names; empty: every target (at most [`MAX_DEFAULT_TARGETS`]).
    pub targets: Vec<String>,
    /// At most this many rows (the first ones kept).
    pub max_rows: Option<usize>,
    /// The method.
    pub method: Method,
    /// Integration points of integrated gradients.
    pub steps: usize,
    /// Where integrated gradients and DeepLIFT start.
    pub reference: Reference,
    /// What DeepLIFT does at recurrent layers.
    pub recurrent: RecurrentRule,
    /// Sequences whose dinucleotide shuffle is attributed too, for the null of `seqlets`.
    pub null_rows: usize,
    /// Seed of the null's shuffles.
    pub seed: u64,
    /// Rows per pass through the network.
    pub batch_size: usize,
    /// Where the network runs.
    pub device: DeviceSpec,
    /// Draw each row's contribution logo per target into this directory (DNA only).
    pub plot: Option<PathBuf>,
    /// Recorded in the file.
    pub command_line: String,
}

/// What integrated gradients and DeepLIFT start from.
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

impl Reference {
    fn describe(self) -> String {
        match self {
            Reference::Zero => "zero".into(),
            Reference::Shuffled { count, seed } => {
                format!("{count} dinucleotide shuffles, seed {seed}")
            }
        }
    }
}

/// Targets attributed when none are named: a model with more needs `--targets`.
pub const MAX_DEFAULT_TARGETS: usize = 16;

/// What `attribute` wrote.
#[derive(Clone, Debug)]
pub struct AttributeReport {
    /// Sequences attributed.
    pub rows: usize,
    /// Shuffled sequences attributed for the null.
    pub null_rows: usize,
    /// The targets, in the file's order.
    pub targets: Vec<String>,
    /// Sequences per second (the null's included).
    pub sequences_per_s: f64,
    /// DeepLIFT: the largest |convergence delta| over rows and targets.
    pub max_delta: Option<f32>,
    /// The file.
    pub out: PathBuf,
    /// The logos drawn (SVG and PNG), with `plot`.
    pub plots: Vec<PathBuf>,
}

/// What runs the method: a network (gradients), or the analyze stage's model (mutagenesis).
enum Engine {
    Net(Network, Device),
    Ism(Box<ferrosea_analyze::Model>),
}

fn usage(e: impl std::fmt::Display) -> InterpretError {
    InterpretError::Usage(e.to_string())
}

/// Hypothetical contributions per target `[rows, C, L]` of the inputs `x`.
fn run_method(
    engine: &Engine,
    opts: &AttributeOptions,
    x: &[f32],
    (channels, window): (usize, usize),
    targets: &[usize],
    references: Option<&[f32]>,
) -> Result<Vec<Attribution>, InterpretError> {
    match engine {
        Engine::Net(net, device) => hypothetical(
            net,
            device,
            x,
            (channels, window),
            targets,
            Settings {
                method: opts.method,
                steps: opts.steps,
                pass: ferrosea_runtime::pass_rows(opts.batch_size),
                recurrent: opts.recurrent,
            },
            references,
        ),
        Engine::Ism(model) => {
            let row = channels * window;
            let mut out: Vec<Attribution> = vec![Attribution::default(); targets.len()];
            for xi in x.chunks(row) {
                let (effect, _) =
                    ferrosea_analyze::ism::mutagenesis(model, &input::bases(xi), targets)?;
                for (o, h) in out
                    .iter_mut()
                    .zip(ism_hypothetical(&effect, window, targets.len()))
                {
                    o.hypothetical.extend(h);
                }
            }
            Ok(out)
        }
    }
}

/// Runs the method over the chosen rows and writes the attribution file.
pub fn attribute(opts: &AttributeOptions) -> Result<AttributeReport, InterpretError> {
    let started = std::time::Instant::now();
    check_flags(opts)?;
    let (engine, meta, json, alphabet, mut rows) = open(opts)?;
    let targets = choose_targets(opts, &meta, &json)?;
    let (window, channels) = (meta.window, alphabet.channels());
    let names: Vec<String> = targets.iter().map(|&t| meta.targets[t].clone()).collect();
    let k = targets.len();
    let dna = alphabet.is_dna();
    if let Some(dir) = &opts.plot {
        if !dna {
            return Err(usage(format!(
                "--plot draws DNA letters; the model reads sequences over {alphabet}"
            )));
        }
        std::fs::create_dir_all(dir).map_err(|e| InterpretError::Io(dir.clone(), e))?;
    }
    let weights = json
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join(&meta.weights_file);
    let sha =
        ferrosea_dataset::sha256_file(&weights).map_err(|e| InterpretError::Io(weights, e))?;
    let deeplift = opts.method == Method::DeepliftShap;
    let spec = file_spec(opts, &meta, &json, &sha, &names, (window, channels));
    let mut writer = ResultsWriter::create(&opts.out, &spec)?;
    let limit = opts.max_rows.unwrap_or(usize::MAX);
    let row = channels * window;
    let (mut done, mut plots) = (0usize, Vec::new());
    let mut null_scores: Vec<f32> = Vec::new();
    let mut null_of: Vec<i64> = Vec::new();
    let mut max_delta: Option<f32> = None;
    while done < limit {
        let Some(block) = rows.next_block(limit - done)? else {
            break;
        };
        let n = block.len();
        // The null's sequences ride along with the block's.
        let twins = opts.null_rows.saturating_sub(null_of.len()).min(n);
        let mut x = block.x.clone();
        for i in 0..twins {
            x.extend(input::shuffles(
                &block.x[i * row..(i + 1) * row],
                &alphabet,
                window,
                (1, opts.seed, input::NULL, block.rows[i] as u64),
            ));
        }
        let refs: Option<Vec<f32>> = match opts.reference {
            Reference::Zero => None,
            Reference::Shuffled { count, seed } => Some(
                x.chunks(row)
                    .enumerate()
                    .flat_map(|(i, xi)| {
                        let (tag, r) = if i < n {
                            (input::REFERENCES, block.rows[i])
                        } else {
                            (input::REFERENCES ^ input::NULL, block.rows[i - n])
                        };
                        input::shuffles(xi, &alphabet, window, (count, seed, tag, r as u64))
                    })
                    .collect(),
            ),
        };
        let attributions = run_method(
            &engine,
            opts,
            &x,
            (channels, window),
            &targets,
            refs.as_deref(),
        )?;
        // [rows, C, L] per target -> [rows, L, C, K].
        let total = n + twins;
        let mut hyp = vec![0f32; total * row * k];
        let mut xs = vec![0f32; total * row];
        for i in 0..total {
            for c in 0..channels {
                for p in 0..window {
                    let from = i * row + c * window + p;
                    let to = (i * window + p) * channels + c;
                    xs[to] = x[from];
                    for (j, a) in attributions.iter().enumerate() {
                        hyp[to * k + j] = a.hypothetical[from];
                    }
                }
            }
        }
        let contributions: Vec<f32> = hyp.iter().enumerate().map(|(e, h)| h * xs[e / k]).collect();
        // The null: per-position contributions [L, K] of each shuffled twin.
        for t in 0..twins {
            let i = n + t;
            for p in 0..window {
                for j in 0..k {
                    let at = (i * window + p) * channels;
                    null_scores.push((0..channels).map(|c| contributions[(at + c) * k + j]).sum());
                }
            }
            null_of.push(block.rows[t]);
        }
        let mut arrays: Vec<&[f32]> = vec![
            &xs[..n * row],
            &hyp[..n * row * k],
            &contributions[..n * row * k],
        ];
        let delta: Vec<f32>;
        if deeplift {
            delta = (0..n)
                .flat_map(|i| {
                    attributions
                        .iter()
                        .map(move |a| a.delta.as_ref().map_or(0.0, |d| d[i]))
                })
                .collect();
            let worst = delta.iter().fold(0f32, |m, d| m.max(d.abs()));
            max_delta = Some(max_delta.map_or(worst, |m| m.max(worst)));
            arrays.push(&delta);
        }
        if let Some(dir) = &opts.plot {
            plots.extend(draw(
                dir,
                opts,
                &block,
                &xs,
                &contributions,
                (window, channels),
                (&names, &targets),
            )?);
        }
        writer.append(
            n,
            &[
                Column::Int(&block.rows),
                Column::Str(&block.chroms),
                Column::Int(&block.starts),
                Column::Str(&block.strands),
                Column::Str(&block.names),
            ],
            &arrays,
        )?;
        done += n;
    }
    if done == 0 {
        tracing::warn!(
            "no sequences chosen{}: the attribution file has no rows",
            match &opts.input {
                Input::Dataset { positives, .. } if !positives.is_empty() => {
                    format!(" (--positives {})", positives.join(","))
                }
                _ => String::new(),
            }
        );
    }
    writer
        .put("null/scores", &[null_of.len(), window, k], &null_scores)
        .and_then(|()| writer.put_ints("null/rows", &null_of))?;
    let out = writer.finish()?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(AttributeReport {
        rows: done,
        null_rows: null_of.len(),
        targets: names,
        sequences_per_s: (done + null_of.len()) as f64 / seconds.max(1e-9),
        max_delta,
        out,
        plots,
    })
}
