//! `ferrosea-prep`: reference genome + peak files -> labelled one-hot windows in HDF5.

use std::process::ExitCode;

use clap::Parser;
use ferrosea_prep::cli::{init_logging, run, Args};

fn main() -> ExitCode {
    let args = Args::parse();
    init_logging(&args);
    ferrosea_dataset::exit_code("ferrosea-prep", run(args))
}
