use super::*;
use std::io::Write;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn read_all(g: &Genome) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut r = g.records().unwrap();
    let (mut n, mut s) = (String::new(), Vec::new());
    while r.next_into(&mut n, &mut s).unwrap() {
        out.push((n.clone(), s.clone()));
    }
    out
}

const TEXT: &str = ">chr1 desc\nACGTN\nacgt\n>chr2\nGG\n";

#[test]
fn plain_builds_fai_and_streams() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "g.fa", TEXT);
    let g = Genome::open(&p, 1).unwrap();
    assert_eq!(g.index_source(), &IndexSource::Built(fai_path(&p)));
    assert_eq!(
        g.sequences().iter().map(|s| s.length).collect::<Vec<_>>(),
        [9, 2]
    );
    let recs = read_all(&g);
    assert_eq!(recs[0], ("chr1".to_string(), b"ACGTNacgt".to_vec()));
    // second open uses the written .fai
    assert!(matches!(
        Genome::open(&p, 1).unwrap().index_source(),
        IndexSource::Fai(_)
    ));
}

#[test]
fn gzip_is_scanned() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("g.fa.gz");
    let mut enc =
        flate2::write::GzEncoder::new(File::create(&p).unwrap(), flate2::Compression::default());
    enc.write_all(TEXT.as_bytes()).unwrap();
    enc.finish().unwrap();
    let g = Genome::open(&p, 1).unwrap();
    assert_eq!(g.compression(), Compression::Gzip);
    assert_eq!(g.index_source(), &IndexSource::Scanned);
    assert_eq!(read_all(&g).len(), 2);
}

#[test]
fn bgzip_is_read() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("g.fa.gz");
    let mut w = noodles_bgzf::io::Writer::new(File::create(&p).unwrap());
    w.write_all(TEXT.as_bytes()).unwrap();
    w.finish().unwrap();
    let g = Genome::open(&p, 2).unwrap();
    assert_eq!(g.compression(), Compression::Bgzf);
    assert_eq!(read_all(&g)[1], ("chr2".to_string(), b"GG".to_vec()));
}

#[test]
fn stale_index_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "g.fa", TEXT);
    Genome::open(&p, 1).unwrap();
    write(d.path(), "g.fa", ">chr1\nACGT\n>chr2\nGG\n");
    // The first sequence is checked when the genome is opened, before any caller plans work
    // on the index's lengths.
    let e = Genome::open(&p, 1).unwrap_err().to_string();
    assert!(e.contains("stale") && e.contains("chr1"), "{e}");
    // A later sequence is checked as it is streamed.
    std::fs::remove_file(d.path().join("g.fa.fai")).unwrap();
    Genome::open(&p, 1).unwrap();
    write(d.path(), "g.fa", ">chr1\nACGT\n>chr2\nGGG\n");
    let g = Genome::open(&p, 1).unwrap();
    let mut r = g.records().unwrap();
    let (mut name, mut seq) = (String::new(), Vec::new());
    assert!(r.next_into(&mut name, &mut seq).unwrap());
    let e = r.next_into(&mut name, &mut seq).unwrap_err().to_string();
    assert!(e.contains("stale") && e.contains("chr2"), "{e}");
}

#[test]
fn bad_files_are_named() {
    let d = tempfile::tempdir().unwrap();
    let e = Genome::open(d.path().join("missing.fa"), 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.fa"), "{e}");
    let p = write(d.path(), "empty.fa", "");
    assert!(matches!(
        Genome::open(&p, 1),
        Err(GenomeError::NoSequences { .. })
    ));
    let p = write(d.path(), "bed.fa", "chr1\t0\t10\n");
    let e = Genome::open(&p, 1).unwrap_err().to_string();
    assert!(e.contains("not a FASTA") && e.contains("chr1"), "{e}");
    let p = write(d.path(), "dup.fa", ">a\nAC\n>b\nA\n>a\nG\n");
    let e = Genome::open(&p, 1).unwrap_err().to_string();
    assert!(
        e.contains("duplicate sequence name 'a'") && e.contains("1 and 3"),
        "{e}"
    );
}
