//! Per-target classification metrics shared by the train and evaluate stages.
//!
//! There is one implementation of each metric in ferrosea, here: training reports the same
//! validation ROC AUC that `ferrosea-evaluate` later reports for the test set.
//!
//! Both metrics treat tied scores as one threshold, as scikit-learn's `roc_auc_score` and
//! `average_precision_score` do, so the figures agree with theirs to float precision.
//! A target with no positive or no negative example has no defined value: the functions
//! return `None` and callers leave it out of means (DeepSEA's K562|BRF1 has no test positives).

/// Scores sorted by decreasing value, grouped into runs of equal scores:
/// yields (positives, negatives) per run.
fn tie_groups(scores: &[f32], labels: &[u8]) -> Vec<(u64, u64)> {
    assert_eq!(scores.len(), labels.len(), "one label per score");
    let mut order: Vec<u32> = (0..scores.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| scores[b as usize].total_cmp(&scores[a as usize]));
    let mut groups = Vec::new();
    let mut i = 0;
    while i < order.len() {
        let s = scores[order[i] as usize];
        let (mut pos, mut neg) = (0u64, 0u64);
        while i < order.len() && scores[order[i] as usize].total_cmp(&s).is_eq() {
            if labels[order[i] as usize] != 0 {
                pos += 1;
            } else {
                neg += 1;
            }
            i += 1;
        }
        groups.push((pos, neg));
    }
    groups
}

/// Area under the ROC curve: the probability that a random positive scores above a random
/// negative, ties counting one half. `labels` are 0 (negative) or non-zero (positive).
pub fn roc_auc(scores: &[f32], labels: &[u8]) -> Option<f64> {
    let groups = tie_groups(scores, labels);
    let (p, n) = groups
        .iter()
        .fold((0u64, 0u64), |(p, n), g| (p + g.0, n + g.1));
    if p == 0 || n == 0 {
        return None;
    }
    let mut area = 0.0f64;
    let mut tp = 0u64;
    for &(gp, gn) in &groups {
        area += gn as f64 * (tp as f64 + gp as f64 / 2.0);
        tp += gp;
    }
    Some(area / (p as f64 * n as f64))
}

/// Area under the precision-recall curve as average precision: the sum over thresholds of
/// precision times the recall gained there (scikit-learn's `average_precision_score`, no
/// interpolation). Needs at least one positive and one negative, like [`roc_auc`].
pub fn average_precision(scores: &[f32], labels: &[u8]) -> Option<f64> {
    let groups = tie_groups(scores, labels);
    let (p, n) = groups
        .iter()
        .fold((0u64, 0u64), |(p, n), g| (p + g.0, n + g.1));
    if p == 0 || n == 0 {
        return None;
    }
    let (mut tp, mut fp) = (0u64, 0u64);
    let mut ap = 0.0f64;
    for &(gp, gn) in &groups {
        tp += gp;
        fp += gn;
        if gp > 0 {
            ap += (gp as f64 / p as f64) * (tp as f64 / (tp + fp) as f64);
        }
    }
    Some(ap)
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
    fn per_target_and_means() {
        // 3 rows x 2 targets; target 1 has no negatives.
        let scores = [0.9f32, 0.1, 0.2, 0.5, 0.7, 0.3];
        let labels = [1u8, 1, 0, 1, 1, 1];
        let aucs = per_target(&scores, &labels, 2, roc_auc);
        assert_eq!(aucs, vec![Some(1.0), None]);
        assert_eq!(mean_defined(&aucs), Some((1.0, 1)));
        assert_eq!(mean_defined(&[None]), None);
    }
}
