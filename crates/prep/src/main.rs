//! `ferrosea-prep`: reference genome + peak files -> labelled one-hot windows in HDF5.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ferrosea_genome::Region;
use ferrosea_prep::{Keep, Options};

/// Turn a reference genome and peak calls into DeepSEA-style training data.
///
/// Writes OUT/train.h5, OUT/valid.h5, OUT/test.h5 (format: docs/FORMAT.md) and OUT/prep.json
/// (options, input checksums, counts). The defaults reproduce DeepSEA (Zhou & Troyanskaya
/// 2015); add --reverse-complement for its reverse-complement blocks.
#[derive(Parser, Debug)]
#[command(name = "ferrosea-prep", version, about, long_about)]
struct Args {
    /// Reference FASTA: plain, or bgzip with its .fai (built when missing), or plain gzip.
    #[arg(long, value_name = "FASTA")]
    genome: PathBuf,
    /// Targets manifest: TSV with name, category, path [, cell, treatment].
    #[arg(long, value_name = "TSV")]
    targets: PathBuf,
    /// Output directory.
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    out: PathBuf,
    /// Worker threads (0: all cores). The output does not depend on it.
    #[arg(short = 'j', long = "threads", value_name = "N", default_value_t = 0)]
    threads: usize,
    /// Bin size in bp; bins are cut from position 0.
    #[arg(long, value_name = "BP", default_value_t = 200)]
    bin_size: u64,
    /// Window length in bp, centred on the bin.
    #[arg(long, value_name = "BP", default_value_t = 1000)]
    window: u64,
    /// Bases of a bin that a target's peaks must cover for a positive label.
    #[arg(long, value_name = "BP", default_value_t = 101)]
    min_overlap: u64,
    /// Which bins become samples: positive (any positive target), tf-touch (touched by a TF
    /// peak: DeepSEA), all.
    #[arg(long, value_enum, value_name = "RULE", default_value_t = Keep::Positive)]
    keep: Keep,
    /// Test split: comma-separated chromosomes and chrom:start-end regions (1-based, inclusive).
    #[arg(long, value_name = "REGIONS", default_value = ferrosea_prep::DEFAULT_TEST)]
    test: String,
    /// Validation split, as --test.
    #[arg(long, value_name = "REGIONS", default_value = ferrosea_prep::DEFAULT_VALID)]
    valid: String,
    /// Append the reverse complement of every sample, as a second block of each file.
    #[arg(long)]
    reverse_complement: bool,
    /// Largest fraction of unknown (non-ACGT) bases a window may hold.
    #[arg(long, value_name = "FRACTION", default_value_t = 0.01)]
    max_n: f64,
    /// Keep targets that have no usable peaks, as all-zero label columns.
    #[arg(long)]
    allow_empty_targets: bool,
    /// Rows per HDF5 chunk of x and y.
    #[arg(long, value_name = "ROWS", default_value_t = 256)]
    chunk_rows: usize,
    /// Deflate level of the HDF5 datasets (1 fast .. 9 small).
    #[arg(long, value_name = "LEVEL", default_value_t = 4)]
    compression_level: u32,
    /// More log output (-v: debug).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only warnings and errors.
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
}

/// The command line as recorded in outputs: the thread count left out, since it does not
/// change them.
fn recorded_command_line() -> String {
    let mut out = Vec::new();
    let mut args = std::env::args().peekable();
    while let Some(a) = args.next() {
        if a == "-j" || a == "--threads" {
            args.next();
        } else if !(a.starts_with("--threads=")
            || (a.starts_with("-j") && a[2..].parse::<usize>().is_ok()))
        {
            out.push(
                if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"$\\".contains(c)) {
                    format!("'{}'", a.replace('\'', r"'\''"))
                } else {
                    a
                },
            );
        }
    }
    out.join(" ")
}

fn options(a: Args) -> anyhow::Result<Options> {
    let regions =
        |flag: &str, v: &str| Region::parse_list(v).map_err(|e| anyhow::anyhow!("{flag}: {e}"));
    Ok(Options {
        test: regions("--test", &a.test)?,
        valid: regions("--valid", &a.valid)?,
        genome: a.genome,
        targets: a.targets,
        out: a.out,
        threads: a.threads,
        bin_size: a.bin_size,
        window: a.window,
        min_overlap: a.min_overlap,
        keep: a.keep,
        reverse_complement: a.reverse_complement,
        max_n: a.max_n,
        allow_empty_targets: a.allow_empty_targets,
        chunk_rows: a.chunk_rows,
        compression_level: a.compression_level,
        command_line: recorded_command_line(),
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let level = match (args.quiet, args.verbose) {
        (true, _) => tracing::Level::WARN,
        (false, 0) => tracing::Level::INFO,
        (false, _) => tracing::Level::DEBUG,
    };
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_max_level(level)
        .with_target(false)
        .without_time()
        .init();
    let result = options(args).and_then(|o| ferrosea_prep::run(&o).map_err(anyhow::Error::from));
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferrosea-prep: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
