//! Guards shared by every stage binary: the recorded command line, outputs that must not be
//! inputs, and values clipped for error messages.

use std::borrow::Cow;
use std::path::Path;

/// The command line as recorded in output files and JSON reports: the program's arguments
/// (read with `args_os`, so a non-UTF-8 path is recorded lossily instead of panicking),
/// shell-quoted where needed, with the thread count (`-j N`, `-jN`, `--threads N`,
/// `--threads=N`) left out so that it cannot change the output bytes.
pub fn command_line() -> String {
    recorded(std::env::args_os().map(|a| a.to_string_lossy().into_owned()))
}

/// The attributes every output file records of how it was made: `command_line` (as
/// [`command_line`] gives it) and `ferrosea_version`.
pub fn provenance(command_line: &str) -> Vec<(String, crate::AttrValue)> {
    vec![
        (
            "command_line".into(),
            crate::AttrValue::Str(command_line.into()),
        ),
        (
            "ferrosea_version".into(),
            crate::AttrValue::Str(env!("CARGO_PKG_VERSION").into()),
        ),
    ]
}

fn recorded(args: impl Iterator<Item = String>) -> String {
    let mut out = Vec::new();
    let mut args = args.peekable();
    while let Some(a) = args.next() {
        if a == "-j" || a == "--threads" {
            args.next();
        } else if !(a.starts_with("--threads=")
            || (a.starts_with("-j") && a[2..].parse::<usize>().is_ok()))
        {
            out.push(
                if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"$\\".contains(c)) {
                    format!("'{}'", a.replace('\'', r"'\''"))
                } else {
                    a
                },
            );
        }
    }
    out.join(" ")
}

/// Whether two paths name the same existing file: the same device and inode, so that a
/// symbolic or hard link, `./a` and `a`, all count. False when either does not exist.
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// An output that would overwrite one of the inputs.
#[derive(Debug, thiserror::Error)]
#[error("{output}: the output is the input {flag} {input} (refusing to overwrite an input)")]
pub struct OutputIsInput {
    /// The output path as given.
    pub output: String,
    /// The command-line flag of the input.
    pub flag: String,
    /// The input path as given.
    pub input: String,
}

/// Refuses an output path that is one of `inputs` (`(flag, path)` pairs), also through
/// links. Call it before any work, for each file a stage will write (and for its `.tmp`).
pub fn ensure_not_input(output: &Path, inputs: &[(&str, &Path)]) -> Result<(), OutputIsInput> {
    let tmp = crate::tmp_path(output);
    for (flag, input) in inputs {
        if same_file(output, input) || same_file(&tmp, input) {
            return Err(OutputIsInput {
                output: output.display().to_string(),
                flag: (*flag).to_string(),
                input: input.display().to_string(),
            });
        }
    }
    Ok(())
}

/// Checks that a file can be created at `path` (its directory exists and is writable) by
/// creating and removing `<path>.tmp`, before any work is done, so that a long run does not
/// fail at its end. The error says which file could not be written and why.
pub fn ensure_writable(path: &Path) -> Result<(), String> {
    let tmp = crate::tmp_path(path);
    match std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&tmp);
            Ok(())
        }
        Err(e) => Err(format!("cannot write {}: {e}", tmp.display())),
    }
}

/// Checks an output file before any work: it is not a directory, not one of `inputs`
/// ([`ensure_not_input`]) and can be created ([`ensure_writable`]).
pub fn ensure_output_file(path: &Path, inputs: &[(&str, &Path)]) -> Result<(), String> {
    if path.is_dir() {
        return Err(format!(
            "{}: is a directory; the output must be a file path",
            path.display()
        ));
    }
    ensure_not_input(path, inputs).map_err(|e| e.to_string())?;
    ensure_writable(path)
}

/// Checks an output directory before any work: it is not a file, not one of `inputs`, and
/// it can be created and written in.
pub fn ensure_output_dir(dir: &Path, inputs: &[(&str, &Path)]) -> Result<(), String> {
    if dir.exists() && !dir.is_dir() {
        return Err(format!(
            "{}: exists and is not a directory; -o takes a directory",
            dir.display()
        ));
    }
    ensure_not_input(dir, inputs).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    ensure_writable(&dir.join(".ferrosea-write-test"))
}

/// The lower-case hex SHA-256 of a file's bytes (the provenance outputs record of their
/// inputs), read in 1 MiB blocks.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::Digest;
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// At most `max` characters of a value quoted in an error message: a longer one is cut and
/// says how long it was (a 5 MB field must not become a 5 MB error line).
pub fn clip(value: &str, max: usize) -> Cow<'_, str> {
    match value.char_indices().nth(max) {
        None => Cow::Borrowed(value),
        Some((end, _)) => Cow::Owned(format!(
            "{}... ({} bytes in all)",
            &value[..end],
            value.len()
        )),
    }
}

/// The length [`clip`] is used with in the stages' messages.
pub const MESSAGE_VALUE_CHARS: usize = 80;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_counts_are_left_out_and_odd_arguments_quoted() {
        let v = |s: &[&str]| recorded(s.iter().map(|a| a.to_string()));
        assert_eq!(
            v(&[
                "prep",
                "-j",
                "4",
                "--genome",
                "a b.fa",
                "-j2",
                "--threads=3",
                "--threads",
                "5",
                "-o",
                "x"
            ]),
            "prep --genome 'a b.fa' -o x"
        );
        assert_eq!(v(&["p", "", "it's"]), r"p '' 'it'\''s'");
    }

    #[test]
    fn links_to_an_input_are_the_input() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.h5");
        std::fs::write(&input, b"x").unwrap();
        let link = dir.path().join("link.h5");
        std::os::unix::fs::symlink(&input, &link).unwrap();
        let hard = dir.path().join("hard.h5");
        std::fs::hard_link(&input, &hard).unwrap();
        let other = dir.path().join("out.h5");
        for out in [&input, &link, &hard] {
            let e = ensure_not_input(out, &[("--data", &input)]).unwrap_err();
            assert!(e.to_string().contains("--data"), "{e}");
        }
        let dotted = dir.path().join(".").join("in.h5");
        assert!(ensure_not_input(&dotted, &[("--data", &input)]).is_err());
        assert!(ensure_not_input(&other, &[("--data", &input)]).is_ok());
        // The temporary name of the output is checked too.
        let tmp_out = dir.path().join("in");
        std::fs::rename(&input, dir.path().join("in.tmp")).unwrap();
        assert!(ensure_not_input(&tmp_out, &[("--data", &dir.path().join("in.tmp"))]).is_err());
    }

    #[test]
    fn long_values_are_clipped() {
        assert_eq!(clip("short", 10), "short");
        let long = "é".repeat(1000);
        let c = clip(&long, 5);
        assert_eq!(c, "ééééé... (2000 bytes in all)");
    }
}
