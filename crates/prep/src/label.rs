//! DeepSEA labelling of one chromosome (Zhou & Troyanskaya 2015).
//!
//! The chromosome is cut into bins of `bin_size` bp from position 0. A target is positive for
//! a bin when its merged peaks cover at least `min_overlap` bp of it (DeepSEA: more than half
//! of 200 bp, so 101). Which bins become samples is the keep rule:
//!
//! ```text
//! bin          |....200....|....200....|....200....|
//! peak (TF)          [=========]                      covers 50 bp and 100 bp
//! positive?        no (50)      no (100 < 101)
//! tf-touch?        yes          yes                   any overlap with a TF peak
//! sample             <-400-[ bin ]-400->              the window centred on the bin
//! ```

use ferrosea_peaks::Interval;
use rayon::prelude::*;

/// Which bins become samples.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Keep {
    /// Bins with at least one positive target.
    Positive,
    /// Bins touched (1 bp or more) by any peak of a TF-category target: DeepSEA's rule.
    TfTouch,
    /// Every bin (genome-wide prediction).
    All,
}

impl Keep {
    /// The name used on the command line and in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Keep::Positive => "positive",
            Keep::TfTouch => "tf-touch",
            Keep::All => "all",
        }
    }
}

/// The labels of one chromosome.
#[derive(Debug, Default)]
pub struct ChromLabels {
    /// `(bin, target)` for every positive label, sorted by bin then target.
    pub positives: Vec<(u32, u32)>,
    /// Bins that the keep rule selects, sorted (before the window and N filters).
    pub candidates: Vec<u32>,
    /// Number of bins on the chromosome.
    pub n_bins: u64,
}

impl ChromLabels {
    /// The targets positive for `bin`.
    pub fn targets_of(&self, bin: u32) -> impl Iterator<Item = u32> + '_ {
        let lo = self.positives.partition_point(|&(b, _)| b < bin);
        self.positives[lo..]
            .iter()
            .take_while(move |&&(b, _)| b == bin)
            .map(|&(_, t)| t)
    }
}

/// Calls `f(bin, covered_bp)` for every bin that the sorted, disjoint `peaks` touch, in bin
/// order.
///
/// # Examples
///
/// ```
/// use ferrosea_peaks::Interval;
/// let mut seen = vec![];
/// ferrosea_prep::label::bin_coverage(&[Interval { start: 150, end: 450 }], 200, |b, c| seen.push((b, c)));
/// assert_eq!(seen, [(0, 50), (1, 200), (2, 50)]);
/// ```
pub fn bin_coverage(peaks: &[Interval], bin_size: u64, mut f: impl FnMut(u32, u64)) {
    let mut current: Option<(u64, u64)> = None;
    for iv in peaks {
        let mut pos = iv.start;
        while pos < iv.end {
            let bin = pos / bin_size;
            let bin_end = (bin + 1) * bin_size;
            let covered = iv.end.min(bin_end) - pos;
            match &mut current {
                Some((b, c)) if *b == bin => *c += covered,
                _ => {
                    if let Some((b, c)) = current.take() {
                        f(b as u32, c);
                    }
                    current = Some((bin, covered));
                }
            }
            pos = bin_end.min(iv.end);
        }
    }
    if let Some((b, c)) = current {
        f(b as u32, c);
    }
}

/// Labels one chromosome of `length` bp. `peaks[t]` are target t's merged peaks on it and
/// `is_tf[t]` says whether t counts for `Keep::TfTouch`.
pub fn label_chromosome(
    peaks: &[&[Interval]],
    is_tf: &[bool],
    length: u64,
    bin_size: u64,
    min_overlap: u64,
    keep: Keep,
) -> ChromLabels {
    let n_bins = length.div_ceil(bin_size);
    // Per target, in target order: its positive bins and (for TF targets) touched bins.
    let per_target: Vec<(Vec<u32>, Vec<u32>)> = peaks
        .par_iter()
        .zip(is_tf)
        .map(|(ivs, &tf)| {
            let (mut pos, mut touched) = (Vec::new(), Vec::new());
            bin_coverage(ivs, bin_size, |b, c| {
                if c >= min_overlap {
                    pos.push(b);
                }
                if tf && keep == Keep::TfTouch {
                    touched.push(b);
                }
            });
            (pos, touched)
        })
        .collect();
    let mut positives: Vec<(u32, u32)> = per_target
        .iter()
        .enumerate()
        .flat_map(|(t, (pos, _))| pos.iter().map(move |&b| (b, t as u32)))
        .collect();
    positives.par_sort_unstable();
    let candidates = match keep {
        Keep::Positive => {
            let mut c: Vec<u32> = positives.iter().map(|&(b, _)| b).collect();
            c.dedup();
            c
        }
        Keep::TfTouch => {
            let mut c: Vec<u32> = per_target
                .iter()
                .flat_map(|(_, t)| t.iter().copied())
                .collect();
            c.par_sort_unstable();
            c.dedup();
            c
        }
        Keep::All => (0..n_bins as u32).collect(),
    };
    ChromLabels {
        positives,
        candidates,
        n_bins,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(start: u64, end: u64) -> Interval {
        Interval { start, end }
    }

    fn labels(peaks: &[Vec<Interval>], tf: &[bool], keep: Keep) -> ChromLabels {
        let refs: Vec<&[Interval]> = peaks.iter().map(Vec::as_slice).collect();
        label_chromosome(&refs, tf, 2000, 200, 101, keep)
    }

    #[test]
    fn exactly_100_vs_101_bp() {
        // bin 1 is [200, 400): 100 bp is not enough, 101 bp is.
        let l = labels(
            &[vec![iv(300, 400)], vec![iv(299, 400)]],
            &[true, true],
            Keep::Positive,
        );
        assert_eq!(l.positives, [(1, 1)]);
        assert_eq!(l.candidates, [1]);
    }

    #[test]
    fn a_peak_over_several_bins() {
        let l = labels(&[vec![iv(150, 1000)]], &[true], Keep::Positive);
        // bin 0: 50 bp, bins 1-3: 200 bp, bin 4: 200 bp ([800, 1000))
        assert_eq!(l.candidates, [1, 2, 3, 4]);
    }

    #[test]
    fn overlapping_peaks_of_one_target_are_merged_first() {
        // Two 60 bp halves of bin 0 sum to 120 >= 101 only after merging; overlapping copies
        // must not count twice.
        let mut set = ferrosea_peaks::PeakSet::default();
        for (s, e) in [(0, 60), (60, 120), (10, 70), (10, 70)] {
            set.push("c", iv(s, e));
        }
        let merged = set.merged();
        assert_eq!(merged.chrom("c"), [iv(0, 120)]);
        let l = labels(&[merged.chrom("c").to_vec()], &[true], Keep::Positive);
        assert_eq!(l.positives, [(0, 0)]);
        // 2 x 60 bp of disjoint peaks in one bin also add up
        let l = labels(&[vec![iv(200, 260), iv(300, 360)]], &[true], Keep::Positive);
        assert_eq!(l.positives, [(1, 0)]);
    }

    #[test]
    fn chromosome_start_and_end_bins() {
        // length 2000 = 10 bins; a peak on the last 101 bp labels bin 9, one on the first
        // 101 bp labels bin 0.
        let l = labels(&[vec![iv(0, 101), iv(1899, 2000)]], &[true], Keep::Positive);
        assert_eq!(l.candidates, [0, 9]);
        // a partial last bin: 2050 bp has 11 bins, the last 50 bp long
        let ivs = [iv(2000, 2050)];
        let l = label_chromosome(&[&ivs], &[true], 2050, 200, 101, Keep::TfTouch);
        assert_eq!(
            (l.n_bins, l.candidates.as_slice(), l.positives.len()),
            (11, &[10u32][..], 0)
        );
    }

    #[test]
    fn keep_rules() {
        let peaks = [vec![iv(190, 210)], vec![iv(400, 600)], vec![iv(1000, 1001)]];
        let tf = [true, false, false];
        assert_eq!(labels(&peaks, &tf, Keep::Positive).candidates, [2]);
        assert_eq!(labels(&peaks, &tf, Keep::TfTouch).candidates, [0, 1]);
        assert_eq!(labels(&peaks, &tf, Keep::All).candidates.len(), 10);
        let l = labels(&peaks, &tf, Keep::TfTouch);
        assert_eq!(l.targets_of(2).collect::<Vec<_>>(), [1]);
        assert_eq!(l.targets_of(0).count(), 0);
    }
}
