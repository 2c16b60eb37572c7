//! The attribution file's layout and the logos drawn from it.

use std::path::PathBuf;

use ferrosea_dataset::{AttrValue, ColumnKind, ResultsSpec};
use ferrosea_models::deeplift::RecurrentRule;
use ferrosea_runtime::checkpoint::ModelCheckpoint;

use super::input::{Block, Input};
use super::{AttributeOptions, Method, ATTRIBUTIONS_FORMAT};
use crate::InterpretError;

/// The layout and provenance of the attribution file.
pub(super) fn file_spec(
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
    ];
    attrs.extend(ferrosea_dataset::provenance(&opts.command_line));
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
pub(super) fn draw(
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
