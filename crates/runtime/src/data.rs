//! Streaming batches out of a dataset file with bounded memory.
//!
//! An epoch's row order is computed up front from the seed, without touching the data:
//! the file's chunk-aligned units (256 rows by default) are visited in a random order and
//! passed through a shuffle buffer of `buffer` rows, as a streaming shuffler would do with
//! the data itself. A background thread then reads each unit when the order first needs
//! one of its rows, keeps only rows not yet handed out, and assembles batches ahead of the
//! model. Memory stays near `buffer + unit` rows whatever the file's size, and resuming at
//! batch k of an epoch reproduces exactly the batches an uninterrupted run would have seen.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::JoinHandle;

use ferrosea_dataset::Reader;

use crate::RuntimeError;
use ferrosea_models::params::{mix, rng_for};
use rand::Rng;

/// Random-stream tags.
const SHUFFLE_STREAM: u64 = 0x5f1;
const RC_STREAM: u64 = 0x2c0;

/// The order in which an epoch visits the rows of a file of `rows` rows.
pub fn epoch_order(rows: usize, unit: usize, buffer: usize, seed: u64, epoch: u64) -> Vec<u32> {
    let units = rows.div_ceil(unit);
    let mut rng = rng_for(seed, &[SHUFFLE_STREAM, epoch]);
    let mut perm: Vec<u32> = (0..units as u32).collect();
    for i in (1..perm.len()).rev() {
        perm.swap(i, rng.random_range(0..=i));
    }
    let mut out = Vec::with_capacity(rows);
    let mut buf: Vec<u32> = Vec::with_capacity(buffer.min(rows));
    for u in perm {
        let lo = u as usize * unit;
        for r in lo..(lo + unit).min(rows) {
            if buf.len() < buffer {
                buf.push(r as u32);
            } else {
                let j = rng.random_range(0..buffer);
                out.push(buf[j]);
                buf[j] = r as u32;
            }
        }
    }
    for i in (1..buf.len()).rev() {
        buf.swap(i, rng.random_range(0..=i));
    }
    out.extend(buf);
    out
}

/// Rows read at once from a file: its chunk, or 256 rows when it is not chunked.
pub fn read_unit(reader: &Reader) -> usize {
    reader.chunk_rows().unwrap_or(256)
}

/// Whether the sample at `position` of `epoch` is reverse-complemented.
pub fn flip_at(seed: u64, epoch: u64, position: usize) -> bool {
    mix(mix(seed ^ RC_STREAM) ^ mix(epoch) ^ position as u64) & 1 == 1
}

/// A batch ready for the model.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// Position of its first sample in the epoch's order.
    pub first: usize,
    /// Number of samples.
    pub rows: usize,
    /// Windows `[rows, C, window]`: one-hot channels (A, C, G, T for DNA), or the symbol
    /// indices in one channel (see [`ferrosea_dataset::Encoding`]).
    pub x: Vec<f32>,
    /// Labels `[rows, targets]` (class labels one-hot, real labels as they are).
    pub y: Vec<f32>,
}

/// What a loader reads and how.
#[derive(Clone, Debug)]
pub struct LoaderSpec {
    /// The dataset file.
    pub path: PathBuf,
    /// Row order; `None` for file order.
    pub order: Option<Vec<u32>>,
    /// First position to produce (a multiple of `batch` when resuming).
    pub start: usize,
    /// Samples per batch.
    pub batch: usize,
    /// Reverse-complement samples chosen by [`flip_at`] for this (seed, epoch).
    pub reverse_complement: Option<(u64, u64)>,
    /// Batches read ahead.
    pub prefetch: usize,
    /// The loss the labels are for: rows whose labels it cannot take are an error naming
    /// the row (softmax: exactly one label set per row).
    pub loss: crate::loss::Loss,
}

impl LoaderSpec {
    /// Every row once, in file order, without reverse complements, four batches read ahead:
    /// what inference and interpretation read.
    pub fn in_file_order(path: PathBuf, batch: usize, loss: crate::loss::Loss) -> LoaderSpec {
        LoaderSpec {
            path,
            order: None,
            start: 0,
            batch,
            reverse_complement: None,
            prefetch: 4,
            loss,
        }
    }
}

/// Batches produced by a background thread.
pub struct Loader {
    rx: Receiver<Result<Batch, RuntimeError>>,
    handle: Option<JoinHandle<()>>,
}

impl Loader {
    /// Starts reading.
    pub fn spawn(spec: LoaderSpec) -> Loader {
        let (tx, rx) = sync_channel(spec.prefetch.max(1));
        let handle = std::thread::Builder::new()
            .name("ferrosea-loader".into())
            .spawn(move || {
                let mut send = |b| tx.send(b).is_ok();
                if let Err(e) = produce(&spec, &mut send) {
                    send(Err(e));
                }
            })
            .expect("spawning the loader thread");
        Loader {
            rx,
            handle: Some(handle),
        }
    }
}

impl Iterator for Loader {
    type Item = Result<Batch, RuntimeError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.rx.recv().ok()
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        // Unblock the thread if it waits on a full channel, then join it.
        let (_, dead) = sync_channel(0);
        let rx = std::mem::replace(&mut self.rx, dead);
        drop(rx);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn produce(
    spec: &LoaderSpec,
    send: &mut dyn FnMut(Result<Batch, RuntimeError>) -> bool,
) -> Result<(), RuntimeError> {
    let reader = Reader::open(&spec.path)?;
    let rows = reader.len();
    let (window, targets) = (reader.window(), reader.targets().len());
    let alphabet = reader.alphabet().clone();
    let channels = alphabet.channels();
    spec.loss
        .check_kind(reader.labels())
        .map_err(|m| RuntimeError::Data(format!("{}: {m}", spec.path.display())))?;
    if spec.reverse_complement.is_some() && !alphabet.is_dna() {
        return Err(RuntimeError::Data(format!(
            "{}: reverse complements need one-hot A, C, G, T; the file's alphabet is {alphabet}",
            spec.path.display()
        )));
    }
    let unit = read_unit(&reader);
    let order = |p: usize| -> usize { spec.order.as_ref().map_or(p, |o| o[p] as usize) };
    if let Some(o) = &spec.order {
        if o.len() != rows {
            return Err(RuntimeError::Data(format!(
                "{}: the row order covers {} rows, the file has {rows}",
                spec.path.display(),
                o.len()
            )));
        }
    }
    // Rows handed out before `start` are never kept.
    let mut done = vec![false; rows];
    for p in 0..spec.start.min(rows) {
        done[order(p)] = true;
    }
    let mut loaded = vec![false; rows.div_ceil(unit)];
    let mut resident: HashMap<usize, (Vec<u8>, Vec<f32>)> = HashMap::new();
    let row_x = window * channels;
    let mut first = spec.start;
    while first < rows {
        let n = spec.batch.min(rows - first);
        let mut x = vec![0f32; n * row_x];
        let mut y = vec![0f32; n * targets];
        for i in 0..n {
            let p = first + i;
            let r = order(p);
            let u = r / unit;
            if !loaded[u] {
                loaded[u] = true;
                let range = u * unit..((u + 1) * unit).min(rows);
                let xs = reader.read_x(range.clone())?;
                let ys = reader.read_labels(range.clone())?;
                check_values(&spec.path, &reader, range.start, &xs, &ys, spec.loss)
                    .map_err(RuntimeError::Data)?;
                for (k, row) in range.enumerate() {
                    if !done[row] {
                        resident.insert(
                            row,
                            (
                                xs[k * row_x..(k + 1) * row_x].to_vec(),
                                ys[k * targets..(k + 1) * targets].to_vec(),
                            ),
                        );
                    }
                }
            }
            let (rx, ry) = resident.remove(&r).ok_or_else(|| {
                RuntimeError::Data(format!(
                    "{}: row {r} requested twice in one epoch",
                    spec.path.display()
                ))
            })?;
            done[r] = true;
            let flip = spec
                .reverse_complement
                .is_some_and(|(seed, epoch)| flip_at(seed, epoch, p));
            encode(
                &rx,
                (window, channels),
                flip,
                &mut x[i * row_x..(i + 1) * row_x],
            );
            y[i * targets..(i + 1) * targets].copy_from_slice(&ry);
        }
        if !send(Ok(Batch {
            first,
            rows: n,
            x,
            y,
        })) {
            return Ok(());
        }
        first += n;
    }
    Ok(())
}

/// Checks that rows from `first` on hold values the file's alphabet can hold in `xs`, and
/// labels `ys` (`[rows, T]` numbers) that `loss` can take; the message names the file, the
/// row (from 0), where in it, and the value.
fn check_values(
    path: &std::path::Path,
    reader: &Reader,
    first: usize,
    xs: &[u8],
    ys: &[f32],
    loss: crate::loss::Loss,
) -> Result<(), String> {
    let alphabet = reader.alphabet();
    let row_x = reader.window() * alphabet.channels();
    for (k, row) in xs.chunks_exact(row_x.max(1)).enumerate() {
        if let Some((pos, ch, v)) = alphabet.first_bad_value(row) {
            let channel = match alphabet.encoding() {
                ferrosea_dataset::Encoding::OneHot => alphabet.symbols()[ch..ch + 1].to_string(),
                ferrosea_dataset::Encoding::Index => ch.to_string(),
            };
            let expected = match alphabet.encoding() {
                ferrosea_dataset::Encoding::OneHot => "one-hot 0/1 values".to_string(),
                ferrosea_dataset::Encoding::Index => {
                    format!("symbol indices 0 to {}", alphabet.len() - 1)
                }
            };
            return Err(format!(
                "{}: /x row {} holds {v} at position {pos}, channel {channel}; expected {expected}",
                path.display(),
                first + k,
            ));
        }
    }
    let targets = &reader.targets().name;
    for (k, row) in ys.chunks(targets.len().max(1)).enumerate() {
        if let Some(t) = row.iter().position(|v| !v.is_finite()) {
            return Err(format!(
                "{}: /y row {} holds {} for target {t} ('{}'); labels must be finite numbers",
                path.display(),
                first + k,
                row[t],
                targets.get(t).map_or("", String::as_str)
            ));
        }
        loss.check_row(row).map_err(|e| match e {
            crate::loss::RowError::NotBinary {
                loss,
                target,
                value,
            } => format!(
                "{}: /y row {} holds {value} for target {target} ('{}'); labels must be 0 or 1 for \"loss\": \"{}\" (real values need \"mse\")",
                path.display(),
                first + k,
                targets.get(target).map_or("", String::as_str),
                loss.name()
            ),
            e => format!("{}: /y row {}: {e}", path.display(), first + k),
        })?;
    }
    Ok(())
}

/// `[window, C]` bytes to `[C, window]` floats, optionally reverse-complemented (only for
/// one-hot A, C, G, T, where the complement of channel c is 3 - c).
pub fn encode(
    row: &[u8],
    (window, channels): (usize, usize),
    reverse_complement: bool,
    out: &mut [f32],
) {
    for p in 0..window {
        let src = if reverse_complement {
            window - 1 - p
        } else {
            p
        };
        for c in 0..channels {
            let sc = if reverse_complement {
                channels - 1 - c
            } else {
                c
            };
            out[c * window + p] = row[src * channels + sc] as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_is_a_seeded_permutation() {
        let a = epoch_order(1000, 64, 100, 1, 0);
        let mut s = a.clone();
        s.sort();
        assert_eq!(s, (0..1000).collect::<Vec<u32>>());
        assert_eq!(a, epoch_order(1000, 64, 100, 1, 0));
        assert_ne!(a, epoch_order(1000, 64, 100, 1, 1));
        assert_ne!(a, epoch_order(1000, 64, 100, 2, 0));
        // Shuffled well beyond the chunk level: neighbours in the order rarely share a unit.
        let same_unit = a.windows(2).filter(|w| w[0] / 64 == w[1] / 64).count();
        assert!(same_unit < 500, "{same_unit}"); // ~984 without the buffer
    }

    #[test]
    fn reverse_complement_encoding() {
        // ACG T window of 3: A, C, G.
        let row = [1u8, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0];
        let mut out = [0f32; 12];
        encode(&row, (3, 4), false, &mut out);
        assert_eq!(out, [1., 0., 0., 0., 1., 0., 0., 0., 1., 0., 0., 0.]);
        encode(&row, (3, 4), true, &mut out);
        // Reverse complement of ACG is CGT.
        assert_eq!(out, [0., 0., 0., 1., 0., 0., 0., 1., 0., 0., 0., 1.]);
    }
}
