#!/usr/bin/env bash
# Similarity control's cost (make bench runs it after bench/count.sh; alone:
# bash bench/near.sh): rows 9 and 10 of the Performance table.
#   9. the count job with the embedding tagger (the colour embedder, real
#      photos, CPU) with --near_duplicates against 100,000 test images
#      (DuckDB-written random 3-d vectors: the embedder's width) beside the
#      same run without: the ratio is what the search and its rows cost in
#      the tagging path. Two rounds of each, alternating; medians.
#  10. the exact search alone at a real CLIP width: 32 queries against
#      100,000 512-d test images through ONNX Runtime (CPU),
#      BenchmarkORTSearch, against row 9's images/s.
set -euo pipefail
cd "$(dirname "$0")/.."
CAPTIONS=${CAPTIONS:-../shared/data/laion-captions/test_10000.parquet}
IMAGES=${IMAGES:-../shared/data/images}
RES=bench/results
mkdir -p "$RES" bin
make -s deps >/dev/null
go build -o bin/ ./pipelines/count ./pipelines/synth
IMGDATA=$RES/images-2-2000
if [ ! -f "$IMGDATA/truth.json" ]; then
  rm -rf "$IMGDATA"
  imgs=$(ls "$IMAGES"/*.jpg | paste -sd, -)
  bin/synth --output="$IMGDATA" --captions="$CAPTIONS" --images="$imgs" --shards=2 --samples_per_shard=2000 >/dev/null
fi
EMB=$RES/test_embeddings-100000x3.parquet
if [ ! -f "$EMB" ]; then
  cp bench/duckdb_test_embeddings.mjs .cache/node/
  (cd .cache/node && node duckdb_test_embeddings.mjs "$OLDPWD/$EMB.tmp" 100000 3) && mv "$EMB.tmp" "$EMB"
fi
printf 'red\ngreen\nblue\norange\ncar\n' >"$RES/colours.txt"
TIME=$RES/time-near.txt
run() { # OUT FLAGS...: sets WALL (s), RSS (MiB)
  local out=$1; shift
  rm -rf "$out"
  /usr/bin/time -f '%e %M' -o "$TIME" bin/count --input="$IMGDATA" --output="$out" --overwrite --progress=false \
    --concepts="$RES/colours.txt" --tagger=embedding --model=testdata/models/colour_embedder.onnx \
    --concept_embeddings=testdata/models/colour_concepts.parquet --input_size=384 \
    --ort_lib="$PWD/.cache/onnxruntime/libonnxruntime.so.1" "$@" >/dev/null 2>"$RES/stderr-near.txt" || { cat "$RES/stderr-near.txt"; exit 1; }
  read -r WALL RSS <"$TIME"
  RSS=$((RSS / 1024))
}
med() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
plain=() near=() near_rss=0
for _ in 1 2; do
  run "$RES/out-emb"
  plain+=("$WALL")
  run "$RES/out-emb-near" --near_duplicates="$EMB"
  near+=("$WALL"); [ "$RSS" -gt "$near_rss" ] && near_rss=$RSS
done
n=$(grep -m1 '"samples_read"' "$RES/out-emb/run_stats.json" | tr -dc 0-9)
pw=$(med "${plain[@]}") nw=$(med "${near[@]}")
with=$(awk -v n="$n" -v w="$nw" 'BEGIN{printf "%.0f", n/w}')
without=$(awk -v n="$n" -v w="$pw" 'BEGIN{printf "%.0f", n/w}')
line() { printf "%-46s %12s %24s %7s %16s %9s\n" "$@"; }
line "9 tagging + similarity control (samples/s)" "$with" "$without without" "$(awk -v a="$with" -v b="$without" 'BEGIN{printf "%.2f", a/b}')" "-" "${near_rss} MiB"
go test -c -o "$RES/neardup.test" ./transforms/neardup
CONCEPTFREQ_ORT_LIB="$PWD/.cache/onnxruntime/libonnxruntime.so.1" "$RES/neardup.test" -test.run XXX -test.bench ORTSearch -test.benchtime 20x >"$RES/neardup-bench.txt"
q=$(awk '/BenchmarkORTSearch/ { for (i = 2; i <= NF; i++) if ($i == "queries/s") { printf "%.0f", $(i-1); exit } }' "$RES/neardup-bench.txt")
line "10 search alone, 100,000 × 512-d (queries/s)" "$q" "$with tagged images/s" "$(awk -v a="$q" -v b="$with" 'BEGIN{printf "%.2f", a/b}')" "-" "-"
