//! `ferrosea-interpret`: what a trained network learned (filters, attributions, motifs).

use std::process::ExitCode;

use clap::Parser;
use ferrosea_interpret::cli::Command;

/// Interpret a network trained by ferrosea-train: `filters` turns its first-layer filters
/// into motifs; `attribute` scores each base's contribution to chosen outputs, `seqlets` finds
/// the windows of high contribution and `motifs` clusters them into motifs; `compare`
/// matches motifs against a database (JASPAR 2024 by default) with the Tomtom method, and
/// `report` puts them on one page.
#[derive(Parser, Debug)]
#[command(name = "ferrosea-interpret", version, about, max_term_width = 100)]
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
    ferrosea_dataset::exit_code("ferrosea-interpret", args.command.run(command_line))
}
