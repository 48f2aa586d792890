#!/usr/bin/env bash
# The GPU check (make gpu-check), ready for a machine with an NVIDIA GPU; on
# one without, it checks what it can and exits 0.
#
#   bash bench/gpu.sh
#
# 1. Installs ONNX Runtime 1.29.0 with its CUDA execution provider from the
#    npm registry, sha256-checked, into .cache/onnxruntime-gpu/: the core
#    library from onnxruntime-node@1.29.0 (built with the CUDA provider
#    interface) and libonnxruntime_providers_{cuda,shared}.so from
#    com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 (Microsoft's MIT-licensed
#    provider build for the same 1.29.0).
# 2. Says which CUDA libraries the provider needs and which are missing here
#    (it needs the NVIDIA driver's libcuda.so.1, CUDA 13's libcudart.so.13,
#    libcublas.so.13, libcublasLt.so.13, libcurand.so.10, and cuDNN 9).
# 3. Builds the RAM++-sized graph in Go (bench/gpucheck: ~98.5 GFLOPs an
#    image at 384², 4,585 tags) and runs one image on the CPU, so the graph
#    and the library are known to work before a GPU is involved.
# 4. With a GPU (nvidia-smi answers and the provider loads): counts the
#    planted image set with --device=cuda and with the CPU and compares the
#    counts byte for byte (the colour tagger through the CUDA provider),
#    then prints images/s by batch size for the RAM++-sized graph on the GPU
#    and the CPU cores needed to feed it (images/s ÷ this machine's
#    preprocessing rate per core on the real photos).
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=.cache/onnxruntime-gpu
CORE_PKG=onnxruntime-node@1.29.0
CORE_TGZ_SHA=cfdfb45ec4044b1fdca43e5d2e180fb6817e649ff8ad1e0dfc90e18e51b67037
CORE_MEMBER=package/bin/napi-v6/linux/x64/libonnxruntime.so.1
GPU_PKG=com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9
GPU_TGZ_SHA=2b459e0c17f340c92970c10ed86de4f37a3009f93c14053e6ad4334cbb6be412
GPU_DIR=package/Plugins/Linux/x64
LIB=$DEST/libonnxruntime.so.1

fetch() { # package sha256 → the tgz path
  local pkg=$1 sha=$2 tgz
  tgz=$DEST/$(echo "$pkg" | sed 's/@/-/').tgz
  if [ ! -f "$tgz" ] || ! echo "$sha  $tgz" | sha256sum -c --status; then
    echo "gpu-check: fetching $pkg from the npm registry ..." >&2
    (cd "$DEST" && npm pack --silent "$pkg" >/dev/null)
    echo "$sha  $tgz" | sha256sum -c --status || { echo "gpu-check: sha256 of $tgz is not $sha" >&2; exit 1; }
  fi
  echo "$tgz"
}

mkdir -p "$DEST"
if [ ! -f "$LIB" ] || [ ! -f "$DEST/libonnxruntime_providers_cuda.so" ]; then
  core=$(fetch "$CORE_PKG" "$CORE_TGZ_SHA")
  gpu=$(fetch "$GPU_PKG" "$GPU_TGZ_SHA")
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  tar -xzf "$core" -C "$tmp" "$CORE_MEMBER"
  tar -xzf "$gpu" -C "$tmp" "$GPU_DIR/libonnxruntime_providers_cuda.so" "$GPU_DIR/libonnxruntime_providers_shared.so"
  mv "$tmp/$CORE_MEMBER" "$LIB"
  mv "$tmp/$GPU_DIR"/libonnxruntime_providers_*.so "$DEST/"
  rm -f "$DEST"/*.tgz
fi
echo "ONNX Runtime GPU build: $LIB (+ libonnxruntime_providers_cuda.so, libonnxruntime_providers_shared.so)"

missing=$(ldd "$DEST/libonnxruntime_providers_cuda.so" | awk '/not found/ {print $1}' | tr '\n' ' ')
if [ -n "$missing" ]; then
  echo "CUDA libraries the provider needs and this machine lacks: $missing"
else
  echo "CUDA libraries the provider needs: all found"
fi

echo "--- the RAM++-sized graph on the CPU (one image), through the GPU build's core library"
go run ./bench/gpucheck --ort_lib="$LIB" --device=cpu --batches=1 --iters=1

echo "--- the colour test model on the CPU"
go run ./bench/gpucheck --ort_lib="$LIB" --model=testdata/models/colour_tagger.onnx --device=cpu --batches=1,64 --iters=3

if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "--- the CUDA provider's load (without a GPU or the CUDA libraries it must fail, with this message)"
  go run ./bench/gpucheck --ort_lib="$LIB" --device=cuda --batches=1 --iters=1 2>&1 | grep -v '^graph:' || true
  echo "gpu-check: no NVIDIA GPU here (nvidia-smi does not answer): the CUDA runs are skipped; everything above works."
  exit 0
fi
nvidia-smi -L
if [ -n "$missing" ]; then
  echo "gpu-check: a GPU is here but the provider cannot load: install $missing (CUDA 13 and cuDNN 9), then run again" >&2
  exit 1
fi

echo "--- the planted image set: --device=cuda against the CPU"
out=$(mktemp -d)
go build -o "$out/count" ./pipelines/count
for dev in cpu cuda; do
  "$out/count" --input=testdata/tagging --concepts=testdata/tagging/vocabulary.txt --model=testdata/models/colour_tagger.onnx \
    --device=$dev --ort_lib="$LIB" --output="$out/$dev" --progress=false >/dev/null
done
if cmp -s "$out/cpu/concept_counts.parquet" "$out/cuda/concept_counts.parquet"; then
  echo "counts identical on the GPU and the CPU"
else
  echo "gpu-check: the counts differ between the GPU and the CPU" >&2
  exit 1
fi

echo "--- the RAM++-sized graph on the GPU"
go run ./bench/gpucheck --ort_lib="$LIB" --device=cuda --batches=1,8,32,64,128 --iters=5 | tee "$out/gpu.txt"
echo "--- the colour test model on the GPU"
go run ./bench/gpucheck --ort_lib="$LIB" --model=testdata/models/colour_tagger.onnx --device=cuda --batches=1,64,512 --iters=5
best=$(awk '$1 ~ /^[0-9]+$/ {if ($2 > b) b = $2} END {print b}' "$out/gpu.txt")
per_core=$(go test -run XXX -bench 'BenchmarkPreprocessRealPhotos' ./models/preprocess 2>/dev/null | awk '/images\/s/ {for (i=1;i<=NF;i++) if ($(i+1)=="images/s") print $i}' | head -1)
if [ -n "$per_core" ]; then
  echo "best: $best images/s per GPU; preprocessing $per_core images/s per core here: $(awk -v a="$best" -v b="$per_core" 'BEGIN {printf "%.1f", a/b}') cores to feed one GPU"
else
  echo "best: $best images/s per GPU"
fi
rm -rf "$out"
