//! Motifs as position frequency matrices, read from MEME's minimal motif format (the
//! format JASPAR and HOCOMOCO distribute and `tomtom` reads) or JASPAR's count format, plain
//! or gzip-compressed; written as MEME; compared with [`tomtom`].

mod consensus;
pub mod discovery;
mod jaspar;
mod meme;
pub mod tomtom;

pub use consensus::{argmax_consensus, consensus, consensus_of};
pub use jaspar::parse_jaspar;
use meme::background;
pub use meme::{parse_meme, read_meme, write_meme, write_meme_alphabet};

use std::io::Read;
use std::path::{Path, PathBuf};

/// The widest motif read (positions). Real databases are far narrower (JASPAR's and
/// HOCOMOCO's motifs are under 50 positions; MEME itself finds motifs of at most 300), and a
/// Tomtom comparison's time grows about as the cube of the width: one query of width 500
/// against JASPAR 2024 takes 3.3 s on 2 cores, one of width 1000 25 s, and a motif of 200,000
/// positions would need tens of gigabytes.
pub const MAX_WIDTH: usize = 500;

/// Letters of the columns, in order.
const BASES: [char; 4] = ['A', 'C', 'G', 'T'];

/// The longest part of a value quoted in an error message (as `ferrosea_dataset::clip`,
/// which this crate does not depend on).
const MESSAGE_VALUE_CHARS: usize = 80;

/// At most [`MESSAGE_VALUE_CHARS`] characters of `value`, saying how long it was when cut.
fn clip(value: &str) -> std::borrow::Cow<'_, str> {
    match value.char_indices().nth(MESSAGE_VALUE_CHARS) {
        None => std::borrow::Cow::Borrowed(value),
        Some((end, _)) => std::borrow::Cow::Owned(format!(
            "{}... ({} bytes in all)",
            &value[..end],
            value.len()
        )),
    }
}

/// What is wrong with a value that is not a probability or a count.
fn kind_of_bad(v: f64) -> &'static str {
    if v.is_nan() {
        "not a number"
    } else if v.is_infinite() {
        "infinite"
    } else if v < 0.0 {
        "negative"
    } else {
        "above 1"
    }
}

/// The error for a motif wider than [`MAX_WIDTH`].
fn too_wide(path: &Path, line: usize, id: &str, width: usize) -> MotifError {
    MotifError::Parse {
        path: path.to_path_buf(),
        line,
        message: format!(
            "motif {} is {width} positions wide; the most this program reads is {MAX_WIDTH}",
            clip(id)
        ),
    }
}

/// A motif: one row of A, C, G, T probabilities per position.
///
/// ```
/// use ferrosea_motifs::{consensus, Motif};
/// let m = Motif {
///     id: "m1".into(),
///     name: None,
///     pfm: vec![[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]],
///     nsites: None,
/// };
/// assert_eq!(consensus(&m.pfm), "AG");
/// assert_eq!(consensus(&m.reverse_complement().pfm), "CT");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Motif {
    /// Identifier (`MOTIF <id> ...`).
    pub id: String,
    /// Alternate name, when given.
    pub name: Option<String>,
    /// Probabilities per position, columns A, C, G, T.
    pub pfm: Vec<[f64; 4]>,
    /// Number of sites the matrix was built from, when known (`nsites=`).
    pub nsites: Option<f64>,
}

impl Motif {
    /// Width in positions.
    pub fn width(&self) -> usize {
        self.pfm.len()
    }

    /// The reverse complement (positions reversed, A<->T, C<->G).
    pub fn reverse_complement(&self) -> Motif {
        Motif {
            id: self.id.clone(),
            name: self.name.clone(),
            pfm: self
                .pfm
                .iter()
                .rev()
                .map(|r| [r[3], r[2], r[1], r[0]])
                .collect(),
            nsites: self.nsites,
        }
    }
}

/// A motif file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MotifError {
    /// File-system error.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Malformed content.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What was expected.
        message: String,
    },
}

/// Reads every motif of a MEME or JASPAR file (told apart by content: a JASPAR file starts
/// with a `>` header line), plain or gzip-compressed. A MEME file with its header and no
/// motifs gives none; a JASPAR or other file without motifs is an error.
pub fn read_motifs(path: &Path) -> Result<Vec<Motif>, MotifError> {
    motifs_from_text(&read_text(path)?, path)
}

/// [`read_motifs`], and the letter frequencies on a MEME file's `Background letter
/// frequencies` line if it has one (`None` for JASPAR files and MEME files without it), from
/// one reading of the file.
pub fn read_motifs_and_background(
    path: &Path,
) -> Result<(Vec<Motif>, Option<[f64; 4]>), MotifError> {
    let text = read_text(path)?;
    Ok((motifs_from_text(&text, path)?, background(&text, path)?))
}

fn motifs_from_text(text: &str, path: &Path) -> Result<Vec<Motif>, MotifError> {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'));
    let jaspar = first.is_some_and(|l| l.starts_with('>'));
    let motifs = if jaspar {
        parse_jaspar(text, path)?
    } else {
        parse_meme(std::io::Cursor::new(text.as_bytes()), path)?
    };
    // A MEME file may list no motifs (a search that found none); a JASPAR file is its
    // motifs.
    if motifs.is_empty() && (jaspar || !text.contains("MEME version")) {
        return Err(MotifError::Parse {
            path: path.to_path_buf(),
            line: 1,
            message: "no motifs in the file".into(),
        });
    }
    Ok(motifs)
}

fn read_text(path: &Path) -> Result<String, MotifError> {
    let io = |source| MotifError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut raw = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut raw))
        .map_err(io)?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(std::io::Cursor::new(raw))
            .read_to_end(&mut out)
            .map_err(io)?;
        raw = out;
    }
    String::from_utf8(raw).map_err(|e| MotifError::Parse {
        path: path.to_path_buf(),
        line: 0,
        message: format!("not UTF-8 text: {e}"),
    })
}

/// JASPAR 2024 CORE vertebrates (879 motifs, CC BY 4.0; data/motifs), gzipped: the default
/// database of `ferrosea-interpret compare` and the motifs of `ferrosea-prep
/// simulate-examples`.
pub const JASPAR2024: &[u8] =
    include_bytes!("../../../data/motifs/JASPAR2024_CORE_vertebrates_latest.meme.gz");

/// The motifs of [`JASPAR2024`].
pub fn embedded_jaspar() -> Result<Vec<Motif>, MotifError> {
    let path = Path::new("JASPAR2024_CORE_vertebrates_latest.meme.gz (embedded)");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(JASPAR2024), &mut text)
        .map_err(|source| MotifError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    parse_meme(std::io::Cursor::new(text.as_bytes()), path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\nBackground letter frequencies\nA 0.25 C 0.25 G 0.25 T 0.25\n\n\
MOTIF MA0004.1 Arnt\nletter-probability matrix: alength= 4 w= 2 nsites= 20 E= 0\n 0.2 0.8 0.0 0.0\n0.0 0.0 1.0 0.0\n\n\
MOTIF MA0006.1 Ahr::Arnt\nletter-probability matrix: alength= 4 w= 1 nsites= 24 E= 0\n0.1 0.2 0.3 0.4\n";

    #[test]
    fn rows_are_normalised_as_meme_normalises_them() {
        let text = "MEME version 4\n\nALPHABET= ACGT\n\n\
MOTIF a\nletter-probability matrix: alength= 4 w= 2 nsites= 20 E= 0\n\
0.249999 0.25 0.25 0.25\n0.2475 0.2475 0.2475 0.2475\n";
        let m = parse_meme(text.as_bytes(), Path::new("t.meme")).unwrap();
        // Within 1e-5 of 1: kept as written; 0.99: divided by its sum.
        assert_eq!(m[0].pfm[0], [0.249999, 0.25, 0.25, 0.25]);
        assert_eq!(m[0].pfm[1], [0.25; 4]);
    }

    #[test]
    fn background_line_and_tomtom_consensus() {
        let dir = std::env::temp_dir().join(format!("ferrosea-bg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let with = dir.join("with.meme");
        std::fs::write(
            &with,
            TEXT.replace("A 0.25 C 0.25 G 0.25 T 0.25", "A 0.3 C 0.2 G 0.2 T 0.3"),
        )
        .unwrap();
        let (motifs, bg) = read_motifs_and_background(&with).unwrap();
        assert_eq!((motifs.len(), bg), (2, Some([0.3, 0.2, 0.2, 0.3])));
        let bad = dir.join("bad.meme");
        std::fs::write(&bad, TEXT.replace("A 0.25 C 0.25", "A x C 0.25")).unwrap();
        let e = read_motifs_and_background(&bad).unwrap_err().to_string();
        assert!(
            e.contains("bad.meme:8:") && e.contains("'A x C 0.25"),
            "{e}"
        );
        let jaspar = dir.join("m.jaspar");
        std::fs::write(&jaspar, ">MA1 x\nA [1 0]\nC [0 1]\nG [0 0]\nT [0 0]\n").unwrap();
        let (motifs, bg) = read_motifs_and_background(&jaspar).unwrap();
        assert_eq!((motifs.len(), bg), (1, None));
        std::fs::remove_dir_all(&dir).unwrap();
        // The most probable letter; on these ties (0.25 is exact in f32, 0.4 rounds up) the
        // first of A, C, G, T.
        let pfm = [[0.2, 0.8, 0.0, 0.0], [0.25; 4], [0.1, 0.1, 0.4, 0.4]];
        assert_eq!(argmax_consensus(&pfm), "CAG");
    }

    #[test]
    fn parses_and_reverse_complements() {
        let m = parse_meme(TEXT.as_bytes(), Path::new("t.meme")).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].id, "MA0004.1");
        assert_eq!(m[0].name.as_deref(), Some("Arnt"));
        assert_eq!(m[0].pfm, vec![[0.2, 0.8, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]);
        assert_eq!(
            m[0].reverse_complement().pfm,
            vec![[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.8, 0.2]]
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let bad = TEXT.replace("0.1 0.2 0.3 0.4", "0.1 0.2 0.3");
        let e = parse_meme(bad.as_bytes(), Path::new("t.meme"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.meme:17:") && e.contains("found 3"), "{e}");
        let e = parse_meme("hello\n".as_bytes(), Path::new("x.txt"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a MEME motif file"), "{e}");
    }

    #[test]
    fn meme_values_that_are_not_probabilities_are_refused() {
        for (value, why) in [
            ("nan", "is not a number"),
            ("NaN", "is not a number"),
            ("-0.1", "is negative"),
            ("inf", "is infinite"),
            ("-inf", "is infinite"),
            ("1.5", "is above 1"),
        ] {
            let bad = TEXT.replace("0.1 0.2 0.3 0.4", &format!("0.1 0.2 {value} 0.4"));
            let e = parse_meme(bad.as_bytes(), Path::new("t.meme"))
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("t.meme:17: motif MA0006.1: G value ")
                    && e.contains(&format!("'{value}' {why}, not a probability")),
                "{value}: {e}"
            );
            assert!(!e.contains("sum"), "{e}");
        }
        // A whole row of NaN, the first column named.
        let bad = TEXT.replace("0.1 0.2 0.3 0.4", "nan nan nan nan");
        let e = parse_meme(bad.as_bytes(), Path::new("t.meme"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("A value 'nan' is not a number"), "{e}");
    }

    #[test]
    fn jaspar_values_that_are_not_counts_are_refused() {
        for (value, why) in [
            ("nan", "is not a number"),
            ("-3", "is negative"),
            ("inf", "is infinite"),
        ] {
            let text = format!(">MA9 x\nA [ 1 2 ]\nC [ 1 {value} ]\nG [ 0 0 ]\nT [ 0 0 ]\n");
            let e = parse_jaspar(&text, Path::new("j.jaspar"))
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("j.jaspar:3: motif MA9: value ")
                    && e.contains(&format!("'{value}' in column 2 {why}, not a count")),
                "{value}: {e}"
            );
        }
    }

    #[test]
    fn motifs_wider_than_the_maximum_are_refused() {
        let header = "MEME version 4\n\nALPHABET= ACGT\n\nMOTIF long\n";
        let meme =
            format!("{header}letter-probability matrix: alength= 4 w= 200000 nsites= 20 E= 0\n");
        let e = parse_meme(meme.as_bytes(), Path::new("w.meme"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!(
                "w.meme:6: motif long is 200000 positions wide; the most this program reads \
                 is {MAX_WIDTH}"
            )
        );
        // The maximum itself is read.
        let rows = "0.25 0.25 0.25 0.25\n".repeat(MAX_WIDTH);
        let meme = format!(
            "{header}letter-probability matrix: alength= 4 w= {MAX_WIDTH} nsites= 20 E= 0\n{rows}"
        );
        let m = parse_meme(meme.as_bytes(), Path::new("w.meme")).unwrap();
        assert_eq!(m[0].width(), MAX_WIDTH);
        let row = " 1".repeat(MAX_WIDTH + 1);
        let jaspar = format!(">J1 x\nA [{row} ]\nC [{row} ]\nG [{row} ]\nT [{row} ]\n");
        let e = parse_jaspar(&jaspar, Path::new("w.jaspar"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!(
                "w.jaspar:1: motif J1 is {} positions wide",
                MAX_WIDTH + 1
            )),
            "{e}"
        );
    }

    #[test]
    fn jaspar_format_and_writing() {
        let text = ">MA0002.3\tRunx1\nA  [ 1 0 ]\nC  [ 1 0 ]\nG  [ 0 4 ]\nT  [ 2 0 ]\n";
        let m = parse_jaspar(text, Path::new("j")).unwrap();
        assert_eq!(m[0].id, "MA0002.3");
        assert_eq!(m[0].pfm, vec![[0.25, 0.25, 0.0, 0.5], [0.0, 0.0, 1.0, 0.0]]);
        assert_eq!(m[0].nsites, Some(4.0));
        assert_eq!(consensus(&m[0].pfm), "NG");
        let again = parse_meme(write_meme(&m, [0.25; 4]).as_bytes(), Path::new("w")).unwrap();
        assert_eq!(again[0].pfm, m[0].pfm);
        assert_eq!(again[0].nsites, Some(4.0));
        let e = parse_jaspar(">X\nA [ 1 ]\nC [ 1 ]\nG [ 1 ]\n", Path::new("j"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("j:1: motif X has 3 rows"), "{e}");
        let e = parse_jaspar(">X\nA [ 1 x ]\n", Path::new("j"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("j:2: expected a row of counts"), "{e}");
        assert_eq!(
            consensus(&[[0.45, 0.4, 0.1, 0.05], [0.9, 0.05, 0.05, 0.0]]),
            "MA"
        );
    }

    #[test]
    fn reads_the_shared_jaspar_2016_file() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/motifs/JASPAR2016_CORE_vertebrates_latest.meme.gz");
        if !path.exists() {
            eprintln!("skipped: {} not present", path.display());
            return;
        }
        let m = read_meme(&path).unwrap();
        assert_eq!(
            m.len(),
            519,
            "JASPAR 2016 CORE vertebrates has 519 matrices"
        );
        assert!(m.iter().all(|m| m.width() >= 4));
    }
}
