#!/usr/bin/env bash
# Same-budget ablation of the training recipe: each row fine-tunes the same starting weights
# for the same number of steps (same seed, data order and held-out list), differing only in
# the recipe switches, then its exported weights are scored by ca2sis-eval on the validation
# list. Prints a markdown table and writes it, with every row's full report, to OUT_DIR.
#
# Usage: scripts/ablation.sh INIT_WEIGHTS OUT_DIR [STEPS] [DATA] [ROW...]
#   INIT_WEIGHTS  exported weights folder every row starts from (e.g. weights/lite)
#   OUT_DIR       run folders, reports and ablation.md (outside the work tree: checkpoints)
#   STEPS         optimizer steps per row at batch 8 (default 62, about 0.5 kimg)
#   ROW           row names to run (default: all rows below); rows already scored are kept
# The paper's "w/o CA" (--spade) has no row here: its generator cannot start from
# cross-attention weights, so it compares only with a from-scratch run of the same budget.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
init=$1
out=$2
steps=${3:-62}
data=${4:-$repo/../shared/data/celebamask-mini}
shift $(( $# < 4 ? $# : 4 ))
python=${PYTHON:-python}

# The recipe before the trainer issue: L1, feature matching, adversarial, L_att only.
none=(--ema-kimg 0 --augment off --lambda-parser 0 --lambda-semantic 0 --lambda-swap 0 --lambda-lecam 0)
declare -A rows=(
  [before]="${none[*]}"
  [ema]="${none[*]} --ema-kimg 10"
  [augment]="${none[*]} --augment ada --lambda-lecam 0.1"
  [parser]="${none[*]} --lambda-parser 1 --lambda-semantic 0.5"
  [locality]="${none[*]} --lambda-swap 1"
  [att10]="${none[*]} --lambda-att 10"
  [pixel]="${none[*]} --generator-norm pixel"
  [all]=""
)
order=(before ema augment parser locality att10 pixel all)
[ $# -gt 0 ] && order=("$@")

mkdir -p "$out"
if [ ! -f "$out/start.json" ]; then  # the starting weights themselves, for reference
  "$python" -m ca2sis.model.cli.eval --data "$data" --list "$repo/assets/splits/celebamask-mini-val.txt" \
    --weights "$init" --backend torch --quiet --json "$out/start.json.partial" >/dev/null
  "$python" -c 'import json, sys; r = json.load(open(sys.argv[1])); r["ablation"] = {"row": "start", "options": "(no training)", "train_seconds": 0}; json.dump(r, open(sys.argv[1], "w"))' "$out/start.json.partial"
  mv "$out/start.json.partial" "$out/start.json"
fi
for row in "${order[@]}"; do
  [ -v "rows[$row]" ] || { echo "unknown row '$row' (rows: ${!rows[*]})" >&2; exit 2; }
  report="$out/$row.json"
  if [ -f "$report" ]; then echo "$row: scored already ($report)"; continue; fi
  run="$out/runs/$row"
  resume=()
  [ -f "$run/checkpoint.safetensors" ] && resume=(--resume)
  start=$(date +%s)
  # shellcheck disable=SC2086  # a row's options are words
  "$python" -m ca2sis.model.cli.train --data "$data" --config lite-128 --out "$run" "${resume[@]}" \
    --init "$init" --holdout "$repo/assets/splits/celebamask-mini-val.txt" --steps "$steps" \
    --batch-size 8 --sample-every 100000 --checkpoint-every 100000 ${rows[$row]} 2>/dev/null | tail -1
  trained=$(( $(date +%s) - start ))
  # M_s of the starting weights, so random part styles are scored too.
  "$python" -m ca2sis.model.cli.train export "$run" --out "$out/weights/$row" --mapping-from "$init" >/dev/null
  "$python" -m ca2sis.model.cli.eval --data "$data" --list "$repo/assets/splits/celebamask-mini-val.txt" \
    --weights "$out/weights/$row" --backend torch --quiet --json "$report.partial" >/dev/null
  "$python" - "$report.partial" "$row" "${rows[$row]:-(defaults)}" "$trained" <<'PY'
import json, sys
path, row, options, seconds = sys.argv[1:]
report = json.loads(open(path).read())
report["ablation"] = {"row": row, "options": options, "train_seconds": int(seconds)}
open(path, "w").write(json.dumps(report))
PY
  mv "$report.partial" "$report"
  echo "$row: trained in ${trained} s, scored"
done

"$python" - "$out" "$steps" start "${order[@]}" <<'PY'
import json, sys
from pathlib import Path
out, steps, *order = sys.argv[1:]
keys = [("psnr", "PSNR dB ↑", 2), ("ssim", "SSIM ↑", 3), ("swd", "SWD×1e3 ↓", 1), ("miou", "mIoU ↑", 3),
        ("identity_match", "identity ↑", 2), ("style_leakage", "swap leakage ↓", 3),
        ("style_transfer", "swap transfer ↑", 3), ("random_part_leakage", "random-part leakage ↓", 3)]
lines = [f"Same-budget ablation: {steps} steps x 8 faces from the same start, validation list (100 faces)", "",
         "| row | options | train s | " + " | ".join(k[1] for k in keys) + " |",
         "|---|---|---|" + "---|" * len(keys)]
for row in order:
    path = Path(out) / f"{row}.json"
    if not path.exists():
        continue
    report = json.loads(path.read_text())
    metrics, info = report["metrics"], report["ablation"]
    cells = [f"{metrics[k]:.{digits}f}" if metrics.get(k) is not None else "–" for k, _, digits in keys]
    lines.append(f"| {row} | `{info['options']}` | {info['train_seconds']} | " + " | ".join(cells) + " |")
text = "\n".join(lines) + "\n"
(Path(out) / "ablation.md").write_text(text)
print(text)
PY
