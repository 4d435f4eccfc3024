#!/usr/bin/env bash
# Side-by-side training speed of an older ca2sis and this working tree, on the same machine,
# data, config, batch and number of steps. Each run is a whole `ca2sis-train` process (data
# set-up included); prints its wall time and the images/s of the steps (the trainer's own
# figure, first step excluded), then the ratio new/old of both.
#
# Usage: scripts/compare_train_speed.sh [OLD_REV] [DATA] [STEPS] [BATCH] [CONFIG] [-- NEW_ARGS...]
#   OLD_REV  git revision of the old trainer (default cc71496, before the CPU speed work)
#   NEW_ARGS extra options for the new trainer only (e.g. --lambda-parser 0)
# The old trainer runs with the data-loader setting its bundled weights were trained with
# (--workers 1).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
old_rev=${1:-cc71496}
data=${2:-$repo/../shared/data/celebamask-mini}
steps=${3:-30}
batch=${4:-8}
config=${5:-lite-128}
shift $(( $# < 5 ? $# : 5 ))
[ "${1:-}" = "--" ] && shift
new_args=("$@")
python=${PYTHON:-python}
work=$(mktemp -d)
trap 'git -C "$repo" worktree remove --force "$work/old" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

git -C "$repo" worktree add --detach "$work/old" "$old_rev" >/dev/null 2>&1
mkdir -p "$work/old-pkg/ca2sis"
touch "$work/old-pkg/ca2sis/__init__.py"
ln -s "$work/old/model" "$work/old-pkg/ca2sis/model"
ln -s "$work/old/app" "$work/old-pkg/ca2sis/app"

common=(--data "$data" --config "$config" --steps "$steps" --batch-size "$batch"
        --sample-every 1000000 --checkpoint-every 1000000 --device cpu)

run() {  # name, PYTHONPATH, module of ca2sis-train, extra args...
  local name=$1 path=$2 module=$3; shift 3
  local start end
  start=$(date +%s.%N)
  PYTHONPATH=$path "$python" -m "$module" "${common[@]}" --out "$work/$name" "$@" \
    2>/dev/null | grep -o '[0-9.]* images/s' | sed "s/^/$name: steps at /"
  end=$(date +%s.%N)
  echo "$name: whole process $(echo "$end - $start" | bc) s for $((steps * batch)) images"
}

echo "config $config, batch $batch, $steps steps, $(nproc) CPUs, $(date -u +%F)"
old_module=ca2sis.model.cli_train  # before the layout of issue 17
[ -d "$work/old/model/cli" ] && old_module=ca2sis.model.cli.train
run old "$work/old-pkg" "$old_module" --workers 1
run new "${PYTHONPATH:-}" ca2sis.model.cli.train "${new_args[@]}"
