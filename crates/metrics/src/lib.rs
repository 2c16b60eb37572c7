//! Per-target metrics shared by the train and evaluate stages: ROC AUC and PR AUC for 0/1
//! labels, accuracy for classes, Pearson and Spearman correlation and mean squared error for
//! real-valued labels.
//!
//! There is one implementation of each metric in ferrosea, here: training reports the same
//! validation ROC AUC that `ferrosea-evaluate` later reports for the test set.
//!
//! Both metrics treat tied scores as one threshold, as scikit-learn's `roc_auc_score` and
//! `average_precision_score` do, so the figures agree with theirs to float precision.
//! A target with no positive or no negative example has no defined value: the functions
//! return `None` and callers leave it out of means (DeepSEA's K562|BRF1 has no test positives).

/// The scores of one target ranked by decreasing value, with tied scores grouped: everything
/// both metrics and both curves need, from one sort.
///
/// The sort is a radix sort on the scores' bit patterns (4 passes over the data), so ranking
/// costs O(n): about 3 ms for the 455,024 rows of DeepSEA's test set. Scores must not be NaN;
/// `-0.0` and `0.0` count as the same score, as they compare equal in scikit-learn.
///
/// ```
/// use ferrosea_metrics::Ranked;
///
/// // Two positives, two negatives; a positive and a negative tie at 0.8.
/// let ranked = Ranked::from_slices(&[0.9, 0.8, 0.8, 0.1], &[1, 0, 1, 0]);
/// assert_eq!((ranked.positives(), ranked.negatives()), (2, 2));
/// // 3.5 of the 4 positive-negative pairs are ordered right (the tie counts one half).
/// assert_eq!(ranked.roc_auc(), Some(0.875));
/// // Precision 1 at recall 1/2, then 2/3 at recall 1 (scikit-learn gives 0.8333...).
/// let ap = ranked.average_precision().unwrap();
/// assert!((ap - 5.0 / 6.0).abs() < 1e-12);
/// // One class only: no defined value.
/// assert_eq!(Ranked::from_slices(&[0.3, 0.4], &[1, 1]).roc_auc(), None);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ranked {
    /// (positives, negatives) per run of equal scores, highest score first.
    groups: Vec<(u32, u32)>,
    /// The score of each group.
    thresholds: Vec<f32>,
    positives: u64,
    negatives: u64,
}

/// An unsigned key that sorts like the float (for non-NaN values).
fn order_key(s: f32) -> u32 {
    let s = if s == 0.0 { 0.0 } else { s };
    let b = s.to_bits();
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

impl Ranked {
    /// Ranks (score, is positive) pairs.
    pub fn new(pairs: impl IntoIterator<Item = (f32, bool)>) -> Ranked {
        let mut keys: Vec<u64> = pairs
            .into_iter()
            .map(|(s, p)| (order_key(s) as u64) << 32 | p as u64)
            .collect();
        radsort::sort_by_key(&mut keys, |k| (k >> 32) as u32);
        let mut r = Ranked::default();
        let mut i = keys.len();
        while i > 0 {
            let key = keys[i - 1] >> 32;
            let (mut pos, mut neg) = (0u32, 0u32);
            while i > 0 && keys[i - 1] >> 32 == key {
                if keys[i - 1] & 1 == 1 {
                    pos += 1;
                } else {
                    neg += 1;
                }
                i -= 1;
            }
            let k = key as u32;
            let bits = if k & 0x8000_0000 != 0 {
                k & 0x7fff_ffff
            } else {
                !k
            };
            r.groups.push((pos, neg));
            r.thresholds.push(f32::from_bits(bits));
            r.positives += pos as u64;
            r.negatives += neg as u64;
        }
        r
    }

    /// Ranks `scores` against `labels` (0 negative, anything else positive).
    pub fn from_slices(scores: &[f32], labels: &[u8]) -> Ranked {
        assert_eq!(scores.len(), labels.len(), "one label per score");
        Ranked::new(scores.iter().zip(labels).map(|(&s, &l)| (s, l != 0)))
    }

    /// Number of positive examples.
    pub fn positives(&self) -> u64 {
        self.positives
    }

    /// Number of negative examples.
    pub fn negatives(&self) -> u64 {
        self.negatives
    }

    /// Whether both classes are present, so that the metrics are defined.
    pub fn is_defined(&self) -> bool {
        self.positives > 0 && self.negatives > 0
    }

    /// Area under the ROC curve: the probability that a random positive scores above a
    /// random negative, ties counting one half (scikit-learn's `roc_auc_score`).
    pub fn roc_auc(&self) -> Option<f64> {
        if !self.is_defined() {
            return None;
        }
        let mut area = 0.0f64;
        let mut tp = 0u64;
        for &(gp, gn) in &self.groups {
            area += gn as f64 * (tp as f64 + gp as f64 / 2.0);
            tp += gp as u64;
        }
        Some(area / (self.positives as f64 * self.negatives as f64))
    }

    /// Area under the precision-recall curve as average precision: the sum over thresholds
    /// of precision times the recall gained there (scikit-learn's `average_precision_score`,
    /// no interpolation).
    pub fn average_precision(&self) -> Option<f64> {
        if !self.is_defined() {
            return None;
        }
        let (mut tp, mut fp) = (0u64, 0u64);
        let mut ap = 0.0f64;
        for &(gp, gn) in &self.groups {
            tp += gp as u64;
            fp += gn as u64;
            if gp > 0 {
                ap += (gp as f64 / self.positives as f64) * (tp as f64 / (tp + fp) as f64);
            }
        }
        Some(ap)
    }

    /// The ROC curve as (false positive rate, true positive rate, threshold) points, one per
    /// distinct score from the highest down, after a first point (0, 0, +inf).
    pub fn roc_curve(&self) -> Vec<(f64, f64, f32)> {
        let (p, n) = (self.positives.max(1) as f64, self.negatives.max(1) as f64);
        let (mut tp, mut fp) = (0u64, 0u64);
        let mut out = vec![(0.0, 0.0, f32::INFINITY)];
        for (&(gp, gn), &t) in self.groups.iter().zip(&self.thresholds) {
            tp += gp as u64;
            fp += gn as u64;
            out.push((fp as f64 / n, tp as f64 / p, t));
        }
        out
    }

    /// The precision-recall curve as (recall, precision, threshold) points, one per distinct
    /// score from the highest down.
    pub fn pr_curve(&self) -> Vec<(f64, f64, f32)> {
        let p = self.positives.max(1) as f64;
        let (mut tp, mut fp) = (0u64, 0u64);
        let mut out = Vec::with_capacity(self.groups.len());
        for (&(gp, gn), &t) in self.groups.iter().zip(&self.thresholds) {
            tp += gp as u64;
            fp += gn as u64;
            out.push((tp as f64 / p, tp as f64 / (tp + fp) as f64, t));
        }
        out
    }
}

/// Area under the ROC curve of `scores` against `labels` (0 negative, non-zero positive);
/// `None` without both classes. See [`Ranked::roc_auc`].
pub fn roc_auc(scores: &[f32], labels: &[u8]) -> Option<f64> {
    Ranked::from_slices(scores, labels).roc_auc()
}

/// Average precision of `scores` against `labels`; `None` without both classes. See
/// [`Ranked::average_precision`].
pub fn average_precision(scores: &[f32], labels: &[u8]) -> Option<f64> {
    Ranked::from_slices(scores, labels).average_precision()
}

/// Per-target metric over a row-major `[rows, targets]` score matrix and its labels.
pub fn per_target(
    scores: &[f32],
    labels: &[u8],
    targets: usize,
    metric: fn(&[f32], &[u8]) -> Option<f64>,
) -> Vec<Option<f64>> {
    assert_eq!(scores.len(), labels.len(), "one label per score");
    assert!(
        targets > 0 && scores.len().is_multiple_of(targets),
        "scores are [rows, targets]"
    );
    let rows = scores.len() / targets;
    let mut s = vec![0f32; rows];
    let mut l = vec![0u8; rows];
    (0..targets)
        .map(|t| {
            for r in 0..rows {
                s[r] = scores[r * targets + t];
                l[r] = labels[r * targets + t];
            }
            metric(&s, &l)
        })
        .collect()
}

/// Mean of the defined values, and how many there were.
pub fn mean_defined(values: &[Option<f64>]) -> Option<(f64, usize)> {
    let defined: Vec<f64> = values.iter().flatten().copied().collect();
    (!defined.is_empty()).then(|| {
        (
            defined.iter().sum::<f64>() / defined.len() as f64,
            defined.len(),
        )
    })
}

/// Pearson's correlation of `x` and `y` (sums in f64); `None` for fewer than two values or
/// a constant side, as scipy's `pearsonr` returns NaN there.
pub fn pearson(x: &[f32], y: &[f32]) -> Option<f64> {
    assert_eq!(x.len(), y.len(), "paired values");
    let n = x.len();
    if n < 2 {
        return None;
    }
    let mean = |v: &[f32]| v.iter().map(|&a| a as f64).sum::<f64>() / n as f64;
    let (mx, my) = (mean(x), mean(y));
    let (mut sxy, mut sxx, mut syy) = (0f64, 0f64, 0f64);
    for (&a, &b) in x.iter().zip(y) {
        let (dx, dy) = (a as f64 - mx, b as f64 - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    (sxx > 0.0 && syy > 0.0).then(|| (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}

/// Ranks from 1, tied values sharing their mean rank (scipy's `rankdata`, method average).
pub fn average_ranks(v: &[f32]) -> Vec<f32> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut ranks = vec![0f32; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && v[order[j]] == v[order[i]] {
            j += 1;
        }
        // Ranks i + 1 ..= j share their mean.
        let r = (i + 1 + j) as f64 / 2.0;
        for &k in &order[i..j] {
            ranks[k] = r as f32;
        }
        i = j;
    }
    ranks
}

/// Spearman's rank correlation: Pearson's of the average ranks (scipy's `spearmanr`).
pub fn spearman(x: &[f32], y: &[f32]) -> Option<f64> {
    pearson(&average_ranks(x), &average_ranks(y))
}

/// Mean of `(x - y)^2`; `None` when empty.
pub fn mean_squared_error(x: &[f32], y: &[f32]) -> Option<f64> {
    assert_eq!(x.len(), y.len(), "paired values");
    (!x.is_empty()).then(|| {
        x.iter()
            .zip(y)
            .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
            .sum::<f64>()
            / x.len() as f64
    })
}

/// Index of the largest value (the first of ties); `None` when empty or with a NaN.
pub fn argmax(v: &[f32]) -> Option<usize> {
    if v.iter().any(|x| x.is_nan()) {
        return None;
    }
    let mut best: Option<usize> = None;
    for (i, &x) in v.iter().enumerate() {
        if best.is_none_or(|b| x > v[b]) {
            best = Some(i);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force: count pairs.
    fn pairs_auc(scores: &[f32], labels: &[u8]) -> f64 {
        let (mut num, mut den) = (0.0, 0.0);
        for (i, &si) in scores.iter().enumerate() {
            for (j, &sj) in scores.iter().enumerate() {
                if labels[i] != 0 && labels[j] == 0 {
                    den += 1.0;
                    num += if si > sj {
                        1.0
                    } else if si == sj {
                        0.5
                    } else {
                        0.0
                    };
                }
            }
        }
        num / den
    }

    #[test]
    fn roc_auc_matches_pair_counting_with_ties() {
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u32
        };
        for _ in 0..50 {
            let n = 1 + (next() % 60) as usize;
            let scores: Vec<f32> = (0..n).map(|_| (next() % 7) as f32 / 7.0).collect();
            let labels: Vec<u8> = (0..n).map(|_| (next() % 3 == 0) as u8).collect();
            match roc_auc(&scores, &labels) {
                Some(a) => assert!((a - pairs_auc(&scores, &labels)).abs() < 1e-12),
                None => assert!(labels.iter().all(|&l| l != 0) || labels.iter().all(|&l| l == 0)),
            }
        }
    }

    #[test]
    fn known_values() {
        // scikit-learn: roc_auc_score([0,0,1,1],[.1,.4,.35,.8]) = 0.75,
        // average_precision_score(...) = 0.8333333333333333
        let (s, l) = ([0.1f32, 0.4, 0.35, 0.8], [0u8, 0, 1, 1]);
        assert!((roc_auc(&s, &l).unwrap() - 0.75).abs() < 1e-12);
        assert!((average_precision(&s, &l).unwrap() - 0.833_333_333_333_333_3).abs() < 1e-12);
        // All tied: AUC one half, AP the positive rate.
        let (s, l) = ([0.5f32; 4], [0u8, 1, 0, 0]);
        assert_eq!(roc_auc(&s, &l), Some(0.5));
        assert_eq!(average_precision(&s, &l), Some(0.25));
        assert_eq!(roc_auc(&[0.2, 0.3], &[1, 1]), None);
    }

    #[test]
    fn curves_and_signed_zero() {
        let r = Ranked::from_slices(&[0.9, 0.5, 0.5, -0.0, 0.0], &[1, 1, 0, 0, 1]);
        assert_eq!((r.positives(), r.negatives()), (3, 2));
        // -0.0 and 0.0 are one threshold, as in scikit-learn.
        let roc = r.roc_curve();
        assert_eq!(roc.len(), 4);
        assert_eq!(roc[0], (0.0, 0.0, f32::INFINITY));
        assert_eq!(roc[1], (0.0, 1.0 / 3.0, 0.9));
        assert_eq!(roc[2], (0.5, 2.0 / 3.0, 0.5));
        assert_eq!(roc[3].0, 1.0);
        let pr = r.pr_curve();
        assert_eq!(pr[0], (1.0 / 3.0, 1.0, 0.9));
        assert_eq!(pr[1], (2.0 / 3.0, 2.0 / 3.0, 0.5));
        assert_eq!(pr.last().unwrap().0, 1.0);
        // Negative scores sort below positive ones.
        let r = Ranked::from_slices(&[-2.0, -1.0, 3.0, 1e-30], &[0, 0, 1, 1]);
        assert_eq!(r.roc_auc(), Some(1.0));
    }

    #[test]
    fn per_target_and_means() {
        // 3 rows x 2 targets; target 1 has no negatives.
        let scores = [0.9f32, 0.1, 0.2, 0.5, 0.7, 0.3];
        let labels = [1u8, 1, 0, 1, 1, 1];
        let aucs = per_target(&scores, &labels, 2, roc_auc);
        assert_eq!(aucs, vec![Some(1.0), None]);
        assert_eq!(mean_defined(&aucs), Some((1.0, 1)));
        assert_eq!(mean_defined(&[None]), None);
    }

    #[test]
    fn correlations_match_scipy() {
        // scipy.stats.pearsonr / spearmanr of these (scipy 1.x).
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 5.0];
        let y = [2.0, 1.0, 4.0, 3.0, 7.0, 5.0];
        let p = pearson(&x, &y).unwrap();
        assert!((p - 0.831_521_840_620_299_8).abs() < 1e-6, "{p}");
        let s = spearman(&x, &y).unwrap();
        assert!((s - 0.869_656_553_478_672_7).abs() < 1e-6, "{s}");
        assert_eq!(average_ranks(&x), vec![1.0, 2.0, 3.0, 4.0, 5.5, 5.5]);
        assert_eq!(pearson(&[1.0, 1.0], &[1.0, 2.0]), None);
        assert_eq!(mean_squared_error(&[1.0, 2.0], &[2.0, 4.0]), Some(2.5));
        assert_eq!(argmax(&[0.1, 0.7, 0.7, 0.2]), Some(1));
    }
}
