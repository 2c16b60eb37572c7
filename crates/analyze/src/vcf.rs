//! Reading VCF 4.x (plain, gzip or bgzip) one record at a time, keeping each record's line
//! so that the annotated VCF can repeat the input exactly.
//!
//! The header is parsed and checked by noodles-vcf, and so is each record; errors name the
//! file and the line.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use noodles_vcf as vcf;

use crate::{open_text, AnalyzeError};

/// One VCF record (a data line), with its alleles split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// 1-based line number in the (decompressed) file.
    pub line: usize,
    /// The line as read, without its line break.
    pub text: String,
    /// CHROM.
    pub chrom: String,
    /// POS (1-based).
    pub pos: u64,
    /// ID (`.` when missing).
    pub id: String,
    /// REF.
    pub reference: String,
    /// The ALT alleles, split at commas (`["."]` when missing).
    pub alts: Vec<String>,
}

/// A VCF file read front to back.
pub struct Reader {
    path: PathBuf,
    lines: Box<dyn BufRead + Send>,
    line: usize,
    header_lines: Vec<String>,
    buf: String,
    /// The parsed header.
    pub header: vcf::Header,
}

impl Reader {
    /// Opens a VCF and reads its header.
    pub fn open(path: &Path) -> Result<Reader, AnalyzeError> {
        let mut r = Reader {
            path: path.to_path_buf(),
            lines: open_text(path)?,
            line: 0,
            header_lines: Vec::new(),
            buf: String::new(),
            header: vcf::Header::default(),
        };
        loop {
            if !r.read_line()? {
                break;
            }
            if !r.buf.starts_with('#') {
                break;
            }
            if r.line == 1 && !r.buf.starts_with("##fileformat=VCF") {
                break;
            }
            r.header_lines.push(r.buf.clone());
            if r.buf.starts_with("#CHROM") {
                break;
            }
        }
        let bad = |line: usize, what: String| {
            AnalyzeError::Input(format!("{}: line {line}: {what}", path.display()))
        };
        match r.header_lines.first() {
            Some(first) if first.starts_with("##fileformat=VCF") => {}
            _ => {
                return Err(bad(
                    1,
                    format!(
                        "not a VCF file: expected the header line ##fileformat=VCFv4.x, found \
                         {:?}",
                        ferrosea_dataset::clip(
                            r.header_lines.first().unwrap_or(&r.buf),
                            ferrosea_dataset::MESSAGE_VALUE_CHARS
                        )
                    ),
                ))
            }
        }
        if !r
            .header_lines
            .last()
            .is_some_and(|l| l.starts_with("#CHROM"))
        {
            return Err(bad(
                r.line.max(1),
                "the header ends without its #CHROM POS ID REF ALT QUAL FILTER INFO line".into(),
            ));
        }
        let text = r.header_lines.join("\n") + "\n";
        r.header = vcf::Header::from_str(&text).map_err(|e| {
            AnalyzeError::Input(format!(
                "{}: the header (lines 1-{}): {e}",
                path.display(),
                r.header_lines.len()
            ))
        })?;
        Ok(r)
    }

    /// The header lines as read, the `#CHROM` line last.
    pub fn header_lines(&self) -> &[String] {
        &self.header_lines
    }

    /// Reads one line into `buf` (without its line break); `false` at the end of the file.
    fn read_line(&mut self) -> Result<bool, AnalyzeError> {
        self.buf.clear();
        let n = self
            .lines
            .read_line(&mut self.buf)
            .map_err(AnalyzeError::io(&self.path))?;
        if n == 0 {
            return Ok(false);
        }
        self.line += 1;
        while self.buf.ends_with('\n') || self.buf.ends_with('\r') {
            self.buf.pop();
        }
        Ok(true)
    }

    /// The next record, `None` at the end of the file. The first record's line may already
    /// have been read with the header.
    pub fn next_record(&mut self) -> Result<Option<Record>, AnalyzeError> {
        loop {
            let pending = self.line > self.header_lines.len() && !self.buf.is_empty();
            if !pending && !self.read_line()? {
                return Ok(None);
            }
            if self.buf.trim().is_empty() {
                self.buf.clear();
                continue;
            }
            let record = self.parse()?;
            self.buf.clear();
            return Ok(Some(record));
        }
    }

    fn parse(&self) -> Result<Record, AnalyzeError> {
        let bad = |what: String| {
            AnalyzeError::Input(format!(
                "{}: line {}: {what}",
                self.path.display(),
                self.line
            ))
        };
        let text = &self.buf;
        if text.starts_with('#') {
            return Err(bad("a header line after the #CHROM line".into()));
        }
        let columns = text.split('\t').count();
        if columns < 8 {
            return Err(bad(format!(
                "{columns} tab-separated column{}, a VCF record has at least 8 (CHROM POS ID \
                 REF ALT QUAL FILTER INFO)",
                if columns == 1 { "" } else { "s" }
            )));
        }
        let record = vcf::Record::try_from(text.as_bytes())
            .map_err(|e| bad(format!("not a VCF record: {e}")))?;
        let pos_text = text.split('\t').nth(1).unwrap_or("");
        let pos = match record.variant_start() {
            Some(Ok(p)) => usize::from(p) as u64,
            Some(Err(_)) | None => {
                return Err(bad(format!(
                    "POS is {:?}, expected a positive integer",
                    ferrosea_dataset::clip(pos_text, ferrosea_dataset::MESSAGE_VALUE_CHARS)
                )))
            }
        };
        let reference = record.reference_bases().to_string();
        if reference.is_empty() || reference == "." {
            return Err(bad("REF is missing".into()));
        }
        // noodles gives a missing ALT (`.`) as an empty string.
        let alternate_bases = record.alternate_bases();
        let alt_text: &str = alternate_bases.as_ref();
        let alts: Vec<String> = if alt_text.is_empty() || alt_text == "." {
            vec![".".to_string()]
        } else {
            alt_text.split(',').map(str::to_string).collect()
        };
        Ok(Record {
            line: self.line,
            text: text.clone(),
            chrom: record.reference_sequence_name().to_string(),
            pos,
            id: text.split('\t').nth(2).unwrap_or(".").to_string(),
            reference,
            alts,
        })
    }
}

/// The number of records of a VCF (a first pass, for `--chunk`).
pub fn count_records(path: &Path) -> Result<usize, AnalyzeError> {
    let mut r = Reader::open(path)?;
    let mut n = 0;
    while r.next_record()?.is_some() {
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "##fileformat=VCFv4.2\n##contig=<ID=c>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n";

    fn read(text: &str) -> Result<Vec<Record>, AnalyzeError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.vcf");
        std::fs::write(&path, text).unwrap();
        let mut r = Reader::open(&path)?;
        let mut out = Vec::new();
        while let Some(rec) = r.next_record()? {
            out.push(rec);
        }
        Ok(out)
    }

    #[test]
    fn records_keep_their_lines_and_split_alts() {
        let v = read(&format!(
            "{HEADER}c\t5\trs1\tA\tG,T\t.\tPASS\t.\n\nc\t7\t.\tAC\tA\t.\t.\tX=1\n"
        ))
        .unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(
            (v[0].line, v[0].pos, v[0].alts.clone()),
            (4, 5, vec!["G".into(), "T".into()])
        );
        assert_eq!(
            (v[1].line, v[1].id.as_str(), v[1].reference.as_str()),
            (6, ".", "AC")
        );
        assert!(v[1].text.ends_with("X=1"));
        let v = read(&format!("{HEADER}c\t5\t.\tA\t.\t.\t.\t.\n")).unwrap();
        assert_eq!(v[0].alts, vec![".".to_string()], "a missing ALT is [\".\"]");
    }

    #[test]
    fn malformed_lines_are_named() {
        let e = read(&format!("{HEADER}c\tfive\t.\tA\tG\t.\t.\t.\n")).unwrap_err();
        assert!(e.to_string().contains("line 4: POS is \"five\""), "{e}");
        let e = read(&format!("{HEADER}c\t5\t.\tA\n")).unwrap_err();
        assert!(
            e.to_string().contains("line 4: 4 tab-separated columns"),
            "{e}"
        );
        let e = read("c\t5\t.\tA\tG\t.\t.\t.\n").unwrap_err();
        assert!(e.to_string().contains("line 1: not a VCF file"), "{e}");
        let e = read("##fileformat=VCFv4.2\nc\t5\t.\tA\tG\t.\t.\t.\n").unwrap_err();
        assert!(e.to_string().contains("#CHROM"), "{e}");
        assert!(read(HEADER).unwrap().is_empty());
    }
}
