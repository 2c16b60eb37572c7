//! Tomtom's tests: against plain sums, against MEME's choices, and on random motifs.
#[cfg(test)]
use super::*;

fn motif(id: &str, pfm: Vec<[f64; 4]>) -> Motif {
    Motif {
        id: id.into(),
        name: None,
        pfm,
        nsites: Some(20.0),
    }
}

/// A deterministic pseudo-random motif.
/// Uniform values in [0, 1) from a seeded xorshift generator.
fn uniform(seed: u64) -> impl FnMut() -> f64 {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn random_motif(id: &str, w: usize, seed: u64) -> Motif {
    let mut next = uniform(seed);
    let pfm = (0..w)
        .map(|_| {
            let mut c: [f64; 4] = std::array::from_fn(|_| next().powi(3) + 0.01);
            let sum: f64 = c.iter().sum();
            c.iter_mut().for_each(|x| *x /= sum);
            c
        })
        .collect();
    motif(id, pfm)
}

fn database(n: usize) -> Vec<Motif> {
    (0..n)
        .map(|i| random_motif(&format!("t{i}"), 6 + i % 10, 1000 + i as u64))
        .collect()
}

#[test]
fn a_motif_finds_itself_its_reverse_complement_and_a_shifted_copy() {
    for d in [
        Distance::Euclidean,
        Distance::Pearson,
        Distance::Sandelin,
        Distance::Kullback,
    ] {
        let db = database(60);
        let o = Options {
            distance: d,
            ..Options::default()
        };
        let q = db[17].clone();
        let rc = q.reverse_complement();
        // The query without its first two columns: it sits 2 columns into target 17.
        let shifted = motif("shifted", q.pfm[2..].to_vec());
        let r = compare(&[q, rc, shifted], &db, &o);
        for (k, (reverse, offset)) in [(false, 0), (true, 0), (false, 2)].iter().enumerate() {
            let best = r[k]
                .iter()
                .min_by(|a, b| a.p_value.total_cmp(&b.p_value))
                .unwrap();
            assert_eq!(best.target, 17, "{d:?} query {k}");
            assert_eq!(
                (best.reverse, best.offset),
                (*reverse, *offset),
                "{d:?} query {k}"
            );
            assert!(best.p_value < 1e-6, "{d:?} query {k}: p {}", best.p_value);
        }
    }
}

#[test]
fn ties_and_the_null_follow_meme() {
    let mut db = database(60);
    // A target of period 2: the query "AC" fits at offsets 0, 2 and 4 with the same
    // score and overlap; MEME reports the smallest offset.
    let a = [0.97, 0.01, 0.01, 0.01];
    let c = [0.01, 0.97, 0.01, 0.01];
    db.push(motif("periodic", vec![a, c, a, c, a, c]));
    let q = motif("ac", vec![a, c]);
    let r = compare(std::slice::from_ref(&q), &db, &Options::default());
    let m = &r[0][60];
    assert_eq!((m.offset, m.overlap, m.reverse), (0, 2, false));
    // The minimum overlap restricts the best alignment, not the null: a full-overlap
    // match keeps its p-value.
    let q = db[17].clone();
    let p = |min_overlap| {
        let o = Options {
            min_overlap,
            ..Options::default()
        };
        compare(std::slice::from_ref(&q), &db, &o)[0][17].p_value
    };
    assert_eq!(p(1), p(5));
}

#[test]
fn consensus_ties_fall_as_tomtom_breaks_them() {
    // JASPAR MA0074.1's columns 7 and 10 (10 sites): tomtom 5.5.8 writes T and G, the
    // later letters, because the pseudocounted 0.3985... and 0.4975... round down in
    // single precision; without a pseudocount 0.4 rounds up and A stays.
    let mut m = motif("tie", vec![[0.4, 0.2, 0.0, 0.4], [0.5, 0.0, 0.5, 0.0]]);
    m.nsites = Some(10.0);
    assert_eq!(consensus(&m, &Options::default()), "TG");
    let none = Options {
        pseudocount: 0.0,
        ..Options::default()
    };
    assert_eq!(consensus(&m, &none), "AA");
}

#[test]
fn p_values_of_random_queries_are_roughly_uniform() {
    for d in [Distance::Pearson, Distance::Sandelin, Distance::Euclidean] {
        let db = database(200);
        let queries: Vec<Motif> = (0..40)
            .map(|i| random_motif(&format!("q{i}"), 8, 77 + i))
            .collect();
        let o = Options {
            distance: d,
            ..Options::default()
        };
        let ps: Vec<f64> = compare(&queries, &db, &o)
            .into_iter()
            .flatten()
            .map(|m| m.p_value)
            .collect();
        // Fractions below 0.05, 0.25, 0.5 close to those values (8,000 p-values; not
        // independent, so a loose band).
        for cut in [0.05, 0.25, 0.5] {
            let frac = ps.iter().filter(|&&p| p <= cut).count() as f64 / ps.len() as f64;
            assert!(
                (frac - cut).abs() < 0.1 + cut * 0.5,
                "{d:?}: {frac} at {cut}"
            );
        }
    }
}

#[test]
fn convolution_gives_the_bits_of_the_plain_sum() {
    let mut next = uniform(11);
    let mut padded = Vec::new();
    for (la, lb) in [
        (1, 1),
        (1, 9),
        (7, 3),
        (8, 8),
        (9, 100),
        (250, 61),
        (2600, 100),
    ] {
        // Distributions with zeros inside, as integerised score histograms have.
        let mut dist = |n: usize| -> Vec<f64> {
            (0..n)
                .map(|_| if next() < 0.2 { 0.0 } else { next() / n as f64 })
                .collect()
        };
        let (a, b) = (dist(la), dist(lb));
        let mut plain = vec![0f64; la + lb - 1];
        for (x, &px) in a.iter().enumerate() {
            for (y, &py) in b.iter().enumerate() {
                plain[x + y] += px * py;
            }
        }
        let mut ours = Vec::new();
        convolve(&a, 0.0, &b, &mut padded, &mut ours);
        assert_eq!(ours.len(), plain.len());
        for (z, (u, v)) in ours.iter().zip(&plain).enumerate() {
            assert_eq!(
                u.to_bits(),
                v.to_bits(),
                "{la} x {lb}, output {z}: {u} vs {v}"
            );
        }
    }
}

#[test]
fn survival_of_a_sum_is_the_suffix_sum_of_its_distribution() {
    let mut next = uniform(5);
    let mut padded = Vec::new();
    for (la, lb) in [(1, 1), (3, 40), (75, 75), (900, 80)] {
        let mut dist = |n: usize| -> Vec<f64> {
            let v: Vec<f64> = (0..n).map(|_| next().powi(4)).collect();
            let sum: f64 = v.iter().sum();
            v.iter().map(|x| x / sum).collect()
        };
        let (a, b) = (dist(la), dist(lb));
        let suffix = |p: &[f64]| -> Vec<f64> {
            let mut acc = 0.0;
            let mut sf: Vec<f64> = p
                .iter()
                .rev()
                .map(|x| {
                    acc += x;
                    acc
                })
                .collect();
            sf.reverse();
            sf
        };
        let mut pmf = Vec::new();
        convolve(&a, 0.0, &b, &mut padded, &mut pmf);
        let mut sf = Vec::new();
        convolve(&suffix(&a), 1.0, &b, &mut padded, &mut sf);
        let want = suffix(&pmf);
        assert_eq!(sf.len(), want.len());
        for (k, (u, v)) in sf.iter().zip(&want).enumerate() {
            // Relative: the tail values are tiny and must keep their precision.
            assert!(
                (u - v).abs() <= 1e-12 * v,
                "{la} x {lb}, value {k}: {u} vs {v}"
            );
        }
    }
}

#[test]
fn diagonal_sums_are_the_plain_sums() {
    let mut next = uniform(3);
    for (w, l) in [
        (1, 1),
        (5, 3),
        (8, 20),
        (26, 6),
        (26, 35),
        (30, 16),
        (17, 40),
    ] {
        let n = 120;
        let (margin, stride) = (margin(w), n + 2 * margin(w));
        let rows: Vec<u16> = (0..w * stride).map(|_| (next() * 100.0) as u16).collect();
        let start = 50;
        let mut want = vec![0u32; l + w - 1];
        for i in 0..w {
            for j in 0..l {
                want[j + w - 1 - i] += rows[i * stride + margin + start + j] as u32;
            }
        }
        let mask = diagonal_mask(w, l);
        for simd in [Simd::detect(), Simd::Portable] {
            let mut got = vec![0u32; (l + w - 1).next_multiple_of(LANES)];
            let target = Placed {
                rows: &rows,
                stride,
                at: margin + start,
                w,
                l,
                mask: &mask,
            };
            diagonal_sums(simd, &target, &mut got);
            assert_eq!(&got[..l + w - 1], &want[..], "w {w}, l {l}");
        }
    }
}

#[test]
fn the_best_alignment_by_rank_is_the_plain_one() {
    let mut next = uniform(17);
    for (w, l, min) in [
        (1usize, 1usize, 1),
        (5, 3, 1),
        (8, 20, 5),
        (26, 6, 5),
        (26, 35, 1),
        (30, 16, 16),
    ] {
        for zero in [0, 3, 40] {
            // Few distinct sums, so that ties are common.
            let n = (l + w - 1).next_multiple_of(LANES);
            for _ in 0..50 {
                let diagonals: Vec<u32> = (0..n).map(|_| (next() * 4.0) as u32 * 10).collect();
                let ranks = alignment_ranks(w, l, min, zero);
                assert_eq!(
                    best_alignment(&diagonals, &ranks, l),
                    best_alignment_plain(&diagonals, w, l, min, zero),
                    "w {w}, l {l}, min {min}, zero {zero}: {diagonals:?}"
                );
            }
        }
    }
}

#[test]
fn scores_wider_than_16_bits_take_the_plain_path() {
    // 30 columns x 3000 bins: diagonal sums beyond 2^16.
    let db = database(60);
    let o = Options {
        bins: 3000,
        ..Options::default()
    };
    let q = random_motif("wide", 30, 5);
    let mut with_q = db.clone();
    with_q.push(q.clone());
    let r = compare(&[q], &with_q, &o);
    let best = r[0]
        .iter()
        .min_by(|a, b| a.p_value.total_cmp(&b.p_value))
        .unwrap();
    assert_eq!((best.target, best.offset, best.overlap), (60, 0, 30));
    assert!(best.score > u16::MAX as i64, "{}", best.score);
}

#[test]
fn the_null_is_the_plain_sum_over_alignments() {
    let mut next = uniform(21);
    let w = 9;
    let zero = 7;
    // Column distributions with their first integer value, zeros inside.
    let pmfs: Vec<(usize, Vec<f64>)> = (0..w)
        .map(|i| {
            let n = 3 + (i * 5) % 11;
            let v: Vec<f64> = (0..n)
                .map(|_| if next() < 0.2 { 0.0 } else { next() })
                .collect();
            let sum: f64 = v.iter().sum();
            (i % 4, v.iter().map(|x| x / sum).collect())
        })
        .collect();
    // Each span's distribution (first value, probabilities) by plain convolution.
    let span = |a: usize, b: usize| -> (i64, Vec<f64>) {
        let (mut first, mut dist) = (pmfs[a].0 as i64, pmfs[a].1.clone());
        for (f, p) in &pmfs[a + 1..=b] {
            let mut out = vec![0.0; dist.len() + p.len() - 1];
            for (x, &px) in dist.iter().enumerate() {
                for (y, &py) in p.iter().enumerate() {
                    out[x + y] += px * py;
                }
            }
            first += *f as i64;
            dist = out;
        }
        (first, dist)
    };
    let mut requests = Vec::new();
    for l in [1, 3, 4, 9, 12] {
        for v in [-5, 0, 30, 45, 60, 75, 90, 200] {
            requests.push((l, v));
        }
    }
    let got = null_log_cdfs(w, zero, &pmfs, &requests, &mut NullScratch::default());
    for (&(l, v), got) in requests.iter().zip(got) {
        let mut want = 0.0;
        for (_, a, b) in alignments(w, l, 1) {
            let (first, dist) = span(a, b);
            let shift = (w - (b - a + 1)) as i64 * zero;
            let sf: f64 = dist
                .iter()
                .enumerate()
                .filter(|&(k, _)| first + k as i64 >= v - shift)
                .map(|(_, p)| p)
                .sum();
            want += (-sf.min(1.0)).ln_1p();
        }
        if want == f64::NEG_INFINITY || got == f64::NEG_INFINITY {
            // sf of exactly 1 on one side only would mean a different span or shift.
            assert!(got < -30.0 && want < -30.0, "l {l}, v {v}: {got} vs {want}");
        } else {
            assert!(
                (got - want).abs() <= 1e-9 * want.abs().max(1e-300),
                "l {l}, v {v}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn the_vector_bracket_is_the_plain_one() {
    let mut next = uniform(13);
    for n in [0, 1, 3, 4, 7, 1000, 1003] {
        let row: Vec<f64> = (0..n)
            .map(|i| match i % 17 {
                0 => 0.0,
                1 => -0.0,
                _ => next() * 4.0 - 2.0,
            })
            .collect();
        for (lo, hi) in [(-0.5, 0.5), (0.0, 0.0), (-3.0, 3.0), (1.0, -1.0)] {
            let (mut a, mut b) = (vec![0u64; n], vec![0u64; n]);
            let (ba, ka) = bracket(Simd::detect(), &row, lo, hi, &mut a);
            let (bb, kb) = bracket(Simd::Portable, &row, lo, hi, &mut b);
            assert_eq!((ba, ka), (bb, kb), "{n} values in [{lo}, {hi}]");
            assert_eq!(a[..ka], b[..kb], "{n} values in [{lo}, {hi}]");
            let want: Vec<u64> = row
                .iter()
                .filter(|&&x| x >= lo && x <= hi)
                .map(|&x| key(x))
                .collect();
            assert_eq!(a[..ka], want[..]);
            assert_eq!(ba, row.iter().filter(|&&x| x < lo).count());
        }
    }
}

#[test]
fn median_is_the_lower_middle_value() {
    let mut next = uniform(9);
    let mut keys = Vec::new();
    let mut rows: Vec<Vec<f64>> = [1, 2, 5, 2047, 2048, 5000, 17741]
        .iter()
        .map(|&n| {
            (0..n)
                .map(|_| (next() * 50.0).round() / 10.0 - 2.0)
                .collect()
        })
        .collect();
    // Every sampled value far above the rest: the bracket misses, the histogram answers.
    let mut biased: Vec<f64> = (0..8192).map(|_| next()).collect();
    for k in 0..SAMPLE {
        biased[k * (8192 / SAMPLE)] = 100.0 + k as f64;
    }
    rows.push(biased);
    for row in rows {
        let mut sorted = row.clone();
        sorted.sort_by(f64::total_cmp);
        let (lo, hi) = min_max(&row);
        assert_eq!((lo, hi), (sorted[0], sorted[row.len() - 1]));
        let m = median(Simd::detect(), &row, lo, hi, &mut keys);
        assert_eq!(m, sorted[(row.len() - 1) / 2], "{} values", row.len());
    }
}

#[test]
fn q_values_are_monotone_and_bounded() {
    let p = [0.001, 0.5, 0.02, 0.9, 0.03, 0.7];
    let q = storey_qvalues(&p);
    let mut pairs: Vec<(f64, f64)> = p.iter().copied().zip(q.iter().copied()).collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(pairs.windows(2).all(|w| w[0].1 <= w[1].1));
    assert!(q.iter().all(|&x| (0.0..=1.0).contains(&x)));
    assert!(q[0] >= p[0]);
    // Many uniform p-values: pi0 near 1.
    let p: Vec<f64> = (1..=1000).map(|i| i as f64 / 1000.0).collect();
    let q = storey_qvalues(&p);
    assert!((q[999] - 1.0).abs() < 0.1, "{}", q[999]);
    // 800 uniform p-values and 200 true effects: the largest p's q-value is pi0, 0.8.
    let p: Vec<f64> = (1..=1000)
        .map(|i| {
            if i <= 200 {
                1e-6 * i as f64
            } else {
                (i - 200) as f64 / 800.0
            }
        })
        .collect();
    let q = storey_qvalues(&p);
    assert!((q[999] - 0.8).abs() < 0.05, "{}", q[999]);
}

#[test]
fn every_instruction_set_gives_the_same_matches() {
    // Queries of several widths against the embedded
    // JASPAR, with each distance: the AVX2 copy and the portable one agree to the bit.
    let targets = crate::embedded_jaspar().expect("the embedded JASPAR");
    let queries: Vec<Motif> = [4, 11, 26, 40]
        .iter()
        .map(|&w| random_motif(&format!("q{w}"), w, w as u64))
        .collect();
    for distance in [Distance::Euclidean, Distance::Pearson, Distance::Kullback] {
        let o = Options {
            distance,
            ..Options::default()
        };
        let pool = pool(&targets, &o);
        for q in &queries {
            let mut scratch = Scratch::default();
            let a = one_query(Simd::detect(), q, &pool, &o, &mut scratch);
            let b = one_query(Simd::Portable, q, &pool, &o, &mut scratch);
            assert_eq!(a.len(), targets.len());
            for (x, y) in a.iter().zip(&b) {
                assert_eq!(
                    (x.p_value.to_bits(), x.q_value.to_bits(), x.score, x.offset),
                    (y.p_value.to_bits(), y.q_value.to_bits(), y.score, y.offset),
                    "{} vs {} with {distance:?}",
                    q.id,
                    targets[x.target].id
                );
            }
        }
    }
}
