"""Read the genome tracks of `ferrosea-analyze regions --tile` with pyBigWig (the reader IGV
and the UCSC tools share the format with) and check them against regions.h5 read with h5py.

Usage: check_tracks.py OUT_DIR FAI STEP WINDOW [--bedgraph]
Checks, for every track named in summary.json:
  - the bigWig's chromosomes and sizes are the FASTA index's;
  - its intervals are exactly the bins of regions.h5 (bin_start, bin_end), and each bin is
    the window's middle: bin_start = start + WINDOW // 2 - STEP // 2 (the documented rule),
    bin_end = bin_start + STEP unless clipped at the tiled region's end;
  - its values equal the float32 pred column of that target, bit for bit;
  - with --bedgraph, the bedGraph holds the same bins and values.
Exits non-zero with a message on the first mismatch.
"""
import json
import re
import sys

import h5py
import numpy as np
import pyBigWig


def check(cond, msg):
    if not cond:
        sys.exit(f"check_tracks.py: {msg}")


def as_str(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def safe(name):
    s = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return "_" + s if s == "" or s.startswith(".") else s


def main(out, fai, step, window, bedgraph):
    summary = json.load(open(f"{out}/summary.json"))
    sizes = {}
    for line in open(fai):
        c = line.split("\t")
        sizes[c[0]] = int(c[1])
    with h5py.File(f"{out}/regions.h5", "r") as f:
        targets = [as_str(t) for t in f["targets/name"][:]]
        pred = f["pred"][:]
        rows = {k: f["rows/" + k][:] for k in ("chrom", "start", "end", "bin_start", "bin_end")}
        check(int(f.attrs["step"]) == step, f"step attribute {f.attrs['step']} != {step}")
    chrom = np.array([as_str(c) for c in rows["chrom"]])
    check(pred.dtype == np.float32 and pred.shape == (len(chrom), len(targets)), f"pred is {pred.dtype} {pred.shape}")
    check(len(chrom) == summary["windows"] and len(chrom) > 0, "row count differs from summary.json")
    check(np.all(rows["end"] - rows["start"] == window), "a tile window is not WINDOW long")
    check(np.all(rows["bin_start"] == rows["start"] + window // 2 - step // 2), "bin_start breaks the bin rule")
    width = rows["bin_end"] - rows["bin_start"]
    check(np.all((width == step) | ((width > 0) & (width < step))), "a bin is wider than STEP")
    check(len(summary["tracks"]) > 0, "no tracks in summary.json")
    checked = 0
    for name in summary["tracks"]:
        t = targets.index(name)
        path = f"{out}/{safe(name)}.bw"
        bw = pyBigWig.open(path)
        check(bw is not None and bw.isBigWig(), f"{path}: not a bigWig")
        got_sizes = bw.chroms()
        for c, n in got_sizes.items():
            check(sizes.get(c) == n, f"{path}: chromosome {c} has size {n}, the index says {sizes.get(c)}")
        check(set(chrom) <= set(got_sizes), f"{path}: misses chromosomes {set(chrom) - set(got_sizes)}")
        for c in sorted(set(chrom)):
            sel = chrom == c
            iv = bw.intervals(c)
            check(iv is not None and len(iv) == int(sel.sum()), f"{path}: {c}: {0 if iv is None else len(iv)} intervals, {int(sel.sum())} rows")
            starts = np.array([i[0] for i in iv])
            ends = np.array([i[1] for i in iv])
            vals = np.array([i[2] for i in iv], dtype=np.float64).astype(np.float32)
            check(np.array_equal(starts, rows["bin_start"][sel]), f"{path}: {c}: interval starts differ from bin_start")
            check(np.array_equal(ends, rows["bin_end"][sel]), f"{path}: {c}: interval ends differ from bin_end")
            want = pred[sel, t]
            bad = np.flatnonzero(vals != want)
            check(bad.size == 0, f"{path}: {c}: {bad.size} values differ from pred, first at bin {starts[bad[0]] if bad.size else 0}: {vals[bad[0]] if bad.size else 0} != {want[bad[0]] if bad.size else 0}")
            # The summary a browser draws from: the mean over a stretch of whole bins.
            a, b = int(starts[0]), int(ends[min(9, len(ends) - 1)])
            mean = bw.stats(c, a, b, type="mean", exact=True)[0]
            sel_bins = (starts >= a) & (ends <= b)
            expect = float(np.average(want[sel_bins].astype(np.float64), weights=(ends - starts)[sel_bins]))
            check(abs(mean - expect) < 1e-6, f"{path}: {c}: mean over {a}-{b} is {mean}, expected {expect}")
            checked += int(sel.sum())
        bw.close()
        if bedgraph:
            bg = f"{out}/{safe(name)}.bedGraph"
            lines = open(bg).read().splitlines()
            check(lines[0].startswith("track type=bedGraph"), f"{bg}: no track line")
            body = [l.split("\t") for l in lines[1:]]
            check(len(body) == len(chrom), f"{bg}: {len(body)} lines, {len(chrom)} rows")
            check([b[0] for b in body] == list(chrom), f"{bg}: chromosomes differ")
            check(np.array_equal(np.array([int(b[1]) for b in body]), rows["bin_start"]), f"{bg}: starts differ")
            check(np.array_equal(np.array([int(b[2]) for b in body]), rows["bin_end"]), f"{bg}: ends differ")
            check(np.array_equal(np.array([b[3] for b in body], dtype=np.float32), pred[:, t]), f"{bg}: values differ")
    print(f"check_tracks.py: {len(summary['tracks'])} tracks, {checked} bins equal regions.h5")


if __name__ == "__main__":
    a = sys.argv[1:]
    main(a[0], a[1], int(a[2]), int(a[3]), "--bedgraph" in a[4:])
