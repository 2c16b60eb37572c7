//! The per-target scores of a variant, from its reference and alternative probabilities,
//! and DeepSEA's e-values against a background.
//!
//! With `p` and `q` the reference and alternative probabilities of one target (float32, as
//! the network gives them), computed in f64 and stored as f32:
//!
//! - `diff = q - p`, `abs_diff = |q - p|`;
//! - `logit_diff = logit(q) - logit(p)`, `logit(x) = ln(x / (1 - x))` with `x` clamped to
//!   `[1e-7, 1 - 1e-7]` (a float32 sigmoid reaches 0 and 1);
//! - `log2fc = log2(q / (1 - q + 1e-12)) - log2(p / (1 - p + 1e-12))` (DeepSEA's
//!   `.out.logfoldchange`), `x` clamped below at `1e-12`;
//! - the background score `|diff x log2fc|`, and the e-value `(k + 1) / (n + 1)` where `k` of
//!   the `n` background scores of that target are at least this one's.

/// Lower and upper clamp of probabilities in `logit_diff`.
pub const LOGIT_EPS: f64 = 1e-7;

/// `ln(x / (1 - x))` of `x` clamped to `[LOGIT_EPS, 1 - LOGIT_EPS]`.
pub fn logit(x: f32) -> f64 {
    let x = (x as f64).clamp(LOGIT_EPS, 1.0 - LOGIT_EPS);
    (x / (1.0 - x)).ln()
}

/// DeepSEA's `log2(x / (1 - x + 1e-12))`, `x` clamped below at 1e-12.
pub fn log2_odds(x: f32) -> f64 {
    let x = (x as f64).max(1e-12);
    (x / (1.0 - x + 1e-12)).log2()
}

/// The scores of one variant over its targets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scores {
    /// `q - p`.
    pub diff: Vec<f32>,
    /// `logit(q) - logit(p)`.
    pub logit_diff: Vec<f32>,
    /// DeepSEA's log2 fold change of the odds.
    pub log2fc: Vec<f32>,
    /// `|diff x log2fc|` (what the background ranks).
    pub magnitude: Vec<f32>,
}

/// The scores of `p` (reference) and `q` (alternative) probabilities, target by target.
pub fn scores(p: &[f32], q: &[f32]) -> Scores {
    let mut s = Scores::default();
    for (&p, &q) in p.iter().zip(q) {
        let diff = q as f64 - p as f64;
        let fc = log2_odds(q) - log2_odds(p);
        s.diff.push(diff as f32);
        s.logit_diff.push((logit(q) - logit(p)) as f32);
        s.log2fc.push(fc as f32);
        s.magnitude.push((diff * fc).abs() as f32);
    }
    s
}

/// `(k + 1) / (n + 1)`, `k` the number of values of `sorted` (ascending) at least `x`.
pub fn evalue(sorted: &[f32], x: f32) -> f32 {
    let below = sorted.partition_point(|&v| v < x);
    let k = sorted.len() - below;
    ((k + 1) as f64 / (sorted.len() + 1) as f64) as f32
}

/// Per variant: the largest `|diff|` over the targets and its target index (the first on a
/// tie), or `None` when there are no targets.
pub fn max_abs_diff(diff: &[f32]) -> Option<(f32, usize)> {
    diff.iter()
        .enumerate()
        .map(|(i, d)| (d.abs(), i))
        .fold(None, |best, (v, i)| match best {
            Some((b, _)) if b >= v => best,
            _ => Some((v, i)),
        })
}

/// The mean of `-log10 e` over targets.
pub fn mean_neg_log10(e: &[f32]) -> f32 {
    if e.is_empty() {
        return 0.0;
    }
    (e.iter().map(|&v| -(v as f64).log10()).sum::<f64>() / e.len() as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_of_a_probability_pair() {
        let s = scores(&[0.2, 0.5], &[0.6, 0.5]);
        assert!((s.diff[0] - 0.4).abs() < 1e-7);
        let want = (0.6f64 / 0.4).ln() - (0.2f64 / 0.8).ln();
        assert!((s.logit_diff[0] as f64 - want).abs() < 1e-6);
        assert_eq!((s.diff[1], s.log2fc[1], s.magnitude[1]), (0.0, 0.0, 0.0));
        // Saturated probabilities stay finite.
        let s = scores(&[0.0], &[1.0]);
        assert!(s.logit_diff[0].is_finite() && s.log2fc[0].is_finite());
    }

    #[test]
    fn evalues_count_the_background_at_least_as_large() {
        let bg = [0.1, 0.2, 0.2, 0.5];
        assert_eq!(evalue(&bg, 0.2), 4.0 / 5.0); // 3 of 4 >= 0.2
        assert_eq!(evalue(&bg, 0.6), 1.0 / 5.0); // never 0
        assert_eq!(evalue(&bg, 0.0), 1.0);
        assert_eq!(max_abs_diff(&[0.1, -0.3, 0.3]), Some((0.3, 1)));
        assert!((mean_neg_log10(&[0.1, 0.01]) - 1.5).abs() < 1e-6);
    }
}
