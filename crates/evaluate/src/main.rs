//! `ferrosea-evaluate`: predictions of a trained network, and their per-target scores.

use std::process::ExitCode;

use clap::Parser;
use ferrosea_evaluate::cli::Command;

/// Evaluate a network trained by ferrosea-train: `predict` writes its probabilities for a
/// dataset, `metrics` scores them per target (ROC AUC, PR AUC) with summaries and plots.
#[derive(Parser, Debug)]
#[command(name = "ferrosea-evaluate", version, about, max_term_width = 100)]
struct Args {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    global: ferrosea_runtime::process::GlobalArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    args.global.init();
    let command_line = ferrosea_dataset::command_line();
    ferrosea_dataset::exit_code(
        "ferrosea-evaluate",
        args.command.run(command_line, args.global.progress()),
    )
}
