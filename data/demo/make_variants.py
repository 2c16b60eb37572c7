#!/usr/bin/env python3
"""Makes data/demo/variants.vcf.gz: synthetic variants on the real demo sequence.

No real variant set is available offline, so the demo's VCF is made here: positions drawn
(seeded) among the real A/C/G/T bases of chr22:26,000,001-30,000,000 of the demo FASTA, REF
always the true base(s) there, ALT made up. Mostly SNVs, some small deletions and
insertions, a few MNVs and multi-ALT records, and two symbolic deletions (`<DEL>`, which
ferrosea-analyze skips and lists in skipped.tsv). Most records have a 1 kb window of real
bases around them; about one in twenty lies near an assembly gap (N in its window). Not
biology: it exercises ferrosea-analyze variants (and the workflow's scatter-gather) on a real
sequence.

    python3 data/demo/make_variants.py            # rewrites data/demo/variants.vcf.gz

Standard library only; the same bytes on every run (fixed seed, gzip with mtime 0).
"""
import gzip
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FASTA = os.path.join(HERE, "hg19_chr22_26-30Mb.fa.gz")
OUT = os.path.join(HERE, "variants.vcf.gz")
CHROM, START, END = "chr22", 26_000_001, 30_000_000  # 1-based, inclusive: the real bases
SEED = 20240601
# How many records of each kind.
COUNTS = {"SNV": 260, "DEL": 20, "INS": 20, "MNV": 6, "MULTI": 6, "SV": 2}
BASES = "ACGT"
FLANK = 500  # bases each side that are real for most records (a 1 kb window: DeepSEA's, DanQ's)
NEAR_GAP = 0.05  # the share of records whose window may hold N


def read_chrom(path, name):
    """The sequence of `name` (the demo FASTA holds chr22 only), upper-cased."""
    parts, found = [], False
    with gzip.open(path, "rt") as f:
        for line in f:
            if line.startswith(">"):
                if found:
                    break
                found = line[1:].split()[0] == name
            elif found:
                parts.append(line.strip())
    if not found:
        sys.exit(f"{path}: no sequence {name}")
    return "".join(parts).upper()


def main():
    seq = read_chrom(FASTA, CHROM)
    rng = random.Random(SEED)
    used = set()  # 1-based positions covered by a record (records do not overlap)

    def pick(length):
        """A 1-based position whose `length` bases (and the one after) are A/C/G/T and
        free, inside the real stretch; mostly with FLANK real bases each side too."""
        clean = rng.random() >= NEAR_GAP
        while True:
            pos = rng.randint(START + FLANK, END - length - 1 - FLANK)
            span = range(pos, pos + length + 1)
            if any(p in used for p in span):
                continue
            if not all(seq[p - 1] in BASES for p in span):
                continue
            if clean and not all(b in BASES for b in seq[pos - 1 - FLANK:pos + length + FLANK]):
                continue
            used.update(span)
            return pos

    def other(base, k=1):
        return rng.sample([b for b in BASES if b != base], k)

    records = []
    for _ in range(COUNTS["SNV"]):
        pos = pick(1)
        ref = seq[pos - 1]
        records.append((pos, ref, other(ref)[0], "VT=SNV"))
    for _ in range(COUNTS["MULTI"]):
        pos = pick(1)
        ref = seq[pos - 1]
        records.append((pos, ref, ",".join(other(ref, 2)), "VT=SNV"))
    for _ in range(COUNTS["MNV"]):
        n = rng.randint(2, 3)
        pos = pick(n)
        ref = seq[pos - 1:pos - 1 + n]
        alt = "".join(other(b)[0] for b in ref)
        records.append((pos, ref, alt, "VT=MNV"))
    for _ in range(COUNTS["DEL"]):
        n = rng.randint(1, 10)
        pos = pick(n + 1)
        ref = seq[pos - 1:pos + n]
        records.append((pos, ref, ref[0], "VT=INDEL"))
    for _ in range(COUNTS["INS"]):
        n = rng.randint(1, 10)
        pos = pick(1)
        ref = seq[pos - 1]
        records.append((pos, ref, ref + "".join(rng.choice(BASES) for _ in range(n)), "VT=INDEL"))
    for _ in range(COUNTS["SV"]):
        n = rng.randint(200, 400)
        pos = pick(1)
        records.append((pos, seq[pos - 1], "<DEL>", f"VT=SV;SVTYPE=DEL;END={pos + n};SVLEN=-{n}"))
    records.sort()

    header = [
        "##fileformat=VCFv4.2",
        "##source=ferrosea data/demo/make_variants.py (synthetic variants on the real hg19 "
        "sequence; not observed variation)",
        "##reference=hg19 (data/demo/hg19_chr22_26-30Mb.fa.gz)",
        f"##contig=<ID={CHROM},length={len(seq)},assembly=hg19>",
        '##INFO=<ID=VT,Number=1,Type=String,Description="Synthetic variant type: SNV, MNV, '
        'INDEL or SV">',
        '##INFO=<ID=SVTYPE,Number=1,Type=String,Description="Type of structural variant">',
        '##INFO=<ID=END,Number=1,Type=Integer,Description="End position of the variant">',
        '##INFO=<ID=SVLEN,Number=A,Type=Integer,Description="Length difference of ALT and REF">',
        '##ALT=<ID=DEL,Description="Deletion">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    lines = header + [
        f"{CHROM}\t{pos}\tsyn{i + 1:04d}\t{ref}\t{alt}\t.\tPASS\t{info}"
        for i, (pos, ref, alt, info) in enumerate(records)
    ]
    tmp = OUT + ".tmp"
    with open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as f:
            f.write(("\n".join(lines) + "\n").encode())
    os.replace(tmp, OUT)
    print(f"{OUT}: {len(records)} records", file=sys.stderr)


if __name__ == "__main__":
    main()
