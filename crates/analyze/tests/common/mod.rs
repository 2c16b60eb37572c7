//! The fixture of the analyze tests: the demo data through prep and a briefly trained
//! DeepSEA-tiny checkpoint, built once per test binary; and the Python oracle's interpreter.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

/// Tests of one binary run on threads of one process. libhdf5 opens files without
/// close-on-exec, so a child spawned while another test writes an HDF5 file would inherit its
/// write lock: every test that writes HDF5 files or spawns processes holds this.
static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The demo genome (bgzip, with .fai and .gzi).
pub fn genome() -> PathBuf {
    root().join("data/demo/hg19_chr22_26-30Mb.fa.gz")
}

/// The Python with h5py and numpy that `./dev.sh test` makes.
pub fn python() -> PathBuf {
    let python = std::env::var_os("FERROSEA_PYTHON")
        .map(Into::into)
        .unwrap_or_else(|| root().join(".venv/bin/python"));
    assert!(
        python.exists(),
        "no Python with h5py at {}: run the tests with ./dev.sh test, which makes .venv",
        python.display()
    );
    python
}

/// A binary of the workspace, built by cargo for the tests.
pub fn bin(name: &str) -> PathBuf {
    let analyze = PathBuf::from(env!("CARGO_BIN_EXE_ferrosea-analyze"));
    analyze.with_file_name(name)
}

pub struct Fixture {
    pub dir: PathBuf,
    pub prep: PathBuf,
    pub run: PathBuf,
}

/// prep on the demo data, then 20 steps of deepsea-tiny (1000 bp windows, 29 targets).
pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let _guard = serial();
        let dir = tempfile::tempdir().unwrap().keep();
        let demo = root().join("data/demo");
        let prep = dir.join("prep");
        ferrosea_prep::run(&ferrosea_prep::Options {
            genome: genome(),
            targets: demo.join("targets.tsv"),
            out: prep.clone(),
            threads: 2,
            valid: ferrosea_genome::Region::parse_list("chr22:26000001-26500000").unwrap(),
            test: ferrosea_genome::Region::parse_list("chr22:29000001-30000000").unwrap(),
            ..Default::default()
        })
        .unwrap();
        let run = dir.join("run");
        let mut cfg = ferrosea_train::TrainConfig::preset("deepsea-tiny").unwrap();
        cfg.epochs = 1;
        ferrosea_train::run(&ferrosea_train::Options {
            steps_per_epoch: Some(20),
            ..ferrosea_train::Options::new(prep.join("train.h5"), prep.join("valid.h5"), &run, cfg)
        })
        .unwrap();
        Fixture { dir, prep, run }
    })
}
