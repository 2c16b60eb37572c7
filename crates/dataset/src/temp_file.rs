//! The one way a ferrosea stage puts an output in place: written under `<path>.tmp`, renamed
//! to `path` when complete, removed when dropped before that (an error, a panic), so that an
//! interrupted stage never leaves a file that looks finished.

use std::io;
use std::path::{Path, PathBuf};

/// `<path>.tmp`: where an output is written until it is complete.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// An output under its temporary name until [`commit`](TempFile::commit).
///
/// # Examples
///
/// ```
/// use ferrosea_dataset::TempFile;
///
/// let dir = tempfile::tempdir()?;
/// let out = dir.path().join("table.tsv");
/// let t = TempFile::new(&out);
/// std::fs::write(t.path(), "a\tb\n")?;
/// assert!(!out.exists());
/// assert_eq!(t.commit()?, out);
/// assert_eq!(std::fs::read_to_string(&out)?, "a\tb\n");
///
/// // Dropped before its commit, the temporary file goes.
/// let t = TempFile::new(dir.path().join("half.tsv"));
/// std::fs::write(t.path(), "a\t")?;
/// let tmp = t.path().to_path_buf();
/// drop(t);
/// assert!(!tmp.exists());
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct TempFile {
    target: PathBuf,
    /// The temporary path; `None` once committed.
    tmp: Option<PathBuf>,
}

impl TempFile {
    /// An output that will be `path`, written at `<path>.tmp` meanwhile (nothing is created).
    pub fn new(path: impl Into<PathBuf>) -> TempFile {
        let target = path.into();
        let tmp = tmp_path(&target);
        TempFile {
            target,
            tmp: Some(tmp),
        }
    }

    /// Where to write: `<path>.tmp`.
    pub fn path(&self) -> &Path {
        self.tmp
            .as_deref()
            .expect("a TempFile is used until its commit")
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Renames the complete file to its final path and returns that path; on failure the
    /// temporary file is removed.
    pub fn commit(mut self) -> io::Result<PathBuf> {
        let tmp = self.tmp.take().expect("committed once");
        std::fs::rename(&tmp, &self.target).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })?;
        Ok(std::mem::take(&mut self.target))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.tmp.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Writes `contents` to `<path>.tmp`, then renames it to `path`: `path` never holds a partial
/// file, and the temporary file does not outlive a failure.
pub fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let t = TempFile::new(path);
    std::fs::write(t.path(), contents)?;
    t.commit().map(|_| ())
}
