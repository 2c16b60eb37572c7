//! A FASTA reference genome: its sequence index, and its sequences one at a time.
//!
//! [`Genome::open`] learns the names and lengths of the sequences before anything is read in
//! bulk, so that a caller can validate its other inputs against them:
//!
//! - plain FASTA: from `<path>.fai`; when missing, the index is built (noodles' indexer) and
//!   written beside the FASTA, as `samtools faidx` does (kept in memory when that directory is
//!   not writable);
//! - bgzip FASTA: from `<path>.fai` when present (the `.gzi` is not needed, since sequences are
//!   read front to back); otherwise by one decompressing pass;
//! - plain gzip FASTA: by one decompressing pass (gzip cannot be indexed).
//!
//! [`Genome::records`] then streams the sequences in file order, holding one at a time, and
//! checks each against the index so that a stale `.fai` is an error, not a silent shift.

mod compression;
mod fetch;

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::num::NonZero;
use std::path::{Path, PathBuf};

use noodles_fasta as fasta;

pub use compression::Compression;
pub use fetch::Fetcher;

/// Name and length of one sequence of the genome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SequenceInfo {
    /// The sequence name (the definition line up to the first space).
    pub name: String,
    /// Length in bases.
    pub length: u64,
}

/// Where the sequence index came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IndexSource {
    /// An existing `.fai` beside the FASTA.
    Fai(PathBuf),
    /// Built now and written to this `.fai`.
    Built(PathBuf),
    /// Built now and kept in memory (the `.fai` could not be written).
    BuiltInMemory,
    /// Learnt by reading the whole (compressed) file once.
    Scanned,
}

/// Errors reading a genome; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum GenomeError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The file does not start with a `>` definition line.
    #[error("{path}: not a FASTA file: expected '>' at the start of line 1, found {found:?}")]
    NotFasta {
        /// The file.
        path: PathBuf,
        /// What was there instead.
        found: String,
    },
    /// The file holds no sequence.
    #[error("{path}: no sequences in FASTA file")]
    NoSequences {
        /// The file.
        path: PathBuf,
    },
    /// Two sequences share a name.
    #[error("{path}: duplicate sequence name '{name}' (sequences {first} and {second})")]
    DuplicateName {
        /// The file.
        path: PathBuf,
        /// The repeated name.
        name: String,
        /// 1-based number of the first sequence with that name.
        first: usize,
        /// 1-based number of the second.
        second: usize,
    },
    /// The genome cannot be read at random (plain gzip, or a missing index).
    #[error("{path}: cannot read intervals of this FASTA: {why}")]
    NotIndexable {
        /// The file.
        path: PathBuf,
        /// Why, and what to do.
        why: String,
    },
    /// An interval outside the sequences of the genome.
    #[error("{path}: {message}")]
    OutOfBounds {
        /// The file.
        path: PathBuf,
        /// Which interval.
        message: String,
    },
    /// The `.fai` does not describe the FASTA.
    #[error("{path}: the index {fai} is stale: it lists sequence {number} as '{expected}' of {expected_len} bp, the FASTA has '{found}' of {found_len} bp; delete the .fai to rebuild it")]
    StaleIndex {
        /// The FASTA.
        path: PathBuf,
        /// The index.
        fai: PathBuf,
        /// 1-based sequence number.
        number: usize,
        /// Name in the index.
        expected: String,
        /// Length in the index.
        expected_len: u64,
        /// Name in the FASTA.
        found: String,
        /// Length in the FASTA.
        found_len: u64,
    },
}

impl GenomeError {
    fn io(path: &Path) -> impl FnOnce(io::Error) -> GenomeError + '_ {
        move |source| GenomeError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// A FASTA reference genome.
///
/// # Examples
///
/// ```
/// use ferrosea_genome::Genome;
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("g.fa");
/// std::fs::write(&path, ">chr1 first\nACGTN\nacg\n>chr2\nTT\n")?;
/// let genome = Genome::open(&path, 1)?;
/// assert_eq!(genome.sequences()[0].length, 8);
/// assert!(dir.path().join("g.fa.fai").exists()); // built, as samtools faidx would
///
/// let mut records = genome.records()?;
/// let (mut name, mut seq) = (String::new(), Vec::new());
/// while records.next_into(&mut name, &mut seq)? {
///     println!("{name}: {} bp", seq.len());
/// }
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Genome {
    path: PathBuf,
    compression: Compression,
    sequences: Vec<SequenceInfo>,
    index_source: IndexSource,
    threads: usize,
}

impl Genome {
    /// Opens a FASTA file and reads or builds its index. `threads` is used for bgzip
    /// decompression.
    pub fn open(path: impl AsRef<Path>, threads: usize) -> Result<Self, GenomeError> {
        let path = path.as_ref().to_path_buf();
        let compression = Compression::detect(&path).map_err(GenomeError::io(&path))?;
        let fai = fai_path(&path);
        let mut genome = Genome {
            path,
            compression,
            sequences: Vec::new(),
            index_source: IndexSource::Scanned,
            threads: threads.max(1),
        };
        genome.check_first_line()?;
        if compression != Compression::Gzip && fai.exists() {
            let index = fasta::fai::fs::read(&fai).map_err(GenomeError::io(&fai))?;
            genome.sequences = infos(&index);
            genome.index_source = IndexSource::Fai(fai);
        } else if compression == Compression::None {
            let index = fasta::fs::index(&genome.path).map_err(GenomeError::io(&genome.path))?;
            genome.sequences = infos(&index);
            genome.index_source = match write_fai(&fai, &index) {
                Ok(()) => IndexSource::Built(fai),
                Err(_) => IndexSource::BuiltInMemory,
            };
        } else {
            genome.sequences = genome.scan()?;
        }
        if genome.sequences.is_empty() {
            return Err(GenomeError::NoSequences { path: genome.path });
        }
        check_unique(&genome.path, &genome.sequences)?;
        if let IndexSource::Fai(_) = genome.index_source {
            // An existing index may belong to another file (a stale or copied .fai): its first
            // sequence's name and length are checked against the FASTA now, before any
            // caller plans work (splits, regions) on the index's lengths; the others are
            // checked as they are streamed.
            let (mut name, mut seq) = (String::new(), Vec::new());
            genome.records()?.next_into(&mut name, &mut seq)?;
        }
        Ok(genome)
    }

    /// The FASTA file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How the file is compressed.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Where the index came from.
    pub fn index_source(&self) -> &IndexSource {
        &self.index_source
    }

    /// The sequences, in file order.
    pub fn sequences(&self) -> &[SequenceInfo] {
        &self.sequences
    }

    /// Streams the sequences in file order, one at a time.
    pub fn records(&self) -> Result<Records<'_>, GenomeError> {
        Ok(Records {
            reader: fasta::io::Reader::new(self.open_stream()?),
            genome: self,
            number: 0,
            definition: fasta::record::Definition::default(),
        })
    }

    fn open_stream(&self) -> Result<Box<dyn BufRead + Send>, GenomeError> {
        let file = File::open(&self.path).map_err(GenomeError::io(&self.path))?;
        Ok(match self.compression {
            Compression::None => Box::new(BufReader::with_capacity(1 << 20, file)),
            Compression::Gzip => Box::new(BufReader::with_capacity(
                1 << 20,
                flate2::read::MultiGzDecoder::new(file),
            )),
            Compression::Bgzf => {
                let workers = NonZero::new(self.threads).unwrap_or(NonZero::<usize>::MIN);
                let reader =
                    noodles_bgzf::io::MultithreadedReader::with_worker_count(workers, file);
                Box::new(BufReader::with_capacity(1 << 20, reader))
            }
        })
    }

    fn check_first_line(&self) -> Result<(), GenomeError> {
        let mut stream = self.open_stream()?;
        let buf = stream.fill_buf().map_err(GenomeError::io(&self.path))?;
        match buf.first() {
            None => Err(GenomeError::NoSequences {
                path: self.path.clone(),
            }),
            Some(b'>') => Ok(()),
            Some(_) => {
                let line = buf.split(|&b| b == b'\n').next().unwrap_or_default();
                let found = String::from_utf8_lossy(&line[..line.len().min(40)]).into_owned();
                Err(GenomeError::NotFasta {
                    path: self.path.clone(),
                    found,
                })
            }
        }
    }

    fn scan(&self) -> Result<Vec<SequenceInfo>, GenomeError> {
        let mut out = Vec::new();
        let mut reader = fasta::io::Reader::new(self.open_stream()?);
        let mut definition = fasta::record::Definition::default();
        let mut seq = Vec::new();
        loop {
            match reader.read_definition(&mut definition) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    return Err(GenomeError::Io {
                        path: self.path.clone(),
                        source: e,
                    })
                }
            }
            seq.clear();
            reader
                .read_sequence(&mut seq)
                .map_err(GenomeError::io(&self.path))?;
            out.push(SequenceInfo {
                name: String::from_utf8_lossy(definition.name()).into_owned(),
                length: seq.len() as u64,
            });
        }
        Ok(out)
    }
}

/// The sequences of a [`Genome`], streamed in file order.
pub struct Records<'g> {
    reader: fasta::io::Reader<Box<dyn BufRead + Send>>,
    genome: &'g Genome,
    number: usize,
    definition: fasta::record::Definition,
}

impl Records<'_> {
    /// Reads the next sequence into `name` and `seq` (both overwritten). Returns `false` at
    /// the end of the file.
    pub fn next_into(&mut self, name: &mut String, seq: &mut Vec<u8>) -> Result<bool, GenomeError> {
        let path = &self.genome.path;
        if self
            .reader
            .read_definition(&mut self.definition)
            .map_err(GenomeError::io(path))?
            == 0
        {
            return Ok(false);
        }
        seq.clear();
        self.reader
            .read_sequence(seq)
            .map_err(GenomeError::io(path))?;
        name.clear();
        name.push_str(&String::from_utf8_lossy(self.definition.name()));
        self.number += 1;
        let expected = self.genome.sequences.get(self.number - 1);
        if expected.is_none_or(|e| e.name != *name || e.length != seq.len() as u64) {
            let fai = match &self.genome.index_source {
                IndexSource::Fai(p) | IndexSource::Built(p) => p.clone(),
                _ => PathBuf::from("(index in memory)"),
            };
            return Err(GenomeError::StaleIndex {
                path: path.clone(),
                fai,
                number: self.number,
                expected: expected.map_or_else(|| "(none)".into(), |e| e.name.clone()),
                expected_len: expected.map_or(0, |e| e.length),
                found: name.clone(),
                found_len: seq.len() as u64,
            });
        }
        Ok(true)
    }
}

/// The `.fai` path of a FASTA file: `genome.fa` -> `genome.fa.fai`.
pub fn fai_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".fai");
    PathBuf::from(s)
}

fn infos(index: &fasta::fai::Index) -> Vec<SequenceInfo> {
    index
        .as_ref()
        .iter()
        .map(|r| SequenceInfo {
            name: String::from_utf8_lossy(r.name()).into_owned(),
            length: r.length(),
        })
        .collect()
}

fn write_fai(fai: &Path, index: &fasta::fai::Index) -> io::Result<()> {
    let mut tmp = fai.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    fasta::fai::fs::write(&tmp, index)
        .and_then(|()| std::fs::rename(&tmp, fai))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
}

fn check_unique(path: &Path, sequences: &[SequenceInfo]) -> Result<(), GenomeError> {
    let mut seen = std::collections::HashMap::new();
    for (i, s) in sequences.iter().enumerate() {
        if let Some(first) = seen.insert(s.name.as_str(), i) {
            return Err(GenomeError::DuplicateName {
                path: path.to_path_buf(),
                name: s.name.clone(),
                first: first + 1,
                second: i + 1,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
