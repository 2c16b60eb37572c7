//! `ferrosea-train`: train a network on ferrosea datasets; import published weights, export
//! ours.

use std::process::ExitCode;

use clap::Parser;
use ferrosea_train::cli::{Convert, TrainArgs};

/// Train a DeepSEA, DanQ or DanQ-JASPAR network on datasets made by ferrosea-prep.
///
/// Writes into --out: best.json + best-<step>.safetensors (lowest validation loss),
/// latest.json + latest-<step>.safetensors + optimizer state (for --resume), and
/// metrics.tsv (one line per epoch).
#[derive(Parser, Debug)]
#[command(
    name = "ferrosea-train",
    version,
    about,
    max_term_width = 100,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Args {
    #[command(subcommand)]
    command: Option<Convert>,
    #[command(flatten)]
    train: TrainArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    ferrosea_runtime::process::init(args.train.quiet, args.train.threads);
    ferrosea_dataset::exit_code(
        "ferrosea-train",
        ferrosea_train::cli::run(args.train, args.command),
    )
}
