//! Helpers of every analyze test: the fixture (the demo data through prep and a briefly
//! trained DeepSEA-tiny checkpoint, built once per test binary), running `ferrosea-analyze`
//! and the Python checks, checks of a run's outcome, the demo genome's bases, and reading and
//! writing the files around a run.
#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{MutexGuard, OnceLock};

pub use ferrosea_testkit::{root, serial};

/// The demo genome (bgzip, with .fai and .gzi).
pub fn genome() -> PathBuf {
    root().join("data/demo/hg19_chr22_26-30Mb.fa.gz")
}

/// The Python with h5py and numpy that `./dev.sh test` makes.
pub fn python() -> PathBuf {
    ferrosea_testkit::python("h5py and numpy")
}

/// What a test that runs the binaries starts with: the fixture, the lock of [`serial`] (keep
/// it to the end of the test) and a fresh directory.
pub fn start() -> (&'static Fixture, MutexGuard<'static, ()>, tempfile::TempDir) {
    let f = fixture();
    (f, serial(), tempfile::tempdir().unwrap())
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

impl Fixture {
    /// `ferrosea-analyze <args> --checkpoint <the fixture's run> <inputs> -o <out>`: `args`
    /// are the subcommand and its flags, `inputs` flags that take a path.
    pub fn analyze(&self, args: &[&str], inputs: &[(&str, &Path)], out: &Path) -> Output {
        let mut all: Vec<OsString> = args.iter().map(OsString::from).collect();
        all.extend(["--checkpoint".into(), self.run.clone().into()]);
        for (flag, p) in inputs {
            all.extend([OsString::from(flag), p.into()]);
        }
        all.extend(["-o".into(), out.into()]);
        analyze(&all)
    }
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

/// Runs `ferrosea-analyze` with `args` as they are.
pub fn analyze<S: AsRef<OsStr>>(args: &[S]) -> Output {
    Command::new(bin("ferrosea-analyze"))
        .args(args)
        .output()
        .expect("ferrosea-analyze runs")
}

/// Asserts that a command succeeded, showing its stderr otherwise.
pub fn ok(what: &str, out: Output) -> Output {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Exit 2 with a message holding every one of `want`, and no panic.
pub fn fails(o: &Output, want: &[&str]) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "expected exit 2: {err}");
    assert!(!err.contains("panicked"), "a panic: {err}");
    for w in want {
        assert!(err.contains(w), "'{w}' missing from: {err}");
    }
}

/// Runs tests/python/`script` with `args`: it must succeed; its stdout is passed on.
pub fn python_script<S: AsRef<OsStr>>(script: &str, args: &[S]) {
    let out = Command::new(python())
        .arg(root().join("tests/python").join(script))
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{script} {}:\n{}{}",
        args.first()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .unwrap_or_default(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    print!("{}", String::from_utf8_lossy(&out.stdout));
}

/// The demo genome's only sequence and its length (full-length hg19 chr22).
pub const CHROM: &str = "chr22";
pub const CHROM_LEN: u64 = 51_304_566;

/// Bases of the demo genome's chr22 (upper case).
pub struct Bases(ferrosea_genome::Fetcher);

impl Bases {
    pub fn open() -> Bases {
        let g = ferrosea_genome::Genome::open(genome(), 1).unwrap();
        Bases(g.fetcher().unwrap())
    }

    /// The bases `[start, end)` (0-based).
    pub fn range(&mut self, start: u64, end: u64) -> Vec<u8> {
        let mut b = self.0.fetch(CHROM, start, end).unwrap();
        b.make_ascii_uppercase();
        b
    }

    /// `len` bases from the 1-based `pos`.
    pub fn get(&mut self, pos: u64, len: u64) -> String {
        String::from_utf8(self.range(pos - 1, pos - 1 + len)).unwrap()
    }
}

/// The bases `[start, end)` of the demo genome's chr22 (0-based, upper case).
pub fn bases(start: u64, end: u64) -> Vec<u8> {
    Bases::open().range(start, end)
}

pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Asserts that two output directories hold the same bytes in `files`.
pub fn same_bytes(a: &Path, b: &Path, files: &[String]) {
    for f in files {
        let (x, y) = (
            std::fs::read(a.join(f)).unwrap_or_else(|e| panic!("{}: {e}", a.join(f).display())),
            std::fs::read(b.join(f)).unwrap_or_else(|e| panic!("{}: {e}", b.join(f).display())),
        );
        assert!(
            x == y,
            "{f} differs between {} and {} ({} vs {} bytes)",
            a.display(),
            b.display(),
            x.len(),
            y.len()
        );
    }
}

pub fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

/// Writes `text` as plain gzip (one member, as Python's gzip module does).
pub fn write_gzip(path: &Path, text: &str) {
    let mut w = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::default(),
    );
    w.write_all(text.as_bytes()).unwrap();
    w.finish().unwrap();
}

/// Writes `text` as bgzip (BGZF blocks and the EOF block), as `bgzip` does.
pub fn write_bgzip(path: &Path, text: &str) {
    let mut w = noodles_bgzf::io::Writer::new(std::fs::File::create(path).unwrap());
    w.write_all(text.as_bytes()).unwrap();
    w.finish().unwrap();
}

/// The text of a gzip or bgzip file.
pub fn read_gzip(path: &Path) -> String {
    let mut s = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap()),
        &mut s,
    )
    .unwrap();
    s
}
