//! The command line of `ferrosea-interpret`: one subcommand per stage step, each turned into
//! its options and run by [`Command::run`] (the binary parses, sets up the process and calls
//! it).

use std::path::PathBuf;

use clap::Subcommand;
use ferrosea_analyze::sequences::{SequenceArgs, Source};
use ferrosea_motifs::discovery::Options as Discovery;
use ferrosea_motifs::tomtom::{Distance, Options};
use ferrosea_runtime::DeviceSpec;

use crate::{
    AttributeOptions, Background, CompareOptions, FiltersOptions, Input, InterpretError, Method,
    MotifsOptions, RecurrentRule, Reference, ReportOptions, SeqletsOptions, Threshold,
};

fn usage(e: impl std::fmt::Display) -> InterpretError {
    InterpretError::Usage(e.to_string())
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
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
        /// Only dataset rows with a positive label for one of these targets (comma-separated).
        #[arg(long, value_delimiter = ',', value_name = "TARGET,...")]
        positives: Vec<String>,
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
    /// Windows of high contribution in an attribution file ("seqlets"): per target, the
    /// windows whose summed contribution passes a threshold set from the null of shuffled
    /// sequences (an estimated false discovery rate), picked greedily without overlaps;
    /// writes a BED-like table (sequence, start, end, strand, score, target, row, offset,
    /// sign).
    Seqlets {
        /// Attribution file (from `attribute`).
        #[arg(long)]
        attributions: PathBuf,
        /// Table to write (TSV).
        #[arg(short, long)]
        out: PathBuf,
        /// Window width.
        #[arg(long, default_value_t = 21)]
        window: usize,
        /// False discovery rate the threshold keeps to, against the null.
        #[arg(long, default_value_t = 0.05)]
        fdr: f64,
        /// A fixed |summed contribution| threshold instead of the null's.
        #[arg(long)]
        threshold: Option<f64>,
        /// Only these targets, comma-separated [default: all in the file].
        #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
        targets: Vec<String>,
    },
    /// Seqlets aligned and clustered into motifs (by the similarity of their contribution
    /// profiles, both strands), per target and sign: writes OUT/motifs.meme (position
    /// probabilities, for `compare`), motifs.tsv, motifs.h5 (contribution-weight matrices,
    /// members) and logos/.
    Motifs {
        /// Attribution file (from `attribute`).
        #[arg(long)]
        attributions: PathBuf,
        /// Seqlets table made from it [default: found with `seqlets`' defaults].
        #[arg(long)]
        seqlets: Option<PathBuf>,
        /// Output directory.
        #[arg(short, long)]
        out: PathBuf,
        /// At most this many motifs (those with most seqlets).
        #[arg(long, default_value_t = 50)]
        max_motifs: usize,
        /// Positions added on either side of a seqlet.
        #[arg(long, default_value_t = 10)]
        flank: usize,
        /// At most this many seqlets per target and sign (the strongest).
        #[arg(long, default_value_t = 20000)]
        max_seqlets: usize,
        /// Least similarity (continuous Jaccard) for a seqlet to join a motif.
        #[arg(long, default_value_t = 0.3)]
        min_similarity: f32,
        /// Least similarity of two motifs for them to merge.
        #[arg(long, default_value_t = 0.5)]
        merge_similarity: f32,
        /// Motifs of fewer seqlets are dropped.
        #[arg(long, default_value_t = 20)]
        min_seqlets: usize,
        /// No logos.
        #[arg(long)]
        no_logos: bool,
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
    /// One self-contained HTML page (opens offline): a row per motif of `filters` (logo,
    /// information content, sites, influence) or of `motifs` (logo, contribution logo,
    /// target, sign, seqlets), with its best matches and the best match's logo.
    Report {
        /// The output directory of `filters` or of `motifs`.
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
    positives: Vec<String>,
    sequences: &SequenceArgs,
) -> Result<Input, InterpretError> {
    let given =
        sequences.fasta.is_some() || sequences.genome.is_some() || sequences.regions.is_some();
    match data {
        Some(_) if given => Err(usage(
            "give either --data, or --fasta, or --genome with --regions: one source",
        )),
        Some(path) => Ok(Input::Dataset { path, positives }),
        None => {
            if !positives.is_empty() {
                return Err(usage("--positives chooses rows of a dataset file (--data)"));
            }
            if !given {
                return Err(usage(
                    "no sequences: give --data FILE, --fasta FILE, or --genome FILE with --regions BED",
                ));
            }
            if sequences.center && sequences.fasta.is_none() {
                return Err(usage(
                    "--center applies to --fasta records (BED intervals are always centred)",
                ));
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

impl Command {
    /// Runs the subcommand, logging what it wrote; `command_line` is recorded in the outputs.
    pub fn run(self, command_line: String) -> Result<(), InterpretError> {
        match self {
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
                let r = crate::attribute(&AttributeOptions {
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
            Command::Seqlets {
                attributions,
                out,
                window,
                fdr,
                threshold,
                targets,
            } => {
                let r = crate::seqlets(&SeqletsOptions {
                    attributions,
                    out: out.clone(),
                    window,
                    fdr,
                    threshold,
                    targets,
                    command_line,
                })?;
                for t in &r.thresholds {
                    tracing::info!(
                        "{} {}: threshold {:.4} (estimated FDR {:.3}), {} seqlets",
                        t.target,
                        t.sign,
                        t.value,
                        t.fdr,
                        t.seqlets
                    );
                }
                tracing::info!("{}: {} seqlets", out.display(), r.seqlets.len());
            }
            Command::Motifs {
                attributions,
                seqlets,
                out,
                max_motifs,
                flank,
                max_seqlets,
                min_similarity,
                merge_similarity,
                min_seqlets,
                no_logos,
            } => {
                let r = crate::motifs(&MotifsOptions {
                    attributions,
                    seqlets,
                    out: out.clone(),
                    max_motifs,
                    flank,
                    max_seqlets,
                    discovery: Discovery {
                        join: min_similarity,
                        merge: merge_similarity,
                        min_seqlets,
                        ..Discovery::default()
                    },
                    logos: !no_logos,
                    command_line,
                })?;
                tracing::info!(
                    "{}: {} motifs from {} seqlets ({:.2} s clustering)",
                    out.display(),
                    r.motifs.len(),
                    r.seqlets,
                    r.seconds
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
                    return Err(usage("--threshold must be between 0 and 1"));
                }
                let r = crate::filters(&FiltersOptions {
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
                let n = crate::report(&ReportOptions {
                    motifs,
                    matches,
                    db,
                    out: out.clone(),
                    top,
                })?;
                tracing::info!("{}: {n} motifs", out.display());
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
                    return Err(usage("--motif-pseudo must be >= 0"));
                }
                let started = std::time::Instant::now();
                let rows = crate::compare(&CompareOptions {
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
}
