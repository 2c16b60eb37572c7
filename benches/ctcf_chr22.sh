#!/usr/bin/env bash
# Attributions of a real model: CTCF on the real chr22 (../shared/data), end to end with the
# release binaries.
#
# Labels chr22 (DeepSEA's rule; windows of 1000 bp around 200 bp bins; only bins positive
# for some target; test: chr22:44,000,001-51,304,566, validation: chr22:40,000,001-44,000,000,
# training: the rest) with CTCF (the union of the ENCODE-DREAM CTCF peaks of seven cell lines,
# one target), the other 102 ENCODE-DREAM TF peak files and A549's DNase peaks; trains
# DeepBind's layout (64 filters of 20 bp, a global max pool, a dense layer of 64) with its
# first-layer filters started from the JASPAR 2024 motifs of the ENCODE-DREAM TFs, both
# strands (DanQ-JASPAR's initialisation; from random filters, chr22's ~900 CTCF-positive
# training windows do not teach it CTCF: test ROC AUC 0.53, where a scan with the CTCF PWM
# reaches 0.8); attributes every test window positive for CTCF by DeepLIFT/SHAP (20
# dinucleotide shuffles each), finds seqlets and motifs in the attributions and compares them
# with JASPAR 2024. Passes when the positive motif with most seqlets has a CTCF matrix
# (MA0139, MA1929, MA1930, MA1102 CTCFL) as its best match, q < 0.05.
#
#   benches/ctcf_chr22.sh [OUT]      (default OUT: target/ctcf-chr22; about 5 min on 2 cores)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/target/ctcf-chr22}
shared=$root/../shared/data
peaks=$shared/peaks/encode_dream_tf_hg19
bin=$root/target/release
cargo build --release -q --manifest-path "$root/Cargo.toml" \
    -p ferrosea-prep -p ferrosea-train -p ferrosea-evaluate -p ferrosea-interpret
mkdir -p "$out"
started=$SECONDS
if [ ! -s "$out/chr22.fa" ]; then
    zcat "$shared/genome/hg19_chr22_partial.fa.gz" > "$out/chr22.fa.tmp" && mv "$out/chr22.fa.tmp" "$out/chr22.fa"
fi
zcat "$peaks"/ChIPseq.*.CTCF.*.narrowPeak.gz | gzip > "$out/ctcf_union.narrowPeak.gz"
{
    printf 'name\tcategory\tpath\n'
    printf 'CTCF|union\tTF\t%s\n' "$out/ctcf_union.narrowPeak.gz"
    printf 'A549|DNase\tDNase\t%s\n' "$shared/peaks/dnase_hg19/DNASE.A549.conservative.narrowPeak.gz"
    for f in "$peaks"/ChIPseq.*.narrowPeak.gz; do
        b=$(basename "$f"); b=${b#ChIPseq.}; cell=${b%%.*}; tf=${b#"$cell".}; tf=${tf%%.*}
        [ "$tf" = CTCF ] || printf '%s|%s\tTF\t%s\n' "$cell" "$tf" "$f"
    done
} > "$out/targets.tsv"
# The JASPAR 2024 motifs of the ENCODE-DREAM TFs (the first matrix of each name).
python3 - "$root/data/motifs/JASPAR2024_CORE_vertebrates_latest.meme.gz" "$peaks/MANIFEST.tsv" > "$out/encode_tfs.meme" <<'PY'
import gzip, sys
tfs = sorted({l.split("\t")[2] for l in open(sys.argv[2]) if not l.startswith("file") and l.count("\t") > 1})
head, *blocks = gzip.open(sys.argv[1], "rt").read().split("\nMOTIF ")
kept = [next(b for b in blocks if b.split()[1].upper() == tf.upper()) for tf in tfs if any(b.split()[1].upper() == tf.upper() for b in blocks)]
print("\nMOTIF ".join([head] + kept))
PY
if [ ! -s "$out/prep/test.h5" ]; then
    "$bin/ferrosea-prep" -q --genome "$out/chr22.fa" --targets "$out/targets.tsv" -o "$out/prep" \
        --keep positive --valid chr22:40000001-44000000 --test chr22:44000001-51304566 2>/dev/null
fi
cat > "$out/recipe.json" <<'JSON'
{
  "_about": "DeepBind's layout with 64 filters of 20 bp, for the ENCODE-DREAM TFs on chr22",
  "model": {"arch": "layers", "init": "torch", "layers": [
    {"kind": "conv", "filters": 64, "width": 20, "activation": "relu", "pool": "global-max"},
    {"kind": "dense", "units": 64, "activation": "relu"}
  ]},
  "optimizer": {"kind": "adam", "lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0},
  "batch_size": 64,
  "epochs": 20
}
JSON
if [ ! -f "$out/train/complete" ]; then
    "$bin/ferrosea-train" -q --train "$out/prep/train.h5" --valid "$out/prep/valid.h5" \
        --config "$out/recipe.json" --init-filters "$out/encode_tfs.meme" --reverse-complement \
        -o "$out/train" --force
fi
"$bin/ferrosea-evaluate" predict -q --checkpoint "$out/train" --data "$out/prep/test.h5" --out "$out/test-predictions.h5"
"$bin/ferrosea-evaluate" metrics -q --predictions "$out/test-predictions.h5" --out "$out/test-metrics" --no-plots
awk -F'\t' 'NR == 1 {for (i = 1; i <= NF; i++) c[$i] = i} $c["name"] ~ /CTCF/ {print "trained; test ROC AUC", $c["name"], $c["roc_auc"], "(" $c["n_pos"] " positive windows)"}' "$out/test-metrics/per_target.tsv"
t='CTCF|union'
"$bin/ferrosea-interpret" attribute -q --checkpoint "$out/train" --data "$out/prep/test.h5" \
    --targets "$t" --positives "$t" --method deeplift-shap --references 20 -o "$out/attributions.h5"
"$bin/ferrosea-interpret" seqlets -q --attributions "$out/attributions.h5" -o "$out/seqlets.tsv"
"$bin/ferrosea-interpret" motifs -q --attributions "$out/attributions.h5" --seqlets "$out/seqlets.tsv" \
    --min-seqlets 10 -o "$out/motifs"
"$bin/ferrosea-interpret" compare -q --query "$out/motifs/motifs.meme" -o "$out/motifs/matches.tsv"
"$bin/ferrosea-interpret" report -q --motifs "$out/motifs" --matches "$out/motifs/matches.tsv" -o "$out/motifs/report.html"
grep '^# threshold' "$out/seqlets.tsv"
cut -f1-6 "$out/motifs/motifs.tsv"
top=$(awk -F'\t' 'NR > 1 && $3 == "+" {print $1; exit}' "$out/motifs/motifs.tsv")
best=$(awk -F'\t' -v q="$top" '$1 == q {print $2 "\t" $11 "\t" $6; exit}' "$out/motifs/matches.tsv")
echo "top positive motif $top: best match $best ($((SECONDS - started)) s in all; page: $out/motifs/report.html)"
case "$best" in
    MA0139*|MA1929*|MA1930*|MA1102*) awk -v b="$best" 'BEGIN{split(b, f, "\t"); exit !(f[3] + 0 < 0.05)}' ;;
    *) echo "FAIL: the top motif's best match is not a CTCF matrix" >&2; exit 1 ;;
esac
echo "PASS"
