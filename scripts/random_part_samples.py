"""A grid of random part styles from M_s: what the studio's *Random* button gives.

    python scripts/random_part_samples.py --weights weights/lite --out docs/training/random-parts.png

One row per demo face: the reconstruction, then hair, skin and lips each drawn from M_s with
three seeds, then every part at once (seed 0). The rest of the face keeps its own style.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from ca2sis.model.inference.engine import Edit, Engine, Reference
from ca2sis.model.io.bundled import bundled_gallery
from ca2sis.model.labels import CLASS_NAMES, part_index

PARTS = ("hair", "skin", "u_lip")
SEEDS = (1, 2, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--faces", nargs="+", default=["face-01", "face-02", "face-05"])
    args = parser.parse_args()
    engine = Engine.from_pretrained(args.weights, backend="torch")
    rows = []
    for name in args.faces:
        face, mask = bundled_gallery() / f"{name}.jpg", bundled_gallery() / f"{name}.png"
        base = Edit(mask=mask, style=Reference(face, mask))
        tiles = [engine.render(base).image]
        for part in PARTS:
            index = part_index(part)
            lips = {index, part_index("l_lip")} if part == "u_lip" else {index}
            for seed in SEEDS:
                edit = Edit(mask=mask, style=Reference(face, mask))
                edit.random_parts.update({j: (seed, 1.0) for j in lips})
                tiles.append(engine.render(edit).image)
        every = Edit(mask=mask, style=Reference(face, mask))
        every.random_parts.update({j: (0, 1.0) for j in range(len(CLASS_NAMES))})
        tiles.append(engine.render(every).image)
        rows.append(np.concatenate(tiles, axis=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows, axis=0)).save(args.out)
    print(f"wrote {args.out}: columns = reconstruction, " + ", ".join(f"{p} x{len(SEEDS)}" for p in PARTS)
          + ", every part")


if __name__ == "__main__":
    main()
