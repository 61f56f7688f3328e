#!/bin/sh
# Builds liblorastream_mkl.so (see mkl_vendor.c) into the folder given, when a C compiler is
# present. Without one it warns and leaves nothing: lorastream still runs, with MKL's AVX2
# kernels on non-Intel processors.
#   src/main/native/build.sh target/native
set -eu
out="${1:?usage: build.sh OUTPUT_FOLDER}"
src="$(dirname "$0")/mkl_vendor.c"
cc="${CC:-cc}"
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "[lorastream] no C compiler ($cc): liblorastream_mkl.so not built; MKL keeps its AVX2 kernels on non-Intel CPUs" >&2
  exit 0
fi
mkdir -p "$out"
"$cc" -shared -fPIC -O2 -o "$out/liblorastream_mkl.so" "$src"
