#!/usr/bin/env bash
# Installs the ONNX Runtime 1.30 shared library (CPU build) that the npm
# package onnxruntime-node@1.30.0 ships, into .cache/onnxruntime/ (or $1).
# Idempotent: does nothing when the library is there with the right sha256.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${1:-.cache/onnxruntime}
PKG=onnxruntime-node@1.30.0
MEMBER=package/bin/napi-v6/linux/x64/libonnxruntime.so.1
SHA256=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23
LIB=$DEST/libonnxruntime.so.1
if [ -f "$LIB" ] && echo "$SHA256  $LIB" | sha256sum -c --status; then
  exit 0
fi
command -v npm >/dev/null || { echo "install_ort: npm is needed to fetch $PKG" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "install_ort: fetching $PKG (about 110 MB) ..." >&2
(cd "$tmp" && npm pack --silent "$PKG" >/dev/null)
tar -xzf "$tmp"/onnxruntime-node-1.30.0.tgz -C "$tmp" "$MEMBER"
if ! echo "$SHA256  $tmp/$MEMBER" | sha256sum -c --status; then
  echo "install_ort: sha256 of $MEMBER does not match $SHA256" >&2
  exit 1
fi
mkdir -p "$DEST"
mv "$tmp/$MEMBER" "$LIB"
echo "install_ort: installed $LIB" >&2
