//! The work on one chromosome: which bins become samples, and their rows.

use ferrosea_genome::onehot;
use ferrosea_genome::Region;
use rayon::prelude::*;

use crate::label::ChromLabels;

/// The three outputs, in file order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// Everything not in valid or test.
    Train = 0,
    /// `--valid`.
    Valid = 1,
    /// `--test`.
    Test = 2,
}

impl Split {
    /// All splits, in order.
    pub const ALL: [Split; 3] = [Split::Train, Split::Valid, Split::Test];

    /// `train`, `valid` or `test`.
    pub fn as_str(self) -> &'static str {
        ["train", "valid", "test"][self as usize]
    }
}

/// Regions that make up the valid and test splits. A bin whose centre lies in a test region is
/// test (even when a valid region covers it too), else valid, else train.
#[derive(Clone, Debug, Default)]
pub struct Splits {
    /// `--test`.
    pub test: Vec<Region>,
    /// `--valid`.
    pub valid: Vec<Region>,
}

impl Splits {
    /// The split of a bin centred at `pos`.
    pub fn of(&self, chrom: &str, pos: u64) -> Split {
        if self.test.iter().any(|r| r.contains(chrom, pos)) {
            Split::Test
        } else if self.valid.iter().any(|r| r.contains(chrom, pos)) {
            Split::Valid
        } else {
            Split::Train
        }
    }
}

/// Window geometry and filters.
#[derive(Clone, Copy, Debug)]
pub struct Geometry {
    /// Bin size.
    pub bin_size: u64,
    /// Window length.
    pub window: u64,
    /// Largest number of unknown (non-ACGT) bases a window may hold.
    pub max_unknown: usize,
}

impl Geometry {
    /// 0-based start of the window of `bin`, or `None` when it runs past either end.
    pub fn window_start(&self, bin: u32, length: u64) -> Option<u64> {
        let centre = bin as u64 * self.bin_size + self.bin_size / 2;
        let start = centre.checked_sub(self.window / 2)?;
        (start + self.window <= length).then_some(start)
    }
}

/// What became of one selected bin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// A sample of this split, with its window start.
    Kept(Split, u64),
    /// The window runs past a sequence end.
    PastEnd,
    /// Too many unknown bases.
    TooManyN,
}

/// Decides the fate of every candidate bin, in order.
pub fn fates(
    labels: &ChromLabels,
    seq: &[u8],
    chrom: &str,
    geo: &Geometry,
    splits: &Splits,
) -> Vec<Fate> {
    labels
        .candidates
        .par_iter()
        .with_min_len(1024)
        .map(|&bin| {
            let Some(ws) = geo.window_start(bin, seq.len() as u64) else {
                return Fate::PastEnd;
            };
            let window = &seq[ws as usize..(ws + geo.window) as usize];
            if onehot::count_unknown(window) > geo.max_unknown {
                return Fate::TooManyN;
            }
            let centre = bin as u64 * geo.bin_size + geo.bin_size / 2;
            Fate::Kept(splits.of(chrom, centre), ws)
        })
        .collect()
}

/// Rows of one split of one chromosome: `(bin, window start)`.
pub type Rows = Vec<(u32, u64)>;

/// Builds a block of forward rows and, when asked, its reverse complement block.
pub fn build_blocks(
    rows: &[(u32, u64)],
    seq: &[u8],
    labels: &ChromLabels,
    chrom_index: u32,
    window: usize,
    n_targets: usize,
    reverse_complement: bool,
) -> (ferrosea_dataset::Block, Option<ferrosea_dataset::Block>) {
    let k = rows.len();
    let mut x = vec![0u8; k * window * 4];
    x.par_chunks_mut(window * 4)
        .zip(rows.par_iter())
        .for_each(|(out, &(_, ws))| {
            onehot::encode_into(&seq[ws as usize..ws as usize + window], out);
        });
    let mut y = vec![0u8; k * n_targets];
    y.par_chunks_mut(n_targets.max(1))
        .zip(rows.par_iter())
        .for_each(|(out, &(bin, _))| {
            for t in labels.targets_of(bin) {
                out[t as usize] = 1;
            }
        });
    let start: Vec<i64> = rows.iter().map(|&(_, ws)| ws as i64).collect();
    let rc = reverse_complement.then(|| {
        let mut xr = vec![0u8; x.len()];
        xr.par_chunks_mut(window * 4)
            .zip(x.par_chunks(window * 4))
            .for_each(|(o, f)| onehot::reverse_complement_into(f, o));
        ferrosea_dataset::Block {
            x: xr,
            y: y.clone(),
            chrom: vec![chrom_index; k],
            start: start.clone(),
            strand: vec![b'-'; k],
        }
    });
    (
        ferrosea_dataset::Block {
            x,
            y,
            chrom: vec![chrom_index; k],
            start,
            strand: vec![b'+'; k],
        },
        rc,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_centred_and_dropped_past_the_ends() {
        let geo = Geometry {
            bin_size: 200,
            window: 1000,
            max_unknown: 10,
        };
        assert_eq!(geo.window_start(2, 10_000), Some(0)); // centre 500
        assert_eq!(geo.window_start(1, 10_000), None); // would start at -100
        assert_eq!(geo.window_start(47, 10_000), Some(9000)); // ends exactly at 10,000
        assert_eq!(geo.window_start(48, 10_000), None);
    }

    #[test]
    fn split_by_bin_centre() {
        let splits = Splits {
            test: Region::parse_list("chr8").unwrap(),
            valid: Region::parse_list("chr7:1001-2000,chr8").unwrap(),
        };
        // bin [800, 1000) has its centre at 900: not inside chr7:1001-2000 (0-based [1000, 2000))
        assert_eq!(splits.of("chr7", 900), Split::Train);
        assert_eq!(splits.of("chr7", 1100), Split::Valid);
        assert_eq!(splits.of("chr7", 1999), Split::Valid);
        assert_eq!(splits.of("chr7", 2000), Split::Train);
        assert_eq!(splits.of("chr8", 5), Split::Test); // test wins over valid
    }

    #[test]
    fn n_filter_counts_any_non_acgt() {
        let mut seq = vec![b'a'; 3000];
        let labels = ChromLabels {
            positives: vec![],
            candidates: vec![5, 6, 7],
            n_bins: 15,
        };
        let geo = Geometry {
            bin_size: 200,
            window: 1000,
            max_unknown: 2,
        };
        // window of bin 5 is [600, 1600), of bin 6 [800, 1800), of bin 7 [1000, 2000)
        // three unknown letters in bin 5's window only: one too many
        seq[650] = b'N';
        seq[660] = b'n';
        seq[670] = b'R';
        // two in bin 7's window only: exactly the limit
        seq[1990] = b'N';
        seq[1999] = b'-';
        let f = fates(&labels, &seq, "c", &geo, &Splits::default());
        assert_eq!(
            f,
            [
                Fate::TooManyN,
                Fate::Kept(Split::Train, 800),
                Fate::Kept(Split::Train, 1000)
            ]
        );
    }
}
