"""modisco-lite's side of the motif-discovery comparison: TF-MoDISco (modisco-lite's
TFMoDISco, function defaults unless given below) on one target of a ferrosea attribution file.

The file is HDF5: /x float32 [N, L, 4] (one-hot, A C G T, position-major), /hypothetical and
/contributions float32 [N, L, 4, K], /targets/name (K strings), /rows/row int64 [N].
modisco-lite wants one_hot and hypothetical_contribs as float32 (N, L, 4), the layout of /x,
so no transpose is needed; it computes the contributions itself (one_hot * hypothetical).

Only the TFMoDISco call is timed (time.perf_counter). Memory is getrusage's ru_maxrss (KiB on
Linux) of this process before and after the call. modisco-lite also works in forked children
(Leiden seeds, the negative metacluster, pattern building), which RUSAGE_SELF does not see:
children_peak_rss_kib is the largest reaped child's peak. It includes the pages it shares
with this process, so it cannot be added to peak_rss_kib. A first run in a fresh environment
also compiles modisco-lite's numba kernels into its on-disk cache; run twice and keep the
second figure. With the default 50 Leiden seeds, Leiden is most of the time (about 95% on
2,000 seqlets); --leiden-runs 2 matches the modisco CLI.

Writes OUTDIR/modisco.meme (MEME 5, uniform background; each pattern's PPM trimmed as
modisco's report trims it for tomtom: the positions whose sum of |CWM| is at least 0.3 of
the maximum, first to last) and OUTDIR/modisco.tsv (pattern, metacluster, seqlets, width,
consensus of the trimmed PPM). Prints one JSON line on stdout:
{"seconds", "peak_rss_kib", "rss_before_kib", "children_peak_rss_kib", "seqlets" (extracted),
 "seqlets_pos", "seqlets_neg" (after the sign split, before --max-seqlets), "patterns": [...]}.

Example (from the repository root):
    benches/.venv-torch/bin/python benches/python/modisco_motifs.py attr.h5 --target ctcf \
        -o out/modisco --max-seqlets 20000 --window 21 --flank 10 --leiden-runs 50 --threads 2
"""

import argparse
import json
import os
import resource
import sys
import time

TRIM_THRESHOLD = 0.3  # modiscolite.report's trim_threshold default


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("attributions", help="ferrosea attribution HDF5 file")
    ap.add_argument("--target", required=True, help="name in /targets/name")
    ap.add_argument("-o", "--out", required=True, help="output directory")
    ap.add_argument("--max-seqlets", type=int, default=20000,
                    help="max_seqlets_per_metacluster")
    ap.add_argument("--window", type=int, default=21, help="sliding_window_size")
    ap.add_argument("--flank", type=int, default=10, help="flank_size")
    ap.add_argument("--leiden-runs", type=int, default=50,
                    help="n_leiden_runs (seeds per Leiden clustering; the modisco CLI uses 2)")
    ap.add_argument("--threads", type=int, default=2,
                    help="OMP/MKL/OPENBLAS/NUMBA thread count (modisco-lite's budget)")
    return ap.parse_args()


def main():
    a = parse_args()
    # Set before numpy, numba or modiscolite are imported.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        os.environ[var] = str(a.threads)

    import h5py
    import numpy as np
    import modiscolite
    from modiscolite import extract_seqlets as ext

    with h5py.File(a.attributions, "r") as f:
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["targets/name"][()]]
        if a.target not in names:
            sys.exit(f"target {a.target!r} not in {names}")
        k = names.index(a.target)
        one_hot = np.ascontiguousarray(f["x"][()], dtype=np.float32)
        hyp = np.ascontiguousarray(f["hypothetical"][:, :, :, k], dtype=np.float32)
    if one_hot.ndim != 3 or one_hot.shape[2] != 4 or hyp.shape != one_hot.shape:
        sys.exit(f"expected /x [N, L, 4] and /hypothetical [N, L, 4, K]; got {one_hot.shape}, {hyp.shape}")

    # Count the extracted seqlets: wrap the function TFMoDISco calls (no extra work).
    found = {}
    extract = ext.extract_seqlets

    def counting(*args, **kw):
        found["coords"], found["threshold"] = extract(*args, **kw)
        return found["coords"], found["threshold"]

    ext.extract_seqlets = counting

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    pos, neg = modiscolite.tfmodisco.TFMoDISco(
        one_hot=one_hot, hypothetical_contribs=hyp,
        sliding_window_size=a.window, flank_size=a.flank,
        max_seqlets_per_metacluster=a.max_seqlets, n_leiden_runs=a.leiden_runs)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss

    # The sign split TFMoDISco makes (central `window` positions against the threshold).
    contrib = (one_hot * hyp).sum(axis=2)
    sums = np.array([contrib[s.example_idx, s.start + a.flank:s.end - a.flank].sum()
                     for s in found.get("coords", [])])
    thr = found.get("threshold", 0.0)

    os.makedirs(a.out, exist_ok=True)
    rows, meme = [], ["MEME version 5", "", "ALPHABET= ACGT", "", "strands: + -", "",
                      "Background letter frequencies", "A 0.25 C 0.25 G 0.25 T 0.25", ""]
    for group, patterns in (("pos", pos), ("neg", neg)):
        for i, p in enumerate(patterns or []):
            score = np.abs(p.contrib_scores).sum(axis=1)
            keep = np.flatnonzero(score >= TRIM_THRESHOLD * score.max())
            ppm = p.sequence[keep.min():keep.max() + 1]
            ppm = ppm / ppm.sum(axis=1, keepdims=True)
            name, n = f"{group}_pattern_{i}", len(p.seqlets)
            consensus = "".join("ACGT"[j] for j in ppm.argmax(axis=1))
            rows.append({"name": name, "metacluster": group, "seqlets": n,
                         "width": len(ppm), "consensus": consensus})
            meme.append(f"MOTIF {name} {consensus}")
            meme.append(f"letter-probability matrix: alength= 4 w= {len(ppm)} nsites= {n} E= 0")
            meme.extend(" ".join(f"{v:.6f}" for v in r) for r in ppm)
            meme.append("")
    with open(os.path.join(a.out, "modisco.meme"), "w") as f:
        f.write("\n".join(meme) + "\n")
    with open(os.path.join(a.out, "modisco.tsv"), "w") as f:
        f.write("pattern\tmetacluster\tseqlets\twidth\tconsensus\n")
        for r in rows:
            f.write(f"{r['name']}\t{r['metacluster']}\t{r['seqlets']}\t{r['width']}\t{r['consensus']}\n")

    print(json.dumps({
        "seconds": round(seconds, 3), "peak_rss_kib": peak, "rss_before_kib": rss_before,
        "children_peak_rss_kib": children, "seqlets": len(sums),
        "seqlets_pos": int((sums > thr).sum()), "seqlets_neg": int((sums < -thr).sum()),
        "patterns": [{"name": r["name"], "seqlets": r["seqlets"], "width": r["width"],
                      "consensus": r["consensus"]} for r in rows],
    }))


if __name__ == "__main__":
    main()
