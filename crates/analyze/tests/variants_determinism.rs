//! `variants` writes the same bytes whatever `-j` and `--batch-size`, and `gather` of
//! `--chunk 1/3, 2/3, 3/3` writes the bytes of one run (all files but summary.json, which has
//! timings and the command line).

mod common;
mod variants_common;

use std::ffi::OsString;
use std::path::Path;

use common::*;
use variants_common::*;

/// The oracle VCF repeated until it spans more than one block of 1024 alleles, so that
/// blocks, chunks and batches all have seams.
fn long_vcf(dir: &Path) -> std::path::PathBuf {
    let base = oracle_vcf();
    let body: Vec<&str> = records(&base);
    let mut text = HEADER.to_string();
    // 40 copies: about 1,160 scored alleles.
    for i in 0..40 {
        for l in &body {
            // Distinct IDs, so that a row out of place shows.
            let mut cols: Vec<&str> = l.split('\t').collect();
            let id = format!("{}_{i}", cols[2]);
            cols[2] = &id;
            text.push_str(&cols.join("\t"));
            text.push('\n');
        }
    }
    let vcf = dir.join("long.vcf");
    write(&vcf, &text);
    vcf
}

#[test]
fn threads_and_batch_size_do_not_change_the_bytes() {
    let (_, _g, dir) = common::start();
    let d = dir.path();
    let vcf = long_vcf(d);
    let (a, b) = (d.join("a"), d.join("b"));
    run_variants(&vcf, &a, &["-j", "1", "--batch-size", "7"]);
    run_variants(&vcf, &b, &["-j", "2", "--batch-size", "64"]);
    // And passes of more than 128 windows (gemm blocks large products differently).
    let c = d.join("c");
    run_variants(&vcf, &c, &["-j", "2", "--batch-size", "300"]);
    let s = json(&a.join("summary.json"));
    assert!(
        s["scored"].as_u64().unwrap() > 1024,
        "more than one block: {}",
        s["scored"]
    );
    same_bytes(&a, &b, &output_files("long"));
    same_bytes(&a, &c, &output_files("long"));
}

#[test]
fn gathered_chunks_equal_one_run() {
    let (f, _g, dir) = common::start();
    let d = dir.path();
    let vcf = long_vcf(d);
    // With a background, so that e-values and their INFO go through gather too.
    let bg = d.join("bg.h5");
    ok(
        "background",
        background(&f.run, &bg, &["--random-snvs", "50"]),
    );
    let bgs = bg.to_str().unwrap();
    let whole = d.join("whole");
    run_variants(&vcf, &whole, &["--background", bgs]);
    let mut chunks = Vec::new();
    for k in 1..=3 {
        let out = d.join(format!("chunk{k}"));
        run_variants(
            &vcf,
            &out,
            &["--background", bgs, "--chunk", &format!("{k}/3")],
        );
        let s = json(&out.join("summary.json"));
        assert!(s["records"].as_u64().unwrap() > 0, "chunk {k} is empty");
        chunks.push(out);
    }
    let gathered = d.join("gathered");
    let mut args: Vec<OsString> = vec![
        "-q".into(),
        "gather".into(),
        "-o".into(),
        gathered.clone().into(),
    ];
    args.extend(chunks.iter().map(|c| c.clone().into_os_string()));
    ok("gather", analyze(&args));
    same_bytes(&whole, &gathered, &output_files("long"));
    // The summaries agree but for timings and the command line.
    let (w, g) = (
        json(&whole.join("summary.json")),
        json(&gathered.join("summary.json")),
    );
    for k in [
        "records",
        "alleles",
        "scored",
        "skipped",
        "ref_mismatch",
        "contains_unk",
        "targets",
        "window",
        "outputs",
        "warnings",
    ] {
        assert_eq!(w[k], g[k], "summary.json {k}");
    }
    // Chunks out of order, or missing, are refused.
    let out = d.join("bad_gather");
    let o = analyze(&[
        OsString::from("-q"),
        "gather".into(),
        "-o".into(),
        out.clone().into(),
        chunks[1].clone().into(),
        chunks[0].clone().into(),
        chunks[2].clone().into(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(!out.join("summary.json").exists());
}

/// A chunk may hold no records (2 records in 3 chunks): gather still gives one run's bytes.
#[test]
fn gather_with_an_empty_chunk() {
    let (_, _g, dir) = common::start();
    let d = dir.path();
    let body = oracle_vcf();
    let vcf = d.join("two.vcf");
    let recs = records(&body);
    write(&vcf, &format!("{HEADER}{}\n{}\n", recs[0], recs[2]));
    let whole = d.join("whole");
    run_variants(&vcf, &whole, &[]);
    let mut args: Vec<OsString> = vec![
        "-q".into(),
        "gather".into(),
        "-o".into(),
        d.join("g").into(),
    ];
    let mut empty = 0;
    for k in 1..=3 {
        let out = d.join(format!("chunk{k}"));
        run_variants(&vcf, &out, &["--chunk", &format!("{k}/3")]);
        empty += (json(&out.join("summary.json"))["records"] == 0) as usize;
        args.push(out.into());
    }
    assert_eq!(empty, 1, "one of the three chunks is empty");
    ok("gather", analyze(&args));
    same_bytes(&whole, &d.join("g"), &output_files("two"));
    // Not "no variant records in this chunk": the whole has records.
    assert_eq!(
        json(&whole.join("summary.json"))["warnings"],
        json(&d.join("g/summary.json"))["warnings"]
    );
}

/// `background` draws and scores the same SNVs whatever `-j` and `--batch-size`.
#[test]
fn background_does_not_depend_on_threads_or_batch_size() {
    let (f, _g, dir) = common::start();
    let d = dir.path();
    let read = |extra: [&str; 4], name: &str| {
        let out = d.join(name);
        let mut args = vec!["--random-snvs", "100", "--seed", "3"];
        args.extend(extra);
        ok("background", background(&f.run, &out, &args));
        let r = ferrosea_dataset::ResultsReader::open(&out, "ferrosea-background").unwrap();
        let n = r.rows();
        (
            r.ints("pos", 0..n).unwrap(),
            r.strings("alt", 0..n).unwrap(),
            r.array("magnitude", 0..n)
                .unwrap()
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>(),
        )
    };
    let a = read(["-j", "1", "--batch-size", "7"], "a.h5");
    let b = read(["-j", "2", "--batch-size", "64"], "b.h5");
    assert_eq!(a.0.len(), 100);
    assert!(
        a == b,
        "background differs between -j 1 --batch-size 7 and -j 2 --batch-size 64"
    );
}
