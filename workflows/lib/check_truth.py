"""Checks a workflow run on a simulation (ferrosea-prep simulate) against its truth.

    python check_truth.py PER_TARGET.tsv MATCHES.tsv TRUTH_DIR MIN_ROC MAX_Q MIN_MATCHED OUT.tsv \
        [ATTRIBUTIONS_DIR MIN_AUPRC RATIO_LOW RATIO_HIGH]

Passes when every planted motif's target reaches ROC AUC >= MIN_ROC on the test split, and at
least MIN_MATCHED of the planted motifs are matched by some learned filter with q <= MAX_Q
(`compare` against the database the motifs were drawn from).

With ATTRIBUTIONS_DIR (the workflow's attributions/, one directory per planted target), also
checks the attributions of each planted target (its positive test windows):
- the attribution mass sits on the planted sites: the AUPRC of per-base |contribution| with
  the bases of the planted sites (of that motif, wholly inside the window) as positives must
  reach MIN_AUPRC (the base rate, the sites' share of the bases, is reported beside it);
- motifs + compare recover the planted motif: the target's positive motif with most seqlets
  among those matching the planted JASPAR ID with q <= MAX_Q must exist, and its seqlets must
  number between RATIO_LOW and RATIO_HIGH times the planted sites in the attributed windows.

Writes a table to OUT.tsv and exits 1 when the run fails.
"""
import csv
import os
import sys


def file_safe(name):
    s = "".join(c if (c.isascii() and c.isalnum()) or c in "._-" else "_" for c in name)
    return f"_{s}" if not s or s.startswith(".") else s


def attribution_rows(attr_dir, truth, max_q, min_auprc, low, high):
    """One line per planted motif with attributions, and the failures."""
    import h5py
    import numpy as np
    from sklearn.metrics import average_precision_score

    sites = {}
    for fn in sorted(os.listdir(truth)):
        if fn.endswith(".bed"):
            for line in open(os.path.join(truth, fn)):
                c, s, e, mid = line.split("\t")[:4]
                sites.setdefault(mid, {}).setdefault(c, []).append((int(s), int(e)))
    rows, failures = [], []
    for d in sorted(os.listdir(attr_dir)):
        path = os.path.join(attr_dir, d, "attributions.h5")
        if not os.path.exists(path):
            continue
        with h5py.File(path, "r") as f:
            names = [n.decode() if isinstance(n, bytes) else n for n in f["targets/name"][:]]
            chrom = [c.decode() if isinstance(c, bytes) else c for c in f["rows/chrom"][:]]
            start, strand = f["rows/start"][:], f["rows/strand"][:]
            contrib = f["contributions"][:, :, :, 0]
        name = names[0]
        mid = name.split("|")[0]
        window = contrib.shape[1]
        labels, planted = np.zeros(contrib.shape[:2], bool), 0
        for i, c in enumerate(chrom):
            for s, e in sites.get(mid, {}).get(c, []):
                a, b = s - start[i], e - start[i]
                if a >= 0 and b <= window:
                    if (strand[i].decode() if isinstance(strand[i], bytes) else strand[i]) == "-":
                        a, b = window - b, window - a
                    labels[i, a:b] = True
                    planted += 1
        score = np.abs(contrib).sum(axis=2)
        auprc = average_precision_score(labels.ravel(), score.ravel()) if labels.any() else float("nan")
        base = labels.mean()
        motifs = {}
        with open(os.path.join(attr_dir, d, "motifs", "motifs.tsv")) as f:
            for r in csv.DictReader(f, delimiter="\t"):
                motifs[r["motif"]] = r
        best = None
        with open(os.path.join(attr_dir, d, "motifs", "matches.tsv")) as f:
            for line in f:
                t = line.rstrip("\n").split("\t")
                if len(t) < 6 or t[0] == "Query_ID" or line.startswith("#"):
                    continue
                m = motifs.get(t[0])
                if t[1] != mid or float(t[5]) > max_q or m is None or m["sign"] != "+":
                    continue
                if best is None or int(m["seqlets"]) > int(best[0]["seqlets"]):
                    best = (m, float(t[5]))
        seqlets = int(best[0]["seqlets"]) if best else 0
        ratio = seqlets / planted if planted else float("nan")
        ok_auprc = auprc == auprc and auprc >= min_auprc
        ok_motif = best is not None and low <= ratio <= high
        rows.append(
            f"{mid}\t{auprc:.3f}\t{base:.4f}\t{best[0]['motif'] if best else '-'}\t"
            f"{best[1] if best else float('nan'):.3g}\t{seqlets}\t{planted}\t{ratio:.2f}\t"
            f"{'yes' if ok_auprc and ok_motif else 'NO'}"
        )
        if not ok_auprc:
            failures.append(f"{mid}: attribution AUPRC {auprc:.3f} < {min_auprc}")
        if best is None:
            failures.append(f"{mid}: no motif of {name}'s attributions matches it with q <= {max_q}")
        elif not low <= ratio <= high:
            failures.append(f"{mid}: {seqlets} seqlets for {planted} planted sites (ratio {ratio:.2f} not in [{low}, {high}])")
    return rows, failures


def main():
    per_target, matches, truth, min_roc, max_q, min_matched, out = sys.argv[1:8]
    min_roc, max_q, min_matched = float(min_roc), float(max_q), float(min_matched)
    attr = sys.argv[8:12]
    planted = sorted(f[:-4] for f in os.listdir(truth) if f.endswith(".bed"))
    with open(per_target) as f:
        rocs = {r["name"].split("|")[0]: r["roc_auc"] for r in csv.DictReader(f, delimiter="\t")}
    best = {}
    with open(matches) as f:
        for line in f:
            t = line.rstrip("\n").split("\t")
            if len(t) < 6 or t[0] == "Query_ID" or line.startswith("#"):
                continue
            q = float(t[5])
            if q < best.get(t[1], (float("inf"), ""))[0]:
                best[t[1]] = (q, t[0])
    rows, failures, matched = [], [], 0
    for motif in planted:
        roc = rocs.get(motif, "NA")
        roc_ok = roc != "NA" and float(roc) >= min_roc
        q, flt = best.get(motif, (float("nan"), "-"))
        hit = q == q and q <= max_q
        matched += hit
        rows.append(f"{motif}\t{roc}\t{'yes' if roc_ok else 'NO'}\t{flt}\t{q:.3g}\t{'yes' if hit else 'no'}")
        if not roc_ok:
            failures.append(f"{motif}: ROC AUC {roc} < {min_roc}")
    frac = matched / len(planted) if planted else 0.0
    if frac < min_matched:
        failures.append(f"{matched} of {len(planted)} planted motifs matched by a filter (q <= {max_q}); need {min_matched:.0%}")
    text = "motif\troc_auc\troc_ok\tbest_filter\tq_value\tmatched\n" + "\n".join(rows) + "\n"
    if attr:
        arows, afail = attribution_rows(attr[0], truth, max_q, float(attr[1]), float(attr[2]), float(attr[3]))
        failures += afail
        text += (
            "# attributions\nmotif\tauprc\tbase_rate\tbest_motif\tq_value\tseqlets\tplanted\tratio\tok\n"
            + "\n".join(arows) + "\n"
        )
        missing = [m for m in planted if not any(r.startswith(m + "\t") for r in arows)]
        if missing:
            failures.append(f"no attributions of {', '.join(missing)}")
    text += f"# {'PASS' if not failures else 'FAIL'}: {matched}/{len(planted)} matched" + "".join("; " + f for f in failures) + "\n"
    with open(out + ".tmp", "w") as f:
        f.write(text)
    os.replace(out + ".tmp", out)
    print(text, end="")
    if failures:
        os.remove(out)
        sys.exit("truth check failed: " + "; ".join(failures))


if __name__ == "__main__":
    main()
