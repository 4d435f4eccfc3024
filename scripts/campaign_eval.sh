#!/usr/bin/env bash
# One point of the training campaign's validation curve: export the weight averages (EMA)
# of a run's current checkpoint, score them with ca2sis-eval on the held-out list, and
# append kimg, CPU hours and the metrics to docs/training/campaign-curve-<size>.jsonl, one
# curve per size the faces are compared at (128: the 128 px stage; 256: the targets' size).
#
# Usage: scripts/campaign_eval.sh RUN_DIR [DATA] [CPU_HOURS] [MAPPING_FROM] [KEEP_DIR] [KIMG_BEFORE]
#   RUN_DIR: a run folder, or an exported weights folder (scored as it is: its kimg is KIMG_BEFORE)
#   CPU_HOURS: training hours of the weights so far on the 2-core CPU, all sessions (wall-clock)
#   MAPPING_FROM: weights folder whose M_s the synthesis run is scored with (random part styles)
#   KEEP_DIR: a new folder that keeps the scored weights (weights/), eval.json and eval.md
#   KIMG_BEFORE: thousands of images the run's --init weights had already seen, so that the
#     curve's kimg counts the whole campaign (a warm-started run counts its steps from 0)
# Environment: COMPARE_SIZE=256 measures at 256 px whatever the model's size (ca2sis-eval
#   --compare-size), so that 128 px and 256 px weights are compared on the same faces; the
#   point records the size it was measured at. PYTHON: the interpreter (default python).
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
compare=()
[ -n "${COMPARE_SIZE:-}" ] && compare=(--compare-size "$COMPARE_SIZE")
if [ -n "$keep" ]; then
  [ -e "$keep" ] && { echo "$keep exists: give a new folder to keep the scored weights in" >&2; exit 2; }
  mkdir -p "$keep"
  out=$keep
else
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi

if [ -f "$run/checkpoint.safetensors" ]; then
  weights=$out/weights
  "$python" -m ca2sis.model.cli.train export "$run" --out "$weights" "${mapping_from[@]}" >/dev/null
elif [ -f "$run/config.json" ]; then
  weights=$run
else
  echo "$run: neither a run folder (checkpoint.safetensors) nor a weights folder (config.json)" >&2
  exit 2
fi
report=$out/eval.json
"$python" -m ca2sis.model.cli.eval --data "$data" --list "$repo/assets/splits/celebamask-mini-val.txt" \
  --weights "$weights" --backend torch --quiet --json "$report" --markdown "${report%.json}.md" "${compare[@]}" >/dev/null
"$python" - "$run" "$report" "$hours" "$repo/docs/training" "$kimg_before" <<'PY'
import json, sys
from pathlib import Path
from safetensors import safe_open
run, report, hours, curves, kimg_before = sys.argv[1:]
checkpoint = Path(run) / "checkpoint.safetensors"
if checkpoint.is_file():
    with safe_open(str(checkpoint), framework="pt") as handle:
        meta = json.loads(handle.metadata()["ca2sis"])
    step, run_kimg = meta["step"], meta["step"] * meta["train"]["batch_size"] / 1000
else:  # a weights folder, scored as it is; named with its parent (weights/lite, KEEP/weights)
    step, run_kimg = None, 0.0
scored = json.loads(Path(report).read_text())
metrics = scored["metrics"]
keep = ("psnr", "ssim", "swd", "swd_levels", "miou", "miou_real", "identity_match", "style_leakage", "style_transfer",
        "random_part_leakage", "per_part")
name = Path(run).name if checkpoint.is_file() else "/".join(Path(run).resolve().parts[-2:])
point = {"run": name, "step": step, "run_kimg": run_kimg,
         "kimg": round(float(kimg_before) + run_kimg, 3), "image_size": scored["image_size"],
         "compared_at": scored["compared_at"],
         "cpu_hours": None if hours == "null" else float(hours), **{k: metrics.get(k) for k in keep}}
with open(Path(curves) / f"campaign-curve-{scored['compared_at']}.jsonl", "a") as out:
    out.write(json.dumps(point) + "\n")
print(json.dumps(point))
PY
