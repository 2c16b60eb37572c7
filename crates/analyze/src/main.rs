//! `ferrosea-analyze`: what a trained network says about variants, mutations and regions.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ferrosea_analyze::{
    BackgroundOptions, GatherOptions, IsmOptions, RegionsOptions, VariantsOptions,
};

/// Apply a network trained by ferrosea-train: variant effects from a VCF (`variants`, with
/// e-values against a `background`), saturation mutagenesis (`ism`) and predictions on
/// regions with genome tracks (`regions`). See docs/ANALYSIS.md.
#[derive(Parser, Debug)]
#[command(name = "ferrosea-analyze", version, about, max_term_width = 100)]
struct Args {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    global: ferrosea_runtime::process::GlobalArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Score the variants of a VCF: variants.h5, Selene-layout TSVs, annotated.vcf.gz,
    /// skipped.tsv and summary.json in the output directory.
    Variants(VariantsOptions),
    /// The per-target background of |diff x log2fc| (random SNVs or a VCF) that turns
    /// variant scores into e-values.
    Background(BackgroundOptions),
    /// Saturation mutagenesis: the effect of every single-base substitution of each sequence.
    Ism(IsmOptions),
    /// Predictions for BED intervals, FASTA records or tiled windows, with bigWig tracks.
    Regions(RegionsOptions),
    /// Join the outputs of `variants --chunk K/N` runs, in chunk order, into one output.
    Gather(GatherOptions),
}

fn main() -> ExitCode {
    let args = Args::parse();
    args.global.init();
    ferrosea_dataset::exit_code("ferrosea-analyze", run(args))
}

fn run(args: Args) -> Result<(), Box<ferrosea_analyze::AnalyzeError>> {
    let command_line = ferrosea_dataset::command_line();
    let progress = args.global.progress();
    match args.command {
        Command::Variants(mut o) => {
            o.run.command_line = command_line;
            o.run.progress = progress;
            let r = ferrosea_analyze::variants(&o)?;
            for w in &r.warnings {
                tracing::warn!("{w}");
            }
            tracing::info!("{}", r.line());
        }
        Command::Background(mut o) => {
            o.run.command_line = command_line;
            o.run.progress = progress;
            let r = ferrosea_analyze::background(&o)?;
            tracing::info!("{}", r.line());
        }
        Command::Ism(mut o) => {
            o.run.command_line = command_line;
            o.run.progress = progress;
            let r = ferrosea_analyze::ism(&o)?;
            tracing::info!("{}", r.line());
        }
        Command::Regions(mut o) => {
            o.run.command_line = command_line;
            o.run.progress = progress;
            let r = ferrosea_analyze::regions(&o)?;
            tracing::info!("{}", r.line());
        }
        Command::Gather(o) => {
            let r = ferrosea_analyze::gather(&o)?;
            tracing::info!("{}", r.line());
        }
    }
    Ok(())
}
