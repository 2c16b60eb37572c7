//! What the tests of several crates share (a dev-dependency only): the workspace root, the
//! lock that keeps HDF5 writers and child processes apart, and the Pythons the oracles run
//! in.
//!
//! ```
//! let root = ferrosea_testkit::root();
//! assert!(root.join("Cargo.toml").exists() && root.join("data").is_dir());
//! let _turn = ferrosea_testkit::serial(); // held to the end of the test
//! ```

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// The workspace root (the directory of the top `Cargo.toml`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The embedded demo data, `data/demo`.
pub fn demo() -> PathBuf {
    root().join("data/demo")
}

static SERIAL: Mutex<()> = Mutex::new(());

/// Takes this test binary's lock (hold the guard to the end of the test). Tests of one binary
/// run on threads of one process, and libhdf5 opens files without close-on-exec, so a child
/// spawned while another test writes an HDF5 file would inherit its write lock: every test
/// that writes HDF5 files or spawns processes holds this. Each test binary links its own copy
/// of the lock, as it runs its own tests; a test that panicked holding it does not block the
/// others.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The Python of the test oracles that `./dev.sh test` makes (`.venv`, or `FERROSEA_PYTHON`).
/// Panics when it is missing, naming `needs` (what the caller imports) and how to make it.
pub fn python(needs: &str) -> PathBuf {
    let python = std::env::var_os("FERROSEA_PYTHON")
        .map(Into::into)
        .unwrap_or_else(|| root().join(".venv/bin/python"));
    assert!(
        python.exists(),
        "no Python with {needs} at {}: run the tests with ./dev.sh test, which makes .venv",
        python.display()
    );
    python
}

/// The Python with PyTorch of the ignored tests and the benches (`benches/.venv-torch`, made
/// by hand: it is a 3 GB install). Panics when it is missing, naming `needs`.
pub fn torch_python(needs: &str) -> PathBuf {
    let python = root().join("benches/.venv-torch/bin/python");
    assert!(
        python.exists(),
        "{} is missing: python3 -m venv benches/.venv-torch && \
         benches/.venv-torch/bin/pip install {needs}",
        python.display()
    );
    python
}
