"""Hair style and shape from another face, finished into the photo: a grid to look for ghosts.

    python scripts/hair_shape_grid.py --data ../shared/data/celebamask-mini --count 4 --out docs/hair-shape.png

Takes the pairs of faces (each face and the next, among the first ``--pool``) whose hair
shapes differ most, and gives each face the next one's hair, style and shape (both at 1.0),
pasted back into the 512 px face as into a photo (``paste_edit``, as the studio and
``ca2sis-edit --paste-back`` do). Each row: the face, the reference, the network's face
(``Result.raw``) and the photo edited. Where the new hair covers what was face or
background, or the old hair becomes skin, nothing of the old photo may show through.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from ca2sis.model.inference.engine import Edit, Engine, Reference, default_weights
from ca2sis.model.labels import CLASS_NAMES
from ca2sis.model.photo.paste import PhotoTarget
from ca2sis.model.photo.pipeline import PhotoPipeline
from ca2sis.model.photo.source import SourcePhoto, whole_picture_matrix

HAIR = CLASS_NAMES.index("hair")
TILE = 256


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--count", type=int, default=4)
    parser.add_argument("--pool", type=int, default=60, help="faces (sorted by name) to choose the pairs from")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    names = sorted(path.stem for path in (args.data / "images").glob("*.jpg"))[:args.pool]
    masks = [np.array(Image.open(args.data / "masks" / f"{name}.png")) for name in names]
    # The pairs whose hair differs most: the share of the image in one hair and not the other.
    change = [np.mean((masks[i] == HAIR) != (masks[i + 1] == HAIR)) for i in range(len(names) - 1)]
    chosen = sorted(np.argsort(change)[::-1][:args.count])
    pipeline = PhotoPipeline(Engine.from_pretrained(default_weights(), device="cpu"))
    rows = []
    for index in chosen:
        face = np.array(Image.open(args.data / "images" / f"{names[index]}.jpg").convert("RGB"))
        reference = np.array(Image.open(args.data / "images" / f"{names[index + 1]}.jpg").convert("RGB"))
        mask, reference_mask = masks[index], masks[index + 1]
        edit = Edit(mask, Reference(face, mask), part_styles={"hair": (Reference(reference, reference_mask), 1.0)},
                    part_shapes={"hair": (reference_mask, 1.0)})
        photo = SourcePhoto(face, whole_picture_matrix(face.shape[1], face.shape[0], face.shape[0]), face.shape[0])
        result = pipeline.render(edit, PhotoTarget(photo, mask), full_photo=True)
        edited = result.photo
        tiles = [face, reference, result.raw, edited]
        rows.append(np.concatenate([cv2.resize(t, (TILE, TILE), interpolation=cv2.INTER_AREA) for t in tiles], 1))
    grid = Image.fromarray(np.concatenate([np.full((24, rows[0].shape[1], 3), 255, np.uint8), *rows]))
    draw = ImageDraw.Draw(grid)
    for column, title in enumerate(["face", "hair from (style and shape)", "network's face", "photo edited"]):
        draw.text((column * TILE + 6, 6), title, fill=(0, 0, 0))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    grid.save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
