//! `compare`: query motifs against a database, tomtom's output table.

use std::path::PathBuf;

use ferrosea_motifs::tomtom::{self, Options};
use ferrosea_motifs::{read_motifs, read_motifs_and_background, Motif};

use crate::{write_atomically, InterpretError};

pub use ferrosea_motifs::JASPAR2024;

/// Which matches are reported.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threshold {
    /// q-value at most this (tomtom's default, 0.5).
    QValue(f64),
    /// E-value at most this (`--evalue`).
    EValue(f64),
}

/// What to compare.
#[derive(Clone, Debug)]
pub struct CompareOptions {
    /// Query motifs (MEME or JASPAR, gzipped or not).
    pub query: PathBuf,
    /// Database; `None`: the embedded JASPAR 2024 CORE vertebrates.
    pub db: Option<PathBuf>,
    /// Output table.
    pub out: PathBuf,
    /// Tomtom's settings.
    pub tomtom: Options,
    /// Which matches to write.
    pub threshold: Threshold,
    /// Recorded in the table's trailing comment.
    pub command_line: String,
}

/// One line of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Query motif.
    pub query: String,
    /// Target motif.
    pub target: String,
    /// Target's alternate name.
    pub target_name: String,
    /// The match.
    pub m: tomtom::Match,
}

/// The embedded JASPAR 2024 motifs.
pub(crate) fn embedded_jaspar() -> Result<Vec<Motif>, InterpretError> {
    Ok(ferrosea_motifs::embedded_jaspar()?)
}

fn load_db(opts: &CompareOptions) -> Result<(Vec<Motif>, String), InterpretError> {
    match &opts.db {
        Some(p) => {
            let db = read_motifs(p)?;
            if db.is_empty() {
                return Err(InterpretError::Data(format!(
                    "--db {}: the database lists no motifs",
                    p.display()
                )));
            }
            Ok((db, p.display().to_string()))
        }
        None => Ok((
            embedded_jaspar()?,
            "JASPAR 2024 CORE vertebrates (embedded)".into(),
        )),
    }
}

/// Compares every query with the database and writes tomtom's table to `opts.out`:
/// `Query_ID, Target_ID, Optimal_offset, p-value, E-value, q-value, Overlap,
/// Query_consensus, Target_consensus, Orientation`, plus `Target_name`. Rows are grouped by
/// query (in file order) and sorted as tomtom sorts them (p-value, then the larger overlap,
/// then orientation and ID); the target consensus is given in the matched orientation.
/// Returns the rows written.
///
/// ```
/// use ferrosea_interpret::{compare, CompareOptions, Threshold};
/// use ferrosea_motifs::{embedded_jaspar, tomtom, write_meme};
///
/// // Query: JASPAR's own CTCF motif, written as MEME; database: the embedded JASPAR 2024.
/// let ctcf: Vec<_> = embedded_jaspar()?.into_iter().filter(|m| m.id.starts_with("MA0139")).collect();
/// let dir = tempfile::tempdir()?;
/// let query = dir.path().join("query.meme");
/// std::fs::write(&query, write_meme(&ctcf, [0.25; 4]))?;
/// let out = dir.path().join("tomtom.tsv");
/// let rows = compare(&CompareOptions {
///     query,
///     db: None,
///     out: out.clone(),
///     tomtom: tomtom::Options::default(),
///     threshold: Threshold::QValue(0.5),
///     command_line: "doctest".into(),
/// })?;
/// // The best match is the motif itself, on the same strand, at offset 0.
/// assert_eq!(rows[0].target, ctcf[0].id);
/// assert_eq!((rows[0].m.offset, rows[0].m.reverse), (0, false));
/// assert!(rows[0].m.p_value < 1e-10);
/// assert!(std::fs::read_to_string(&out)?.starts_with("Query_ID\tTarget_ID"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn compare(opts: &CompareOptions) -> Result<Vec<Row>, InterpretError> {
    let mut inputs: Vec<(&str, &std::path::Path)> = vec![("--query", &opts.query)];
    if let Some(db) = &opts.db {
        inputs.push(("--db", db));
    }
    crate::refuse_inputs(std::slice::from_ref(&opts.out), &inputs)?;
    let (queries, query_background) = read_motifs_and_background(&opts.query)?;
    if queries.is_empty() {
        tracing::warn!(
            "{}: no motifs to compare: the table lists none",
            opts.query.display()
        );
    }
    let (db, db_name) = load_db(opts)?;
    if opts.tomtom.bins == 0 {
        return Err(InterpretError::Usage(
            "the number of score bins must be at least 1".into(),
        ));
    }
    // tomtom's default background for the pseudocount: the query file's, made symmetric
    // (A with T, C with G); uniform when the file has none.
    let mut tomtom_opts = opts.tomtom.clone();
    if let Some(bg) = query_background {
        let (at, cg) = ((bg[0] + bg[3]) / 2.0, (bg[1] + bg[2]) / 2.0);
        tomtom_opts.background = [at, cg, cg, at];
    }
    let results = tomtom::compare(&queries, &db, &tomtom_opts);
    // Each target's consensus on either strand, once (rows repeat targets for every query).
    let target_consensus: Vec<[String; 2]> = db
        .iter()
        .map(|t| {
            [
                tomtom::consensus(t, &tomtom_opts),
                tomtom::consensus(&t.reverse_complement(), &tomtom_opts),
            ]
        })
        .collect();
    let mut rows = Vec::new();
    let mut s = String::from(
        "Query_ID\tTarget_ID\tOptimal_offset\tp-value\tE-value\tq-value\tOverlap\t\
         Query_consensus\tTarget_consensus\tOrientation\tTarget_name\n",
    );
    for (q, matches) in queries.iter().zip(results) {
        let mut kept: Vec<tomtom::Match> = matches
            .into_iter()
            .filter(|m| match opts.threshold {
                Threshold::QValue(t) => m.q_value <= t,
                Threshold::EValue(t) => m.e_value <= t,
            })
            .collect();
        // tomtom's order: p-value in single precision (as it prints them), the larger
        // overlap, then "+ID" before "-ID" and IDs in byte order.
        let key = |m: &tomtom::Match| {
            let strand = if m.reverse { '-' } else { '+' };
            (
                m.p_value as f32,
                std::cmp::Reverse(m.overlap),
                strand,
                &db[m.target].id,
            )
        };
        kept.sort_by(|a, b| {
            let (ka, kb) = (key(a), key(b));
            ka.0.total_cmp(&kb.0)
                .then_with(|| (ka.1, ka.2, ka.3).cmp(&(kb.1, kb.2, kb.3)))
                .then(a.target.cmp(&b.target))
        });
        let query_consensus = tomtom::consensus(q, &tomtom_opts);
        for m in kept {
            let t = &db[m.target];
            let target_consensus = &target_consensus[m.target][m.reverse as usize];
            let row = Row {
                query: q.id.clone(),
                target: t.id.clone(),
                target_name: t.name.clone().unwrap_or_default(),
                m,
            };
            s.push_str(&format!(
                "{}\t{}\t{}\t{:.6e}\t{:.6e}\t{:.6e}\t{}\t{}\t{}\t{}\t{}\n",
                row.query,
                row.target,
                row.m.offset,
                row.m.p_value,
                row.m.e_value,
                row.m.q_value,
                row.m.overlap,
                query_consensus,
                target_consensus,
                if row.m.reverse { '-' } else { '+' },
                row.target_name
            ));
            rows.push(row);
        }
    }
    s.push_str(&format!(
        "\n# ferrosea-interpret compare {}: {} queries against {} targets of {}\n# {}\n",
        env!("CARGO_PKG_VERSION"),
        queries.len(),
        db.len(),
        db_name,
        opts.command_line
    ));
    write_atomically(&opts.out, s.as_bytes())?;
    Ok(rows)
}
