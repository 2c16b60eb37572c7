"""Open ferrosea prep output with h5py alone and check the documented layout (docs/FORMAT.md).

Usage: check_dataset.py OUT_DIR N_TARGETS WINDOW
Exits non-zero with a message on the first mismatch.
"""
import json
import sys

import h5py
import numpy as np


def check(cond, msg):
    if not cond:
        sys.exit(f"check_dataset.py: {msg}")


def as_str(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def main(out, n_targets, window):
    report = json.load(open(f"{out}/prep.json"))
    total = 0
    for split in ("train", "valid", "test"):
        path = f"{out}/{split}.h5"
        with h5py.File(path, "r") as f:
            x, y = f["x"], f["y"]
            n = x.shape[0]
            total += n
            check(x.dtype == np.uint8 and x.shape == (n, window, 4), f"{path}: x is {x.dtype} {x.shape}")
            check(y.dtype == np.uint8 and y.shape == (n, n_targets), f"{path}: y is {y.dtype} {y.shape}")
            check(as_str(x.attrs["alphabet"]) == "ACGT", f"{path}: x.alphabet")
            check(x.chunks is not None and x.chunks[1:] == (window, 4), f"{path}: x chunks {x.chunks}")
            check(x.compression == "gzip" and y.compression == "gzip", f"{path}: compression {x.compression}")
            for g in ("name", "category", "cell"):
                d = f["targets/" + g]
                check(d.shape == (n_targets,) and h5py.check_string_dtype(d.dtype).encoding == "utf-8", f"{path}: targets/{g}")
            names = [as_str(v) for v in f["targets/name"][:]]
            check(names == [t["name"] for t in report["targets"]], f"{path}: target names differ from prep.json")
            chrom, start, strand = f["coords/chrom"], f["coords/start"], f["coords/strand"]
            check(chrom.dtype == np.uint32 and chrom.shape == (n,), f"{path}: coords/chrom {chrom.dtype}")
            check(start.dtype == np.int64 and start.shape == (n,), f"{path}: coords/start {start.dtype}")
            check(strand.dtype == np.uint8 and strand.shape == (n,), f"{path}: coords/strand {strand.dtype}")
            chrom_names = [as_str(v) for v in f["coords/chrom_names"][:]]
            attrs = {k: (as_str(v) if isinstance(v, (bytes, str)) else int(v)) for k, v in f.attrs.items()}
            for k in ("format", "format_version", "window", "bin_size", "min_overlap", "keep", "genome",
                      "genome_sha256", "command_line", "ferrosea_version", "split", "forward_rows", "reverse_complement"):
                check(k in attrs, f"{path}: missing file attribute {k}")
            check(attrs["format"] == "ferrosea-dataset" and attrs["format_version"] == 1, f"{path}: format attrs")
            check(attrs["window"] == window and attrs["split"] == split, f"{path}: window/split attrs")
            check(attrs["genome_sha256"] == report["inputs"]["genome"]["sha256"], f"{path}: genome checksum")
            if n:
                xs, ys = x[:], y[:]
                check(set(np.unique(xs)) <= {0, 1} and set(np.unique(ys)) <= {0, 1}, f"{path}: values not 0/1")
                check((xs.sum(axis=2) <= 1).all(), f"{path}: a base with two ones")
                check(max(chrom[:]) < len(chrom_names), f"{path}: chrom index out of range")
                fwd = attrs["forward_rows"]
                st = strand[:]
                check((st[:fwd] == ord("+")).all(), f"{path}: forward block strands")
                if attrs["reverse_complement"]:
                    check(n == 2 * fwd and (st[fwd:] == ord("-")).all(), f"{path}: reverse block strands")
                    check((xs[fwd:] == xs[:fwd, ::-1, ::-1]).all(), f"{path}: reverse complement block")
                    check((ys[fwd:] == ys[:fwd]).all(), f"{path}: reverse complement labels")
            split_report = next(s for s in report["splits"] if s["split"] == split)
            check(split_report["rows"] == n, f"{path}: {n} rows, prep.json says {split_report['rows']}")
    check(total > 0, "no rows at all")
    print(f"check_dataset.py: {out}: layout ok ({total} rows)")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
