//! Consensus strings of position probability matrices.

use crate::BASES;

/// Consensus of a matrix over any `symbols`: a position's symbol when it has at least half
/// the probability and twice the next, else `.` (DNA: [`consensus`], with IUPAC codes).
pub fn consensus_of(symbols: &str, pfm: &[Vec<f64>]) -> String {
    let chars: Vec<char> = symbols.chars().collect();
    pfm.iter()
        .map(|col| {
            let mut order: Vec<usize> = (0..col.len()).collect();
            order.sort_by(|&a, &b| col[b].total_cmp(&col[a]));
            let (a, b) = (order[0], order.get(1).copied());
            let next = b.map_or(0.0, |b| col[b]);
            if col[a] >= 0.5 && col[a] > 2.0 * next {
                chars[a]
            } else {
                '.'
            }
        })
        .collect()
}

/// IUPAC consensus of a matrix: a base when it has at least half the probability and twice
/// the next; a two-base code when two bases have more than three quarters together; else N.
pub fn consensus(pfm: &[[f64; 4]]) -> String {
    pfm.iter()
        .map(|col| {
            let mut order = [0usize, 1, 2, 3];
            order.sort_by(|&a, &b| col[b].total_cmp(&col[a]));
            let (a, b) = (order[0], order[1]);
            if col[a] >= 0.5 && col[a] > 2.0 * col[b] {
                BASES[a]
            } else if col[a] + col[b] > 0.75 {
                match (a.min(b), a.max(b)) {
                    (0, 1) => 'M',
                    (0, 2) => 'R',
                    (0, 3) => 'W',
                    (1, 2) => 'S',
                    (1, 3) => 'Y',
                    _ => 'K',
                }
            } else {
                'N'
            }
        })
        .collect()
}

/// Tomtom's consensus: the most probable letter of each column, found as tomtom's `get_cons`
/// finds it (a running maximum in single precision, so that of equal frequencies the later
/// letter wins when the first rounds down to f32). See also [`crate::tomtom::consensus`].
pub fn argmax_consensus(pfm: &[[f64; 4]]) -> String {
    pfm.iter()
        .map(|col| {
            let (mut best, mut max) = (0, col[0] as f32);
            for (k, &x) in col.iter().enumerate().skip(1) {
                if x > max as f64 {
                    best = k;
                    max = x as f32;
                }
            }
            BASES[best]
        })
        .collect()
}
