"""An independent oracle for `ferrosea-analyze variants` and `background` (h5py and numpy only,
no ferrosea code).

    check_variants.py build --genome FA --vcf VCF --window L --targets-from DATASET.h5
        --dataset OUT.h5 --expected OUT.json [--chrom-alias PREFIX] [--background BG.h5]

builds the reference and alternative window of every VCF allele from the FASTA by the rule
stated in crates/analyze/src/alleles.rs (and docs/ANALYSIS.md), and writes them as a ferrosea
dataset file (docs/FORMAT.md) that `ferrosea-evaluate predict` reads. Rows, in blocks:

    ref windows of the scored alleles (n), their alt windows (n),
    ref windows of the background SNVs (m), their alt windows (m),
    then the reverse complement of each of those 2n + 2m rows, in the same order.

The expected JSON lists the alleles expected to be scored, those expected to be skipped with
the reason, and every input record.

    check_variants.py compare --expected E.json --pred PRED.h5 --variants DIR --prefix PREFIX
        [--rc-average [--pred-rc PRED_RC.h5]] [--background BG.h5]

checks a `variants` output directory against `predict`'s probabilities of the oracle dataset
(1e-6), the score formulas, e-values against a numpy ECDF of the background's `magnitude`,
the TSVs and annotated.vcf.gz against variants.h5, skipped.tsv against the expected list,
and summary.json; with --background, also the background file itself: random SNVs (genome
bases, magnitudes against the predictions of the background rows of the dataset), or a
background made from this VCF (its rows are the scored alleles, its magnitudes theirs, bit for
bit, so that its e-values are checked exactly, ties included).

Exits non-zero with a message on the first mismatch.
"""
import argparse
import gzip
import json
import re
import sys

import h5py
import numpy as np

TOL = 1e-6


def fail(msg):
    sys.exit(f"check_variants.py: {msg}")


def check(cond, msg):
    if not cond:
        fail(msg)


def as_str(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def open_text(path):
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt")  # plain gzip and bgzip (a series of gzip members)
    return open(path, "rt")


# ---------------------------------------------------------------------------------------
# The genome


def read_genome(path):
    """{name: sequence} of a FASTA (plain, gzip or bgzip), read whole."""
    seqs, name, parts = {}, None, []
    with open_text(path) as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line.startswith(">"):
                if name is not None:
                    seqs[name] = "".join(parts)
                name, parts = line[1:].split()[0], []
            else:
                parts.append(line.strip())
    if name is not None:
        seqs[name] = "".join(parts)
    return seqs


# ---------------------------------------------------------------------------------------
# The VCF


def read_vcf(path):
    """(header lines, records): each record a dict with its line number and text."""
    header, records = [], []
    with open_text(path) as f:
        for number, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
            if line.startswith("#"):
                header.append(line)
                continue
            if not line.strip():
                continue
            cols = line.split("\t")
            records.append(
                {
                    "line": number,
                    "text": line,
                    "chrom": cols[0],
                    "pos": int(cols[1]),
                    "id": cols[2],
                    "ref": cols[3],
                    "alts": cols[4].split(","),
                }
            )
    return header, records


BASES = re.compile(r"[ACGTNacgtn]+")


def alt_class(alt):
    """Why an ALT is not a sequence to score, or None."""
    if alt in (".", ""):
        return "missing_alt"
    if alt == "*" or (alt.startswith("<") and alt.endswith(">")):
        return "symbolic_allele"
    if "[" in alt or "]" in alt or alt.startswith(".") or alt.endswith("."):
        return "breakend"
    if not BASES.fullmatch(alt):
        return "letters_outside_ACGTN"
    return None


def strip_chr(name):
    return name[3:] if name.startswith("chr") else name


def resolve_chrom(chrom, genome, alias_prefix):
    """(the genome's name, None) or (None, skip reason)."""
    if chrom in genome:
        return chrom, None
    if alias_prefix:
        other = chrom[len(alias_prefix):] if chrom.startswith(alias_prefix) else alias_prefix + chrom
        if other in genome:
            return other, None
    same = [n for n in genome if n != chrom and strip_chr(n) == strip_chr(chrom)]
    if same:
        return None, f"chrom_not_in_genome(genome has {same[0]})"
    return None, "chrom_not_in_genome"


def allele_window(seq, p, r, allele, window):
    """The window of `allele` replacing seq[p : p + r], or None when it runs off the sequence.

    The spliced sequence is seq[:p] + allele + seq[p + r:]; the window is its L bases from
    p + len(allele) // 2 - L // 2."""
    if p + r > len(seq):
        return None  # REF itself runs past the end
    spliced_len = len(seq) - r + len(allele)
    s = p + len(allele) // 2 - window // 2
    if s < 0 or s + window > spliced_len:
        return None
    # The same bases as slicing the whole spliced sequence, without copying the chromosome.
    lo = min(s, p)
    local = seq[lo:p] + allele + seq[p + r : p + r + window]
    return local[s - lo : s - lo + window].upper()


def onehot(w):
    x = np.zeros((len(w), 4), dtype=np.uint8)
    codes = np.frombuffer(w.encode(), dtype=np.uint8)
    for j, b in enumerate(b"ACGT"):
        x[codes == b, j] = 1
    return x


def place(rec, alt, genome, alias_prefix, window):
    """(windows dict, None) or (None, reason) for one ALT of a record."""
    why = alt_class(alt)
    if why:
        return None, why
    if not BASES.fullmatch(rec["ref"]):
        return None, "letters_outside_ACGTN"
    name, why = resolve_chrom(rec["chrom"], genome, alias_prefix)
    if why:
        return None, why
    seq = genome[name]
    p, r = rec["pos"] - 1, len(rec["ref"])
    ref_w = allele_window(seq, p, r, rec["ref"], window)
    alt_w = allele_window(seq, p, r, alt, window)
    if ref_w is None or alt_w is None:
        return None, "window_off_chromosome"
    unk = any(c not in "ACGT" for c in ref_w + alt_w)
    return {
        "ref_w": ref_w,
        "alt_w": alt_w,
        "ref_match": seq[p : p + r].upper() == rec["ref"].upper(),
        "contains_unk": unk,
    }, None


def build(a):
    genome = read_genome(a.genome)
    header, records = read_vcf(a.vcf)
    L = a.window
    scored, skipped, fates = [], [], []
    ref_ws, alt_ws = [], []
    for rec in records:
        fate = []
        for alt in rec["alts"]:
            w, why = place(rec, alt, genome, a.chrom_alias, L)
            if why:
                skipped.append([rec["chrom"], rec["pos"], rec["id"], rec["ref"], alt, why])
                fate.append({"skipped": why})
            else:
                fate.append({"row": len(scored)})
                scored.append(
                    {
                        "chrom": rec["chrom"],
                        "pos": rec["pos"],
                        "id": rec["id"],
                        "ref": rec["ref"],
                        "alt": alt,
                        "ref_match": w["ref_match"],
                        "contains_unk": w["contains_unk"],
                        "line": rec["line"],
                    }
                )
                ref_ws.append(w["ref_w"])
                alt_ws.append(w["alt_w"])
        fates.append({"line": rec["line"], "text": rec["text"], "alts": fate})
    bg_ref, bg_alt, bg_rows = [], [], 0
    if a.background:
        with h5py.File(a.background, "r") as f:
            chrom = [as_str(v) for v in f["rows/chrom"][:]]
            pos = f["rows/pos"][:]
            ref = [as_str(v) for v in f["rows/ref"][:]]
            alt = [as_str(v) for v in f["rows/alt"][:]]
        for c, p, r, x in zip(chrom, pos, ref, alt):
            check(c in genome, f"background: chromosome {c} not in the genome")
            seq, p0 = genome[c], int(p) - 1
            rw = allele_window(seq, p0, len(r), r, L)
            aw = allele_window(seq, p0, len(r), x, L)
            check(rw is not None and aw is not None, f"background SNV {c}:{p} has no window")
            check(seq[p0 : p0 + len(r)].upper() == r.upper(), f"background {c}:{p}: REF {r} is not the genome's {seq[p0 : p0 + len(r)]}")
            bg_ref.append(rw)
            bg_alt.append(aw)
        bg_rows = len(bg_ref)
    windows = ref_ws + alt_ws + bg_ref + bg_alt
    check(windows, "no window to write")
    fwd = np.stack([onehot(w) for w in windows])
    x = np.concatenate([fwd, fwd[:, ::-1, ::-1]])
    with h5py.File(a.targets_from, "r") as t:
        names = [as_str(v) for v in t["targets/name"][:]]
        categories = [as_str(v) for v in t["targets/category"][:]]
    chrom_names = list(genome)
    s = h5py.string_dtype()
    with h5py.File(a.dataset, "w") as f:
        f.attrs["format"] = "ferrosea-dataset"
        f.attrs["format_version"] = np.int64(1)
        f.attrs["window"] = np.int64(L)
        f.attrs["split"] = "test"
        f.create_dataset("x", data=x, chunks=(min(len(x), 64), L, 4))
        f["x"].attrs["alphabet"] = "ACGT"
        f.create_dataset("y", data=np.zeros((len(x), len(names)), dtype=np.uint8))
        f.create_dataset("targets/name", data=names, dtype=s)
        f.create_dataset("targets/category", data=categories, dtype=s)
        f.create_dataset("coords/chrom_names", data=chrom_names, dtype=s)
        f.create_dataset("coords/chrom", data=np.zeros(len(x), dtype=np.uint32))
        f.create_dataset("coords/start", data=np.full(len(x), -1, dtype=np.int64))
        strand = np.array([ord("+")] * len(fwd) + [ord("-")] * len(fwd), dtype=np.uint8)
        f.create_dataset("coords/strand", data=strand)
    expected = {
        "window": L,
        "header": header,
        "scored": scored,
        "skipped": skipped,
        "records": fates,
        "background_rows": bg_rows,
        "forward_rows": len(fwd),
    }
    with open(a.expected, "w") as f:
        json.dump(expected, f, indent=1)
    print(
        f"check_variants.py: {len(records)} records, {len(scored)} alleles to score, "
        f"{len(skipped)} to skip, {bg_rows} background SNVs; {len(x)} windows in {a.dataset}"
    )


# ---------------------------------------------------------------------------------------
# Comparing


def log2_odds(x):
    x = np.maximum(x.astype(np.float64), 1e-12)
    return np.log2(x / (1.0 - x + 1e-12))


def logit(x):
    x = np.clip(x.astype(np.float64), 1e-7, 1.0 - 1e-7)
    return np.log(x / (1.0 - x))


def formula_scores(p, q):
    """diff, logit_diff, log2fc, magnitude (float32) as scores.rs documents them."""
    diff = q.astype(np.float64) - p.astype(np.float64)
    fc = log2_odds(q) - log2_odds(p)
    return (
        diff.astype(np.float32),
        (logit(q) - logit(p)).astype(np.float32),
        fc.astype(np.float32),
        np.abs(diff * fc).astype(np.float32),
    )


def close(name, got, want, atol=TOL, rtol=0.0):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    check(got.shape == want.shape, f"{name}: shape {got.shape}, expected {want.shape}")
    if got.size == 0:
        return
    err = np.abs(got - want) - rtol * np.abs(want)
    i = np.unravel_index(np.argmax(err), err.shape)
    check(
        err[i] <= atol,
        f"{name}: {got[i]!r} at {tuple(int(k) for k in i)}, expected {want[i]!r} "
        f"(|diff| {abs(got[i] - want[i]):.3g})",
    )


BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
ALL_KEYS = ("FS_MAX_ABS_DIFF", "FS_MAX_TARGET", "FS_REF_MATCH", "FS_SKIPPED", "FS_MEAN_NEG_LOG10_E")


def info_value(s):
    return re.sub(r"[ ,;=\t]", "_", s)


def fmt_bool(b):
    return "True" if b else "False"


def read_pred(path):
    with h5py.File(path, "r") as f:
        return f["pred"][:]


def ecdf_evalues(bg, m):
    """(k + 1) / (n + 1) per target, k the background values >= m, and a mask of the cells
    where m is so close to a background value that float noise could move k."""
    n = bg.shape[0]
    k = (bg[None, :, :] >= m[:, None, :]).sum(axis=1)
    e = ((k + 1) / (n + 1)).astype(np.float32)
    near = (np.abs(bg[None, :, :] - m[:, None, :]) <= 1e-6 * np.maximum(1e-30, np.abs(m[:, None, :]))).any(axis=1)
    return e, near


def compare(a):
    exp = json.load(open(a.expected))
    L = exp["window"]
    scored, n = exp["scored"], len(exp["scored"])
    m_bg, F = exp["background_rows"], exp["forward_rows"]
    out = a.variants
    pred = read_pred(a.pred)
    check(pred.shape[0] == 2 * F, f"{a.pred}: {pred.shape[0]} rows, the dataset has {2 * F}")
    probs = pred[:F].astype(np.float64)
    if a.rc_average:
        probs = (pred[:F].astype(np.float64) + pred[F:].astype(np.float64)) / 2
        if a.pred_rc:
            prc = read_pred(a.pred_rc)
            close("predict --rc-average vs the mean of forward and reverse-complement predictions",
                  prc[:F], probs)

    with h5py.File(f"{out}/variants.h5", "r") as f:
        check(as_str(f.attrs["format"]) == "ferrosea-variants", "variants.h5: format attribute")
        check(int(f.attrs["window"]) == L, "variants.h5: window attribute")
        check(int(f.attrs["rc_average"]) == int(a.rc_average), "variants.h5: rc_average attribute")
        rows = {k: f[f"rows/{k}"][:] for k in ("chrom", "pos", "id", "ref", "alt", "ref_match", "contains_unk")}
        arrays = {k: f[k][:] for k in ("ref", "alt", "diff", "logit_diff", "log2fc") + (("evalue",) if a.background else ())}
        check(("evalue" in f) == bool(a.background), "variants.h5: evalue present without a background or absent with one")
        targets = [as_str(v) for v in f["targets/name"][:]]
        summary = {
            "max_abs_diff": f["max_abs_diff"][:],
            "max_target": [as_str(v) for v in f["rows/max_target"][:]],
        }
        check(("mean_neg_log10_e" in f) == bool(a.background), "variants.h5: mean_neg_log10_e present without a background or absent with one")
        if a.background:
            summary["mean_neg_log10_e"] = f["mean_neg_log10_e"][:]
    T = len(targets)
    check(len(rows["chrom"]) == n, f"variants.h5: {len(rows['chrom'])} rows, expected {n} scored alleles")
    for i, want in enumerate(scored):
        got = {
            "chrom": as_str(rows["chrom"][i]),
            "pos": int(rows["pos"][i]),
            "id": as_str(rows["id"][i]),
            "ref": as_str(rows["ref"][i]),
            "alt": as_str(rows["alt"][i]),
            "ref_match": bool(rows["ref_match"][i]),
            "contains_unk": bool(rows["contains_unk"][i]),
        }
        w = {k: want[k] for k in got}
        check(got == w, f"variants.h5 row {i}: {got}, expected {w} (VCF line {want['line']})")
    for k in arrays:
        check(arrays[k].dtype == np.float32 and arrays[k].shape == (n, T), f"variants.h5: {k} is {arrays[k].dtype} {arrays[k].shape}")

    # The per-variant summary: the largest |diff| and its target (the first on a tie), the
    # mean -log10 e-value.
    ad = np.abs(arrays["diff"])
    check(np.array_equal(summary["max_abs_diff"], ad.max(axis=1)) if n else len(summary["max_abs_diff"]) == 0, "variants.h5: max_abs_diff is not the largest |diff| of each row")
    check(summary["max_target"] == [targets[int(j)] for j in ad.argmax(axis=1)] if n else True, "variants.h5: rows/max_target is not the target of the largest |diff|")
    if a.background and n:
        want_e = np.mean(-np.log10(arrays["evalue"].astype(np.float64)), axis=1)
        close("variants.h5 mean_neg_log10_e", summary["mean_neg_log10_e"], want_e, atol=1e-5)

    # Probabilities: the oracle's windows through `predict`.
    close("variants.h5 ref vs predict on the oracle's reference windows", arrays["ref"], probs[:n])
    close("variants.h5 alt vs predict on the oracle's alternative windows", arrays["alt"], probs[n : 2 * n])

    # Scores from variants.h5's own probabilities, by the documented formulas.
    diff, logit_diff, log2fc, magnitude = formula_scores(arrays["ref"], arrays["alt"])
    close("diff", arrays["diff"], diff, atol=1e-7)
    close("logit_diff", arrays["logit_diff"], logit_diff, atol=1e-5, rtol=1e-6)
    close("log2fc", arrays["log2fc"], log2fc, atol=1e-5, rtol=1e-6)

    if a.background:
        with h5py.File(a.background, "r") as f:
            check(as_str(f.attrs["format"]) == "ferrosea-background", "background: format attribute")
            bg = f["magnitude"][:]
            bg_targets = [as_str(v) for v in f["targets/name"][:]]
            bchrom = [as_str(v) for v in f["rows/chrom"][:]]
            bpos = f["rows/pos"][:]
            bref = [as_str(v) for v in f["rows/ref"][:]]
            balt = [as_str(v) for v in f["rows/alt"][:]]
            n_random = int(f.attrs["random_snvs"]) if "random_snvs" in f.attrs else None
        check(bg_targets == targets, "background: targets differ from variants.h5")
        check(bg.dtype == np.float32 and bg.shape == (len(bchrom), T), f"background: magnitude {bg.dtype} {bg.shape}")
        if n_random is not None:
            check(len(bchrom) == n_random, f"background: {len(bchrom)} rows, asked for {n_random} random SNVs")
            for c, r, x in zip(bchrom, bref, balt):
                check(len(r) == 1 and len(x) == 1 and r in "ACGT" and x in "ACGT" and r != x, f"background: {c} {r}>{x} is not an SNV")
        strict = False
        if n_random is not None:
            check(m_bg == len(bchrom), f"the oracle dataset has {m_bg} background rows, the file {len(bchrom)}")
            # The background's magnitudes against predictions of its windows (rebuilt here).
            p_bg, q_bg = probs[2 * n : 2 * n + m_bg], probs[2 * n + m_bg : 2 * n + 2 * m_bg]
            want_bg = formula_scores(p_bg.astype(np.float32), q_bg.astype(np.float32))[3]
            close("background magnitude vs |diff x log2fc| of predict on its windows", bg, want_bg, atol=1e-5, rtol=1e-4)
        else:
            # A background of this very VCF: one row per allele the oracle scores, in order,
            # with the magnitudes of those alleles.
            got_rows = [[c, int(p), r, x] for c, p, r, x in zip(bchrom, bpos, bref, balt)]
            want_rows = [[v["chrom"], v["pos"], v["ref"], v["alt"]] for v in scored]
            check(got_rows == want_rows, f"background of the VCF: rows {got_rows[:3]}..., expected the scored alleles {want_rows[:3]}...")
            close("background magnitude vs |diff x log2fc| of the scored alleles", bg, magnitude, atol=1e-6, rtol=1e-6)
            # The same computation in numpy gives the same float32 bits, so each e-value of
            # this background can be checked exactly, ties with itself included.
            if (bg != magnitude).any():
                j = tuple(int(k) for k in np.argwhere(bg != magnitude)[0])
                fail(f"background magnitude {bg[j]!r} at {j}, numpy gives {magnitude[j]!r}")
            strict = True
        # e-values: a numpy ECDF of the file's magnitudes.
        e, near = ecdf_evalues(bg, magnitude)
        if strict:
            near[:] = False
        got = arrays["evalue"]
        bad = (got != e) & ~near
        if bad.any():
            i, t = np.argwhere(bad)[0]
            fail(f"evalue[{i}, {t}] = {got[i, t]!r}, the ECDF gives {e[i, t]!r} (magnitude {magnitude[i, t]!r})")
        close("evalue (near ties)", got, e, atol=2.0 / (bg.shape[0] + 1))
        check(((got > 0) & (got <= 1)).all(), "evalue outside (0, 1]")

    # The TSVs equal variants.h5.
    abs_diff = np.abs(arrays["diff"])
    tables = {
        f"{a.prefix}_diffs.tsv": arrays["diff"],
        f"{a.prefix}_abs_diffs.tsv": abs_diff,
        f"{a.prefix}_logits.tsv": arrays["logit_diff"],
        f"{a.prefix}.ref_predictions.tsv": arrays["ref"],
        f"{a.prefix}.alt_predictions.tsv": arrays["alt"],
    }
    want_header = ["chrom", "pos", "name", "ref", "alt", "strand", "ref_match", "contains_unk"] + targets
    for name, values in tables.items():
        lines = open(f"{out}/{name}").read().split("\n")
        check(lines[-1] == "", f"{name}: no final line break")
        lines = lines[:-1]
        check(lines[0].split("\t") == want_header, f"{name}: header {lines[0][:200]!r}")
        check(len(lines) == n + 1, f"{name}: {len(lines) - 1} rows, variants.h5 has {n}")
        for i, line in enumerate(lines[1:]):
            cols = line.split("\t")
            s = scored[i]
            lead = [s["chrom"], str(s["pos"]), s["id"], s["ref"], s["alt"], "+", fmt_bool(s["ref_match"]), fmt_bool(s["contains_unk"])]
            check(cols[:8] == lead, f"{name} row {i + 1}: {cols[:8]}, expected {lead}")
            v = np.array([float(c) for c in cols[8:]], dtype=np.float32)
            check(v.shape == (T,), f"{name} row {i + 1}: {v.shape[0]} values for {T} targets")
            j = np.flatnonzero(v != values[i])
            check(j.size == 0, f"{name} row {i + 1}, target {j[0] if j.size else 0}: {cols[8 + (j[0] if j.size else 0)]}, variants.h5 has {values[i][j[0]] if j.size else 0!r}")

    # skipped.tsv lists exactly the expected alleles with their reasons.
    lines = open(f"{out}/skipped.tsv").read().split("\n")
    check(lines[-1] == "" and lines[0] == "chrom\tpos\tid\tref\talt\treason", f"skipped.tsv: header {lines[0]!r}")
    got = [l.split("\t") for l in lines[1:-1]]
    want = [[str(c) for c in s] for s in exp["skipped"]]
    check(len(got) == len(want), f"skipped.tsv: {len(got)} alleles, expected {len(want)}: {got} vs {want}")
    for g, w in zip(got, want):
        check(g == w, f"skipped.tsv: {g}, expected {w}")

    # annotated.vcf.gz: BGZF (each gzip member a block with its BC size field, then the
    # empty EOF block), so that tabix and bcftools take it.
    raw = open(f"{out}/annotated.vcf.gz", "rb").read()
    at = 0
    while at < len(raw):
        check(raw[at : at + 4] == b"\x1f\x8b\x08\x04" and raw[at + 12 : at + 14] == b"BC", f"annotated.vcf.gz: no BGZF block header at byte {at}")
        at += int.from_bytes(raw[at + 16 : at + 18], "little") + 1
    check(at == len(raw) and raw.endswith(BGZF_EOF), "annotated.vcf.gz: BGZF blocks do not end with the EOF block")
    # annotated.vcf.gz: every input record, in input order, with declared per-ALT INFO.
    with gzip.open(f"{out}/annotated.vcf.gz", "rt") as f:
        text = f.read()
    check(text.endswith("\n"), "annotated.vcf.gz: no final line break")
    alines = text[:-1].split("\n")
    header = [l for l in alines if l.startswith("#")]
    body = [l for l in alines if not l.startswith("#")]
    check(alines[: len(header)] == header, "annotated.vcf.gz: header lines after records")
    check(header[-1] == exp["header"][-1] and header[-1].startswith("#CHROM"), "annotated.vcf.gz: the #CHROM line")
    ours = tuple(f"##INFO=<ID={k}," for k in ALL_KEYS)
    check([l for l in header if not l.startswith(ours)] == [l for l in exp["header"] if not l.startswith(ours)], "annotated.vcf.gz: the input header lines are not all kept, in order")
    declared = {}
    for l in header:
        mm = re.match(r"##INFO=<ID=([^,]+),Number=([^,]+),Type=([^,]+),", l)
        if mm:
            check(mm.group(1) not in declared, f"annotated.vcf.gz: INFO {mm.group(1)} declared twice")
            declared[mm.group(1)] = (mm.group(2), mm.group(3))
    keys = ["FS_MAX_ABS_DIFF", "FS_MAX_TARGET", "FS_REF_MATCH", "FS_SKIPPED"] + (["FS_MEAN_NEG_LOG10_E"] if a.background else [])
    for k in keys:
        check(declared.get(k, ("",))[0] == "A", f"annotated.vcf.gz: INFO {k} not declared with Number=A")
    recs = exp["records"]
    check(len(body) == len(recs), f"annotated.vcf.gz: {len(body)} records, the input has {len(recs)}")
    for line, rec in zip(body, recs):
        cols, icols = line.split("\t"), rec["text"].split("\t")
        check(cols[:7] + cols[8:] == icols[:7] + icols[8:], f"annotated.vcf.gz: line for input line {rec['line']} changed outside INFO")
        info = cols[7].split(";")
        # The input's INFO is kept, but for ferrosea's own keys (of an earlier run), replaced.
        kept = [kv for kv in icols[7].split(";") if kv not in (".", "") and kv.split("=", 1)[0] not in ALL_KEYS]
        check(info[: len(kept)] == kept, f"annotated.vcf.gz: input INFO of line {rec['line']} not kept")
        check(len(info) == len(kept) + len(keys), f"annotated.vcf.gz: line for input line {rec['line']}: INFO {cols[7][:200]}")
        fields = dict(kv.split("=", 1) for kv in info if "=" in kv and kv.split("=", 1)[0].startswith("FS_"))
        check(sorted(fields) == sorted(keys), f"annotated.vcf.gz line for input line {rec['line']}: FS keys {sorted(fields)}")
        for k in fields:
            check(k in declared, f"annotated.vcf.gz: INFO {k} used but not declared")
        vals = {k: fields[k].split(",") for k in keys}
        for k in keys:
            check(len(vals[k]) == len(rec["alts"]), f"input line {rec['line']}: {k} has {len(vals[k])} values for {len(rec['alts'])} ALTs")
        for j, fate in enumerate(rec["alts"]):
            if "skipped" in fate:
                check(vals["FS_SKIPPED"][j] == info_value(fate["skipped"]), f"input line {rec['line']} ALT {j + 1}: FS_SKIPPED {vals['FS_SKIPPED'][j]}, expected {fate['skipped']}")
                for k in keys:
                    if k != "FS_SKIPPED":
                        check(vals[k][j] == ".", f"input line {rec['line']} ALT {j + 1}: {k} should be . for a skipped allele")
                continue
            i = fate["row"]
            check(vals["FS_SKIPPED"][j] == ".", f"input line {rec['line']} ALT {j + 1}: FS_SKIPPED should be .")
            ad = np.abs(arrays["diff"][i])
            check(np.float32(float(vals["FS_MAX_ABS_DIFF"][j])) == ad.max(), f"input line {rec['line']}: FS_MAX_ABS_DIFF {vals['FS_MAX_ABS_DIFF'][j]}, max |diff| is {ad.max()!r}")
            check(vals["FS_MAX_TARGET"][j] == info_value(targets[int(np.argmax(ad))]), f"input line {rec['line']}: FS_MAX_TARGET {vals['FS_MAX_TARGET'][j]}")
            check(vals["FS_REF_MATCH"][j] == ("1" if scored[i]["ref_match"] else "0"), f"input line {rec['line']}: FS_REF_MATCH")
            if a.background:
                want_e = float(np.mean(-np.log10(arrays["evalue"][i].astype(np.float64))))
                check(abs(float(vals["FS_MEAN_NEG_LOG10_E"][j]) - want_e) <= 1e-5, f"input line {rec['line']}: FS_MEAN_NEG_LOG10_E {vals['FS_MEAN_NEG_LOG10_E'][j]}, expected {want_e}")

    # summary.json.
    s = json.load(open(f"{out}/summary.json"))
    reasons = {}
    for sk in exp["skipped"]:
        key = sk[5].split("(")[0]
        reasons[key] = reasons.get(key, 0) + 1
    want = {
        "records": len(recs),
        "alleles": sum(len(r["alts"]) for r in recs),
        "scored": n,
        "skipped": reasons,
        "ref_mismatch": sum(not r["ref_match"] for r in scored),
        "contains_unk": sum(r["contains_unk"] for r in scored),
        "targets": T,
        "window": L,
        "rc_average": bool(a.rc_average),
    }
    for k, v in want.items():
        check(s.get(k) == v, f"summary.json: {k} is {s.get(k)!r}, expected {v!r}")
    print(f"check_variants.py: {out}: {n} scored alleles and {len(exp['skipped'])} skipped agree with the oracle")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="mode", required=True)
    b = sub.add_parser("build")
    b.add_argument("--genome", required=True)
    b.add_argument("--vcf", required=True)
    b.add_argument("--window", type=int, required=True)
    b.add_argument("--targets-from", required=True)
    b.add_argument("--dataset", required=True)
    b.add_argument("--expected", required=True)
    b.add_argument("--chrom-alias")
    b.add_argument("--background")
    c = sub.add_parser("compare")
    c.add_argument("--expected", required=True)
    c.add_argument("--pred", required=True)
    c.add_argument("--variants", required=True)
    c.add_argument("--prefix", required=True)
    c.add_argument("--rc-average", action="store_true")
    c.add_argument("--pred-rc")
    c.add_argument("--background")
    a = p.parse_args()
    build(a) if a.mode == "build" else compare(a)


if __name__ == "__main__":
    main()
