#!/usr/bin/env bash
# Training speed of this working tree in fp32 and in bf16 on this machine: the same data,
# config, warm start, batch and steps, each a whole `ca2sis-train` process; prints the
# images/s of the steps (the trainer's own figure, first step excluded) and the ratio.
# Run it with nothing else on the CPU. bf16 is only fast where the CPU has AVX512-BF16 or
# AMX (`grep -o 'avx512_bf16\|amx' /proc/cpuinfo`); elsewhere PyTorch emulates it.
#
# Usage: scripts/measure_precision_speed.sh [DATA] [STEPS] [BATCH] [CONFIG] [-- ARGS...]
#   CONFIG  preset or config JSON (default: weights/lite/config.json, warm-started from weights/lite)
#   ARGS    extra options for both runs (e.g. --config lite --generator-norm pixel to time
#           the 256 px model grown from the bundled weights)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
positional=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do positional+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
data=${positional[0]:-$repo/../shared/data/celebamask-mini}
steps=${positional[1]:-12}
batch=${positional[2]:-8}
config=${positional[3]:-$repo/weights/lite/config.json}
python=${PYTHON:-python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
grep -o 'avx512_bf16\|amx_bf16' /proc/cpuinfo 2>/dev/null | sort -u | tr '\n' ' ' | sed 's/^/cpu: /; s/$/\n/' || true

speed() {  # precision, extra args... → images/s
  local precision=$1
  shift
  "$python" -m ca2sis.model.cli.train --data "$data" --config "$config" --init "$repo/weights/lite" \
    --holdout "$repo/assets/splits/celebamask-mini-val.txt" --steps "$steps" --batch-size "$batch" \
    --sample-every 1000000 --checkpoint-every 1000000 --device cpu --precision "$precision" \
    --out "$work/$precision" "$@" 2>/dev/null | grep -o '[0-9.]* images/s' | grep -o '^[0-9.]*'
}

fp32=$(speed fp32 "$@")
echo "fp32: $fp32 images/s"
bf16=$(speed bf16 "$@")
echo "bf16: $bf16 images/s"
"$python" -c "import sys; print(f'bf16/fp32: {float(sys.argv[2]) / float(sys.argv[1]):.2f}x')" "$fp32" "$bf16"
