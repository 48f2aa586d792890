#!/usr/bin/env bash
# Throughput of the count job on the prism runner, per match mode.
#
#   bash bench/count.sh            # 200,000 samples (10,000 real LAION captions cycled)
#   SAMPLES_PER_SHARD=5000 SHARDS=4 bash bench/count.sh
#
# Prints a table; raw outputs go to bench/results/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARDS=${SHARDS:-8}
SAMPLES_PER_SHARD=${SAMPLES_PER_SHARD:-25000}
CAPTIONS=${CAPTIONS:-../shared/data/laion-captions/test_10000.parquet}
RES=bench/results
DATA=$RES/data-$SHARDS-$SAMPLES_PER_SHARD
mkdir -p "$RES" bin
go build -o bin/ ./pipelines/count ./pipelines/synth
if [ ! -f "$DATA/truth.json" ]; then
  rm -rf "$DATA"
  bin/synth --output="$DATA" --captions="$CAPTIONS" --shards="$SHARDS" --samples_per_shard="$SAMPLES_PER_SHARD" >/dev/null
fi
bytes=$(du -sb "$DATA" | cut -f1)
printf "%-22s %10s %8s %12s %20s\n" mode samples wall_s samples/s samples_with_concept
for mode in "all-words none" "phrase none" "all-words nouns"; do
  set -- $mode
  out=$RES/out-$1-$2
  start=$(date +%s.%N)
  bin/count --input="$DATA" --output="$out" --overwrite --match="$1" --pos="$2" >/dev/null 2>"$RES/stderr.txt" || { cat "$RES/stderr.txt"; exit 1; }
  end=$(date +%s.%N)
  samples=$(grep -m1 '"samples_read"' "$out/run_stats.json" | tr -dc 0-9)
  matched=$(grep -m1 '"samples_with_concept"' "$out/run_stats.json" | tr -dc 0-9)
  awk -v m="$1/pos=$2" -v n="$samples" -v s="$start" -v e="$end" -v k="$matched" \
    'BEGIN { w = e - s; printf "%-22s %10d %8.2f %12.0f %20d\n", m, n, w, n / w, k }'
done
# Image side: real photos (img2dataset's test images, cycled) through the
# colour test model at 384×384 on the CPU build of ONNX Runtime.
IMGDATA=$RES/images-2-2000
if [ ! -f "$IMGDATA/truth.json" ]; then
  rm -rf "$IMGDATA"
  imgs=$(ls ../shared/data/images/*.jpg | paste -sd, -)
  bin/synth --output="$IMGDATA" --captions="$CAPTIONS" --images="$imgs" --shards=2 --samples_per_shard=2000 >/dev/null
fi
bash models/install_ort.sh
out=$RES/out-images
start=$(date +%s.%N)
bin/count --input="$IMGDATA" --output="$out" --overwrite --model=testdata/models/colour_tagger.onnx --input_size=384 \
  --ort_lib="$PWD/.cache/onnxruntime/libonnxruntime.so.1" >/dev/null 2>"$RES/stderr.txt" || { cat "$RES/stderr.txt"; exit 1; }
end=$(date +%s.%N)
samples=$(grep -m1 '"samples_read"' "$out/run_stats.json" | tr -dc 0-9)
tagged=$(grep -m1 '"images_tagged"' "$out/run_stats.json" | tr -dc 0-9)
awk -v n="$samples" -v k="$tagged" -v s="$start" -v e="$end" \
  'BEGIN { w = e - s; printf "%-22s %10d %8.2f %12.0f %20s\n", "images (384px, cpu)", n, w, n / w, k " tagged" }'
echo "data: $SHARDS shards, $(( bytes / 1024 / 1024 )) MiB, default vocabulary; wall includes process start and prism; machine: $(nproc) cores"
