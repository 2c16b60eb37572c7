//! Interoperability: h5py, with no plugin, opens prep's output and finds the documented
//! names, dtypes, shapes and attributes (tests/python/check_dataset.py).
//!
//! The Python comes from FERROSEA_PYTHON or the workspace's .venv, which `./dev.sh test` makes.

use std::process::Command;

#[test]
fn h5py_reads_the_documented_layout() {
    let root = ferrosea_testkit::root();
    let python = ferrosea_testkit::python("h5py");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let demo = root.join("data/demo");
    let o = Command::new(env!("CARGO_BIN_EXE_ferrosea-prep"))
        .arg("--genome")
        .arg(demo.join("hg19_chr22_26-30Mb.fa.gz"))
        .arg("--targets")
        .arg(demo.join("targets.tsv"))
        .arg("-o")
        .arg(&out)
        .args([
            "--valid",
            "chr22:26000001-26500000",
            "--test",
            "chr22:29000001-30000000",
            "--reverse-complement",
            "-q",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new(&python)
        .arg(root.join("tests/python/check_dataset.py"))
        .arg(&out)
        .args(["29", "1000"])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
