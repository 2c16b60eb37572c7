//! Reading a dataset file.

use std::ops::Range;
use std::path::{Path, PathBuf};

use ndarray::s;

use crate::{
    layout, Alphabet, Block, DatasetError, Header, LabelKind, Targets, FORMAT_NAME, FORMAT_VERSION,
};

/// An open dataset file.
///
/// See [`crate::Writer`] for an example.
pub struct Reader {
    path: PathBuf,
    file: hdf5::File,
    x: hdf5::Dataset,
    y: hdf5::Dataset,
    len: usize,
    window: usize,
    targets: Targets,
    chrom_names: Vec<String>,
    alphabet: Alphabet,
    labels: LabelKind,
}

impl Reader {
    /// Opens a dataset file and checks its layout.
    pub fn open(path: impl AsRef<Path>) -> Result<Reader, DatasetError> {
        let path = path.as_ref().to_path_buf();
        let h5 = |what: &str| DatasetError::hdf5(&path, what);
        let file = hdf5::File::open(&path).map_err(h5("opening"))?;
        if layout::format(&file).as_deref() != Some(FORMAT_NAME) {
            return Err(DatasetError::Format {
                path,
                message: format!("not a {FORMAT_NAME} file (no 'format' attribute saying so)"),
            });
        }
        let version = file
            .attr("format_version")
            .and_then(|a| a.read_scalar::<i64>())
            .unwrap_or(1);
        if version > FORMAT_VERSION as i64 {
            return Err(DatasetError::Format {
                path,
                message: format!(
                    "format_version {version} is newer than this ferrosea reads \
                     ({FORMAT_VERSION}): update ferrosea"
                ),
            });
        }
        let x = file.dataset("x").map_err(h5("opening x"))?;
        let y = file.dataset("y").map_err(h5("opening y"))?;
        let alphabet = layout::read_alphabet(&x, &path)?;
        let labels = layout::read_label_kind(&file, &path)?;
        let (xs, ys) = (x.shape(), y.shape());
        let c = alphabet.channels();
        let (y_rank, y_type) = match labels {
            LabelKind::Binary => (2, "uint8 [N, T]"),
            LabelKind::Class => (1, "uint8 [N]"),
            LabelKind::Real => (2, "float32 [N, T]"),
        };
        let y_size = y.dtype().map(|t| t.size()).unwrap_or(0);
        let y_ok = ys.len() == y_rank && y_size == if labels == LabelKind::Real { 4 } else { 1 };
        if xs.len() != 3 || xs[2] != c || !y_ok || ys.first() != xs.first() {
            return Err(DatasetError::Format {
                path,
                message: format!(
                    "x has shape {xs:?} and y {ys:?} ({y_size}-byte values): expected x \
                     [N, window, {c}] (alphabet {alphabet}) and y {y_type} ({} labels)",
                    labels.name()
                ),
            });
        }
        let columns = match labels {
            LabelKind::Class => None,
            _ => Some(ys[1]),
        };
        let targets = layout::read_targets(&file, &path, columns, "label")?;
        if labels == LabelKind::Class && targets.len() < 2 {
            return Err(DatasetError::Format {
                path,
                message: format!(
                    "class labels with {} class names in /targets/name: expected at least two",
                    targets.len()
                ),
            });
        }
        let chrom_names = layout::read_strings(&file, &path, "coords/chrom_names")?;
        Ok(Reader {
            len: xs[0],
            window: xs[1],
            path,
            file,
            x,
            y,
            targets,
            chrom_names,
            alphabet,
            labels,
        })
    }

    /// The symbols of `/x` and their encoding.
    pub fn alphabet(&self) -> &Alphabet {
        &self.alphabet
    }

    /// What `/y` holds.
    pub fn labels(&self) -> LabelKind {
        self.labels
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Window length in bases.
    pub fn window(&self) -> usize {
        self.window
    }

    /// Rows per chunk of `x` (the unit of compression, so the cheapest unit of shuffled
    /// reads); `None` for an unchunked file.
    pub fn chunk_rows(&self) -> Option<usize> {
        self.x.chunk().map(|c| c[0].max(1))
    }

    /// The targets.
    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// The underlying HDF5 file, for attributes.
    pub fn file(&self) -> &hdf5::File {
        &self.file
    }

    /// A string file attribute (`None` when missing or of another type).
    pub fn attr_str(&self, name: &str) -> Option<String> {
        layout::attr_str(&self.file, name)
    }

    /// An integer file attribute (`None` when missing or of another type).
    pub fn attr_int(&self, name: &str) -> Option<i64> {
        layout::attr_int(&self.file, name)
    }

    /// What [`Writer::create`](crate::Writer::create) needs to write a file like this one:
    /// window, targets, chromosome names, alphabet, label kind and the file's other
    /// attributes (in name order).
    pub fn header(&self) -> Header {
        Header {
            window: self.window,
            targets: self.targets.clone(),
            chrom_names: self.chrom_names.clone(),
            attrs: layout::extra_attrs(&self.file),
            alphabet: self.alphabet.clone(),
            labels: self.labels,
        }
    }

    /// Rows `rows` as [`Writer::write_rows`](crate::Writer::write_rows) takes them: windows,
    /// labels as stored, coordinates.
    pub fn read_rows(&self, rows: Range<usize>) -> Result<Block, DatasetError> {
        let y = match self.labels {
            LabelKind::Real => crate::real_label_bytes(&self.read_labels(rows.clone())?),
            _ => self.read_y(rows.clone())?,
        };
        let (chrom, start, strand) = self.read_coord_columns(rows.clone())?;
        Ok(Block {
            x: self.read_x(rows)?,
            y,
            chrom,
            start,
            strand,
        })
    }

    fn h5(&self, what: &str) -> impl FnOnce(hdf5::Error) -> DatasetError + use<> {
        DatasetError::hdf5(&self.path, what)
    }

    /// Rows `rows` of `/x`, `rows.len() * window * channels` bytes.
    pub fn read_x(&self, rows: Range<usize>) -> Result<Vec<u8>, DatasetError> {
        let a = self
            .x
            .read_slice::<u8, _, ndarray::Ix3>(s![rows, .., ..])
            .map_err(self.h5("reading x"))?;
        Ok(a.into_iter().collect())
    }

    /// Label rows `rows` as stored: `rows.len() * T` bytes of 0/1 (binary) or `rows.len()`
    /// class indices (class). Real labels are read with [`read_labels`](Self::read_labels).
    pub fn read_y(&self, rows: Range<usize>) -> Result<Vec<u8>, DatasetError> {
        let v = match self.labels {
            LabelKind::Binary => self
                .y
                .read_slice::<u8, _, ndarray::Ix2>(s![rows, ..])
                .map(|a| a.into_iter().collect()),
            LabelKind::Class => self
                .y
                .read_slice_1d::<u8, _>(s![rows])
                .map(|a| a.into_iter().collect()),
            LabelKind::Real => {
                return Err(DatasetError::Format {
                    path: self.path.clone(),
                    message: "the labels are real values, not bytes (read_labels reads them)"
                        .into(),
                })
            }
        };
        v.map_err(self.h5("reading y"))
    }

    /// Label rows `rows` as `[rows.len(), T]` numbers, whatever the kind: 0/1 per target for
    /// binary labels, the one-hot row of the class for class labels, the values for real
    /// ones.
    pub fn read_labels(&self, rows: Range<usize>) -> Result<Vec<f32>, DatasetError> {
        let t = self.targets.len();
        match self.labels {
            LabelKind::Binary => Ok(self.read_y(rows)?.into_iter().map(f32::from).collect()),
            LabelKind::Class => {
                let first = rows.start;
                let idx = self.read_y(rows)?;
                let mut out = vec![0f32; idx.len() * t];
                for (i, &c) in idx.iter().enumerate() {
                    if c as usize >= t {
                        return Err(DatasetError::Format {
                            path: self.path.clone(),
                            message: format!(
                                "/y row {}: class {c} past the last of {t} classes",
                                first + i
                            ),
                        });
                    }
                    out[i * t + c as usize] = 1.0;
                }
                Ok(out)
            }
            LabelKind::Real => self
                .y
                .read_slice::<f32, _, ndarray::Ix2>(s![rows, ..])
                .map(|a| a.into_iter().collect())
                .map_err(self.h5("reading y")),
        }
    }

    /// The chromosome names that `coords/chrom` indexes.
    pub fn chrom_names(&self) -> &[String] {
        &self.chrom_names
    }

    /// The path the file was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Raw coordinate columns of rows `rows`: chromosome indices, window starts, strand bytes.
    pub fn read_coord_columns(
        &self,
        rows: Range<usize>,
    ) -> Result<crate::CoordColumns, DatasetError> {
        layout::read_coord_columns(&self.file, &self.path, rows)
    }

    /// Coordinates of rows `rows`: (chromosome name, 0-based window start, strand byte).
    pub fn read_coords(&self, rows: Range<usize>) -> Result<Vec<(String, i64, u8)>, DatasetError> {
        let (chrom, start, strand) = self.read_coord_columns(rows)?;
        chrom
            .iter()
            .zip(&start)
            .zip(&strand)
            .map(|((&c, &s), &d)| {
                let name = self.chrom_names.get(c as usize).cloned().ok_or_else(|| {
                    DatasetError::Format {
                        path: self.path.clone(),
                        message: format!("coords/chrom index {c} out of range"),
                    }
                })?;
                Ok((name, s, d))
            })
            .collect()
    }
}
