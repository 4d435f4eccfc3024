"""How long a photo edit takes: ``ca2sis-bench photo``.

Two measurements, on the bundled weights (or ``weights``) and demo faces:

- ``time_photo_steps``: the studio's steps on a 12-megapixel photo, made here as a phone would
  take it (demo face-02 enlarged to 1400 px, turned 8 degrees, in a 4000 x 3000 textured
  picture, JPEG quality 95), in this process: *open* (decode, find and align the face, parse
  it); the *first render* of a hair swap (face-05's hair), when the photo's classes at its own
  framing and the hair's matte are found (those caches are emptied before each run), and of it
  the finishing (the photo pipeline's own work, the networks apart); the
  render again (what each later stroke costs, caches kept); *paste back* (the generated face
  into the whole photo) and *save* as JPEG and PNG (paste back and write). Median and minimum
  of ``runs`` after one warm-up run, in seconds.
- ``time_edit_command``: ``ca2sis-edit --paste-back PHOTO --part hair=REFERENCE --json`` run as a
  user runs it, a fresh Python process each time: the photo is face-02 (512 px) and the reference
  face-05, both given alone (found and parsed as photos). The whole process's wall time and the
  command's own split (``seconds``: read the photo, load the networks, render, write;
  ``milliseconds``: the engine's styles, generator, finishing), medians and minima.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..errors import CA2SISError
from ..faces.reader import FaceReader
from ..inference.edits import Edit, Reference
from ..inference.engine import Engine
from ..io.bundled import bundled_gallery
from ..io.weights import default_weights
from ..photo import colour, framing, recolour
from ..photo.paste import PhotoTarget
from ..photo.pipeline import PhotoPipeline
from ..photo.source import read_photo, save_image

WIDTH, HEIGHT = 4000, 3000
PHOTO_FACE, REFERENCE_FACE = "face-02.jpg", "face-05.jpg"


def twelve_megapixel_photo(path: Path) -> Path:
    """A 4000 x 3000 JPEG with a demo face 1400 px across in it, turned 8 degrees."""
    face = np.array(Image.open(bundled_gallery() / PHOTO_FACE).convert("RGB"))
    noise = np.random.default_rng(0).integers(0, 255, (HEIGHT // 8, WIDTH // 8, 3), dtype=np.uint8)
    photo = cv2.resize(cv2.GaussianBlur(noise, (0, 0), 2), (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    photo[700:2100, 1300:2700] = cv2.resize(face, (1400, 1400), interpolation=cv2.INTER_CUBIC)
    turn = cv2.getRotationMatrix2D((WIDTH / 2, HEIGHT / 2), 8, 1.0)
    Image.fromarray(cv2.warpAffine(photo, turn, (WIDTH, HEIGHT), borderMode=cv2.BORDER_REFLECT)).save(path, quality=95)
    return path


def _summary(seconds: list[float]) -> dict[str, float]:
    return {"median_s": round(statistics.median(seconds), 3), "min_s": round(min(seconds), 3)}


def _timed(work: Callable[[], object], runs: int, before: Callable[[], None] = lambda: None) -> dict[str, float]:
    """Median and minimum seconds of ``work`` over ``runs`` runs after one warm-up; ``before``
    runs ahead of each, untimed."""
    seconds = []
    for run in range(runs + 1):
        before()
        start = time.perf_counter()
        work()
        if run:
            seconds.append(time.perf_counter() - start)
    return _summary(seconds)


def _empty_photo_caches(engine: Engine) -> None:
    engine.forget_generated_faces()
    framing.clear_cache()
    recolour.clear_cache()
    colour.clear_cache()


def time_photo_steps(runs: int = 3, weights: Path | None = None) -> dict:
    """The studio's steps on a 12 MP photo with a hair swap, in seconds (see the module)."""
    with tempfile.TemporaryDirectory(prefix="ca2sis-bench-photo-") as scratch:
        path = twelve_megapixel_photo(Path(scratch) / "photo-12mp.jpg")
        reader = FaceReader()
        report: dict = {"photo": f"{WIDTH}x{HEIGHT} JPEG, {path.stat().st_size / 2**20:.1f} MiB",
                        "open": _timed(lambda: read_photo(reader, path), runs)}
        face, photo = read_photo(reader, path)
        pipeline = PhotoPipeline(Engine.from_pretrained(weights or default_weights(), device="cpu"))
        hair = Reference(str(bundled_gallery() / REFERENCE_FACE))
        edit = Edit(face.mask, Reference(face.image, face.mask), part_styles={"hair": (hair, 1.0)})
        target = PhotoTarget(photo, face.mask)
        finishes: list[float] = []  # the photo pipeline's own share of each render, the networks apart
        report["first render (hair swap)"] = _timed(
            lambda: finishes.append(pipeline.render(edit, target).milliseconds["finish"] / 1000), runs,
            lambda: _empty_photo_caches(pipeline.engine))
        report["first render: finishing"] = _summary(finishes[1:])
        # G draws again as after a stroke (the edit's own face would be a cache hit); the rest is kept.
        report["render again (caches kept)"] = _timed(lambda: pipeline.render(edit, target), runs,
                                                      pipeline.engine.forget_generated_faces)
        rendered = pipeline.render(edit, target)
        report["paste back"] = _timed(lambda: pipeline.paste(rendered, target), runs)
        for suffix in (".jpg", ".png"):
            out = Path(scratch) / f"result{suffix}"
            report[f"save ({suffix})"] = _timed(lambda out=out: save_image(pipeline.paste(rendered, target), out), runs)
    return report


def time_edit_command(runs: int = 3, weights: Path | None = None, backend: str = "auto") -> dict:
    """``ca2sis-edit --paste-back`` of a 512 px photo given another photo's hair, each run a fresh
    process: seconds of the whole process and of each step the command reports."""
    steps: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="ca2sis-bench-edit-") as scratch:
        # Copied alone: beside its mask a demo face would be taken as an aligned face, not a photo.
        photo, reference = (Path(shutil.copy(bundled_gallery() / name, Path(scratch) / f"photo-{name}"))
                            for name in (PHOTO_FACE, REFERENCE_FACE))
        command = [sys.executable, "-m", "ca2sis.model.cli.edit", "--paste-back", str(photo), "--part",
                   f"hair={reference}", "--out", str(Path(scratch) / "edited.png"), "--backend", backend, "--json",
                   *(["--weights", str(weights)] if weights else [])]
        for run in range(runs + 1):
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True)
            wall = time.perf_counter() - start
            if done.returncode != 0:
                raise CA2SISError(f"ca2sis-edit failed ({done.returncode}): {done.stderr.strip()[-300:]}")
            if run:  # the first run fills the disk cache
                reported = json.loads(done.stdout)
                figures = {"whole command": wall, **reported["seconds"],
                           **{f"{name} (engine)": ms / 1000 for name, ms in reported["milliseconds"].items()}}
                for name, value in figures.items():
                    steps.setdefault(name, []).append(value)
    return {"photo": f"{PHOTO_FACE} (512 px), hair from {REFERENCE_FACE}, both parsed as photos",
            "load_average": [round(value, 2) for value in os.getloadavg()],
            **{name: _summary(values) for name, values in steps.items()}}
