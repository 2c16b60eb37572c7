//! Genomic regions as users write them (`chr7`, `chr7:30508751-35296850`).
//!
//! The text form is samtools': 1-based, both ends inclusive. The value is held 0-based and
//! half-open, like BED, so that `chr7:1-200` is `start = 0, end = Some(200)`.

use std::fmt;

/// A chromosome, or a stretch of one.
///
/// # Examples
///
/// ```
/// use ferrosea_genome::Region;
/// let r: Region = "chr7:30508751-35296850".parse()?;
/// assert_eq!((r.chrom.as_str(), r.start, r.end), ("chr7", 30508750, Some(35296850)));
/// assert!(r.contains("chr7", 30508750) && !r.contains("chr7", 35296850));
/// let whole: Region = "chr8".parse()?;
/// assert!(whole.contains("chr8", 0));
/// # Ok::<_, ferrosea_genome::region::ParseError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    /// Chromosome (sequence) name.
    pub chrom: String,
    /// 0-based first position.
    pub start: u64,
    /// 0-based end, exclusive; `None` runs to the chromosome's end.
    pub end: Option<u64>,
}

/// Why a region string could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    /// Nothing before the colon, or nothing at all.
    #[error("empty chromosome name in region '{0}'")]
    EmptyName(String),
    /// A coordinate is not a positive integer.
    #[error("invalid position '{value}' in region '{region}': expected a 1-based integer")]
    InvalidPosition {
        /// The whole region.
        region: String,
        /// The part that did not parse.
        value: String,
    },
    /// The end lies before the start.
    #[error("region '{0}' ends before it starts")]
    Reversed(String),
}

impl Region {
    /// Whether the 0-based position `pos` on `chrom` lies inside.
    pub fn contains(&self, chrom: &str, pos: u64) -> bool {
        self.chrom == chrom && pos >= self.start && self.end.is_none_or(|e| pos < e)
    }

    /// Parses a comma-separated list of regions (`chr8,chr9`, `chr7:1-100,chr2`).
    ///
    /// # Examples
    ///
    /// ```
    /// use ferrosea_genome::Region;
    /// let rs = Region::parse_list("chr8,chr9:1-1000")?;
    /// assert_eq!(rs.len(), 2);
    /// assert!(Region::parse_list("")?.is_empty());
    /// # Ok::<_, ferrosea_genome::region::ParseError>(())
    /// ```
    pub fn parse_list(s: &str) -> Result<Vec<Region>, ParseError> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::parse)
            .collect()
    }
}

impl std::str::FromStr for Region {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Names may contain ':' (HLA contigs): split at the last one, and only when what
        // follows starts with a digit; such a name must be given with its range.
        let (chrom, range) = match s.rsplit_once(':') {
            Some((c, r)) if r.bytes().next().is_some_and(|b| b.is_ascii_digit()) => (c, Some(r)),
            _ => (s, None),
        };
        if chrom.is_empty() {
            return Err(ParseError::EmptyName(s.to_string()));
        }
        let pos = |v: &str| -> Result<u64, ParseError> {
            match v.parse::<u64>() {
                Ok(p) if p >= 1 => Ok(p),
                _ => Err(ParseError::InvalidPosition {
                    region: s.to_string(),
                    value: v.to_string(),
                }),
            }
        };
        let (start, end) = match range {
            None => (0, None),
            Some(r) => match r.split_once('-') {
                Some((a, "")) => (pos(a)? - 1, None),
                Some((a, b)) => (pos(a)? - 1, Some(pos(b)?)),
                None => (pos(r)? - 1, None),
            },
        };
        if end.is_some_and(|e| e <= start) {
            return Err(ParseError::Reversed(s.to_string()));
        }
        Ok(Region {
            chrom: chrom.to_string(),
            start,
            end,
        })
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.start, self.end) {
            (0, None) => write!(f, "{}", self.chrom),
            (s, None) => write!(f, "{}:{}-", self.chrom, s + 1),
            (s, Some(e)) => write!(f, "{}:{}-{}", self.chrom, s + 1, e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_based_inclusive_to_half_open() {
        let r: Region = "chr7:30508751-35296850".parse().unwrap();
        assert_eq!(r.start, 30_508_750);
        assert_eq!(r.end, Some(35_296_850));
        assert_eq!(r.end.unwrap() - r.start, 35_296_850 - 30_508_751 + 1);
        assert_eq!(r.to_string(), "chr7:30508751-35296850");
    }

    #[test]
    fn single_base_and_open_ended() {
        let r: Region = "chr1:5-5".parse().unwrap();
        assert!(r.contains("chr1", 4) && !r.contains("chr1", 5) && !r.contains("chr1", 3));
        let r: Region = "chr1:5".parse().unwrap();
        assert_eq!((r.start, r.end), (4, None));
        assert!(r.contains("chr1", u64::MAX - 1));
    }

    #[test]
    fn names_with_colons() {
        // A name whose last ':' is followed by digits needs its range written out.
        let r: Region = "HLA-A*01:01:01:01:10-20".parse().unwrap();
        assert_eq!(
            (r.chrom.as_str(), r.start, r.end),
            ("HLA-A*01:01:01:01", 9, Some(20))
        );
    }

    #[test]
    fn errors_name_the_bad_part() {
        assert!(matches!(
            "chr1:0-10".parse::<Region>(),
            Err(ParseError::InvalidPosition { .. })
        ));
        assert!(matches!(
            "chr1:10-x".parse::<Region>(),
            Err(ParseError::InvalidPosition { .. })
        ));
        assert!(matches!(
            "chr1:20-10".parse::<Region>(),
            Err(ParseError::Reversed(_))
        ));
        assert!(matches!(
            ":1-2".parse::<Region>(),
            Err(ParseError::EmptyName(_))
        ));
        let e = "chr1:1-1e5".parse::<Region>().unwrap_err().to_string();
        assert!(e.contains("'1e5'"), "{e}");
    }

    #[test]
    fn lists() {
        let rs = Region::parse_list("chr8, chr9 ,chr7:30508751-35296850").unwrap();
        assert_eq!(
            rs.iter().map(|r| r.chrom.as_str()).collect::<Vec<_>>(),
            ["chr8", "chr9", "chr7"]
        );
    }
}
