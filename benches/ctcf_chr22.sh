#!/usr/bin/env bash
# Attributions of a real model: CTCF on the real chr22 (../shared/data), end to end with the
# release binaries. Labels chr22 with the ENCODE-DREAM CTCF peaks of seven cell lines (every
# 200 bp bin, windows of 1000 bp; test: chr22:36,000,001-51,304,566, validation:
# chr22:32,000,001-36,000,000), trains DeepBind's layout (the simulation's recipe: 32 filters
# of 20 bp, a global max pool, a dense layer), attributes the first 1,000 test windows
# positive for K562's CTCF by DeepLIFT/SHAP (10 dinucleotide shuffles each), finds seqlets
# and motifs and compares them with JASPAR 2024. Passes when the positive motif with most
# seqlets has a CTCF matrix (MA0139, MA1929, MA1930, MA1102 CTCFL) as its best match, q < 0.05.
#
#   benches/ctcf_chr22.sh [OUT]      (default OUT: target/ctcf-chr22; about 15 min on 2 cores)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/target/ctcf-chr22}
shared=$root/../shared/data
bin=$root/target/release
cargo build --release -q --manifest-path "$root/Cargo.toml" \
    -p ferrosea-prep -p ferrosea-train -p ferrosea-interpret -p ferrosea-prep
mkdir -p "$out"
started=$SECONDS
if [ ! -s "$out/chr22.fa" ]; then
    zcat "$shared/genome/hg19_chr22_partial.fa.gz" > "$out/chr22.fa.tmp" && mv "$out/chr22.fa.tmp" "$out/chr22.fa"
fi
{
    printf 'name\tcategory\tpath\n'
    for cell in A549 H1-hESC HeLa-S3 HepG2 IMR-90 K562 MCF-7; do
        printf '%s|CTCF\tTF\t%s\n' "$cell" "$shared/peaks/encode_dream_tf_hg19/ChIPseq.$cell.CTCF.conservative.train.narrowPeak.gz"
    done
} > "$out/targets.tsv"
if [ ! -s "$out/prep/test.h5" ]; then
    "$bin/ferrosea-prep" -q --genome "$out/chr22.fa" --targets "$out/targets.tsv" -o "$out/prep" \
        --keep all --valid chr22:32000001-36000000 --test chr22:36000001-51304566
fi
cat > "$out/recipe.json" <<'JSON'
{
  "_about": "DeepBind's layout with 32 filters of 20 bp (the simulation's recipe), for CTCF on chr22",
  "model": {"arch": "layers", "init": "torch", "layers": [
    {"kind": "conv", "filters": 32, "width": 20, "activation": "relu", "pool": "global-max"},
    {"kind": "dense", "units": 32, "activation": "relu"}
  ]},
  "optimizer": {"kind": "adam", "lr": 0.003, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0},
  "batch_size": 64,
  "epochs": 3
}
JSON
if [ ! -f "$out/train/complete" ]; then
    "$bin/ferrosea-train" -q --train "$out/prep/train.h5" --valid "$out/prep/valid.h5" \
        --config "$out/recipe.json" -o "$out/train" --force
fi
echo "trained in $((SECONDS - started)) s; validation:"
tail -1 "$out/train/metrics.tsv"
t='K562|CTCF'
"$bin/ferrosea-interpret" attribute -q --checkpoint "$out/train" --data "$out/prep/test.h5" \
    --targets "$t" --positives "$t" --rows 1000 --method deeplift-shap --references 10 \
    -o "$out/attributions.h5"
"$bin/ferrosea-interpret" seqlets -q --attributions "$out/attributions.h5" -o "$out/seqlets.tsv"
"$bin/ferrosea-interpret" motifs -q --attributions "$out/attributions.h5" --seqlets "$out/seqlets.tsv" -o "$out/motifs"
"$bin/ferrosea-interpret" compare -q --query "$out/motifs/motifs.meme" -o "$out/motifs/matches.tsv"
"$bin/ferrosea-interpret" report -q --motifs "$out/motifs" --matches "$out/motifs/matches.tsv" -o "$out/motifs/report.html"
grep '^# threshold' "$out/seqlets.tsv"
cut -f1-6 "$out/motifs/motifs.tsv"
top=$(awk -F'\t' 'NR > 1 && $3 == "+" {print $1; exit}' "$out/motifs/motifs.tsv")
best=$(awk -F'\t' -v q="$top" '$1 == q {print $2 "\t" $11 "\t" $6; exit}' "$out/motifs/matches.tsv")
echo "top positive motif $top: best match $best ($((SECONDS - started)) s in all; page: $out/motifs/report.html)"
case "$best" in
    MA0139*|MA1929*|MA1930*|MA1102*) awk -F'\t' -v b="$best" 'BEGIN{split(b, f, "\t"); exit !(f[3] < 0.05)}' ;;
    *) echo "FAIL: the top motif's best match is not a CTCF matrix" >&2; exit 1 ;;
esac
echo "PASS"
