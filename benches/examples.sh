#!/usr/bin/env bash
# The course's prototype examples (docs/EXAMPLES.md), end to end with the release binaries:
# writes the datasets, trains every recipe, and prints the test figures the document quotes.
#
#   benches/examples.sh [OUT]        (default OUT: target/examples; about 40 min on 2 cores)
#
# Example 3 trains 700 epochs per model and is scored after 100, 300, 500 and 700 (the
# course's checkpoints), resuming the same run: `--resume --epochs N` continues it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/target/examples}
bin=$root/target/release
cargo build --release -q --manifest-path "$root/Cargo.toml" \
    -p ferrosea-prep -p ferrosea-train -p ferrosea-evaluate -p ferrosea-interpret
mkdir -p "$out"
"$bin/ferrosea-prep" simulate-examples -o "$out"

# test accuracy (0/1 labels: probability >= 0.5; classes: most probable class)
score() { # checkpoint data outdir
    "$bin/ferrosea-evaluate" predict -q --checkpoint "$1" --data "$2" --out "$3.h5"
    "$bin/ferrosea-evaluate" metrics -q --predictions "$3.h5" --out "$3" --no-plots --threshold 0.5
    awk -F'\t' 'NR==1{for(i=1;i<=NF;i++)c[$i]=i} $1=="all"{print $c["accuracy"]}' "$3/summary.tsv"
}

echo "== 1. motif detection (test: 40 sequences)"
d=$out/motif-detection
for m in rnn conv; do
    "$bin/ferrosea-train" -q --train "$d/train.h5" --valid "$d/valid.h5" --config "$d/$m.json" --out "$d/$m" --force
    echo "$m test accuracy $(score "$d/$m/latest.json" "$d/test.h5" "$d/$m-test")"
done

echo "== 2. motif discovery: the Conv1D's filters over the positive test sequences, width 7"
"$bin/ferrosea-interpret" filters -q --checkpoint "$d/conv/latest.json" --data "$d/test.h5" \
    --out "$d/conv-filters" --only-positive --window 7 --min-sites 1
cut -f1,2,5 "$d/conv-filters/filters.tsv"

echo "== 3. vanishing gradients: next-character accuracy on the test sequences"
d=$out/next-character
for m in rnn lstm; do
    (
        again=(--force)
        for e in 100 300 500 700; do
            "$bin/ferrosea-train" -q -j 1 --train "$d/train.h5" --valid "$d/valid.h5" \
                --config "$d/$m.json" --out "$d/$m" --epochs "$e" "${again[@]}"
            again=(--resume)
            echo "$m epoch $e test accuracy $(score "$d/$m/latest.json" "$d/test.h5" "$d/$m-test-$e")"
        done
    ) > "$d/$m.log" 2>&1 &
done
wait
cat "$d/rnn.log" "$d/lstm.log"

echo "== 4. ten JASPAR motifs and a class without: softmax DanQ"
d=$out/motif-classes
"$bin/ferrosea-train" -q --train "$d/train.h5" --valid "$d/valid.h5" --config "$d/danq.json" --out "$d/danq" --force
"$bin/ferrosea-evaluate" predict -q --checkpoint "$d/danq" --data "$d/test.h5" --out "$d/danq-test.h5"
"$bin/ferrosea-evaluate" metrics -q --predictions "$d/danq-test.h5" --out "$d/danq-test" --no-plots
cut -f1,5,7 "$d/danq-test/per_target.tsv"
awk -F'\t' '$1=="all"' "$d/danq-test/summary.tsv"
"$bin/ferrosea-interpret" filters -q --checkpoint "$d/danq" --data "$d/test.h5" --out "$d/danq-filters"
"$bin/ferrosea-interpret" compare -q --query "$d/danq-filters/filters.meme" --out "$d/danq-compare.tsv"
echo "JASPAR IDs matched by some filter (q < 0.05):"
for id in MA0139.2 MA0035.5 MA0079.5 MA0102.5 MA0106.3 MA0098.4 MA0113.4 MA0108.3 MA0114.5 MA0148.5; do
    printf '%s %s\n' "$id" "$(awk -F'\t' -v id="$id" '$2==id && $6<0.05{n++} END{print n+0}' "$d/danq-compare.tsv")"
done
