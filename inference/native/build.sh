#!/usr/bin/env bash
# Builds inference/native/build/ort_device.node: the device-tensor addon over onnxruntime's C API,
# with g++ directly (node-gyp would download Node's headers). Linux x64 only, like the
# onnxruntime-node binaries it links against.
#
#   bash inference/native/build.sh        # or: npm run build:native
#   FORCE=1 bash inference/native/build.sh  # rebuild even when the output is newer than the sources
#
# Headers: onnxruntime 1.29's C headers ship inside the npm package com.github.asus4.onnxruntime@0.4.9
# (a 150 MB tarball of prebuilt libraries for other platforms, so not a dependency: `npm ci` would
# fetch it on every install), and Node-API's in node-api-headers. Both are fetched here once with
# `npm pack` (npm's cache makes a second fetch local), checked against the sha512 integrity pinned
# below, and only their headers are kept under build/deps/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$here/build"
out="$build/ort_device.node"
src="$here/ort_device.cc"
# The ai.xtts DecodeAttention operators: their onnxruntime side (compiled into the addon) and their CUDA
# kernel (decode_attention.cu, built into build/decode_attention.fatbin where nvcc is found: $NVCC, else
# nvcc on PATH, else $CUDA_HOME/bin/nvcc or /usr/local/cuda/bin/nvcc; without it the CPU kernel still works
# and a CUDA session using the op fails with a message saying so).
opsrc="$here/decode_attention.cc"
cusrc="$here/decode_attention.cu"
fatbin="$build/decode_attention.fatbin"
ortlib="$root/node_modules/onnxruntime-node/bin/napi-v6/linux/x64"

ORT_HEADERS_PKG="com.github.asus4.onnxruntime@0.4.9"
ORT_HEADERS_SHA512="sha512-BkzxduSZ9IkeDP6Q8lz2TFU2ie7hSSvS7ZIfzMooExoq0CNzJnuuGaUJ7IsojBgqO4ouD1jXah8OYyJbCN29Fg=="
ORT_HEADERS_DIR="package/Plugins/iOS~/onnxruntime.xcframework/ios-arm64/onnxruntime.framework/Headers"
NAPI_HEADERS_PKG="node-api-headers@1.9.0"
NAPI_HEADERS_SHA512="sha512-2oNILP4jXwRB4ywnYKjVk1YyJ96n2D4EOVJO6S3oYZ5PtbJrw3Yt9TpAuX3nBLMuzn74rnfGQrv13pS9vC+YiA=="

fail() {
  echo "build:native: $*" >&2
  exit 2
}

[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || fail "only Linux x86_64 is supported (onnxruntime-node's binaries here are linux/x64)"
[ -f "$ortlib/libonnxruntime.so.1" ] || fail "no $ortlib/libonnxruntime.so.1: run npm install first"

mkdir -p "$build"
# One build at a time (tests and benchmarks may start it together).
exec 9>"$build/.lock"
flock 9

# Up to date: the output is there and was built from these sources for this onnxruntime version. A
# stamp of their digests rather than file times, so that a tree copied elsewhere with the built addon
# (a GPU host without a compiler or the network) does not rebuild because the copy touched the files.
libver="$(node -p "require('$root/node_modules/onnxruntime-node/package.json').version")"
nvcc="${NVCC:-$(command -v nvcc || true)}"
for c in "${CUDA_HOME:-}/bin/nvcc" /usr/local/cuda/bin/nvcc; do
  [ -z "$nvcc" ] && [ -x "$c" ] && nvcc="$c"
done
stamp="$(cat "$src" "$opsrc" "$cusrc" "$here/build.sh" | sha256sum | cut -d' ' -f1) onnxruntime-node $libver $(uname -m) cuda:${nvcc:+yes}"
# Up to date also where the stamp says a fatbin was built and it is there (a copy without the toolkit keeps it).
if [ -z "${FORCE:-}" ] && [ -f "$out" ] && { [ "$(cat "$out.stamp" 2>/dev/null)" = "$stamp" ] ||
  { [ -z "$nvcc" ] && [ -f "$fatbin" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "${stamp%cuda:}cuda:yes" ]; }; }; then
  echo "build:native: $out is up to date"
  exit 0
fi

CXX="${CXX:-g++}"
command -v "$CXX" >/dev/null || fail "no C++ compiler ($CXX) on PATH"

# fetch PKG@VER INTEGRITY DEST MEMBER...: the package's tarball via npm pack, its integrity checked,
# the named members (tar wildcards) extracted under DEST.
fetch() {
  local spec="$1" want="$2" dest="$3"
  shift 3
  [ -f "$dest/.ok" ] && return 0
  local tmp
  tmp="$(mktemp -d "$build/fetch.XXXXXX")"
  (cd "$tmp" && npm pack "$spec" --silent >/dev/null) || { rm -rf "$tmp"; fail "npm pack $spec failed"; }
  local tgz
  tgz="$(ls "$tmp"/*.tgz)"
  local got
  got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
  if [ "$got" != "$want" ]; then
    rm -rf "$tmp"
    fail "$spec: integrity $got, expected $want"
  fi
  rm -rf "$dest"
  mkdir -p "$dest"
  tar xzf "$tgz" -C "$dest" --wildcards "$@" || { rm -rf "$tmp"; fail "$spec: headers not found in the tarball"; }
  rm -rf "$tmp"
  touch "$dest/.ok"
}
fetch "$ORT_HEADERS_PKG" "$ORT_HEADERS_SHA512" "$build/deps/ort" "$ORT_HEADERS_DIR/*.h"
fetch "$NAPI_HEADERS_PKG" "$NAPI_HEADERS_SHA512" "$build/deps/napi" "package/include/*.h"
ortinc="$build/deps/ort/$ORT_HEADERS_DIR"
napiinc="$build/deps/napi/package/include"

# The headers' API version must be the library's: onnxruntime-node 1.29.x <-> ORT_API_VERSION 29.
api="$(sed -n 's/^#define ORT_API_VERSION \([0-9]*\).*/\1/p' "$ortinc/onnxruntime_c_api.h")"
[ "$api" = "$(echo "$libver" | cut -d. -f2)" ] \
  || fail "headers are ORT_API_VERSION $api, onnxruntime-node is $libver: pin the header package to the library's version"

# libstdc++ stays dynamic: linked statically, its std::random_device and unwinder would need glibc
# 2.36; built here (g++ 12, Debian 12) the addon needs glibc >= 2.32 and GCC >= 11's libstdc++
# (GLIBCXX_3.4.29) where it runs.
# rpath: libonnxruntime.so.1 from onnxruntime-node's folder, relative to the addon, so both load the
# same library (the loader also reuses an already loaded libonnxruntime.so.1 by its soname).
"$CXX" -std=c++17 -O2 -pthread -fPIC -shared -fvisibility=hidden -Wall -Wextra -Wno-unused-parameter \
  -DNAPI_VERSION=8 -I"$ortinc" -I"$napiinc" "$src" "$opsrc" -o "$out.tmp" \
  -L"$ortlib" -l:libonnxruntime.so.1 \
  -Wl,-rpath,'$ORIGIN/../../../node_modules/onnxruntime-node/bin/napi-v6/linux/x64' \
  -Wl,--allow-shlib-undefined
# The kernel for sm_80 and sm_90 (A100, H100/H200) and as PTX for later GPUs (the driver compiles it on load).
if [ -n "$nvcc" ]; then
  "$nvcc" -O3 -std=c++17 -fatbin -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
    -gencode arch=compute_90,code=compute_90 "$cusrc" -o "$fatbin.tmp"
  mv "$fatbin.tmp" "$fatbin"
else
  rm -f "$fatbin"
  echo "build:native: no nvcc: the ai.xtts operators get their CPU kernels only" >&2
fi
mv "$out.tmp" "$out"
echo "$stamp" >"$out.stamp"
echo "build:native: built $out (onnxruntime $libver, C API $api)"
