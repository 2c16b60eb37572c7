//! `ferrosea-interpret compare` as a user runs it.

use std::process::{Command, Output};

fn interpret(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ferrosea-interpret"));
    for a in args {
        c.arg(a);
    }
    c.arg("-q").output().unwrap()
}

fn fails_with(o: &Output, what: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(what), "expected '{what}' in: {err}");
}

const QUERIES: &str = "MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n\
Background letter frequencies\nA 0.25 C 0.25 G 0.25 T 0.25\n\n\
MOTIF ctcf_like\nletter-probability matrix: alength= 4 w= 12 nsites= 100 E= 0\n\
0.1 0.4 0.1 0.4\n0.1 0.1 0.1 0.7\n0.1 0.1 0.7 0.1\n0.1 0.7 0.1 0.1\n0.1 0.7 0.1 0.1\n\
0.1 0.1 0.7 0.1\n0.1 0.1 0.7 0.1\n0.1 0.1 0.7 0.1\n0.1 0.1 0.7 0.1\n0.1 0.7 0.1 0.1\n\
0.4 0.1 0.4 0.1\n0.1 0.7 0.1 0.1\n";

#[test]
fn queries_against_the_embedded_jaspar() {
    let dir = tempfile::tempdir().unwrap();
    let root = ferrosea_testkit::root();
    // JASPAR 2016 against JASPAR 2024 (embedded): each old Runx1 finds the new one first.
    let q = root.join("data/motifs/JASPAR2016_CORE_vertebrates_latest.meme.gz");
    let out = dir.path().join("m.tsv");
    let o = interpret(&[
        &"compare",
        &"--query",
        &q,
        &"-o",
        &out,
        &"--min-overlap",
        &"5",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "Query_ID\tTarget_ID\tOptimal_offset\tp-value\tE-value\tq-value\tOverlap\t\
         Query_consensus\tTarget_consensus\tOrientation\tTarget_name"
    );
    let first_runx1 = lines.find(|l| l.starts_with("MA0002.2\t")).unwrap();
    let f: Vec<&str> = first_runx1.split('\t').collect();
    assert_eq!((f[1], f[10]), ("MA0002.3", "Runx1"));
    let p: f64 = f[3].parse().unwrap();
    let q: f64 = f[5].parse().unwrap();
    assert!(p < 1e-20 && q <= 0.5, "{first_runx1}");
    assert!(text.contains("# ferrosea-interpret compare"));

    // JASPAR 2024's CTCF, with a noisy column, with Pearson and an E-value threshold.
    let jaspar = ferrosea_motifs::read_meme(
        &root.join("data/motifs/JASPAR2024_CORE_vertebrates_latest.meme.gz"),
    )
    .unwrap();
    let mut ctcf = jaspar
        .iter()
        .find(|m| m.id.starts_with("MA0139"))
        .unwrap()
        .clone();
    ctcf.pfm[3] = [0.25; 4];
    let qf = dir.path().join("q.meme");
    std::fs::write(&qf, ferrosea_motifs::write_meme(&[ctcf.clone()], [0.25; 4])).unwrap();
    let o = interpret(&[
        &"compare",
        &"--query",
        &qf,
        &"-o",
        &out,
        &"--dist",
        &"pearson",
        &"--evalue",
        &"--thresh",
        &"1",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).take_while(|l| !l.is_empty()).collect();
    assert!(!rows.is_empty());
    assert!(rows
        .iter()
        .all(|r| r.split('\t').nth(4).unwrap().parse::<f64>().unwrap() <= 1.0));
    assert!(
        rows[0].contains("CTCF") || rows[..3].iter().any(|r| r.contains("CTCF")),
        "{}",
        rows[0]
    );
}

#[test]
fn bad_motif_files_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("m.tsv");
    let bad = d.join("bad.meme");
    std::fs::write(
        &bad,
        QUERIES.replace(
            "0.1 0.7 0.1 0.1\n0.1 0.1 0.7 0.1\n0.1 0.1 0.7 0.1\n0.1 0.1 0.7 0.1\n",
            "0.1 0.7 0.1\n",
        ),
    )
    .unwrap();
    fails_with(
        &interpret(&[&"compare", &"--query", &bad, &"-o", &out]),
        "bad.meme:",
    );
    let empty = d.join("empty.meme");
    std::fs::write(&empty, "").unwrap();
    fails_with(
        &interpret(&[&"compare", &"--query", &empty, &"-o", &out]),
        "empty.meme",
    );
    let sums = d.join("sums.meme");
    std::fs::write(&sums, QUERIES.replace("0.1 0.4 0.1 0.4", "0.5 0.4 0.5 0.4")).unwrap();
    fails_with(
        &interpret(&[&"compare", &"--query", &sums, &"-o", &out]),
        "sum to 1",
    );
    let jaspar = d.join("q.jaspar");
    std::fs::write(&jaspar, ">X\nA [ 1 2 ]\nC [ 1 2 ]\nG [ 1 ]\nT [ 1 2 ]\n").unwrap();
    fails_with(
        &interpret(&[&"compare", &"--query", &jaspar, &"-o", &out]),
        "rows of different lengths",
    );
    let good = d.join("good.meme");
    std::fs::write(&good, QUERIES).unwrap();
    let o = interpret(&[
        &"compare",
        &"--query",
        &good,
        &"--db",
        &d.join("none.meme"),
        &"-o",
        &out,
    ]);
    fails_with(&o, "none.meme");
    assert!(!out.exists());
}

#[test]
fn values_that_are_not_probabilities_are_refused_as_query_and_as_db() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("m.tsv");
    let good = d.join("good.meme");
    std::fs::write(&good, QUERIES).unwrap();
    for (value, why) in [
        ("nan", "not a number"),
        ("-0.1", "negative"),
        ("inf", "infinite"),
    ] {
        let bad = d.join("bad.meme");
        std::fs::write(
            &bad,
            QUERIES.replace("0.1 0.4 0.1 0.4", &format!("0.1 0.4 {value} 0.4")),
        )
        .unwrap();
        let what = format!("bad.meme:12: motif ctcf_like: G value '{value}' is {why}");
        fails_with(
            &interpret(&[&"compare", &"--query", &bad, &"-o", &out]),
            &what,
        );
        fails_with(
            &interpret(&[&"compare", &"--query", &good, &"--db", &bad, &"-o", &out]),
            &what,
        );
        assert!(!out.exists());
    }
}

#[test]
fn motifs_wider_than_the_maximum_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let wide = dir.path().join("wide.meme");
    let w = ferrosea_motifs::MAX_WIDTH + 1;
    std::fs::write(
        &wide,
        format!(
            "MEME version 4\n\nALPHABET= ACGT\n\nMOTIF long\n\
             letter-probability matrix: alength= 4 w= {w} nsites= 20 E= 0\n{}",
            "0.25 0.25 0.25 0.25\n".repeat(w)
        ),
    )
    .unwrap();
    let out = dir.path().join("m.tsv");
    fails_with(
        &interpret(&[&"compare", &"--query", &wide, &"-o", &out]),
        &format!(
            "wide.meme:6: motif long is {w} positions wide; the most this program reads is {}",
            ferrosea_motifs::MAX_WIDTH
        ),
    );
}

#[test]
fn an_output_that_is_an_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let q = d.join("q.meme");
    std::fs::write(&q, QUERIES).unwrap();
    let db = d.join("db.meme");
    std::fs::write(&db, QUERIES).unwrap();
    let link = d.join("link.tsv");
    std::os::unix::fs::symlink(&db, &link).unwrap();
    fails_with(
        &interpret(&[&"compare", &"--query", &q, &"--db", &db, &"-o", &q]),
        "the output is the input --query",
    );
    fails_with(
        &interpret(&[&"compare", &"--query", &q, &"--db", &db, &"-o", &link]),
        "the output is the input --db",
    );
    assert_eq!(std::fs::read_to_string(&q).unwrap(), QUERIES);
    assert_eq!(std::fs::read_to_string(&db).unwrap(), QUERIES);
}
