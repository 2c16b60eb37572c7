//! `ism`: in-silico saturation mutagenesis, the effect of every single-base substitution of
//! each sequence on every target.
//!
//! For a window of `L` bases, each of the `3L` substitutions (all four bases where the
//! reference is not A, C, G or T) is a mutant window; its effect on target `t` is
//! `logit(mutant)[t] - logit(reference)[t]`, from the network's raw logits (no sigmoid, so
//! nothing saturates), and 0 at the reference base. Windows come from [`crate::sequences`]
//! (FASTA records or BED intervals centred in the window: a one-base interval `[p, p + 1)`
//! puts `p` at index `L / 2`, where `variants` puts an SNV, so the two agree there).
//!
//! `ism.h5` (the results layout of `ferrosea-dataset`): one row per sequence
//! (`rows/chrom, start, end, name, sequence, padded`), float32 `reference` `[N, T]` (the
//! reference logits) and `effect` `[N, L, 4, T]` (bases in A, C, G, T order), the chosen
//! targets (`--targets`, all by default) and the provenance. With `--plot DIR`, a figure per
//! sequence and target ([`crate::plot`]): `DIR/<row>_<name>_<target>.svg` and `.png`,
//! drawn as the sequences are; `ism.h5` is written last and, with `--plot`, an older one is
//! removed first, so its presence says the figures are complete.
//!
//! # What could be shared between mutants
//!
//! This version runs each mutant window through the whole network ([`Model::logits`], in
//! batches), `3L + 1` full passes per sequence. Almost all of that work repeats the
//! reference pass. A substitution at position `p` changes the first convolution's output
//! (kernel `k`) only at positions `[p - k + 1, p]`, and there only by the difference of two
//! weight columns, `W[:, b, j] - W[:, r, j]`: no convolution is needed at all. Each later
//! convolution or pooling widens that span by its own kernel (the receptive-field cone), and
//! every activation outside the cone equals the reference's. A faster version would keep the
//! reference activations of every layer, recompute each layer only inside the mutant's cone
//! (a few dozen positions instead of `L`), and finish with the dense layer as an update of
//! the reference logits, `logits_ref + W_fc[:, cone] (a_mut - a_ref)[cone]`. The three
//! mutants at one position share their cone and can be batched together. For DeepSEA (549M
//! multiply-adds per full pass: conv1 10M, conv2 296M, conv3 195M, dense 48M) a mutant's cone
//! is about 10 of conv2's 241 positions and 11 of conv3's 53, about 12M + 40M, plus 10M for
//! the dense update over the changed columns: some 60M, about 9 times less arithmetic (about
//! 5 times with the dense layer recomputed whole), though in small matrix products. The same
//! holds for the alternative window of an SNV in `variants` (one pass and a cone instead of
//! two passes). Recurrent layers (DanQ's BiLSTM) see the whole sequence, so there only the
//! convolution before them can be shared. This belongs in the layer library of the models
//! crate (a cone forward per layer), not in this stage.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ferrosea_dataset::{AttrValue, Column, ColumnKind, ResultsSpec, ResultsWriter};
use ferrosea_genome::onehot;
use serde::{Deserialize, Serialize};

use crate::sequences::{file_safe, SequenceArgs, Source, Window};
use crate::{AnalyzeError, Model, RunArgs};

/// The `format` attribute of `ism.h5`.
pub const ISM_FORMAT: &str = "ferrosea-ism";

/// Mutant windows per call of [`Model::logits`], rounded up to whole batches (bounds the
/// memory of one sequence's mutants; does not change the result).
const MUTANTS_PER_CALL: usize = 512;

/// What to mutate and where to write.
#[derive(clap::Args, Clone, Debug)]
pub struct IsmOptions {
    /// The checkpoint, batch size and device.
    #[command(flatten)]
    pub run: RunArgs,
    /// Where the sequences come from (--fasta, or --genome with --regions).
    #[command(flatten)]
    pub input: SequenceArgs,
    /// The HDF5 file to write.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Keep only these targets (comma-separated names; default: all).
    #[arg(long, value_name = "A,B")]
    pub targets: Option<String>,
    /// Draw a heat map and an importance logo per sequence and target, as SVG and PNG, in
    /// this directory.
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
}

/// What an ism run did.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct IsmReport {
    /// Sequences mutated (rows of ism.h5).
    pub sequences: usize,
    /// Mutant windows predicted.
    pub mutants: usize,
    /// Targets kept.
    pub targets: usize,
    /// The model's window.
    pub window: usize,
    /// Figures drawn (SVG + PNG pairs).
    pub figures: usize,
    /// Wall time.
    pub seconds: f64,
    /// Seconds per sequence (inference and writing, plots excluded).
    pub seconds_per_sequence: f64,
    /// Things the user should know (records cropped or padded).
    pub warnings: Vec<String>,
}

impl IsmReport {
    /// One line for the log.
    pub fn line(&self) -> String {
        format!(
            "{} sequences of {} bp, {} mutants, {} targets, {} figures; {:.1} s ({:.2} s per \
             sequence)",
            self.sequences,
            self.window,
            self.mutants,
            self.targets,
            self.figures,
            self.seconds,
            self.seconds_per_sequence
        )
    }
}

/// The column of a base in the one-hot encoding (4 for anything but A, C, G, T).
fn code(b: u8) -> usize {
    "ACGT"
        .bytes()
        .position(|c| c == b.to_ascii_uppercase())
        .unwrap_or(4)
}

/// The effects `[L, 4, K]` of every substitution of `seq` on the targets `keep` (indices
/// into the model's targets), and the reference logits `[K]`.
pub fn mutagenesis(
    model: &Model,
    seq: &[u8],
    keep: &[usize],
) -> Result<(Vec<f32>, Vec<f32>), AnalyzeError> {
    let l = model.window();
    let t = model.targets().len();
    let k = keep.len();
    let mut reference = vec![0f32; 4 * l];
    onehot::encode_channels(seq, &mut reference);
    // The reference rides in the first pass with the first mutants (`None`): passes are
    // batch-invariant, so this gives the bits a pass of its own would.
    let windows: Vec<Option<(usize, usize)>> = std::iter::once(None)
        .chain((0..l).flat_map(|i| {
            let r = code(seq[i]);
            (0..4).filter(move |&b| b != r).map(move |b| Some((i, b)))
        }))
        .collect();
    let mut ref_logits = Vec::new();
    let mut effect = vec![0f32; l * 4 * k];
    // Whole batches per call: a pass pads a short call up to the batch size.
    let per_call = MUTANTS_PER_CALL.next_multiple_of(model.batch);
    let mut x = Vec::with_capacity(per_call * 4 * l);
    for block in windows.chunks(per_call) {
        x.clear();
        for m in block {
            let start = x.len();
            x.extend_from_slice(&reference);
            if let Some((i, b)) = *m {
                let w = &mut x[start..];
                for c in 0..4 {
                    w[c * l + i] = 0.0;
                }
                w[b * l + i] = 1.0;
            }
        }
        let logits = model.logits(&x)?;
        for (n, m) in block.iter().enumerate() {
            let row = &logits[n * t..(n + 1) * t];
            match *m {
                None => ref_logits = row.to_vec(),
                Some((i, b)) => {
                    for (j, &target) in keep.iter().enumerate() {
                        effect[(i * 4 + b) * k + j] = row[target] - ref_logits[target];
                    }
                }
            }
        }
    }
    let ref_kept = keep.iter().map(|&j| ref_logits[j]).collect();
    Ok((effect, ref_kept))
}

/// Runs saturation mutagenesis on the sequences of `opts`.
pub fn ism(opts: &IsmOptions) -> Result<IsmReport, AnalyzeError> {
    let started = Instant::now();
    let source = Source::from_flags(
        opts.input.fasta.as_deref(),
        opts.input.genome.as_deref(),
        opts.input.regions.as_deref(),
        None,
        1,
        opts.input.center,
    )?;
    if opts.input.center && opts.input.fasta.is_none() {
        return Err(AnalyzeError::Usage(
            "--center applies to --fasta records (BED intervals are always centred)".into(),
        ));
    }
    let mut inputs = source.inputs();
    inputs.push(("--checkpoint", &opts.run.checkpoint));
    crate::check_out_file(&opts.out, &inputs)?;
    if let Some(dir) = &opts.plot {
        crate::check_out_dir(dir, &inputs)?;
    }
    let model = opts.run.load()?;
    let names: Option<Vec<String>> = opts.targets.as_ref().map(|s| {
        s.split(',')
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect()
    });
    if names.as_ref().is_some_and(Vec::is_empty) {
        return Err(AnalyzeError::Usage("--targets: no targets given".into()));
    }
    let keep = model.target_indices(names.as_deref())?;
    let targets: Vec<String> = keep.iter().map(|&i| model.targets()[i].clone()).collect();
    let l = model.window();
    let checked = source.check(l)?;
    let mut attrs =
        crate::variants::provenance(&model, source.genome().unwrap_or(Path::new("")), false)?;
    let input = source.inputs().last().map(|(_, p)| p.display().to_string());
    attrs.push(("input".into(), AttrValue::Str(input.unwrap_or_default())));
    let k = keep.len();
    let spec = ResultsSpec {
        format: ISM_FORMAT.into(),
        version: 1,
        attrs,
        targets: Some(targets.clone()),
        columns: vec![
            ("chrom".into(), ColumnKind::Str),
            ("start".into(), ColumnKind::Int),
            ("end".into(), ColumnKind::Int),
            ("name".into(), ColumnKind::Str),
            ("sequence".into(), ColumnKind::Str),
            ("padded".into(), ColumnKind::Int),
        ],
        arrays: vec![
            ("reference".into(), vec![k]),
            ("effect".into(), vec![l, 4, k]),
        ],
        // One sequence's effects are L x 4 x K floats (464 KB for 1000 bp and 29 targets).
        chunk_rows: 1,
        level: 4,
    };
    if opts.plot.is_some() {
        // With figures the run has several files and ism.h5, written last, marks it
        // finished: an older one must not vouch for figures half redrawn. (Removed only
        // now, after every input check, so a typo does not cost the older results.)
        match std::fs::remove_file(&opts.out) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(AnalyzeError::Io(opts.out.clone(), e))
            }
            _ => {}
        }
    }
    let mut h5 = ResultsWriter::create(&opts.out, &spec)?;
    let mut report = IsmReport {
        targets: k,
        window: l,
        warnings: checked.warnings,
        ..IsmReport::default()
    };
    let bar = crate::progress_bar(opts.run.progress, Some(checked.windows as u64), "sequences");
    let mut reader = source.open(l)?;
    let mut plotting = 0.0;
    loop {
        let block = reader.next_block(1)?;
        let Some(w) = block.into_iter().next() else {
            break;
        };
        let (effect, reference) = mutagenesis(&model, &w.seq, &keep)?;
        report.mutants += w
            .seq
            .iter()
            .map(|&b| if code(b) < 4 { 3 } else { 4 })
            .sum::<usize>();
        append(&mut h5, &w, &reference, &effect)?;
        if let Some(dir) = &opts.plot {
            let t0 = Instant::now();
            report.figures += figures(dir, report.sequences, &w, &effect, &targets)?;
            plotting += t0.elapsed().as_secs_f64();
        }
        report.sequences += 1;
        bar.inc(1);
    }
    bar.finish_and_clear();
    if report.sequences == 0 {
        report
            .warnings
            .push("no sequences: the output is empty".into());
    }
    h5.finish()?;
    report.seconds = started.elapsed().as_secs_f64();
    report.seconds_per_sequence = (report.seconds - plotting) / (report.sequences.max(1) as f64);
    for w in &report.warnings {
        tracing::warn!("{w}");
    }
    Ok(report)
}

fn append(
    h5: &mut ResultsWriter,
    w: &Window,
    reference: &[f32],
    effect: &[f32],
) -> Result<(), AnalyzeError> {
    let s = |v: &str| vec![v.to_string()];
    h5.append(
        1,
        &[
            Column::Str(&s(&w.chrom)),
            Column::Int(&[w.start as i64]),
            Column::Int(&[w.end as i64]),
            Column::Str(&s(&w.name)),
            Column::Str(&s(&String::from_utf8_lossy(&w.seq))),
            Column::Int(&[w.padded as i64]),
        ],
        &[reference, effect],
    )?;
    Ok(())
}

/// Draws the figures of one sequence (row `row`), one per target; returns how many.
fn figures(
    dir: &Path,
    row: usize,
    w: &Window,
    effect: &[f32],
    targets: &[String],
) -> Result<usize, AnalyzeError> {
    let k = targets.len();
    let l = w.seq.len();
    for (j, target) in targets.iter().enumerate() {
        let per: Vec<f32> = (0..l * 4).map(|ib| effect[ib * k + j]).collect();
        let stem = dir.join(format!(
            "{row}_{}_{}",
            file_safe(&w.name),
            file_safe(target)
        ));
        let title = if w.chrom == w.name {
            format!("{} - {target}", w.name)
        } else {
            format!("{}:{}-{} {} - {target}", w.chrom, w.start, w.end, w.name)
        };
        crate::plot::draw(&stem, &title, &w.seq, &per)?;
    }
    Ok(k)
}
