//! What the rows of a file hold: the alphabet of `/x` and the kind of labels in `/y`.
//!
//! Files made from a genome are one-hot over A, C, G, T with 0/1 labels per target, and
//! carry no attributes beyond `alphabet = "ACGT"` on `/x`. Other alphabets (the course's
//! binary sequences over {0, 1}, proteins, methylation states) and other labels (one class
//! of several per row, real values) are said by attributes, so an ACGT file stays as it was.

use std::fmt;

/// How `/x` stores a symbol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// One channel per symbol, 1 for the symbol at that position; an all-zero row is an
    /// unknown symbol (N in DNA).
    OneHot,
    /// One channel holding the symbol's index in the alphabet (0, 1, ...), fed to the model
    /// as that number: the course's {0, 1} sequences are `"01"` in this encoding.
    Index,
}

impl Encoding {
    /// The attribute value: `one-hot` or `index`.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::OneHot => "one-hot",
            Encoding::Index => "index",
        }
    }

    /// Parses an attribute value.
    pub fn parse(s: &str) -> Option<Encoding> {
        match s {
            "one-hot" => Some(Encoding::OneHot),
            "index" => Some(Encoding::Index),
            _ => None,
        }
    }
}

/// The symbols of the sequences and how `/x` encodes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alphabet {
    symbols: String,
    encoding: Encoding,
}

impl Default for Alphabet {
    fn default() -> Self {
        Alphabet::dna()
    }
}

impl Alphabet {
    /// A, C, G, T, one-hot: every file made from a genome.
    pub fn dna() -> Alphabet {
        Alphabet {
            symbols: "ACGT".into(),
            encoding: Encoding::OneHot,
        }
    }

    /// An alphabet of `symbols` (each a printable ASCII character, all different, at least
    /// two; at most 255 in the index encoding).
    pub fn new(symbols: &str, encoding: Encoding) -> Result<Alphabet, String> {
        let chars: Vec<char> = symbols.chars().collect();
        if chars.len() < 2 {
            return Err(format!(
                "alphabet '{symbols}' has {} symbols: expected at least two",
                chars.len()
            ));
        }
        if let Some(c) = chars.iter().find(|c| !c.is_ascii_graphic()) {
            return Err(format!(
                "alphabet '{symbols}' holds {c:?}: symbols are printable ASCII characters"
            ));
        }
        for (i, c) in chars.iter().enumerate() {
            if chars[..i].contains(c) {
                return Err(format!("alphabet '{symbols}' has '{c}' twice"));
            }
        }
        if encoding == Encoding::Index && chars.len() > 255 {
            return Err(format!(
                "alphabet '{symbols}' has {} symbols: the index encoding stores at most 255",
                chars.len()
            ));
        }
        Ok(Alphabet {
            symbols: symbols.into(),
            encoding,
        })
    }

    /// The symbols, in channel (one-hot) or value (index) order.
    pub fn symbols(&self) -> &str {
        &self.symbols
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    /// Never true: an alphabet has at least two symbols.
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }

    /// How `/x` stores them.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Channels per position of `/x` and of the model's input.
    pub fn channels(&self) -> usize {
        match self.encoding {
            Encoding::OneHot => self.symbols.len(),
            Encoding::Index => 1,
        }
    }

    /// Whether this is one-hot A, C, G, T (where reverse complements and genome coordinates
    /// make sense).
    pub fn is_dna(&self) -> bool {
        *self == Alphabet::dna()
    }

    /// The symbol at each position of one row of `/x` (`[length, channels]` bytes); `None`
    /// for an unknown symbol (an all-zero one-hot row, or an index out of range).
    pub fn decode(&self, row: &[u8]) -> Vec<Option<usize>> {
        let c = self.channels();
        row.chunks_exact(c)
            .map(|p| match self.encoding {
                Encoding::OneHot => {
                    let mut hot = p.iter().enumerate().filter(|(_, &v)| v > 0);
                    match (hot.next(), hot.next()) {
                        (Some((i, _)), None) => Some(i),
                        _ => None,
                    }
                }
                Encoding::Index => Some(p[0] as usize).filter(|&i| i < self.len()),
            })
            .collect()
    }

    /// The first value of one row of `/x` that this alphabet cannot hold, as (position,
    /// channel, value): a one-hot byte other than 0/1, or an index past the last symbol.
    pub fn first_bad_value(&self, row: &[u8]) -> Option<(usize, usize, u8)> {
        let c = self.channels();
        let max = match self.encoding {
            Encoding::OneHot => 1,
            Encoding::Index => self.len() as u8 - 1,
        };
        row.iter()
            .position(|&v| v > max)
            .map(|k| (k / c, k % c, row[k]))
    }
}

impl fmt::Display for Alphabet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.symbols, self.encoding.name())
    }
}

/// What `/y` holds (file attribute `labels`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LabelKind {
    /// uint8 `[N, T]`, 0 or 1 per target (several may be 1): the default.
    #[default]
    Binary,
    /// uint8 `[N]`, the index of the row's one class; the targets name the classes.
    Class,
    /// float32 `[N, T]`, a real value per target (affinities, signal).
    Real,
}

impl LabelKind {
    /// The attribute value: `binary`, `class` or `real`.
    pub fn name(self) -> &'static str {
        match self {
            LabelKind::Binary => "binary",
            LabelKind::Class => "class",
            LabelKind::Real => "real",
        }
    }

    /// Parses an attribute value.
    pub fn parse(s: &str) -> Option<LabelKind> {
        match s {
            "binary" => Some(LabelKind::Binary),
            "class" => Some(LabelKind::Class),
            "real" => Some(LabelKind::Real),
            _ => None,
        }
    }
}

impl fmt::Display for LabelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Little-endian bytes of real labels, for [`crate::Block::y`] of a `real` file.
pub fn real_label_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alphabets() {
        assert!(Alphabet::dna().is_dna());
        assert_eq!(Alphabet::dna().channels(), 4);
        let bin = Alphabet::new("01", Encoding::Index).unwrap();
        assert_eq!((bin.channels(), bin.is_dna()), (1, false));
        assert_eq!(bin.decode(&[0, 1, 2]), vec![Some(0), Some(1), None]);
        assert_eq!(bin.first_bad_value(&[0, 1, 2]), Some((2, 0, 2)));
        let dna = Alphabet::dna();
        assert_eq!(dna.decode(&[0, 0, 1, 0, 0, 0, 0, 0]), vec![Some(2), None]);
        assert_eq!(
            dna.first_bad_value(&[0, 0, 1, 0, 0, 3, 0, 0]),
            Some((1, 1, 3))
        );
        assert!(Alphabet::new("0", Encoding::Index)
            .unwrap_err()
            .contains("at least two"));
        assert!(Alphabet::new("ABA", Encoding::OneHot)
            .unwrap_err()
            .contains("'A' twice"));
        assert!(Alphabet::new("A C", Encoding::OneHot).is_err());
    }
}
