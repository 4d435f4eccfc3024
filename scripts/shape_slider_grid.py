"""Before/after grid of the shape sliders at 1.0 (hair and nose) on real faces.

    python scripts/shape_slider_grid.py --data ../shared/data/celebamask-mini --count 10 --out docs/shape-sliders.png

Each row: the face, the shape source (the next face), then for hair and for nose: the
paper's slider (only the part's own latent moves to the source's, the rest of the face's
latents still describe the old layout), ours as the network gives it (every latent moves
to the composite mask: the source's part pasted on the face's mask, vacated pixels from the
neighbouring classes), and ours as ``Engine.render`` gives it (finished: the face's own
pixels outside the part's old and new regions).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from ca2sis.model.inference.engine import Edit, Engine, Reference, default_weights
from ca2sis.model.labels import CLASS_NAMES

PARTS = ("hair", "nose")
TILE = 160


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
            result = engine.render(edit)
            tiles += [engine.generate(own_latent_only, codes)[0], result.raw, result.image]
        rows.append(np.concatenate([cv2.resize(t, (TILE, TILE), interpolation=cv2.INTER_AREA) for t in tiles], 1))
    grid = Image.fromarray(np.concatenate([np.full((24, rows[0].shape[1], 3), 255, np.uint8), *rows]))
    draw = ImageDraw.Draw(grid)
    for column, title in enumerate(["face", "shape source", "hair: part latent", "hair: composite",
                                    "hair: finished", "nose: part latent", "nose: composite", "nose: finished"]):
        draw.text((column * TILE + 6, 6), title, fill=(0, 0, 0))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    grid.save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
