//! `report`: one self-contained HTML page (logos inline as SVG, no scripts, no links to
//! fetch), a row per motif: for `filters`' output, each filter's logo, information content,
//! sites and influence; for `motifs`' output (attributions), each motif's logo, contribution
//! logo (CWM), target, sign and seqlets; then its best database matches with names and
//! q-values, and the best match's logo; sorted by match quality (best q-value first; motifs
//! without a match last, by information content).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ferrosea_motifs::{read_motifs, Motif};

use crate::{logo, write_atomically, InterpretError};

/// What to put on the page.
#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// The output directory of `filters` or of `motifs`.
    pub motifs: PathBuf,
    /// The table of `compare`.
    pub matches: PathBuf,
    /// The database the matches came from (for the matches' logos); `None`: the embedded
    /// JASPAR 2024.
    pub db: Option<PathBuf>,
    /// The page to write.
    pub out: PathBuf,
    /// Matches listed per filter.
    pub top: usize,
}

struct Hit {
    target: String,
    name: String,
    p: f64,
    q: f64,
    e: f64,
    orientation: char,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Per query of a matches table: the first line naming it and the width of its
/// `Query_consensus` there (when the table has that column).
type Queries = Vec<(String, usize, Option<usize>)>;

/// The hits per query, each query's first line and width, and the table's comment naming the
/// database (`# ferrosea-interpret compare ...: N queries against M targets of DB`).
#[allow(clippy::type_complexity)]
fn read_matches(
    path: &Path,
) -> Result<(HashMap<String, Vec<Hit>>, Queries, Option<String>), InterpretError> {
    let text = std::fs::read_to_string(path).map_err(|e| InterpretError::Io(path.into(), e))?;
    let mut lines = text.lines().enumerate();
    let head: Vec<&str> = lines
        .next()
        .map(|(_, l)| l.split('\t').collect())
        .unwrap_or_default();
    let col = |n: &str| {
        head.iter().position(|h| *h == n).ok_or_else(|| {
            InterpretError::Data(format!(
                "{}: no column {n}: not a table of ferrosea-interpret compare or tomtom",
                path.display()
            ))
        })
    };
    let (qi, ti, pi, ei, qvi, oi) = (
        col("Query_ID")?,
        col("Target_ID")?,
        col("p-value")?,
        col("E-value")?,
        col("q-value")?,
        col("Orientation")?,
    );
    let ni = head.iter().position(|h| *h == "Target_name");
    let ci = head.iter().position(|h| *h == "Query_consensus");
    let mut out: HashMap<String, Vec<Hit>> = HashMap::new();
    let mut queries: Queries = Vec::new();
    let mut comment = None;
    for (i, line) in lines {
        if let Some(c) = line.strip_prefix("# ferrosea-interpret compare") {
            comment.get_or_insert_with(|| c.trim().to_string());
        }
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if !out.contains_key(f[qi]) {
            let width = ci.and_then(|c| f.get(c)).map(|c| c.chars().count());
            queries.push((f[qi].to_string(), i + 1, width));
        }
        let num = |c: usize| -> Result<f64, InterpretError> {
            f.get(c).and_then(|v| v.parse().ok()).ok_or_else(|| {
                InterpretError::Data(format!(
                    "{}:{}: column {} is not a number",
                    path.display(),
                    i + 1,
                    head[c]
                ))
            })
        };
        out.entry(f[qi].to_string()).or_default().push(Hit {
            target: f.get(ti).unwrap_or(&"").to_string(),
            name: ni.and_then(|c| f.get(c)).unwrap_or(&"").to_string(),
            p: num(pi)?,
            e: num(ei)?,
            q: num(qvi)?,
            orientation: f.get(oi).and_then(|o| o.chars().next()).unwrap_or('+'),
        });
    }
    for hits in out.values_mut() {
        hits.sort_by(|a, b| a.p.total_cmp(&b.p));
    }
    Ok((out, queries, comment))
}

/// Every query of the matches table is a motif of `filters.meme`, of the same width: a table
/// from another run (other filters, another `--window`) is refused.
fn check_queries(
    opts: &ReportOptions,
    meme: &Path,
    motifs: &[Motif],
    queries: &Queries,
) -> Result<(), InterpretError> {
    let widths: HashMap<&str, usize> = motifs.iter().map(|m| (m.id.as_str(), m.width())).collect();
    for (id, line, width) in queries {
        let clipped = ferrosea_dataset::clip(id, ferrosea_dataset::MESSAGE_VALUE_CHARS);
        let why = match (widths.get(id.as_str()), width) {
            (None, _) => format!(
                "query {clipped} is not a motif of {} ({} motifs)",
                meme.display(),
                motifs.len()
            ),
            (Some(w), Some(c)) if w != c => format!(
                "query {clipped} is {c} columns wide here (Query_consensus), but {w} wide in {}",
                meme.display()
            ),
            _ => continue,
        };
        return Err(InterpretError::Mismatch(format!(
            "{}:{line}: {why}: the matches are not from these motifs (run compare on {} again)",
            opts.matches.display(),
            meme.display()
        )));
    }
    Ok(())
}

/// Every target of the matches is in the database given: matches made against another
/// database would leave the page without their logos, so they are refused.
fn check_targets(
    opts: &ReportOptions,
    matches: &HashMap<String, Vec<Hit>>,
    db: &HashMap<&str, &Motif>,
    comment: Option<&str>,
) -> Result<(), InterpretError> {
    let mut missing: Vec<&str> = matches
        .values()
        .flatten()
        .map(|h| h.target.as_str())
        .filter(|t| !db.contains_key(t))
        .collect();
    missing.sort_unstable();
    missing.dedup();
    let Some(first) = missing.first() else {
        return Ok(());
    };
    let db_name = opts
        .db
        .as_ref()
        .map_or("the embedded JASPAR 2024".to_string(), |p| {
            p.display().to_string()
        });
    Err(InterpretError::Mismatch(format!(
        "{}: {} target motifs of the matches are not in {db_name} (the first: {}): the \
         matches were made against another database{}; give that database with --db",
        opts.matches.display(),
        missing.len(),
        ferrosea_dataset::clip(first, ferrosea_dataset::MESSAGE_VALUE_CHARS),
        comment.map_or(String::new(), |c| format!(
            " (the table says: {})",
            ferrosea_dataset::clip(c, ferrosea_dataset::MESSAGE_VALUE_CHARS)
        ))
    )))
}

/// A filters.tsv line: (sites, information content, influence).
fn read_summaries(
    path: &Path,
) -> Result<HashMap<String, (String, String, String)>, InterpretError> {
    let text = std::fs::read_to_string(path).map_err(|e| InterpretError::Io(path.into(), e))?;
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
    let col = |n: &str| head.iter().position(|h| *h == n);
    let (Some(f), Some(s), Some(ic), Some(inf)) = (
        col("filter"),
        col("sites"),
        col("information_content"),
        col("influence"),
    ) else {
        return Err(InterpretError::Data(format!(
            "{}: not the filters.tsv of ferrosea-interpret filters",
            path.display()
        )));
    };
    Ok(lines
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|v| v.len() > inf)
        .map(|v| {
            (
                v[f].to_string(),
                (v[s].to_string(), v[ic].to_string(), v[inf].to_string()),
            )
        })
        .collect())
}

/// What the page shows of each motif beside its logo and matches.
enum Kind {
    /// `filters`' output: per filter (sites, information content, influence).
    Filters(HashMap<String, (String, String, String)>),
    /// `motifs`' output, per motif.
    Attributions(HashMap<String, Discovered>),
}

/// A motif of `motifs` as motifs.tsv and motifs.h5 describe it.
#[derive(Clone, Default)]
struct Discovered {
    target: String,
    sign: String,
    seqlets: String,
    cwm: Vec<[f64; 4]>,
}

/// A motifs.tsv of `motifs` and the CWMs of its motifs.h5.
fn read_discovered(dir: &Path) -> Result<HashMap<String, Discovered>, InterpretError> {
    let tsv = dir.join("motifs.tsv");
    let text = std::fs::read_to_string(&tsv).map_err(|e| InterpretError::Io(tsv.clone(), e))?;
    let h5 = dir.join("motifs.h5");
    let r = ferrosea_dataset::ResultsReader::open(&h5, crate::MOTIFS_FORMAT)?;
    let bad = InterpretError::Dataset;
    let ids = r.strings_at("motifs/id").map_err(bad)?;
    let first = r.ints_at("motifs/first_column").map_err(bad)?;
    let columns = r.array_shape("motifs/cwm").map_or(0, |s| s[0]);
    let cwm = r.array("motifs/cwm", 0..columns).map_err(bad)?;
    let mut cwms = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        let a = first[i] as usize;
        let b = first.get(i + 1).map_or(columns, |&v| v as usize);
        let m: Vec<[f64; 4]> = (a..b)
            .map(|c| {
                let v = &cwm[c * 4..c * 4 + 4];
                [v[0] as f64, v[1] as f64, v[2] as f64, v[3] as f64]
            })
            .collect();
        cwms.insert(id.clone(), m);
    }
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
    let col = |n: &str| head.iter().position(|h| *h == n);
    let (Some(mi), Some(ti), Some(si), Some(ni)) =
        (col("motif"), col("target"), col("sign"), col("seqlets"))
    else {
        return Err(InterpretError::Data(format!(
            "{}: not the motifs.tsv of ferrosea-interpret motifs",
            tsv.display()
        )));
    };
    Ok(lines
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|v| v.len() > ni.max(si).max(ti).max(mi))
        .map(|v| {
            (
                v[mi].to_string(),
                Discovered {
                    target: v[ti].to_string(),
                    sign: v[si].to_string(),
                    seqlets: v[ni].to_string(),
                    cwm: cwms.get(v[mi]).cloned().unwrap_or_default(),
                },
            )
        })
        .collect())
}

/// Writes the page; returns the number of motifs on it.
pub fn report(opts: &ReportOptions) -> Result<usize, InterpretError> {
    // The output of `motifs` (attributions) or of `filters`.
    let discovered = opts.motifs.join("motifs.meme").exists();
    let (meme, tsv) = if discovered {
        (
            opts.motifs.join("motifs.meme"),
            opts.motifs.join("motifs.tsv"),
        )
    } else {
        (
            opts.motifs.join("filters.meme"),
            opts.motifs.join("filters.tsv"),
        )
    };
    let mut inputs: Vec<(&str, &Path)> = vec![
        ("--motifs", &meme),
        ("--motifs", &tsv),
        ("--matches", &opts.matches),
    ];
    if let Some(db) = &opts.db {
        inputs.push(("--db", db));
    }
    crate::refuse_inputs(std::slice::from_ref(&opts.out), &inputs)?;
    let motifs = read_motifs(&meme)?;
    let kind = if discovered {
        Kind::Attributions(read_discovered(&opts.motifs)?)
    } else {
        Kind::Filters(read_summaries(&tsv)?)
    };
    let (matches, queries, comment) = read_matches(&opts.matches)?;
    check_queries(opts, &meme, &motifs, &queries)?;
    let db: Vec<Motif> = match &opts.db {
        Some(p) => read_motifs(p)?,
        None => crate::compare::embedded_jaspar()?,
    };
    let by_id: HashMap<&str, &Motif> = db.iter().map(|m| (m.id.as_str(), m)).collect();
    check_targets(opts, &matches, &by_id, comment.as_deref())?;
    let bg = [0.25; 4];
    let ic = |m: &Motif| -> f64 {
        m.pfm
            .iter()
            .map(|c| {
                c.iter()
                    .filter(|&&p| p > 0.0)
                    .map(|&p| p * (p / 0.25).log2())
                    .sum::<f64>()
            })
            .sum()
    };
    let mut order: Vec<&Motif> = motifs.iter().collect();
    order.sort_by(|a, b| {
        let qa = matches.get(&a.id).and_then(|h| h.first()).map(|h| h.q);
        let qb = matches.get(&b.id).and_then(|h| h.first()).map(|h| h.q);
        match (qa, qb) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => ic(b).total_cmp(&ic(a)),
        }
    });
    let mut rows = String::new();
    for m in &order {
        let hits = matches.get(&m.id).map(Vec::as_slice).unwrap_or(&[]);
        let mut list = String::new();
        for h in hits.iter().take(opts.top) {
            list.push_str(&format!(
                "<li><b>{}</b> {} ({}) q = {:.2e}, E = {:.2e}</li>",
                escape(&h.name),
                escape(&h.target),
                h.orientation,
                h.q,
                h.e
            ));
        }
        if list.is_empty() {
            list.push_str("<li class=none>no match passing the threshold</li>");
        }
        let best_logo = match hits
            .first()
            .and_then(|h| by_id.get(h.target.as_str()).map(|t| (h, t)))
        {
            Some((h, t)) => {
                let pfm = if h.orientation == '-' {
                    t.reverse_complement().pfm
                } else {
                    t.pfm.clone()
                };
                logo::svg_string(&format!("{} {}", t.id, h.name), &pfm, bg)?
            }
            None => String::new(),
        };
        let info = format!("{:.2}", ic(m));
        let cells = match &kind {
            Kind::Filters(summaries) => {
                let (sites, info, influence) = summaries
                    .get(&m.id)
                    .cloned()
                    .unwrap_or_else(|| ("?".into(), info, "NA".into()));
                format!(
                    "<td class=logo><b>{}</b><br>{}</td><td>{}</td><td>{}</td><td>{}</td>",
                    escape(&m.id),
                    logo::svg_string(&m.id, &m.pfm, bg)?,
                    escape(&info),
                    escape(&sites),
                    escape(&influence)
                )
            }
            Kind::Attributions(found) => {
                let Discovered {
                    target,
                    sign,
                    seqlets,
                    cwm,
                } = found.get(&m.id).cloned().unwrap_or_default();
                let cwm_logo = if cwm.is_empty() {
                    String::new()
                } else {
                    logo::cwm_svg_string(&format!("{} contributions", m.id), &cwm)?
                };
                format!(
                    "<td class=logo><b>{}</b><br>{}</td><td class=logo>{}</td><td>{}<br>{}</td><td>{}</td><td>{}</td>",
                    escape(&m.id),
                    logo::svg_string(&m.id, &m.pfm, bg)?,
                    cwm_logo,
                    escape(&target),
                    escape(&sign),
                    escape(&info),
                    escape(&seqlets)
                )
            }
        };
        rows.push_str(&format!(
            "<tr id=\"{}\">{}<td><ul>{}</ul></td><td class=logo>{}</td></tr>\n",
            escape(&m.id),
            cells,
            list,
            best_logo
        ));
    }
    let (title, about, header) = match &kind {
        Kind::Filters(_) => (
            "First-layer filters",
            "filters",
            "<th>filter</th><th>IC (bits)</th><th>sites</th><th>influence</th>",
        ),
        Kind::Attributions(_) => (
            "Motifs from attributions",
            "motifs",
            "<th>motif (bases)</th><th>contributions</th><th>target, sign</th><th>IC (bits)</th><th>seqlets</th>",
        ),
    };
    let note = match &kind {
        Kind::Filters(_) => "Influence: mean change of the predictions when the filter is zeroed (NA unless <code>filters --influence</code> was run).",
        Kind::Attributions(_) => "Each motif's position probabilities come from its aligned seqlets' bases, its contribution logo from their mean contributions (the CWM).",
    };
    let page = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>ferrosea {about}</title>\n\
         <style>body{{font-family:sans-serif;margin:1.5em}} table{{border-collapse:collapse}} \
         td,th{{border-bottom:1px solid #ccc;padding:4px 8px;vertical-align:middle;text-align:left}} \
         td.logo svg{{width:360px;height:auto}} li.none{{color:#888}} ul{{margin:0;padding-left:1.2em}}</style>\n\
         </head><body>\n<h1>{title}</h1>\n<p>{} {about} from {}; matches from {} \
         (the best {} per motif). Sorted by the best match's q-value; {about} without a match \
         last, by information content. {note}</p>\n<table>\n\
         <tr>{header}<th>best matches</th><th>best match</th></tr>\n\
         {}</table>\n</body></html>\n",
        motifs.len(),
        escape(&opts.motifs.display().to_string()),
        escape(&opts.matches.display().to_string()),
        opts.top,
        rows
    );
    write_atomically(&opts.out, page.as_bytes())?;
    Ok(motifs.len())
}
