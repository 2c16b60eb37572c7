//! `filters`: the first convolution's filters as position weight matrices.
//!
//! The seeds' argmax-window method (Basset, DanQ, DeepSEA analyses): for each filter and each
//! sequence, find the position of the filter's highest activation; when that activation is at
//! least `threshold` x the filter's highest activation over the whole data set, add the
//! window of the filter's width (or `window`, centred on the filter) at that position to the
//! filter's count matrix. Two passes over the data: the first finds each filter's maximum,
//! the second collects the windows; memory is a few batches whatever the data size.
//!
//! With `influence`, each filter's influence is measured as Basset did: the mean change of
//! the network's predictions over the first sequences when the filter's output is zeroed.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor, D};
use ferrosea_dataset::{Alphabet, Encoding};
use ferrosea_models::layers::Conv1d;
use ferrosea_models::{Network, ParamStore};
use ferrosea_motifs::{consensus, consensus_of, write_meme, write_meme_alphabet, Motif};
use ferrosea_runtime::checkpoint;
use ferrosea_runtime::data::{Loader, LoaderSpec};
use ferrosea_runtime::DeviceSpec;
use serde::Serialize;

use crate::{logo, write_atomically, InterpretError};

/// The background of the written motifs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Background {
    /// 0.25 each.
    Uniform,
    /// The base frequencies of the sequences read.
    Data,
}

/// What to extract and how.
#[derive(Clone, Debug)]
pub struct FiltersOptions {
    /// A checkpoint JSON or a ferrosea-train output directory.
    pub checkpoint: PathBuf,
    /// A dataset file.
    pub data: PathBuf,
    /// Output directory.
    pub out: PathBuf,
    /// Keep a sequence for a filter when its best activation is at least this fraction of the
    /// filter's maximum over the data.
    pub threshold: f64,
    /// Only sequences with a positive label for some target.
    pub only_positive: bool,
    /// Window width (default: the filter's width), centred on the filter.
    pub window: Option<usize>,
    /// Filters with fewer sites are listed and not written as motifs.
    pub min_sites: usize,
    /// Where the network runs.
    pub device: DeviceSpec,
    /// Sequences per batch.
    pub batch_size: usize,
    /// Use at most this many sequences (the first ones).
    pub max_samples: Option<usize>,
    /// The motifs' background.
    pub background: Background,
    /// Measure filter influence on this many sequences.
    pub influence: Option<usize>,
    /// Draw logos.
    pub logos: bool,
    /// Recorded in the outputs.
    pub command_line: String,
}

/// One filter's line of `filters.tsv`.
#[derive(Clone, Debug, Serialize)]
pub struct FilterSummary {
    /// `filter<N>`, 0-based.
    pub id: String,
    /// Windows added.
    pub sites: usize,
    /// Its highest activation over the data.
    pub max_activation: f64,
    /// Total information content of the motif, bits (against the background).
    pub information_content: f64,
    /// IUPAC consensus.
    pub consensus: String,
    /// Whether it was written to filters.meme (enough sites).
    pub written: bool,
    /// Mean of (prediction - prediction with the filter zeroed) over sequences and targets.
    pub influence: Option<f64>,
    /// Mean absolute change.
    pub influence_abs: Option<f64>,
}

/// What `filters` found.
#[derive(Clone, Debug)]
pub struct FiltersReport {
    /// Per filter.
    pub filters: Vec<FilterSummary>,
    /// The motifs written (the filters with enough sites).
    pub motifs: Vec<Motif>,
    /// Sequences read.
    pub sequences: usize,
    /// Files written.
    pub files: Vec<PathBuf>,
}

struct Loaded {
    net: Network,
    store: ParamStore,
    conv: String,
    weight: Tensor,
    bias: Tensor,
    targets: usize,
    /// The checkpoint JSON and its weights file.
    json: PathBuf,
    weights: PathBuf,
    /// The window length the network was built for.
    window: usize,
    /// What the outputs were trained against (how logits become probabilities).
    loss: ferrosea_runtime::loss::Loss,
    /// The input's symbols.
    alphabet: Alphabet,
}

fn load(opts: &FiltersOptions, device: &Device) -> Result<Loaded, InterpretError> {
    let json = checkpoint::resolve(&opts.checkpoint)?;
    let meta = checkpoint::read_model(&json)?;
    let tensors = checkpoint::load_tensors(&json, &meta.weights_file, device)?;
    let Some((conv, _)) = meta.model().first_conv() else {
        return Err(InterpretError::Data(format!(
            "{}: the model's first layer is not a convolution, so it has no filters to read",
            json.display()
        )));
    };
    let (wname, bname) = (format!("{conv}.weight"), format!("{conv}.bias"));
    let (Some(weight), Some(bias)) = (tensors.get(&wname), tensors.get(&bname)) else {
        return Err(InterpretError::Data(format!(
            "{}: no first convolution ({wname}, {bname}) among the weights",
            json.display()
        )));
    };
    let (weight, bias) = (weight.clone(), bias.clone());
    let c = meta.alphabet.channels();
    if weight.dims().len() != 3 || weight.dims()[1] != c {
        return Err(InterpretError::Data(format!(
            "{}: {wname} has shape {:?}, not [filters, {c}, width] (alphabet {})",
            json.display(),
            weight.dims(),
            meta.alphabet
        )));
    }
    let store = ParamStore::from_tensors(tensors)?;
    let net = Network::with_channels(
        meta.model(),
        c,
        meta.window,
        meta.targets.len(),
        &store.builder(device),
    )
    .map_err(|e| InterpretError::Data(format!("{}: {e}", json.display())))?;
    Ok(Loaded {
        net,
        store,
        conv: conv.to_string(),
        weight,
        bias,
        targets: meta.targets.len(),
        weights: json
            .parent()
            .unwrap_or(Path::new("."))
            .join(&meta.weights_file),
        json,
        window: meta.window,
        loss: meta.loss,
        alphabet: meta.alphabet,
    })
}

fn loader(opts: &FiltersOptions) -> Loader {
    // The labels only select sequences (--only-positive): any kind will do.
    Loader::spawn(LoaderSpec::in_file_order(
        opts.data.clone(),
        opts.batch_size.max(1),
        ferrosea_runtime::loss::Loss::Mse,
    ))
}

/// Per batch: the best activation of every (sequence, filter) and its position.
fn best_activations(conv: &Conv1d, x: &Tensor) -> Result<(Vec<f32>, Vec<u32>), InterpretError> {
    use candle_core::Module;
    let act = conv.forward(x)?;
    let max = act.max(D::Minus1)?.flatten_all()?;
    let arg = act.argmax(D::Minus1)?.flatten_all()?;
    Ok((
        max.to_vec1::<f32>()?,
        arg.to_dtype(DType::U32)?.to_vec1::<u32>()?,
    ))
}

/// Runs the first convolution over the first `n_rows` sequences and calls `visit` with each
/// kept sequence (`[channels, window]`) and its filters' best activations and their
/// positions.
/// What each pass does with a sequence: `(one-hot sequence, each filter's maximum, its
/// position)`.
type Visit<'a> = dyn FnMut(&[f32], &[f32], &[u32]) + 'a;

fn each_sequence(
    opts: &FiltersOptions,
    n_rows: usize,
    conv: &Conv1d,
    device: &Device,
    (window, c): (usize, usize),
    keep: &dyn Fn(&[f32], usize) -> bool,
    mut visit: impl FnMut(&[f32], &[f32], &[u32]),
) -> Result<(), InterpretError> {
    let mut seen = 0usize;
    for b in loader(opts) {
        let b = b?;
        let rows = b.rows.min(n_rows - seen);
        let x = Tensor::from_slice(&b.x[..rows * c * window], (rows, c, window), device)?;
        let (max, arg) = best_activations(conv, &x)?;
        let nf = max.len() / rows.max(1);
        for i in (0..rows).filter(|&i| keep(&b.y, i)) {
            visit(
                &b.x[i * c * window..(i + 1) * c * window],
                &max[i * nf..(i + 1) * nf],
                &arg[i * nf..(i + 1) * nf],
            );
        }
        seen += rows;
        if seen >= n_rows {
            break;
        }
    }
    Ok(())
}

/// Adds the symbol at position `p` of `seq` (`[channels, window]`) to `out` (one count per
/// symbol): a one-hot column as it is (an unknown base adds nothing), an index as one count.
fn add_symbol(seq: &[f32], window: usize, alphabet: &Alphabet, p: usize, out: &mut [f64]) {
    match alphabet.encoding() {
        Encoding::OneHot => {
            for (c, o) in out.iter_mut().enumerate() {
                *o += seq[c * window + p] as f64;
            }
        }
        Encoding::Index => {
            if let Some(o) = out.get_mut(seq[p] as usize) {
                *o += 1.0;
            }
        }
    }
}

/// Runs the method and writes `filters.meme`, `filters.tsv`, `counts.tsv` and `logos/`.
pub fn filters(opts: &FiltersOptions) -> Result<FiltersReport, InterpretError> {
    let reader = ferrosea_dataset::Reader::open(&opts.data)?;
    let window = reader.window();
    let n_rows = opts.max_samples.unwrap_or(usize::MAX).min(reader.len());
    if n_rows == 0 {
        return Err(InterpretError::Data(format!(
            "{}: no sequences",
            opts.data.display()
        )));
    }
    let device = opts.device.open()?;
    let m = load(opts, &device)?;
    let alphabet = reader.alphabet().clone();
    if alphabet != m.alphabet {
        return Err(InterpretError::Mismatch(format!(
            "{} holds sequences over {alphabet}, but the checkpoint {} was trained on {}",
            opts.data.display(),
            m.json.display(),
            m.alphabet
        )));
    }
    let dna = alphabet.is_dna();
    let (na, channels) = (alphabet.len(), alphabet.channels());
    if opts.logos && !dna {
        tracing::info!("logos are drawn for DNA motifs only; the alphabet is {alphabet}");
    }
    let (nf, _, k) = m.weight.dims3()?;
    let w = opts.window.unwrap_or(k);
    if w == 0 || w > window {
        return Err(InterpretError::Usage(format!(
            "--window {w} does not fit the sequences of {} ({window} bp)",
            opts.data.display()
        )));
    }
    if k > window {
        return Err(InterpretError::Mismatch(format!(
            "the filters are {k} wide, wider than the {window} bp sequences of {}",
            opts.data.display()
        )));
    }
    if opts.influence.is_some() && m.window != window {
        return Err(InterpretError::Mismatch(format!(
            "{}: windows of {window} bp, but the checkpoint {} was trained on windows of {} bp: \
             --influence runs the whole network, which takes only its own window length",
            opts.data.display(),
            m.json.display(),
            m.window
        )));
    }
    let mut outputs: Vec<PathBuf> = ["filters.meme", "filters.tsv", "counts.tsv"]
        .iter()
        .map(|f| opts.out.join(f))
        .collect();
    if opts.logos && dna {
        for f in 0..nf {
            for ext in ["svg", "png", "tmp.svg", "tmp.png"] {
                outputs.push(opts.out.join("logos").join(format!("filter{f}.{ext}")));
            }
        }
    }
    crate::refuse_inputs(
        &outputs,
        &[
            ("--checkpoint", &opts.checkpoint),
            ("--checkpoint", &m.json),
            ("--checkpoint", &m.weights),
            ("--data", &opts.data),
        ],
    )?;
    std::fs::create_dir_all(&opts.out).map_err(|e| InterpretError::Io(opts.out.clone(), e))?;
    let conv = Conv1d::new(m.weight.clone(), m.bias.clone());
    let keep = |y: &[f32], i: usize| -> bool {
        !opts.only_positive
            || y[i * m.targets..(i + 1) * m.targets]
                .iter()
                .any(|&v| v > 0.5)
    };

    // Two passes over the same sequences: `visit(sequence, each filter's maximum, where)`.
    let pass = |visit: &mut Visit| {
        each_sequence(
            opts,
            n_rows,
            &conv,
            &device,
            (window, channels),
            &keep,
            visit,
        )
    };
    // Pass 1: each filter's maximum; base frequencies.
    let mut global = vec![f32::NEG_INFINITY; nf];
    let mut bases = vec![0f64; na];
    pass(&mut |seq, max, _| {
        for (g, &v) in global.iter_mut().zip(max) {
            *g = g.max(v);
        }
        for p in 0..window {
            add_symbol(seq, window, &alphabet, p, &mut bases);
        }
    })?;
    // Pass 2: the windows.
    let mut counts = vec![vec![0f64; na]; nf * w];
    let mut sites = vec![0usize; nf];
    pass(&mut |seq, max, arg| {
        for f in 0..nf {
            if global[f] <= 0.0 || (max[f] as f64) < opts.threshold * global[f] as f64 {
                continue;
            }
            let start = arg[f] as isize + (k / 2) as isize - (w / 2) as isize;
            if start < 0 || start as usize + w > window {
                continue;
            }
            sites[f] += 1;
            for p in 0..w {
                add_symbol(
                    seq,
                    window,
                    &alphabet,
                    start as usize + p,
                    &mut counts[f * w + p],
                );
            }
        }
    })?;

    let total: f64 = bases.iter().sum();
    let bg: Vec<f64> = match opts.background {
        Background::Data if total > 0.0 => bases.iter().map(|v| v / total).collect(),
        _ => vec![1.0 / na as f64; na],
    };
    let influence = match opts.influence {
        Some(samples) => Some(influence(opts, &m, &device, samples.min(n_rows), window)?),
        None => None,
    };
    let mut summaries = Vec::with_capacity(nf);
    let mut motifs = Vec::new();
    let mut matrices = Vec::new();
    for f in 0..nf {
        let pfm: Vec<Vec<f64>> = counts[f * w..(f + 1) * w]
            .iter()
            .map(|c| {
                let s: f64 = c.iter().sum();
                if s > 0.0 {
                    c.iter().map(|v| v / s).collect()
                } else {
                    bg.clone()
                }
            })
            .collect();
        let ic: f64 = pfm
            .iter()
            .map(|c| {
                (0..na)
                    .filter(|&j| c[j] > 0.0 && bg[j] > 0.0)
                    .map(|j| c[j] * (c[j] / bg[j]).log2())
                    .sum::<f64>()
            })
            .sum();
        let id = format!("filter{f}");
        let written = sites[f] >= opts.min_sites.max(1);
        let dna_pfm: Vec<[f64; 4]> = if dna {
            pfm.iter().map(|c| [c[0], c[1], c[2], c[3]]).collect()
        } else {
            Vec::new()
        };
        if written {
            if dna {
                motifs.push(Motif {
                    id: id.clone(),
                    name: None,
                    pfm: dna_pfm.clone(),
                    nsites: Some(sites[f] as f64),
                });
            } else {
                matrices.push((id.clone(), pfm.clone(), sites[f] as f64));
            }
        }
        summaries.push(FilterSummary {
            id,
            sites: sites[f],
            max_activation: global[f] as f64,
            information_content: ic,
            consensus: if dna {
                consensus(&dna_pfm)
            } else {
                consensus_of(alphabet.symbols(), &pfm)
            },
            written,
            influence: influence.as_ref().map(|v| v[f].0),
            influence_abs: influence.as_ref().map(|v| v[f].1),
        });
    }
    let skipped: Vec<&str> = summaries
        .iter()
        .filter(|s| !s.written)
        .map(|s| s.id.as_str())
        .collect();
    if !skipped.is_empty() {
        tracing::warn!(
            "{} filters have fewer than {} sites and are not written as motifs: {}{}",
            skipped.len(),
            opts.min_sites,
            skipped
                .iter()
                .take(8)
                .copied()
                .collect::<Vec<_>>()
                .join(", "),
            if skipped.len() > 8 { ", ..." } else { "" }
        );
    }

    let mut files = Vec::new();
    let meme = opts.out.join("filters.meme");
    let meme_text = if dna {
        write_meme(&motifs, [bg[0], bg[1], bg[2], bg[3]])
    } else {
        write_meme_alphabet(alphabet.symbols(), &matrices, &bg)
    };
    write_atomically(&meme, meme_text.as_bytes())?;
    files.push(meme);
    let mut tsv = String::from(
        "filter\tsites\tmax_activation\tinformation_content\tconsensus\twritten\tinfluence\tinfluence_abs\n",
    );
    let na = |v: Option<f64>| v.map_or_else(|| "NA".to_string(), |x| format!("{x:.6e}"));
    for s in &summaries {
        tsv.push_str(&format!(
            "{}\t{}\t{:.6}\t{:.4}\t{}\t{}\t{}\t{}\n",
            s.id,
            s.sites,
            s.max_activation,
            s.information_content,
            s.consensus,
            if s.written { "yes" } else { "no" },
            na(s.influence),
            na(s.influence_abs)
        ));
    }
    let tsv_path = opts.out.join("filters.tsv");
    write_atomically(&tsv_path, tsv.as_bytes())?;
    files.push(tsv_path);
    let mut c = String::from("filter\tposition");
    for sym in alphabet.symbols().chars() {
        c.push_str(&format!("\t{sym}"));
    }
    c.push('\n');
    for f in 0..nf {
        for p in 0..w {
            c.push_str(&format!("filter{f}\t{}", p + 1));
            for v in &counts[f * w + p] {
                c.push_str(&format!("\t{v}"));
            }
            c.push('\n');
        }
    }
    let counts_path = opts.out.join("counts.tsv");
    write_atomically(&counts_path, c.as_bytes())?;
    files.push(counts_path);
    if opts.logos && dna {
        let bg = [bg[0], bg[1], bg[2], bg[3]];
        let dir = opts.out.join("logos");
        std::fs::create_dir_all(&dir).map_err(|e| InterpretError::Io(dir.clone(), e))?;
        for (mo, s) in motifs.iter().zip(summaries.iter().filter(|s| s.written)) {
            files.extend(logo::draw(
                &dir.join(&mo.id),
                &format!(
                    "{} ({} sites, {:.1} bits)",
                    mo.id, s.sites, s.information_content
                ),
                &mo.pfm,
                bg,
            )?);
        }
    }
    Ok(FiltersReport {
        filters: summaries,
        motifs,
        sequences: n_rows,
        files,
    })
}

/// (mean change, mean absolute change) of the predictions when each filter is zeroed, over
/// the first `samples` sequences.
fn influence(
    opts: &FiltersOptions,
    m: &Loaded,
    device: &Device,
    samples: usize,
    window: usize,
) -> Result<Vec<(f64, f64)>, InterpretError> {
    let mut xs = Vec::new();
    for b in loader(opts) {
        let b = b?;
        xs.extend_from_slice(&b.x);
        if xs.len() >= samples * m.net.channels() * window {
            break;
        }
    }
    xs.truncate(samples * m.net.channels() * window);
    let batch = opts.batch_size.max(1);
    let predict = |net: &Network| -> Result<Vec<f32>, InterpretError> {
        let mut out = Vec::with_capacity(samples * m.targets);
        for chunk in xs.chunks(batch * m.net.channels() * window) {
            let logits = ferrosea_runtime::eval_logits(net, device, chunk.to_vec(), window, batch)?;
            let p = m.loss.outputs(&logits)?;
            out.extend(p.flatten_all()?.to_vec1::<f32>()?);
        }
        Ok(out)
    };
    let base = predict(&m.net)?;
    let (nf, c, k) = m.weight.dims3()?;
    let wv = m.weight.flatten_all()?.to_vec1::<f32>()?;
    let bv = m.bias.to_vec1::<f32>()?;
    let (wname, bname) = (format!("{}.weight", m.conv), format!("{}.bias", m.conv));
    let mut out = Vec::with_capacity(nf);
    for f in 0..nf {
        let (mut w2, mut b2) = (wv.clone(), bv.clone());
        w2[f * c * k..(f + 1) * c * k]
            .iter_mut()
            .for_each(|v| *v = 0.0);
        b2[f] = 0.0;
        m.store
            .set(&wname, &Tensor::from_vec(w2, (nf, c, k), device)?)?;
        m.store.set(&bname, &Tensor::from_vec(b2, nf, device)?)?;
        let p = predict(&m.net)?;
        let n = p.len().max(1) as f64;
        let (mut d, mut a) = (0f64, 0f64);
        for (x, y) in base.iter().zip(&p) {
            d += (x - y) as f64;
            a += (x - y).abs() as f64;
        }
        out.push((d / n, a / n));
        tracing::debug!("influence of filter{f}: {:.3e}", d / n);
    }
    m.store.set(&wname, &m.weight)?;
    m.store.set(&bname, &m.bias)?;
    Ok(out)
}
