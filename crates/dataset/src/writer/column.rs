//! One row-chunked dataset, filled by direct chunk writes of chunks compressed in parallel.

use std::collections::BTreeMap;
use std::io::Write;

use hdf5::H5Type;
use rayon::prelude::*;

/// A chunk being filled by rows that arrived in pieces.
struct Pending {
    buf: Vec<u8>,
    filled: usize,
}

pub(super) struct Column {
    ds: hdf5::Dataset,
    row_bytes: usize,
    chunk_rows: usize,
    rows: usize,
    level: u32,
    pending: BTreeMap<usize, Pending>,
    written: Vec<bool>,
}

impl Column {
    /// Creates `name` of shape `[rows, inner...]`, chunked `[chunk_rows, inner...]`, deflate,
    /// resizable along rows.
    pub(super) fn create<T: H5Type>(
        parent: &hdf5::Group,
        name: &str,
        rows: usize,
        inner: &[usize],
        chunk_rows: usize,
        level: u32,
    ) -> hdf5::Result<Column> {
        let mut shape = vec![hdf5::Extent::resizable(rows)];
        shape.extend(inner.iter().map(|&d| hdf5::Extent::fixed(d)));
        let mut chunk = vec![chunk_rows];
        chunk.extend_from_slice(inner);
        let ds = parent
            .new_dataset::<T>()
            .shape(shape)
            .chunk(chunk)
            .deflate(level.min(9) as u8)
            .create(name)?;
        let row_bytes = inner.iter().product::<usize>() * size_of::<T>();
        Ok(Column {
            ds,
            row_bytes,
            chunk_rows,
            rows,
            level,
            pending: BTreeMap::new(),
            written: vec![false; rows.div_ceil(chunk_rows)],
        })
    }

    fn rows_in_chunk(&self, c: usize) -> usize {
        self.chunk_rows.min(self.rows - c * self.chunk_rows)
    }

    /// Stores rows `first..first + bytes.len() / row_bytes`.
    pub(super) fn put(&mut self, first: usize, bytes: &[u8]) -> hdf5::Result<()> {
        let k = bytes.len() / self.row_bytes.max(1);
        if k == 0 {
            return Ok(());
        }
        let (cr, rb) = (self.chunk_rows, self.row_bytes);
        // Complete chunks, as (chunk index, rows) ready to compress.
        let mut ready: Vec<(usize, std::borrow::Cow<'_, [u8]>)> = Vec::new();
        let mut row = first;
        while row < first + k {
            let c = row / cr;
            let chunk_start = c * cr;
            let in_chunk = self.rows_in_chunk(c);
            let take = (chunk_start + in_chunk).min(first + k) - row;
            let src = &bytes[(row - first) * rb..(row - first + take) * rb];
            if take == in_chunk && !self.pending.contains_key(&c) {
                ready.push((c, std::borrow::Cow::Borrowed(src)));
            } else {
                let p = self.pending.entry(c).or_insert_with(|| Pending {
                    buf: vec![0; cr * rb],
                    filled: 0,
                });
                let off = (row - chunk_start) * rb;
                p.buf[off..off + src.len()].copy_from_slice(src);
                p.filled += take;
                if p.filled == in_chunk {
                    let p = self.pending.remove(&c).expect("present");
                    ready.push((c, std::borrow::Cow::Owned(p.buf)));
                }
            }
            row += take;
        }
        let level = flate2::Compression::new(self.level.min(9));
        let full = cr * rb;
        let compressed: Vec<(usize, Vec<u8>)> = ready
            .par_iter()
            .map(|(c, data)| {
                let mut enc =
                    flate2::write::ZlibEncoder::new(Vec::with_capacity(data.len() / 4), level);
                enc.write_all(data).expect("writing to memory");
                // A partial last chunk is stored whole; rows past the extent are never read.
                enc.write_all(&vec![0; full - data.len()])
                    .expect("writing to memory");
                (*c, enc.finish().expect("writing to memory"))
            })
            .collect();
        for (c, data) in compressed {
            self.write_chunk(c, &data)?;
        }
        Ok(())
    }

    fn write_chunk(&mut self, c: usize, data: &[u8]) -> hdf5::Result<()> {
        let ds = &self.ds;
        let mut offset = vec![0 as hdf5_sys::h5::hsize_t; ds.ndim()];
        offset[0] = (c * self.chunk_rows) as _;
        let status = hdf5::sync::sync(|| unsafe {
            // SAFETY: the dataset is open and chunked with `ndim` dimensions, `offset` has
            // `ndim` entries on a chunk boundary, and `data` is a deflate stream of one chunk
            // that lives for the duration of the call.
            hdf5_sys::h5d::H5Dwrite_chunk(
                ds.id(),
                hdf5_sys::h5p::H5P_DEFAULT,
                0,
                offset.as_ptr(),
                data.len(),
                data.as_ptr().cast(),
            )
        });
        if status < 0 {
            return Err(hdf5::Error::from(format!(
                "H5Dwrite_chunk failed for chunk {c} of {}: {}",
                ds.name(),
                std::io::Error::last_os_error()
            )));
        }
        self.written[c] = true;
        Ok(())
    }

    /// The first row of a chunk that was never completed, if any.
    pub(super) fn first_missing_row(&self) -> Option<usize> {
        self.written
            .iter()
            .position(|&w| !w)
            .map(|c| c * self.chunk_rows)
    }
}
