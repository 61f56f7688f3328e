#!/usr/bin/env bash
# Runs one Java main class (from the test or main classes) under glibc's malloc and under tcmalloc,
# alternated RUNS times (glibc, tcmalloc, glibc, ...), each in a JVM of its own with one libtorch
# thread, so that the two allocators meet the same machine load. Prints each run's output lines
# that match PATTERN, labelled with the allocator.
#
#   load-tests/tools/allocators.sh RUNS PATTERN MAIN_CLASS [ARGS...]
#   load-tests/tools/allocators.sh 3 tokens_per_s io.lorastream.bench.FusedCasesProfile 1 16
#
# glibc runs with the GLIBC_TUNABLES ./lorastream sets; tcmalloc is Debian's libtcmalloc-minimal4
# (apt-get install libtcmalloc-minimal4). Needs `mvn -q test-compile` first.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:?usage: allocators.sh RUNS PATTERN MAIN_CLASS [ARGS...]}"
pattern="${2:?usage: allocators.sh RUNS PATTERN MAIN_CLASS [ARGS...]}"
shift 2
tcmalloc=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
[ -f "$tcmalloc" ] || { echo "allocators.sh: $tcmalloc missing (apt-get install libtcmalloc-minimal4)" >&2; exit 1; }
mkl="$PWD/target/native/liblorastream_mkl.so"
tunables="glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296"
for ((run = 1; run <= runs; run++)); do
  for allocator in glibc tcmalloc; do
    preload="$mkl"
    [ "$allocator" = tcmalloc ] && preload="$mkl:$tcmalloc"
    env OMP_NUM_THREADS=1 DJL_OFFLINE=true LD_PRELOAD="$preload" GLIBC_TUNABLES="$tunables" \
      java -Xmx8g -XX:+UseParallelGC -Dai.djl.offline=true -Dai.djl.pytorch.num_threads=1 \
      -cp "target/test-classes:target/classes:target/lib/*" "$@" 2>&1 \
      | { grep -E -- "$pattern" || true; } | sed "s/^/run $run $allocator: /"
  done
done
