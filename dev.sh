#!/usr/bin/env bash
# ferrosea's two commands, each doing its own set-up on a fresh Debian 12 machine with Rust:
#
#   ./dev.sh demo   build, then run the Snakemake pipeline on the embedded demo data (data/demo)
#   ./dev.sh test   build and run every test (Rust, the Python oracles, the workflow)
#
# Set-up: libhdf5 from apt when missing (as root or with passwordless sudo); otherwise HDF5 is
# built from source into the binaries (needs cmake, taken from PyPI into .venv). Python
# packages for the test oracles (h5py, numpy, scipy, scikit-learn, memelite) go into .venv.
# Set HDF5_DIR to use an HDF5 of your own (a cluster module or a conda environment).
set -euo pipefail
cd "$(dirname "$0")"

say() { printf 'dev.sh: %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"
    else return 1
    fi
}

apt_install() {
    command -v apt-get >/dev/null || return 1
    say "installing $* with apt-get"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# A Python virtual environment in .venv with the given packages (PACKAGE or PACKAGE:MODULE
# when the import name differs).
venv() {
    if [ ! -x .venv/bin/python ]; then
        if ! python3 -m venv .venv 2>/dev/null; then
            rm -rf .venv
            apt_install python3 python3-venv || { say "error: need python3 with venv (apt-get install python3-venv)"; exit 1; }
            python3 -m venv .venv
        fi
    fi
    local missing=()
    for p in "$@"; do
        local module=${p#*:}
        .venv/bin/python -c "import ${module%%[=<>]*}" 2>/dev/null || missing+=("${p%%:*}")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing ${missing[*]} into .venv"
        .venv/bin/pip install -q --disable-pip-version-check "${missing[@]}"
    fi
}

# Sets CARGO_FEATURES so that the build finds (or builds) libhdf5.
hdf5() {
    CARGO_FEATURES=()
    if [ -n "${HDF5_DIR:-}" ] || pkg-config --exists hdf5 2>/dev/null; then return; fi
    if apt_install libhdf5-dev pkg-config; then return; fi
    say "no libhdf5 and no root: building HDF5 from source (static; cmake from PyPI)"
    venv cmake
    export PATH="$PWD/.venv/bin:$PATH"
    CARGO_FEATURES=(--features ferrosea-dataset/hdf5-static)
}

demo() {
    hdf5
    venv snakemake
    cargo build --release -p ferrosea-prep -p ferrosea-train -p ferrosea-evaluate -p ferrosea-interpret -p ferrosea-analyze "${CARGO_FEATURES[@]}"
    # The whole pipeline (workflows/Snakefile) on the embedded demo data
    # (workflows/config/config.yaml): prep -> train -> predict -> metrics -> filters -> compare -> report,
    # and the demo's variants (data/demo/variants.vcf.gz, scattered over 2 jobs and gathered, with a
    # background) and bigWig tracks (ferrosea-analyze); it ends by printing where everything is.
    .venv/bin/snakemake -s workflows/Snakefile --cores all --rerun-incomplete --quiet rules
}

# Lints the workflow and runs it for real, with the debug binaries and a short training, into
# target/workflow-check (a clean run each time).
workflow_check() {
    venv snakemake
    say "checking the Snakemake workflow (lint, then a real run on the demo data)"
    # Every lint but "use conda or a container" (the rules call ferrosea's own binaries).
    local lints
    lints=$(.venv/bin/snakemake -s workflows/Snakefile --lint 2>&1 | grep -E '^ +\* ' | grep -v 'conda environment or container' || true)
    if [ -n "$lints" ]; then say "error: workflow lint:"; printf '%s\n' "$lints" >&2; exit 1; fi
    local out=target/workflow-check cfg=target/workflow-check.yaml
    rm -rf "$out"
    sed -e "s|^out: .*|out: $out|" -e 's|^bin_dir: .*|bin_dir: target/debug|' \
        -e 's|^  epochs: .*|  epochs: 2|' -e 's|^  influence: .*|  influence: 50|' \
        workflows/config/config.yaml > "$cfg"
    local smk=(.venv/bin/snakemake -s workflows/Snakefile --configfile "$cfg" --cores 2 --quiet all)
    # A run killed during training (after its first checkpoint) must resume, not start over.
    setsid "${smk[@]}" > "$out.log" 2>&1 &
    local pid=$! waited=0
    until [ -f "$out/train/latest.json" ] || ! kill -0 $pid 2>/dev/null || [ $waited -ge 600 ]; do
        sleep 0.2; waited=$((waited + 1))
    done
    kill -TERM -- -$pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
    [ ! -f "$out/train/complete" ] || { say "error: the killed training was marked complete"; exit 1; }
    "${smk[@]}" --rerun-incomplete
    grep -q "resuming" "$out/logs/train.log" || { say "error: the killed training did not resume"; exit 1; }
    [ "$(grep -c . "$out/train/metrics.tsv")" = 3 ] || { say "error: $out/train/metrics.tsv lacks epochs"; exit 1; }
    # Rerunning a finished training (Snakemake deletes its declared outputs first) must succeed.
    "${smk[@]}" --forcerun train
    for f in train/best.json report/metrics.json report/plots/roc_curves.png motifs/report.html motifs/matches.tsv \
        background/background.h5 variants/variants.h5 variants/annotated.vcf.gz variants/skipped.tsv \
        variants/variants_{diffs,abs_diffs,logits}.tsv variants/variants.{ref,alt}_predictions.tsv \
        variants/summary.json tracks/regions.h5 tracks/summary.json tracks/H1-hESC_CTCF.bw tracks/A549_DNase.bw; do
        [ -s "$out/$f" ] || { say "error: the workflow did not write $out/$f"; exit 1; }
    done
    for f in "$out"/tracks/*.bw; do
        [ "$(od -An -tx1 -N4 "$f" | tr -d ' ')" = 26fc8f88 ] || { say "error: $f is not a bigWig file"; exit 1; }
    done
    scatter_gather_check "$out" "$cfg"
}

# Scatter-gather: the demo's variants scored in 3 chunks and in 1 (each a real run of the
# variants rules into the workflow check's output) must give the same bytes as the demo run's
# 2 chunks, every file but summary.json (times, command lines); the summaries' counts agree.
# $1: the workflow check's output, $2: its config (variants.chunks: 2).
scatter_gather_check() {
    local out=$1 cfg=$2 v=$1/variants n f started=$SECONDS
    grep -q '^  chunks: 2$' "$cfg" || { say "error: $cfg does not set variants.chunks: 2"; exit 1; }
    rm -rf "$v.2" "$v.3" "$v.1"
    mv "$v" "$v.2"
    for n in 3 1; do
        sed -e "s|^  chunks: 2$|  chunks: $n|" "$cfg" > "$cfg.$n"
        .venv/bin/snakemake -s workflows/Snakefile --configfile "$cfg.$n" --cores 2 --quiet all -- "$v/summary.json"
        mv "$v" "$v.$n"
    done
    [ -d "$v.3/chunks/3" ] && [ ! -d "$v.1/chunks" ] || { say "error: the variants were not scattered as configured"; exit 1; }
    local files
    files=$(cd "$v.1" && find . -type f ! -name summary.json | sort)
    [ "$(echo "$files" | wc -l)" -ge 8 ] || { say "error: $v.1 lacks outputs: $files"; exit 1; }
    for n in 2 3; do
        [ "$(cd "$v.$n" && find . -path ./chunks -prune -o -type f ! -name summary.json -print | sort)" = "$files" ] ||
            { say "error: $v.$n and $v.1 hold different files"; exit 1; }
        for f in $files; do
            cmp "$v.1/$f" "$v.$n/$f" || { say "error: $n chunks and 1 differ in $f"; exit 1; }
        done
    done
    .venv/bin/python - "$v".{1,2,3}/summary.json <<'PY' || { say "error: the summaries of 1, 2 and 3 chunks disagree"; exit 1; }
import json, sys
keys = ("records", "alleles", "scored", "skipped", "ref_mismatch", "contains_unk", "targets")
s = [{k: json.load(open(p))[k] for k in keys} for p in sys.argv[1:]]
assert s[0]["records"] > 0 and s[0]["scored"] > 0, s[0]
assert s[0] == s[1] == s[2], s
PY
    mv "$v.2" "$v"
    say "scatter-gather: 3 chunks, 2 and 1 give the same bytes ($(echo "$files" | wc -l) files, $((SECONDS - started)) s)"
}

# SIGKILL at several points of prep, train, predict, metrics and compare, over fresh and over
# older outputs: nothing left may look finished unless it is whole (tests/python/kill_check.py).
kill_check() {
    say "the kill test: SIGKILL each stage at several points, over fresh and older outputs"
    .venv/bin/python tests/python/kill_check.py target/debug target/kill-check
}

# The end-to-end truth test: a simulated genome with JASPAR motifs planted at known places
# (ferrosea-prep simulate), the whole workflow on it, and a check that the planted targets
# are predicted (ROC AUC) and the planted motifs found among the learned filters (compare).
# $1: the binaries' directory (target/debug in the tests, target/release for users).
truth_check() {
    local bin=$1 out=target/truth-check
    venv snakemake
    say "the end-to-end truth test: simulate, run the workflow, check against the truth"
    rm -rf "$out"
    "$bin/ferrosea-prep" simulate --motifs data/motifs/JASPAR2024_CORE_vertebrates_latest.meme.gz \
        --ids MA0139.2,MA0138.3,MA0106.3 -o "$out"
    sed -i "s|^bin_dir: .*|bin_dir: $bin|" "$out/config.yaml"
    .venv/bin/snakemake -s workflows/Snakefile --configfile "$out/config.yaml" --cores 2 --quiet rules -- all truth
    say "truth test passed: $out/run/truth.tsv"
}

# Checks that the CUDA and NCCL code compiles, with no GPU: nvcc, the CUDA headers and
# libcu++ come from PyPI into .venv-cuda (CUDA 13.0: the newest the cudarc of candle 0.11.1
# knows); the kernels are built for sm_90 (H100/H200). Own target directory, so that the
# CPU build is not rebuilt afterwards.
cuda_check() {
    local v=.venv-cuda pkgs=(nvidia-cuda-nvcc==13.0.88 nvidia-cuda-runtime==13.0.96
        nvidia-cuda-crt==13.0.88 nvidia-nvvm==13.0.88 nvidia-cuda-cccl==13.0.85)
    if [ ! -x "$v/bin/python" ]; then python3 -m venv "$v" || { rm -rf "$v"; apt_install python3-venv; python3 -m venv "$v"; }; fi
    local cu
    cu=$("$v/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/nvidia/cu13
    if [ ! -x "$cu/bin/nvcc" ] || [ ! -d "$cu/include/nv" ]; then
        say "installing nvcc and the CUDA headers from PyPI into $v (for the cuda/nccl compile check)"
        "$v/bin/pip" install -q --disable-pip-version-check --no-deps "${pkgs[@]}"
    fi
    say "checking that the cuda and nccl code compiles (no GPU needed)"
    PATH="$cu/bin:$PATH" CUDA_ROOT="$cu" CUDA_PATH="$cu" CUDA_COMPUTE_CAP=90 \
        cargo check -p ferrosea-train --features nccl --target-dir target/cuda-check "${CARGO_FEATURES[@]}"
}

test() {
    hdf5
    venv h5py numpy scipy scikit-learn:sklearn memelite pyBigWig pyyaml:yaml
    export FERROSEA_PYTHON="$PWD/.venv/bin/python"
    cargo test --workspace "${CARGO_FEATURES[@]}"
    say "building the API documentation (cargo doc; a broken link or a warning fails)"
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps "${CARGO_FEATURES[@]}"
    cargo build -p ferrosea-prep -p ferrosea-train -p ferrosea-evaluate -p ferrosea-interpret -p ferrosea-analyze "${CARGO_FEATURES[@]}"
    workflow_check
    kill_check
    truth_check target/debug
    cuda_check
}

case "${1:-}" in
    demo) demo ;;
    test) test ;;
    cuda-check) hdf5; cuda_check ;;
    kill-check) hdf5; venv h5py; cargo build -p ferrosea-prep -p ferrosea-train -p ferrosea-evaluate -p ferrosea-interpret -p ferrosea-analyze "${CARGO_FEATURES[@]}"; kill_check ;;
    workflow-check) hdf5; cargo build -p ferrosea-prep -p ferrosea-train -p ferrosea-evaluate -p ferrosea-interpret -p ferrosea-analyze "${CARGO_FEATURES[@]}"; workflow_check ;;
    truth) hdf5; cargo build --release -p ferrosea-prep -p ferrosea-train -p ferrosea-evaluate -p ferrosea-interpret -p ferrosea-analyze "${CARGO_FEATURES[@]}"; truth_check target/release ;;
    *) echo "usage: ./dev.sh demo|test|truth|cuda-check|workflow-check|kill-check" >&2; exit 2 ;;
esac
