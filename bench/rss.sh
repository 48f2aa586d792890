#!/usr/bin/env bash
# Peak memory (RSS) and wall time of text-only count runs as the input grows:
# memory must stay flat (nothing that grows with the crawl is held), and many
# small shards must cost about what few big ones do.
#
#   bash bench/rss.sh                  # the table below, about 5 minutes
#   PARQUET_FILES="1 10 60" ROWS=600000 bash bench/rss.sh
#
# Inputs nobody here wrote by hand:
#   - caption Parquet files written by DuckDB (bench/duckdb_parquet.mjs; zstd,
#     one page per row group column as DuckDB writes them), ROWS unique real
#     LAION captions each (../shared/data's 10,000, each made unique by a
#     trailing number);
#   - a hostile one: 1,000 and 2,000 captions of about 1 MB each, in a
#     small zstd Parquet file written by DuckDB;
#   - WebDataset tar shards of real captions (pipelines/synth): 5,000 shards
#     of 5 samples and 50 shards of 500, the same 25,000 samples.
# Each run: /usr/bin/time -v, default vocabulary and rule, prism in-process
# (the job's workers share the launcher's memory), --progress=false, REPEATS
# times (3; the median of each column is printed: single runs spread ±7 MiB).
# Prints a table; inputs and outputs go to bench/results/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
PARQUET_FILES=${PARQUET_FILES:-"1 2 10 60"}
ROWS=${ROWS:-600000}
REPEATS=${REPEATS:-3}
CAPTIONS=${CAPTIONS:-../shared/data/laion-captions/test_10000.parquet}
RES=bench/results
[ -x /usr/bin/time ] || { echo "bench/rss.sh needs GNU time (/usr/bin/time; apt-get install time)"; exit 1; }
make -s deps >/dev/null
mkdir -p "$RES/rss" bin
CGO_ENABLED=0 go build -o bin/ ./pipelines/count ./pipelines/synth

# One DuckDB file; the N-file inputs are hard links to it (same bytes, so
# only the number of files changes between rows).
pq=$RES/rss/duckdb-$ROWS.parquet
cp bench/duckdb_parquet.mjs .cache/node/
if [ ! -f "$pq" ]; then
  (cd .cache/node && node duckdb_parquet.mjs "$OLDPWD/$CAPTIONS" "$OLDPWD/$pq.tmp" "$ROWS") && mv "$pq.tmp" "$pq"
fi

secs() { # GNU time's h:mm:ss or m:ss.ss as seconds
  awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }' <<<"$1"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

run() { # name label count-flags...: REPEATS measured runs, one table row of their medians
  local name=$1 label=$2; shift 2
  local out=$RES/rss/out-$name rsss="" walls="" samples r
  for r in $(seq 1 "$REPEATS"); do
    /usr/bin/time -v -o "$RES/rss/time-$name.txt" bin/count "$@" --output="$out" --overwrite --progress=false \
      >/dev/null 2>"$RES/rss/stderr-$name.txt" || { cat "$RES/rss/stderr-$name.txt"; exit 1; }
    rsss+="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$RES/rss/time-$name.txt")"$'\n'
    walls+="$(secs "$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$RES/rss/time-$name.txt")")"$'\n'
  done
  samples=$(grep -m1 '"samples_read"' "$out/run_stats.json" | tr -dc 0-9)
  printf "%-34s %12d %9ss %14d\n" "$label" "$samples" "$(median <<<"$walls")" "$(( $(median <<<"$rsss") / 1024 ))"
}

printf "%-34s %12s %10s %14s\n" input samples wall peak_rss_MiB
for n in $PARQUET_FILES; do
  dir=$RES/rss/parquet-$n
  rm -rf "$dir" && mkdir -p "$dir"
  for i in $(seq 1 "$n"); do ln -f "$pq" "$dir/f$(printf %03d "$i").parquet"; done
  run "parquet-$n" "$n DuckDB Parquet × $ROWS rows" --input="$dir"
done
# Hostile: a small zstd file of huge captions (≈ 1 MB each; DuckDB writes
# them in pages of ≈ 100 MB), 1,000 and 2,000 rows: memory must not follow.
for n in 1000 2000; do
  big=$RES/rss/duckdb-huge-$n.parquet
  if [ ! -f "$big" ]; then
    (cd .cache/node && node duckdb_parquet.mjs "$OLDPWD/$CAPTIONS" "$OLDPWD/$big.tmp" "$n" 1000000) && mv "$big.tmp" "$big"
  fi
  run "huge-$n" "$n captions of 1 MB ($(( $(stat -c %s "$big") / 1024 )) KiB zstd)" --input="$big"
done
for shape in "5000 5" "50 500"; do
  set -- $shape
  data=$RES/rss/tar-$1x$2
  if [ ! -f "$data/truth.json" ]; then
    rm -rf "$data"
    bin/synth --output="$data" --captions="$CAPTIONS" --shards="$1" --samples_per_shard="$2" >/dev/null
  fi
  run "tar-$1x$2" "$1 tar shards × $2 samples" --input="$data"
done
echo "text-only, default vocabulary; machine: $(nproc) cores"
