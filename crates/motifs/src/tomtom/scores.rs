//! Column scores: each query column against every pooled target column, by the distance.

use super::*;

pub(super) fn column_score(d: Distance, q: &[f64; 4], t: &[f64; 4]) -> f64 {
    match d {
        Distance::Euclidean => {
            let d: [f64; 4] = std::array::from_fn(|k| q[k] - t[k]);
            -(d[0] * d[0] + d[1] * d[1] + d[2] * d[2] + d[3] * d[3]).sqrt()
        }
        Distance::Sandelin => 2.0 - (0..4).map(|k| (q[k] - t[k]).powi(2)).sum::<f64>(),
        Distance::Pearson => {
            let ((dq, vq), (dt, vt)) = (centre(q), centre(t));
            let c = dq[0] * dt[0] + dq[1] * dt[1] + dq[2] * dt[2] + dq[3] * dt[3];
            if vq == 0.0 || vt == 0.0 {
                0.0
            } else {
                c / (vq * vt).sqrt()
            }
        }
        Distance::Kullback => {
            // MEME's order of operations: each letter's average, summed, negated.
            let mut s = 0.0;
            for k in 0..4 {
                let (a, b) = (q[k].max(1e-10), t[k].max(1e-10));
                s += (a * (a / b).log10() + b * (b / a).log10()) / 2.0;
            }
            -s
        }
    }
}

/// The pooled target columns: target t's forward columns start at `forward[t]`, its reverse
/// complement's at `reverse[t]`. `letters[k]` holds letter k of every column (one array per
/// letter, so that scoring a query column against all of them vectorises); for Pearson,
/// `centred[k]` holds the columns minus their means and `spread` their sums of squares.
pub(super) struct Pool {
    pub(super) cols: Vec<[f64; 4]>,
    pub(super) letters: [Vec<f64>; 4],
    pub(super) centred: [Vec<f64>; 4],
    pub(super) spread: Vec<f64>,
    pub(super) forward: Vec<usize>,
    pub(super) reverse: Vec<usize>,
    pub(super) widths: Vec<usize>,
}

/// A column minus its mean, and the sum of squares of that (Pearson's ingredients).
pub(super) fn centre(c: &[f64; 4]) -> ([f64; 4], f64) {
    let m = c.iter().sum::<f64>() / 4.0;
    let d: [f64; 4] = std::array::from_fn(|k| c[k] - m);
    let mut v = 0.0;
    for x in d {
        v += x.powi(2);
    }
    (d, v)
}

pub(super) fn pool(targets: &[Motif], o: &Options) -> Pool {
    let mut cols = Vec::new();
    let (mut forward, mut reverse, mut widths) = (Vec::new(), Vec::new(), Vec::new());
    for t in targets {
        forward.push(cols.len());
        cols.extend(with_pseudocount(t, o));
        widths.push(t.width());
    }
    if o.both_strands {
        for t in targets {
            reverse.push(cols.len());
            cols.extend(with_pseudocount(&t.reverse_complement(), o));
        }
    }
    let letters = std::array::from_fn(|k| cols.iter().map(|c| c[k]).collect());
    let centred_cols: Vec<([f64; 4], f64)> = cols.iter().map(centre).collect();
    let centred = std::array::from_fn(|k| centred_cols.iter().map(|(d, _)| d[k]).collect());
    let spread = centred_cols.iter().map(|(_, v)| *v).collect();
    Pool {
        cols,
        letters,
        centred,
        spread,
        forward,
        reverse,
        widths,
    }
}

/// One query column against every pooled column: the same values as [`column_score`],
/// computed letter array by letter array for the two distances whose loops vectorise.
#[inline(always)]
pub(super) fn score_row(d: Distance, q: &[f64; 4], pool: &Pool, row: &mut [f64]) {
    match d {
        Distance::Euclidean => {
            let [a, c, g, t] = &pool.letters;
            for ((((r, &a), &c), &g), &t) in row.iter_mut().zip(a).zip(c).zip(g).zip(t) {
                let (d0, d1, d2, d3) = (q[0] - a, q[1] - c, q[2] - g, q[3] - t);
                *r = -(d0 * d0 + d1 * d1 + d2 * d2 + d3 * d3).sqrt();
            }
        }
        Distance::Pearson => {
            let (dq, vq) = centre(q);
            let [a, c, g, t] = &pool.centred;
            let it = row.iter_mut().zip(a).zip(c).zip(g).zip(t).zip(&pool.spread);
            for (((((r, &a), &c), &g), &t), &vt) in it {
                let cov = dq[0] * a + dq[1] * c + dq[2] * g + dq[3] * t;
                *r = if vq == 0.0 || vt == 0.0 {
                    0.0
                } else {
                    cov / (vq * vt).sqrt()
                };
            }
        }
        Distance::Sandelin | Distance::Kullback => {
            for (r, tc) in row.iter_mut().zip(&pool.cols) {
                *r = column_score(d, q, tc);
            }
        }
    }
}
