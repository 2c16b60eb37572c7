"""Checks a workflow run on a simulation (ferrosea-prep simulate) against its truth.

    python check_truth.py PER_TARGET.tsv MATCHES.tsv TRUTH_DIR MIN_ROC MAX_Q MIN_MATCHED OUT.tsv

Passes when every planted motif's target reaches ROC AUC >= MIN_ROC on the test split, and at
least MIN_MATCHED of the planted motifs are matched by some learned filter with q <= MAX_Q
(`compare` against the database the motifs were drawn from). Writes a table to OUT.tsv and
exits 1 when the run fails.
"""
import csv
import os
import sys


def main():
    per_target, matches, truth, min_roc, max_q, min_matched, out = sys.argv[1:8]
    min_roc, max_q, min_matched = float(min_roc), float(max_q), float(min_matched)
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
