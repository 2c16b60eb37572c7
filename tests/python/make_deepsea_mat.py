"""Small files with exactly the layouts of DeepSEA's deepsea_train bundle, and the expected
conversion, for the import-deepsea tests.

    python make_deepsea_mat.py OUTDIR FORWARD_ROWS WINDOW TARGETS SEED

Writes OUTDIR/train.mat (MATLAB 7.3: HDF5 with a 512-byte user block holding MATLAB's header;
trainxdata (window, 4, N) and traindata (T, N) as h5py sees them, chunked and gzipped),
OUTDIR/valid.mat (MATLAB 5, uncompressed; validxdata (N, 4, window) uint8, validdata (N, T)
as float64, as MATLAB often stores labels), OUTDIR/test.mat (MATLAB 5, zlib-compressed
elements; uint8), and OUTDIR/expected.h5 with /SPLIT/x (N, window, 4) in A, C, G, T and
/SPLIT/y (N, T). Every file has a forward block and its reverse complement; channels in the
.mat files are A, G, C, T as in the original.
"""
import sys

import h5py
import numpy as np
import scipy.io


def split_data(rng, forward, window, targets):
    bases = rng.integers(0, 5, size=(forward, window))  # 4 = N (all-zero column)
    x = np.zeros((forward, window, 4), dtype=np.uint8)
    for k in range(4):
        x[..., k] = bases == k
    x = np.concatenate([x, x[:, ::-1, ::-1]])  # reverse complements: flip both axes (ACGT)
    y = (rng.random((forward, targets)) < 0.2).astype(np.uint8)
    y = np.concatenate([y, y])
    return x, y


def matlab_x(x):
    """(N, L, 4) A,C,G,T -> MATLAB (N, 4, L) A,G,C,T."""
    return np.ascontiguousarray(x[:, :, [0, 2, 1, 3]].transpose(0, 2, 1))


def write_v73(path, x, y):
    with h5py.File(path, "w", userblock_size=512) as f:
        xm = matlab_x(x)  # MATLAB size (N, 4, L); HDF5 stores it reversed: (L, 4, N)
        f.create_dataset("trainxdata", data=xm.transpose(2, 1, 0), chunks=(x.shape[1], 4, 8), compression="gzip")
        f.create_dataset("traindata", data=y.T, chunks=(y.shape[1], 8), compression="gzip")
    head = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan 01 00:00:00 2015 HDF5 schema 1.00 ."
    head = head.ljust(116, b" ") + b"\0" * 8 + b"\x00\x02" + b"IM"
    with open(path, "r+b") as f:
        f.write(head)


def main():
    out, forward, window, targets, seed = sys.argv[1], *map(int, sys.argv[2:6])
    rng = np.random.default_rng(seed)
    data = {s: split_data(rng, forward, window, targets) for s in ("train", "valid", "test")}
    write_v73(f"{out}/train.mat", *data["train"])
    x, y = data["valid"]
    scipy.io.savemat(f"{out}/valid.mat", {"validxdata": matlab_x(x), "validdata": y.astype(np.float64)}, do_compression=False)
    x, y = data["test"]
    scipy.io.savemat(f"{out}/test.mat", {"testxdata": matlab_x(x), "testdata": y}, do_compression=True)
    with h5py.File(f"{out}/expected.h5", "w") as f:
        for s, (x, y) in data.items():
            f[f"{s}/x"] = x
            f[f"{s}/y"] = y


if __name__ == "__main__":
    main()
