"""The ROC AUC that the planted motifs' own PWMs reach on a simulation's test split.

    python simulation_ceiling.py SIM_DIR MOTIFS.meme[.gz] ID [ID ...]

SIM_DIR is a `ferrosea-prep simulate` output whose workflow has run prep (SIM_DIR/run/prep/
test.h5, or SIM_DIR/prep/test.h5). Each test window is scored by the best log-odds match of
the planted motif (both strands, background = the simulation's GC content, 0.41 by default),
which knows the answer a network has to learn; its ROC AUC against the labels is about the
best a model can do given the label noise (missed sites, noise peaks, sites at the window's
edge) and chance matches in the random background. Prints one line per motif.
"""
import gzip
import os
import sys

import h5py
import numpy as np
from sklearn.metrics import roc_auc_score


def read_meme(path, ids):
    opener = gzip.open if path.endswith(".gz") else open
    motifs, cur = {}, None
    with opener(path, "rt") as f:
        for line in f:
            if line.startswith("MOTIF"):
                cur = line.split()[1]
                motifs[cur] = []
                continue
            t = line.split()
            if cur in ids and len(t) == 4:
                try:
                    motifs[cur].append([float(v) for v in t])
                except ValueError:
                    pass
    return {k: np.array(v) for k, v in motifs.items() if k in ids}


def main():
    sim, db, ids = sys.argv[1], sys.argv[2], sys.argv[3:]
    gc = float(os.environ.get("GC", "0.41"))
    test = next(p for p in (f"{sim}/run/prep/test.h5", f"{sim}/prep/test.h5") if os.path.exists(p))
    with h5py.File(test) as f:
        x, y = f["x"][:].astype(np.float32), f["y"][:]
        names = [n.decode() if isinstance(n, bytes) else n for n in f["targets"]["name"][:]]
    bg = np.array([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])
    motifs = read_meme(db, set(ids))
    n, window = x.shape[0], x.shape[1]
    for m in ids:
        col = next(j for j, name in enumerate(names) if name.split("|")[0] == m)
        p = motifs[m] + 1e-3
        p /= p.sum(1, keepdims=True)
        w = np.log2(p / bg).astype(np.float32)
        width = len(w)
        best = np.full(n, -np.inf, np.float32)
        for strand in (w, w[::-1, ::-1]):
            s = np.zeros((n, window - width + 1), np.float32)
            for i in range(width):
                s += x[:, i:i + window - width + 1, :] @ strand[i]
            best = np.maximum(best, s.max(1))
        print(f"{m}\tPWM ceiling ROC AUC {roc_auc_score(y[:, col], best):.4f}")


if __name__ == "__main__":
    main()
