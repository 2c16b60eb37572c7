"""memelite's Tomtom (Euclidean distance, no pseudocount, no minimum overlap) on two MEME files.

    python memelite_tomtom.py QUERIES.meme TARGETS.meme OUT.tsv [THREADS [approximate] [REPEAT]]

The oracle of the compare tests and the peer of the compare benchmark. Writes one line per
(query, target): query, target (0-based indices), p_value, score, offset, overlap, strand;
prints {"seconds": ...}, the fastest of REPEAT (1) timed tomtom calls after a warm-up call
(numba compiles on first use).

By default memelite runs with the settings that give Tomtom's numbers (no merging of similar
target columns, a median from 100,000 bins); with `approximate`, with its own defaults (target
columns binned into 100 levels and merged, a median from 1,000 bins), faster and approximate.
"""
import json
import sys
import time

import numpy as np
from memelite import tomtom


def read_meme(path):
    motifs, rows, width = [], None, 0
    for line in open(path):
        t = line.split()
        if not t:
            continue
        if t[0] == "letter-probability":
            width = int(t[t.index("w=") + 1])
            rows = []
        elif rows is not None and len(rows) < width:
            rows.append([float(v) for v in t])
            if len(rows) == width:
                motifs.append(np.array(rows).T.copy())  # (4, width)
                rows = None
    return motifs


def main():
    q, t = read_meme(sys.argv[1]), read_meme(sys.argv[2])
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else -1
    approximate = len(sys.argv) > 5 and sys.argv[5] == "approximate"
    repeat = int(sys.argv[6]) if len(sys.argv) > 6 else 1
    kw = dict(n_jobs=threads)
    if not approximate:
        kw.update(n_target_bins=None, n_median_bins=100000)
    tomtom(q[:2], t[:5], **kw)  # numba warm-up
    seconds = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        p, score, offset, overlap, strand = tomtom(q, t, **kw)
        seconds = min(seconds, time.perf_counter() - start)
    with open(sys.argv[3], "w") as out:
        out.write("query\ttarget\tp_value\tscore\toffset\toverlap\tstrand\n")
        for i in range(len(q)):
            for j in range(len(t)):
                out.write(f"{i}\t{j}\t{float(p[i, j])!r}\t{score[i, j]:.0f}\t{offset[i, j]:.0f}\t{overlap[i, j]:.0f}\t{strand[i, j]:.0f}\n")
    print(json.dumps({"seconds": seconds}))


if __name__ == "__main__":
    main()
