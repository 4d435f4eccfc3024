#!/usr/bin/env bash
# One point of the training campaign's validation curve: export the weight averages (EMA)
# of a run's current checkpoint, score them with ca2sis-eval on the held-out list, and
# append kimg, CPU hours and the metrics to docs/training/campaign-curve.jsonl.
#
# Usage: scripts/campaign_eval.sh RUN_DIR [DATA] [CPU_HOURS] [MAPPING_FROM] [KEEP_DIR] [KIMG_BEFORE]
#   CPU_HOURS: training hours of the weights so far on the 2-core CPU, all sessions (wall-clock)
#   MAPPING_FROM: weights folder whose M_s the synthesis run is scored with (random part styles)
#   KEEP_DIR: a new folder that keeps the scored weights (weights/), eval.json and eval.md
#   KIMG_BEFORE: thousands of images the run's --init weights had already seen, so that the
#     curve's kimg counts the whole campaign (a warm-started run counts its steps from 0)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
run=$1
data=${2:-$repo/../shared/data/celebamask-mini}
hours=${3:-null}
mapping_from=()
[ -n "${4:-}" ] && mapping_from=(--mapping-from "$4")
keep=${5:-}
kimg_before=${6:-0}
python=${PYTHON:-python}
if [ -n "$keep" ]; then
  [ -e "$keep" ] && { echo "$keep exists: give a new folder to keep the scored weights in" >&2; exit 2; }
  mkdir -p "$keep"
  weights=$keep/weights
else
  weights=$(mktemp -d)/weights
  trap 'rm -rf "$(dirname "$weights")"' EXIT
fi

"$python" -m ca2sis.model.cli.train export "$run" --out "$weights" "${mapping_from[@]}" >/dev/null
report=$(dirname "$weights")/eval.json
"$python" -m ca2sis.model.cli.eval --data "$data" --list "$repo/assets/splits/celebamask-mini-val.txt" \
  --weights "$weights" --backend torch --quiet --json "$report" --markdown "${report%.json}.md" >/dev/null
"$python" - "$run" "$report" "$hours" "$repo/docs/training/campaign-curve.jsonl" "$kimg_before" <<'PY'
import json, sys
from pathlib import Path
from safetensors import safe_open
run, report, hours, curve, kimg_before = sys.argv[1:]
with safe_open(str(Path(run) / "checkpoint.safetensors"), framework="pt") as handle:
    meta = json.loads(handle.metadata()["ca2sis"])
run_kimg = meta["step"] * meta["train"]["batch_size"] / 1000
metrics = json.loads(Path(report).read_text())["metrics"]
keep = ("psnr", "ssim", "swd", "miou", "identity_match", "style_leakage", "style_transfer", "random_part_leakage")
point = {"run": Path(run).name, "step": meta["step"], "run_kimg": run_kimg,
         "kimg": round(float(kimg_before) + run_kimg, 3),
         "cpu_hours": None if hours == "null" else float(hours), **{k: metrics.get(k) for k in keep}}
with open(curve, "a") as out:
    out.write(json.dumps(point) + "\n")
print(json.dumps(point))
PY
