//! Dinucleotide shuffles: a random sequence with exactly the dinucleotide counts of the given
//! one (and its first and last symbol), by the Altschul–Erickson method as Kandel et al.
//! (1996) state it: a random Eulerian walk through the graph whose vertices are symbols and
//! whose edges are the sequence's successive pairs. The references of attribution methods
//! (DeepLIFT/SHAP, integrated gradients from shuffled sequences) are made this way.

use rand::Rng;

/// A dinucleotide shuffle of `seq`, whose values are symbol indices below `symbols` (an
/// unknown base is one more symbol, e.g. 4 for N in DNA). Sequences shorter than 3 come back
/// unchanged.
pub fn dinucleotide_shuffle(seq: &[u8], symbols: usize, rng: &mut impl Rng) -> Vec<u8> {
    let n = seq.len();
    if n < 3 {
        return seq.to_vec();
    }
    // Outgoing edges of each symbol: the symbols that follow it, in sequence order.
    let mut out: Vec<Vec<u8>> = vec![Vec::new(); symbols];
    for w in seq.windows(2) {
        out[w[0] as usize].push(w[1]);
    }
    let last = seq[n - 1] as usize;
    // Each vertex but the last leaves through one of its edges last; those edges must form a
    // tree towards the last symbol, or the walk would get stuck before using every edge.
    let mut last_edge = vec![usize::MAX; symbols];
    loop {
        for v in 0..symbols {
            if v != last && !out[v].is_empty() {
                last_edge[v] = rng.random_range(0..out[v].len());
            }
        }
        let reaches = |start: usize| {
            let mut v = start;
            for _ in 0..symbols {
                if v == last {
                    return true;
                }
                v = out[v][last_edge[v]] as usize;
            }
            v == last
        };
        if (0..symbols).all(|v| v == last || out[v].is_empty() || reaches(v)) {
            break;
        }
    }
    // The other edges in random order, the chosen last edge at the end.
    for v in 0..symbols {
        if out[v].is_empty() {
            continue;
        }
        if v != last {
            let k = out[v].len() - 1;
            out[v].swap(last_edge[v], k);
        }
        let free = if v == last {
            out[v].len()
        } else {
            out[v].len() - 1
        };
        for i in (1..free).rev() {
            out[v].swap(i, rng.random_range(0..=i));
        }
    }
    let mut next = vec![0usize; symbols];
    let mut walk = Vec::with_capacity(n);
    let mut v = seq[0] as usize;
    walk.push(seq[0]);
    for _ in 1..n {
        let u = out[v][next[v]];
        next[v] += 1;
        walk.push(u);
        v = u as usize;
    }
    walk
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn pairs(s: &[u8]) -> Vec<(u8, u8)> {
        let mut p: Vec<(u8, u8)> = s.windows(2).map(|w| (w[0], w[1])).collect();
        p.sort();
        p
    }

    #[test]
    fn shuffles_keep_every_dinucleotide_count() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let seq: Vec<u8> = (0..500).map(|_| rng.random_range(0..5u8)).collect();
        let mut differ = 0;
        for k in 0..50 {
            let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(k);
            let s = dinucleotide_shuffle(&seq, 5, &mut r);
            assert_eq!(pairs(&s), pairs(&seq));
            assert_eq!((s[0], s[499]), (seq[0], seq[499]));
            differ += (s != seq) as usize;
            let mut again = rand_chacha::ChaCha8Rng::seed_from_u64(k);
            assert_eq!(dinucleotide_shuffle(&seq, 5, &mut again), s, "seeded");
        }
        assert_eq!(differ, 50);
        // Short and one-symbol sequences.
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        assert_eq!(dinucleotide_shuffle(&[1, 2], 4, &mut r), vec![1, 2]);
        assert_eq!(dinucleotide_shuffle(&[3; 10], 4, &mut r), vec![3; 10]);
    }
}
