//! Where `attribute` takes its sequences from, and the shuffles it makes of them.
//!
//! - **A dataset file** (`--data`): its rows in file order, optionally only those with a
//!   positive label for one target (`--positives`). A row is reported under its dataset row,
//!   chromosome, window start and strand.
//! - **FASTA records or BED intervals of a genome** (`--fasta`, or `--genome` with
//!   `--regions`): the analyze stage's sources (`ferrosea_analyze::sequences`), each record or
//!   interval one window of the model's length. A row is reported under its index in the
//!   input, the record's name or the interval's chromosome, the window's start (for an
//!   interval `[s, e)`: `(s + e) / 2 - L / 2`; for a record, where the window starts in it:
//!   negative when it was padded) and the name.

use std::path::PathBuf;

use ferrosea_analyze::sequences::{Reader as WindowReader, Source};
use ferrosea_dataset::{Alphabet, Encoding, Reader};
use ferrosea_runtime::data::Loader;

use crate::InterpretError;

/// The sequences to attribute.
#[derive(Clone, Debug)]
pub enum Input {
    /// Rows of a dataset file.
    Dataset {
        /// The file.
        path: PathBuf,
        /// Only rows with a positive label for one of these targets (all rows when empty).
        positives: Vec<String>,
    },
    /// FASTA records or BED intervals of a genome.
    Sequences(Source),
}

/// A block of chosen sequences and what they are reported under.
#[derive(Default)]
pub(crate) struct Block {
    /// `[n, C, L]`.
    pub x: Vec<f32>,
    pub rows: Vec<i64>,
    pub chroms: Vec<String>,
    pub starts: Vec<i64>,
    pub strands: Vec<String>,
    pub names: Vec<String>,
}

impl Block {
    pub fn len(&self) -> usize {
        self.rows.len()
    }
}

/// Reads blocks of chosen sequences.
pub(crate) enum Rows {
    Dataset {
        loader: Loader,
        reader: Reader,
        positive: Vec<usize>,
        targets: usize,
        row: usize,
    },
    Sequences {
        reader: WindowReader,
        next: i64,
        window: usize,
        batch: usize,
        fasta: bool,
    },
}

impl Rows {
    /// Up to about a batch of the next chosen sequences, at most `max`; `None` at the end.
    pub fn next_block(&mut self, max: usize) -> Result<Option<Block>, InterpretError> {
        match self {
            Rows::Dataset {
                loader,
                reader,
                positive,
                targets,
                row,
            } => {
                for b in loader.by_ref() {
                    let b = b?;
                    let keep: Vec<usize> = (0..b.rows)
                        .filter(|&i| {
                            positive.is_empty()
                                || positive.iter().any(|&p| b.y[i * *targets + p] > 0.5)
                        })
                        .take(max)
                        .collect();
                    if keep.is_empty() {
                        continue;
                    }
                    // The batch's coordinates in one read; the kept rows' picked from them.
                    let coords = reader.read_coords(b.first..b.first + b.rows)?;
                    let mut out = Block::default();
                    for &i in &keep {
                        out.x.extend_from_slice(&b.x[i * *row..(i + 1) * *row]);
                        let (c, s, d) = &coords[i];
                        out.rows.push((b.first + i) as i64);
                        out.chroms.push(c.clone());
                        out.starts.push(*s);
                        out.strands.push((*d as char).to_string());
                        out.names.push(".".into());
                    }
                    return Ok(Some(out));
                }
                Ok(None)
            }
            Rows::Sequences {
                reader,
                next,
                window,
                batch,
                fasta,
            } => {
                let windows = reader.next_block((*batch).min(max))?;
                if windows.is_empty() {
                    return Ok(None);
                }
                let l = *window;
                let mut out = Block::default();
                let mut x = vec![0f32; 4 * l];
                for w in windows {
                    ferrosea_genome::onehot::encode_channels(&w.seq, &mut x);
                    out.x.extend_from_slice(&x);
                    out.rows.push(*next);
                    *next += 1;
                    let start = if *fasta {
                        // Where the window starts in the record.
                        (w.end as i64 - l as i64).div_euclid(2)
                    } else {
                        ((w.start + w.end) / 2) as i64 - (l / 2) as i64
                    };
                    out.chroms.push(w.chrom);
                    out.starts.push(start);
                    out.strands.push("+".into());
                    out.names.push(w.name);
                }
                Ok(Some(out))
            }
        }
    }
}

/// Stream tag of the references' shuffles.
pub(crate) const REFERENCES: u64 = 0xd1_5e7f;
/// Stream tag of the null sequences' shuffles.
pub(crate) const NULL: u64 = 0x0e11_5e7f;

/// `count` dinucleotide shuffles `[count, C, L]` of the sequence `x` (`[C, L]`), seeded by
/// `seed`, the stream `tag` and `row`; an unknown symbol (an all-zero one-hot column) is
/// shuffled as one more symbol and stays all zero.
pub(crate) fn shuffles(
    x: &[f32],
    alphabet: &Alphabet,
    window: usize,
    (count, seed, tag, row): (usize, u64, u64, u64),
) -> Vec<f32> {
    let c = alphabet.channels();
    let n = alphabet.len();
    let symbols: Vec<u8> = (0..window)
        .map(|p| match alphabet.encoding() {
            Encoding::OneHot => (0..c).find(|&ch| x[ch * window + p] > 0.5).unwrap_or(n) as u8,
            Encoding::Index => x[p] as u8,
        })
        .collect();
    let mut out = vec![0f32; count * c * window];
    for j in 0..count {
        let mut rng = ferrosea_models::params::rng_for(seed, &[tag, row, j as u64]);
        let s = ferrosea_genome::shuffle::dinucleotide_shuffle(&symbols, n + 1, &mut rng);
        let r = &mut out[j * c * window..(j + 1) * c * window];
        for (p, &v) in s.iter().enumerate() {
            match alphabet.encoding() {
                Encoding::OneHot if (v as usize) < n => r[v as usize * window + p] = 1.0,
                Encoding::OneHot => {}
                Encoding::Index => r[p] = v as f32,
            }
        }
    }
    out
}

/// The bases (`A`, `C`, `G`, `T`, `N` for an all-zero column) of a one-hot `[4, L]` window.
pub(crate) fn bases(x: &[f32]) -> Vec<u8> {
    let l = x.len() / 4;
    (0..l)
        .map(|p| {
            (0..4)
                .find(|&c| x[c * l + p] > 0.5)
                .map_or(b'N', |c| b"ACGT"[c])
        })
        .collect()
}
