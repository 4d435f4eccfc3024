"""Where the wait of one photo edit goes: ``ca2sis-edit --paste-back PHOTO --part hair=REF``.

    python benchmarks/photo_edit_wait.py [--runs 3] [--weights DIR] [--backend auto] [--json out.json]

The photo and the reference are the first two validation faces (512 px photos of
celebamask-mini, ``assets/splits/celebamask-mini-val.txt``); the reference is given without
its mask, so it is found and parsed like the photo. Each run is a fresh Python process, as a
user's command is: start-up imports, reading the photo (finding, aligning and parsing its face),
loading the networks, the render (the engine's ``styles``, which parses the reference,
``generator`` and the finishing steps), and writing the photo.

``--separate-readers`` runs it as before the photo's face reader was shared with the engine:
the reference read by a second reader that loads dlib's landmark model and the parser again.
The two kinds of run alternate, so a shared machine's load weighs on both alike; the load
average is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "celebamask-mini" / "images"

# Runs inside the fresh process: the import timed, then ca2sis-edit's main with --json.
ONE_RUN = """
import json, sys, time
started = time.perf_counter()
from ca2sis.model.cli import edit
imported = time.perf_counter() - started
if {separate}:  # as before: the engine keeps its own reader for the reference
    edit.photo_reader = lambda engine, reader=None: reader
import contextlib, io
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = edit.main({arguments!r})
summary = json.loads(out.getvalue())
print(json.dumps({{"code": code, "import": imported, **summary["seconds"], **summary["milliseconds"]}}))
"""


def validation_faces(count: int = 2) -> list[Path]:
    names = [line.strip() for line in (REPO / "assets" / "splits" / "celebamask-mini-val.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    return [DATA / f"{name}.jpg" for name in names[:count]]


def one_run(arguments: list[str], separate: bool) -> dict:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", ONE_RUN.format(separate=separate, arguments=arguments)],
                            capture_output=True, text=True, check=True)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["process"] = time.perf_counter() - started
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--weights", default=None, help="weights folder (default: the bundled lite weights)")
    parser.add_argument("--backend", default="auto", choices=("auto", "torch", "onnx"))
    parser.add_argument("--separate-readers", action="store_true", help="also time the edit as it was before")
    parser.add_argument("--json", type=Path, help="write every run's figures here")
    args = parser.parse_args()
    photo, reference = validation_faces()
    modes = ["shared", "separate"] if args.separate_readers else ["shared"]
    runs: dict[str, list[dict]] = {mode: [] for mode in modes}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        arguments = ["--paste-back", str(photo), "--part", f"hair={reference}", "--out", str(Path(folder) / "o.png"),
                     "--backend", args.backend, "--json", *(["--weights", args.weights] if args.weights else [])]
        for _ in range(args.runs):
            for mode in modes:
                runs[mode].append(one_run(arguments, mode == "separate"))
    load_after = os.getloadavg()
    print(f"{photo.name} with the hair of {reference.name}, {args.runs} runs, {os.cpu_count()} CPUs, load average "
          f"{load_before[0]:.1f} before, {load_after[0]:.1f} after; medians in seconds (min)")
    keys = [("process", "whole command"), ("import", "the command's imports"), ("read_photo", "read the photo"),
            ("load_networks", "load the networks"), ("render", "render"), ("styles", "  styles (ms)"),
            ("generator", "  generator (ms)"), ("finish", "  finishing (ms)"), ("write", "write")]
    print(f"{'':24}" + "".join(f"{mode:>18}" for mode in modes))
    for key, label in keys:
        cells = []
        for mode in modes:
            values = [run[key] for run in runs[mode] if key in run]
            cells.append(f"{statistics.median(values):9.2f} ({min(values):5.2f})" if values else f"{'-':>18}")
        print(f"{label:24}" + "".join(f"{cell:>18}" for cell in cells))
    if args.json:
        args.json.write_text(json.dumps({"load_before": load_before, "load_after": load_after, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
