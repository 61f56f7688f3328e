#!/bin/sh
# Builds lorastream's native libraries into the folder given, when a C compiler is present:
#   liblorastream_mkl.so      (mkl_vendor.c) MKL's widest kernels on non-Intel processors
#   liblorastream_kernels.so  (row_lora.c, decode_attention.c, adamw.c, layer_ops.c) the per-row
#                             LoRA term and the attention of decode batches, the trainer's AdamW
#                             update, and the element-wise parts of passes without gradients;
#                             needs the JDK's JNI headers (second argument: the JDK's home)
# Without a compiler (or headers) it warns and leaves the library out: lorastream still runs,
# with MKL's AVX2 kernels on non-Intel CPUs and libtorch's operations for the rest.
#   src/main/native/build.sh target/native /usr/lib/jvm/java-17-openjdk-amd64
set -eu
out="${1:?usage: build.sh OUTPUT_FOLDER [JAVA_HOME]}"
java_home="${2:-${JAVA_HOME:-}}"
here="$(dirname "$0")"
cc="${CC:-cc}"
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "[lorastream] no C compiler ($cc): native libraries not built; MKL keeps its AVX2 kernels on non-Intel CPUs, per-row LoRA runs through libtorch" >&2
  exit 0
fi
mkdir -p "$out"
"$cc" -shared -fPIC -O2 -o "$out/liblorastream_mkl.so" "$here/mkl_vendor.c"
if [ -z "$java_home" ] || [ ! -f "$java_home/include/jni.h" ]; then
  echo "[lorastream] no JNI headers (jni.h under '$java_home/include'): liblorastream_kernels.so not built; per-row LoRA runs through libtorch" >&2
  exit 0
fi
# -fno-math-errno lets the softmax's exponentials go through glibc's vector expf (libmvec).
"$cc" -shared -fPIC -O3 -fno-math-errno -I"$java_home/include" -I"$java_home/include/linux" \
  -o "$out/liblorastream_kernels.so" "$here/row_lora.c" "$here/decode_attention.c" "$here/adamw.c" "$here/layer_ops.c" -lmvec -lm
