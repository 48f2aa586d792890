#!/usr/bin/env bash
# Peak memory (RSS) of a text-only count run as the number of shards grows:
# it must stay flat (nothing that grows with the crawl is held in memory).
#
#   bash bench/rss.sh                      # 1, 10 and 100 shards × 2,000 samples
#   SHARD_COUNTS="1 10 100 400" SAMPLES_PER_SHARD=5000 bash bench/rss.sh
#
# Uses /usr/bin/time -v; prints a table; outputs go to bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARD_COUNTS=${SHARD_COUNTS:-"1 10 100"}
SAMPLES_PER_SHARD=${SAMPLES_PER_SHARD:-2000}
CAPTIONS=${CAPTIONS:-../shared/data/laion-captions/test_10000.parquet}
RES=bench/results
[ -x /usr/bin/time ] || { echo "bench/rss.sh needs GNU time (/usr/bin/time; apt-get install time)"; exit 1; }
mkdir -p "$RES" bin
go build -o bin/ ./pipelines/count ./pipelines/synth
printf "%8s %10s %8s %14s %16s\n" shards samples wall_s peak_rss_MiB rejects_rows
for n in $SHARD_COUNTS; do
  data=$RES/rss-data-$n-$SAMPLES_PER_SHARD
  if [ ! -f "$data/truth.json" ]; then
    rm -rf "$data"
    bin/synth --output="$data" --captions="$CAPTIONS" --shards="$n" --samples_per_shard="$SAMPLES_PER_SHARD" >/dev/null
  fi
  out=$RES/rss-out-$n
  /usr/bin/time -v -o "$RES/rss-time-$n.txt" bin/count --input="$data" --output="$out" --overwrite --progress=false \
    >/dev/null 2>"$RES/stderr.txt" || { cat "$RES/stderr.txt"; exit 1; }
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$RES/rss-time-$n.txt")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$RES/rss-time-$n.txt")
  samples=$(grep -m1 '"samples_read"' "$out/run_stats.json" | tr -dc 0-9)
  rows=$(grep -m1 '"rows_in_parts"' "$out/run_stats.json" | tr -dc 0-9)
  printf "%8d %10d %8s %14.0f %16d\n" "$n" "$samples" "$wall" "$(( rss / 1024 ))" "$rows"
done
echo "text-only, default vocabulary, prism runner in-process (the job's workers share the launcher's memory); machine: $(nproc) cores"
