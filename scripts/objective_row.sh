#!/usr/bin/env bash
# One equal-budget objective row of the training campaign (round 2): 375 steps x 8 faces =
# 3 kimg warm-started from INIT (a copy of the bundled weights, so that every row starts
# from the same ones even after weights/ changes), the validation list held out, the same
# seed and faces for every row, EMA half-life 1 kimg (the default 10 would leave a 3 kimg
# row mostly the init), fp32 (pass --precision auto on an AVX512-BF16 CPU), THREADS torch
# threads (1 when two rows share a 2-core machine). The code is a frozen copy of a commit
# (pip --target), so that editing the work tree does not change a running row.
#
# Usage: scripts/objective_row.sh RUNS_DIR NAME CODE_COMMIT INIT [extra ca2sis-train flags]
#   e.g. THREADS=1 scripts/objective_row.sh ~/campaign r2-colour 4e72e6e ~/campaign/init-weights --lambda-colour 10
# Resume an unfinished row: the same command with --resume (it continues to step 375).
# Score it: scripts/campaign_eval.sh RUNS_DIR/NAME (or a kept step, scripts/keep_checkpoints.sh).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
runs=$1; name=$2; commit=$3; init=$4; shift 4
python=${PYTHON:-$repo/.venv/bin/python}
code=$runs/code-$commit
if [ ! -d "$code" ]; then
  src=$(mktemp -d)
  git -C "$repo" archive "$commit" | tar -x -C "$src"
  "$python" -m pip install --quiet --no-deps --no-build-isolation --target "$code" "$src"
  rm -rf "$src"
fi
data=${DATA:-$repo/../shared/data/celebamask-mini}
OMP_NUM_THREADS=${THREADS:-2} PYTHONPATH=$code exec "$python" -m ca2sis.model.cli.train \
  --data "$data" --config "$init/config.json" --out "$runs/$name" --init "$init" \
  --holdout "$repo/assets/splits/celebamask-mini-val.txt" \
  --steps 375 --batch-size 8 --ema-kimg 1 --sample-every 125 --checkpoint-every 125 \
  --precision fp32 --seed 0 "$@"
