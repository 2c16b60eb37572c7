//! `motifs`: the seqlets of an attribution file aligned and clustered into motifs
//! (`ferrosea_motifs::discovery`), per target and sign.
//!
//! Each seqlet is taken with `flank` positions on either side (TF-MoDISco's 21 + 2 x 10),
//! its bases, contributions and hypothetical contributions read from the attribution file.
//! Writes to the output directory:
//!
//! - `motifs.meme`: each motif's position probabilities (from the aligned seqlets' bases),
//!   MEME 5, for `compare` (and tomtom);
//! - `motifs.tsv`: per motif its target, sign, seqlets, width, consensus, information
//!   content and the members' mean similarity to it;
//! - `motifs.h5`: per motif the PPM, the contribution-weight matrix (CWM: mean
//!   contributions), the hypothetical CWM and the support (seqlets per column), and a table
//!   of every member seqlet (its row, position, strand and place in the motif);
//! - `logos/<id>.pwm.svg|png` and `logos/<id>.cwm.svg|png`.
//!
//! `report --motifs DIR` puts them on a page with their JASPAR matches.

use std::path::{Path, PathBuf};

use ferrosea_dataset::{AttrValue, Column, ColumnKind, ResultsReader, ResultsSpec, ResultsWriter};
use ferrosea_motifs::discovery::{discover, Found, Options, Seqlet as SeqletData};
use ferrosea_motifs::Motif;

use crate::seqlets::{self, Provenance, Seqlet, SeqletsOptions};
use crate::InterpretError;

/// The `format` attribute of `motifs.h5`.
pub const MOTIFS_FORMAT: &str = "ferrosea-motifs";

/// What to cluster and where to write.
#[derive(Clone, Debug)]
pub struct MotifsOptions {
    /// The attribution file.
    pub attributions: PathBuf,
    /// A seqlets table made from it; `None`: found here with `seqlets`' defaults.
    pub seqlets: Option<PathBuf>,
    /// The output directory.
    pub out: PathBuf,
    /// At most this many motifs (the ones with most seqlets).
    pub max_motifs: usize,
    /// Positions added on either side of each seqlet.
    pub flank: usize,
    /// At most this many seqlets per target and sign (the strongest).
    pub max_seqlets: usize,
    /// Clustering settings.
    pub discovery: Options,
    /// Draw logos.
    pub logos: bool,
    /// Recorded in the outputs.
    pub command_line: String,
}

/// A motif as written.
#[derive(Clone, Debug)]
pub struct MotifSummary {
    /// Its identifier in motifs.meme.
    pub id: String,
    /// Target name.
    pub target: String,
    /// `+` (positive contributions) or `-`.
    pub sign: char,
    /// Seqlets in it.
    pub seqlets: usize,
    /// Its consensus.
    pub consensus: String,
    /// Information content (bits).
    pub information: f64,
    /// The PPM.
    pub ppm: Vec<[f64; 4]>,
    /// The CWM.
    pub cwm: Vec<[f64; 4]>,
}

/// What `motifs` wrote.
#[derive(Clone, Debug)]
pub struct MotifsReport {
    /// The motifs, most seqlets first.
    pub motifs: Vec<MotifSummary>,
    /// Seqlets clustered.
    pub seqlets: usize,
    /// Seconds spent clustering.
    pub seconds: f64,
}

fn data(e: impl std::fmt::Display) -> InterpretError {
    InterpretError::Data(e.to_string())
}

/// The seqlets' windows with flanks: bases, contributions and hypothetical contributions of
/// their target, in the attributed sequence's orientation (positions past its ends are
/// marked outside).
fn gather(
    r: &ResultsReader,
    seqlets: &[&Seqlet],
    (w, flank): (usize, usize),
) -> Result<Vec<SeqletData>, InterpretError> {
    let shape = r
        .array_shape("contributions")
        .ok_or_else(|| data(format!("{}: no contributions", r.path().display())))?;
    let (l, c, k) = (shape[1], shape[2], shape[3]);
    if c != 4 {
        return Err(data(format!(
            "{}: motifs need DNA (4 channels), the attributions have {c}",
            r.path().display()
        )));
    }
    let width = w + 2 * flank;
    let mut order: Vec<usize> = (0..seqlets.len()).collect();
    order.sort_by_key(|&i| seqlets[i].index);
    let mut out: Vec<Option<SeqletData>> = vec![None; seqlets.len()];
    let mut at = 0;
    while at < order.len() {
        let first = seqlets[order[at]].index;
        let last = (first + 64).min(r.rows());
        let x = r.array("x", first..last)?;
        let contrib = r.array("contributions", first..last)?;
        let hyp = r.array("hypothetical", first..last)?;
        while at < order.len() && seqlets[order[at]].index < last {
            let s = seqlets[order[at]];
            let i = s.index - first;
            let mut d = SeqletData {
                onehot: vec![[0.0; 4]; width],
                contrib: vec![[0.0; 4]; width],
                hyp: vec![[0.0; 4]; width],
                inside: vec![false; width],
                score: s.score,
            };
            for col in 0..width {
                let p = s.offset as isize - flank as isize + col as isize;
                if p < 0 || p as usize >= l {
                    continue;
                }
                let p = p as usize;
                d.inside[col] = true;
                for ch in 0..4 {
                    let e = (i * l + p) * 4 + ch;
                    d.onehot[col][ch] = x[e];
                    d.contrib[col][ch] = contrib[e * k + s.target];
                    d.hyp[col][ch] = hyp[e * k + s.target];
                }
            }
            out[order[at]] = Some(d);
            at += 1;
        }
    }
    Ok(out
        .into_iter()
        .map(|d| d.expect("every seqlet read"))
        .collect())
}

/// Clusters the seqlets of `opts` and writes the motifs.
pub fn motifs(opts: &MotifsOptions) -> Result<MotifsReport, InterpretError> {
    let mut inputs: Vec<(&str, &Path)> = vec![("--attributions", &opts.attributions)];
    if let Some(s) = &opts.seqlets {
        inputs.push(("--seqlets", s));
    }
    crate::refuse_inputs(std::slice::from_ref(&opts.out), &inputs)?;
    let r = seqlets::open_attributions(&opts.attributions)?;
    let names = r.targets().unwrap_or_default();
    let (found, w) = match &opts.seqlets {
        Some(path) => seqlets::read_seqlets(path, &r, &opts.attributions)?,
        None => {
            let window = 21usize.min(r.attr_int("window").unwrap_or(21) as usize);
            let report = seqlets::find_seqlets(&SeqletsOptions {
                attributions: opts.attributions.clone(),
                out: PathBuf::new(),
                window,
                fdr: 0.05,
                threshold: None,
                targets: Vec::new(),
                command_line: String::new(),
            })?;
            (report.seqlets, window)
        }
    };
    let started = std::time::Instant::now();
    // Metaclusters: per target and sign, the strongest seqlets first.
    let mut groups: Vec<(usize, char, Vec<&Seqlet>)> = Vec::new();
    for (j, _) in names.iter().enumerate() {
        for sign in ['+', '-'] {
            let mut g: Vec<&Seqlet> = found
                .iter()
                .filter(|s| s.target == j && (s.score > 0.0) == (sign == '+'))
                .collect();
            g.sort_by(|a, b| {
                b.score
                    .abs()
                    .total_cmp(&a.score.abs())
                    .then((a.index, a.offset).cmp(&(b.index, b.offset)))
            });
            g.truncate(opts.max_seqlets);
            if !g.is_empty() {
                groups.push((j, sign, g));
            }
        }
    }
    let mut all: Vec<(usize, char, Found, Vec<&Seqlet>)> = Vec::new();
    let mut clustered = 0;
    for (j, sign, g) in groups {
        let data = gather(&r, &g, (w, opts.flank))?;
        clustered += data.len();
        for f in discover(&data, &opts.discovery) {
            all.push((j, sign, f, g.clone()));
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    all.sort_by(|a, b| {
        b.2.members
            .len()
            .cmp(&a.2.members.len())
            .then((a.0, a.1).cmp(&(b.0, b.1)))
    });
    all.truncate(opts.max_motifs);
    if found.is_empty() {
        tracing::warn!(
            "{}: no seqlets, so no motifs (the outputs list none)",
            opts.attributions.display()
        );
    }
    let mut count = std::collections::HashMap::new();
    let mut summaries = Vec::new();
    for (j, sign, f, _) in &all {
        let n = count.entry((*j, *sign)).or_insert(0);
        *n += 1;
        let kind = if *sign == '+' { "pos" } else { "neg" };
        let id = if names.len() == 1 {
            format!("{kind}{n}")
        } else {
            format!("t{j}.{kind}{n}")
        };
        summaries.push(MotifSummary {
            id,
            target: names[*j].clone(),
            sign: *sign,
            seqlets: f.members.len(),
            consensus: ferrosea_motifs::consensus(&f.ppm),
            information: f.ppm.iter().map(information).sum(),
            ppm: f.ppm.clone(),
            cwm: f.cwm.clone(),
        });
    }
    write_outputs(opts, &r, &summaries, &all, w)?;
    Ok(MotifsReport {
        motifs: summaries,
        seqlets: clustered,
        seconds,
    })
}

fn information(col: &[f64; 4]) -> f64 {
    col.iter()
        .filter(|&&p| p > 0.0)
        .map(|&p| p * (p / 0.25).log2())
        .sum::<f64>()
        .max(0.0)
}

/// Writes motifs.meme, motifs.tsv, motifs.h5 and the logos.
fn write_outputs(
    opts: &MotifsOptions,
    r: &ResultsReader,
    summaries: &[MotifSummary],
    all: &[(usize, char, Found, Vec<&Seqlet>)],
    w: usize,
) -> Result<(), InterpretError> {
    let dir = &opts.out;
    std::fs::create_dir_all(dir).map_err(|e| InterpretError::Io(dir.clone(), e))?;
    // motifs.meme is written last: an older one goes first, so that an interrupted run
    // leaves no complete-looking directory.
    let meme_path = dir.join("motifs.meme");
    match std::fs::remove_file(&meme_path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(InterpretError::Io(meme_path, e))
        }
        _ => {}
    }
    let meme: Vec<Motif> = summaries
        .iter()
        .map(|m| Motif {
            id: m.id.clone(),
            name: Some(format!(
                "{}{}",
                m.target.replace(char::is_whitespace, "_"),
                m.sign
            )),
            pfm: m.ppm.clone(),
            nsites: Some(m.seqlets as f64),
        })
        .collect();
    // The page's row, the table's and the file's order agree: most seqlets first.
    let mut tsv = String::from(
        "motif\ttarget\tsign\tseqlets\twidth\tconsensus\tinformation_content\tsimilarity\n",
    );
    for (m, (_, _, f, _)) in summaries.iter().zip(all) {
        tsv += &format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{:.3}\t{:.3}\n",
            m.id,
            m.target,
            m.sign,
            m.seqlets,
            m.ppm.len(),
            m.consensus,
            m.information,
            f.similarity
        );
    }
    // motifs.h5: the matrices side by side (motif i's columns are rows first_i..), and the
    // members.
    let columns: usize = all.iter().map(|(_, _, f, _)| f.ppm.len()).sum();
    let (mut ppm, mut cwm, mut hcwm, mut support) = (
        Vec::with_capacity(columns * 4),
        Vec::with_capacity(columns * 4),
        Vec::with_capacity(columns * 4),
        Vec::with_capacity(columns),
    );
    let mut first = Vec::new();
    for (_, _, f, _) in all {
        first.push((ppm.len() / 4) as i64);
        for c in 0..f.ppm.len() {
            ppm.extend(f.ppm[c].iter().map(|&v| v as f32));
            cwm.extend(f.cwm[c].iter().map(|&v| v as f32));
            hcwm.extend(f.hcwm[c].iter().map(|&v| v as f32));
            support.push(f.support[c] as i64);
        }
    }
    let prov = Provenance::of(r);
    let spec = ResultsSpec {
        format: MOTIFS_FORMAT.into(),
        version: 1,
        attrs: vec![
            (
                "attributions".into(),
                AttrValue::Str(opts.attributions.display().to_string()),
            ),
            (
                "weights_sha256".into(),
                AttrValue::Str(prov.weights_sha256.clone()),
            ),
            ("window".into(), AttrValue::Int(w as i64)),
            ("flank".into(), AttrValue::Int(opts.flank as i64)),
        ]
        .into_iter()
        .chain(ferrosea_dataset::provenance(&opts.command_line))
        .collect::<Vec<_>>(),
        targets: None,
        columns: vec![
            ("motif".into(), ColumnKind::Str),
            ("row".into(), ColumnKind::Int),
            ("sequence".into(), ColumnKind::Str),
            ("start".into(), ColumnKind::Int),
            ("end".into(), ColumnKind::Int),
            ("offset".into(), ColumnKind::Int),
            ("motif_start".into(), ColumnKind::Int),
            ("reverse".into(), ColumnKind::Bool),
        ],
        arrays: vec![("score".into(), vec![])],
        chunk_rows: 1024,
        level: 4,
    };
    let h5 = dir.join("motifs.h5");
    let mut writer = ResultsWriter::create(&h5, &spec)?;
    for (m, (_, _, f, group)) in summaries.iter().zip(all) {
        let n = f.members.len();
        let get = |i: usize| group[f.members[i].seqlet];
        let ids = vec![m.id.clone(); n];
        let rows: Vec<i64> = (0..n).map(|i| get(i).row).collect();
        let seqs: Vec<String> = (0..n).map(|i| get(i).chrom.clone()).collect();
        let starts: Vec<i64> = (0..n).map(|i| get(i).start).collect();
        let ends: Vec<i64> = (0..n).map(|i| get(i).end).collect();
        let offsets: Vec<i64> = (0..n).map(|i| get(i).offset as i64).collect();
        // The motif column of the seqlet's core start (its flank comes first).
        let place: Vec<i64> = f
            .members
            .iter()
            .map(|mm| (mm.start + opts.flank as isize) as i64)
            .collect();
        let reverse: Vec<bool> = f.members.iter().map(|mm| mm.reverse).collect();
        let scores: Vec<f32> = (0..n).map(|i| get(i).score).collect();
        writer.append(
            n,
            &[
                Column::Str(&ids),
                Column::Int(&rows),
                Column::Str(&seqs),
                Column::Int(&starts),
                Column::Int(&ends),
                Column::Int(&offsets),
                Column::Int(&place),
                Column::Bool(&reverse),
            ],
            &[&scores],
        )?;
    }
    let ids: Vec<String> = summaries.iter().map(|m| m.id.clone()).collect();
    writer
        .put("motifs/ppm", &[columns, 4], &ppm)
        .and_then(|()| writer.put("motifs/cwm", &[columns, 4], &cwm))
        .and_then(|()| writer.put("motifs/hcwm", &[columns, 4], &hcwm))
        .and_then(|()| writer.put_ints("motifs/support", &support))
        .and_then(|()| writer.put_ints("motifs/first_column", &first))
        .and_then(|()| writer.put_strings("motifs/id", &ids))?;
    writer.finish()?;
    if opts.logos {
        let logos = dir.join("logos");
        std::fs::create_dir_all(&logos).map_err(|e| InterpretError::Io(logos.clone(), e))?;
        for m in summaries {
            let title = format!("{} ({}{}, {} seqlets)", m.id, m.target, m.sign, m.seqlets);
            crate::logo::draw(
                &logos.join(format!("{}.pwm", m.id)),
                &title,
                &m.ppm,
                [0.25; 4],
            )?;
            crate::logo::draw_cwm(&logos.join(format!("{}.cwm", m.id)), &title, &m.cwm)?;
        }
    }
    crate::write_atomically(&dir.join("motifs.tsv"), tsv.as_bytes())?;
    // Last: its presence says the directory is complete.
    crate::write_atomically(
        &dir.join("motifs.meme"),
        ferrosea_motifs::write_meme(&meme, [0.25; 4]).as_bytes(),
    )?;
    Ok(())
}
