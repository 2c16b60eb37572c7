//! MATLAB MAT-files, the subset DeepSEA's training bundle needs: numeric arrays in version 5
//! files (plain or zlib-compressed elements) and in version 7.3 files (HDF5 with a 512-byte
//! user block), read in blocks of the first (fastest-varying) dimension.
//!
//! Written here rather than taken from a crate: the `matfile` crate parses a whole file into
//! memory (DeepSEA's test.mat holds 1.8 GB of windows), and streaming needs file offsets.
//!
//! Both versions store an array of MATLAB size `[N, d1, d2, ...]` with N varying fastest: element
//! `(i, j)` (j the flattened other dimensions) lies at linear position `j * N + i`. A
//! [`Variable`] hands out blocks of samples `i0..i1` as `[j][i]` bytes, values checked to be 0
//! or 1.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use ndarray::s;

use crate::PrepError;

/// Which kind of MAT-file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// Level 5 (MATLAB 5 to 7.2): tagged data elements.
    V5,
    /// 7.3: HDF5.
    V73,
}

/// Reads the 128-byte header and says which version the file is.
pub fn version(path: &Path) -> Result<Version, PrepError> {
    let io = |e| PrepError::io(path.to_path_buf(), e);
    let mut f = File::open(path).map_err(io)?;
    let mut head = [0u8; 128];
    let n = read_full(&mut f, &mut head).map_err(io)?;
    let text = String::from_utf8_lossy(&head[..n.min(116)]);
    if n < 128 || !text.starts_with("MATLAB") {
        return Err(PrepError::format(
            path.to_path_buf(),
            "not a MATLAB MAT-file (no 'MATLAB ... MAT-file' header)",
        ));
    }
    if text.starts_with("MATLAB 7.3 MAT-file") {
        return Ok(Version::V73);
    }
    let version = u16::from_le_bytes([head[124], head[125]]);
    let endian = &head[126..128];
    if (endian == b"IM" && version == 0x0100) || (endian == b"MI" && version == 0x0001) {
        return Ok(Version::V5);
    }
    Err(PrepError::format(
        path.to_path_buf(),
        format!(
            "a MAT-file of an unsupported version (header: '{}'): save it with -v7 or -v7.3",
            text.trim_end_matches(['\0', ' '])
        ),
    ))
}

fn read_full(f: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// A numeric MATLAB array, readable in blocks of its first dimension.
pub struct Variable {
    /// Its name in the file.
    pub name: String,
    /// MATLAB's dimensions (first = fastest).
    pub dims: Vec<usize>,
    path: PathBuf,
    source: Source,
}

enum Source {
    /// Raw element bytes in a file (a v5 file, or a decompressed copy), at `offset`.
    Raw {
        file: File,
        offset: u64,
        ty: NumType,
        big_endian: bool,
        /// A decompressed copy to remove when done.
        scratch: Option<PathBuf>,
    },
    /// A v7.3 (HDF5) dataset of shape `[d_last, ..., N]`.
    Hdf5(hdf5::Dataset),
}

impl Drop for Variable {
    fn drop(&mut self) {
        if let Source::Raw {
            scratch: Some(p), ..
        } = &self.source
        {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Storage types of numeric data elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NumType {
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    F32,
    F64,
    I64,
    U64,
}

impl NumType {
    fn from_mi(t: u32) -> Option<NumType> {
        Some(match t {
            1 => NumType::I8,
            2 => NumType::U8,
            3 => NumType::I16,
            4 => NumType::U16,
            5 => NumType::I32,
            6 => NumType::U32,
            7 => NumType::F32,
            9 => NumType::F64,
            12 => NumType::I64,
            13 => NumType::U64,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            NumType::I8 | NumType::U8 => 1,
            NumType::I16 | NumType::U16 => 2,
            NumType::I32 | NumType::U32 | NumType::F32 => 4,
            NumType::F64 | NumType::I64 | NumType::U64 => 8,
        }
    }

    /// The value of one element as f64.
    fn value(self, b: &[u8], big: bool) -> f64 {
        macro_rules! num {
            ($t:ty) => {{
                let a = b[..size_of::<$t>()].try_into().expect("sized");
                (if big {
                    <$t>::from_be_bytes(a)
                } else {
                    <$t>::from_le_bytes(a)
                }) as f64
            }};
        }
        match self {
            NumType::I8 => b[0] as i8 as f64,
            NumType::U8 => b[0] as f64,
            NumType::I16 => num!(i16),
            NumType::U16 => num!(u16),
            NumType::I32 => num!(i32),
            NumType::U32 => num!(u32),
            NumType::F32 => num!(f32),
            NumType::F64 => num!(f64),
            NumType::I64 => num!(i64),
            NumType::U64 => num!(u64),
        }
    }
}

/// MATLAB array classes that hold plain numbers.
fn numeric_class(c: u8) -> bool {
    (6..=15).contains(&c)
}

impl Variable {
    /// Number of samples (the first dimension).
    pub fn samples(&self) -> usize {
        self.dims.first().copied().unwrap_or(0)
    }

    /// Elements per sample (the product of the other dimensions).
    pub fn per_sample(&self) -> usize {
        self.dims[1..].iter().product()
    }

    /// Samples `rows` as `[j][i]` bytes (j over the other dimensions, flattened with the
    /// earlier ones fastest), every value checked to be 0 or 1.
    pub fn read_block(&self, rows: std::ops::Range<usize>) -> Result<Vec<u8>, PrepError> {
        let (n, k, per) = (self.samples(), rows.len(), self.per_sample());
        let bad = |j: usize, i: usize, v: f64| {
            PrepError::format(
                self.path.clone(),
                format!(
                    "{}: value {v} at sample {} (element {j} of the sample): expected 0 or 1",
                    self.name,
                    rows.start + i
                ),
            )
        };
        let mut out = vec![0u8; k * per];
        match &self.source {
            Source::Raw {
                file,
                offset,
                ty,
                big_endian,
                ..
            } => {
                let es = ty.size();
                let mut buf = vec![0u8; k * es];
                for j in 0..per {
                    let at = offset + ((j * n + rows.start) * es) as u64;
                    file.read_exact_at(&mut buf, at)
                        .map_err(|e| PrepError::io(self.path.clone(), e))?;
                    let dst = &mut out[j * k..(j + 1) * k];
                    if *ty == NumType::U8 {
                        dst.copy_from_slice(&buf);
                        if let Some(i) = dst.iter().position(|&v| v > 1) {
                            return Err(bad(j, i, dst[i] as f64));
                        }
                    } else {
                        for (i, (d, b)) in dst.iter_mut().zip(buf.chunks_exact(es)).enumerate() {
                            let v = ty.value(b, *big_endian);
                            *d = match v {
                                0.0 => 0,
                                1.0 => 1,
                                v => return Err(bad(j, i, v)),
                            };
                        }
                    }
                }
            }
            Source::Hdf5(ds) => {
                let h5 = |e| PrepError::hdf5(self.path.clone(), e);
                // HDF5 sees the reversed dimensions, N last (fastest): a block of samples is
                // the slab [.., .., i0..i1], which arrives as [j][i].
                let bytes = ds.dtype().map_err(h5)?.size();
                if bytes == 1 {
                    let v = read_slab::<u8>(ds, self.dims.len(), rows.clone()).map_err(h5)?;
                    out.copy_from_slice(&v);
                    if let Some(idx) = out.iter().position(|&v| v > 1) {
                        return Err(bad(idx / k, idx % k, out[idx] as f64));
                    }
                } else {
                    let v = read_slab::<f64>(ds, self.dims.len(), rows.clone()).map_err(h5)?;
                    for (idx, (d, &v)) in out.iter_mut().zip(&v).enumerate() {
                        *d = match v {
                            0.0 => 0,
                            1.0 => 1,
                            v => return Err(bad(idx / k, idx % k, v)),
                        };
                    }
                }
            }
        }
        Ok(out)
    }
}

fn read_slab<T: hdf5::H5Type + Copy>(
    ds: &hdf5::Dataset,
    rank: usize,
    rows: std::ops::Range<usize>,
) -> hdf5::Result<Vec<T>> {
    Ok(match rank {
        2 => ds
            .read_slice::<T, _, ndarray::Ix2>(s![.., rows])?
            .into_iter()
            .collect(),
        _ => ds
            .read_slice::<T, _, ndarray::Ix3>(s![.., .., rows])?
            .into_iter()
            .collect(),
    })
}

/// The variables of a MAT-file (numeric arrays only), for reading `wanted` among them.
/// Compressed v5 elements that are wanted are inflated once into `scratch_dir`, so that
/// blocks can then be read at any offset.
pub fn open(path: &Path, wanted: &[&str], scratch_dir: &Path) -> Result<Vec<Variable>, PrepError> {
    match version(path)? {
        Version::V73 => open_v73(path, wanted),
        Version::V5 => open_v5(path, wanted, scratch_dir),
    }
}

fn open_v73(path: &Path, wanted: &[&str]) -> Result<Vec<Variable>, PrepError> {
    let h5 = |e| PrepError::hdf5(path.to_path_buf(), e);
    let file = hdf5::File::open(path).map_err(h5)?;
    let mut out = Vec::new();
    for name in wanted {
        if !file.link_exists(name) {
            continue;
        }
        let ds = file.dataset(name).map_err(h5)?;
        let shape = ds.shape();
        let dt = ds.dtype().map_err(h5)?;
        if !(dt.is::<u8>() || dt.is::<f64>()) {
            return Err(PrepError::format(
                path.to_path_buf(),
                format!(
                    "{name}: stored as {} bytes per value; expected uint8 or double",
                    dt.size()
                ),
            ));
        }
        if !(2..=3).contains(&shape.len()) {
            return Err(PrepError::format(
                path.to_path_buf(),
                format!("{name} has {} dimensions; expected 2 or 3", shape.len()),
            ));
        }
        out.push(Variable {
            name: name.to_string(),
            dims: shape.iter().rev().copied().collect(),
            path: path.to_path_buf(),
            source: Source::Hdf5(ds),
        });
    }
    Ok(out)
}

/// A little/big-endian u32 from 4 bytes.
fn u32_at(b: &[u8], big: bool) -> u32 {
    let a = b[..4].try_into().expect("4 bytes");
    if big {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

/// The header of a miMATRIX element: its name, dimensions, class, and where its real-part
/// data starts (relative to the start of the matrix's content) with its type and size.
struct MatrixHead {
    name: String,
    dims: Vec<usize>,
    class: u8,
    complex: bool,
    data_type: u32,
    data_start: usize,
    data_bytes: usize,
}

/// Parses the sub-elements of a miMATRIX element's content, given its first bytes.
fn matrix_head(b: &[u8], big: bool) -> Result<MatrixHead, String> {
    let mut pos = 0usize;
    let short = || "the array header is cut short".to_string();
    // Each sub-element: (type, payload start, payload bytes); advances past its padding.
    let next = |pos: &mut usize| -> Result<(u32, usize, usize), String> {
        let tag = b.get(*pos..*pos + 8).ok_or_else(short)?;
        let first = u32_at(tag, big);
        if first >> 16 != 0 {
            // Small data element: type and size in one word, payload in the next 4 bytes.
            let r = (first & 0xffff, *pos + 4, (first >> 16) as usize);
            *pos += 8;
            Ok(r)
        } else {
            let bytes = u32_at(&tag[4..], big) as usize;
            let r = (first, *pos + 8, bytes);
            *pos += 8 + bytes.next_multiple_of(8);
            Ok(r)
        }
    };
    let (t, s, n) = next(&mut pos)?;
    if t != 6 || n < 8 {
        return Err("no array flags".into());
    }
    let flags = u32_at(b.get(s..s + 4).ok_or_else(short)?, big);
    let (class, complex) = ((flags & 0xff) as u8, flags & 0x0800 != 0);
    let (t, s, n) = next(&mut pos)?;
    if t != 5 {
        return Err("no dimensions".into());
    }
    let dims = b
        .get(s..s + n)
        .ok_or_else(short)?
        .chunks_exact(4)
        .map(|c| u32_at(c, big) as usize)
        .collect();
    let (t, s, n) = next(&mut pos)?;
    if t != 1 {
        return Err("no array name".into());
    }
    let name = String::from_utf8_lossy(b.get(s..s + n).ok_or_else(short)?).into_owned();
    let mut head = MatrixHead {
        name,
        dims,
        class,
        complex,
        data_type: 0,
        data_start: 0,
        data_bytes: 0,
    };
    if numeric_class(class) {
        let (t, s, n) = next(&mut pos)?;
        head.data_type = t;
        head.data_start = s;
        head.data_bytes = n;
    }
    Ok(head)
}

fn open_v5(path: &Path, wanted: &[&str], scratch_dir: &Path) -> Result<Vec<Variable>, PrepError> {
    let io = |e| PrepError::io(path.to_path_buf(), e);
    let fmt = |m: String| PrepError::format(path.to_path_buf(), m);
    let mut f = File::open(path).map_err(io)?;
    let len = f.metadata().map_err(io)?.len();
    let mut head = [0u8; 128];
    read_full(&mut f, &mut head).map_err(io)?;
    let big = &head[126..128] == b"MI";
    let mut out = Vec::new();
    let mut at = 128u64;
    while at + 8 <= len {
        let mut tag = [0u8; 8];
        f.read_exact_at(&mut tag, at).map_err(io)?;
        let (ty, bytes) = (u32_at(&tag, big), u32_at(&tag[4..], big) as u64);
        let content = at + 8;
        if content + bytes > len {
            return Err(fmt(format!(
                "the data element at byte {at} runs past the end of the file ({bytes} bytes; \
                 the file is {len}): is it truncated?"
            )));
        }
        // Compressed elements are not padded; others are padded to 8 bytes.
        let next = if ty == 15 {
            content + bytes
        } else {
            content + bytes.next_multiple_of(8)
        };
        let element_at = at;
        at = next;
        let (m, compressed) = match ty {
            14 => {
                let mut b = vec![0u8; bytes.min(4096) as usize];
                f.read_exact_at(&mut b, content).map_err(io)?;
                (matrix_head(&b, big), false)
            }
            15 => {
                f.seek(SeekFrom::Start(content)).map_err(io)?;
                let mut z = flate2::read::ZlibDecoder::new((&mut f).take(bytes));
                let mut b = vec![0u8; 4096];
                let n = read_full(&mut z, &mut b).map_err(|e| {
                    fmt(format!("the compressed element at byte {element_at}: {e}"))
                })?;
                b.truncate(n);
                if n < 8 || u32_at(&b, big) != 14 {
                    continue; // not an array
                }
                (matrix_head(&b[8..], big), true)
            }
            _ => continue,
        };
        let m = m.map_err(|e| fmt(format!("the array at byte {element_at}: {e}")))?;
        if !wanted.contains(&m.name.as_str()) {
            continue;
        }
        if !numeric_class(m.class) || m.complex {
            return Err(fmt(format!(
                "{} is not a real numeric array (MATLAB class {})",
                m.name, m.class
            )));
        }
        let ty = NumType::from_mi(m.data_type).ok_or_else(|| {
            fmt(format!(
                "{}: unsupported storage type {}",
                m.name, m.data_type
            ))
        })?;
        let count: usize = m.dims.iter().product();
        if m.data_bytes != count * ty.size() {
            return Err(fmt(format!(
                "{}: {} data bytes for {count} values of {} bytes",
                m.name,
                m.data_bytes,
                ty.size()
            )));
        }
        let source = if compressed {
            // Inflate the element once into a scratch file; keep only the data bytes.
            let scratch = scratch_dir.join(format!(".import-{}.raw.tmp", m.name));
            let mut w = std::io::BufWriter::new(
                File::create(&scratch).map_err(|e| PrepError::io(scratch.clone(), e))?,
            );
            f.seek(SeekFrom::Start(content)).map_err(io)?;
            let mut z = flate2::read::ZlibDecoder::new(BufReader::new((&mut f).take(bytes)));
            // Skip the element tag and the header sub-elements.
            std::io::copy(
                &mut (&mut z).take((8 + m.data_start) as u64),
                &mut std::io::sink(),
            )
            .map_err(io)?;
            let copied = std::io::copy(&mut z.take(m.data_bytes as u64), &mut w)
                .map_err(|e| fmt(format!("{}: inflating: {e}", m.name)))?;
            w.flush().map_err(|e| PrepError::io(scratch.clone(), e))?;
            if copied != m.data_bytes as u64 {
                let _ = std::fs::remove_file(&scratch);
                return Err(fmt(format!(
                    "{}: the compressed data ends after {copied} of {} bytes",
                    m.name, m.data_bytes
                )));
            }
            let file = File::open(&scratch).map_err(|e| PrepError::io(scratch.clone(), e))?;
            Source::Raw {
                file,
                offset: 0,
                ty,
                big_endian: big,
                scratch: Some(scratch),
            }
        } else {
            Source::Raw {
                file: File::open(path).map_err(io)?,
                offset: content + m.data_start as u64,
                ty,
                big_endian: big,
                scratch: None,
            }
        };
        out.push(Variable {
            name: m.name,
            dims: m.dims,
            path: path.to_path_buf(),
            source,
        });
    }
    Ok(out)
}
