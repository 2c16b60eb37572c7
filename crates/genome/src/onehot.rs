//! One-hot encoding of DNA in A, C, G, T column order.
//!
//! Each base becomes a row of four bytes. Lower-case (soft-masked) bases encode like upper
//! case; `N` and every other letter (IUPAC ambiguity codes) is an all-zero row and counts as
//! unknown. Because the columns are in A, C, G, T order, the reverse complement of an encoded
//! window is the window with its rows reversed and each row's four columns reversed.

/// The column order of the encoding.
pub const ALPHABET: &str = "ACGT";

/// Column of each byte: 0..=3 for A, C, G, T (either case), 4 for anything else.
const CODE: [u8; 256] = {
    let mut t = [4u8; 256];
    t[b'A' as usize] = 0;
    t[b'a' as usize] = 0;
    t[b'C' as usize] = 1;
    t[b'c' as usize] = 1;
    t[b'G' as usize] = 2;
    t[b'g' as usize] = 2;
    t[b'T' as usize] = 3;
    t[b't' as usize] = 3;
    t
};

/// Whether a base is one of A, C, G, T in either case.
///
/// # Examples
///
/// ```
/// use ferrosea_genome::onehot::is_acgt;
/// assert!(is_acgt(b'g') && !is_acgt(b'N') && !is_acgt(b'R'));
/// ```
#[inline]
pub fn is_acgt(base: u8) -> bool {
    CODE[base as usize] < 4
}

/// Counts the bases that are not A, C, G or T (either case).
///
/// # Examples
///
/// ```
/// use ferrosea_genome::onehot::count_unknown;
/// assert_eq!(count_unknown(b"ACgtNNry"), 4);
/// ```
pub fn count_unknown(seq: &[u8]) -> usize {
    seq.iter().filter(|&&b| CODE[b as usize] >= 4).count()
}

/// Encodes `seq` into `out`, which must hold `4 * seq.len()` bytes; it is overwritten.
///
/// # Examples
///
/// ```
/// use ferrosea_genome::onehot::encode_into;
/// let mut out = [9u8; 12];
/// encode_into(b"cTN", &mut out);
/// assert_eq!(out, [0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
/// ```
///
/// # Panics
///
/// When `out` has the wrong length.
pub fn encode_into(seq: &[u8], out: &mut [u8]) {
    assert_eq!(
        out.len(),
        seq.len() * 4,
        "one-hot buffer must hold 4 bytes per base"
    );
    out.fill(0);
    for (row, &b) in out.chunks_exact_mut(4).zip(seq) {
        let c = CODE[b as usize];
        if c < 4 {
            row[c as usize] = 1;
        }
    }
}

/// Encodes `seq` into a new buffer of `4 * seq.len()` bytes.
///
/// # Examples
///
/// ```
/// use ferrosea_genome::onehot::encode;
/// assert_eq!(encode(b"AG"), vec![1, 0, 0, 0, 0, 0, 1, 0]);
/// ```
pub fn encode(seq: &[u8]) -> Vec<u8> {
    let mut out = vec![0; seq.len() * 4];
    encode_into(seq, &mut out);
    out
}

/// Writes the reverse complement of the one-hot window `fwd` (rows of 4) into `out`.
///
/// # Examples
///
/// ```
/// use ferrosea_genome::onehot::{encode, reverse_complement_into};
/// let mut rc = vec![0; 12];
/// reverse_complement_into(&encode(b"AAC"), &mut rc);
/// assert_eq!(rc, encode(b"GTT"));
/// ```
///
/// # Panics
///
/// When the lengths differ or are not a multiple of 4.
pub fn reverse_complement_into(fwd: &[u8], out: &mut [u8]) {
    assert!(
        fwd.len() == out.len() && fwd.len().is_multiple_of(4),
        "one-hot buffers must match"
    );
    for (o, f) in out.chunks_exact_mut(4).zip(fwd.chunks_exact(4).rev()) {
        o[0] = f[3];
        o[1] = f[2];
        o[2] = f[1];
        o[3] = f[0];
    }
}

/// The reverse complement of a DNA string; letters other than A, C, G, T become `N`.
///
/// # Examples
///
/// ```
/// use ferrosea_genome::onehot::reverse_complement_seq;
/// assert_eq!(reverse_complement_seq(b"AACgtR"), b"NACGTT");
/// ```
pub fn reverse_complement_seq(seq: &[u8]) -> Vec<u8> {
    seq.iter()
        .rev()
        .map(|&b| match CODE[b as usize] {
            0 => b'T',
            1 => b'G',
            2 => b'C',
            3 => b'A',
            _ => b'N',
        })
        .collect()
}

/// Encodes `seq` channel-major for a network: `out` (`4 * seq.len()` values) gets row c =
/// 1.0 where the base is the c-th of A, C, G, T and 0.0 elsewhere (other letters: all zero),
/// the `[4, L]` layout of a model's input.
///
/// # Examples
///
/// ```
/// use ferrosea_genome::onehot::encode_channels;
/// let mut out = [9f32; 12];
/// encode_channels(b"cTN", &mut out);
/// assert_eq!(out, [0., 0., 0., 1., 0., 0., 0., 0., 0., 0., 1., 0.]);
/// ```
///
/// # Panics
///
/// When `out` has the wrong length.
pub fn encode_channels(seq: &[u8], out: &mut [f32]) {
    let l = seq.len();
    assert_eq!(
        out.len(),
        4 * l,
        "channel buffer must hold 4 values per base"
    );
    out.fill(0.0);
    for (i, &b) in seq.iter().enumerate() {
        let c = CODE[b as usize];
        if c < 4 {
            out[c as usize * l + i] = 1.0;
        }
    }
}

/// The reverse complements of channel-major `[B, 4, L]` windows ([`encode_channels`]): the
/// complement of channel c is 3 - c, read backwards.
///
/// # Examples
///
/// ```
/// use ferrosea_genome::onehot::{encode_channels, reverse_complements};
/// let (mut aac, mut gtt) = ([0f32; 12], [0f32; 12]);
/// encode_channels(b"AAC", &mut aac);
/// encode_channels(b"GTT", &mut gtt);
/// assert_eq!(reverse_complements(&aac, 3), gtt);
/// ```
pub fn reverse_complements(x: &[f32], window: usize) -> Vec<f32> {
    let mut out = vec![0f32; x.len()];
    for (src, dst) in x
        .chunks_exact(4 * window)
        .zip(out.chunks_exact_mut(4 * window))
    {
        for c in 0..4 {
            let from = &src[(3 - c) * window..(4 - c) * window];
            for (o, &v) in dst[c * window..(c + 1) * window]
                .iter_mut()
                .zip(from.iter().rev())
            {
                *o = v;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercase_is_uppercase() {
        assert_eq!(encode(b"acgt"), encode(b"ACGT"));
    }

    #[test]
    fn unknown_letters_are_zero_rows() {
        for b in b"NnRYKMSWBDHV-.X" {
            assert_eq!(encode(&[*b]), [0, 0, 0, 0], "letter {}", *b as char);
        }
    }

    #[test]
    fn reverse_complement_matches_string_rc() {
        let seq = b"ACGTTGCAnNacgRTTAG";
        let mut rc = vec![0; seq.len() * 4];
        reverse_complement_into(&encode(seq), &mut rc);
        assert_eq!(rc, encode(&reverse_complement_seq(seq)));
        let mut back = vec![0; rc.len()];
        reverse_complement_into(&rc, &mut back);
        assert_eq!(back, encode(seq));
    }
}
