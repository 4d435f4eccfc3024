"""Sample grids of a run: what the networks make of the first faces, one row per face."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def save_grid(rows: list[list[np.ndarray]], path: Path) -> None:
    """Rows of equally sized RGB tiles → one PNG (2 px white gaps)."""
    tile = rows[0][0].shape[0]
    gap = 2
    height = len(rows) * (tile + gap) - gap
    width = len(rows[0]) * (tile + gap) - gap
    canvas = np.full((height, width, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            canvas[r * (tile + gap): r * (tile + gap) + tile, c * (tile + gap): c * (tile + gap) + tile] = image
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(canvas).save(path)
