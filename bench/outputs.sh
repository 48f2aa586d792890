#!/usr/bin/env bash
# Writes the count job's and the fit's row outputs for a fixed set of inputs
# into DIR, for a byte-for-byte comparison of two builds (a restructure must
# not change a byte):
#
#   bash bench/outputs.sh /tmp/before            # at the old commit
#   bash bench/outputs.sh /tmp/after             # at the new one
#   bash bench/outputs.sh --compare /tmp/before /tmp/after
#
# Inputs: the bundled shards (every rule), the 10,000 real LAION captions of
# ../shared/data (all-words, phrase, nouns, study), the planted image set
# (testdata/tagging, multilabel and embedding taggers, scores saved and
# recounted), and the study's fits. Compared: concept_counts.parquet, every
# Parquet part of rejects/, sample_concepts/ and image_scores/, and the fit's
# Parquet tables (run_stats.json and report.html hold times and are left out).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--compare" ]; then
  a=$2 b=$3 bad=0
  for f in $(cd "$a" && find . -name '*.parquet' | sort); do
    if ! cmp -s "$a/$f" "$b/$f"; then echo "differs: $f"; bad=1; fi
  done
  for f in $(cd "$b" && find . -name '*.parquet' | sort); do
    [ -e "$a/$f" ] || { echo "only in $b: $f"; bad=1; }
  done
  n=$(cd "$a" && find . -name '*.parquet' | wc -l)
  [ "$bad" = 0 ] && echo "identical: $n Parquet files"
  exit $bad
fi
out=${1:?usage: bash bench/outputs.sh DIR | --compare DIR1 DIR2}
rm -rf "$out" && mkdir -p "$out"
go build -o "$out/bin/" ./pipelines/count ./pipelines/fit
count() { "$out/bin/count" --progress=false "$@" >/dev/null; }
laion=../shared/data/laion-captions/test_10000.parquet
for rule in all-words phrase study; do
  count --output="$out/bundled-$rule" --match=$rule
  count --output="$out/laion-$rule" --match=$rule --input=$laion
done
count --output="$out/bundled-samples" --emit_samples
count --output="$out/laion-nouns" --pos=nouns --input=$laion --emit_samples
count --output="$out/tag-multilabel" --input=testdata/tagging --concepts=testdata/tagging/vocabulary.txt \
  --model=testdata/models/colour_tagger.onnx --emit_scores --emit_samples
count --output="$out/tag-recount" --input=testdata/tagging --concepts=testdata/tagging/vocabulary.txt \
  --scores="$out/tag-multilabel" --threshold=0.9
count --output="$out/tag-embedding" --input=testdata/tagging --concepts=testdata/tagging/vocabulary.txt --tagger=embedding \
  --model=testdata/models/colour_embedder.onnx --concept_embeddings=testdata/models/colour_concepts.parquet --emit_samples
"$out/bin/fit" --paper=../shared/data/paper --output="$out/fit" --bootstrap=100 >/dev/null
"$out/bin/fit" --paper=../shared/data/paper --counts="$out/laion-all-words/concept_counts.parquet" \
  --counts_pretraining=laion400m --count_kind=text --output="$out/fit-counts" --bootstrap=100 >/dev/null
rm -rf "$out/bin"
echo "wrote $out"
