"""Time of the first render of a hair swap in a 12-megapixel photo, when its classes and mattes are found.

    python benchmarks/photo_first_render.py [--runs 3]

The studio's first render of a photo's style edit finds the photo's classes at its own framing
and the hair's matte on the photo's preview (``photo/framing.py``, ``photo/matte.py``); every
render and save after it reuses them (``benchmarks/photo_paste_back.py`` times those). Each run
empties those caches first; the 12 MP photo is the one ``photo_paste_back.py`` makes. Prints
the pipeline's own time (the networks apart) and the whole render's.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from photo_paste_back import REPO, make_photo

from ca2sis.model.faces.reader import FaceReader
from ca2sis.model.inference.edits import Edit, Reference
from ca2sis.model.inference.engine import Engine
from ca2sis.model.io.weights import default_weights
from ca2sis.model.photo import framing, recolour
from ca2sis.model.photo.paste import PhotoTarget
from ca2sis.model.photo.pipeline import PhotoPipeline
from ca2sis.model.photo.source import read_photo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    path = Path(tempfile.mkdtemp(prefix="ca2sis-first-")) / "photo-12mp.jpg"
    make_photo(path)
    reader = FaceReader()
    engine = Engine.from_pretrained(default_weights(), device="cpu")
    reference = Reference(str(REPO / "assets" / "faces" / "face-05.jpg"))
    finishes, totals = [], []
    for run in range(args.runs + 1):
        face, photo = read_photo(reader, path)
        framing.clear_cache()
        recolour.clear_cache()
        edit = Edit(face.mask, Reference(face.image, face.mask), part_styles={"hair": (reference, 1.0)})
        start = time.perf_counter()
        rendered = PhotoPipeline(engine).render(edit, PhotoTarget(photo, face.mask))
        if run:  # the first run loads the networks and the reference
            totals.append(time.perf_counter() - start)
            finishes.append(rendered.milliseconds["finish"] / 1000)
    print(f"first render of a hair swap in a 4000x3000 photo, {args.runs} runs: pipeline (finish) median "
          f"{statistics.median(finishes):.2f} s (min {min(finishes):.2f}), whole render median "
          f"{statistics.median(totals):.2f} s")


if __name__ == "__main__":
    main()
