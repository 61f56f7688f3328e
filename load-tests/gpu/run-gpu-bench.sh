#!/usr/bin/env bash
# Takes lorastream's model figures on a machine with an NVIDIA GPU, in under five minutes once the
# CUDA native library is in the local Maven repository:
#   1. builds with -Pcuda (DJL 0.33.0 + pytorch-native-cu124 2.5.1; the first build downloads
#      ~2.4 GB from Maven Central, so it needs network access once; OFFLINE=1 adds -o),
#   2. runs `bench model --quick --json` on the GPU (LORASTREAM_DEVICE, default gpu),
#   3. with MIXED=1, runs the same bench in F16 mixed precision (LORASTREAM_PRECISION=f16),
#   4. runs a short training run (`base-model pretrain`, 20 steps, at most 1 minute) on it.
# Results go to $OUT (default target/gpu-bench): model.json, model-f16.json, pretrain.log, machine.txt.
#   load-tests/gpu/run-gpu-bench.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$here"
out="${OUT:-target/gpu-bench}"
mkdir -p "$out"

if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "run-gpu-bench: no NVIDIA GPU visible (nvidia-smi missing or failing); nothing measured" >&2
  exit 2
fi
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), nproc $(nproc)"
  echo "load: $(cat /proc/loadavg)"
} | tee "$out/machine.txt"

offline=()
[ "${OFFLINE:-0}" = 1 ] && offline=(-o)
echo "run-gpu-bench: building with -Pcuda ..." >&2
rm -rf target/lib
mvn -B -q "${offline[@]}" -Pcuda package -DskipTests >&2
ls target/lib | grep -q pytorch-native-cu124 || { echo "run-gpu-bench: the CUDA native jar is missing from target/lib" >&2; exit 1; }

# As ./lorastream runs it, but without its rebuild (which would bring back the CPU library).
export DJL_OFFLINE=true OPT_OUT_TRACKING=true
export LORASTREAM_DEVICE="${LORASTREAM_DEVICE:-gpu}"
java_cmd=(java ${JAVA_OPTS:--Xmx8g} -Dai.djl.offline=true
  -Dorg.apache.avro.SERIALIZABLE_PACKAGES=io.lorastream.avro
  -cp "target/lorastream.jar:target/lib/*" io.lorastream.cli.Main)

echo "run-gpu-bench: bench model --quick --json on $LORASTREAM_DEVICE ..." >&2
timeout 180 "${java_cmd[@]}" bench model --quick --json --out "$out/model.json" >/dev/null \
  2> >(tee "$out/bench.log" >&2)

if [ "${MIXED:-0}" = 1 ]; then
  echo "run-gpu-bench: bench model --quick --json on $LORASTREAM_DEVICE in f16 mixed precision ..." >&2
  LORASTREAM_PRECISION=f16 timeout 120 "${java_cmd[@]}" bench model --quick --json --out "$out/model-f16.json" \
    >/dev/null 2> >(tee "$out/bench-f16.log" >&2) || echo "run-gpu-bench: the f16 bench failed, see $out/bench-f16.log" >&2
fi

echo "run-gpu-bench: short training run ..." >&2
rm -rf "$out/pretrain-model"
timeout 90 "${java_cmd[@]}" base-model pretrain --out "$out/pretrain-model" --steps 20 --minutes 1 \
  > "$out/pretrain.log" 2>&1 || { echo "run-gpu-bench: training run failed, see $out/pretrain.log" >&2; exit 1; }
tail -5 "$out/pretrain.log"
grep -q 'device' "$out/bench.log" && grep -m1 'device' "$out/bench.log" >&2
echo "run-gpu-bench: figures in $out/model.json" >&2
