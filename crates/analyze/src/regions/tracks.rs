//! Genome tracks of tiled predictions: one bedGraph and one bigWig per chosen target.
//!
//! While windows are predicted, each track's values go to its bedGraph (under a temporary
//! name), a line per bin, so memory does not grow with the chromosome. At the end each
//! bedGraph is read back (streamed) into its bigWig by `bigtools`; the bedGraph is kept only
//! with `--bedgraph`. Values are written with Rust's shortest round-trip formatting of the
//! float32 probability, so the bigWig holds exactly the float32 of `regions.h5`.
//!
//! Determinism: bigtools encodes on a tokio runtime. Ours is a current-thread runtime with
//! `channel_size = 0` and `inmemory = true` (what `bedGraphToBigWig --nthreads 1` of the
//! bigtools CLI uses), so sections are compressed and written in one fixed order: the bytes
//! do not depend on `-j` or the machine.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use bigtools::beddata::BedParserStreamingIterator;
use bigtools::{BigWigWrite, Value};

use crate::AnalyzeError;

/// The tracks of one run.
pub struct Tracks {
    tracks: Vec<Track>,
}

struct Track {
    /// Column of the target in a row of predictions.
    column: usize,
    bedgraph: PathBuf,
    bigwig: PathBuf,
    tmp: PathBuf,
    w: BufWriter<File>,
}

impl Tracks {
    /// Starts the bedGraphs of targets `columns` (named `names`) in `dir`: `<name>.bedGraph`
    /// and `<name>.bw`, `name` made file-safe (a clash gets `_2`, `_3`, ...).
    pub fn create(dir: &Path, columns: &[usize], names: &[String]) -> Result<Tracks, AnalyzeError> {
        let mut used: HashMap<String, usize> = HashMap::new();
        let mut tracks = Vec::new();
        for &c in columns {
            let base = crate::sequences::file_safe(&names[c]);
            let n = used.entry(base.clone()).or_insert(0);
            *n += 1;
            let stem = if *n == 1 { base } else { format!("{base}_{n}") };
            let bedgraph = dir.join(format!("{stem}.bedGraph"));
            let tmp = ferrosea_dataset::tmp_path(&bedgraph);
            let mut w = BufWriter::new(File::create(&tmp).map_err(AnalyzeError::io(&tmp))?);
            writeln!(
                w,
                "track type=bedGraph name=\"{}\" description=\"ferrosea probability\"",
                names[c].replace('"', "'")
            )
            .map_err(AnalyzeError::io(&tmp))?;
            tracks.push(Track {
                column: c,
                bigwig: dir.join(format!("{stem}.bw")),
                bedgraph,
                tmp,
                w,
            });
        }
        Ok(Tracks { tracks })
    }

    /// The temporary files the tracks are written under.
    pub fn temporary(&self) -> Vec<PathBuf> {
        self.tracks
            .iter()
            .flat_map(|t| [t.tmp.clone(), ferrosea_dataset::tmp_path(&t.bigwig)])
            .collect()
    }

    /// Appends the bin `[start, end)` of `chrom` with the predictions `row` (all targets).
    pub fn bin(
        &mut self,
        chrom: &str,
        start: u64,
        end: u64,
        row: &[f32],
    ) -> Result<(), AnalyzeError> {
        for t in &mut self.tracks {
            writeln!(t.w, "{chrom}\t{start}\t{end}\t{}", row[t.column])
                .map_err(AnalyzeError::io(&t.tmp))?;
        }
        Ok(())
    }

    /// Writes every bigWig (chromosome sizes from the genome's index) and renames the files
    /// into place; keeps the bedGraphs when `bedgraph`. Returns the file names written.
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
        let mut names = Vec::new();
        for t in self.tracks {
            let Track {
                bedgraph: bg,
                bigwig,
                tmp,
                mut w,
                ..
            } = t;
            w.flush().map_err(AnalyzeError::io(&tmp))?;
            drop(w);
            let bw_tmp = ferrosea_dataset::tmp_path(&bigwig);
            write_bigwig(&tmp, &bw_tmp, chrom_sizes.clone()).inspect_err(|_| {
                let _ = std::fs::remove_file(&bw_tmp);
            })?;
            std::fs::rename(&bw_tmp, &bigwig).map_err(AnalyzeError::io(&bigwig))?;
            names.push(file_name(&bigwig));
            if bedgraph {
                std::fs::rename(&tmp, &bg).map_err(AnalyzeError::io(&bg))?;
                names.push(file_name(&bg));
            } else {
                std::fs::remove_file(&tmp).map_err(AnalyzeError::io(&tmp))?;
            }
        }
        Ok(names)
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// The values of a bedGraph we wrote (its track line skipped).
fn values(
    path: &Path,
) -> Result<impl Iterator<Item = Result<(String, Value), std::io::Error>>, AnalyzeError> {
    let f = File::open(path).map_err(AnalyzeError::io(path))?;
    let bad = |line: &str| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("unreadable bedGraph line '{line}'"),
        )
    };
    Ok(BufReader::new(f)
        .lines()
        .filter(|l| !l.as_ref().is_ok_and(|l| l.starts_with("track")))
        .map(move |line| {
            let line = line?;
            let mut c = line.split('\t');
            let (chrom, start, end, value) = (c.next(), c.next(), c.next(), c.next());
            let parsed = (|| {
                Some((
                    chrom?.to_string(),
                    Value {
                        start: start?.parse().ok()?,
                        end: end?.parse().ok()?,
                        value: value?.parse().ok()?,
                    },
                ))
            })();
            parsed.ok_or_else(|| bad(&line))
        }))
}

/// Converts the bedGraph `from` into the bigWig `to`.
fn write_bigwig(
    from: &Path,
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
        let vals = values(from).map_err(|e| {
            bigtools::BBIProcessError::IoError(std::io::Error::other(e.to_string()))
        })?;
        Ok(BedParserStreamingIterator::wrap_iter(vals, false))
    };
    out.write_multipass(make, runtime)
        .map_err(|e| AnalyzeError::Input(format!("{}: writing the bigWig: {e}", to.display())))
}
