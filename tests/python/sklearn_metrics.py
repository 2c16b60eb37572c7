"""scikit-learn's per-target ROC AUC and average precision of a ferrosea prediction file.

    python sklearn_metrics.py PREDS.h5 OUT.tsv [LABELS.h5]

The oracle of the evaluate tests and the peer of the metrics benchmark: loads `pred` and the
labels (`y` of PREDS.h5, or of LABELS.h5 aligned by target name) with h5py, then loops over
the targets calling `roc_auc_score` and `average_precision_score`. Writes name, n_pos, n_neg,
roc_auc, pr_auc per target (NA without both classes, full float precision), and prints the
load and loop times as JSON on stdout.
"""
import json
import sys
import time

import h5py
import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


def names(f):
    return [n.decode() if isinstance(n, bytes) else n for n in f["targets/name"][:]]


def main():
    preds_path, out_path = sys.argv[1], sys.argv[2]
    t0 = time.perf_counter()
    with h5py.File(preds_path, "r") as f:
        pred = f["pred"][:]
        y = f["y"][:]
        targets = names(f)
    if len(sys.argv) > 3:
        with h5py.File(sys.argv[3], "r") as f:
            theirs = names(f)
            col = {n: i for i, n in enumerate(theirs)}
            y = f["y"][:][:, [col[n] for n in targets]]
    load = time.perf_counter() - t0
    t1 = time.perf_counter()
    lines = ["name\tn_pos\tn_neg\troc_auc\tpr_auc"]
    for t, name in enumerate(targets):
        s, l = pred[:, t], y[:, t]
        pos = int(l.sum())
        neg = len(l) - pos
        if pos > 0 and neg > 0:
            roc = repr(float(roc_auc_score(l, s)))
            ap = repr(float(average_precision_score(l, s)))
        else:
            roc = ap = "NA"
        lines.append(f"{name}\t{pos}\t{neg}\t{roc}\t{ap}")
    loop = time.perf_counter() - t1
    with open(out_path, "w") as o:
        o.write("\n".join(lines) + "\n")
    print(json.dumps({"load_s": load, "loop_s": loop, "targets": len(targets), "rows": len(pred)}))


if __name__ == "__main__":
    main()
