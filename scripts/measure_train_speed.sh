#!/usr/bin/env bash
# Measure ca2sis-train's images/s on this machine for the given configs (default: lite
# and tiny) on the shared faces; prints the closing summary line of each run.
# Usage: scripts/measure_train_speed.sh [DATA] [STEPS] [BATCH] [CONFIG...]
set -euo pipefail
data=${1:-../shared/data/celebamask-mini}
steps=${2:-20}
batch=${3:-4}
shift $(( $# < 3 ? $# : 3 ))
configs=${*:-lite tiny}
out=$(mktemp -d)
for config in $configs; do
  ca2sis-train --data "$data" --config "$config" --out "$out/$config" --steps "$steps" \
    --batch-size "$batch" --sample-every 100000 --checkpoint-every 100000 2>/dev/null | grep images/s \
    | sed "s/^/$config (batch $batch, $steps steps): /"
done
rm -rf "$out"
