//! The targets manifest: one row per label column.
//!
//! A tab-separated file with a header line. Required columns: `name`, `category` (TF, DNase,
//! Histone or another word), `path` (narrowPeak, BED3+, or either gzipped; a relative path is
//! relative to the manifest). Optional: `cell`, `treatment`. Other columns are ignored. Row
//! order is label column order.
//!
//! ```text
//! name            category  path                                   cell
//! A549|CTCF       TF        peaks/ChIPseq.A549.CTCF.narrowPeak.gz  A549
//! A549|DNase      DNase     peaks/DNASE.A549.narrowPeak.gz         A549
//! ```

use ferrosea_dataset::{clip, MESSAGE_VALUE_CHARS};
use std::path::{Path, PathBuf};

use crate::PrepError;

/// One target of the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Unique name.
    pub name: String,
    /// Category; `TF` (any case) marks the targets that `--keep tf-touch` looks at.
    pub category: String,
    /// The peak file, resolved against the manifest's directory.
    pub path: PathBuf,
    /// Cell type, when the manifest has the column.
    pub cell: Option<String>,
    /// Treatment, when the manifest has the column.
    pub treatment: Option<String>,
    /// 1-based line of the manifest.
    pub line: usize,
}

impl Target {
    /// Whether the category is TF (case-insensitive).
    pub fn is_tf(&self) -> bool {
        self.category.eq_ignore_ascii_case("TF")
    }
}

/// Reads a manifest and checks that every peak file exists.
///
/// # Examples
///
/// ```
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("ctcf.bed"), "chr1\t0\t10\n")?;
/// let m = dir.path().join("targets.tsv");
/// std::fs::write(&m, "name\tcategory\tpath\nCTCF\tTF\tctcf.bed\n")?;
/// let targets = ferrosea_prep::manifest::read(&m)?;
/// assert_eq!(targets[0].path, dir.path().join("ctcf.bed"));
///
/// std::fs::write(&m, "name\tpath\nCTCF\tctcf.bed\n")?;
/// let err = ferrosea_prep::manifest::read(&m).unwrap_err().to_string();
/// assert!(err.ends_with("targets.tsv:1: missing column 'category' (header has: name, path)"));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn read(path: &Path) -> Result<Vec<Target>, PrepError> {
    let text = std::fs::read_to_string(path).map_err(|e| PrepError::io(path, e))?;
    let err = |line: usize, message: String| PrepError::Line {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
    let (_, header) = lines.next().ok_or_else(|| {
        err(
            1,
            "empty manifest: expected a header line with name, category, path".into(),
        )
    })?;
    let columns: Vec<&str> = header.split('\t').map(str::trim).collect();
    let find = |name: &str| columns.iter().position(|c| *c == name);
    let required = |name: &str| {
        find(name).ok_or_else(|| {
            err(
                1,
                format!(
                    "missing column '{name}' (header has: {})",
                    clip(&columns.join(", "), MESSAGE_VALUE_CHARS)
                ),
            )
        })
    };
    let (i_name, i_cat, i_path) = (required("name")?, required("category")?, required("path")?);
    let (i_cell, i_treat) = (find("cell"), find("treatment"));
    let base = path.parent().unwrap_or(Path::new("."));

    let mut targets: Vec<Target> = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for (line, text) in lines {
        if text.trim().is_empty() || text.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = text.split('\t').map(str::trim).collect();
        if fields.len() != columns.len() {
            return Err(err(
                line,
                format!(
                    "expected {} tab-separated fields as in the header, found {}",
                    columns.len(),
                    fields.len()
                ),
            ));
        }
        let name = fields[i_name].to_string();
        let shown = clip(&name, MESSAGE_VALUE_CHARS);
        if name.is_empty() {
            return Err(err(line, "empty target name".into()));
        }
        if let Some(first) = seen.insert(name.clone(), line) {
            return Err(err(
                line,
                format!("duplicate target name '{shown}' (first on line {first})"),
            ));
        }
        if fields[i_cat].is_empty() {
            return Err(err(line, format!("empty category for target '{shown}'")));
        }
        let peak_path = base.join(fields[i_path]);
        if fields[i_path].is_empty() || !peak_path.is_file() {
            return Err(err(
                line,
                format!(
                    "peak file '{}' of target '{shown}' not found (looked for {})",
                    clip(fields[i_path], MESSAGE_VALUE_CHARS),
                    clip(&peak_path.display().to_string(), MESSAGE_VALUE_CHARS)
                ),
            ));
        }
        targets.push(Target {
            name,
            category: fields[i_cat].to_string(),
            path: peak_path,
            cell: i_cell.map(|i| fields[i].to_string()),
            treatment: i_treat.map(|i| fields[i].to_string()),
            line,
        });
    }
    if targets.is_empty() {
        return Err(err(
            1,
            "no targets: the manifest has a header but no rows".into(),
        ));
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.bed"), "chr1\t0\t10\n").unwrap();
        let p = dir.path().join("t.tsv");
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    fn error(text: &str) -> String {
        let (_d, p) = manifest(text);
        read(&p).unwrap_err().to_string()
    }

    #[test]
    fn optional_columns_and_order() {
        let (_d, p) = manifest(
            "path\tname\tcategory\tcell\textra\na.bed\tB\tDNase\tK562\tz\na.bed\tA\ttf\tHeLa\tz\n",
        );
        let t = read(&p).unwrap();
        assert_eq!(
            t.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
            ["B", "A"]
        );
        assert_eq!(t[0].cell.as_deref(), Some("K562"));
        assert!(t[1].is_tf() && !t[0].is_tf());
        assert_eq!(t[1].treatment, None);
        assert_eq!(t[1].line, 3);
    }

    #[test]
    fn errors() {
        assert!(error("name\tcategory\n").contains(":1: missing column 'path'"));
        assert!(error("name\tcategory\tpath\nA\tTF\ta.bed\nA\tTF\ta.bed\n")
            .contains(":3: duplicate target name 'A' (first on line 2)"));
        assert!(error("name\tcategory\tpath\nA\tTF\tnope.bed\n")
            .contains(":2: peak file 'nope.bed' of target 'A' not found"));
        assert!(
            error("name\tcategory\tpath\nA\tTF\n").contains(":2: expected 3 tab-separated fields")
        );
        assert!(error("name\tcategory\tpath\n").contains("no targets"));
        assert!(error("").contains("empty manifest"));
        assert!(error("name\tcategory\tpath\nA\t\ta.bed\n").contains("empty category"));
    }
}
