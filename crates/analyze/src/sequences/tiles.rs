//! Windows tiled along regions of a genome (the bin rule is in the parent module's docs).

use std::collections::HashMap;
use std::path::Path;

use ferrosea_genome::{onehot, Fetcher, Region};

use super::Window;
use crate::AnalyzeError;

/// One region to tile, `[start, end)` on `chrom` (of length `len`).
#[derive(Clone, Debug)]
struct Span {
    chrom: String,
    start: u64,
    end: u64,
    len: u64,
}

/// The tiled windows of some regions, region by region in chromosome-name order.
pub struct Tiles {
    spans: Vec<Span>,
    fetch: Fetcher,
    step: u64,
    window: usize,
    /// The region being tiled, its next bin and its bases `[offset, offset + seq.len())`.
    current: usize,
    k: u64,
    seq: Vec<u8>,
    offset: u64,
    loaded: bool,
    /// Windows skipped (off the chromosome or all `N`).
    pub skipped: usize,
}

impl Tiles {
    /// Checks `regions` against `genome` (known chromosomes, inside them, not overlapping)
    /// and orders them by chromosome name, then start.
    pub fn new(
        path: &Path,
        fetch: Fetcher,
        sizes: HashMap<String, u64>,
        regions: &[Region],
        step: u64,
        window: usize,
    ) -> Result<Tiles, AnalyzeError> {
        let mut spans = Vec::new();
        for r in regions {
            let Some(&len) = sizes.get(&r.chrom) else {
                return Err(AnalyzeError::Input(format!(
                    "--tile {r}: chromosome '{}' is not in {}{}",
                    r.chrom,
                    path.display(),
                    crate::alleles::alias(&r.chrom, sizes.keys().map(String::as_str))
                        .map(|a| format!(" (it has '{a}')"))
                        .unwrap_or_default()
                )));
            };
            let end = r.end.unwrap_or(len);
            if end > len || r.start >= len {
                return Err(AnalyzeError::Input(format!(
                    "--tile {r}: runs past the end of {} ({len} bp in {})",
                    r.chrom,
                    path.display()
                )));
            }
            spans.push(Span {
                chrom: r.chrom.clone(),
                start: r.start,
                end,
                len,
            });
        }
        // bigWig wants chromosomes in name order (`sort -k1,1 -k2,2n`, as UCSC's tools do).
        spans.sort_by(|x, y| (x.chrom.as_bytes(), x.start).cmp(&(y.chrom.as_bytes(), y.start)));
        for w in spans.windows(2) {
            if w[0].chrom == w[1].chrom && w[1].start < w[0].end {
                return Err(AnalyzeError::Input(format!(
                    "--tile: regions {}:{}-{} and {}:{}-{} overlap (1-based); give disjoint \
                     regions",
                    w[0].chrom,
                    w[0].start + 1,
                    w[0].end,
                    w[1].chrom,
                    w[1].start + 1,
                    w[1].end
                )));
            }
        }
        Ok(Tiles {
            spans,
            fetch,
            step,
            window,
            current: 0,
            k: 0,
            seq: Vec::new(),
            offset: 0,
            loaded: false,
            skipped: 0,
        })
    }

    /// The window start of bin `k` of `span`: `a + kS + S / 2 - h`.
    fn window_start(&self, span: &Span, k: u64) -> i64 {
        (span.start + k * self.step + self.step / 2) as i64 - (self.window / 2) as i64
    }

    /// Loads the bases under the windows of the current region that fit on the chromosome.
    fn load(&mut self) -> Result<(), AnalyzeError> {
        let span = self.spans[self.current].clone();
        let bins = (span.end - span.start).div_ceil(self.step);
        let l = self.window as i64;
        let fits = |s: i64| s >= 0 && s + l <= span.len as i64;
        let first = (0..bins).find(|&k| fits(self.window_start(&span, k)));
        let last = (0..bins).rev().find(|&k| fits(self.window_start(&span, k)));
        self.seq.clear();
        if let (Some(f), Some(e)) = (first, last) {
            let a = self.window_start(&span, f) as u64;
            let b = self.window_start(&span, e) as u64 + self.window as u64;
            self.seq = self.fetch.fetch(&span.chrom, a, b)?;
            self.seq.make_ascii_uppercase();
            self.offset = a;
        }
        self.loaded = true;
        Ok(())
    }

    /// The next window, or `None` after the last region.
    pub fn next_window(&mut self) -> Result<Option<Window>, AnalyzeError> {
        while self.current < self.spans.len() {
            if !self.loaded {
                self.load()?;
            }
            let span = &self.spans[self.current];
            let bins = (span.end - span.start).div_ceil(self.step);
            while self.k < bins {
                let k = self.k;
                self.k += 1;
                let s = self.window_start(span, k);
                if s < 0 || s + self.window as i64 > span.len as i64 {
                    self.skipped += 1;
                    continue;
                }
                let a = (s as u64 - self.offset) as usize;
                let seq = &self.seq[a..a + self.window];
                if onehot::count_unknown(seq) == self.window {
                    self.skipped += 1;
                    continue;
                }
                let bin_start = span.start + k * self.step;
                return Ok(Some(Window {
                    chrom: span.chrom.clone(),
                    start: s as u64,
                    end: s as u64 + self.window as u64,
                    name: ".".into(),
                    seq: seq.to_vec(),
                    bin: Some((bin_start, (bin_start + self.step).min(span.end))),
                    padded: 0,
                }));
            }
            self.current += 1;
            self.k = 0;
            self.loaded = false;
            self.seq = Vec::new();
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Reader, Source};
    use ferrosea_genome::Region;

    /// A genome with one 3000 bp sequence `c`: ACGT repeats, except `N` over [2600, 3000).
    fn genome(dir: &std::path::Path) -> std::path::PathBuf {
        let mut seq: Vec<u8> = b"ACGT".iter().copied().cycle().take(2600).collect();
        seq.extend(std::iter::repeat_n(b'N', 400));
        let path = dir.join("g.fa");
        std::fs::write(&path, [b">c\n".as_slice(), &seq, b"\n"].concat()).unwrap();
        path
    }

    fn tiles(
        dir: &std::path::Path,
        regions: &str,
        step: u64,
        window: usize,
    ) -> (Vec<(u64, u64, u64)>, usize) {
        let src = Source::Tiles {
            genome: genome(dir),
            regions: Region::parse_list(regions).unwrap(),
            step,
        };
        let mut r = src.open(window).unwrap();
        let got = r
            .next_block(1000)
            .unwrap()
            .iter()
            .map(|w| {
                assert_eq!(w.end - w.start, window as u64);
                assert_eq!(w.seq.len(), window);
                (w.start, w.bin.unwrap().0, w.bin.unwrap().1)
            })
            .collect();
        let Reader::Tiles(t) = r else { unreachable!() };
        (got, t.skipped)
    }

    #[test]
    fn bins_are_the_middle_step_of_their_windows() {
        let dir = tempfile::tempdir().unwrap();
        // Whole sequence, L = 1000, S = 200: bin k = [200k, 200k + 200), window start
        // 200k - 400; k = 0, 1 run off the start, k = 13, 14 off the end.
        let (got, skipped) = tiles(dir.path(), "c", 200, 1000);
        let want: Vec<(u64, u64, u64)> = (2..=12)
            .map(|k| (200 * k - 400, 200 * k, 200 * k + 200))
            .collect();
        assert_eq!(got, want);
        // The window [2000, 3000) holds 400 N but real bases too: kept.
        assert_eq!(got.last().unwrap(), &(2000, 2400, 2600));
        assert_eq!((got.len(), skipped), (11, 4));
    }

    #[test]
    fn the_last_bin_is_clipped_and_all_n_windows_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        // [1000, 2100): bins [1000, 1200) ... [2000, 2100) (clipped), windows centred on the
        // unclipped bins.
        let (got, skipped) = tiles(dir.path(), "c:1001-2100", 200, 1000);
        assert_eq!(got.first().unwrap(), &(600, 1000, 1200));
        assert_eq!(got.last().unwrap(), &(1600, 2000, 2100));
        assert_eq!((got.len(), skipped), (6, 0));
        // A window of 100 over [2600, 3000) is all N.
        let (got, skipped) = tiles(dir.path(), "c:2501-3000", 100, 100);
        assert_eq!(got, [(2500, 2500, 2600)]);
        assert_eq!(skipped, 4);
    }
}
