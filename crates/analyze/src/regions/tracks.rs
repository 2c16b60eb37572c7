//! Genome tracks of tiled predictions: one bigWig (and, with `--bedgraph`, one bedGraph) per
//! chosen target.
//!
//! While windows are predicted, the bins go to one binary temporary file (chromosome index,
//! start, end: three little-endian u32) and each track's values to its own (float32, 4 bytes a
//! bin), so neither memory nor disk grows with text: a whole genome at a 200 bp step with 29
//! tracks is 15 M bins, 1.9 GB of temporary files. At the end each track is streamed from
//! those files into its bigWig by `bigtools` (and written out as a bedGraph, the values in
//! Rust's shortest round-trip form of the float32), so the files hold exactly the float32 of
//! `regions.h5`.
//!
//! Determinism: bigtools encodes on a tokio runtime. Ours is a current-thread runtime with
//! `channel_size = 0` and `inmemory = true` (what `bedGraphToBigWig --nthreads 1` of the
//! bigtools CLI uses), so sections are compressed and written in one fixed order: the bytes
//! do not depend on `-j` or the machine.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use bigtools::beddata::BedParserStreamingIterator;
use bigtools::{BigWigWrite, Value};
use ferrosea_dataset::TempFile;

use crate::AnalyzeError;

/// The tracks of one run.
pub struct Tracks {
    chroms: Vec<String>,
    bins_tmp: PathBuf,
    bins: BufWriter<File>,
    tracks: Vec<Track>,
}

struct Track {
    /// Column of the target in a row of predictions.
    column: usize,
    name: String,
    bedgraph: PathBuf,
    bigwig: PathBuf,
    values_tmp: PathBuf,
    values: BufWriter<File>,
}

fn create(path: &Path) -> Result<BufWriter<File>, AnalyzeError> {
    Ok(BufWriter::with_capacity(
        1 << 16,
        File::create(path).map_err(AnalyzeError::io(path))?,
    ))
}

impl Tracks {
    /// Starts the tracks of targets `columns` (named `names`) in `dir`: `<name>.bw` and
    /// `<name>.bedGraph`, `name` made file-safe (a clash gets `_2`, `_3`, ...).
    pub fn create(dir: &Path, columns: &[usize], names: &[String]) -> Result<Tracks, AnalyzeError> {
        let mut used: HashMap<String, usize> = HashMap::new();
        let bins_tmp = ferrosea_dataset::tmp_path(&dir.join("tracks.bins"));
        let mut tracks = Tracks {
            chroms: Vec::new(),
            bins: create(&bins_tmp)?,
            bins_tmp,
            tracks: Vec::new(),
        };
        for &c in columns {
            let base = crate::sequences::file_safe(&names[c]);
            let n = used.entry(base.clone()).or_insert(0);
            *n += 1;
            let stem = if *n == 1 { base } else { format!("{base}_{n}") };
            let values_tmp = ferrosea_dataset::tmp_path(&dir.join(format!("{stem}.values")));
            tracks.tracks.push(Track {
                column: c,
                name: names[c].clone(),
                bigwig: dir.join(format!("{stem}.bw")),
                bedgraph: dir.join(format!("{stem}.bedGraph")),
                values: create(&values_tmp)?,
                values_tmp,
            });
        }
        Ok(tracks)
    }

    /// The scratch files the tracks are binned into (the tracks themselves are [`TempFile`]s).
    pub fn temporary(&self) -> Vec<PathBuf> {
        let mut out = vec![self.bins_tmp.clone()];
        for t in &self.tracks {
            out.push(t.values_tmp.clone());
        }
        out
    }

    /// Appends the bin `[start, end)` of `chrom` with the predictions `row` (all targets).
    pub fn bin(
        &mut self,
        chrom: &str,
        start: u64,
        end: u64,
        row: &[f32],
    ) -> Result<(), AnalyzeError> {
        if self.chroms.last().is_none_or(|c| c != chrom) {
            self.chroms.push(chrom.to_string());
        }
        let too_far = || {
            AnalyzeError::Input(format!(
                "{chrom}:{end}: past 2^32 - 1, more than a bigWig can address"
            ))
        };
        let idx = self.chroms.len() as u32 - 1;
        let (start, end) = (
            u32::try_from(start).map_err(|_| too_far())?,
            u32::try_from(end).map_err(|_| too_far())?,
        );
        let mut rec = [0u8; 12];
        rec[..4].copy_from_slice(&idx.to_le_bytes());
        rec[4..8].copy_from_slice(&start.to_le_bytes());
        rec[8..].copy_from_slice(&end.to_le_bytes());
        self.bins
            .write_all(&rec)
            .map_err(AnalyzeError::io(&self.bins_tmp))?;
        for t in &mut self.tracks {
            t.values
                .write_all(&row[t.column].to_le_bytes())
                .map_err(AnalyzeError::io(&t.values_tmp))?;
        }
        Ok(())
    }

    /// Writes every bigWig (chromosome sizes from the genome's index) and, with `bedgraph`,
    /// every bedGraph, and renames them into place. Returns the file names written.
    pub fn finish(
        self,
        sizes: &[(String, u64)],
        bedgraph: bool,
    ) -> Result<Vec<String>, AnalyzeError> {
        let mut chrom_sizes = HashMap::new();
        for (name, len) in sizes {
            let len = u32::try_from(*len).map_err(|_| {
                AnalyzeError::Input(format!(
                    "{name} has {len} bases, more than a bigWig can address (2^32 - 1)"
                ))
            })?;
            chrom_sizes.insert(name.clone(), len);
        }
        let Tracks {
            chroms,
            bins_tmp,
            mut bins,
            tracks,
        } = self;
        bins.flush().map_err(AnalyzeError::io(&bins_tmp))?;
        drop(bins);
        let mut names = Vec::new();
        for t in tracks {
            let Track {
                name,
                bedgraph: bg,
                bigwig,
                values_tmp,
                mut values,
                ..
            } = t;
            values.flush().map_err(AnalyzeError::io(&values_tmp))?;
            drop(values);
            let source = Binned {
                chroms: &chroms,
                bins: &bins_tmp,
                values: &values_tmp,
            };
            let bw_tmp = TempFile::new(&bigwig);
            write_bigwig(&source, bw_tmp.path(), chrom_sizes.clone())?;
            bw_tmp.commit().map_err(AnalyzeError::io(&bigwig))?;
            names.push(file_name(&bigwig));
            if bedgraph {
                let tmp = TempFile::new(&bg);
                write_bedgraph(&source, &name, tmp.path())?;
                tmp.commit().map_err(AnalyzeError::io(&bg))?;
                names.push(file_name(&bg));
            }
            std::fs::remove_file(&values_tmp).map_err(AnalyzeError::io(&values_tmp))?;
        }
        std::fs::remove_file(&bins_tmp).map_err(AnalyzeError::io(&bins_tmp))?;
        Ok(names)
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// One track's bins and values, in the temporary files.
struct Binned<'a> {
    chroms: &'a [String],
    bins: &'a Path,
    values: &'a Path,
}

impl Binned<'_> {
    /// The bins with their values, in order.
    fn read(&self) -> std::io::Result<impl Iterator<Item = std::io::Result<(String, Value)>> + '_> {
        let mut bins = BufReader::with_capacity(1 << 16, File::open(self.bins)?);
        let mut values = BufReader::with_capacity(1 << 16, File::open(self.values)?);
        Ok(std::iter::from_fn(move || {
            let mut rec = [0u8; 12];
            match bins.read_exact(&mut rec) {
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return None,
                Err(e) => return Some(Err(e)),
                Ok(()) => {}
            }
            let mut v = [0u8; 4];
            if let Err(e) = values.read_exact(&mut v) {
                return Some(Err(e));
            }
            let u = |i: usize| u32::from_le_bytes(rec[i..i + 4].try_into().expect("4 bytes"));
            Some(Ok((
                self.chroms[u(0) as usize].clone(),
                Value {
                    start: u(4),
                    end: u(8),
                    value: f32::from_le_bytes(v),
                },
            )))
        }))
    }
}

/// Writes a bedGraph (with a track line for the UCSC browser) of one track.
fn write_bedgraph(source: &Binned, name: &str, to: &Path) -> Result<(), AnalyzeError> {
    let io = AnalyzeError::io(to);
    let run = || -> std::io::Result<()> {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(to)?);
        writeln!(
            w,
            "track type=bedGraph name=\"{}\" description=\"ferrosea probability\"",
            name.replace('"', "'")
        )?;
        for item in source.read()? {
            let (chrom, v) = item?;
            writeln!(w, "{chrom}\t{}\t{}\t{}", v.start, v.end, v.value)?;
        }
        w.flush()
    };
    run().map_err(io)
}

/// Writes the bigWig of one track to `to`.
fn write_bigwig(
    source: &Binned,
    to: &Path,
    chrom_sizes: HashMap<String, u32>,
) -> Result<(), AnalyzeError> {
    let mut out = BigWigWrite::create_file(to, chrom_sizes).map_err(AnalyzeError::io(to))?;
    out.options.channel_size = 0;
    out.options.inmemory = true;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(AnalyzeError::io(to))?;
    let make = || {
        let vals = source.read().map_err(bigtools::BBIProcessError::IoError)?;
        Ok(BedParserStreamingIterator::wrap_iter(vals, false))
    };
    out.write_multipass(make, runtime)
        .map_err(|e| AnalyzeError::Input(format!("{}: writing the bigWig: {e}", to.display())))
}
