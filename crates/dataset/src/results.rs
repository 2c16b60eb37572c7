//! Result files of the analysis stage: a table of rows whose count is not known in advance
//! (variants, regions, sequences), with per-row label columns and float32 arrays.
//!
//! ```text
//! /rows/<name>        one column per label: variable-length UTF-8 strings, int64 or uint8
//! /<array>            float32 [N, ...]: one array per score, row i = row i of /rows
//! /targets/name ...   the targets, as in a dataset file
//! attributes          format, format_version, then the writer's own (provenance)
//! ```
//!
//! Every dataset is chunked along rows and grows as rows are appended; the file is written as
//! `<path>.tmp` and renamed into place by [`ResultsWriter::finish`]. Modification times are
//! not recorded, so the same rows give the same bytes. See docs/FORMAT.md.

use std::ops::Range;
use std::path::{Path, PathBuf};

use hdf5::types::VarLenUnicode;
use hdf5::{Extent, SimpleExtents};

use crate::writer::{attr, commit, group, strings};
use crate::TempFile;
use crate::{AttrValue, DatasetError};

/// The kind of a label column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    /// Variable-length UTF-8 strings.
    Str,
    /// 64-bit integers.
    Int,
    /// Booleans, stored as uint8 0/1.
    Bool,
}

/// The values of one label column for the rows of one append.
#[derive(Clone, Copy, Debug)]
pub enum Column<'a> {
    /// Strings (no NUL bytes: they are dropped).
    Str(&'a [String]),
    /// Integers.
    Int(&'a [i64]),
    /// Booleans.
    Bool(&'a [bool]),
}

impl Column<'_> {
    fn len(&self) -> usize {
        match self {
            Column::Str(v) => v.len(),
            Column::Int(v) => v.len(),
            Column::Bool(v) => v.len(),
        }
    }
    fn kind(&self) -> ColumnKind {
        match self {
            Column::Str(_) => ColumnKind::Str,
            Column::Int(_) => ColumnKind::Int,
            Column::Bool(_) => ColumnKind::Bool,
        }
    }
}

/// What a result file holds.
#[derive(Clone, Debug)]
pub struct ResultsSpec {
    /// The `format` attribute (e.g. `ferrosea-variants`).
    pub format: String,
    /// The `format_version` attribute.
    pub version: u32,
    /// Further file attributes (provenance).
    pub attrs: Vec<(String, AttrValue)>,
    /// The names of the targets the arrays' last axis runs over, if any (`/targets/name`).
    pub targets: Option<Vec<String>>,
    /// The label columns under `/rows`.
    pub columns: Vec<(String, ColumnKind)>,
    /// The float32 arrays and the shape of one row of each (`[T]` for per-target scores).
    pub arrays: Vec<(String, Vec<usize>)>,
    /// Rows per chunk.
    pub chunk_rows: usize,
    /// Deflate level of the arrays (0: none).
    pub level: u32,
}

/// Writes a result file front to back, under `<path>.tmp` until [`finish`](Self::finish).
pub struct ResultsWriter {
    path: PathBuf,
    tmp: TempFile,
    file: hdf5::File,
    columns: Vec<(ColumnKind, hdf5::Dataset)>,
    arrays: Vec<(Vec<usize>, hdf5::Dataset)>,
    column_buf: Vec<Buffered>,
    array_buf: Vec<Vec<f32>>,
    chunk: usize,
    rows: usize,
    buffered: usize,
}

enum Buffered {
    Str(Vec<String>),
    Int(Vec<i64>),
    Bool(Vec<u8>),
}

impl ResultsWriter {
    /// Creates `<path>.tmp` with no rows.
    pub fn create(path: &Path, spec: &ResultsSpec) -> Result<ResultsWriter, DatasetError> {
        let tmp = TempFile::new(path);
        let file = hdf5::File::create(tmp.path())
            .map_err(DatasetError::hdf5(path, "creating the temporary file"))?;
        let chunk = spec.chunk_rows.max(1);
        attr(&file, "format", &AttrValue::Str(spec.format.clone()))
            .and_then(|()| {
                attr(
                    &file,
                    "format_version",
                    &AttrValue::Int(spec.version.into()),
                )
            })
            .map_err(DatasetError::hdf5(path, "writing the attributes"))?;
        for (k, v) in &spec.attrs {
            attr(&file, k, v)
                .map_err(DatasetError::hdf5(path, &format!("writing attribute {k}")))?;
        }
        if let Some(t) = &spec.targets {
            let g =
                group(&file, "targets").map_err(DatasetError::hdf5(path, "creating targets"))?;
            strings(&g, "name", t).map_err(DatasetError::hdf5(path, "writing targets"))?;
        }
        let rows = group(&file, "rows").map_err(DatasetError::hdf5(path, "creating rows"))?;
        let mut columns = Vec::new();
        for (name, kind) in &spec.columns {
            let ext = SimpleExtents::from_vec(vec![Extent::resizable(0)]);
            let b = match kind {
                ColumnKind::Str => rows.new_dataset::<VarLenUnicode>(),
                ColumnKind::Int => rows.new_dataset::<i64>(),
                ColumnKind::Bool => rows.new_dataset::<u8>(),
            };
            let ds = b
                .shape(ext)
                .chunk([chunk])
                .deflate(4)
                .create(name.as_str())
                .map_err(DatasetError::hdf5(path, &format!("creating rows/{name}")))?;
            columns.push((*kind, ds));
        }
        let mut arrays = Vec::new();
        for (name, shape) in &spec.arrays {
            let mut ext = vec![Extent::resizable(0)];
            ext.extend(shape.iter().map(|&d| Extent::fixed(d)));
            let mut chunk_shape = vec![chunk];
            chunk_shape.extend(shape.iter().map(|&d| d.max(1)));
            let b = file
                .new_dataset::<f32>()
                .shape(SimpleExtents::from_vec(ext))
                .chunk(chunk_shape);
            let b = if spec.level > 0 {
                b.shuffle().deflate(spec.level.min(9) as u8)
            } else {
                b
            };
            let ds = b
                .create(name.as_str())
                .map_err(DatasetError::hdf5(path, &format!("creating {name}")))?;
            arrays.push((shape.clone(), ds));
        }
        let column_buf = spec
            .columns
            .iter()
            .map(|(_, k)| match k {
                ColumnKind::Str => Buffered::Str(Vec::new()),
                ColumnKind::Int => Buffered::Int(Vec::new()),
                ColumnKind::Bool => Buffered::Bool(Vec::new()),
            })
            .collect();
        let array_buf = vec![Vec::new(); arrays.len()];
        Ok(ResultsWriter {
            path: path.to_path_buf(),
            tmp,
            file,
            columns,
            arrays,
            column_buf,
            array_buf,
            chunk,
            rows: 0,
            buffered: 0,
        })
    }

    /// Rows appended so far.
    pub fn rows(&self) -> usize {
        self.rows + self.buffered
    }

    /// Appends `n` rows: one slice per declared column and per array, in declaration order,
    /// each holding `n` rows. Rows are buffered and written in blocks of the chunk size, so
    /// the file's bytes do not depend on how the rows were split between calls.
    pub fn append(
        &mut self,
        n: usize,
        columns: &[Column],
        arrays: &[&[f32]],
    ) -> Result<(), DatasetError> {
        let bad = |message: String| DatasetError::Format {
            path: self.path.clone(),
            message,
        };
        if columns.len() != self.columns.len() || arrays.len() != self.arrays.len() {
            return Err(bad(format!(
                "append: {} columns and {} arrays given, {} and {} declared",
                columns.len(),
                arrays.len(),
                self.columns.len(),
                self.arrays.len()
            )));
        }
        for (i, (c, (kind, _))) in columns.iter().zip(&self.columns).enumerate() {
            if c.kind() != *kind || c.len() != n {
                return Err(bad(format!(
                    "append: column {i} has {} values of kind {:?}, expected {n} of kind {kind:?}",
                    c.len(),
                    c.kind()
                )));
            }
        }
        for (i, (v, (shape, _))) in arrays.iter().zip(&self.arrays).enumerate() {
            let per: usize = shape.iter().product();
            if v.len() != n * per {
                return Err(bad(format!(
                    "append: array {i} has {} values, expected {n} x {per}",
                    v.len()
                )));
            }
        }
        for (c, b) in columns.iter().zip(&mut self.column_buf) {
            match (c, b) {
                (Column::Str(v), Buffered::Str(b)) => b.extend(v.iter().cloned()),
                (Column::Int(v), Buffered::Int(b)) => b.extend_from_slice(v),
                (Column::Bool(v), Buffered::Bool(b)) => b.extend(v.iter().map(|&x| x as u8)),
                _ => unreachable!("kinds checked above"),
            }
        }
        for (v, b) in arrays.iter().zip(&mut self.array_buf) {
            b.extend_from_slice(v);
        }
        self.buffered += n;
        while self.buffered >= self.chunk {
            self.flush(self.chunk)?;
        }
        Ok(())
    }

    /// Writes the first `k` buffered rows.
    fn flush(&mut self, k: usize) -> Result<(), DatasetError> {
        let (a, b) = (self.rows, self.rows + k);
        for (buf, (_, ds)) in self.column_buf.iter_mut().zip(&self.columns) {
            ds.resize([b])
                .map_err(DatasetError::hdf5(&self.path, "growing a column"))?;
            let w = match buf {
                Buffered::Str(v) => {
                    let head: Vec<VarLenUnicode> = v
                        .drain(..k)
                        .map(|s| s.replace('\0', "").parse().expect("no NUL"))
                        .collect();
                    ds.write_slice(&head, a..b)
                }
                Buffered::Int(v) => {
                    let head: Vec<i64> = v.drain(..k).collect();
                    ds.write_slice(&head, a..b)
                }
                Buffered::Bool(v) => {
                    let head: Vec<u8> = v.drain(..k).collect();
                    ds.write_slice(&head, a..b)
                }
            };
            w.map_err(DatasetError::hdf5(&self.path, "writing a column"))?;
        }
        for (buf, (shape, ds)) in self.array_buf.iter_mut().zip(&self.arrays) {
            let per: usize = shape.iter().product();
            let mut dims = vec![b];
            dims.extend(shape);
            ds.resize(dims.as_slice())
                .map_err(DatasetError::hdf5(&self.path, "growing an array"))?;
            let head: Vec<f32> = buf.drain(..k * per).collect();
            let mut full = vec![k];
            full.extend(shape);
            let view = ndarray::ArrayViewD::from_shape(full, &head).expect("length checked");
            let sel: Vec<hdf5::SliceOrIndex> = std::iter::once((a..b).into())
                .chain(shape.iter().map(|_| (..).into()))
                .collect();
            ds.write_slice(&view, hdf5::Hyperslab::from(sel))
                .map_err(DatasetError::hdf5(&self.path, "writing an array"))?;
        }
        self.rows = b;
        self.buffered -= k;
        Ok(())
    }

    /// Writes a whole float32 array of `shape` that is not one of the row arrays (a table of
    /// its own), at `name` (groups in the path are created), deflated like the row arrays.
    pub fn put(&mut self, name: &str, shape: &[usize], data: &[f32]) -> Result<(), DatasetError> {
        if shape.iter().product::<usize>() != data.len() {
            return Err(DatasetError::Format {
                path: self.path.clone(),
                message: format!("{name}: {} values for shape {shape:?}", data.len()),
            });
        }
        let ds = self.fixed::<f32>(name, shape)?;
        let view = ndarray::ArrayViewD::from_shape(shape, data).expect("length checked");
        ds.write(&view)
            .map_err(DatasetError::hdf5(&self.path, &format!("writing {name}")))
    }

    /// Writes a whole int64 vector at `name` (as [`put`](Self::put)).
    pub fn put_ints(&mut self, name: &str, data: &[i64]) -> Result<(), DatasetError> {
        let ds = self.fixed::<i64>(name, &[data.len()])?;
        ds.write(data)
            .map_err(DatasetError::hdf5(&self.path, &format!("writing {name}")))
    }

    /// Writes a whole vector of UTF-8 strings at `name` (as [`put`](Self::put)).
    pub fn put_strings(&mut self, name: &str, data: &[String]) -> Result<(), DatasetError> {
        let (g, leaf) = self.parent(name)?;
        strings(&g, leaf, data).map_err(DatasetError::hdf5(&self.path, &format!("writing {name}")))
    }

    /// The group holding `name` (created as needed) and the last part of the name.
    fn parent<'n>(&self, name: &'n str) -> Result<(hdf5::Group, &'n str), DatasetError> {
        let mut g = self
            .file
            .group("/")
            .map_err(DatasetError::hdf5(&self.path, "opening /"))?;
        let parts: Vec<&str> = name.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            g = match g.group(part) {
                Ok(x) => x,
                Err(_) => g
                    .create_group(part)
                    .map_err(DatasetError::hdf5(&self.path, &format!("creating {part}")))?,
            };
        }
        Ok((g, parts[parts.len() - 1]))
    }

    fn fixed<T: hdf5::H5Type>(
        &self,
        name: &str,
        shape: &[usize],
    ) -> Result<hdf5::Dataset, DatasetError> {
        let (g, leaf) = self.parent(name)?;
        let b = g.new_dataset::<T>().shape(shape.to_vec());
        // Chunks (and deflate) only where there is something to compress.
        let b = if shape.iter().all(|&d| d > 0) && shape.iter().product::<usize>() > 1024 {
            let mut chunk = shape.to_vec();
            chunk[0] = chunk[0].min(64);
            b.chunk(chunk).shuffle().deflate(4)
        } else {
            b
        };
        b.create(leaf)
            .map_err(DatasetError::hdf5(&self.path, &format!("creating {name}")))
    }

    /// Writes the buffered rows, closes the file and renames it into place.
    pub fn finish(mut self) -> Result<PathBuf, DatasetError> {
        if self.buffered > 0 {
            self.flush(self.buffered)?;
        }
        let ResultsWriter {
            path,
            tmp,
            file,
            columns,
            arrays,
            ..
        } = self;
        drop((columns, arrays));
        crate::close_file(&path, file)?;
        commit(tmp)
    }
}

/// Reads a result file.
pub struct ResultsReader {
    path: PathBuf,
    file: hdf5::File,
    rows: usize,
}

impl ResultsReader {
    /// Opens a result file, checking its `format` attribute.
    pub fn open(path: &Path, format: &str) -> Result<ResultsReader, DatasetError> {
        let file = hdf5::File::open(path).map_err(DatasetError::hdf5(path, "opening"))?;
        let found = crate::layout::format(&file);
        if found.as_deref() != Some(format) {
            return Err(DatasetError::Format {
                path: path.to_path_buf(),
                message: format!(
                    "not a {format} file (its format attribute is {})",
                    found.as_deref().unwrap_or("missing")
                ),
            });
        }
        let rows = match file.group("rows").ok().and_then(|g| g.member_names().ok()) {
            Some(names) if !names.is_empty() => file
                .dataset(&format!("rows/{}", names[0]))
                .map_err(DatasetError::hdf5(path, "reading rows"))?
                .shape()[0],
            _ => 0,
        };
        Ok(ResultsReader {
            path: path.to_path_buf(),
            file,
            rows,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The underlying HDF5 file.
    pub fn file(&self) -> &hdf5::File {
        &self.file
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The target names, when the file has them.
    pub fn targets(&self) -> Option<Vec<String>> {
        crate::layout::read_strings(&self.file, &self.path, "targets/name").ok()
    }

    /// A string attribute.
    pub fn attr_str(&self, name: &str) -> Option<String> {
        self.file
            .attr(name)
            .ok()?
            .read_scalar::<VarLenUnicode>()
            .ok()
            .map(|s| s.as_str().to_string())
    }

    /// An integer attribute.
    pub fn attr_int(&self, name: &str) -> Option<i64> {
        self.file.attr(name).ok()?.read_scalar::<i64>().ok()
    }

    /// Rows `rows` of string column `name`.
    pub fn strings(&self, name: &str, rows: Range<usize>) -> Result<Vec<String>, DatasetError> {
        let ds = self.column(name)?;
        let v = ds
            .read_slice_1d::<VarLenUnicode, _>(rows)
            .map_err(DatasetError::hdf5(
                &self.path,
                &format!("reading rows/{name}"),
            ))?;
        Ok(v.iter().map(|s| s.as_str().to_string()).collect())
    }

    /// Rows `rows` of integer column `name`.
    pub fn ints(&self, name: &str, rows: Range<usize>) -> Result<Vec<i64>, DatasetError> {
        let ds = self.column(name)?;
        Ok(ds
            .read_slice_1d::<i64, _>(rows)
            .map_err(DatasetError::hdf5(
                &self.path,
                &format!("reading rows/{name}"),
            ))?
            .to_vec())
    }

    /// Rows `rows` of boolean column `name`.
    pub fn bools(&self, name: &str, rows: Range<usize>) -> Result<Vec<bool>, DatasetError> {
        let ds = self.column(name)?;
        Ok(ds
            .read_slice_1d::<u8, _>(rows)
            .map_err(DatasetError::hdf5(
                &self.path,
                &format!("reading rows/{name}"),
            ))?
            .iter()
            .map(|&b| b != 0)
            .collect())
    }

    /// The shape of array `name` (rows first), or `None` when the file has no such array.
    pub fn array_shape(&self, name: &str) -> Option<Vec<usize>> {
        self.file.dataset(name).ok().map(|d| d.shape())
    }

    /// Rows `rows` of array `name`, flattened row-major.
    pub fn array(&self, name: &str, rows: Range<usize>) -> Result<Vec<f32>, DatasetError> {
        let ds = self
            .file
            .dataset(name)
            .map_err(DatasetError::hdf5(&self.path, &format!("opening {name}")))?;
        let nd = ds.ndim();
        let sel: Vec<hdf5::SliceOrIndex> = std::iter::once(rows.into())
            .chain((1..nd).map(|_| (..).into()))
            .collect();
        let a = ds
            .read_slice::<f32, _, ndarray::IxDyn>(hdf5::Hyperslab::from(sel))
            .map_err(DatasetError::hdf5(&self.path, &format!("reading {name}")))?;
        Ok(a.iter().copied().collect())
    }

    /// The whole string vector at `name` (written by [`ResultsWriter::put_strings`]).
    pub fn strings_at(&self, name: &str) -> Result<Vec<String>, DatasetError> {
        crate::layout::read_strings(&self.file, &self.path, name)
    }

    /// The whole int64 vector at `name` (written by [`ResultsWriter::put_ints`]).
    pub fn ints_at(&self, name: &str) -> Result<Vec<i64>, DatasetError> {
        let ds = self
            .file
            .dataset(name)
            .map_err(DatasetError::hdf5(&self.path, &format!("opening {name}")))?;
        ds.read_raw::<i64>()
            .map_err(DatasetError::hdf5(&self.path, &format!("reading {name}")))
    }

    fn column(&self, name: &str) -> Result<hdf5::Dataset, DatasetError> {
        self.file
            .dataset(&format!("rows/{name}"))
            .map_err(DatasetError::hdf5(
                &self.path,
                &format!("opening rows/{name}"),
            ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_appended_in_pieces_read_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.h5");
        let spec = ResultsSpec {
            format: "ferrosea-test".into(),
            version: 1,
            attrs: vec![("seed".into(), AttrValue::Int(7))],
            targets: Some(vec!["a".into(), "b".into()]),
            columns: vec![
                ("id".into(), ColumnKind::Str),
                ("pos".into(), ColumnKind::Int),
            ],
            arrays: vec![("score".into(), vec![2]), ("cube".into(), vec![2, 3])],
            chunk_rows: 2,
            level: 4,
        };
        let mut w = ResultsWriter::create(&path, &spec).unwrap();
        assert!(!path.exists(), "the file appears only when finished");
        for k in 0..3 {
            let ids: Vec<String> = (0..k + 1).map(|i| format!("r{k}.{i}")).collect();
            let pos: Vec<i64> = (0..k as i64 + 1).collect();
            let score: Vec<f32> = (0..2 * (k + 1)).map(|i| i as f32 + k as f32).collect();
            let cube: Vec<f32> = (0..6 * (k + 1)).map(|i| i as f32).collect();
            w.append(
                k + 1,
                &[Column::Str(&ids), Column::Int(&pos)],
                &[&score, &cube],
            )
            .unwrap();
        }
        let err = w.append(
            1,
            &[Column::Int(&[1]), Column::Int(&[1])],
            &[&[0.0; 2], &[0.0; 6]],
        );
        assert!(err.unwrap_err().to_string().contains("column 0"));
        assert_eq!(w.rows(), 6);
        let table: Vec<f32> = (0..6).map(|i| i as f32).collect();
        w.put("extra/table", &[2, 3], &table).unwrap();
        w.put_ints("extra/rows", &[4, 9]).unwrap();
        w.put_strings("extra/names", &["x".into(), "yz".into()])
            .unwrap();
        w.put("extra/empty", &[0, 3], &[]).unwrap();
        assert!(w.put("bad", &[2, 2], &[1.0]).is_err());
        w.finish().unwrap();
        let r = ResultsReader::open(&path, "ferrosea-test").unwrap();
        assert_eq!(r.rows(), 6);
        assert_eq!(r.strings("id", 0..6).unwrap()[3], "r2.0");
        assert_eq!(r.ints("pos", 3..6).unwrap(), vec![0, 1, 2]);
        assert_eq!(r.array("score", 1..3).unwrap(), vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(r.array_shape("cube").unwrap(), vec![6, 2, 3]);
        assert_eq!(r.attr_int("seed"), Some(7));
        assert_eq!(r.targets().unwrap(), vec!["a", "b"]);
        assert_eq!(r.array("extra/table", 1..2).unwrap(), vec![3.0, 4.0, 5.0]);
        assert_eq!(r.ints_at("extra/rows").unwrap(), vec![4, 9]);
        assert_eq!(r.strings_at("extra/names").unwrap(), vec!["x", "yz"]);
        assert_eq!(r.array_shape("extra/empty").unwrap(), vec![0, 3]);
        assert!(ResultsReader::open(&path, "ferrosea-other")
            .err()
            .unwrap()
            .to_string()
            .contains("not a ferrosea-other file"));
    }
}
