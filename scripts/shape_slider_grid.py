"""Before/after grid of the shape sliders at 1.0 (hair and nose) on real faces.

    python scripts/shape_slider_grid.py --data ../shared/data/celebamask-mini --count 10 --out docs/shape-sliders.png

Each row: the face, the shape source (the next face), then for hair and for nose: the
paper's slider (only the part's own latent moves to the source's, the rest of the face's
latents still describe the old layout), ours as the network gives it (every latent moves
to the composite mask: the source's part pasted on the face's mask, vacated pixels from the
neighbouring classes), and ours as ``Engine.render`` gives it (finished: the face's own
pixels outside the part's old and new regions; a nose keeping its style is the face's own
nose warped to the source's shape). The last two columns zoom on the nose before and after,
the source's nose outlined in green on both.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from ca2sis.model.inference.engine import Edit, Engine, Reference, default_weights
from ca2sis.model.labels import CLASS_NAMES
from ca2sis.model.photo.pipeline import PhotoPipeline

PARTS = ("hair", "nose")
TILE = 160


def nose_zoom(face: np.ndarray, finished: np.ndarray, target: np.ndarray) -> list[np.ndarray]:
    """The nose of ``face`` and of ``finished`` zoomed in, the new nose (``target``'s) outlined."""
    nose = target == CLASS_NAMES.index("nose")
    rows, cols = np.nonzero(nose)
    centre, half = np.array([rows.mean(), cols.mean()]) / target.shape[0], 0.14
    zooms = []
    face = cv2.resize(face, finished.shape[1::-1], interpolation=cv2.INTER_AREA)  # both at the generator's size
    for image in (face, finished):
        side = image.shape[0]
        top, left = (np.clip(centre - half, 0, 1 - 2 * half) * side).astype(int)
        span = int(2 * half * side)
        outline = cv2.resize(nose.astype(np.uint8), (side, side), interpolation=cv2.INTER_NEAREST)
        contours, _ = cv2.findContours(outline, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        crop = cv2.resize(image[top:top + span, left:left + span], (TILE, TILE), interpolation=cv2.INTER_CUBIC)
        scaled = [((contour - (left, top)) * TILE / span).astype(np.int32) for contour in contours]
        zooms.append(cv2.drawContours(crop.copy(), scaled, -1, (0, 255, 0), 1))
    return zooms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--offset", type=int, default=40, help="first face of the sorted data set")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    engine = Engine.from_pretrained(default_weights(), device="cpu")
    names = sorted(path.stem for path in (args.data / "images").glob("*.jpg"))[args.offset:args.offset + args.count + 1]
    faces = [(np.array(Image.open(args.data / "images" / f"{n}.jpg").convert("RGB")),
              np.array(Image.open(args.data / "masks" / f"{n}.png"))) for n in names]
    rows = []
    for index in range(args.count):
        (face, mask), (source, source_mask) = faces[index], faces[index + 1]
        tiles = [face, source]
        for part in PARTS:
            edit = Edit(mask, Reference(face, mask), part_shapes={part: (source_mask, 1.0)})
            codes = engine.edit_codes(edit)
            own_latent_only = engine.interpolate_parts(
                engine.embed_mask(mask), {CLASS_NAMES.index(part): (engine.embed_mask(source_mask), 1.0)})
            result = PhotoPipeline(engine).render(edit)
            tiles += [engine.generate(own_latent_only, codes)[0], result.raw, result.image]
        tiles += nose_zoom(face, result.image, engine.shape_target(edit, "nose"))
        rows.append(np.concatenate([cv2.resize(t, (TILE, TILE), interpolation=cv2.INTER_AREA) for t in tiles], 1))
    grid = Image.fromarray(np.concatenate([np.full((24, rows[0].shape[1], 3), 255, np.uint8), *rows]))
    draw = ImageDraw.Draw(grid)
    for column, title in enumerate(["face", "shape source", "hair: part latent", "hair: composite",
                                    "hair: finished", "nose: part latent", "nose: composite", "nose: finished",
                                    "nose zoom: face", "nose zoom: finished"]):
        draw.text((column * TILE + 6, 6), title, fill=(0, 0, 0))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    grid.save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
