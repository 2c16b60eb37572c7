//! Labels for scoring: read once, row by row, into one bit per (target, row).
//!
//! A prediction file stores its labels row-major; scoring wants them a target at a time.
//! Packed as bits, the labels of DeepSEA's whole test set (455,024 x 919) take 52 MB, so
//! [`crate::metrics()`] keeps them all and streams only the predictions, a band of targets at
//! a time.

use std::path::Path;

use ferrosea_dataset::{Predictions, Reader};

use crate::EvaluateError;

/// Column-major bit matrix: bit `(target, row)` is set for a positive label.
#[derive(Clone, Debug)]
pub struct LabelColumns {
    rows: usize,
    words: usize,
    bits: Vec<u64>,
}

impl LabelColumns {
    /// All negative.
    pub fn new(rows: usize, targets: usize) -> LabelColumns {
        let words = rows.div_ceil(64);
        LabelColumns {
            rows,
            words,
            bits: vec![0; words * targets],
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Marks `(row, target)` positive.
    pub fn set(&mut self, row: usize, target: usize) {
        self.bits[target * self.words + row / 64] |= 1 << (row % 64);
    }

    /// Whether `(row, target)` is positive.
    pub fn get(&self, row: usize, target: usize) -> bool {
        self.bits[target * self.words + row / 64] >> (row % 64) & 1 == 1
    }

    /// Positives of one target.
    pub fn positives(&self, target: usize) -> u64 {
        let col = &self.bits[target * self.words..(target + 1) * self.words];
        col.iter().map(|w| w.count_ones() as u64).sum()
    }

    /// Fills the columns from row-major `[k, T]` labels of rows `first..first + k`, where
    /// label column `c` goes to target `map[c]` (`None`: not used). Values must be 0 or 1.
    fn fill(
        &mut self,
        first: usize,
        y: &[u8],
        width: usize,
        map: &[Option<usize>],
        origin: &Path,
        names: &[String],
    ) -> Result<(), EvaluateError> {
        for (i, row) in y.chunks_exact(width).enumerate() {
            for (c, &v) in row.iter().enumerate() {
                match (v, map[c]) {
                    (0, _) | (_, None) => {}
                    (1, Some(t)) => self.set(first + i, t),
                    (v, Some(_)) => {
                        return Err(EvaluateError::Data(format!(
                            "{}: label {v} at row {}, target {}: expected 0 or 1",
                            origin.display(),
                            first + i,
                            names[c]
                        )))
                    }
                }
            }
        }
        Ok(())
    }
}

/// Rows read at a time.
const BLOCK_ROWS: usize = 8192;

/// The labels stored in a prediction file.
pub fn from_predictions(p: &Predictions) -> Result<LabelColumns, EvaluateError> {
    let (n, t) = (p.len(), p.targets().len());
    let mut labels = LabelColumns::new(n, t);
    let map: Vec<Option<usize>> = (0..t).map(Some).collect();
    let block = BLOCK_ROWS.next_multiple_of(p.chunk_rows());
    for first in (0..n).step_by(block) {
        let end = (first + block).min(n);
        let y = p.read_y(first..end, 0..t)?;
        labels.fill(first, &y, t, &map, p.path(), &p.targets().name)?;
    }
    Ok(labels)
}

/// The labels of a dataset file, for the rows and targets of a prediction file. The files
/// must have the same rows (same windows, in the same order); targets are matched by name,
/// and a different order is accepted: the returned message says so.
pub fn from_dataset(
    p: &Predictions,
    path: &Path,
) -> Result<(LabelColumns, Option<String>), EvaluateError> {
    let r = Reader::open(path)?;
    if r.labels() == ferrosea_dataset::LabelKind::Real {
        return Err(EvaluateError::Usage(format!(
            "--labels: {} has real-valued labels; --labels replaces 0/1 or class labels",
            path.display()
        )));
    }
    let n = p.len();
    if r.len() != n {
        return Err(EvaluateError::Mismatch(format!(
            "{} has {n} rows of predictions but {} has {} rows of labels: they must describe \
             the same windows",
            p.path().display(),
            path.display(),
            r.len()
        )));
    }
    let ours = &p.targets().name;
    let theirs = &r.targets().name;
    let (map, note) = if ours == theirs {
        ((0..ours.len()).map(Some).collect::<Vec<_>>(), None)
    } else {
        let found = match_names(ours, theirs);
        let missing = unmatched(ours, &found);
        if !missing.is_empty() {
            return Err(EvaluateError::Mismatch(format!(
                "{} has no labels for {} of the {} predicted targets ({})",
                path.display(),
                missing.len(),
                ours.len(),
                crate::first_names(&missing)
            )));
        }
        // Label column c feeds the prediction target t with found[t] == Some(c).
        let mut map = vec![None; theirs.len()];
        for (t, c) in found.iter().enumerate() {
            map[c.expect("checked")] = Some(t);
        }
        let unused = map.iter().filter(|m| m.is_none()).count();
        let note = format!(
            "{} orders its targets differently from {}: aligned them by name{}",
            path.display(),
            p.path().display(),
            if unused > 0 {
                format!(" ({unused} label columns without predictions are ignored)")
            } else {
                String::new()
            }
        );
        (map, Some(note))
    };
    let mut labels = LabelColumns::new(n, ours.len());
    let width = theirs.len();
    let block = BLOCK_ROWS.next_multiple_of(r.chunk_rows().unwrap_or(1));
    let pred_chroms = p.chrom_names();
    for first in (0..n).step_by(block) {
        let end = (first + block).min(n);
        // Class labels come one-hot, like a prediction file's; real labels were refused, so
        // every value is a whole byte (`fill` names any other than 0 or 1).
        let y: Vec<u8> = r
            .read_labels(first..end)?
            .into_iter()
            .map(|v| v as u8)
            .collect();
        labels.fill(first, &y, width, &map, path, theirs)?;
        // The windows must be the same, not only their number.
        let (lc, ls, ld) = r.read_coord_columns(first..end)?;
        let (pc, ps, pd) = p.read_coord_columns(first..end)?;
        for i in 0..end - first {
            let lchrom = &r.chrom_names()[lc[i] as usize];
            let pchrom = &pred_chroms[pc[i] as usize];
            if lchrom != pchrom || ls[i] != ps[i] || ld[i] != pd[i] {
                return Err(EvaluateError::Mismatch(format!(
                    "row {}: {} predicts {pchrom}:{} {} but {} labels {lchrom}:{} {}: the files \
                     describe different windows",
                    first + i,
                    p.path().display(),
                    ps[i],
                    pd[i] as char,
                    path.display(),
                    ls[i],
                    ld[i] as char
                )));
            }
        }
    }
    Ok((labels, note))
}

/// The names of `ours` that [`match_names`] found no match for.
pub(crate) fn unmatched<'a>(ours: &'a [String], found: &[Option<usize>]) -> Vec<&'a str> {
    ours.iter()
        .zip(found)
        .filter(|(_, f)| f.is_none())
        .map(|(n, _)| n.as_str())
        .collect()
}

/// For each of `ours`, the index of the same name in `theirs`; a name that occurs several
/// times is matched occurrence by occurrence (DeepSEA's 919 targets repeat 55 names).
pub fn match_names(ours: &[String], theirs: &[String]) -> Vec<Option<usize>> {
    let mut slots: std::collections::HashMap<&str, std::collections::VecDeque<usize>> =
        std::collections::HashMap::new();
    for (i, n) in theirs.iter().enumerate() {
        slots.entry(n.as_str()).or_default().push_back(i);
    }
    ours.iter()
        .map(|n| slots.get_mut(n.as_str()).and_then(|q| q.pop_front()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip() {
        let mut l = LabelColumns::new(130, 3);
        for (r, t) in [(0, 0), (63, 0), (64, 1), (129, 2), (5, 2)] {
            l.set(r, t);
        }
        assert!(l.get(63, 0) && l.get(64, 1) && l.get(129, 2) && !l.get(64, 0));
        assert_eq!((l.positives(0), l.positives(1), l.positives(2)), (2, 1, 2));
    }

    #[test]
    fn names_match_by_occurrence() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let m = match_names(&s(&["a", "b", "a", "c"]), &s(&["a", "a", "b"]));
        assert_eq!(m, vec![Some(0), Some(2), Some(1), None]);
    }
}
