//! Before any attribution: the flags checked, the checkpoint, device and input opened, and
//! the targets chosen.

use std::path::PathBuf;

use ferrosea_dataset::Reader;
use ferrosea_models::deeplift::RecurrentRule;
use ferrosea_runtime::checkpoint::{self, ModelCheckpoint};
use ferrosea_runtime::data::{Loader, LoaderSpec};

use super::input::{Input, Rows};
use super::{usage, AttributeOptions, Engine, Method, Reference, MAX_DEFAULT_TARGETS};
use crate::InterpretError;

/// Checks the flags that need no file.
pub(super) fn check_flags(opts: &AttributeOptions) -> Result<(), InterpretError> {
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
pub(super) fn open(
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
pub(super) fn choose_targets(
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
