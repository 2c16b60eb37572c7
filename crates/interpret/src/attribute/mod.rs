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

mod input;
mod methods;

use std::path::PathBuf;

use candle_core::Device;
use ferrosea_dataset::{AttrValue, Column, ColumnKind, Reader, ResultsSpec, ResultsWriter};
use ferrosea_models::deeplift::RecurrentRule;
use ferrosea_models::Network;
use ferrosea_runtime::checkpoint::{self, ModelCheckpoint};
use ferrosea_runtime::data::{Loader, LoaderSpec};
use ferrosea_runtime::DeviceSpec;

pub use input::Input;
pub use methods::{hypothetical, ism_hypothetical, Attribution, Settings};

use crate::InterpretError;
use input::{Block, Rows};

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

/// Checks the flags that need no file.
fn check_flags(opts: &AttributeOptions) -> Result<(), InterpretError> {
    if opts.batch_size == 0 || opts.steps == 0 {
        return Err(usage("--batch-size and --steps must be at least 1"));
    }
    if let Reference::Shuffled { count, .. } = opts.reference {
        if !opts.method.has_reference() {
            return Err(usage(format!(
                "--reference shuffle applies to integrated-gradients and deeplift-shap, not {}",
                opts.method.name()
            )));
        }
        if count == 0 {
            return Err(usage("--references must be at least 1"));
        }
    }
    if opts.recurrent != RecurrentRule::Refuse && opts.method != Method::DeepliftShap {
        return Err(usage("--recurrent-rule applies to deeplift-shap"));
    }
    Ok(())
}

/// Loads the model and checks it against the input; returns the engine, the checkpoint's
/// description, the JSON, the alphabet and the rows to read.
fn open(
    opts: &AttributeOptions,
) -> Result<
    (
        Engine,
        ModelCheckpoint,
        PathBuf,
        ferrosea_dataset::Alphabet,
        Rows,
    ),
    InterpretError,
> {
    let json = checkpoint::resolve(&opts.checkpoint)?;
    let mut inputs: Vec<(&str, &std::path::Path)> =
        vec![("--checkpoint", &opts.checkpoint), ("--checkpoint", &json)];
    match &opts.input {
        Input::Dataset { path, .. } => inputs.push(("--data", path)),
        Input::Sequences(s) => inputs.extend(s.inputs()),
    }
    crate::refuse_inputs(std::slice::from_ref(&opts.out), &inputs)?;
    let (engine, meta) = if opts.method == Method::Ism {
        let model = ferrosea_analyze::Model::load(&json, &opts.device, opts.batch_size)?;
        let meta = model.meta.clone();
        (Engine::Ism(Box::new(model)), meta)
    } else {
        let device = opts.device.open()?;
        let (net, meta) = checkpoint::load_network(&json, &device)?;
        if opts.method == Method::DeepliftShap && opts.recurrent == RecurrentRule::Refuse {
            if let Some((name, note)) = net.recurrent_layers().into_iter().next() {
                return Err(usage(format!(
                    "deeplift-shap: {} has a recurrent layer, {name} ({note}), and DeepLIFT has \
                     no rule for one (its gates multiply signals): use --method \
                     integrated-gradients, or --recurrent-rule gradient to let each half's \
                     gradient pass through it, as Captum's DeepLiftShap does with nn.LSTM \
                     (the contributions then sum to the output's change only approximately)",
                    json.display()
                )));
            }
        }
        (Engine::Net(net, device), meta)
    };
    let (window, batch) = (meta.window, opts.batch_size);
    let rows = match &opts.input {
        Input::Dataset { path, positives } => {
            let reader = Reader::open(path)?;
            if meta.window != reader.window() || meta.alphabet != *reader.alphabet() {
                return Err(InterpretError::Mismatch(format!(
                    "{} holds {}-long sequences over {}, but {} was trained on {window}-long \
                     sequences over {}",
                    path.display(),
                    reader.window(),
                    reader.alphabet(),
                    json.display(),
                    meta.alphabet
                )));
            }
            let positive = positives
                .iter()
                .map(|n| {
                    reader
                        .targets()
                        .name
                        .iter()
                        .position(|t| t == n)
                        .ok_or_else(|| {
                            usage(format!(
                                "--positives: {} has no target '{n}'",
                                path.display()
                            ))
                        })
                })
                .collect::<Result<Vec<usize>, _>>()?;
            // The labels only choose rows: any kind will do.
            let loader = Loader::spawn(LoaderSpec::in_file_order(
                path.clone(),
                batch,
                ferrosea_runtime::loss::Loss::Mse,
            ));
            Rows::Dataset {
                loader,
                targets: reader.targets().len(),
                row: reader.alphabet().channels() * window,
                reader,
                positive,
            }
        }
        Input::Sequences(source) => {
            if !meta.alphabet.is_dna() {
                return Err(InterpretError::Mismatch(format!(
                    "{} reads sequences over {}; --fasta and --regions give DNA",
                    json.display(),
                    meta.alphabet
                )));
            }
            // Every record or interval checked before any output exists.
            let checked = source.check(window)?;
            for w in &checked.warnings {
                tracing::warn!("{w}");
            }
            Rows::Sequences {
                reader: source.open(window)?,
                next: 0,
                window,
                batch,
                fasta: matches!(source, ferrosea_analyze::sequences::Source::Fasta { .. }),
            }
        }
    };
    if opts.method == Method::Ism && !meta.alphabet.is_dna() {
        return Err(InterpretError::Mismatch(
            "ism mutates DNA bases; the model reads another alphabet".into(),
        ));
    }
    let alphabet = meta.alphabet.clone();
    Ok((engine, meta, json, alphabet, rows))
}

/// The indices of the targets to attribute.
fn choose_targets(
    opts: &AttributeOptions,
    meta: &ModelCheckpoint,
    json: &std::path::Path,
) -> Result<Vec<usize>, InterpretError> {
    if opts.targets.is_empty() {
        if meta.targets.len() > MAX_DEFAULT_TARGETS {
            return Err(usage(format!(
                "{} has {} targets: name those to attribute with --targets (one array of \
                 window x channels per sequence and target)",
                json.display(),
                meta.targets.len()
            )));
        }
        return Ok((0..meta.targets.len()).collect());
    }
    opts.targets
        .iter()
        .map(|name| {
            meta.targets.iter().position(|t| t == name).ok_or_else(|| {
                usage(format!(
                    "--targets: {} has no target named '{name}' (it has {}: {}{})",
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
        })
        .collect()
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

/// The layout and provenance of the attribution file.
fn file_spec(
    opts: &AttributeOptions,
    meta: &ModelCheckpoint,
    json: &std::path::Path,
    sha: &str,
    names: &[String],
    (window, channels): (usize, usize),
) -> ResultsSpec {
    let s = |v: &str| AttrValue::Str(v.into());
    let mut attrs = vec![
        ("method".into(), s(opts.method.name())),
        ("steps".into(), AttrValue::Int(opts.steps as i64)),
        ("reference".into(), s(&opts.reference.describe())),
        ("output".into(), s("logit")),
        ("checkpoint".into(), s(&json.display().to_string())),
        ("checkpoint_step".into(), AttrValue::Int(meta.step as i64)),
        ("weights_sha256".into(), s(sha)),
        (
            "data".into(),
            s(&match &opts.input {
                Input::Dataset { path, .. } => path.display().to_string(),
                Input::Sequences(src) => src
                    .inputs()
                    .iter()
                    .map(|(f, p)| format!("{f} {}", p.display()))
                    .collect::<Vec<_>>()
                    .join(" "),
            }),
        ),
        ("window".into(), AttrValue::Int(window as i64)),
        ("alphabet".into(), s(meta.alphabet.symbols())),
        (
            "null".into(),
            s(&format!(
                "one dinucleotide shuffle of each of the first {} sequences, seed {}",
                opts.null_rows, opts.seed
            )),
        ),
        ("command_line".into(), s(&opts.command_line)),
        ("ferrosea_version".into(), s(env!("CARGO_PKG_VERSION"))),
    ];
    if opts.method == Method::DeepliftShap {
        attrs.push((
            "recurrent_rule".into(),
            s(match opts.recurrent {
                RecurrentRule::Refuse => "none (no recurrent layers)",
                RecurrentRule::Gradient => "gradient",
            }),
        ));
    }
    attributions_spec(
        attrs,
        names,
        (window, channels),
        opts.method == Method::DeepliftShap,
    )
}

/// The layout of an attribution file (docs/INTERPRETATION.md) with the file attributes
/// `attrs`, for `targets` and sequences of `window` x `channels`, with DeepLIFT's `/delta`
/// when `deltas`: the columns `row, chrom, start, strand, name` and the arrays `x`,
/// `hypothetical`, `contributions` (and `delta`). Rows are appended in this order.
pub fn attributions_spec(
    attrs: Vec<(String, AttrValue)>,
    targets: &[String],
    (window, channels): (usize, usize),
    deltas: bool,
) -> ResultsSpec {
    let k = targets.len();
    let mut arrays = vec![
        ("x".into(), vec![window, channels]),
        ("hypothetical".into(), vec![window, channels, k]),
        ("contributions".into(), vec![window, channels, k]),
    ];
    if deltas {
        arrays.push(("delta".into(), vec![k]));
    }
    ResultsSpec {
        format: ATTRIBUTIONS_FORMAT.into(),
        version: 1,
        attrs,
        targets: Some(targets.to_vec()),
        columns: vec![
            ("row".into(), ColumnKind::Int),
            ("chrom".into(), ColumnKind::Str),
            ("start".into(), ColumnKind::Int),
            ("strand".into(), ColumnKind::Str),
            ("name".into(), ColumnKind::Str),
        ],
        arrays,
        chunk_rows: 64,
        level: 4,
    }
}

/// Each row's contribution logo per target (SVG and PNG).
fn draw(
    dir: &std::path::Path,
    opts: &AttributeOptions,
    block: &Block,
    xs: &[f32],
    contributions: &[f32],
    (window, channels): (usize, usize),
    (names, targets): (&[String], &[usize]),
) -> Result<Vec<PathBuf>, InterpretError> {
    let k = names.len();
    let mut plots = Vec::new();
    for i in 0..block.len() {
        let letters: Vec<Option<usize>> = (0..window)
            .map(|p| (0..channels).find(|&c| xs[(i * window + p) * channels + c] > 0.5))
            .collect();
        for (j, name) in names.iter().enumerate() {
            let heights: Vec<f64> = (0..window)
                .map(|p| {
                    (0..channels)
                        .map(|c| contributions[((i * window + p) * channels + c) * k + j] as f64)
                        .sum()
                })
                .collect();
            let title = format!(
                "row {} ({}:{} {}), {name}, {}",
                block.rows[i],
                block.chroms[i],
                block.starts[i],
                block.strands[i],
                opts.method.name()
            );
            let stem = dir.join(format!("row{}.target{}", block.rows[i], targets[j]));
            plots.extend(crate::logo::draw_contributions(
                &stem, &title, &letters, &heights,
            )?);
        }
    }
    Ok(plots)
}
