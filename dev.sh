#!/usr/bin/env bash
# ferrosea's two commands, each doing its own set-up on a fresh Debian 12 machine with Rust:
#
#   ./dev.sh demo   build, then run the pipeline on the embedded demo data (data/demo)
#   ./dev.sh test   build and run every test (Rust, plus the h5py and scikit-learn oracles)
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
    cargo build --release -p ferrosea-prep -p ferrosea-train -p ferrosea-evaluate -p ferrosea-interpret "${CARGO_FEATURES[@]}"
    local out=demo-out/prep
    ./target/release/ferrosea-prep \
        --genome data/demo/hg19_chr22_26-30Mb.fa.gz --targets data/demo/targets.tsv -o "$out" \
        --valid chr22:26000001-26500000 --test chr22:29000001-30000000 --reverse-complement
    say "prep done: $out/train.h5, $out/valid.h5, $out/test.h5 (format: docs/FORMAT.md), report: $out/prep.json"
    ./target/release/ferrosea-train --preset danq-tiny --epochs 5 --force \
        --train "$out/train.h5" --valid "$out/valid.h5" --out demo-out/train
    say "train done: demo-out/train/best.json (+ weights), metrics.tsv (format: docs/TRAINING.md)"
    ./target/release/ferrosea-evaluate predict --checkpoint demo-out/train --data "$out/test.h5" \
        -o demo-out/test-predictions.h5 --rc-average
    ./target/release/ferrosea-evaluate metrics --predictions demo-out/test-predictions.h5 \
        -o demo-out/report
    say "evaluate done: demo-out/test-predictions.h5, demo-out/report/ (per_target.tsv, summary.tsv, plots/; docs/EVALUATION.md)"
    ./target/release/ferrosea-interpret filters --checkpoint demo-out/train --data "$out/test.h5" \
        -o demo-out/motifs --influence 200
    ./target/release/ferrosea-interpret compare --query demo-out/motifs/filters.meme \
        -o demo-out/motifs/matches.tsv
    ./target/release/ferrosea-interpret report --motifs demo-out/motifs \
        --matches demo-out/motifs/matches.tsv -o demo-out/motifs/report.html
    say "interpret done: demo-out/motifs/ (filters.meme, logos/, matches.tsv, report.html; docs/INTERPRETATION.md)"
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
    venv h5py numpy scipy scikit-learn:sklearn memelite
    export FERROSEA_PYTHON="$PWD/.venv/bin/python"
    cargo test --workspace "${CARGO_FEATURES[@]}"
    cuda_check
}

case "${1:-}" in
    demo) demo ;;
    test) test ;;
    cuda-check) hdf5; cuda_check ;;
    *) echo "usage: ./dev.sh demo|test|cuda-check" >&2; exit 2 ;;
esac
