//! The prep run: inputs, the counting pass, the writing pass, the report.

use std::collections::BTreeMap;
use std::path::Path;

use ferrosea_dataset::{AttrValue, Header, Targets, Writer, WriterOptions};
use ferrosea_genome::Genome;
use ferrosea_peaks::PeakSet;
use rayon::prelude::*;
use tracing::{info, warn};

use crate::label::{label_chromosome, ChromLabels};
use crate::manifest::{self, Target};
use crate::pass::{build_blocks, fates, Fate, Geometry, Rows, Split, Splits};
use crate::report::{
    BinCounts, FileRef, Inputs, PeaksSkipped, Report, SplitReport, TargetReport, Timings,
};
use crate::{Options, PrepError};

/// Rows encoded and compressed together: bounds memory (about 16 MB of one-hot per block).
const BLOCK_ROWS: usize = 4096;

/// Runs prep; returns the report that was also written to `<out>/prep.json`.
pub fn run(opts: &Options) -> Result<Report, PrepError> {
    check_options(opts)?;
    check_outputs_are_not_inputs(opts)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()
        .map_err(|e| PrepError::Invalid(format!("cannot start {} threads: {e}", opts.threads)))?;
    pool.install(|| run_in_pool(opts))
}

fn check_options(o: &Options) -> Result<(), PrepError> {
    let bad = |m: String| Err(PrepError::Invalid(m));
    if o.bin_size == 0 || o.window == 0 {
        return bad("--bin-size and --window must be positive".into());
    }
    if o.min_overlap == 0 || o.min_overlap > o.bin_size {
        return bad(format!(
            "--min-overlap {} must lie in 1..={} (the bin size)",
            o.min_overlap, o.bin_size
        ));
    }
    if !(0.0..=1.0).contains(&o.max_n) {
        return bad(format!("--max-n {} must lie in 0..=1", o.max_n));
    }
    if o.chunk_rows == 0 || o.compression_level > 9 {
        return bad("--chunk-rows must be positive and --compression-level at most 9".into());
    }
    Ok(())
}

/// The output directory exists and takes files.
fn prepare_out_dir(out: &Path) -> Result<(), PrepError> {
    std::fs::create_dir_all(out).map_err(PrepError::io_while(
        out,
        "cannot create the output directory",
    ))?;
    let probe = out.join(format!(".ferrosea-prep-probe-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(PrepError::io_while(
        out,
        "the output directory is not writable",
    ))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// No output file of the run is one of its inputs (the genome, its index, the manifest).
fn check_outputs_are_not_inputs(o: &Options) -> Result<(), PrepError> {
    let fai = o.genome.with_extension(format!(
        "{}.fai",
        o.genome
            .extension()
            .map_or_else(String::new, |e| e.to_string_lossy().into_owned())
    ));
    let inputs = [
        ("--genome", o.genome.as_path()),
        ("--genome (its .fai)", fai.as_path()),
        ("--targets", o.targets.as_path()),
    ];
    for name in ["train.h5", "valid.h5", "test.h5", "prep.json"] {
        ferrosea_dataset::ensure_not_input(&o.out.join(name), &inputs)
            .map_err(|e| PrepError::Invalid(e.to_string()))?;
    }
    Ok(())
}

fn sha256(path: &Path) -> Result<String, PrepError> {
    ferrosea_dataset::sha256_file(path)
        .map_err(PrepError::io_while(path, "reading for the checksum"))
}

/// A target's peaks once matched against the genome.
struct TargetPeaks {
    set: PeakSet,
    skipped: PeaksSkipped,
    clipped: u64,
    sha256: String,
}

fn load_targets(
    targets: &[Target],
    genome: &Genome,
    opts: &Options,
    warnings: &mut Vec<String>,
) -> Result<Vec<TargetPeaks>, PrepError> {
    let lengths: BTreeMap<&str, u64> = genome
        .sequences()
        .iter()
        .map(|s| (s.name.as_str(), s.length))
        .collect();
    let loaded: Vec<Result<TargetPeaks, PrepError>> = targets
        .par_iter()
        .map(|t| {
            let mut set = match ferrosea_peaks::read_path(&t.path) {
                Ok(s) => s,
                Err(ferrosea_peaks::PeaksError::Empty { .. }) if opts.allow_empty_targets => PeakSet::default(),
                Err(e @ ferrosea_peaks::PeaksError::Empty { .. }) => {
                    return Err(PrepError::Invalid(format!("{e} (target '{}', manifest line {}; --allow-empty-targets keeps such targets)", t.name, t.line)))
                }
                Err(e) => return Err(e.into()),
            };
            let mut skipped = PeaksSkipped { empty: set.empty_records() as u64, ..Default::default() };
            let chroms: Vec<(String, usize)> = set.chroms().map(|(c, n)| (c.to_string(), n)).collect();
            let mut clipped = 0;
            for (chrom, _) in chroms {
                match lengths.get(chrom.as_str()) {
                    Some(&len) => clipped += set.clip(&chrom, len) as u64,
                    None => {
                        let n = set.remove_chrom(&chrom);
                        skipped.sequence_not_in_genome.insert(chrom, n as u64);
                    }
                }
            }
            Ok(TargetPeaks { set, skipped, clipped, sha256: sha256(&t.path)? })
        })
        .collect();
    let loaded: Vec<TargetPeaks> = loaded.into_iter().collect::<Result<_, _>>()?;
    let mut empty = Vec::new();
    // Peaks on sequences the genome lacks: one line for the whole run (a chr22-only genome
    // would otherwise warn once per target); the per-target counts are in prep.json.
    let mut absent: BTreeMap<&str, u64> = BTreeMap::new();
    let mut with_absent = Vec::new();
    for (t, p) in targets.iter().zip(&loaded) {
        for (c, n) in &p.skipped.sequence_not_in_genome {
            *absent.entry(c.as_str()).or_default() += n;
        }
        if !p.skipped.sequence_not_in_genome.is_empty() {
            with_absent.push(t.name.as_str());
        }
        if p.clipped > 0 {
            warnings.push(format!(
                "target '{}': {} peaks run past a sequence end and were cut there",
                t.name, p.clipped
            ));
        }
        if p.set.chroms().next().is_none() {
            empty.push(t);
        }
    }
    if !with_absent.is_empty() {
        let names: Vec<_> = absent
            .keys()
            .take(6)
            .map(|n| ferrosea_dataset::clip(n, ferrosea_dataset::MESSAGE_VALUE_CHARS))
            .collect();
        warnings.push(format!(
            "{} of {} targets (first '{}') have peaks on sequences not in the genome: {} peaks skipped, on {}{} (per-target counts in prep.json)",
            with_absent.len(),
            targets.len(),
            ferrosea_dataset::clip(with_absent[0], ferrosea_dataset::MESSAGE_VALUE_CHARS),
            absent.values().sum::<u64>(),
            names.join(", "),
            if absent.len() > 6 { ", ..." } else { "" }
        ));
    }
    if !empty.is_empty() {
        let t = empty[0];
        let msg = format!(
            "{} target(s) have no peaks on any sequence of the genome, first '{}' ({}, manifest line {}); the genome has {}: do the chromosome names match?",
            empty.len(),
            ferrosea_dataset::clip(&t.name, ferrosea_dataset::MESSAGE_VALUE_CHARS),
            t.path.display(),
            t.line,
            some_sequence_names(genome)
        );
        if !opts.allow_empty_targets {
            return Err(PrepError::Invalid(format!(
                "{msg} (--allow-empty-targets keeps such targets as all-zero columns)"
            )));
        }
        warnings.push(msg);
    }
    Ok(loaded)
}

fn check_splits(splits: &Splits, genome: &Genome) -> Result<(), PrepError> {
    for (flag, regions) in [("--test", &splits.test), ("--valid", &splits.valid)] {
        for r in regions {
            if !genome.sequences().iter().any(|s| s.name == r.chrom) {
                return Err(PrepError::Invalid(format!(
                    "{flag} names sequence '{}', which is not in {} (it has {}); give {flag} with this genome's names",
                    r.chrom,
                    genome.path().display(),
                    some_sequence_names(genome)
                )));
            }
        }
    }
    Ok(())
}

/// The genome's first five sequence names, for messages: `chr1, chr2, chr3, chr4, chr5, ...`.
fn some_sequence_names(genome: &Genome) -> String {
    let seqs = genome.sequences();
    let names: Vec<&str> = seqs.iter().take(5).map(|s| s.name.as_str()).collect();
    format!(
        "{}{}",
        names.join(", "),
        if seqs.len() > 5 { ", ..." } else { "" }
    )
}

/// Per chromosome, the targets' merged peaks on it.
fn peaks_on<'a>(peaks: &'a [TargetPeaks], chrom: &str) -> Vec<&'a [ferrosea_peaks::Interval]> {
    peaks.iter().map(|p| p.set.chrom(chrom)).collect()
}

/// The result of deciding one chromosome's bins: rows per split and the counts.
struct Decided {
    labels: ChromLabels,
    rows: [Rows; 3],
}

/// What deciding a chromosome's bins needs, fixed for the run.
struct Decider<'a> {
    peaks: &'a [TargetPeaks],
    is_tf: &'a [bool],
    opts: &'a Options,
    geo: Geometry,
    splits: &'a Splits,
}

impl Decider<'_> {
    /// Labels one chromosome and decides the fate of its candidate bins, adding to `counts`.
    fn decide(&self, chrom: &str, seq: &[u8], counts: &mut BinCounts) -> Decided {
        let o = self.opts;
        let labels = label_chromosome(
            &peaks_on(self.peaks, chrom),
            self.is_tf,
            seq.len() as u64,
            o.bin_size,
            o.min_overlap,
            o.keep,
        );
        let fates = fates(&labels, seq, chrom, &self.geo, self.splits);
        let mut rows: [Rows; 3] = Default::default();
        counts.seen += labels.n_bins;
        counts.not_selected_by_keep_rule += labels.n_bins - labels.candidates.len() as u64;
        for (&bin, fate) in labels.candidates.iter().zip(&fates) {
            match *fate {
                Fate::Kept(split, ws) => rows[split as usize].push((bin, ws)),
                Fate::PastEnd => counts.dropped_window_past_sequence_end += 1,
                Fate::TooManyN => counts.dropped_too_many_n += 1,
            }
        }
        counts.kept += rows.iter().map(|r| r.len() as u64).sum::<u64>();
        Decided { labels, rows }
    }
}

fn run_in_pool(opts: &Options) -> Result<Report, PrepError> {
    let run_started = std::time::Instant::now();
    prepare_out_dir(&opts.out)?;
    let mut warnings = Vec::new();
    let targets = manifest::read(&opts.targets)?;
    info!("{} targets in {}", targets.len(), opts.targets.display());
    let threads = rayon::current_num_threads();
    let (genome, manifest_sha) = rayon::join(
        || -> Result<_, PrepError> {
            let g = Genome::open(&opts.genome, threads)?;
            Ok((g, sha256(&opts.genome)?))
        },
        || sha256(&opts.targets),
    );
    let ((genome, genome_sha), manifest_sha) = (genome?, manifest_sha?);
    info!(
        "genome {}: {} sequences, {} bp ({}; index {})",
        opts.genome.display(),
        genome.sequences().len(),
        genome.sequences().iter().map(|s| s.length).sum::<u64>(),
        genome.compression().as_str(),
        index_name(genome.index_source())
    );
    let longest = genome
        .sequences()
        .iter()
        .max_by_key(|s| s.length)
        .expect("a genome has sequences");
    if opts.window > longest.length {
        return Err(PrepError::Invalid(format!(
            "--window {} is longer than every sequence of {} (the longest, {}, has {} bp)",
            opts.window,
            opts.genome.display(),
            longest.name,
            longest.length
        )));
    }
    let splits = Splits {
        test: opts.test.clone(),
        valid: opts.valid.clone(),
    };
    check_splits(&splits, &genome)?;
    let peaks = load_targets(&targets, &genome, opts, &mut warnings)?;
    let is_tf: Vec<bool> = targets.iter().map(Target::is_tf).collect();
    if opts.keep == crate::Keep::TfTouch && !is_tf.iter().any(|&t| t) {
        return Err(PrepError::Invalid(
            "--keep tf-touch needs at least one target of category TF in the manifest".into(),
        ));
    }
    let geo = Geometry {
        bin_size: opts.bin_size,
        window: opts.window,
        max_unknown: (opts.max_n * opts.window as f64 + 1e-9).floor() as usize,
    };

    let decider = Decider {
        peaks: &peaks,
        is_tf: &is_tf,
        opts,
        geo,
        splits: &splits,
    };

    // Pass 1: decide every bin, count rows per split and positives per target.
    let load_secs = run_started.elapsed().as_secs_f64();
    let started = std::time::Instant::now();
    let mut counts = BinCounts::default();
    let mut per_chrom: Vec<[u64; 3]> = Vec::new();
    let mut positives = vec![[0u64; 3]; targets.len()];
    let (mut name, mut seq) = (String::new(), Vec::new());
    let mut records = genome.records()?;
    while records.next_into(&mut name, &mut seq)? {
        let d = decider.decide(&name, &seq, &mut counts);
        for (s, rows) in d.rows.iter().enumerate() {
            for &(bin, _) in rows {
                for t in d.labels.targets_of(bin) {
                    positives[t as usize][s] += 1;
                }
            }
        }
        per_chrom.push(d.rows.each_ref().map(|r| r.len() as u64));
    }
    let fwd: [u64; 3] = std::array::from_fn(|s| per_chrom.iter().map(|c| c[s]).sum());
    let decide_secs = started.elapsed().as_secs_f64();
    info!(
        "pass 1 (decide) {:.1}s: {} bins, {} kept (train {}, valid {}, test {})",
        decide_secs, counts.seen, counts.kept, fwd[0], fwd[1], fwd[2]
    );
    for s in Split::ALL {
        if fwd[s as usize] == 0 {
            warnings.push(format!("the {} split is empty", s.as_str()));
        }
    }

    // Pass 2: write.
    let started = std::time::Instant::now();
    let header = dataset_header(opts, &targets, &genome, &genome_sha);
    let copies = if opts.reverse_complement { 2 } else { 1 };
    let wopts = WriterOptions {
        chunk_rows: opts.chunk_rows,
        level: opts.compression_level,
        ..Default::default()
    };
    let mut writers = Vec::new();
    for s in Split::ALL {
        let mut h = header.clone();
        h.attrs
            .push(("split".into(), AttrValue::Str(s.as_str().into())));
        h.attrs.push((
            "forward_rows".into(),
            AttrValue::Int(fwd[s as usize] as i64),
        ));
        writers.push(Writer::create(
            &opts.out.join(format!("{}.h5", s.as_str())),
            &h,
            (fwd[s as usize] * copies) as usize,
            wopts,
        )?);
    }
    let mut offset = [0usize; 3];
    let mut counts2 = BinCounts::default();
    let mut records = genome.records()?;
    let mut ci = 0;
    while records.next_into(&mut name, &mut seq)? {
        if per_chrom[ci].iter().all(|&n| n == 0) {
            ci += 1;
            continue;
        }
        let d = decider.decide(&name, &seq, &mut counts2);
        if d.rows.each_ref().map(|r| r.len() as u64) != per_chrom[ci] {
            return Err(PrepError::Invalid(format!(
                "{}: sequence '{name}' changed between the two passes over the file",
                opts.genome.display()
            )));
        }
        for s in Split::ALL {
            let si = s as usize;
            for rows in d.rows[si].chunks(BLOCK_ROWS) {
                let (f, rc) = build_blocks(
                    rows,
                    &seq,
                    &d.labels,
                    ci as u32,
                    opts.window as usize,
                    targets.len(),
                    opts.reverse_complement,
                );
                writers[si].write_rows(offset[si], &f)?;
                if let Some(rc) = rc {
                    writers[si].write_rows(fwd[si] as usize + offset[si], &rc)?;
                }
                offset[si] += rows.len();
            }
        }
        info!(
            "{name}: {} rows written (train {}, valid {}, test {})",
            per_chrom[ci].iter().sum::<u64>(),
            per_chrom[ci][0],
            per_chrom[ci][1],
            per_chrom[ci][2]
        );
        ci += 1;
    }
    // An older run's report goes first, so that a half-replaced directory never looks complete.
    let report_path = opts.out.join("prep.json");
    if report_path.exists() {
        std::fs::remove_file(&report_path).map_err(PrepError::io_while(
            &report_path,
            "removing the previous report",
        ))?;
    }
    for w in writers {
        w.finish()?;
    }
    let secs = started.elapsed().as_secs_f64();
    let total_rows: u64 = fwd.iter().sum::<u64>() * copies;
    info!(
        "pass 2 (write) {secs:.1}s: {total_rows} rows, {:.0} rows/s",
        total_rows as f64 / secs.max(1e-9)
    );

    let report = Report {
        ferrosea_version: env!("CARGO_PKG_VERSION").into(),
        command_line: opts.command_line.clone(),
        options: serde_json::to_value(opts).expect("options serialise"),
        inputs: Inputs {
            genome: FileRef {
                path: opts.genome.display().to_string(),
                sha256: genome_sha,
            },
            genome_compression: genome.compression().as_str().into(),
            genome_index: index_name(genome.index_source()),
            sequences: genome
                .sequences()
                .iter()
                .map(|s| (s.name.clone(), s.length))
                .collect(),
            targets_manifest: FileRef {
                path: opts.targets.display().to_string(),
                sha256: manifest_sha,
            },
        },
        bins: counts,
        splits: Split::ALL
            .iter()
            .map(|&s| SplitReport {
                split: s.as_str().into(),
                file: format!("{}.h5", s.as_str()),
                rows: fwd[s as usize] * copies,
                forward_rows: fwd[s as usize],
                rows_per_sequence: genome
                    .sequences()
                    .iter()
                    .zip(&per_chrom)
                    .filter(|(_, c)| c[s as usize] > 0)
                    .map(|(q, c)| (q.name.clone(), c[s as usize]))
                    .collect(),
            })
            .collect(),
        targets: targets
            .iter()
            .zip(peaks)
            .zip(&positives)
            .map(|((t, p), pos)| TargetReport {
                name: t.name.clone(),
                category: t.category.clone(),
                peaks: FileRef {
                    path: t.path.display().to_string(),
                    sha256: p.sha256,
                },
                peak_records: p.set.records() as u64,
                peaks_skipped: p.skipped,
                peaks_clipped_at_sequence_end: p.clipped,
                positives: Split::ALL
                    .iter()
                    .map(|&s| (s.as_str().to_string(), pos[s as usize]))
                    .collect(),
            })
            .collect(),
        warnings,
        timings: Timings {
            load: load_secs,
            decide: decide_secs,
            write: secs,
        },
    };
    for w in &report.warnings {
        warn!("{w}");
    }
    write_report(&report_path, &report)?;
    Ok(report)
}

fn index_name(src: &ferrosea_genome::fasta::IndexSource) -> String {
    use ferrosea_genome::fasta::IndexSource::*;
    match src {
        Fai(p) => format!("read {}", p.display()),
        Built(p) => format!("built {}", p.display()),
        BuiltInMemory => "built in memory (the .fai could not be written)".into(),
        Scanned => "read through (compressed without .fai)".into(),
    }
}

fn dataset_header(opts: &Options, targets: &[Target], genome: &Genome, genome_sha: &str) -> Header {
    let all =
        |f: fn(&Target) -> Option<String>| targets.iter().map(f).collect::<Option<Vec<String>>>();
    let file_name = opts
        .genome
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Header {
        window: opts.window as usize,
        targets: Targets {
            name: targets.iter().map(|t| t.name.clone()).collect(),
            category: targets.iter().map(|t| t.category.clone()).collect(),
            cell: all(|t| t.cell.clone()),
            treatment: all(|t| t.treatment.clone()),
        },
        chrom_names: genome.sequences().iter().map(|s| s.name.clone()).collect(),
        attrs: vec![
            ("bin_size".into(), AttrValue::Int(opts.bin_size as i64)),
            (
                "min_overlap".into(),
                AttrValue::Int(opts.min_overlap as i64),
            ),
            ("keep".into(), AttrValue::Str(opts.keep.as_str().into())),
            (
                "reverse_complement".into(),
                AttrValue::Int(opts.reverse_complement as i64),
            ),
            ("genome".into(), AttrValue::Str(file_name)),
            ("genome_sha256".into(), AttrValue::Str(genome_sha.into())),
        ]
        .into_iter()
        .chain(ferrosea_dataset::provenance(&opts.command_line))
        .collect::<Vec<_>>(),
        ..Default::default()
    }
}

fn write_report(path: &Path, report: &Report) -> Result<(), PrepError> {
    let mut text = serde_json::to_string_pretty(report).expect("report serialises");
    text.push('\n');
    ferrosea_dataset::write_atomically(path, text.as_bytes())
        .map_err(PrepError::io_while(path, "writing the report"))
}
