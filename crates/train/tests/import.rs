//! `ferrosea-train import`: each published format, at tiny widths with the original layer
//! structure and key names (fixtures made by `tests/python/make_import_fixtures.py` with
//! PyTorch, h5py and a NumPy transcription of Keras 0.2), gives the framework's outputs on
//! real sequences to 1e-5; bad files are named with what does not fit; `export --to pytorch`
//! then `import --from pytorch` gives the same bits.

use std::path::{Path, PathBuf};

use ferrosea_train::convert::{
    export, import, ExportFormat, ExportOptions, ImportFormat, ImportOptions,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import")
}

fn expected() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected.json")).unwrap())
        .unwrap()
}

fn format(name: &str) -> ImportFormat {
    match name {
        "kipoi-deepsea" => ImportFormat::KipoiDeepsea,
        "beluga" => ImportFormat::Beluga,
        "selene-deepsea" => ImportFormat::SeleneDeepsea,
        "selene-danq" => ImportFormat::SeleneDanq,
        "keras-danq" => ImportFormat::KerasDanq,
        other => panic!("{other}"),
    }
}

/// Probabilities `[n, T]` of the checkpoint on the sequences (A, C, G, T one-hot).
fn probabilities(json: &Path, seqs: &[String]) -> Vec<Vec<f32>> {
    let dev = candle_core::Device::Cpu;
    let (net, meta) = ferrosea_runtime::checkpoint::load_network(json, &dev).unwrap();
    let l = meta.window;
    let mut x = vec![0f32; seqs.len() * 4 * l];
    for (i, s) in seqs.iter().enumerate() {
        ferrosea_genome::onehot::encode_channels(s.as_bytes(), &mut x[i * 4 * l..(i + 1) * 4 * l]);
    }
    let logits = ferrosea_runtime::eval_logits(&net, &dev, x, l, seqs.len()).unwrap();
    candle_nn::ops::sigmoid(&logits)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap()
}

fn options(
    from: ImportFormat,
    file: &Path,
    out: &Path,
    window: usize,
    targets: &Path,
) -> ImportOptions {
    ImportOptions {
        from,
        weights: file.to_path_buf(),
        out: out.to_path_buf(),
        targets: Some(targets.to_path_buf()),
        window: Some(window),
        command_line: "test".into(),
    }
}

#[test]
fn every_format_gives_the_frameworks_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let all = expected();
    for (file, case) in all.as_object().unwrap() {
        let n = case["targets"].as_u64().unwrap() as usize;
        let names = dir.path().join(format!("{file}.targets"));
        std::fs::write(
            &names,
            (0..n).map(|i| format!("t{i}\n")).collect::<String>(),
        )
        .unwrap();
        let out = dir.path().join(file);
        let window = case["window"].as_u64().unwrap() as usize;
        let r = import(&options(
            format(case["from"].as_str().unwrap()),
            &fixtures().join(file),
            &out,
            window,
            &names,
        ))
        .unwrap();
        let seqs: Vec<String> = serde_json::from_value(case["sequences"].clone()).unwrap();
        let want: Vec<Vec<f64>> = serde_json::from_value(case["outputs"].clone()).unwrap();
        let got = probabilities(&r.checkpoint, &seqs);
        let worst = got
            .iter()
            .flatten()
            .zip(want.iter().flatten())
            .map(|(a, b)| (*a as f64 - b).abs())
            .fold(0f64, f64::max);
        eprintln!("{file}: largest difference {worst:.2e}");
        assert!(worst < 1e-5, "{file}: {worst}");
        let record = std::fs::read_to_string(out.join("import.json")).unwrap();
        assert!(record.contains(case["from"].as_str().unwrap()), "{record}");
    }
}

#[test]
fn files_of_another_architecture_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixtures();
    let names = dir.path().join("t6");
    std::fs::write(&names, "a\nb\nc\nd\ne\nf\n").unwrap();
    let err = |from, file: &Path, window, targets: &Path| {
        import(&options(
            from,
            file,
            &dir.path().join("out"),
            window,
            targets,
        ))
        .err()
        .unwrap()
        .to_string()
    };
    // Selene's DanQ read as Kipoi's DeepSEA: the first key that is not there.
    let e = err(
        ImportFormat::KipoiDeepsea,
        &f.join("selene_danq.pth.tar"),
        200,
        &names,
    );
    assert!(
        e.contains("no tensor 0.weight") && e.contains("Kipoi's DeepSEA"),
        "{e}"
    );
    // The wrong window: what fits is said.
    let e = err(
        ImportFormat::SeleneDeepsea,
        &f.join("selene_deepsea.pth.tar"),
        1000,
        &names,
    );
    assert!(
        e.contains("a window of 1000 bp leaves") && e.contains("give --window"),
        "{e}"
    );
    // A target file of the wrong length.
    let five = dir.path().join("t5");
    std::fs::write(&five, "a\nb\nc\nd\ne\n").unwrap();
    let e = err(
        ImportFormat::SeleneDeepsea,
        &f.join("selene_deepsea.pth.tar"),
        200,
        &five,
    );
    assert!(
        e.contains("5 target names, but the model has 6 outputs"),
        "{e}"
    );
    // Not a PyTorch file; a truncated one.
    let e = err(
        ImportFormat::KipoiDeepsea,
        &f.join("expected.json"),
        200,
        &names,
    );
    assert!(e.contains("neither a zip archive"), "{e}");
    let bytes = std::fs::read(f.join("kipoi_deepsea_legacy.pth")).unwrap();
    let cut = dir.path().join("cut.pth");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    let e = err(ImportFormat::KipoiDeepsea, &cut, 200, &names);
    assert!(e.contains("truncated"), "{e}");
    // A Keras file with another number of layers.
    let keras = dir.path().join("k.hdf5");
    std::fs::copy(f.join("danq_keras.hdf5"), &keras).unwrap();
    {
        let h = hdf5::File::open_rw(&keras).unwrap();
        h.attr("nb_layers").unwrap().write_scalar(&8i64).unwrap();
    }
    let e = err(ImportFormat::KerasDanq, &keras, 200, &names);
    assert!(e.contains("8 layers, but DanQ's Keras model has 10"), "{e}");
    assert!(!dir.path().join("out/best.json").exists());
}

/// Export to PyTorch, then import that: the same tensors, bit for bit, and the same outputs.
#[test]
fn export_then_import_gives_the_same_bits() {
    let dir = tempfile::tempdir().unwrap();
    let case = &expected()["selene_danq.pth.tar"];
    let names = dir.path().join("t6");
    std::fs::write(&names, "a\nb\nc\nd\ne\nf\n").unwrap();
    let first = import(&options(
        ImportFormat::SeleneDanq,
        &fixtures().join("selene_danq.pth.tar"),
        &dir.path().join("a"),
        200,
        &names,
    ))
    .unwrap();
    let exported = dir.path().join("export");
    export(&ExportOptions {
        checkpoint: first.checkpoint.clone(),
        to: ExportFormat::Pytorch,
        out: exported.clone(),
    })
    .unwrap();
    let second = import(&ImportOptions {
        targets: None,
        window: None,
        ..options(
            ImportFormat::Pytorch,
            &exported,
            &dir.path().join("b"),
            200,
            &names,
        )
    })
    .unwrap();
    let tensors = |json: &Path| {
        let meta = ferrosea_runtime::checkpoint::read_model(json).unwrap();
        ferrosea_runtime::checkpoint::load_tensors(
            json,
            &meta.weights_file,
            &candle_core::Device::Cpu,
        )
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k, v.flatten_all().unwrap().to_vec1::<f32>().unwrap()))
        .collect::<Vec<_>>()
    };
    assert_eq!(tensors(&first.checkpoint), tensors(&second.checkpoint));
    let seqs: Vec<String> = serde_json::from_value(case["sequences"].clone()).unwrap();
    assert_eq!(
        probabilities(&first.checkpoint, &seqs),
        probabilities(&second.checkpoint, &seqs)
    );
    let m = ferrosea_runtime::checkpoint::read_model(&second.checkpoint).unwrap();
    assert_eq!(m.targets, vec!["a", "b", "c", "d", "e", "f"]);
}

/// The published sizes (DeepSEA 1000 bp x 919, Beluga 2000 bp x 2002, DanQ): the fixture
/// script with `--full`, then every import against the framework's outputs. Needs torch and
/// h5py in `benches/.venv-torch` and about 2 GB of disk; `cargo test -p ferrosea-train --test
/// import -- --ignored`.
#[test]
#[ignore = "needs torch and h5py in benches/.venv-torch, and the full-size weights take minutes"]
fn published_sizes_import() {
    let root = ferrosea_testkit::root();
    let python = ferrosea_testkit::torch_python("torch h5py numpy");
    let dir = tempfile::tempdir().unwrap();
    let made = dir.path().join("full");
    let status = std::process::Command::new(&python)
        .arg(root.join("crates/train/tests/python/make_import_fixtures.py"))
        .arg(&made)
        .arg("--full")
        .status()
        .unwrap();
    assert!(status.success());
    let all: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(made.join("expected.json")).unwrap())
            .unwrap();
    for (file, case) in all.as_object().unwrap() {
        let n = case["targets"].as_u64().unwrap() as usize;
        let from = format(case["from"].as_str().unwrap());
        // DeepSEA's 919 names by default; Beluga's 2002 are given.
        let names = dir.path().join(format!("{file}.targets"));
        std::fs::write(
            &names,
            (0..n).map(|i| format!("t{i}\n")).collect::<String>(),
        )
        .unwrap();
        let r = import(&ImportOptions {
            from,
            weights: made.join(file),
            out: dir.path().join(file),
            targets: (n != 919).then(|| names.clone()),
            window: None,
            command_line: "test".into(),
        })
        .unwrap();
        assert_eq!(r.targets, n);
        let seqs: Vec<String> = serde_json::from_value(case["sequences"].clone()).unwrap();
        let want: Vec<Vec<f64>> = serde_json::from_value(case["outputs"].clone()).unwrap();
        let got = probabilities(&r.checkpoint, &seqs);
        let worst = got
            .iter()
            .flatten()
            .zip(want.iter().flatten())
            .map(|(a, b)| (*a as f64 - b).abs())
            .fold(0f64, f64::max);
        eprintln!(
            "{file} ({} parameters): largest difference {worst:.2e}",
            r.parameters
        );
        assert!(worst < 1e-5, "{file}: {worst}");
    }
}
