//! The course's first two prototype examples end to end (docs/EXAMPLES.md): the datasets
//! `ferrosea-prep simulate-examples` writes over the alphabet {0, 1}, the Conv1D recipe
//! trained on them, its test accuracy, and its filter read back as the motif `111`.

use std::path::Path;

use ferrosea_interpret::{filters, Background, FiltersOptions};
use ferrosea_runtime::checkpoint;

fn examples(dir: &Path) {
    ferrosea_prep::examples::simulate_examples(&ferrosea_prep::examples::ExamplesOptions {
        out: dir.to_path_buf(),
        motifs: None,
        seed: 1,
        command_line: "test".into(),
    })
    .unwrap();
}

/// The method's defaults, on the CPU, without logos.
fn filter_options(checkpoint: &Path, data: &Path, out: &Path) -> FiltersOptions {
    FiltersOptions {
        checkpoint: checkpoint.to_path_buf(),
        data: data.to_path_buf(),
        out: out.to_path_buf(),
        threshold: 0.5,
        only_positive: false,
        window: None,
        min_sites: 1,
        device: ferrosea_runtime::DeviceSpec::Cpu,
        batch_size: 64,
        max_samples: None,
        background: Background::Uniform,
        influence: None,
        logos: false,
        command_line: String::new(),
    }
}

/// Fraction of rows whose probability is on the side of 0.5 their 0/1 label is.
fn accuracy(json: &Path, data: &Path) -> f64 {
    let dev = candle_core::Device::Cpu;
    let (net, meta) = checkpoint::load_network(json, &dev).unwrap();
    let (p, y, _) = ferrosea_runtime::predict(&net, &dev, data, 64, 1, meta.loss).unwrap();
    let right = p
        .iter()
        .zip(&y)
        .filter(|(p, y)| (**p > 0.5) == (**y > 0.5))
        .count();
    right as f64 / y.len() as f64
}

#[test]
fn the_conv1d_detects_111_and_its_filter_is_111() {
    let dir = tempfile::tempdir().unwrap();
    examples(dir.path());
    let d = dir.path().join("motif-detection");
    let reader = ferrosea_dataset::Reader::open(d.join("train.h5")).unwrap();
    assert_eq!((reader.len(), reader.window()), (1000, 10));
    assert_eq!(reader.alphabet().symbols(), "01");
    assert_eq!(reader.alphabet().channels(), 1);

    let mut cfg = ferrosea_train::TrainConfig::from_file(&d.join("conv.json")).unwrap();
    cfg.epochs = 60;
    let run = dir.path().join("conv");
    ferrosea_train::run(&ferrosea_train::Options {
        eval_batch: 64,
        ..ferrosea_train::Options::new(d.join("train.h5"), d.join("valid.h5"), &run, cfg)
    })
    .unwrap();
    let json = run.join("best.json");
    let acc = accuracy(&json, &d.join("test.h5"));
    eprintln!("conv test accuracy {acc}");
    assert!(acc >= 0.9, "test accuracy {acc}");

    // Example 2: the argmax windows of width 7 over the positive test sequences.
    let out = dir.path().join("filters");
    let r = filters(&FiltersOptions {
        only_positive: true,
        window: Some(7),
        ..filter_options(&json, &d.join("test.h5"), &out)
    })
    .unwrap();
    let consensus: Vec<&str> = r.filters.iter().map(|f| f.consensus.as_str()).collect();
    eprintln!("{:?}", r.filters);
    assert!(
        consensus.iter().any(|c| c.contains("111")),
        "no filter reads 111: {consensus:?}"
    );
    let meme = std::fs::read_to_string(out.join("filters.meme")).unwrap();
    assert!(
        meme.contains("ALPHABET \"ferrosea\"\n0\n1\nEND ALPHABET"),
        "{meme}"
    );
    let counts = std::fs::read_to_string(out.join("counts.tsv")).unwrap();
    assert!(counts.starts_with("filter\tposition\t0\t1\n"), "{counts}");
}

#[test]
fn non_dna_data_is_refused_where_dna_is_needed() {
    let dir = tempfile::tempdir().unwrap();
    examples(dir.path());
    let d = dir.path().join("motif-detection");
    let mut cfg = ferrosea_train::TrainConfig::from_file(&d.join("conv.json")).unwrap();
    cfg.epochs = 1;
    cfg.reverse_complement = true;
    let e = ferrosea_train::run(&ferrosea_train::Options {
        eval_batch: 64,
        ..ferrosea_train::Options::new(
            d.join("train.h5"),
            d.join("valid.h5"),
            dir.path().join("rc"),
            cfg,
        )
    })
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("reverse complements need one-hot A, C, G, T"),
        "{e}"
    );

    // A DNA model on {0, 1} sequences.
    let mut cfg = ferrosea_train::TrainConfig::preset("deepbind-tiny").unwrap();
    cfg.epochs = 1;
    let run = dir.path().join("dna");
    let c = dir.path().join("motif-classes");
    ferrosea_train::run(&ferrosea_train::Options {
        steps_per_epoch: Some(1),
        eval_batch: 64,
        ..ferrosea_train::Options::new(c.join("valid.h5"), c.join("valid.h5"), &run, cfg)
    })
    .unwrap();
    let e = filters(&filter_options(
        &run.join("best.json"),
        &d.join("test.h5"),
        &dir.path().join("f"),
    ))
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("holds sequences over 01 (index)"), "{e}");
}
