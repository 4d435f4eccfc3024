#!/usr/bin/env bash
# Keeps a copy of every checkpoint the named runs write (each overwrites the last), as
# RUNS_DIR/NAME@stepN/ with its configs, so that rows can be scored at equal steps even
# when one has run further. Polls every minute until killed.
# Usage: scripts/keep_checkpoints.sh RUNS_DIR NAME [NAME ...]
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$repo/.venv/bin/python}
runs=$1; shift
while true; do
  for name in "$@"; do
    checkpoint=$runs/$name/checkpoint.safetensors
    [ -f "$checkpoint" ] || continue
    step=$("$python" -c "import json, sys; from safetensors import safe_open
print(json.loads(safe_open(sys.argv[1], 'pt').metadata()['ca2sis'])['step'])" "$checkpoint" 2>/dev/null) || continue
    kept=$runs/$name@step$step
    [ -d "$kept" ] && continue
    mkdir -p "$kept.tmp" && cp "$runs/$name"/{checkpoint.safetensors,config.json,train_config.json} "$kept.tmp"/ \
      && mv "$kept.tmp" "$kept"
  done
  sleep 60
done
