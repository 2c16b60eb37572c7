//! `ferrosea-interpret`: what a trained network's first layer learned.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ferrosea_interpret::{CompareOptions, Threshold};
use ferrosea_motifs::tomtom::{Distance, Options};

/// Interpret a network trained by ferrosea-train: `compare` matches motifs against a
/// database (JASPAR 2024 by default) with the Tomtom method.
#[derive(Parser, Debug)]
#[command(name = "ferrosea-interpret", version, about, max_term_width = 100)]
struct Args {
    #[command(subcommand)]
    command: Command,
    /// Warnings and errors only on stderr.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Threads (default: all cores); the output does not depend on it.
    #[arg(short = 'j', long, global = true)]
    threads: Option<usize>,
}

#[derive(Subcommand, Debug)]
enum Command {
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

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(j) = args.threads {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(j.max(1))
            .build_global();
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_max_level(if args.quiet {
            tracing::Level::WARN
        } else {
            tracing::Level::INFO
        })
        .with_target(false)
        .without_time()
        .init();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferrosea-interpret: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let command_line = std::env::args().collect::<Vec<_>>().join(" ");
    match args.command {
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
