//! Where a variant's windows lie, and which variants cannot be scored.
//!
//! The rule (docs/ANALYSIS.md states it with examples). A window has the model's length `L`;
//! `h = L / 2` (rounded down). A variant at 1-based `POS` with reference allele `REF`
//! (length `r`) starts at 0-based `p = POS - 1`. For an allele `X` of length `x` (`REF` or
//! `ALT`), the *spliced sequence* is the chromosome with `[p, p + r)` replaced by `X`:
//!
//! ```text
//! S_X[q] = genome[q]           for q < p
//!        = X[q - p]            for p <= q < p + x
//!        = genome[q - x + r]   for q >= p + x
//! ```
//!
//! and the allele's window is `S_X[s_X .. s_X + L)` with `s_X = p + floor(x / 2) - h`: the allele is
//! centred (for an SNV, the variant is at index `h` of both windows; Selene centres at `POS +
//! len(REF) / 2` the same way). The reference window is built from the `REF` written in the
//! VCF, so a `REF` that does not match the genome is scored as written (and flagged). Both
//! flanks come from the genome, so a deletion pulls in bases from the right and an insertion
//! pushes them out, and both windows keep length `L`. A window needing a base before the
//! chromosome's start or past its end is skipped.

use ferrosea_genome::onehot;
use ferrosea_genome::Fetcher;

/// Why a VCF allele is not scored (the `reason` column of `skipped.tsv`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Skip {
    /// A symbolic allele (`<DEL>`, `<*>`, ...) or the overlapping-deletion `*`.
    Symbolic,
    /// A breakend (`G]17:198982]`, `.A`, ...).
    Breakend,
    /// ALT is missing (`.`).
    MissingAlt,
    /// REF or ALT holds letters other than A, C, G, T, N.
    BadLetters,
    /// The chromosome is not in the genome; `alias` names the genome's sequence it probably
    /// means (`1` against `chr1`).
    UnknownChrom {
        /// The genome's name for it, when only a `chr` prefix differs.
        alias: Option<String>,
    },
    /// A window runs off the chromosome.
    OffChromosome,
}

impl Skip {
    /// The `reason` column value.
    pub fn reason(&self) -> String {
        match self {
            Skip::Symbolic => "symbolic_allele".into(),
            Skip::Breakend => "breakend".into(),
            Skip::MissingAlt => "missing_alt".into(),
            Skip::BadLetters => "letters_outside_ACGTN".into(),
            Skip::UnknownChrom { alias: None } => "chrom_not_in_genome".into(),
            Skip::UnknownChrom { alias: Some(a) } => format!("chrom_not_in_genome(genome has {a})"),
            Skip::OffChromosome => "window_off_chromosome".into(),
        }
    }

    /// The key counted in `summary.json`.
    pub fn key(&self) -> &'static str {
        match self {
            Skip::Symbolic => "symbolic_allele",
            Skip::Breakend => "breakend",
            Skip::MissingAlt => "missing_alt",
            Skip::BadLetters => "letters_outside_ACGTN",
            Skip::UnknownChrom { .. } => "chrom_not_in_genome",
            Skip::OffChromosome => "window_off_chromosome",
        }
    }
}

/// Classifies an ALT allele as written in the VCF: `Ok` for a sequence to score.
pub fn check_alt(alt: &str) -> Result<(), Skip> {
    if alt == "." || alt.is_empty() {
        return Err(Skip::MissingAlt);
    }
    if alt == "*" || (alt.starts_with('<') && alt.ends_with('>')) {
        return Err(Skip::Symbolic);
    }
    if alt.contains('[') || alt.contains(']') || alt.starts_with('.') || alt.ends_with('.') {
        return Err(Skip::Breakend);
    }
    if !valid_bases(alt) {
        return Err(Skip::BadLetters);
    }
    Ok(())
}

/// Whether `s` is made of A, C, G, T, N in either case.
pub fn valid_bases(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| matches!(b.to_ascii_uppercase(), b'A' | b'C' | b'G' | b'T' | b'N'))
}

/// The genome's name for `chrom` when only a `chr` prefix differs (`1` -> `chr1`, `chrX` ->
/// `X`), or `None`.
pub fn alias<'a>(chrom: &str, names: impl Iterator<Item = &'a str>) -> Option<String> {
    let bare = chrom.strip_prefix("chr").unwrap_or(chrom);
    names
        .into_iter()
        .find(|n| n.strip_prefix("chr").unwrap_or(n) == bare && *n != chrom)
        .map(str::to_string)
}

/// The two windows of one variant allele.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Windows {
    /// The reference window (uppercase bases).
    pub reference: Vec<u8>,
    /// The alternative window.
    pub alternative: Vec<u8>,
    /// Whether `REF` equals the genome at `[p, p + r)` (case-insensitive).
    pub ref_match: bool,
    /// Whether either window holds a base other than A, C, G, T (Selene's `contains_unk`).
    pub contains_unk: bool,
}

/// The window of allele `x` (see the module's rule), from `span`, the genome's bases
/// `[span_start, span_start + span.len())` of a chromosome of length `len`: `None` when the
/// window runs off the chromosome.
#[allow(clippy::too_many_arguments)]
fn allele_window(
    span: &[u8],
    span_start: u64,
    len: u64,
    p: u64,
    r: u64,
    x: &[u8],
    window: usize,
) -> Option<Vec<u8>> {
    let (l, h) = (window as i64, (window / 2) as i64);
    let (p, r, xl, o) = (p as i64, r as i64, x.len() as i64, span_start as i64);
    let s = p + xl / 2 - h;
    let e = s + l;
    let genome = |a: i64, b: i64| &span[(a - o) as usize..(b - o) as usize];
    let mut out = Vec::with_capacity(window);
    // Left flank: S[q] = genome[q] for s <= q < min(p, e).
    if s < p {
        if s < 0 {
            return None;
        }
        out.extend_from_slice(genome(s, p.min(e)));
    }
    // The allele: S[q] = x[q - p] for max(s, p) <= q < min(e, p + x).
    let (a, b) = (s.max(p), e.min(p + xl));
    if a < b {
        out.extend_from_slice(&x[(a - p) as usize..(b - p) as usize]);
    }
    // Right flank: S[q] = genome[q - x + r] for max(s, p + x) <= q < e.
    let a = s.max(p + xl);
    if a < e {
        let (ga, gb) = (a - xl + r, e - xl + r);
        if gb > len as i64 {
            return None;
        }
        out.extend_from_slice(genome(ga, gb));
    }
    debug_assert_eq!(out.len(), window);
    out.make_ascii_uppercase();
    Some(out)
}

/// The reference and alternative windows of a variant at 1-based `pos` on `chrom` (which the
/// genome has), or why it is skipped. `reference` and `alt` are the VCF's alleles (checked
/// with [`valid_bases`] / [`check_alt`] before). One read of the genome serves both windows.
pub fn windows(
    fetch: &mut Fetcher,
    chrom: &str,
    pos: u64,
    reference: &str,
    alt: &str,
    window: usize,
) -> Result<Result<Windows, Skip>, ferrosea_genome::GenomeError> {
    let len = fetch
        .length(chrom)
        .expect("the caller checked the chromosome");
    let p = pos - 1;
    let r = reference.len() as u64;
    if p + r > len {
        return Ok(Err(Skip::OffChromosome));
    }
    // Every genome base either window can need lies in [p - L, p + r + L).
    let l = window as u64;
    let (a, b) = (p.saturating_sub(l), (p + r + l).min(len));
    let span = fetch.fetch(chrom, a, b)?;
    let ref_up = reference.to_ascii_uppercase();
    let alt_up = alt.to_ascii_uppercase();
    let Some(ref_w) = allele_window(&span, a, len, p, r, ref_up.as_bytes(), window) else {
        return Ok(Err(Skip::OffChromosome));
    };
    let Some(alt_w) = allele_window(&span, a, len, p, r, alt_up.as_bytes(), window) else {
        return Ok(Err(Skip::OffChromosome));
    };
    let genome_ref = span[(p - a) as usize..(p + r - a) as usize].to_ascii_uppercase();
    let contains_unk = onehot::count_unknown(&ref_w) > 0 || onehot::count_unknown(&alt_w) > 0;
    Ok(Ok(Windows {
        ref_match: genome_ref == ref_up.as_bytes(),
        reference: ref_w,
        alternative: alt_w,
        contains_unk,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetcher(seq: &str) -> (tempfile::TempDir, Fetcher) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.fa");
        std::fs::write(&path, format!(">c\n{seq}\n")).unwrap();
        let f = ferrosea_genome::Genome::open(&path, 1)
            .unwrap()
            .fetcher()
            .unwrap();
        (dir, f)
    }

    fn w(f: &mut Fetcher, pos: u64, r: &str, a: &str, l: usize) -> Result<Windows, Skip> {
        windows(f, "c", pos, r, a, l).unwrap()
    }

    #[test]
    fn snv_is_centred_in_both_windows() {
        // 0-based:    0123456789
        let (_d, mut f) = fetcher("ACGTACGTAC");
        let v = w(&mut f, 5, "A", "G", 4).unwrap(); // p = 4, window [2, 6)
        assert_eq!(v.reference, b"GTAC");
        assert_eq!(v.alternative, b"GTGC");
        assert!(v.ref_match && !v.contains_unk);
    }

    #[test]
    fn deletion_pulls_bases_in_from_the_right_insertion_pushes_them_out() {
        let (_d, mut f) = fetcher("ACGTACGTAC");
        // Deletion GTA -> G at POS 3 (p = 2, r = 3): ref centred at 2 + 1 = 3, window [1, 5).
        let v = w(&mut f, 3, "GTA", "G", 4).unwrap();
        assert_eq!(v.reference, b"CGTA");
        // Alt: S = AC G CGTAC, centred at p + 0 = 2: [0, 4).
        assert_eq!(v.alternative, b"ACGC");
        // CGT -> C at POS 2: the alt window, centred at 1, would start at -1.
        assert_eq!(w(&mut f, 2, "CGT", "C", 4), Err(Skip::OffChromosome));
        let v = w(&mut f, 4, "TAC", "T", 4).unwrap(); // p = 3
        assert_eq!(v.reference, b"GTAC"); // centre 4: [2, 6)
        assert_eq!(v.alternative, b"CGTG"); // S = ACGT|GTAC, centre 3: [1, 5)
                                            // Insertion T -> TGG at POS 4 (p = 3): S = ACG TGG ACGTAC, centre 3 + 1 = 4: [2, 6).
        let v = w(&mut f, 4, "T", "TGG", 4).unwrap();
        assert_eq!(v.reference, b"CGTA"); // centre 3: [1, 5)
        assert_eq!(v.alternative, b"GTGG");
    }

    #[test]
    fn windows_off_either_end_are_skipped_and_mismatches_flagged() {
        let (_d, mut f) = fetcher("ACGTACGTAC");
        assert_eq!(w(&mut f, 1, "A", "C", 4), Err(Skip::OffChromosome));
        assert_eq!(w(&mut f, 10, "C", "A", 4), Err(Skip::OffChromosome));
        assert!(w(&mut f, 8, "T", "C", 4).is_ok()); // p = 7, window [5, 9)
        assert_eq!(w(&mut f, 10, "CA", "C", 4), Err(Skip::OffChromosome)); // REF past the end
        let v = w(&mut f, 5, "C", "G", 4).unwrap(); // the genome has A at p = 4
        assert!(!v.ref_match);
        assert_eq!(v.reference, b"GTCC", "the reference is scored as written");
        let v = w(&mut f, 5, "N", "G", 4).unwrap();
        assert!(v.contains_unk);
    }

    #[test]
    fn alleles_are_classified() {
        assert_eq!(check_alt("<DEL>"), Err(Skip::Symbolic));
        assert_eq!(check_alt("*"), Err(Skip::Symbolic));
        assert_eq!(check_alt("G]17:198982]"), Err(Skip::Breakend));
        assert_eq!(check_alt(".A"), Err(Skip::Breakend));
        assert_eq!(check_alt("."), Err(Skip::MissingAlt));
        assert_eq!(check_alt("ACR"), Err(Skip::BadLetters));
        assert_eq!(check_alt("acgtN"), Ok(()));
        let names = ["chr1", "chr22", "X"];
        assert_eq!(alias("22", names.iter().copied()), Some("chr22".into()));
        assert_eq!(alias("chrX", names.iter().copied()), Some("X".into()));
        assert_eq!(alias("chr5", names.iter().copied()), None);
    }
}
