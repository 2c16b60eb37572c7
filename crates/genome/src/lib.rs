//! Reference genomes for ferrosea.
//!
//! - [`fasta`]: a FASTA reference (plain, gzip or bgzip) with its sequence index: names and
//!   lengths from the `.fai` (built when missing), sequences streamed one chromosome at a time.
//! - [`onehot`]: the one-hot encoding (A, C, G, T columns) and its reverse complement.
//! - [`region`]: `chrom`, `chrom:start-end` regions as samtools writes them (1-based,
//!   inclusive), held 0-based half-open.
//!
//! ```text
//! >chr22            one-hot (ACGT)        reverse complement
//! ACGTN  ------->   A 1 0 0 0           = rows reversed and
//!                   C 0 1 0 0             columns reversed
//!                   G 0 0 1 0             (A<->T, C<->G)
//!                   T 0 0 0 1
//!                   N 0 0 0 0
//! ```

pub mod fasta;
pub mod onehot;
pub mod region;
pub mod shuffle;

pub use fasta::{Fetcher, Genome, GenomeError, SequenceInfo};
pub use region::Region;
