//! `ferrosea-prep import-deepsea`: DeepSEA's original training bundle (train.mat, valid.mat,
//! test.mat) into ferrosea dataset files.
//!
//! The bundle stores windows as MATLAB arrays `[N, 4, L]` with channels A, G, C, T and labels
//! `[N, T]`, the sample index varying fastest (train.mat is MATLAB 7.3, i.e. HDF5; valid.mat
//! and test.mat are MATLAB 5). Samples are read in blocks (the whole block of the fastest
//! dimension at once, so each read is contiguous), transposed in memory to `[k, L, 4]` with
//! channels A, C, G, T, and streamed into the dataset writer: memory is bounded by the block
//! size whatever the file size. The files hold no coordinates: `coords/chrom` names a single
//! sequence `unknown` and `coords/start` is -1; the first half of each file is the forward
//! block and the second half its reverse complement (`forward_rows`, `coords/strand`).
//!
//! We convert rather than have the train stage read .mat files directly: every later stage
//! (train, evaluate, interpret) then reads one format, and the conversion runs once.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ferrosea_dataset::{AttrValue, Block, Header, Targets, Writer, WriterOptions};
use rayon::prelude::*;
use serde::Serialize;

use crate::mat::{self, Variable};
use crate::PrepError;

/// DeepSEA's 919 target names, in output order (data/deepsea; MIT / CC-BY 3.0).
pub const DEEPSEA_NAMES: &str =
    include_str!("../../../data/deepsea/deepsea_919_predictor.names.txt");

/// What to import (also the flags of `ferrosea-prep import-deepsea`).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ImportOptions {
    /// train.mat (MATLAB 7.3 / HDF5: trainxdata, traindata).
    #[arg(long, value_name = "MAT")]
    pub train: Option<PathBuf>,
    /// valid.mat (MATLAB 5: validxdata, validdata).
    #[arg(long, value_name = "MAT")]
    pub valid: Option<PathBuf>,
    /// test.mat (MATLAB 5: testxdata, testdata).
    #[arg(long, value_name = "MAT")]
    pub test: Option<PathBuf>,
    /// Target names, one per line, in label order [default: DeepSEA's 919, embedded].
    #[arg(long, value_name = "TXT")]
    pub names: Option<PathBuf>,
    /// TSV with name and category columns [default: DeepSEA's order, 125 DNase, 690 TF,
    /// 104 histone].
    #[arg(long, value_name = "TSV")]
    pub manifest: Option<PathBuf>,
    /// Output directory.
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: PathBuf,
    /// Samples read and transposed at a time (memory: about 8 KB each).
    #[arg(long, value_name = "ROWS", default_value_t = 16384)]
    pub block_rows: usize,
    /// Rows per HDF5 chunk.
    #[arg(long, value_name = "ROWS", default_value_t = 256)]
    pub chunk_rows: usize,
    /// Deflate level, 1 (fast) to 9 (small).
    #[arg(long, value_name = "LEVEL", default_value_t = 4)]
    pub compression_level: u32,
    /// Recorded in the files.
    #[arg(skip)]
    pub command_line: String,
}

/// One converted file.
#[derive(Clone, Debug, Serialize)]
pub struct SplitReport {
    /// train, valid or test.
    pub split: String,
    /// The .mat file.
    pub source: String,
    /// MATLAB version of the source (5 or 7.3).
    pub source_version: String,
    /// Samples.
    pub rows: usize,
    /// Window length.
    pub window: usize,
    /// Samples of the forward block.
    pub forward_rows: usize,
    /// Whether the first pairs checked had row F + i equal to the reverse complement of row i.
    pub reverse_complement_verified: bool,
    /// Seconds taken.
    pub seconds: f64,
    /// Input megabytes (one-hot and labels, one byte per value) per second.
    pub mb_per_s: f64,
}

/// What an import did.
#[derive(Clone, Debug, Serialize)]
pub struct ImportReport {
    /// Per split.
    pub splits: Vec<SplitReport>,
    /// Warnings.
    pub notes: Vec<String>,
}

/// The names and categories of the targets.
fn targets(opts: &ImportOptions, notes: &mut Vec<String>) -> Result<Targets, PrepError> {
    let (text, origin) = match &opts.names {
        Some(p) => (
            std::fs::read_to_string(p).map_err(|e| PrepError::io(p.clone(), e))?,
            p.display().to_string(),
        ),
        None => (DEEPSEA_NAMES.to_string(), "DeepSEA's 919 names".into()),
    };
    let name: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if name.is_empty() {
        return Err(PrepError::Invalid(format!("{origin}: no target names")));
    }
    let category = match &opts.manifest {
        Some(p) => manifest_categories(p, &name)?,
        None if name.len() == 919 => (0..919)
            .map(|i| match i {
                0..125 => "DNase",
                125..815 => "TF",
                _ => "Histone",
            })
            .map(String::from)
            .collect(),
        None => {
            notes.push(format!(
                "{} targets, not DeepSEA's 919: categories are 'unknown' (give --manifest \
                 with name and category columns)",
                name.len()
            ));
            vec!["unknown".to_string(); name.len()]
        }
    };
    Ok(Targets {
        name,
        category,
        cell: None,
        treatment: None,
    })
}

/// Categories from a TSV with `name` and `category` columns, for the names in order.
fn manifest_categories(path: &Path, names: &[String]) -> Result<Vec<String>, PrepError> {
    let text = std::fs::read_to_string(path).map_err(|e| PrepError::io(path, e))?;
    let mut lines = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
    let head: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
    let col = |c: &str| head.iter().position(|h| h.trim() == c);
    let (Some(nc), Some(cc)) = (col("name"), col("category")) else {
        return Err(PrepError::Invalid(format!(
            "{}: the manifest needs 'name' and 'category' columns",
            path.display()
        )));
    };
    let mut map = std::collections::HashMap::new();
    for l in lines {
        let f: Vec<&str> = l.split('\t').collect();
        if let (Some(n), Some(c)) = (f.get(nc), f.get(cc)) {
            map.entry(n.trim().to_string())
                .or_insert_with(|| c.trim().to_string());
        }
    }
    names
        .iter()
        .map(|n| {
            map.get(n).cloned().ok_or_else(|| {
                PrepError::Invalid(format!("{}: no category for target {n}", path.display()))
            })
        })
        .collect()
}

/// Converts every given file; writes `import.json` last.
pub fn import_deepsea(opts: &ImportOptions) -> Result<ImportReport, PrepError> {
    let splits: Vec<(&str, &PathBuf)> = [
        ("train", &opts.train),
        ("valid", &opts.valid),
        ("test", &opts.test),
    ]
    .into_iter()
    .filter_map(|(s, p)| p.as_ref().map(|p| (s, p)))
    .collect();
    if splits.is_empty() {
        return Err(PrepError::Invalid(
            "nothing to import: give --train, --valid and/or --test".into(),
        ));
    }
    let mut notes = Vec::new();
    let targets = targets(opts, &mut notes)?;
    std::fs::create_dir_all(&opts.out).map_err(|e| PrepError::io(opts.out.clone(), e))?;
    for (flag, _) in &splits {
        let out = opts.out.join(format!("{flag}.h5"));
        let inputs: Vec<(String, &Path)> = splits
            .iter()
            .map(|(s, p)| (format!("--{s}"), p.as_path()))
            .chain(opts.names.as_deref().map(|p| ("--names".to_string(), p)))
            .chain(
                opts.manifest
                    .as_deref()
                    .map(|p| ("--manifest".to_string(), p)),
            )
            .collect();
        let inputs: Vec<(&str, &Path)> = inputs.iter().map(|(f, p)| (f.as_str(), *p)).collect();
        ferrosea_dataset::ensure_not_input(&out, &inputs)
            .map_err(|e| PrepError::Invalid(e.to_string()))?;
    }
    // An older import's report goes first, so that a half-replaced directory never looks
    // complete; the new files are renamed into place only once every split has converted.
    let path = opts.out.join("import.json");
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(PrepError::io(path, e));
        }
        _ => {}
    }
    let mut reports = Vec::new();
    let mut closed = Vec::new();
    for (split, path) in splits {
        let (r, file) = import_split(opts, split, path, &targets)?;
        closed.push(file);
        if !r.reverse_complement_verified {
            notes.push(format!(
                "{}: the second half is not the reverse complement of the first (checked on the \
                 first pairs); its rows are still marked strand '-'",
                path.display()
            ));
        }
        tracing::info!(
            "{split}: {} samples from {} in {:.1} s ({:.0} MB/s)",
            r.rows,
            path.display(),
            r.seconds,
            r.mb_per_s
        );
        reports.push(r);
    }
    for file in closed {
        file.commit()?;
    }
    for n in &notes {
        tracing::warn!("{n}");
    }
    let report = ImportReport {
        splits: reports,
        notes,
    };
    let json = serde_json::json!({
        "format": "ferrosea-import",
        "source": "deepsea",
        "command_line": opts.command_line,
        "ferrosea_version": env!("CARGO_PKG_VERSION"),
        "splits": report.splits,
        "notes": report.notes,
    });
    let text = serde_json::to_string_pretty(&json).expect("serialisable") + "\n";
    ferrosea_dataset::write_atomically(&path, text.as_bytes())
        .map_err(|e| PrepError::io(path.clone(), e))?;
    Ok(report)
}

fn import_split(
    opts: &ImportOptions,
    split: &str,
    path: &Path,
    targets: &Targets,
) -> Result<(SplitReport, ferrosea_dataset::Closed), PrepError> {
    let started = Instant::now();
    let version = match mat::version(path)? {
        mat::Version::V5 => "5",
        mat::Version::V73 => "7.3",
    };
    let (xname, yname) = (format!("{split}xdata"), format!("{split}data"));
    let vars = mat::open(path, &[&xname, &yname], &opts.out)?;
    let find = |n: &str| {
        vars.iter().find(|v| v.name == n).ok_or_else(|| {
            PrepError::Invalid(format!(
                "{}: no variable {n} (DeepSEA's {split} file holds {xname} and {yname})",
                path.display()
            ))
        })
    };
    let (x, y) = (find(&xname)?, find(&yname)?);
    let bad = |m: String| PrepError::Invalid(format!("{}: {m}", path.display()));
    if x.dims.len() != 3 || x.dims[1] != 4 {
        return Err(bad(format!(
            "{xname} has MATLAB size {:?}: expected [samples, 4, window]",
            x.dims
        )));
    }
    let (n, window) = (x.dims[0], x.dims[2]);
    if y.dims.len() != 2 || y.dims[0] != n {
        return Err(bad(format!(
            "{yname} has MATLAB size {:?}: expected [{n}, targets] for the {n} samples of {xname}",
            y.dims
        )));
    }
    let t = y.dims[1];
    if t != targets.len() {
        return Err(bad(format!(
            "{yname} has {t} label columns but there are {} target names",
            targets.len()
        )));
    }
    if n == 0 || n % 2 != 0 {
        return Err(bad(format!(
            "{n} samples: expected an even number (a forward block and its reverse complement)"
        )));
    }
    let forward = n / 2;
    let verified = reverse_complements_pair(x, forward, window)?;
    let header = Header {
        window,
        targets: targets.clone(),
        chrom_names: vec!["unknown".into()],
        attrs: vec![
            ("split".into(), AttrValue::Str(split.into())),
            ("reverse_complement".into(), AttrValue::Int(1)),
            ("forward_rows".into(), AttrValue::Int(forward as i64)),
            ("coordinates".into(), AttrValue::Str("unknown".into())),
            (
                "source".into(),
                AttrValue::Str(format!("DeepSEA deepsea_train bundle: {}", file_name(path))),
            ),
        ]
        .into_iter()
        .chain(ferrosea_dataset::provenance(&opts.command_line))
        .collect::<Vec<_>>(),
        ..Default::default()
    };
    let out = opts.out.join(format!("{split}.h5"));
    let mut w = Writer::create(
        &out,
        &header,
        n,
        WriterOptions {
            chunk_rows: opts.chunk_rows.max(1),
            level: opts.compression_level,
            ..WriterOptions::default()
        },
    )?;
    let block = opts.block_rows.max(1);
    for first in (0..n).step_by(block) {
        let rows = first..(first + block).min(n);
        let k = rows.len();
        let xs = x.read_block(rows.clone())?;
        let ys = y.read_block(rows.clone())?;
        w.write_rows(
            first,
            &Block {
                x: windows_from_matlab(&xs, k, window),
                y: labels_from_matlab(&ys, k, t),
                chrom: vec![0; k],
                start: vec![-1; k],
                strand: rows
                    .map(|r| if r < forward { b'+' } else { b'-' })
                    .collect(),
            },
        )?;
    }
    let closed = w.close()?;
    let seconds = started.elapsed().as_secs_f64();
    let report = SplitReport {
        split: split.into(),
        source: path.display().to_string(),
        source_version: version.into(),
        rows: n,
        window,
        forward_rows: forward,
        reverse_complement_verified: verified,
        seconds,
        mb_per_s: (n * (4 * window + t)) as f64 / 1e6 / seconds.max(1e-9),
    };
    Ok((report, closed))
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |f| f.to_string_lossy().into_owned(),
    )
}

/// Channel c of ours (A, C, G, T) is channel `FROM_AGCT[c]` of the bundle (A, G, C, T).
const FROM_AGCT: [usize; 4] = [0, 2, 1, 3];

/// `[j][i]` bytes of a `[k, 4, L]` MATLAB block (j = c + 4 p) to `[k, L, 4]` rows, A, C, G, T.
pub fn windows_from_matlab(src: &[u8], k: usize, window: usize) -> Vec<u8> {
    let mut out = vec![0u8; k * window * 4];
    out.par_chunks_mut(window * 4)
        .enumerate()
        .for_each(|(i, row)| {
            for p in 0..window {
                for (c, &from) in FROM_AGCT.iter().enumerate() {
                    row[p * 4 + c] = src[(from + 4 * p) * k + i];
                }
            }
        });
    out
}

/// `[t][i]` bytes of a `[k, T]` MATLAB block to `[k, T]` rows.
pub fn labels_from_matlab(src: &[u8], k: usize, t: usize) -> Vec<u8> {
    let mut out = vec![0u8; k * t];
    for (i, row) in out.chunks_exact_mut(t).enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = src[j * k + i];
        }
    }
    out
}

/// Whether row `forward + i` is the reverse complement of row `i` for the first pairs.
fn reverse_complements_pair(
    x: &Variable,
    forward: usize,
    window: usize,
) -> Result<bool, PrepError> {
    let m = forward.min(16);
    let a = windows_from_matlab(&x.read_block(0..m)?, m, window);
    let b = windows_from_matlab(&x.read_block(forward..forward + m)?, m, window);
    Ok((0..m).all(|i| {
        let (ra, rb) = (
            &a[i * window * 4..(i + 1) * window * 4],
            &b[i * window * 4..(i + 1) * window * 4],
        );
        (0..window).all(|p| (0..4).all(|c| ra[p * 4 + c] == rb[(window - 1 - p) * 4 + (3 - c)]))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matlab_blocks_become_rows_in_acgt() {
        // k = 2 samples, window 2: sample 0 = A G, sample 1 = C T in A, G, C, T channels.
        // MATLAB [k, 4, L], sample fastest: index (i, c, p) at i + 2 (c + 4 p).
        let mut src = vec![0u8; 2 * 4 * 2];
        let mut set = |i: usize, c: usize, p: usize| src[i + 2 * (c + 4 * p)] = 1;
        set(0, 0, 0); // A
        set(0, 1, 1); // G (channel 1 in AGCT)
        set(1, 2, 0); // C (channel 2 in AGCT)
        set(1, 3, 1); // T
        let rows = windows_from_matlab(&src, 2, 2);
        assert_eq!(rows, [1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
        assert_eq!(
            labels_from_matlab(&[1, 0, 0, 1, 1, 1], 2, 3),
            [1, 0, 1, 0, 1, 1]
        );
        assert_eq!(DEEPSEA_NAMES.lines().count(), 919);
    }
}
