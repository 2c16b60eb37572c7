//! Small synthetic datasets with learnable labels, written with the real dataset writer.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::Mutex;

use ferrosea_dataset::{Block, Header, Targets, Writer, WriterOptions};
use ferrosea_train::TrainConfig;

pub const WINDOW: usize = 120;

/// Held while this process has an HDF5 file open for writing and while it spawns a child.
/// libhdf5 opens files without close-on-exec, so a child spawned by one test while another
/// test writes a dataset inherits that descriptor and, with it, the write lock: the next
/// process that opens the dataset then fails with "unable to lock file". Tests in one binary
/// run on threads of one process, so writes and spawns must not overlap.
static WRITE_OR_SPAWN: Mutex<()> = Mutex::new(());

fn write_or_spawn() -> std::sync::MutexGuard<'static, ()> {
    WRITE_OR_SPAWN.lock().unwrap_or_else(|e| e.into_inner())
}

/// `Command::spawn` and `Command::output`, never while a dataset is being written.
pub trait SpawnSafely {
    fn spawn_safely(&mut self) -> Child;
    fn output_safely(&mut self) -> Output;
}

impl SpawnSafely for Command {
    fn spawn_safely(&mut self) -> Child {
        let _guard = write_or_spawn();
        self.spawn().unwrap()
    }
    fn output_safely(&mut self) -> Output {
        let child = {
            let _guard = write_or_spawn();
            self.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        child.wait_with_output().unwrap()
    }
}

/// Writes `rows` random windows. Target "GATA" is 1 when the window holds GATAAG (planted
/// in about a third of the rows), "GC" when its GC fraction exceeds one half, "noise" at
/// random.
pub fn dataset(path: &Path, rows: usize, seed: u64, targets: &[&str]) -> PathBuf {
    dataset_of(path, rows, seed, targets, WINDOW)
}

/// [`dataset`] with windows of `window` bp.
pub fn dataset_of(path: &Path, rows: usize, seed: u64, targets: &[&str], window: usize) -> PathBuf {
    write_windows(path, rows, seed, targets, "TF", window, |next, seq| {
        if next() % 3 == 0 {
            let at = (next() % (window as u64 - 6)) as usize;
            seq[at..at + 6].copy_from_slice(b"GATAAG");
        }
        let has = seq.windows(6).any(|w| w == b"GATAAG");
        let gc = seq.iter().filter(|&&b| b == b'G' || b == b'C').count() as f64 / window as f64;
        targets
            .iter()
            .map(|t| match *t {
                "GATA" => has as u8,
                "GC" => (gc > 0.5) as u8,
                _ => (next() % 10 == 0) as u8,
            })
            .collect()
    })
}

/// Writes `rows` random windows of `window` bp with the given targets (all of `category`):
/// `plant` may edit each sequence, drawing from the seeded generator, and returns its labels.
fn write_windows(
    path: &Path,
    rows: usize,
    seed: u64,
    targets: &[&str],
    category: &str,
    window: usize,
    mut plant: impl FnMut(&mut dyn FnMut() -> u64, &mut Vec<u8>) -> Vec<u8>,
) -> PathBuf {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let header = Header {
        window,
        targets: Targets {
            name: targets.iter().map(|t| t.to_string()).collect(),
            category: targets.iter().map(|_| category.to_string()).collect(),
            cell: None,
            treatment: None,
        },
        chrom_names: vec!["chrS".into()],
        attrs: vec![],
        ..Default::default()
    };
    let mut block = Block::default();
    for r in 0..rows {
        let mut seq: Vec<u8> = (0..window)
            .map(|_| b"ACGT"[(next() % 4) as usize])
            .collect();
        let labels = plant(&mut next, &mut seq);
        for &b in &seq {
            let mut one = [0u8; 4];
            one[b"ACGT".iter().position(|&c| c == b).unwrap()] = 1;
            block.x.extend(one);
        }
        block.y.extend(labels);
        block.chrom.push(0);
        block.start.push((r * window) as i64);
        block.strand.push(b'+');
    }
    let opts = WriterOptions {
        chunk_rows: 32,
        ..WriterOptions::default()
    };
    let _guard = write_or_spawn();
    let mut w = Writer::create(path, &header, rows, opts).unwrap();
    w.write_rows(0, &block).unwrap();
    w.finish().unwrap()
}

pub const TARGETS: &[&str] = &["GATA", "GC", "noise"];

/// The classes of [`classes_dataset`]: which motif a row holds.
pub const CLASSES: &[&str] = &["GATAAG", "CCCGGG", "TTTAAA"];

/// Writes `rows` random windows of [`WINDOW`] bp, each with exactly one of [`CLASSES`]
/// planted; its labels are one-hot: the class of the planted motif.
pub fn classes_dataset(path: &Path, rows: usize, seed: u64) -> PathBuf {
    write_windows(path, rows, seed, CLASSES, "motif", WINDOW, |next, seq| {
        let class = (next() % CLASSES.len() as u64) as usize;
        let at = (next() % (WINDOW as u64 - 6)) as usize;
        seq[at..at + 6].copy_from_slice(CLASSES[class].as_bytes());
        (0..CLASSES.len()).map(|c| (c == class) as u8).collect()
    })
}

/// A small DanQ with every source of randomness switched on.
pub fn tiny_danq(epochs: usize) -> TrainConfig {
    TrainConfig::parse(
        &format!(
            r#"{{
            "model": {{"arch": "danq", "filters": 12, "width": 8, "pool": 8, "conv_dropout": 0.2,
                       "lstm_hidden": 6, "lstm_dropout": 0.3, "hidden": 16}},
            "optimizer": {{"kind": "rmsprop", "lr": 0.005, "alpha": 0.9, "eps": 1e-6, "eps_inside_sqrt": true}},
            "batch_size": 16, "epochs": {epochs}, "reverse_complement": true, "shuffle_buffer": 40
        }}"#
        ),
        "test",
    )
    .unwrap()
}

/// A small DeepSEA with its penalties.
pub fn tiny_deepsea(epochs: usize) -> TrainConfig {
    TrainConfig::parse(
        &format!(
            r#"{{
            "model": {{"arch": "deepsea", "conv": [{{"filters": 8, "width": 6, "pool": 4, "dropout": 0.2}},
                       {{"filters": 8, "width": 4, "dropout": 0.2}}], "hidden": 12}},
            "optimizer": {{"kind": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": true, "weight_decay": 1e-4}},
            "l1_hidden": 1e-6, "max_norm": 0.9,
            "batch_size": 16, "epochs": {epochs}, "shuffle_buffer": 64
        }}"#
        ),
        "test",
    )
    .unwrap()
}

/// Options for a CPU run.
pub fn options(
    train: &Path,
    valid: &Path,
    out: &Path,
    config: TrainConfig,
) -> ferrosea_train::Options {
    ferrosea_train::Options {
        seed: 42,
        eval_batch: 64,
        ..ferrosea_train::Options::new(train, valid, out, config)
    }
}

/// The bytes of a checkpoint's weight file.
pub fn weights_bytes(out: &Path, kind: &str) -> Vec<u8> {
    let meta = ferrosea_train::checkpoint::read_meta(&out.join(format!("{kind}.json"))).unwrap();
    std::fs::read(out.join(meta.weights_file)).unwrap()
}

/// Rewrites the uint8 dataset `name` (`x` or `y`) of a dataset file in place, as a file
/// damaged or written by another tool would hold it.
pub fn overwrite_u8(path: &Path, name: &str, edit: impl FnOnce(&mut Vec<u8>)) {
    let _guard = write_or_spawn();
    let file = hdf5::File::open_rw(path).unwrap();
    let ds = file.dataset(name).unwrap();
    let mut values: Vec<u8> = ds.read_raw().unwrap();
    edit(&mut values);
    ds.write_raw(&values).unwrap();
    drop(ds);
    file.close().unwrap();
}

/// The names of the files in `dir`, sorted.
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}
