//! Streaming rows into a new dataset file.
//!
//! Rows may arrive in any order of blocks (prep writes the forward block and the reverse
//! complement block side by side); each chunk is compressed once complete, on the rayon pool,
//! and stored with a direct chunk write, so compression runs on all cores while libhdf5 (which
//! is not thread-safe) is only called from the writing thread. The bytes of the file do not
//! depend on the number of threads: chunks are compressed independently and written in a
//! fixed order.

mod column;

use std::path::{Path, PathBuf};

use hdf5::types::VarLenUnicode;

use self::column::Column;
use crate::{AttrValue, DatasetError, Header, LabelKind, TempFile, FORMAT_NAME};

/// Tuning of a [`Writer`].
#[derive(Clone, Copy, Debug)]
pub struct WriterOptions {
    /// Rows per chunk of `x` and `y` (the unit of compression and of shuffled reads).
    pub chunk_rows: usize,
    /// Rows per chunk of the 1-D `coords/*` datasets.
    pub coord_chunk_rows: usize,
    /// Deflate level, 1 (fast) to 9 (small).
    pub level: u32,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            chunk_rows: 256,
            coord_chunk_rows: 16384,
            level: 4,
        }
    }
}

/// Rows to write: `len` rows starting anywhere.
#[derive(Clone, Debug, Default)]
pub struct Block {
    /// Windows, `len * window * channels` bytes (4 channels, one-hot A, C, G, T, unless the
    /// header says another [`crate::Alphabet`]).
    pub x: Vec<u8>,
    /// Labels as `/y` stores them: `len * T` bytes of 0/1 (binary), `len` class indices
    /// (class), or `len * T` little-endian float32 ([`crate::real_label_bytes`]; real).
    pub y: Vec<u8>,
    /// Index into the chromosome names, one per row.
    pub chrom: Vec<u32>,
    /// 0-based window starts.
    pub start: Vec<i64>,
    /// `b'+'` or `b'-'`.
    pub strand: Vec<u8>,
}

impl Block {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.chrom.len()
    }

    /// Whether the block has no rows.
    pub fn is_empty(&self) -> bool {
        self.chrom.is_empty()
    }
}

/// Writes one dataset file of a known number of rows.
///
/// The file is created as `<path>.tmp` and renamed to `<path>` by [`Writer::finish`]; a writer
/// dropped before that (an error, a panic), or whose close fails, removes its temporary file.
///
/// # Examples
///
/// ```
/// use ferrosea_dataset::{Block, Header, Reader, Targets, Writer, WriterOptions};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("train.h5");
/// let header = Header {
///     window: 2,
///     targets: Targets { name: vec!["CTCF".into()], category: vec!["TF".into()], ..Default::default() },
///     chrom_names: vec!["chr1".into()],
///     ..Default::default()
/// };
/// let mut w = Writer::create(&path, &header, 1, WriterOptions::default())?;
/// let block = Block { x: vec![1, 0, 0, 0, 0, 0, 0, 1], y: vec![1], chrom: vec![0], start: vec![10], strand: vec![b'+'] };
/// w.write_rows(0, &block)?;
/// w.finish()?;
/// let r = Reader::open(&path)?;
/// assert_eq!((r.len(), r.window()), (1, 2));
/// assert_eq!(r.read_x(0..1)?, block.x);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub struct Writer {
    path: PathBuf,
    tmp: TempFile,
    file: hdf5::File,
    rows: usize,
    window: usize,
    n_targets: usize,
    n_chroms: usize,
    alphabet: crate::Alphabet,
    labels: crate::LabelKind,
    x: Column,
    y: Column,
    chrom: Column,
    start: Column,
    strand: Column,
}

impl Writer {
    /// Creates `<path>.tmp` with all datasets sized for `rows` rows.
    pub fn create(
        path: &Path,
        header: &Header,
        rows: usize,
        opts: WriterOptions,
    ) -> Result<Writer, DatasetError> {
        let tmp = TempFile::new(path);
        let h5 = |what: &str| DatasetError::hdf5(path, what);
        let file = hdf5::File::create(tmp.path()).map_err(h5("creating the temporary file"))?;
        let (w, t) = (header.window, header.targets.len());
        let c = opts.chunk_rows.max(1);
        let cc = opts.coord_chunk_rows.max(1);
        let x = Column::create::<u8>(
            &file,
            "x",
            rows,
            &[w, header.alphabet.channels()],
            c,
            opts.level,
        )
        .map_err(h5("creating x"))?;
        let y = match header.labels {
            LabelKind::Binary => Column::create::<u8>(&file, "y", rows, &[t], c, opts.level),
            LabelKind::Class => Column::create::<u8>(&file, "y", rows, &[], c, opts.level),
            LabelKind::Real => Column::create::<f32>(&file, "y", rows, &[t], c, opts.level),
        }
        .map_err(h5("creating y"))?;
        if header.labels == LabelKind::Class && !(2..=256).contains(&t) {
            return Err(DatasetError::Format {
                path: path.to_path_buf(),
                message: format!("class labels need 2 to 256 classes (targets), not {t}"),
            });
        }
        let coords = group(&file, "coords").map_err(h5("creating coords"))?;
        let chrom = Column::create::<u32>(&coords, "chrom", rows, &[], cc, opts.level)
            .map_err(h5("creating coords/chrom"))?;
        let start = Column::create::<i64>(&coords, "start", rows, &[], cc, opts.level)
            .map_err(h5("creating coords/start"))?;
        let strand = Column::create::<u8>(&coords, "strand", rows, &[], cc, opts.level)
            .map_err(h5("creating coords/strand"))?;
        write_header(&file, &coords, header).map_err(h5("writing the header"))?;
        Ok(Writer {
            path: path.to_path_buf(),
            tmp,
            file,
            rows,
            window: w,
            n_targets: t,
            n_chroms: header.chrom_names.len(),
            alphabet: header.alphabet.clone(),
            labels: header.labels,
            x,
            y,
            chrom,
            start,
            strand,
        })
    }

    /// The final path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `block` at rows `first_row..first_row + block.len()`.
    pub fn write_rows(&mut self, first_row: usize, block: &Block) -> Result<(), DatasetError> {
        let k = block.len();
        let bad = |message: String| DatasetError::Format {
            path: self.path.clone(),
            message,
        };
        if first_row + k > self.rows {
            return Err(bad(format!(
                "rows {first_row}..{} past the end ({} rows)",
                first_row + k,
                self.rows
            )));
        }
        if block.x.len() != k * self.window * self.alphabet.channels()
            || block.y.len() != k * crate::label_row_bytes(self.labels, self.n_targets)
            || block.start.len() != k
            || block.strand.len() != k
        {
            return Err(bad(format!("block of {k} rows has mismatched columns")));
        }
        if let Some(&c) = block.chrom.iter().find(|&&c| c as usize >= self.n_chroms) {
            return Err(bad(format!(
                "chromosome index {c} out of range ({} names)",
                self.n_chroms
            )));
        }
        let row_x = self.window * self.alphabet.channels();
        for (i, row) in block.x.chunks_exact(row_x.max(1)).enumerate() {
            if let Some((pos, ch, v)) = self.alphabet.first_bad_value(row) {
                return Err(bad(format!(
                    "row {}: /x holds {v} at position {pos}, channel {ch}, which alphabet {} \
                     cannot hold",
                    first_row + i,
                    self.alphabet
                )));
            }
        }
        let bad_label = match self.labels {
            LabelKind::Binary => block.y.iter().position(|&v| v > 1).map(|k| {
                let t = self.n_targets.max(1);
                format!(
                    "row {}: label {} for target {}: expected 0 or 1",
                    first_row + k / t,
                    block.y[k],
                    k % t
                )
            }),
            LabelKind::Class => block
                .y
                .iter()
                .position(|&v| v as usize >= self.n_targets)
                .map(|k| {
                    format!(
                        "row {}: class {} past the last of {} classes",
                        first_row + k,
                        block.y[k],
                        self.n_targets
                    )
                }),
            LabelKind::Real => block
                .y
                .chunks_exact(4)
                .position(|b| !f32::from_le_bytes(b.try_into().expect("4 bytes")).is_finite())
                .map(|k| {
                    let t = self.n_targets.max(1);
                    format!(
                        "row {}: label for target {} is not a finite number",
                        first_row + k / t,
                        k % t
                    )
                }),
        };
        if let Some(m) = bad_label {
            return Err(bad(m));
        }
        let h5 = |what: &str| {
            DatasetError::hdf5(&self.path, &format!("writing {what} (is the disk full?)"))
        };
        self.x.put(first_row, &block.x).map_err(h5("x"))?;
        self.y.put(first_row, &block.y).map_err(h5("y"))?;
        self.chrom
            .put(first_row, &le_bytes(&block.chrom, u32::to_le_bytes))
            .map_err(h5("coords/chrom"))?;
        self.start
            .put(first_row, &le_bytes(&block.start, i64::to_le_bytes))
            .map_err(h5("coords/start"))?;
        self.strand
            .put(first_row, &block.strand)
            .map_err(h5("coords/strand"))?;
        Ok(())
    }

    /// Checks that every row was written, closes the file and renames it into place.
    pub fn finish(self) -> Result<PathBuf, DatasetError> {
        self.close()?.commit()
    }

    /// Checks that every row was written and closes the file, leaving it under its temporary
    /// name: [`Closed::commit`] renames it into place. A stage that writes several files
    /// closes them all, and commits them only when every one is complete, so that a failure
    /// in the last never leaves the first looking finished.
    pub fn close(self) -> Result<Closed, DatasetError> {
        for c in [&self.x, &self.y, &self.chrom, &self.start, &self.strand] {
            if let Some(missing) = c.first_missing_row() {
                return Err(DatasetError::Format {
                    path: self.path.clone(),
                    message: format!("row {missing} was never written"),
                });
            }
        }
        let Writer {
            path,
            tmp,
            file,
            x,
            y,
            chrom,
            start,
            strand,
            ..
        } = self;
        // Dataset handles must go before the file closes for real.
        drop((x, y, chrom, start, strand));
        crate::close_file(&path, file)?;
        Ok(Closed { tmp })
    }
}

/// A complete file still under its temporary name (from [`Writer::close`]); removed when
/// dropped without [`Closed::commit`].
#[derive(Debug)]
pub struct Closed {
    tmp: TempFile,
}

impl Closed {
    /// Renames the file into place; returns its path.
    pub fn commit(self) -> Result<PathBuf, DatasetError> {
        commit(self.tmp)
    }
}

/// Puts a complete file in place ([`TempFile::commit`]), naming it on failure.
pub(crate) fn commit(tmp: TempFile) -> Result<PathBuf, DatasetError> {
    let path = tmp.target().to_path_buf();
    tmp.commit().map_err(|source| DatasetError::Io {
        path,
        what: "renaming the finished file into place".into(),
        source,
    })
}

fn le_bytes<T: Copy, const N: usize>(v: &[T], f: fn(T) -> [u8; N]) -> Vec<u8> {
    v.iter().flat_map(|&x| f(x)).collect()
}

/// Creates a group without modification times, so that files are byte-reproducible.
pub(crate) fn group(parent: &hdf5::Group, name: &str) -> hdf5::Result<hdf5::Group> {
    parent
        .create_group_builder()
        .with_gcpl(|p| p.obj_track_times(false))
        .create(name)
}

pub(crate) fn strings(parent: &hdf5::Group, name: &str, values: &[String]) -> hdf5::Result<()> {
    let v: Vec<VarLenUnicode> = values
        .iter()
        .map(|s| s.parse().expect("valid UTF-8 without NUL"))
        .collect();
    parent.new_dataset_builder().with_data(&v).create(name)?;
    Ok(())
}

pub(crate) fn attr(loc: &hdf5::Location, name: &str, value: &AttrValue) -> hdf5::Result<()> {
    match value {
        AttrValue::Str(s) => {
            let s = s.replace('\0', "");
            loc.new_attr::<VarLenUnicode>()
                .create(name)?
                .write_scalar(&s.parse::<VarLenUnicode>().expect("no NUL"))
        }
        AttrValue::Int(i) => loc.new_attr::<i64>().create(name)?.write_scalar(i),
    }
}

fn write_header(file: &hdf5::File, coords: &hdf5::Group, h: &Header) -> hdf5::Result<()> {
    crate::layout::write_attrs(file, FORMAT_NAME, h.format_version(), h)?;
    let x = file.dataset("x")?;
    attr(&x, "alphabet", &AttrValue::Str(h.alphabet.symbols().into()))?;
    if !h.alphabet.is_dna() {
        attr(
            &x,
            "encoding",
            &AttrValue::Str(h.alphabet.encoding().name().into()),
        )?;
    }
    crate::layout::write_names(file, coords, h)
}
