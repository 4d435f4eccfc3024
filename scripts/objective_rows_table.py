"""The objective rows' table for docs/training.md, from ca2sis-eval's JSON reports.

Usage: python scripts/objective_rows_table.py NAME=REPORT.json [NAME=REPORT.json ...]

Prints two markdown tables: the whole-face metrics (PSNR, SSIM, SWD per level, parser
mIoU, one-part swap leakage and transfer, random-part leakage) and the per-part study
(swap leakage / transfer, M_s random-style leakage and diversity beside real faces').
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _cell(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def main(argv: list[str]) -> int:
    if not argv or any("=" not in arg for arg in argv):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    rows = [(name, json.loads(Path(path).read_text())) for name, path in (arg.split("=", 1) for arg in argv)]
    # Reports made with --metrics may lack SWD (or any metric): those cells read n/a.
    levels = list(next((r["metrics"]["swd_levels"] for _, r in rows if r["metrics"].get("swd_levels")), []))
    print("| row | PSNR | SSIM | SWD×1e3 (" + ", ".join(f"{level}" for level in levels) + " px) | mIoU "
          "| swap leakage | swap transfer | random-part leakage |")
    print("|---|---|---|---|---|---|---|---|")
    for name, report in rows:
        m = {key: None for key in ("psnr", "ssim", "swd", "miou", "style_leakage", "style_transfer",
                                    "random_part_leakage")} | report["metrics"]
        swd_cells = ", ".join(_cell((m.get("swd_levels") or {}).get(level), 1) for level in levels)
        print(f"| {name} | {_cell(m['psnr'], 2)} | {_cell(m['ssim'], 3)} | {_cell(m['swd'], 1)} ({swd_cells}) "
              f"| {_cell(m['miou'], 3)} | {_cell(m['style_leakage'], 3)} | {_cell(m['style_transfer'], 3)} "
              f"| {_cell(m['random_part_leakage'], 3)} |")
    print()
    print("| row | part | faces | swap leakage | swap transfer | random leakage | random diversity | real diversity |")
    print("|---|---|---|---|---|---|---|---|")
    for name, report in rows:
        for part, found in (report["metrics"].get("per_part") or {}).items():  # older reports have none
            print(f"| {name} | {part} | {found['faces']} | {_cell(found['leakage'], 3)} "
                  f"| {_cell(found['transfer'], 3)} | {_cell(found['random_leakage'], 3)} "
                  f"| {_cell(found['random_diversity'], 1)} | {_cell(found['real_diversity'], 1)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
