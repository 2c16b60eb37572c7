"""SIGKILL each stage at several points, over a fresh and over an older output, and check that
nothing left behind looks finished unless it is: a completion marker (prep.json, metrics.json,
a checkpoint JSON) or a final file (predictions, matches.tsv) is present only when what it
stands for is whole. A killed training must then resume to the end, leaving one best and one
latest checkpoint.

Usage: kill_check.py BIN_DIR WORK_DIR
The demo data (data/demo) is the input; each stage's first, uninterrupted run is timed and the
kills land at fractions of that time. Exits non-zero with a message on the first violation.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py

FRACTIONS = (0.05, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 1.05)


def fail(msg):
    sys.exit(f"kill_check.py: {msg}")


def run(cmd):
    started = time.monotonic()
    p = subprocess.run(cmd, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        fail(f"{' '.join(cmd)} failed: {p.stderr}")
    return time.monotonic() - started


def killed_run(cmd, after):
    """Runs cmd, SIGKILLs it after `after` seconds; returns whether it had finished (exit 0)."""
    p = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    try:
        p.wait(timeout=after)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGKILL)
        p.wait()
        return False
    if p.returncode != 0:
        fail(f"{' '.join(cmd)} exited {p.returncode} without being killed")
    return True


def newest_first(marker, files):
    """The completion marker is written last: no file it marks may be newer (an older run's
    marker beside a newer run's files looks finished and is not)."""
    m = os.stat(marker).st_mtime_ns
    for f in files:
        if os.path.exists(f) and os.stat(f).st_mtime_ns > m:
            fail(f"{marker} is older than {f}: an older run's marker beside newer files")


def rows(path, name):
    with h5py.File(path, "r") as f:
        return f[name].shape[0]


def check_prep(out, expected):
    """prep.json present => every split file whole, with its rows."""
    if not os.path.exists(f"{out}/prep.json"):
        return
    report = json.load(open(f"{out}/prep.json"))
    newest_first(f"{out}/prep.json", [f"{out}/{s}.h5" for s in ("train", "valid", "test")])
    for split in ("train", "valid", "test"):
        path = f"{out}/{split}.h5"
        if not os.path.exists(path):
            fail(f"{out}/prep.json present without {split}.h5")
        if rows(path, "x") != expected[split]:
            fail(f"{path}: {rows(path, 'x')} rows, expected {expected[split]} ({report.get('splits')})")


def check_predictions(path, n):
    if os.path.exists(path) and rows(path, "pred") != n:
        fail(f"{path}: looks finished with {rows(path, 'pred')} of {n} rows")


def check_metrics(out, n_targets):
    if not os.path.exists(f"{out}/metrics.json"):
        return
    m = json.load(open(f"{out}/metrics.json"))
    newest_first(f"{out}/metrics.json", [f"{out}/per_target.tsv", f"{out}/summary.tsv"])
    for f in ("per_target.tsv", "summary.tsv"):
        if not os.path.exists(f"{out}/{f}"):
            fail(f"{out}/metrics.json present without {f}")
    lines = open(f"{out}/per_target.tsv").read().splitlines()
    if len(lines) != n_targets + 1 or len(m["targets"]) != n_targets:
        fail(f"{out}: metrics.json beside a per_target.tsv of {len(lines) - 1} targets")


def body(text):
    """A table without its comment lines (which record the command line, -o included)."""
    return [l for l in text.splitlines() if not l.startswith("#")]


def check_matches(path, reference):
    if os.path.exists(path) and body(open(path).read()) != body(reference):
        fail(f"{path}: looks finished but differs from an uninterrupted run's")


def check_checkpoints(out):
    """Every checkpoint JSON names weights that exist."""
    for j in ("best.json", "latest.json"):
        p = f"{out}/{j}"
        if os.path.exists(p):
            meta = json.load(open(p))
            for v in meta.values():
                if isinstance(v, str) and v.endswith(".safetensors") and not os.path.exists(f"{out}/{v}"):
                    fail(f"{p} names {v}, which is missing")


def main(bin_dir, work):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    b = lambda name: f"{bin_dir}/ferrosea-{name}"
    ref = f"{work}/ref"
    prep = lambda out: [b("prep"), "--genome", "data/demo/hg19_chr22_26-30Mb.fa.gz", "--targets",
                        "data/demo/targets.tsv", "-o", out, "--valid", "chr22:26000001-26500000",
                        "--test", "chr22:29000001-30000000", "-q"]
    train = lambda out, *how: [b("train"), "--preset", "danq-tiny", "--train", f"{ref}/prep/train.h5",
                               "--valid", f"{ref}/prep/valid.h5", "--out", out, "--epochs", "2",
                               "--steps-per-epoch", "6", *how]
    predict = lambda out: [b("evaluate"), "predict", "--checkpoint", f"{ref}/train", "--data",
                           f"{ref}/prep/test.h5", "-o", out, "-q"]
    metrics = lambda out: [b("evaluate"), "metrics", "--predictions", f"{ref}/test-pred.h5", "-o", out, "-q"]
    compare = lambda out: [b("interpret"), "compare", "--query", f"{ref}/motifs/filters.meme", "--db",
                           "data/motifs/JASPAR2024_CORE_vertebrates_latest.meme.gz", "-o", out, "-q"]

    # The uninterrupted runs: the older outputs, and each stage's duration.
    t = {}
    t["prep"] = run(prep(f"{ref}/prep"))
    expected = {s: rows(f"{ref}/prep/{s}.h5", "x") for s in ("train", "valid", "test")}
    t["train"] = run(train(f"{ref}/train"))
    t["predict"] = run(predict(f"{ref}/test-pred.h5"))
    n_test = expected["test"]
    with h5py.File(f"{ref}/test-pred.h5", "r") as f:
        n_targets = f["pred"].shape[1]
    t["metrics"] = run(metrics(f"{ref}/report"))
    run([b("interpret"), "filters", "--checkpoint", f"{ref}/train", "--data", f"{ref}/prep/test.h5",
         "-o", f"{ref}/motifs", "--min-sites", "1", "-q"])
    t["compare"] = run(compare(f"{ref}/matches.tsv"))
    reference_matches = open(f"{ref}/matches.tsv").read()
    print("kill_check.py: uninterrupted seconds " + ", ".join(f"{k} {v:.1f}" for k, v in t.items()))

    kills = finished = 0
    for i, frac in enumerate(FRACTIONS):
        for older in (False, True):
            d = f"{work}/{i}-{'older' if older else 'fresh'}"
            if older:
                shutil.copytree(ref, d)
            else:
                os.makedirs(d)
            done = [
                killed_run(prep(f"{d}/prep"), t["prep"] * frac),
                killed_run(train(f"{d}/train", "--force") if older else train(f"{d}/train"), t["train"] * frac),
                killed_run(predict(f"{d}/test-pred.h5"), t["predict"] * frac),
                killed_run(metrics(f"{d}/report"), t["metrics"] * frac),
                killed_run(compare(f"{d}/matches.tsv"), t["compare"] * frac),
            ]
            kills += done.count(False)
            finished += done.count(True)
            check_prep(f"{d}/prep", expected)
            check_checkpoints(f"{d}/train")
            check_predictions(f"{d}/test-pred.h5", n_test)
            check_metrics(f"{d}/report", n_targets)
            check_matches(f"{d}/matches.tsv", reference_matches)
            for root, _, files in os.walk(d):
                done_files = [f for f in files if f == "complete"]
                if done_files:
                    fail(f"{root}: a 'complete' marker after a kill")
            # A killed training resumes to its end, leaving no stale checkpoint files.
            if os.path.exists(f"{d}/train/latest.json"):
                run(train(f"{d}/train", "--resume", "-q"))
                left = sorted(f for f in os.listdir(f"{d}/train") if f.endswith(".safetensors"))
                best = [f for f in left if f.startswith("best-")]
                latest = [f for f in left if f.startswith("latest-") and ".optimizer." not in f]
                if len(best) != 1 or len(latest) != 1:
                    fail(f"{d}/train: stale checkpoint files after the resumed run: {left}")
    print(f"kill_check.py: {kills} kills and {finished} runs that finished first, none left a "
          "finished-looking output that was not whole")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
