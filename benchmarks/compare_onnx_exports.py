"""Two or more ONNX exports of the same weights timed side by side, interleaved, in one run.

Usage: python benchmarks/compare_onnx_exports.py DIR [DIR ...] [--runs 20] [--threads N]

Each DIR is a weights folder with its ``ca2sis-export`` (for instance the same random weights
exported by two versions of the code). Every run times one full generation and one part edit
(``inference.bench``'s two measurements) on each folder in turn, so a load that comes and goes on
a shared machine hits every export alike; the ratios are what to read. The outputs of the part
edits are also compared: PSNR of every export against the first one's.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np

from ca2sis.model.devices import instruction_set, physical_cores
from ca2sis.model.inference.bench import HAIR, synthetic_face, synthetic_face_mask
from ca2sis.model.inference.edits import Edit, Reference
from ca2sis.model.inference.engine import Engine


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if error == 0 else 10 * np.log10(255.0**2 / error)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--threads", type=int)
    args = parser.parse_args()
    engines = [Engine.from_pretrained(folder, device="cpu", backend="onnx", threads=args.threads)
               for folder in args.folders]
    size = engines[0].image_size
    mask = synthetic_face_mask(size)
    face, reference = synthetic_face(mask, 0), synthetic_face(mask, 1)
    times = {folder: {"full generation": [], "part edit": []} for folder in args.folders}
    images: dict[Path, np.ndarray] = {}
    for run in range(args.runs + 2):  # two untimed warm-up runs
        edited = mask.copy()
        edited[size - 12 : size - 4, run * 3 : run * 3 + 8] = HAIR
        for folder, engine in zip(args.folders, engines):
            engine.clear_caches()
            full = engine.render(Edit(mask, Reference(face, mask)))
            restyled = {HAIR: (Reference(reference, mask), 1.0)}
            part = engine.render(Edit(edited, Reference(face, mask), part_styles=restyled))
            if run >= 2:
                times[folder]["full generation"].append(full.milliseconds["total"])
                times[folder]["part edit"].append(part.milliseconds["total"])
            images[folder] = part.image
    print(f"{size} px, {args.runs} interleaved runs, {engines[0].backend.description}, "
          f"{args.threads or physical_cores()} threads, CPU {instruction_set()}\n")
    print("| export | full generation ms (median / min) | part edit ms (median / min) | speed-up | PSNR vs first |")
    print("|---|---|---|---|---|")
    first = args.folders[0]
    base = statistics.median(times[first]["full generation"])
    for folder in args.folders:
        cells = [f"{statistics.median(t):.1f} / {min(t):.1f}" for t in times[folder].values()]
        speedup = base / statistics.median(times[folder]["full generation"])
        print(f"| {folder} | {cells[0]} | {cells[1]} | {speedup:.2f}x | {psnr(images[folder], images[first]):.1f} dB |")


if __name__ == "__main__":
    main()
