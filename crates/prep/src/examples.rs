//! `ferrosea-prep simulate-examples`: the datasets and recipes of the course's prototype
//! examples (docs/EXAMPLES.md), each in its own directory with train, valid and test files.
//!
//! - `motif-detection/`: binary sequences of length 10 over {0, 1} (one channel holding the
//!   digit), label 1 when `111` occurs; 1000 training, 200 validation and 40 test sequences;
//!   recipes `rnn.json` (SimpleRNN of 2 units returning the sequence, flatten, sigmoid
//!   output, plain SGD) and `conv.json` (2 filters of 3, ReLU, flatten, sigmoid output).
//! - `next-character/`: sequences of 1000 symbols made of blocks `0^n 1^n` (n uniform in
//!   1..=19); a sample is the 100 symbols before a position whose previous symbol is a 1 (the
//!   deterministic part: the count of 1s must match the count of 0s before them), labelled
//!   with the symbol there. Recipes `rnn.json` and `lstm.json`: one unit, dropout 0.2,
//!   flatten, sigmoid output trained with squared error and Adam.
//! - `motif-classes/`: 100 bp DNA sequences, uniform bases, each holding one instance of one
//!   of ten JASPAR motifs drawn from its probabilities (forward strand, random place), plus
//!   an eleventh class without motif; balanced; class labels. Recipe `danq.json`: a small
//!   DanQ (64 filters, BiLSTM of 32) with max over time and softmax cross-entropy.
//!
//! Every random choice comes from ChaCha8 streams of `--seed`, so the files are the same
//! bytes on every run.

use std::path::{Path, PathBuf};

use ferrosea_dataset::{Alphabet, Block, Encoding, Header, LabelKind, Targets, Writer};
use ferrosea_motifs::{read_motifs, Motif};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::recipes;
use crate::PrepError;
use ferrosea_models::spec::Cell;

/// What to write.
#[derive(Clone, Debug)]
pub struct ExamplesOptions {
    /// Output directory (one subdirectory per example).
    pub out: PathBuf,
    /// JASPAR motifs for `motif-classes` (MEME or JASPAR format); `None`: the embedded
    /// JASPAR 2024.
    pub motifs: Option<PathBuf>,
    /// Seed of every random choice.
    pub seed: u64,
    /// Recorded in the files.
    pub command_line: String,
}

/// The ten motifs of `motif-classes`: distinct families (zinc finger, GATA, C2H2, bZIP,
/// p53, ETS, nuclear receptors, TBP, forkhead).
pub const CLASS_MOTIFS: [&str; 10] = [
    "MA0139.2", "MA0035.5", "MA0079.5", "MA0102.5", "MA0106.3", "MA0098.4", "MA0113.4", "MA0108.3",
    "MA0114.5", "MA0148.5",
];

/// Rows of each split: (train, valid, test).
const DETECTION_ROWS: (usize, usize, usize) = (1000, 200, 40);
/// Sequences of 1000 symbols per split of `next-character`.
const NEXT_SEQUENCES: (usize, usize, usize) = (8, 2, 2);
/// Sequences per class and split of `motif-classes`.
const CLASS_ROWS: (usize, usize, usize) = (800, 100, 100);

fn rng(seed: u64, example: u64, split: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ (example << 32) ^ (split << 48) ^ 0xe8a3)
}

/// One split's rows: windows (`[rows, window, channels]` bytes) and labels as `/y` stores
/// them.
struct Rows {
    x: Vec<u8>,
    y: Vec<u8>,
    n: usize,
}

fn write_split(
    dir: &Path,
    split: &str,
    header: &Header,
    rows: &Rows,
    files: &mut Vec<PathBuf>,
) -> Result<(), PrepError> {
    let path = dir.join(format!("{split}.h5"));
    let mut h = header.clone();
    h.attrs.push((
        "split".into(),
        ferrosea_dataset::AttrValue::Str(split.into()),
    ));
    let mut w = Writer::create(&path, &h, rows.n, Default::default())?;
    let block = Block {
        x: rows.x.clone(),
        y: rows.y.clone(),
        chrom: vec![0; rows.n],
        start: (0..rows.n as i64)
            .map(|r| r * header.window as i64)
            .collect(),
        strand: vec![b'+'; rows.n],
    };
    w.write_rows(0, &block)?;
    files.push(w.finish()?);
    Ok(())
}

fn header(
    window: usize,
    names: &[String],
    category: &str,
    alphabet: Alphabet,
    labels: LabelKind,
    o: &ExamplesOptions,
    source: &str,
) -> Header {
    use ferrosea_dataset::AttrValue;
    Header {
        window,
        targets: Targets {
            name: names.to_vec(),
            category: vec![category.into(); names.len()],
            ..Default::default()
        },
        chrom_names: vec!["simulated".into()],
        attrs: vec![
            ("source".into(), AttrValue::Str(source.into())),
            ("seed".into(), AttrValue::Int(o.seed as i64)),
        ]
        .into_iter()
        .chain(ferrosea_dataset::provenance(&o.command_line))
        .collect::<Vec<_>>(),
        alphabet,
        labels,
    }
}

fn write_recipe(
    path: &Path,
    recipe: &ferrosea_train::TrainConfig,
    files: &mut Vec<PathBuf>,
) -> Result<(), PrepError> {
    recipes::write(path, recipe)?;
    files.push(path.to_path_buf());
    Ok(())
}

fn mkdir(dir: &Path) -> Result<(), PrepError> {
    std::fs::create_dir_all(dir).map_err(|e| PrepError::io(dir.to_path_buf(), e))
}

/// Example 1: does `111` occur in 10 random bits?
fn motif_detection(o: &ExamplesOptions, files: &mut Vec<PathBuf>) -> Result<(), PrepError> {
    let dir = o.out.join("motif-detection");
    mkdir(&dir)?;
    let binary = Alphabet::new("01", Encoding::Index).expect("valid");
    let h = header(
        10,
        &["has-111".into()],
        "motif",
        binary,
        LabelKind::Binary,
        o,
        "course example 1: motif detection",
    );
    let (a, b, c) = DETECTION_ROWS;
    for (k, (split, n)) in [("train", a), ("valid", b), ("test", c)]
        .into_iter()
        .enumerate()
    {
        let mut r = rng(o.seed, 1, k as u64);
        let mut rows = Rows {
            x: Vec::new(),
            y: Vec::new(),
            n,
        };
        for _ in 0..n {
            let bits: Vec<u8> = (0..10).map(|_| r.random_range(0..2u8)).collect();
            rows.y.push(bits.windows(3).any(|w| w == [1, 1, 1]) as u8);
            rows.x.extend(bits);
        }
        write_split(&dir, split, &h, &rows, files)?;
    }
    write_recipe(&dir.join("rnn.json"), &recipes::rnn_detection(), files)?;
    write_recipe(&dir.join("conv.json"), &recipes::conv_detection(), files)
}

/// Example 3: the next symbol of `0^n 1^n` blocks, from the 100 before it.
fn next_character(o: &ExamplesOptions, files: &mut Vec<PathBuf>) -> Result<(), PrepError> {
    const LEN: usize = 1000;
    const WINDOW: usize = 100;
    let dir = o.out.join("next-character");
    mkdir(&dir)?;
    let binary = Alphabet::new("01", Encoding::Index).expect("valid");
    let h = header(
        WINDOW,
        &["next".into()],
        "symbol",
        binary,
        LabelKind::Binary,
        o,
        "course example 3: vanishing gradients (blocks 0^n 1^n)",
    );
    let (a, b, c) = NEXT_SEQUENCES;
    for (k, (split, n)) in [("train", a), ("valid", b), ("test", c)]
        .into_iter()
        .enumerate()
    {
        let mut r = rng(o.seed, 3, k as u64);
        let mut rows = Rows {
            x: Vec::new(),
            y: Vec::new(),
            n: 0,
        };
        for _ in 0..n {
            let mut s: Vec<u8> = Vec::with_capacity(LEN + 40);
            while s.len() < LEN {
                let m = r.random_range(1..=19usize);
                s.extend(std::iter::repeat_n(0u8, m));
                s.extend(std::iter::repeat_n(1u8, m));
            }
            s.truncate(LEN);
            for i in WINDOW..LEN {
                if s[i - 1] == 1 {
                    rows.x.extend_from_slice(&s[i - WINDOW..i]);
                    rows.y.push(s[i]);
                    rows.n += 1;
                }
            }
        }
        write_split(&dir, split, &h, &rows, files)?;
    }
    write_recipe(
        &dir.join("rnn.json"),
        &recipes::next_character(Cell::Simple),
        files,
    )?;
    write_recipe(
        &dir.join("lstm.json"),
        &recipes::next_character(Cell::Lstm),
        files,
    )
}

/// Example 4: which of ten motifs (or none) a 100 bp sequence holds.
fn motif_classes(o: &ExamplesOptions, files: &mut Vec<PathBuf>) -> Result<(), PrepError> {
    const WINDOW: usize = 100;
    let (all, origin) = match &o.motifs {
        Some(p) => (read_motifs(p)?, p.display().to_string()),
        None => (
            ferrosea_motifs::embedded_jaspar()?,
            "the embedded JASPAR 2024".to_string(),
        ),
    };
    let motifs: Vec<&Motif> = CLASS_MOTIFS
        .iter()
        .map(|id| {
            all.iter().find(|m| m.id == *id).ok_or_else(|| {
                PrepError::Invalid(format!(
                    "{origin}: no motif {id} (motif-classes plants {}, from JASPAR 2024)",
                    CLASS_MOTIFS.join(", ")
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let dir = o.out.join("motif-classes");
    mkdir(&dir)?;
    let mut names: Vec<String> = motifs
        .iter()
        .map(|m| match &m.name {
            Some(n) => format!("{}|{n}", m.id),
            None => m.id.clone(),
        })
        .collect();
    names.push("none".into());
    let h = header(
        WINDOW,
        &names,
        "class",
        Alphabet::dna(),
        LabelKind::Class,
        o,
        "course example 4: ten JASPAR motifs and a class without motif",
    );
    let classes = names.len();
    let (a, b, c) = CLASS_ROWS;
    for (k, (split, per_class)) in [("train", a), ("valid", b), ("test", c)]
        .into_iter()
        .enumerate()
    {
        let mut r = rng(o.seed, 4, k as u64);
        let n = per_class * classes;
        let mut rows = Rows {
            x: vec![0; n * WINDOW * 4],
            y: Vec::with_capacity(n),
            n,
        };
        // Classes interleaved: row i is of class i % classes.
        for i in 0..n {
            let class = i % classes;
            let mut seq: Vec<usize> = (0..WINDOW).map(|_| r.random_range(0..4usize)).collect();
            if let Some(m) = motifs.get(class) {
                let at = r.random_range(0..=WINDOW - m.width());
                for (p, col) in m.pfm.iter().enumerate() {
                    seq[at + p] = crate::simulate::pick_index(&mut r, col);
                }
            }
            for (p, &base) in seq.iter().enumerate() {
                rows.x[(i * WINDOW + p) * 4 + base] = 1;
            }
            rows.y.push(class as u8);
        }
        write_split(&dir, split, &h, &rows, files)?;
    }
    write_recipe(&dir.join("danq.json"), &recipes::danq_classes(), files)
}

/// Writes the three examples; returns the files written.
pub fn simulate_examples(o: &ExamplesOptions) -> Result<Vec<PathBuf>, PrepError> {
    let mut files = Vec::new();
    motif_detection(o, &mut files)?;
    next_character(o, &mut files)?;
    motif_classes(o, &mut files)?;
    Ok(files)
}
