//! `ferrosea-prep import-deepsea` on small files with exactly the layouts of DeepSEA's bundle
//! (made by tests/python/make_deepsea_mat.py with h5py and scipy): every value is checked,
//! and bad files get clear errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ferrosea_dataset::Reader;

use ferrosea_testkit::{root, serial};

fn python() -> PathBuf {
    ferrosea_testkit::python("h5py and scipy")
}

fn run_python(args: &[&str]) {
    let o = Command::new(python()).args(args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn import(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ferrosea-prep"));
    c.arg("import-deepsea");
    for a in args {
        c.arg(a);
    }
    c.arg("-q").output().unwrap()
}

/// The bundle's three files (forward rows 37, window 1000, DeepSEA's 919 targets).
fn bundle(dir: &Path) -> PathBuf {
    let d = dir.join("bundle");
    std::fs::create_dir_all(&d).unwrap();
    let script = root().join("tests/python/make_deepsea_mat.py");
    run_python(&[
        script.to_str().unwrap(),
        d.to_str().unwrap(),
        "37",
        "1000",
        "919",
        "7",
    ]);
    d
}

fn expected(path: &Path, name: &str) -> Vec<u8> {
    let f = hdf5::File::open(path).unwrap();
    f.dataset(name).unwrap().read_raw::<u8>().unwrap()
}

#[test]
fn the_bundle_imports_value_for_value() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let b = bundle(dir.path());
    let out = dir.path().join("out");
    let (train, valid, test) = (b.join("train.mat"), b.join("valid.mat"), b.join("test.mat"));
    let o = import(&[
        &"--train",
        &train,
        &"--valid",
        &valid,
        &"--test",
        &test,
        &"-o",
        &out,
        // Blocks and chunks smaller than the file, so that both are exercised.
        &"--block-rows",
        &"16",
        &"--chunk-rows",
        &"8",
        &"-j",
        &"2",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let names: Vec<&str> = ferrosea_prep::import::DEEPSEA_NAMES.lines().collect();
    for split in ["train", "valid", "test"] {
        let r = Reader::open(out.join(format!("{split}.h5"))).unwrap();
        assert_eq!((r.len(), r.window()), (74, 1000), "{split}");
        let e = b.join("expected.h5");
        assert_eq!(
            r.read_x(0..74).unwrap(),
            expected(&e, &format!("{split}/x")),
            "{split} x"
        );
        assert_eq!(
            r.read_y(0..74).unwrap(),
            expected(&e, &format!("{split}/y")),
            "{split} y"
        );
        assert_eq!(r.targets().name, names);
        let count = |c: &str| r.targets().category.iter().filter(|x| *x == c).count();
        assert_eq!(
            (count("DNase"), count("TF"), count("Histone")),
            (125, 690, 104)
        );
        assert_eq!(r.attr_str("split").unwrap(), split);
        assert_eq!(r.attr_int("forward_rows").unwrap(), 37);
        assert_eq!(r.attr_int("reverse_complement").unwrap(), 1);
        assert_eq!(r.attr_str("coordinates").unwrap(), "unknown");
        let coords = r.read_coords(0..74).unwrap();
        assert!(coords.iter().all(|(c, s, _)| c == "unknown" && *s == -1));
        let strands: String = coords.iter().map(|c| c.2 as char).collect();
        assert_eq!(strands, "+".repeat(37) + &"-".repeat(37));
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("import.json")).unwrap()).unwrap();
    let versions: Vec<&str> = report["splits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["source_version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["7.3", "5", "5"]);
    assert!(report["splits"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["reverse_complement_verified"] == true));
    // No scratch file of the compressed test.mat is left.
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

fn fails_with(o: &Output, what: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(what), "expected '{what}' in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_files_get_clear_errors() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let b = bundle(d);
    let out = d.join("out");
    let valid = b.join("valid.mat");

    let text = d.join("text.mat");
    std::fs::write(&text, "not a mat file at all").unwrap();
    fails_with(
        &import(&[&"--valid", &text, &"-o", &out]),
        "not a MATLAB MAT-file",
    );

    // A level-5 header with another version number.
    let mut bytes = std::fs::read(&valid).unwrap();
    bytes[124] = 0x00;
    bytes[125] = 0x02;
    let v = d.join("version.mat");
    std::fs::write(&v, &bytes).unwrap();
    fails_with(
        &import(&[&"--valid", &v, &"-o", &out]),
        "unsupported version",
    );

    // Cut short.
    let bytes = std::fs::read(b.join("test.mat")).unwrap();
    let cut = d.join("cut.mat");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    fails_with(&import(&[&"--test", &cut, &"-o", &out]), "truncated");

    // The names file must have one name per label column.
    let names = d.join("names.txt");
    std::fs::write(&names, "a\nb\nc\n").unwrap();
    fails_with(
        &import(&[&"--valid", &valid, &"--names", &names, &"-o", &out]),
        "919 label columns but there are 3 target names",
    );

    // Wrong shapes, a missing variable, a value other than 0 and 1.
    let mk = |file: &str, code: &str| {
        let p = d.join(file);
        run_python(&[
            "-c",
            &format!(
                "import numpy as np, scipy.io; z = np.zeros; scipy.io.savemat({:?}, {code})",
                p.to_str().unwrap()
            ),
        ]);
        p
    };
    let shape = mk(
        "shape.mat",
        "{'validxdata': z((4, 5, 10), np.uint8), 'validdata': z((4, 919), np.uint8)}",
    );
    fails_with(
        &import(&[&"--valid", &shape, &"-o", &out]),
        "expected [samples, 4, window]",
    );
    let missing = mk("missing.mat", "{'validxdata': z((4, 4, 10), np.uint8)}");
    fails_with(
        &import(&[&"--valid", &missing, &"-o", &out]),
        "no variable validdata",
    );
    let odd = mk(
        "odd.mat",
        "{'validxdata': z((3, 4, 10), np.uint8), 'validdata': z((3, 919), np.uint8)}",
    );
    fails_with(
        &import(&[&"--valid", &odd, &"-o", &out]),
        "expected an even number",
    );
    let two = mk(
        "two.mat",
        "{'validxdata': z((4, 4, 10), np.uint8), 'validdata': np.full((4, 919), 2.0)}",
    );
    fails_with(
        &import(&[&"--valid", &two, &"-o", &out]),
        "value 2 at sample 0",
    );
    fails_with(&import(&[&"-o", &out]), "nothing to import");

    // Nothing that looks finished was left by the failures.
    let left: Vec<_> = std::fs::read_dir(&out)
        .map(|r| r.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_failed_import_leaves_nothing_that_looks_finished() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let b = bundle(d);
    let (valid, test) = (b.join("valid.mat"), b.join("test.mat"));
    let bytes = std::fs::read(&test).unwrap();
    let cut = d.join("cut.mat");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();

    // Into an empty directory: valid converts, test fails; valid.h5 must not be left.
    let out = d.join("fresh");
    fails_with(
        &import(&[&"--valid", &valid, &"--test", &cut, &"-o", &out]),
        "truncated",
    );
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // Over an older, complete import: its import.json goes before anything is replaced.
    let older = d.join("older");
    let o = import(&[&"--valid", &valid, &"-o", &older]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(older.join("import.json").exists());
    let old_valid = std::fs::read(older.join("valid.h5")).unwrap();
    fails_with(
        &import(&[&"--valid", &valid, &"--test", &cut, &"-o", &older]),
        "truncated",
    );
    assert!(
        !older.join("import.json").exists(),
        "the old import.json survived a failed import"
    );
    assert_eq!(std::fs::read(older.join("valid.h5")).unwrap(), old_valid);
    assert!(!older.join("test.h5").exists());

    // An output that is an input (here through a symbolic link) is refused before any work.
    let linked = d.join("linked");
    std::fs::create_dir_all(&linked).unwrap();
    let input = linked.join("valid.h5");
    std::os::unix::fs::symlink(&valid, &input).unwrap();
    fails_with(
        &import(&[&"--valid", &input, &"-o", &linked]),
        "is the input --valid",
    );
    assert_eq!(
        std::fs::read(&valid).unwrap()[..128],
        std::fs::read(&input).unwrap()[..128]
    );
}
