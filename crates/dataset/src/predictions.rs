//! Prediction files: a model's probabilities for every row of a dataset file, with that file's
//! targets, labels and coordinates, so that the file stands alone.
//!
//! ```text
//! /pred               float32 [N, T]  sigmoid probabilities, column t = target t
//! /y                  uint8 [N, T]    the labels of the dataset file the rows came from
//!                                     (class labels one-hot; float32 for real labels)
//! /targets/...        as in a dataset file
//! /coords/...         as in a dataset file
//! ```
//!
//! `pred` and `y` are chunked in tiles of rows x a band of targets (1024 x 64 by default), so
//! that a reader can take the metrics of 64 targets at a time over all rows and read each byte
//! once; `pred` is stored uncompressed unless asked (probabilities hardly compress), `y` with
//! deflate. See docs/FORMAT.md.

use std::ops::Range;
use std::path::{Path, PathBuf};

use ndarray::{s, ArrayView1, ArrayView2};

use crate::writer::{commit, group};
use crate::TempFile;
use crate::{layout, DatasetError, Header, Targets};

/// Value of the `format` file attribute of a prediction file.
pub const PREDICTIONS_FORMAT: &str = "ferrosea-predictions";

/// Tile shape and compression of a prediction file.
#[derive(Clone, Copy, Debug)]
pub struct PredictionsOptions {
    /// Rows per chunk.
    pub chunk_rows: usize,
    /// Targets per chunk (the band a metrics reader takes at once).
    pub chunk_targets: usize,
    /// Deflate level of `pred`, 0 (none, the default) to 9.
    pub level: u32,
}

impl Default for PredictionsOptions {
    fn default() -> Self {
        PredictionsOptions {
            chunk_rows: 1024,
            chunk_targets: 64,
            level: 0,
        }
    }
}

/// Writes a prediction file front to back, under `<path>.tmp` until [`finish`](Self::finish).
pub struct PredictionsWriter {
    path: PathBuf,
    tmp: TempFile,
    file: hdf5::File,
    rows: usize,
    next: usize,
    targets: usize,
    n_chroms: usize,
    labels: crate::LabelKind,
    pred: hdf5::Dataset,
    y: hdf5::Dataset,
    chrom: hdf5::Dataset,
    start: hdf5::Dataset,
    strand: hdf5::Dataset,
}

impl PredictionsWriter {
    /// Creates `<path>.tmp` for `rows` rows. `header.attrs` become file attributes besides
    /// `format`, `format_version` and `window`.
    pub fn create(
        path: &Path,
        header: &Header,
        rows: usize,
        opts: PredictionsOptions,
    ) -> Result<PredictionsWriter, DatasetError> {
        let tmp = TempFile::new(path);
        let h5 = |what: &str| DatasetError::hdf5(path, what);
        let file = hdf5::File::create(tmp.path()).map_err(h5("creating the temporary file"))?;
        let t = header.targets.len();
        let tile = [
            opts.chunk_rows.clamp(1, rows.max(1)),
            opts.chunk_targets.clamp(1, t.max(1)),
        ];
        let pred = file.new_dataset::<f32>().shape([rows, t]).chunk(tile);
        let pred = if opts.level > 0 {
            pred.shuffle().deflate(opts.level.min(9) as u8)
        } else {
            pred
        };
        let pred = pred.create("pred").map_err(h5("creating pred"))?;
        let y = if header.labels == crate::LabelKind::Real {
            file.new_dataset::<f32>()
        } else {
            file.new_dataset::<u8>()
        };
        let y = y
            .shape([rows, t])
            .chunk(tile)
            .deflate(4)
            .create("y")
            .map_err(h5("creating y"))?;
        let coords = group(&file, "coords").map_err(h5("creating coords"))?;
        let chrom =
            coord_column::<u32>(&coords, "chrom", rows).map_err(h5("creating coords/chrom"))?;
        let start =
            coord_column::<i64>(&coords, "start", rows).map_err(h5("creating coords/start"))?;
        let strand =
            coord_column::<u8>(&coords, "strand", rows).map_err(h5("creating coords/strand"))?;
        write_header(&file, &coords, header).map_err(h5("writing the header"))?;
        Ok(PredictionsWriter {
            path: path.to_path_buf(),
            tmp,
            file,
            rows,
            next: 0,
            targets: t,
            n_chroms: header.chrom_names.len(),
            labels: header.labels,
            pred,
            y,
            chrom,
            start,
            strand,
        })
    }

    /// Rows written so far.
    pub fn rows_written(&self) -> usize {
        self.next
    }

    /// Writes the next rows: `pred` and `y` are `[k, T]` row-major (`y` as
    /// [`Reader::read_labels`](crate::Reader::read_labels) gives it), the coordinates one per
    /// row. Blocks of a multiple of `chunk_rows` rows write whole tiles, the fastest way.
    pub fn write_rows(
        &mut self,
        pred: &[f32],
        y: &[f32],
        chrom: &[u32],
        start: &[i64],
        strand: &[u8],
    ) -> Result<(), DatasetError> {
        let k = chrom.len();
        let bad = |message: String| DatasetError::Format {
            path: self.path.clone(),
            message,
        };
        if self.next + k > self.rows {
            return Err(bad(format!(
                "rows {}..{} past the end ({} rows)",
                self.next,
                self.next + k,
                self.rows
            )));
        }
        let t = self.targets;
        if pred.len() != k * t || y.len() != k * t || start.len() != k || strand.len() != k {
            return Err(bad(format!("block of {k} rows has mismatched columns")));
        }
        if let Some(&c) = chrom.iter().find(|&&c| c as usize >= self.n_chroms) {
            return Err(bad(format!("chromosome index {c} out of range")));
        }
        let h5 = |what: &str| {
            DatasetError::hdf5(&self.path, &format!("writing {what} (is the disk full?)"))
        };
        let rows = self.next..self.next + k;
        let shape_err = |e: ndarray::ShapeError| bad(format!("block shape: {e}"));
        let p = ArrayView2::from_shape((k, t), pred).map_err(shape_err)?;
        self.pred
            .write_slice(p, s![rows.clone(), ..])
            .map_err(h5("pred"))?;
        if self.labels == crate::LabelKind::Real {
            let yv = ArrayView2::from_shape((k, t), y).map_err(shape_err)?;
            self.y.write_slice(yv, s![rows.clone(), ..])
        } else {
            if let Some(i) = y.iter().position(|&v| v != 0.0 && v != 1.0) {
                return Err(bad(format!(
                    "row {}: label {} for target {}: expected 0 or 1",
                    self.next + i / t.max(1),
                    y[i],
                    i % t.max(1)
                )));
            }
            let bytes: Vec<u8> = y.iter().map(|&v| v as u8).collect();
            let yv = ArrayView2::from_shape((k, t), &bytes[..]).map_err(shape_err)?;
            self.y.write_slice(yv, s![rows.clone(), ..])
        }
        .map_err(h5("y"))?;
        self.chrom
            .write_slice(ArrayView1::from(chrom), s![rows.clone()])
            .map_err(h5("coords/chrom"))?;
        self.start
            .write_slice(ArrayView1::from(start), s![rows.clone()])
            .map_err(h5("coords/start"))?;
        self.strand
            .write_slice(ArrayView1::from(strand), s![rows])
            .map_err(h5("coords/strand"))?;
        self.next += k;
        Ok(())
    }

    /// Checks that every row was written, closes the file and renames it into place.
    pub fn finish(self) -> Result<PathBuf, DatasetError> {
        if self.next != self.rows {
            return Err(DatasetError::Format {
                path: self.path.clone(),
                message: format!("{} of {} rows written", self.next, self.rows),
            });
        }
        let PredictionsWriter {
            path,
            tmp,
            file,
            pred,
            y,
            chrom,
            start,
            strand,
            ..
        } = self;
        drop((pred, y, chrom, start, strand));
        crate::close_file(&path, file)?;
        commit(tmp)
    }
}

fn coord_column<T: hdf5::H5Type>(
    coords: &hdf5::Group,
    name: &str,
    rows: usize,
) -> hdf5::Result<hdf5::Dataset> {
    coords
        .new_dataset::<T>()
        .shape([rows])
        .chunk([16384.min(rows.max(1))])
        .deflate(4)
        .create(name)
}

fn write_header(file: &hdf5::File, coords: &hdf5::Group, h: &Header) -> hdf5::Result<()> {
    let version = if h.labels == crate::LabelKind::Binary {
        1
    } else {
        2
    };
    layout::write_attrs(file, PREDICTIONS_FORMAT, version, h)?;
    layout::write_names(file, coords, h)
}

/// An open prediction file.
pub struct Predictions {
    path: PathBuf,
    file: hdf5::File,
    pred: hdf5::Dataset,
    y: hdf5::Dataset,
    len: usize,
    targets: Targets,
    chrom_names: Vec<String>,
    labels: crate::LabelKind,
}

impl Predictions {
    /// Opens a prediction file and checks its layout.
    pub fn open(path: impl AsRef<Path>) -> Result<Predictions, DatasetError> {
        let path = path.as_ref().to_path_buf();
        let h5 = |what: &str| DatasetError::hdf5(&path, what);
        let file = hdf5::File::open(&path).map_err(h5("opening"))?;
        let format = layout::format(&file);
        if format.as_deref() != Some(PREDICTIONS_FORMAT) {
            let hint = if format.as_deref() == Some(crate::FORMAT_NAME) {
                " (it is a dataset file: make predictions with `ferrosea-evaluate predict` first)"
            } else {
                ""
            };
            return Err(DatasetError::Format {
                path,
                message: format!("not a {PREDICTIONS_FORMAT} file{hint}"),
            });
        }
        let pred = file.dataset("pred").map_err(h5("opening pred"))?;
        let y = file.dataset("y").map_err(h5("opening y"))?;
        let (ps, ys) = (pred.shape(), y.shape());
        if ps.len() != 2 || ps != ys {
            return Err(DatasetError::Format {
                path,
                message: format!("pred has shape {ps:?} and y {ys:?}: expected both [N, T]"),
            });
        }
        let targets = layout::read_targets(&file, &path, Some(ps[1]), "prediction")?;
        let chrom_names = layout::read_strings(&file, &path, "coords/chrom_names")?;
        let labels = layout::read_label_kind(&file, &path)?;
        Ok(Predictions {
            labels,
            len: ps[0],
            path,
            file,
            pred,
            y,
            targets,
            chrom_names,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The targets.
    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// The chromosome names that the coordinates index.
    pub fn chrom_names(&self) -> &[String] {
        &self.chrom_names
    }

    /// Targets per chunk: reading that many columns at a time reads each chunk once.
    pub fn band(&self) -> usize {
        self.pred
            .chunk()
            .map_or(self.targets.len(), |c| c[1].max(1))
    }

    /// Rows per chunk.
    pub fn chunk_rows(&self) -> usize {
        self.pred.chunk().map_or(self.len.max(1), |c| c[0].max(1))
    }

    /// A string file attribute (`None` when missing or of another type).
    pub fn attr_str(&self, name: &str) -> Option<String> {
        layout::attr_str(&self.file, name)
    }

    /// An integer file attribute (`None` when missing or of another type).
    pub fn attr_int(&self, name: &str) -> Option<i64> {
        layout::attr_int(&self.file, name)
    }

    /// What [`PredictionsWriter::create`] needs to write a file like this one: window,
    /// targets, chromosome names, label kind and the file's other attributes (in name order).
    pub fn header(&self) -> Header {
        Header {
            window: layout::attr_int(&self.file, "window").unwrap_or(0) as usize,
            targets: self.targets.clone(),
            chrom_names: self.chrom_names.clone(),
            attrs: layout::extra_attrs(&self.file),
            labels: self.labels,
            ..Default::default()
        }
    }

    fn h5(&self, what: &str) -> impl FnOnce(hdf5::Error) -> DatasetError + use<> {
        DatasetError::hdf5(&self.path, what)
    }

    /// Probabilities of rows `rows` and targets `cols`, row-major `[rows, cols]`.
    pub fn read_pred(
        &self,
        rows: Range<usize>,
        cols: Range<usize>,
    ) -> Result<Vec<f32>, DatasetError> {
        let a = self
            .pred
            .read_slice::<f32, _, ndarray::Ix2>(s![rows, cols])
            .map_err(self.h5("reading pred"))?;
        Ok(a.into_iter().collect())
    }

    /// Raw coordinate columns of rows `rows`: chromosome indices (into
    /// [`chrom_names`](Self::chrom_names)), window starts, strand bytes.
    pub fn read_coord_columns(
        &self,
        rows: Range<usize>,
    ) -> Result<crate::CoordColumns, DatasetError> {
        layout::read_coord_columns(&self.file, &self.path, rows)
    }

    /// What the labels are: 0/1 per target (binary), one class per row (class, stored
    /// one-hot) or real values.
    pub fn labels(&self) -> crate::LabelKind {
        self.labels
    }

    /// Labels of rows `rows` and targets `cols`, row-major `[rows, cols]`: 0/1 bytes of
    /// binary or class labels (real labels: [`read_labels`](Self::read_labels)).
    pub fn read_y(&self, rows: Range<usize>, cols: Range<usize>) -> Result<Vec<u8>, DatasetError> {
        if self.labels == crate::LabelKind::Real {
            return Err(DatasetError::Format {
                path: self.path.clone(),
                message: "the labels are real values, not bytes".into(),
            });
        }
        let a = self
            .y
            .read_slice::<u8, _, ndarray::Ix2>(s![rows, cols])
            .map_err(self.h5("reading y"))?;
        Ok(a.into_iter().collect())
    }

    /// Labels of rows `rows` and targets `cols` as numbers, whatever their kind.
    pub fn read_labels(
        &self,
        rows: Range<usize>,
        cols: Range<usize>,
    ) -> Result<Vec<f32>, DatasetError> {
        if self.labels != crate::LabelKind::Real {
            return Ok(self
                .read_y(rows, cols)?
                .into_iter()
                .map(f32::from)
                .collect());
        }
        let a = self
            .y
            .read_slice::<f32, _, ndarray::Ix2>(s![rows, cols])
            .map_err(self.h5("reading y"))?;
        Ok(a.into_iter().collect())
    }
}
