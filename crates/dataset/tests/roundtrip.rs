//! Writing and reading back dataset files.

use ferrosea_dataset::{AttrValue, Block, Header, Reader, Targets, Writer, WriterOptions};

const W: usize = 5;

fn header() -> Header {
    Header {
        window: W,
        targets: Targets {
            name: vec!["A549|CTCF".into(), "A549|DNase".into(), "x".into()],
            category: vec!["TF".into(), "DNase".into(), "Histone".into()],
            cell: Some(vec!["A549".into(), "A549".into(), "é".into()]),
            treatment: None,
        },
        chrom_names: vec!["chr1".into(), "chr2".into()],
        attrs: vec![
            ("bin_size".into(), AttrValue::Int(200)),
            ("keep".into(), AttrValue::Str("positive".into())),
        ],
    }
}

/// Row `i` of a synthetic dataset: distinct bytes everywhere.
fn block(rows: std::ops::Range<usize>) -> Block {
    let mut b = Block::default();
    for i in rows {
        b.x.extend((0..W * 4).map(|j| ((i * 7 + j) % 251) as u8));
        b.y.extend([(i % 2) as u8, (i % 3 == 0) as u8, 1]);
        b.chrom.push((i % 2) as u32);
        b.start.push(i as i64 * 200 - 400);
        b.strand.push(if i % 2 == 0 { b'+' } else { b'-' });
    }
    b
}

fn opts() -> WriterOptions {
    WriterOptions {
        chunk_rows: 4,
        coord_chunk_rows: 3,
        level: 4,
    }
}

#[test]
fn blocks_in_any_order_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.h5");
    let n = 11; // partial last chunk for both chunk sizes
    let mut w = Writer::create(&path, &header(), n, opts()).unwrap();
    // forward block and "reverse" block interleaved, as prep writes them
    for (a, b) in [(6, 9), (0, 2), (9, 11), (2, 6)] {
        let blk = block(a..b);
        w.write_block(a, &blk).unwrap();
    }
    assert!(!path.exists(), "the final name appears only when finished");
    w.finish().unwrap();
    assert!(path.exists());
    assert!(!dir.path().join("d.h5.tmp").exists());

    let r = Reader::open(&path).unwrap();
    let all = block(0..n);
    assert_eq!(r.len(), n);
    assert_eq!(r.read_x(0..n).unwrap(), all.x);
    assert_eq!(r.read_y(0..n).unwrap(), all.y);
    assert_eq!(r.read_x(5..7).unwrap(), block(5..7).x);
    let coords = r.read_coords(0..n).unwrap();
    assert_eq!(coords[3], ("chr2".to_string(), 200 * 3 - 400, b'-'));
    assert_eq!(r.targets(), &header().targets);
    assert_eq!(r.attr_int("bin_size").unwrap(), 200);
    assert_eq!(r.attr_str("keep").unwrap(), "positive");
    assert_eq!(r.attr_int("format_version").unwrap(), 1);
}

#[test]
fn zero_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.h5");
    Writer::create(&path, &header(), 0, opts())
        .unwrap()
        .finish()
        .unwrap();
    let r = Reader::open(&path).unwrap();
    assert_eq!((r.len(), r.window(), r.targets().len()), (0, W, 3));
}

#[test]
fn unfinished_writer_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.h5");
    let mut w = Writer::create(&path, &header(), 8, opts()).unwrap();
    w.write_block(0, &block(0..3)).unwrap();
    drop(w);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn missing_rows_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.h5");
    let mut w = Writer::create(&path, &header(), 8, opts()).unwrap();
    w.write_block(0, &block(0..4)).unwrap();
    let e = w.finish().unwrap_err().to_string();
    assert!(e.contains("row 4 was never written"), "{e}");
    assert!(!path.exists());
    assert!(w_block_past_end_is_rejected(&dir));
}

fn w_block_past_end_is_rejected(dir: &tempfile::TempDir) -> bool {
    let mut w = Writer::create(&dir.path().join("e.h5"), &header(), 2, opts()).unwrap();
    w.write_block(1, &block(1..3)).is_err()
}

#[test]
fn bytes_do_not_depend_on_threads() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, threads: usize, cuts: &[usize]| {
        let path = dir.path().join(name);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut w = Writer::create(&path, &header(), 30, opts()).unwrap();
            for win in cuts.windows(2) {
                w.write_block(win[0], &block(win[0]..win[1])).unwrap();
            }
            w.finish().unwrap();
        });
        std::fs::read(path).unwrap()
    };
    let cuts = [0, 1, 5, 13, 14, 29, 30];
    let a = write("a.h5", 1, &cuts);
    let b = write("b.h5", 4, &cuts);
    assert!(a == b, "files differ");
    // Other block boundaries change where chunks sit in the file, not what it holds.
    write("c.h5", 2, &[0, 30]);
    let (rb, rc) = (
        Reader::open(dir.path().join("b.h5")).unwrap(),
        Reader::open(dir.path().join("c.h5")).unwrap(),
    );
    assert_eq!(rb.read_x(0..30).unwrap(), rc.read_x(0..30).unwrap());
    assert_eq!(
        rb.read_coords(0..30).unwrap(),
        rc.read_coords(0..30).unwrap()
    );
}

#[test]
fn not_a_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.h5");
    hdf5::File::create(&path).unwrap();
    let e = Reader::open(&path).err().unwrap().to_string();
    assert!(e.contains("not a ferrosea-dataset file"), "{e}");
}
