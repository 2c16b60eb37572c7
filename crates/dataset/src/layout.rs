//! The parts of the layout that dataset files and prediction files share: the format
//! attributes, `/targets/*`, `/coords/chrom_names` and the `/coords/*` row columns.

use std::ops::Range;
use std::path::Path;

use hdf5::types::VarLenUnicode;
use ndarray::s;

use crate::writer::{attr, group, strings};
use crate::{
    Alphabet, AttrValue, CoordColumns, DatasetError, Encoding, Header, LabelKind, Targets,
};

/// The file's `format` attribute, if it has a readable one.
pub(crate) fn format(file: &hdf5::File) -> Option<String> {
    file.attr("format")
        .ok()
        .and_then(|a| a.read_scalar::<VarLenUnicode>().ok())
        .map(|s| s.to_string())
}

/// A string attribute of `loc`, if it has one.
fn str_attr(loc: &hdf5::Location, name: &str) -> Option<String> {
    loc.attr(name)
        .ok()
        .and_then(|a| a.read_scalar::<VarLenUnicode>().ok())
        .map(|s| s.to_string())
}

/// The file's `labels` attribute (absent: binary).
pub(crate) fn read_label_kind(file: &hdf5::File, path: &Path) -> Result<LabelKind, DatasetError> {
    match str_attr(file, "labels") {
        None => Ok(LabelKind::Binary),
        Some(s) => LabelKind::parse(&s).ok_or_else(|| DatasetError::Format {
            path: path.to_path_buf(),
            message: format!("attribute labels is '{s}': expected binary, class or real"),
        }),
    }
}

/// The `alphabet` and `encoding` attributes of `/x` (absent: one-hot A, C, G, T).
pub(crate) fn read_alphabet(x: &hdf5::Dataset, path: &Path) -> Result<Alphabet, DatasetError> {
    let bad = |message: String| DatasetError::Format {
        path: path.to_path_buf(),
        message,
    };
    let symbols = str_attr(x, "alphabet").unwrap_or_else(|| "ACGT".into());
    let encoding = match str_attr(x, "encoding") {
        None => Encoding::OneHot,
        Some(e) => Encoding::parse(&e).ok_or_else(|| {
            bad(format!(
                "attribute encoding of /x is '{e}': expected one-hot or index"
            ))
        })?,
    };
    Alphabet::new(&symbols, encoding).map_err(|m| bad(format!("/x: {m}")))
}

/// A 1-D string dataset.
pub(crate) fn read_strings(
    file: &hdf5::File,
    path: &Path,
    name: &str,
) -> Result<Vec<String>, DatasetError> {
    let v = file
        .dataset(name)
        .map_err(DatasetError::hdf5(path, name))?
        .read_raw::<VarLenUnicode>()
        .map_err(DatasetError::hdf5(path, name))?;
    Ok(v.into_iter().map(|s| s.to_string()).collect())
}

/// `/targets/*`, checked to name `columns` label (or prediction) columns of `what` (`None`:
/// any number, as class labels name their classes there).
pub(crate) fn read_targets(
    file: &hdf5::File,
    path: &Path,
    columns: Option<usize>,
    what: &str,
) -> Result<Targets, DatasetError> {
    let read = |name: &str| read_strings(file, path, name);
    let optional = |name: &str| file.link_exists(name).then(|| read(name)).transpose();
    let targets = Targets {
        name: read("targets/name")?,
        category: read("targets/category")?,
        cell: optional("targets/cell")?,
        treatment: optional("targets/treatment")?,
    };
    let Some(columns) = columns else {
        return Ok(targets);
    };
    if targets.len() != columns {
        return Err(DatasetError::Format {
            path: path.to_path_buf(),
            message: format!(
                "{} target names for {columns} {what} columns",
                targets.len()
            ),
        });
    }
    Ok(targets)
}

/// Raw coordinate columns of rows `rows`.
pub(crate) fn read_coord_columns(
    file: &hdf5::File,
    path: &Path,
    rows: Range<usize>,
) -> Result<CoordColumns, DatasetError> {
    let one = |name: &str| file.dataset(name).map_err(DatasetError::hdf5(path, name));
    let chrom = one("coords/chrom")?
        .read_slice_1d::<u32, _>(s![rows.clone()])
        .map_err(DatasetError::hdf5(path, "reading coords/chrom"))?;
    let start = one("coords/start")?
        .read_slice_1d::<i64, _>(s![rows.clone()])
        .map_err(DatasetError::hdf5(path, "reading coords/start"))?;
    let strand = one("coords/strand")?
        .read_slice_1d::<u8, _>(s![rows])
        .map_err(DatasetError::hdf5(path, "reading coords/strand"))?;
    Ok((chrom.to_vec(), start.to_vec(), strand.to_vec()))
}

/// The file attributes: `format`, `format_version`, `window`, then the header's own.
pub(crate) fn write_attrs(
    file: &hdf5::File,
    format: &str,
    version: u32,
    h: &Header,
) -> hdf5::Result<()> {
    attr(file, "format", &AttrValue::Str(format.into()))?;
    attr(file, "format_version", &AttrValue::Int(version.into()))?;
    attr(file, "window", &AttrValue::Int(h.window as i64))?;
    if h.labels != LabelKind::Binary {
        attr(file, "labels", &AttrValue::Str(h.labels.name().into()))?;
    }
    for (k, v) in &h.attrs {
        attr(file, k, v)?;
    }
    Ok(())
}

/// `/targets/*` and `/coords/chrom_names`.
pub(crate) fn write_names(file: &hdf5::File, coords: &hdf5::Group, h: &Header) -> hdf5::Result<()> {
    let targets = group(file, "targets")?;
    strings(&targets, "name", &h.targets.name)?;
    strings(&targets, "category", &h.targets.category)?;
    if let Some(c) = &h.targets.cell {
        strings(&targets, "cell", c)?;
    }
    if let Some(t) = &h.targets.treatment {
        strings(&targets, "treatment", t)?;
    }
    strings(coords, "chrom_names", &h.chrom_names)
}

/// A string attribute of `file`, `None` when missing or not a string.
pub(crate) fn attr_str(file: &hdf5::File, name: &str) -> Option<String> {
    file.attr(name)
        .and_then(|a| a.read_scalar::<hdf5::types::VarLenUnicode>())
        .ok()
        .map(|s| s.to_string())
}

/// An integer attribute of `file`, `None` when missing or not an integer.
pub(crate) fn attr_int(file: &hdf5::File, name: &str) -> Option<i64> {
    file.attr(name).and_then(|a| a.read_scalar::<i64>()).ok()
}

/// The file attributes a [`Header`] carries in `attrs`: all but those the layout writes
/// (`format`, `format_version`, `window`, `labels`), in name order.
pub(crate) fn extra_attrs(file: &hdf5::File) -> Vec<(String, AttrValue)> {
    let mut names = file.attr_names().unwrap_or_default();
    names.sort();
    names
        .into_iter()
        .filter(|n| {
            !matches!(
                n.as_str(),
                "format" | "format_version" | "window" | "labels"
            )
        })
        .filter_map(|n| {
            let v = match attr_int(file, &n) {
                Some(i) => AttrValue::Int(i),
                None => AttrValue::Str(attr_str(file, &n)?),
            };
            Some((n, v))
        })
        .collect()
}
