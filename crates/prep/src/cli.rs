//! The command line of `ferrosea-prep`: the flags of a labelling run and the subcommands
//! (`simulate`, `simulate-examples`, `import-deepsea`), run by [`run`] (the binary parses,
//! sets up logging with [`init_logging`] and calls it).

use std::path::PathBuf;

use crate::{Keep, Options, PrepError};
use clap::Parser;
use ferrosea_genome::Region;

/// Turn a reference genome and peak calls into DeepSEA-style training data.
///
/// Writes OUT/train.h5, OUT/valid.h5, OUT/test.h5 (format: docs/FORMAT.md) and OUT/prep.json
/// (options, input checksums, counts). The defaults reproduce DeepSEA (Zhou & Troyanskaya
/// 2015); add --reverse-complement for its reverse-complement blocks.
///
/// `ferrosea-prep import-deepsea` converts DeepSEA's own training bundle instead.
#[derive(Parser, Debug)]
#[command(
    name = "ferrosea-prep",
    version,
    about,
    long_about,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Reference FASTA: plain, or bgzip with its .fai (built when missing), or plain gzip.
    #[arg(long, value_name = "FASTA", required = true)]
    genome: Option<PathBuf>,
    /// Targets manifest: TSV with name, category, path [, cell, treatment].
    #[arg(long, value_name = "TSV", required = true)]
    targets: Option<PathBuf>,
    /// Output directory.
    #[arg(short = 'o', long = "out", value_name = "DIR", required = true)]
    out: Option<PathBuf>,
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
    #[arg(long, value_name = "REGIONS", default_value = crate::DEFAULT_TEST)]
    test: String,
    /// Validation split, as --test.
    #[arg(long, value_name = "REGIONS", default_value = crate::DEFAULT_VALID)]
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
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Simulate a genome with motifs planted at known places and peak files around them (a
    /// known answer for the whole pipeline): OUT/genome.fa, peaks/, truth/, targets.tsv and a
    /// workflow configuration OUT/config.yaml.
    Simulate(crate::simulate::SimulateOptions),
    /// Write the datasets and recipes of the course's prototype examples (docs/EXAMPLES.md):
    /// OUT/motif-detection, OUT/next-character and OUT/motif-classes, each with train.h5,
    /// valid.h5, test.h5 and recipes for ferrosea-train --config.
    SimulateExamples {
        /// Output directory.
        #[arg(short = 'o', long = "out", value_name = "DIR")]
        out: PathBuf,
        /// Motif database holding the ten JASPAR 2024 motifs of motif-classes [default: the
        /// embedded JASPAR 2024].
        #[arg(long, value_name = "FILE")]
        motifs: Option<PathBuf>,
        /// Seed of every random choice.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Convert DeepSEA's training bundle (deepsea_train: train.mat, valid.mat, test.mat) into
    /// ferrosea dataset files OUT/{train,valid,test}.h5, plus OUT/import.json.
    ///
    /// Channels A, G, C, T become A, C, G, T; each file's second half is recorded as the
    /// reverse complement of its first; coordinates are unknown (docs/FORMAT.md).
    ImportDeepsea {
        /// The files and the output settings.
        #[command(flatten)]
        import: crate::ImportOptions,
        /// Threads for transposing and compressing (0: all cores); the output does not
        /// depend on it.
        #[arg(short = 'j', long = "threads", value_name = "N", default_value_t = 0)]
        threads: usize,
        /// Less log on stderr.
        #[arg(short = 'q', long = "quiet")]
        quiet: bool,
    },
}

fn options(a: Args) -> Result<Options, PrepError> {
    let regions = |flag: &str, v: &str| {
        Region::parse_list(v).map_err(|e| PrepError::Usage(format!("{flag}: {e}")))
    };
    Ok(Options {
        test: regions("--test", &a.test)?,
        valid: regions("--valid", &a.valid)?,
        genome: a.genome.expect("required by clap"),
        targets: a.targets.expect("required by clap"),
        out: a.out.expect("required by clap"),
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
        command_line: ferrosea_dataset::command_line(),
    })
}

fn subcommand(c: Command) -> Result<(), PrepError> {
    if let Command::SimulateExamples { out, motifs, seed } = c {
        let files = crate::examples::simulate_examples(&crate::examples::ExamplesOptions {
            out: out.clone(),
            motifs,
            seed,
            command_line: ferrosea_dataset::command_line(),
        })?;
        tracing::info!(
            "{}: {} files written (motif-detection, next-character, motif-classes); \
             docs/EXAMPLES.md shows how to train them",
            out.display(),
            files.len()
        );
        return Ok(());
    }
    if let Command::Simulate(o) = c {
        let planted = crate::simulate::simulate(&o)?;
        let (out, chromosomes, length) = (&o.out, o.chromosomes, o.length);
        tracing::info!(
            "{}: {} motifs planted in {chromosomes} x {length} bp; run the workflow with \
             --configfile {}/config.yaml -- all truth",
            out.display(),
            planted.len(),
            out.display()
        );
        return Ok(());
    }
    let Command::ImportDeepsea {
        mut import,
        threads,
        ..
    } = c
    else {
        unreachable!("simulate and simulate-examples are handled above")
    };
    if threads > 0 {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .map_err(|e| PrepError::Invalid(format!("cannot start {threads} threads: {e}")))?;
    }
    import.command_line = ferrosea_dataset::command_line();
    crate::import_deepsea(&import)?;
    Ok(())
}

/// Logs to stderr: warnings only with `-q` (of the run or of `import-deepsea`), debug with
/// `-v`.
pub fn init_logging(args: &Args) {
    let quiet = match &args.command {
        Some(Command::ImportDeepsea { quiet, .. }) => *quiet,
        _ => args.quiet,
    };
    let level = match (quiet, args.verbose) {
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
}

/// Runs the subcommand given, or the labelling run of the flags.
pub fn run(mut args: Args) -> Result<(), PrepError> {
    match args.command.take() {
        Some(c) => subcommand(c),
        None => crate::run(&options(args)?).map(|_| ()),
    }
}
