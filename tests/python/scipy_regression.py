"""scipy's per-target Pearson and Spearman correlation and mean squared error of a ferrosea
prediction file with real-valued labels.

    python scipy_regression.py PREDS.h5 OUT.tsv

The oracle of the evaluate tests for real labels: loads `pred` and `y` with h5py and writes
name, pearson, spearman, mse per target (NA when undefined), full float precision.
"""
import sys
import warnings

import h5py
import numpy as np
from scipy.stats import pearsonr, spearmanr


def main():
    preds_path, out_path = sys.argv[1], sys.argv[2]
    with h5py.File(preds_path, "r") as f:
        pred = f["pred"][:].astype(np.float64)
        y = f["y"][:].astype(np.float64)
        names = [n.decode() if isinstance(n, bytes) else n for n in f["targets/name"][:]]
    fmt = lambda v: "NA" if v is None or np.isnan(v) else repr(float(v))
    with open(out_path, "w") as out:
        out.write("name\tpearson\tspearman\tmse\n")
        for t, name in enumerate(names):
            p, l = pred[:, t], y[:, t]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = pearsonr(p, l)[0] if np.ptp(p) > 0 and np.ptp(l) > 0 else None
                s = spearmanr(p, l)[0] if np.ptp(p) > 0 and np.ptp(l) > 0 else None
            mse = float(np.mean((p - l) ** 2))
            out.write(f"{name}\t{fmt(r)}\t{fmt(s)}\t{fmt(mse)}\n")


if __name__ == "__main__":
    main()
