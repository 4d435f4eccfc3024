"""Contact sheets of the measured part swaps: photo | reference | result, to look at.

``write_sheets`` reads the rows of ``photo_edits.run_photo_edits`` and the edited photos it
kept, and writes ``{hair,skin,lips,eyes}-LABEL.jpg``: 12 hair swaps (3 with a fringe at the
frame, 3 curly, 3 dark to light, 3 light to dark), 8 skin swaps (4 on dark faces, 4 on lighter
ones), 6 lip swaps, 4 eye swaps. Each cell is cropped to the head (the lips or the eyes for
those parts) at ``CELL`` px, large enough to judge a seam, a halo or a grey skin; a refused
edit shows its error. Under each result: its id, the figures of the measure and ``THROWN
AWAY`` with the reasons where the measure would throw it away.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .framed_set import Library
from .photo_edits import BACKGROUND, CLOTH, L_BROW, L_EYE, L_LIP, R_BROW, R_EYE, U_LIP

CELL = 300  # px per picture
GAP = 14  # px between two swaps on a row
PER_ROW = 2  # swaps per row
HAIR_GROUPS = (("fringe", 3), ("curly", 3), ("dark-to-light", 3), ("light-to-dark", 3))
COUNTS = {"skin": 8, "lips": 6, "eyes": 4}
JPEG_QUALITY = 78


def choose(rows: list[dict], part: str) -> list[dict]:
    """The swaps a sheet shows, in the measure's order within each group."""
    mine = [row for row in rows if row["part"] == part]
    if part == "hair":
        chosen: list[dict] = []
        for tag, count in HAIR_GROUPS:
            chosen += [row for row in mine if tag in row["tags"] and row not in chosen][:count]
        return chosen
    if part == "skin":  # dark faces first, then the lighter ones
        dark = [row for row in mine if "dark-skin" in row["photo"] or row["photo"] == "tight-dark-curly"][:4]
        return dark + [row for row in mine if row not in dark][: COUNTS["skin"] - len(dark)]
    return mine[: COUNTS[part]]


def crop_box(mask: np.ndarray, part: str) -> tuple[int, int, int]:
    """(left, top, side) of a square around the head, or the lips or eyes, inside the picture."""
    if part == "lips":
        region, grow = np.isin(mask, (U_LIP, L_LIP)), 1.6
    elif part == "eyes":
        region, grow = np.isin(mask, (L_EYE, R_EYE, L_BROW, R_BROW)), 0.5
    else:
        region, grow = ~np.isin(mask, (BACKGROUND, CLOTH)), 0.08
    ys, xs = np.nonzero(region) if region.any() else np.nonzero(np.ones_like(mask))
    top, bottom, left, right = ys.min(), ys.max(), xs.min(), xs.max()
    side = int(max(bottom - top, right - left) * (1 + grow))
    side = min(side, mask.shape[0], mask.shape[1])
    cx, cy = (left + right) // 2, (top + bottom) // 2
    x0 = int(np.clip(cx - side // 2, 0, mask.shape[1] - side))
    y0 = int(np.clip(cy - side // 2, 0, mask.shape[0] - side))
    return x0, y0, side


def cell(image: np.ndarray, box: tuple[int, int, int], lines: list[str], alarm: bool = False) -> np.ndarray:
    x0, y0, side = box
    picture = cv2.resize(np.ascontiguousarray(image[y0:y0 + side, x0:x0 + side]), (CELL, CELL),
                         interpolation=cv2.INTER_AREA if side > CELL else cv2.INTER_CUBIC)
    height = 14 * len(lines) + 4
    picture[CELL - height:] = (picture[CELL - height:] * 0.35).astype(np.uint8)
    for number, line in enumerate(lines):
        colour = (255, 120, 100) if alarm and number == len(lines) - 1 else (255, 255, 255)
        cv2.putText(picture, line, (4, CELL - height + 13 + 14 * number), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1,
                    cv2.LINE_AA)
    return picture


def message_cell(lines: list[str]) -> np.ndarray:
    picture = np.full((CELL, CELL, 3), 40, np.uint8)
    for number, line in enumerate(lines):
        cv2.putText(picture, line[:44], (6, 24 + 16 * number), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 160, 140), 1,
                    cv2.LINE_AA)
    return picture


def figures(row: dict) -> str:
    parts = [f"{name} {row[key]:.2f}" for name, key in (("left", "left"), ("untouched", "untouched"),
                                                         ("band", "band_change"), ("detail", "detail"))
             if row.get(key) is not None]
    return " ".join(parts)


def swap(library: Library, row: dict, results: Path) -> np.ndarray:
    record = library.records[row["photo"]]
    photo, mask = library.read(record["photo"]), library.read(record["mask"])
    reference, reference_mask = library.reference_pixels(row["reference"])
    box = crop_box(mask, row["part"])
    cells = [cell(photo, box, [row["photo"]]),
             cell(reference, crop_box(reference_mask, row["part"]), [f"reference {row['reference']}"])]
    if "failed" in row:
        cells.append(message_cell([f"{row['id']}: refused ({row['failed']})", *wrap(row.get("error", ""), 44)]))
    else:
        edited = np.array(Image.open(results / row["result"]).convert("RGB"))
        verdict = "THROWN AWAY: " + ", ".join(row["reasons"]) if row["thrown_away"] else "kept"
        cells.append(cell(edited, box, [row["id"], figures(row), verdict], alarm=row["thrown_away"]))
    return np.concatenate(cells, axis=1)


def wrap(text: str, width: int) -> list[str]:
    return [text[start:start + width] for start in range(0, min(len(text), 6 * width), width)]


def sheet(swaps: list[np.ndarray]) -> np.ndarray:
    rows = []
    for start in range(0, len(swaps), PER_ROW):
        line = swaps[start:start + PER_ROW]
        line += [np.zeros_like(swaps[0])] * (PER_ROW - len(line))
        spacer = np.full((CELL, GAP, 3), 255, np.uint8)
        joined = [line[0]]
        for item in line[1:]:
            joined += [spacer, item]
        rows += [np.concatenate(joined, axis=1), np.full((GAP // 2, 1, 3), 255, np.uint8)]
    width = max(row.shape[1] for row in rows)
    return np.concatenate([np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0)), constant_values=255)
                           for row in rows])


def write_sheets(library: Library, rows: list[dict], results: Path, out: Path, label: str) -> list[Path]:
    """The contact sheets of ``rows`` (their edited photos in ``results``) as ``out/PART-LABEL.jpg``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for part in ("hair", "skin", "lips", "eyes"):
        chosen = choose(rows, part)
        if chosen:
            path = out / f"{part}-{label}.jpg"
            Image.fromarray(sheet([swap(library, row, results) for row in chosen])).save(
                path, quality=JPEG_QUALITY, optimize=True)
            written.append(path)
    return written
