//! `regions`: predictions for BED intervals, FASTA records or windows tiled along
//! chromosomes, with genome tracks of the tiles.
//!
//! The windows come from [`crate::sequences`] (its docs state the centring and the bin
//! rule). They are read, predicted and written in blocks, so memory stays bounded whatever
//! the input's size. Outputs (in the output directory, each under a temporary name until
//! complete, `summary.json` last):
//!
//! - `regions.h5`: one row per window (`rows/chrom, start, end, name, padded, unknown`, and
//!   for tiles `bin_start, bin_end`), float32 `pred` `[N, T]` (sigmoid probabilities, the
//!   mean with the reverse complement's under `--rc-average`), the targets and the
//!   provenance;
//! - `regions.tsv`: `chrom start end name` and one column per target;
//! - with `--tile`, per chosen target (`--bigwig A,B` or `all`, the default): `<target>.bw`
//!   and, with `--bedgraph`, `<target>.bedGraph`: the probability of each bin (see
//!   [`tracks`]).

pub mod tracks;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use ferrosea_dataset::{AttrValue, Column, ColumnKind, ResultsSpec, ResultsWriter};
use ferrosea_genome::{onehot, Genome};
use serde::{Deserialize, Serialize};

use crate::sequences::{SequenceArgs, Source, Window};
use crate::{AnalyzeError, Model, RunArgs};

/// The `format` attribute of `regions.h5`.
pub const REGIONS_FORMAT: &str = "ferrosea-regions";

/// Windows per block (the unit of reading, inference and writing).
const BLOCK: usize = 1024;

/// What to predict and where to write.
#[derive(clap::Args, Clone, Debug)]
pub struct RegionsOptions {
    /// The checkpoint, batch size and device.
    #[command(flatten)]
    pub run: RunArgs,
    /// Where the sequences come from (--fasta, or --genome with --regions).
    #[command(flatten)]
    pub input: SequenceArgs,
    /// Tile windows along chromosomes or regions: chr22,chr1:1000001-2000000 (1-based,
    /// inclusive).
    #[arg(long, value_name = "REGIONS")]
    pub tile: Option<String>,
    /// Bases between tiled windows (the bin width of the tracks).
    #[arg(long, default_value_t = 200)]
    pub step: u64,
    /// Output directory.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Targets to write bigWig tracks of (with --tile): A,B or all (the default).
    #[arg(long, value_name = "TARGETS")]
    pub bigwig: Option<String>,
    /// Also write each track as a bedGraph (with --tile).
    #[arg(long)]
    pub bedgraph: bool,
    /// Predict the mean of the forward and reverse-complement probabilities.
    #[arg(long)]
    pub rc_average: bool,
}

/// What a regions run did (also `summary.json`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RegionsReport {
    /// The checkpoint JSON used.
    pub checkpoint: String,
    /// `fasta`, `bed` or `tiles`.
    pub source: String,
    /// The input (FASTA, BED, or the tiled regions).
    pub input: String,
    /// Windows predicted (rows of regions.h5).
    pub windows: usize,
    /// Tiled windows skipped (off a chromosome's end, or all N).
    pub skipped: usize,
    /// Windows holding padding (N outside a record or a chromosome).
    pub padded: usize,
    /// Targets per window.
    pub targets: usize,
    /// The model's window.
    pub window: usize,
    /// The tile step, with --tile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<u64>,
    /// The targets with tracks.
    pub tracks: Vec<String>,
    /// Whether predictions were reverse-complement averaged.
    pub rc_average: bool,
    /// Wall time.
    pub seconds: f64,
    /// Windows predicted per second.
    pub windows_per_s: f64,
    /// The command line.
    pub command_line: String,
    /// The files written.
    pub outputs: Vec<String>,
    /// Things the user should know (records cropped or padded).
    pub warnings: Vec<String>,
}

impl RegionsReport {
    /// One line for the log.
    pub fn line(&self) -> String {
        format!(
            "{} windows ({}), {} skipped, {} tracks; {:.1} s ({:.1} windows/s)",
            self.windows,
            self.source,
            self.skipped,
            self.tracks.len(),
            self.seconds,
            self.windows_per_s
        )
    }
}

/// The indices of the tracked targets: all, or those `--bigwig` names.
fn track_targets(model: &Model, spec: Option<&str>) -> Result<Vec<usize>, AnalyzeError> {
    match spec {
        None | Some("all") => model.target_indices(None),
        Some(list) => {
            let names: Vec<String> = list
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            if names.is_empty() {
                return Err(AnalyzeError::Usage(
                    "--bigwig: no targets given (A,B or all)".into(),
                ));
            }
            model.target_indices(Some(&names)).map_err(|e| {
                AnalyzeError::Mismatch(e.to_string().replacen("--targets", "--bigwig", 1))
            })
        }
    }
}

/// Temporary files removed when a run stops early (after a complete run they have all been
/// renamed, and removing them does nothing).
struct Leftovers(Vec<PathBuf>);

impl Drop for Leftovers {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Creates `path`'s temporary file for writing.
fn create(path: &Path) -> Result<(ferrosea_dataset::TempFile, BufWriter<File>), AnalyzeError> {
    let tmp = ferrosea_dataset::TempFile::new(path);
    let file = File::create(tmp.path()).map_err(AnalyzeError::io(tmp.path()))?;
    Ok((tmp, BufWriter::with_capacity(1 << 20, file)))
}

/// Predicts the windows of `opts`' source.
pub fn regions(opts: &RegionsOptions) -> Result<RegionsReport, AnalyzeError> {
    let started = Instant::now();
    let source = Source::from_flags(
        opts.input.fasta.as_deref(),
        opts.input.genome.as_deref(),
        opts.input.regions.as_deref(),
        opts.tile.as_deref(),
        opts.step,
        opts.input.center,
    )?;
    let tiles = matches!(source, Source::Tiles { .. });
    if !tiles && (opts.bigwig.is_some() || opts.bedgraph) {
        return Err(AnalyzeError::Usage(
            "--bigwig and --bedgraph need --tile (tracks are made of tiled windows)".into(),
        ));
    }
    if opts.input.center && opts.input.fasta.is_none() {
        return Err(AnalyzeError::Usage(
            "--center applies to --fasta records (BED intervals are always centred)".into(),
        ));
    }
    let mut inputs = source.inputs();
    inputs.push(("--checkpoint", &opts.run.checkpoint));
    crate::check_out_dir(&opts.out, &inputs)?;
    let summary_path = crate::remove_summary(&opts.out)?;
    let model = opts.run.load()?;
    let tracked = if tiles {
        track_targets(&model, opts.bigwig.as_deref())?
    } else {
        Vec::new()
    };
    let sizes: Vec<(String, u64)> = match source.genome() {
        Some(g) => Genome::open(g, 2)?
            .sequences()
            .iter()
            .map(|s| (s.name.clone(), s.length))
            .collect(),
        None => Vec::new(),
    };
    let l = model.window();
    let checked = source.check(l)?;
    if tiles && checked.windows == 0 {
        return Err(AnalyzeError::Input(format!(
            "--tile {}: no window of {l} bp fits (windows off the chromosome's ends or made \
             only of N are skipped), so there is no track to write",
            opts.tile.as_deref().unwrap_or_default()
        )));
    }
    let (kind, input) = match &source {
        Source::Fasta { path, .. } => ("fasta", path.display().to_string()),
        Source::Bed { bed, .. } => ("bed", bed.display().to_string()),
        Source::Tiles { regions, .. } => (
            "tiles",
            regions
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(","),
        ),
    };
    let targets = model.targets().to_vec();
    let t = targets.len();
    let mut attrs = crate::variants::provenance(
        &model,
        source.genome().unwrap_or(Path::new("")),
        opts.rc_average,
    )?;
    attrs.push(("source".into(), AttrValue::Str(kind.into())));
    attrs.push(("input".into(), AttrValue::Str(input.clone())));
    if tiles {
        attrs.push(("step".into(), AttrValue::Int(opts.step as i64)));
    }
    let mut columns = vec![
        ("chrom".to_string(), ColumnKind::Str),
        ("start".into(), ColumnKind::Int),
        ("end".into(), ColumnKind::Int),
        ("name".into(), ColumnKind::Str),
        ("padded".into(), ColumnKind::Int),
        ("unknown".into(), ColumnKind::Int),
    ];
    if tiles {
        columns.push(("bin_start".into(), ColumnKind::Int));
        columns.push(("bin_end".into(), ColumnKind::Int));
    }
    let spec = ResultsSpec {
        format: REGIONS_FORMAT.into(),
        version: 1,
        attrs,
        targets: Some(targets.clone()),
        columns,
        arrays: vec![("pred".into(), vec![t])],
        chunk_rows: BLOCK,
        level: 4,
    };
    let mut h5 = ResultsWriter::create(&opts.out.join("regions.h5"), &spec)?;
    let tsv_path = opts.out.join("regions.tsv");
    let mut leftovers = Leftovers(Vec::new());
    let (tsv_tmp, mut tsv) = create(&tsv_path)?;
    let mut header = String::from("chrom\tstart\tend\tname");
    for n in &targets {
        header.push('\t');
        header.push_str(n);
    }
    writeln!(tsv, "{header}").map_err(AnalyzeError::io(&tsv_path))?;
    let mut tracks = if tiles {
        let t = tracks::Tracks::create(&opts.out, &tracked, &targets)?;
        leftovers.0.extend(t.temporary());
        Some(t)
    } else {
        None
    };
    let mut report = RegionsReport {
        checkpoint: model.json.display().to_string(),
        source: kind.into(),
        input,
        targets: t,
        window: l,
        step: tiles.then_some(opts.step),
        tracks: tracked.iter().map(|&i| targets[i].clone()).collect(),
        rc_average: opts.rc_average,
        command_line: opts.run.command_line.clone(),
        warnings: checked.warnings,
        ..RegionsReport::default()
    };
    let bar = crate::progress_bar(opts.run.progress, Some(checked.windows as u64), "windows");
    let mut reader = source.open(l)?;
    // Whole batches per block: a pass pads a short call up to the batch size. (The HDF5
    // chunks stay BLOCK rows: the file's bytes do not depend on the append sizes.)
    let per_block = BLOCK.next_multiple_of(model.batch);
    loop {
        let block = reader.next_block(per_block)?;
        if block.is_empty() {
            break;
        }
        let pred = predict(&model, &block, opts.rc_average)?;
        write_block(&mut h5, &block, &pred, tiles)?;
        for (i, w) in block.iter().enumerate() {
            let row = &pred[i * t..(i + 1) * t];
            let mut line = format!("{}\t{}\t{}\t{}", w.chrom, w.start, w.end, w.name);
            for v in row {
                use std::fmt::Write as _;
                let _ = write!(line, "\t{v}");
            }
            line.push('\n');
            tsv.write_all(line.as_bytes())
                .map_err(AnalyzeError::io(&tsv_path))?;
            if let (Some(tr), Some((a, b))) = (tracks.as_mut(), w.bin) {
                tr.bin(&w.chrom, a, b, row)?;
            }
        }
        report.windows += block.len();
        report.padded += block.iter().filter(|w| w.padded > 0).count();
        bar.inc(block.len() as u64);
    }
    bar.finish_and_clear();
    report.skipped = reader.skipped();
    if report.windows == 0 {
        report.warnings.push(format!(
            "{}: no windows: the outputs are empty",
            report.input
        ));
    }
    let mut outputs = vec![file_name(&h5.finish()?)];
    tsv.flush().map_err(AnalyzeError::io(&tsv_path))?;
    drop(tsv);
    tsv_tmp.commit().map_err(AnalyzeError::io(&tsv_path))?;
    outputs.push("regions.tsv".into());
    if let Some(tr) = tracks {
        outputs.extend(tr.finish(&sizes, opts.bedgraph)?);
    }
    outputs.push("summary.json".into());
    report.outputs = outputs;
    report.seconds = started.elapsed().as_secs_f64();
    report.windows_per_s = report.windows as f64 / report.seconds.max(1e-9);
    for w in &report.warnings {
        tracing::warn!("{w}");
    }
    crate::write_summary(&summary_path, &report)?;
    Ok(report)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// The probabilities `[n, T]` of a block of windows.
fn predict(model: &Model, block: &[Window], rc_average: bool) -> Result<Vec<f32>, AnalyzeError> {
    let l = model.window();
    let mut x = vec![0f32; block.len() * 4 * l];
    for (w, out) in block.iter().zip(x.chunks_exact_mut(4 * l)) {
        onehot::encode_channels(&w.seq, out);
    }
    model.probabilities(&x, rc_average)
}

/// Appends a block's rows to `regions.h5`.
fn write_block(
    h5: &mut ResultsWriter,
    block: &[Window],
    pred: &[f32],
    tiles: bool,
) -> Result<(), AnalyzeError> {
    let chrom: Vec<String> = block.iter().map(|w| w.chrom.clone()).collect();
    let name: Vec<String> = block.iter().map(|w| w.name.clone()).collect();
    let ints =
        |f: &dyn Fn(&Window) -> u64| -> Vec<i64> { block.iter().map(|w| f(w) as i64).collect() };
    let (start, end) = (ints(&|w| w.start), ints(&|w| w.end));
    let padded = ints(&|w| w.padded as u64);
    let unknown = ints(&|w| onehot::count_unknown(&w.seq) as u64);
    let (bin_start, bin_end) = (
        ints(&|w| w.bin.map_or(0, |b| b.0)),
        ints(&|w| w.bin.map_or(0, |b| b.1)),
    );
    let mut cols = vec![
        Column::Str(&chrom),
        Column::Int(&start),
        Column::Int(&end),
        Column::Str(&name),
        Column::Int(&padded),
        Column::Int(&unknown),
    ];
    if tiles {
        cols.push(Column::Int(&bin_start));
        cols.push(Column::Int(&bin_end));
    }
    h5.append(block.len(), &cols, &[pred])?;
    Ok(())
}
