//! `ferrosea-interpret`: what a trained network's first layer learned.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ferrosea_analyze::sequences::{SequenceArgs, Source};
use ferrosea_interpret::{
    AttributeOptions, Background, CompareOptions, FiltersOptions, Input, Method, RecurrentRule,
    Reference, ReportOptions, Threshold,
};
use ferrosea_motifs::tomtom::{Distance, Options};
use ferrosea_runtime::DeviceSpec;

/// Interpret a network trained by ferrosea-train: `filters` turns its first-layer filters
/// into motifs, `compare` matches motifs against a database (JASPAR 2024 by default) with
/// the Tomtom method.
#[derive(Parser, Debug)]
#[command(name = "ferrosea-interpret", version, about, max_term_width = 100)]
struct Args {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    global: ferrosea_runtime::process::GlobalArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Per-base contributions of chosen outputs (saliency, gradient x input, integrated
    /// gradients, DeepLIFT/SHAP, saturation mutagenesis) for the rows of a dataset file, FASTA
    /// records or BED intervals of a genome: writes OUT, an HDF5 file with each row's
    /// sequence, hypothetical contributions and contributions [window, channels, targets], and
    /// the null of shuffled sequences that `seqlets` takes its threshold from
    /// (docs/INTERPRETATION.md).
    Attribute {
        /// Checkpoint JSON or a ferrosea-train output directory.
        #[arg(long)]
        checkpoint: PathBuf,
        /// Dataset file (or give --fasta, or --genome with --regions).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Sequences from FASTA records or BED intervals, as `ferrosea-analyze` reads them.
        #[command(flatten)]
        sequences: SequenceArgs,
        /// Attribution file to write (HDF5).
        #[arg(short, long)]
        out: PathBuf,
        /// Targets to attribute, comma-separated [default: all, when there are at most 16].
        #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
        targets: Vec<String>,
        /// Only dataset rows with a positive label for this target.
        #[arg(long, value_name = "TARGET")]
        positives: Option<String>,
        /// At most N sequences (the first chosen).
        #[arg(long, value_name = "N")]
        rows: Option<usize>,
        /// Method.
        #[arg(long, value_enum, default_value_t = Method::IntegratedGradients)]
        method: Method,
        /// Integration points of integrated gradients.
        #[arg(long, default_value_t = 50)]
        steps: usize,
        /// Reference of integrated gradients and DeepLIFT: zero (the all-zero input) or
        /// shuffle (dinucleotide shuffles of each sequence, the results averaged) [default:
        /// zero for integrated-gradients, shuffle for deeplift-shap].
        #[arg(long, value_parser = ["zero", "shuffle"])]
        reference: Option<String>,
        /// Shuffles per sequence with --reference shuffle.
        #[arg(long, default_value_t = 20)]
        references: usize,
        /// Seed of the shuffles (references and the null).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// DeepLIFT at a recurrent layer (which it has no rule for): refuse, or let each
        /// half's gradient pass through it, as Captum does with nn.LSTM.
        #[arg(long, value_parser = ["refuse", "gradient"], default_value = "refuse")]
        recurrent_rule: String,
        /// Attribute one dinucleotide shuffle of each of the first N sequences too: the null
        /// of `seqlets` (0: none).
        #[arg(long, value_name = "N", default_value_t = 100)]
        null_rows: usize,
        /// Draw each row's contribution logo per target (SVG and PNG) into DIR.
        #[arg(long, value_name = "DIR")]
        plot: Option<PathBuf>,
        /// Rows per pass through the network.
        #[arg(long, default_value_t = 128)]
        batch_size: usize,
        /// Device: cpu or cuda:N.
        #[arg(long, default_value = "cpu")]
        device: DeviceSpec,
    },
    /// Turn the first convolution's filters into motifs: for each filter and sequence, the
    /// window at the filter's best activation, kept when that activation reaches --threshold
    /// x the filter's maximum over the data. Writes OUT/filters.meme, filters.tsv,
    /// counts.tsv and logos/.
    Filters {
        /// Checkpoint JSON or a ferrosea-train output directory.
        #[arg(long)]
        checkpoint: PathBuf,
        /// Dataset file (from ferrosea-prep).
        #[arg(long)]
        data: PathBuf,
        /// Output directory.
        #[arg(short, long)]
        out: PathBuf,
        /// Fraction of the filter's maximum activation a sequence must reach.
        #[arg(long, default_value_t = 0.5)]
        threshold: f64,
        /// Only sequences with a positive label for some target.
        #[arg(long)]
        only_positive: bool,
        /// Window width, centred on the filter [default: the filter's width].
        #[arg(long)]
        window: Option<usize>,
        /// Filters with fewer sites are listed, not written as motifs.
        #[arg(long, default_value_t = 10)]
        min_sites: usize,
        /// Use only the first N sequences.
        #[arg(long, value_name = "N")]
        max_samples: Option<usize>,
        /// Background of the written motifs.
        #[arg(long, value_enum, default_value_t = Background::Uniform)]
        background: Background,
        /// Also measure each filter's influence (mean change of the predictions when it is
        /// zeroed) on the first N sequences: one prediction pass per filter.
        #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "1000")]
        influence: Option<usize>,
        /// No logos.
        #[arg(long)]
        no_logos: bool,
        /// Sequences per batch.
        #[arg(long, default_value_t = 128)]
        batch_size: usize,
        /// Device: cpu or cuda:N.
        #[arg(long, default_value = "cpu")]
        device: DeviceSpec,
    },
    /// One self-contained HTML page (opens offline): a row per filter with its logo,
    /// information content, sites, influence, best matches and the best match's logo.
    Report {
        /// The output directory of `filters`.
        #[arg(long)]
        motifs: PathBuf,
        /// The table of `compare`.
        #[arg(long)]
        matches: PathBuf,
        /// The database the matches came from [default: JASPAR 2024, embedded].
        #[arg(long)]
        db: Option<PathBuf>,
        /// The page to write.
        #[arg(short, long)]
        out: PathBuf,
        /// Matches listed per filter.
        #[arg(long, default_value_t = 3)]
        top: usize,
    },
    /// Compare query motifs with a motif database (Tomtom, as MEME 5.5's tomtom computes it)
    /// and write tomtom's tab-separated table.
    Compare {
        /// Query motifs: MEME or JASPAR format, gzipped or not.
        #[arg(long)]
        query: PathBuf,
        /// Target database: MEME or JASPAR [default: JASPAR 2024 CORE vertebrates, embedded].
        #[arg(long)]
        db: Option<PathBuf>,
        /// Output table (TSV).
        #[arg(short, long)]
        out: PathBuf,
        /// Column similarity: ed (Euclidean), pearson, sandelin, kullback.
        #[arg(long, default_value = "ed")]
        dist: Distance,
        /// Minimum number of overlapping columns.
        #[arg(long, default_value_t = 1)]
        min_overlap: usize,
        /// Report matches with q-value (or, with --evalue, E-value) at most this.
        #[arg(long, default_value_t = 0.5)]
        thresh: f64,
        /// Threshold on E-values instead of q-values.
        #[arg(long)]
        evalue: bool,
        /// Motif pseudocount (0 for none).
        #[arg(long, default_value_t = 0.1)]
        motif_pseudo: f64,
        /// Compare with the targets' forward strand only.
        #[arg(long)]
        norc: bool,
    },
}

/// The sequences `attribute` reads: a dataset file, or the analyze stage's sources.
fn attribute_input(
    data: Option<PathBuf>,
    positives: Option<String>,
    sequences: &SequenceArgs,
) -> anyhow::Result<Input> {
    let given =
        sequences.fasta.is_some() || sequences.genome.is_some() || sequences.regions.is_some();
    match data {
        Some(_) if given => {
            anyhow::bail!("give either --data, or --fasta, or --genome with --regions: one source")
        }
        Some(path) => Ok(Input::Dataset { path, positives }),
        None => {
            if positives.is_some() {
                anyhow::bail!("--positives chooses rows of a dataset file (--data)");
            }
            if !given {
                anyhow::bail!(
                    "no sequences: give --data FILE, --fasta FILE, or --genome FILE with --regions BED"
                );
            }
            if sequences.center && sequences.fasta.is_none() {
                anyhow::bail!(
                    "--center applies to --fasta records (BED intervals are always centred)"
                );
            }
            Ok(Input::Sequences(Source::from_flags(
                sequences.fasta.as_deref(),
                sequences.genome.as_deref(),
                sequences.regions.as_deref(),
                None,
                1,
                sequences.center,
            )?))
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    args.global.init();
    ferrosea_dataset::exit_code("ferrosea-interpret", run(args))
}

fn run(args: Args) -> anyhow::Result<()> {
    let command_line = ferrosea_dataset::command_line();
    match args.command {
        Command::Attribute {
            checkpoint,
            data,
            sequences,
            out,
            targets,
            positives,
            rows,
            method,
            steps,
            reference,
            references,
            seed,
            recurrent_rule,
            null_rows,
            plot,
            batch_size,
            device,
        } => {
            let shuffled = match reference.as_deref() {
                Some(r) => r == "shuffle",
                None => method == Method::DeepliftShap,
            };
            let reference = if shuffled {
                Reference::Shuffled {
                    count: references,
                    seed,
                }
            } else {
                Reference::Zero
            };
            let r = ferrosea_interpret::attribute(&AttributeOptions {
                checkpoint,
                input: attribute_input(data, positives, &sequences)?,
                out,
                targets,
                max_rows: rows,
                method,
                steps,
                reference,
                recurrent: match recurrent_rule.as_str() {
                    "gradient" => RecurrentRule::Gradient,
                    _ => RecurrentRule::Refuse,
                },
                null_rows,
                seed,
                batch_size,
                device,
                plot,
                command_line,
            })?;
            tracing::info!(
                "{}: {} sequences x {} targets, and {} shuffled for the null ({:.1} sequences/s){}",
                r.out.display(),
                r.rows,
                r.targets.len(),
                r.null_rows,
                r.sequences_per_s,
                r.max_delta.map_or(String::new(), |d| format!(
                    "; largest convergence delta {d:.2e}"
                ))
            );
        }
        Command::Filters {
            checkpoint,
            data,
            out,
            threshold,
            only_positive,
            window,
            min_sites,
            max_samples,
            background,
            influence,
            no_logos,
            batch_size,
            device,
        } => {
            if !(0.0..=1.0).contains(&threshold) {
                anyhow::bail!("--threshold must be between 0 and 1");
            }
            let r = ferrosea_interpret::filters(&FiltersOptions {
                checkpoint,
                data,
                out: out.clone(),
                threshold,
                only_positive,
                window,
                min_sites,
                device,
                batch_size,
                max_samples,
                background,
                influence,
                logos: !no_logos,
                command_line,
            })?;
            tracing::info!(
                "{}: {} of {} filters written as motifs from {} sequences",
                out.display(),
                r.motifs.len(),
                r.filters.len(),
                r.sequences
            );
        }
        Command::Report {
            motifs,
            matches,
            db,
            out,
            top,
        } => {
            let n = ferrosea_interpret::report(&ReportOptions {
                motifs,
                matches,
                db,
                out: out.clone(),
                top,
            })?;
            tracing::info!("{}: {n} filters", out.display());
        }
        Command::Compare {
            query,
            db,
            out,
            dist,
            min_overlap,
            thresh,
            evalue,
            motif_pseudo,
            norc,
        } => {
            if motif_pseudo.is_nan() || motif_pseudo < 0.0 {
                anyhow::bail!("--motif-pseudo must be >= 0");
            }
            let started = std::time::Instant::now();
            let rows = ferrosea_interpret::compare(&CompareOptions {
                query,
                db,
                out: out.clone(),
                tomtom: Options {
                    distance: dist,
                    min_overlap,
                    pseudocount: motif_pseudo,
                    both_strands: !norc,
                    ..Options::default()
                },
                threshold: if evalue {
                    Threshold::EValue(thresh)
                } else {
                    Threshold::QValue(thresh)
                },
                command_line,
            })?;
            tracing::info!(
                "{}: {} matches in {:.2} s",
                out.display(),
                rows.len(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}
