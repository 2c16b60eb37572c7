//! Random access to a reference genome: the bases of any interval, through the FASTA index
//! (and, for bgzip, its `.gzi`), as the analysis of variants and regions needs.

use std::fs::File;
use std::path::{Path, PathBuf};

use noodles_core::{Position, Region};
use noodles_fasta as fasta;

use super::{fai_path, Compression, Genome, GenomeError, IndexSource};

/// Reads intervals of a [`Genome`] at random, one open file per fetcher (a fetcher is not
/// shared between threads: open one per thread).
pub struct Fetcher {
    path: PathBuf,
    reader: fasta::io::IndexedReader<fasta::io::BufReader<File>>,
    lengths: std::collections::HashMap<String, u64>,
}

impl Genome {
    /// Opens the genome for random access. Plain FASTA needs its `.fai` (which
    /// [`Genome::open`] writes when it can); bgzip FASTA needs `.fai` and `.gzi` (`samtools
    /// faidx` writes both); plain gzip cannot be read at random.
    pub fn fetcher(&self) -> Result<Fetcher, GenomeError> {
        let not_indexable = |why: &str| GenomeError::NotIndexable {
            path: self.path.clone(),
            why: why.to_string(),
        };
        let fai = match (&self.index_source, self.compression) {
            (_, Compression::Gzip) => {
                return Err(not_indexable(
                    "gzip (not bgzip) FASTA cannot be read at random; decompress it (gunzip) \
                     or recompress it with `bgzip`, then index it with `samtools faidx`",
                ))
            }
            (IndexSource::Fai(p) | IndexSource::Built(p), _) => p.clone(),
            (IndexSource::BuiltInMemory, _) => {
                return Err(not_indexable(&format!(
                    "its index could not be written to {} (is the directory read-only?); \
                     copy the FASTA somewhere writable or run `samtools faidx` on it",
                    fai_path(&self.path).display()
                )))
            }
            (IndexSource::Scanned, _) => {
                return Err(not_indexable(&format!(
                    "bgzip FASTA needs its index {} and {}.gzi: run `samtools faidx {}`",
                    fai_path(&self.path).display(),
                    self.path.display(),
                    self.path.display()
                )))
            }
        };
        if self.compression == Compression::Bgzf {
            let mut gzi = self.path.as_os_str().to_owned();
            gzi.push(".gzi");
            if !Path::new(&gzi).exists() {
                return Err(not_indexable(&format!(
                    "bgzip FASTA needs its block index {}: run `samtools faidx {}` (or \
                     `bgzip -r`)",
                    Path::new(&gzi).display(),
                    self.path.display()
                )));
            }
        }
        let index = fasta::fai::fs::read(&fai).map_err(GenomeError::io(&fai))?;
        let reader = fasta::io::indexed_reader::Builder::default()
            .set_index(index)
            .build_from_path(&self.path)
            .map_err(GenomeError::io(&self.path))?;
        Ok(Fetcher {
            path: self.path.clone(),
            reader,
            lengths: self
                .sequences
                .iter()
                .map(|s| (s.name.clone(), s.length))
                .collect(),
        })
    }
}

impl Fetcher {
    /// The length of a sequence, or `None` when the genome has no such sequence.
    pub fn length(&self, name: &str) -> Option<u64> {
        self.lengths.get(name).copied()
    }

    /// The bases `[start, end)` (0-based, half-open) of sequence `name`, in the FASTA's case.
    /// The interval must lie inside the sequence.
    pub fn fetch(&mut self, name: &str, start: u64, end: u64) -> Result<Vec<u8>, GenomeError> {
        let length = self.length(name).ok_or_else(|| GenomeError::OutOfBounds {
            path: self.path.clone(),
            message: format!("no sequence named '{name}'"),
        })?;
        if start >= end || end > length {
            return Err(GenomeError::OutOfBounds {
                path: self.path.clone(),
                message: format!(
                    "{name}:{start}-{end} is not an interval inside {name} (0..{length})"
                ),
            });
        }
        let first = Position::try_from(start as usize + 1).expect("start + 1 > 0");
        let last = Position::try_from(end as usize).expect("end > 0");
        let record = self
            .reader
            .query(&Region::new(name, first..=last))
            .map_err(GenomeError::io(&self.path))?;
        let seq = record.sequence().as_ref().to_vec();
        if seq.len() as u64 != end - start {
            return Err(GenomeError::OutOfBounds {
                path: self.path.clone(),
                message: format!(
                    "{name}:{start}-{end}: read {} bases instead of {} (is the index stale?)",
                    seq.len(),
                    end - start
                ),
            });
        }
        Ok(seq)
    }
}
