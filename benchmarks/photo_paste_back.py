"""Time to open a 12-megapixel photo in the studio and to save an edit pasted back into it.

    python benchmarks/photo_paste_back.py [--runs 3] [--json out.json]

The photo is made here: a demo face enlarged to 1400 px, turned 8 degrees, set into a
4000 x 3000 textured picture and written as a JPEG (quality 95), as a phone camera would.
"Open" is what the studio does when you open a photo (decode, find and align the face,
parse it, load it at the canvas size); "save" is "Save result" on it (paste the generated
face back at the photo's resolution, colour matched, and write the file), as JPEG and as
PNG. The generated face comes from the bundled weights and is not part of the times.
Median and minimum of ``--runs`` runs after one warm-up (which loads dlib and the parser).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ca2sis.app.state.document import Studio
from ca2sis.app.state.gallery import read_photo
from ca2sis.app.state.photo_edit import paste_plan
from ca2sis.model.faces.reader import FaceReader
from ca2sis.model.inference.engine import Engine
from ca2sis.model.io.weights import default_weights
from ca2sis.model.labels import CLASS_NAMES
from ca2sis.model.photo.pipeline import PhotoPipeline
from ca2sis.model.photo.source import save_image

REPO = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT = 4000, 3000


def make_photo(path: Path) -> None:
    face = np.array(Image.open(REPO / "assets" / "faces" / "face-02.jpg").convert("RGB"))
    noise = np.random.default_rng(0).integers(0, 255, (HEIGHT // 8, WIDTH // 8, 3), dtype=np.uint8)
    photo = cv2.resize(cv2.GaussianBlur(noise, (0, 0), 2), (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    photo[700:2100, 1300:2700] = cv2.resize(face, (1400, 1400), interpolation=cv2.INTER_CUBIC)
    turn = cv2.getRotationMatrix2D((WIDTH / 2, HEIGHT / 2), 8, 1.0)
    photo = cv2.warpAffine(photo, turn, (WIDTH, HEIGHT), borderMode=cv2.BORDER_REFLECT)
    Image.fromarray(photo).save(path, quality=95)


def timed(work, runs: int) -> dict[str, float]:
    work()  # warm-up
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - start)
    return {"median_s": round(statistics.median(seconds), 3), "min_s": round(min(seconds), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ca2sis-12mp-"))
    photo_path = folder / "photo-12mp.jpg"
    make_photo(photo_path)
    reader = FaceReader()
    report: dict = {"photo": f"{WIDTH}x{HEIGHT} JPEG, {photo_path.stat().st_size / 2**20:.1f} MiB"}
    report["open"] = timed(lambda: read_photo(photo_path, reader), args.runs)

    face = read_photo(photo_path, reader)
    studio = Studio(face)
    studio.set_random_styles({CLASS_NAMES.index("hair"): 7})
    pipeline = PhotoPipeline(Engine.from_pretrained(default_weights(), device="cpu"))
    # Hair from another face: the reference's colour is carried past the crop (the heaviest case).
    reference = Studio(read_photo(REPO / "assets" / "faces" / "face-05.jpg", reader))
    restyled = Studio(face)
    restyled.set_part_style(CLASS_NAMES.index("hair"), reference.document.base)
    plan = paste_plan(restyled.document)
    with_reference = pipeline.render(restyled.edit(), plan)  # the live view's render, then its save
    report["paste back (edited, hair from a reference)"] = timed(lambda: pipeline.paste(with_reference, plan),
                                                                 args.runs)
    report["save result (edited, hair from a reference, .jpg)"] = timed(
        lambda: save_image(pipeline.paste(with_reference, plan), folder / "result-reference.jpg"), args.runs)
    for region in ("edited", "face"):
        plan = paste_plan(studio.document, region)
        generated = pipeline.render(studio.edit(), plan)
        report[f"paste back ({region})"] = timed(lambda plan=plan, generated=generated: pipeline.paste(generated, plan),
                                                 args.runs)
        for suffix in (".jpg", ".png"):
            out = folder / f"result-{region}{suffix}"
            report[f"save result ({region}, {suffix})"] = timed(
                lambda plan=plan, out=out, generated=generated: save_image(pipeline.paste(generated, plan), out),
                args.runs)
    plan = paste_plan(studio.document)
    report["preview render and paste back (every render in the window)"] = timed(
        lambda: pipeline.render(studio.edit(), plan), args.runs)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
