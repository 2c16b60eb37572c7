//! `filters` recovers a known PWM: a network whose first filter is set to the PWM's log-odds
//! is run over sequences where the motif is planted, and the filter's motif is the PWM.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use ferrosea_dataset::{Block, Header, Targets, Writer, WriterOptions};
use ferrosea_interpret::{filters, Background, FiltersOptions};

const WINDOW: usize = 200;
/// The planted motif (A, C, G, T per position): TGACTCAG with some degeneracy.
const PWM: [[f64; 4]; 8] = [
    [0.05, 0.05, 0.05, 0.85],
    [0.05, 0.05, 0.85, 0.05],
    [0.85, 0.05, 0.05, 0.05],
    [0.05, 0.85, 0.05, 0.05],
    [0.05, 0.05, 0.05, 0.85],
    [0.05, 0.6, 0.3, 0.05],
    [0.85, 0.05, 0.05, 0.05],
    [0.05, 0.05, 0.85, 0.05],
];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn pick(&mut self, p: &[f64; 4]) -> usize {
        let u = self.next();
        let mut acc = 0.0;
        for (k, &v) in p.iter().enumerate() {
            acc += v;
            if u < acc {
                return k;
            }
        }
        3
    }
}

/// `rows` random windows; every other one holds an instance of the PWM at a random place.
fn dataset(path: &Path, rows: usize) -> PathBuf {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut x = vec![0u8; rows * WINDOW * 4];
    for r in 0..rows {
        let mut bases: Vec<usize> = (0..WINDOW).map(|_| rng.pick(&[0.25; 4])).collect();
        if r % 2 == 0 {
            let at = 20 + (rng.next() * (WINDOW - 40) as f64) as usize;
            for (p, col) in PWM.iter().enumerate() {
                bases[at + p] = rng.pick(col);
            }
        }
        for (p, &b) in bases.iter().enumerate() {
            x[(r * WINDOW + p) * 4 + b] = 1;
        }
    }
    let names = ["planted", "other"];
    let y: Vec<u8> = (0..rows).flat_map(|r| [(r % 2 == 0) as u8, 0]).collect();
    let header = Header {
        window: WINDOW,
        targets: Targets {
            name: names.iter().map(|s| s.to_string()).collect(),
            category: vec!["TF".into(); 2],
            ..Default::default()
        },
        chrom_names: vec!["chr1".into()],
        attrs: vec![],
        ..Default::default()
    };
    let mut w = Writer::create(path, &header, rows, WriterOptions::default()).unwrap();
    w.write_rows(
        0,
        &Block {
            x,
            y,
            chrom: vec![0; rows],
            start: (0..rows as i64).map(|r| r * 1000).collect(),
            strand: vec![b'+'; rows],
        },
    )
    .unwrap();
    w.finish().unwrap()
}

/// A one-step danq-tiny checkpoint whose filter 0 is the PWM's log-odds at kernel columns
/// 9..17 (zero elsewhere).
fn checkpoint(dir: &Path, data: &Path) -> PathBuf {
    let run = dir.join("run");
    let mut cfg = ferrosea_train::TrainConfig::preset("danq-tiny").unwrap();
    cfg.epochs = 1;
    ferrosea_train::run(&ferrosea_train::Options {
        steps_per_epoch: Some(1),
        eval_batch: 64,
        ..ferrosea_train::Options::new(data, data, &run, cfg)
    })
    .unwrap();
    let json = run.join("best.json");
    let meta = ferrosea_train::checkpoint::read_meta(&json).unwrap();
    let mut t: BTreeMap<String, Tensor> =
        ferrosea_train::checkpoint::load_tensors(&json, &meta.weights_file, &Device::Cpu).unwrap();
    let w = &t["conv1.weight"];
    let (f, c, k) = w.dims3().unwrap();
    let mut wv = w.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    wv[..c * k].iter_mut().for_each(|v| *v = 0.0);
    for (p, col) in PWM.iter().enumerate() {
        for (ch, &prob) in col.iter().enumerate() {
            wv[ch * k + 9 + p] = (prob / 0.25).log2() as f32;
        }
    }
    t.insert(
        "conv1.weight".into(),
        Tensor::from_vec(wv, (f, c, k), &Device::Cpu).unwrap(),
    );
    let map: std::collections::HashMap<String, Tensor> = t.into_iter().collect();
    candle_core::safetensors::save(&map, run.join(&meta.weights_file)).unwrap();
    json
}

#[test]
fn a_planted_pwm_is_recovered_by_its_filter() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(&dir.path().join("d.h5"), 400);
    let ckpt = checkpoint(dir.path(), &data);
    let out = dir.path().join("motifs");
    let r = filters(&FiltersOptions {
        checkpoint: ckpt,
        data: data.clone(),
        out: out.clone(),
        threshold: 0.5,
        only_positive: false,
        window: None,
        min_sites: 10,
        device: ferrosea_runtime::DeviceSpec::Cpu,
        batch_size: 64,
        max_samples: None,
        background: Background::Uniform,
        influence: Some(64),
        logos: true,
        command_line: String::new(),
    })
    .unwrap();
    let f0 = &r.filters[0];
    // About the 200 planted sequences, few others.
    assert!((150..=260).contains(&f0.sites), "{} sites", f0.sites);
    assert_eq!(&f0.consensus[9..17], "TGACTSAG", "{}", f0.consensus);
    let m = r.motifs.iter().find(|m| m.id == "filter0").unwrap();
    for (p, col) in PWM.iter().enumerate() {
        for (k, &want) in col.iter().enumerate() {
            let got = m.pfm[9 + p][k];
            assert!(
                (got - want).abs() < 0.12,
                "position {p} base {k}: {got} vs {want}"
            );
        }
    }
    // The columns outside the planted ones are close to uniform.
    assert!(
        m.pfm[0].iter().all(|&v| (v - 0.25).abs() < 0.15),
        "{:?}",
        m.pfm[0]
    );
    assert!(f0.influence.is_some() && f0.influence_abs.unwrap() >= 0.0);
    for f in [
        "filters.meme",
        "filters.tsv",
        "counts.tsv",
        "logos/filter0.svg",
        "logos/filter0.png",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    let back = ferrosea_motifs::read_motifs(&out.join("filters.meme")).unwrap();
    assert_eq!(back.len(), r.motifs.len());

    // The planted TGACTCAG is AP-1's site: JASPAR's best match for filter0 is a FOS/JUN
    // family member, and the report puts filter0 first.
    let matches = dir.path().join("matches.tsv");
    ferrosea_interpret::compare(&ferrosea_interpret::CompareOptions {
        query: out.join("filters.meme"),
        db: None,
        out: matches.clone(),
        tomtom: ferrosea_motifs::tomtom::Options::default(),
        threshold: ferrosea_interpret::Threshold::QValue(0.5),
        command_line: String::new(),
    })
    .unwrap();
    let table = std::fs::read_to_string(&matches).unwrap();
    let best = table.lines().find(|l| l.starts_with("filter0\t")).unwrap();
    let name = best.split('\t').nth(10).unwrap().to_uppercase();
    assert!(
        ["FOS", "JUN", "BATF", "FOSL", "NFE2", "BACH", "MAF"]
            .iter()
            .any(|f| name.contains(f)),
        "{best}"
    );
    let page = dir.path().join("report.html");
    let n = ferrosea_interpret::report(&ferrosea_interpret::ReportOptions {
        motifs: out.clone(),
        matches,
        db: None,
        out: page.clone(),
        top: 3,
    })
    .unwrap();
    assert_eq!(n, r.motifs.len());
    let html = std::fs::read_to_string(&page).unwrap();
    // Rows are sorted by their best match's q-value; filter0's row lists its AP-1 match.
    let rows: Vec<&str> = html.split("<tr id=").skip(1).collect();
    assert_eq!(rows.len(), r.motifs.len());
    let best_q: Vec<f64> = rows
        .iter()
        .filter_map(|row| {
            let at = row.find("q = ")?;
            row[at + 4..].split(',').next()?.trim().parse().ok()
        })
        .collect();
    assert!(best_q.windows(2).all(|w| w[0] <= w[1]), "{best_q:?}");
    let row0 = rows.iter().find(|r| r.starts_with("\"filter0\"")).unwrap();
    assert!(row0.to_uppercase().contains("MAF") || row0.to_uppercase().contains("FOS"));
    // Self-contained: nothing to fetch.
    assert!(!html.contains("src=") && !html.contains("<link") && !html.contains("<script"));

    // A window wider than the sequences.
    let e = filters(&FiltersOptions {
        checkpoint: dir.path().join("run"),
        data: data.clone(),
        out: dir.path().join("bad"),
        threshold: 0.5,
        only_positive: false,
        window: Some(WINDOW + 1),
        min_sites: 10,
        device: ferrosea_runtime::DeviceSpec::Cpu,
        batch_size: 64,
        max_samples: None,
        background: Background::Uniform,
        influence: None,
        logos: false,
        command_line: String::new(),
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("does not fit the sequences"), "{e}");

    // Through the binary: refusals before any work.
    let bin = |args: &[&dyn AsRef<std::ffi::OsStr>]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_ferrosea-interpret"));
        for a in args {
            c.arg(a);
        }
        let o = c.arg("-q").output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(2),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    // `report --motifs <out> --matches <matches> [extra] -o <page>`, which must fail.
    let report = |matches: &Path, extra: &[&dyn AsRef<std::ffi::OsStr>], page: &Path| {
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
            vec![&"report", &"--motifs", &out, &"--matches", &matches];
        args.extend_from_slice(extra);
        args.extend([&"-o" as &dyn AsRef<std::ffi::OsStr>, &page]);
        bin(&args)
    };
    // --influence on data of another window length names the file and both lengths.
    let short = dataset_of(&dir.path().join("short.h5"), 8, 150);
    let run = dir.path().join("run");
    let e = bin(&[
        &"filters",
        &"--checkpoint",
        &run,
        &"--data",
        &short,
        &"-o",
        &dir.path().join("o2"),
        &"--influence",
        &"4",
    ]);
    assert!(
        e.contains("short.h5: windows of 150 bp") && e.contains("trained on windows of 200 bp"),
        "{e}"
    );
    // An output that is an input: filters (the data linked as filters.meme), report.
    let linked = dir.path().join("linked");
    std::fs::create_dir_all(&linked).unwrap();
    std::os::unix::fs::symlink(&data, linked.join("filters.meme")).unwrap();
    let e = bin(&[
        &"filters",
        &"--checkpoint",
        &run,
        &"--data",
        &data,
        &"-o",
        &linked,
    ]);
    assert!(e.contains("the output is the input --data"), "{e}");
    let matches = dir.path().join("matches.tsv");
    let e = report(&matches, &[], &matches);
    assert!(e.contains("the output is the input --matches"), "{e}");
    let link = dir.path().join("page.html");
    std::os::unix::fs::symlink(out.join("filters.meme"), &link).unwrap();
    let e = report(&matches, &[], &link);
    assert!(e.contains("the output is the input --motifs"), "{e}");
    // Matches of other motifs (a query id the motifs lack; a query of another width).
    let table = std::fs::read_to_string(&matches).unwrap();
    let other = dir.path().join("other.tsv");
    std::fs::write(&other, table.replace("\nfilter0\t", "\nfilter999\t")).unwrap();
    let page = dir.path().join("p.html");
    let e = report(&other, &[], &page);
    assert!(
        e.contains("other.tsv:") && e.contains("query filter999 is not a motif of"),
        "{e}"
    );
    let row = table.lines().find(|l| l.starts_with("filter0\t")).unwrap();
    let mut f: Vec<String> = row.split('\t').map(str::to_string).collect();
    f[7].push('A');
    let wider = table.replacen(row, &f.join("\t"), 1);
    std::fs::write(&other, wider).unwrap();
    let e = report(&other, &[], &page);
    assert!(
        e.contains("query filter0 is") && e.contains("columns wide here"),
        "{e}"
    );
    // Matches made against another database: its targets are missing.
    let db = dir.path().join("db.meme");
    std::fs::write(&db, ferrosea_motifs::write_meme(&r.motifs[..1], [0.25; 4])).unwrap();
    let e = report(&matches, &[&"--db", &db], &page);
    assert!(
        e.contains("target motifs of the matches are not in") && e.contains("another database"),
        "{e}"
    );
    assert!(!page.exists());
}

fn dataset_of(path: &Path, rows: usize, window: usize) -> PathBuf {
    let header = Header {
        window,
        targets: Targets {
            name: vec!["planted".into(), "other".into()],
            category: vec!["TF".into(); 2],
            ..Default::default()
        },
        chrom_names: vec!["chr1".into()],
        attrs: vec![],
        ..Default::default()
    };
    let mut x = vec![0u8; rows * window * 4];
    for p in 0..rows * window {
        x[p * 4 + p % 4] = 1;
    }
    let mut w = Writer::create(path, &header, rows, WriterOptions::default()).unwrap();
    w.write_rows(
        0,
        &Block {
            x,
            y: vec![0; rows * 2],
            chrom: vec![0; rows],
            start: (0..rows as i64).map(|r| r * 1000).collect(),
            strand: vec![b'+'; rows],
        },
    )
    .unwrap();
    w.finish().unwrap()
}
