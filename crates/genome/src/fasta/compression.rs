//! Telling plain, gzip and bgzip files apart by their first bytes.

use std::io::{self, Read};
use std::path::Path;

/// How a FASTA file is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Plain text.
    None,
    /// Plain gzip: readable front to back only.
    Gzip,
    /// Blocked gzip (bgzip, as written by `bgzip` and `samtools`).
    Bgzf,
}

impl Compression {
    /// Looks at the first bytes of a file: gzip magic, then the `BC` extra field of bgzip.
    pub fn detect(path: &Path) -> io::Result<Compression> {
        let mut head = [0u8; 18];
        let mut file = std::fs::File::open(path)?;
        let mut n = 0;
        while n < head.len() {
            match file.read(&mut head[n..])? {
                0 => break,
                k => n += k,
            }
        }
        Ok(Self::from_header(&head[..n]))
    }

    fn from_header(h: &[u8]) -> Compression {
        if h.len() < 2 || h[0] != 0x1f || h[1] != 0x8b {
            return Compression::None;
        }
        // FLG.FEXTRA set, first extra subfield 'B','C' (SAM spec, section 4.1).
        if h.len() >= 14 && h[3] & 0x04 != 0 && h[12] == b'B' && h[13] == b'C' {
            Compression::Bgzf
        } else {
            Compression::Gzip
        }
    }

    /// A short name for reports: `plain`, `gzip`, `bgzip`.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "plain",
            Compression::Gzip => "gzip",
            Compression::Bgzf => "bgzip",
        }
    }
}
