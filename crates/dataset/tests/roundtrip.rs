//! Writing and reading back dataset files.

use ferrosea_dataset::{
    real_label_bytes, Alphabet, AttrValue, Block, Encoding, Header, LabelKind, Reader, Targets,
    Writer, WriterOptions,
};

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
        ..Default::default()
    }
}

/// Row `i` of a synthetic dataset: one-hot rows that differ from row to row (with an N,
/// an all-zero position, in every third row).
fn block(rows: std::ops::Range<usize>) -> Block {
    let mut b = Block::default();
    for i in rows {
        for p in 0..W {
            let base = (i * 7 + p * 3) % 4;
            let n = i % 3 == 0 && p == i % W;
            b.x.extend((0..4).map(|c| (c == base && !n) as u8));
        }
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
        w.write_rows(a, &blk).unwrap();
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
    w.write_rows(0, &block(0..3)).unwrap();
    drop(w);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn missing_rows_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.h5");
    let mut w = Writer::create(&path, &header(), 8, opts()).unwrap();
    w.write_rows(0, &block(0..4)).unwrap();
    let e = w.finish().unwrap_err().to_string();
    assert!(e.contains("row 4 was never written"), "{e}");
    assert!(!path.exists());
    assert!(w_block_past_end_is_rejected(&dir));
}

fn w_block_past_end_is_rejected(dir: &tempfile::TempDir) -> bool {
    let mut w = Writer::create(&dir.path().join("e.h5"), &header(), 2, opts()).unwrap();
    w.write_rows(1, &block(1..3)).is_err()
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
                w.write_rows(win[0], &block(win[0]..win[1])).unwrap();
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

/// A file over {0, 1} in the index encoding with class labels, and one with real labels.
#[test]
fn other_alphabets_and_labels_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let binary = Alphabet::new("01", Encoding::Index).unwrap();
    let h = Header {
        alphabet: binary.clone(),
        labels: LabelKind::Class,
        ..header()
    };
    let path = dir.path().join("classes.h5");
    let mut w = Writer::create(&path, &h, 4, opts()).unwrap();
    let blk = Block {
        x: (0..4 * W).map(|j| (j % 3 == 0) as u8).collect(),
        y: vec![0, 2, 1, 2],
        chrom: vec![0; 4],
        start: vec![0, 5, 10, 15],
        strand: vec![b'+'; 4],
    };
    w.write_rows(0, &blk).unwrap();
    w.finish().unwrap();
    let r = Reader::open(&path).unwrap();
    assert_eq!((r.alphabet(), r.labels()), (&binary, LabelKind::Class));
    assert_eq!(r.attr_int("format_version").unwrap(), 2);
    assert_eq!(r.read_x(0..4).unwrap(), blk.x);
    assert_eq!(r.read_y(0..4).unwrap(), blk.y);
    let one_hot = r.read_labels(1..3).unwrap();
    assert_eq!(one_hot, vec![0., 0., 1., 0., 1., 0.]);
    // h5py sees a 1-channel x and a 1-D y.
    let f = hdf5::File::open(&path).unwrap();
    assert_eq!(f.dataset("x").unwrap().shape(), vec![4, W, 1]);
    assert_eq!(f.dataset("y").unwrap().shape(), vec![4]);
    drop((f, r));
    // A class index past the classes, written by another tool, is named on reading.
    {
        let f = hdf5::File::open_rw(&path).unwrap();
        f.dataset("y")
            .unwrap()
            .write_slice(&[9u8], ndarray::s![2..3])
            .unwrap();
    }
    let r = Reader::open(&path).unwrap();
    let e = r.read_labels(0..4).unwrap_err().to_string();
    assert!(
        e.contains("/y row 2: class 9 past the last of 3 classes"),
        "{e}"
    );

    let h = Header {
        labels: LabelKind::Real,
        ..header()
    };
    let path = dir.path().join("real.h5");
    let mut w = Writer::create(&path, &h, 2, opts()).unwrap();
    let values = [0.5f32, -1.25, 3.0, 1e-3, 0.0, 7.5];
    let mut blk = block(0..2);
    blk.y = real_label_bytes(&values);
    w.write_rows(0, &blk).unwrap();
    w.finish().unwrap();
    let r = Reader::open(&path).unwrap();
    assert_eq!(r.read_labels(0..2).unwrap(), values);
    assert!(r.read_y(0..2).is_err());
}

/// Values the alphabet or the labels cannot hold are refused, naming the row.
#[test]
fn values_outside_the_alphabet_or_classes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Writer::create(&dir.path().join("a.h5"), &header(), 2, opts()).unwrap();
    let mut blk = block(0..2);
    blk.x[W * 4 + 2] = 3;
    let e = w.write_rows(0, &blk).unwrap_err().to_string();
    assert!(
        e.contains("row 1: /x holds 3 at position 0, channel 2"),
        "{e}"
    );

    let h = Header {
        labels: LabelKind::Class,
        ..header()
    };
    let mut w = Writer::create(&dir.path().join("b.h5"), &h, 2, opts()).unwrap();
    let mut blk = block(0..2);
    blk.y = vec![1, 3];
    let e = w.write_rows(0, &blk).unwrap_err().to_string();
    assert!(
        e.contains("row 1: class 3 past the last of 3 classes"),
        "{e}"
    );

    let mut w = Writer::create(&dir.path().join("c.h5"), &header(), 2, opts()).unwrap();
    let mut blk = block(0..2);
    blk.y[4] = 2;
    let e = w.write_rows(0, &blk).unwrap_err().to_string();
    assert!(
        e.contains("row 1: label 2 for target 1: expected 0 or 1"),
        "{e}"
    );
}

#[test]
fn a_file_read_with_header_and_read_rows_writes_back_to_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.h5"), dir.path().join("b.h5"));
    let n = 11;
    let mut w = Writer::create(&a, &header(), n, opts()).unwrap();
    w.write_rows(0, &block(0..n)).unwrap();
    w.finish().unwrap();

    // The reader's shapes are the writer's: header() for create, read_rows for write_rows.
    let r = Reader::open(&a).unwrap();
    let h = r.header();
    assert_eq!(
        (h.window, &h.targets, &h.chrom_names),
        (W, &header().targets, &header().chrom_names)
    );
    assert_eq!(h.attrs, header().attrs);
    let mut w = Writer::create(&b, &h, r.len(), opts()).unwrap();
    // Written as a was, in one block (so that the chunks land in the same order).
    let rows = r.read_rows(0..n).unwrap();
    assert_eq!(rows.x, block(0..n).x);
    w.write_rows(0, &rows).unwrap();
    w.finish().unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}
