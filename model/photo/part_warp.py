"""A feature of the face moved and stretched to a new shape by a smooth warp of the photo.

A nose made wider or lips made fuller are the photo's own nose and lips, carried to the new
shape: every pixel of the result is a pixel of the photo, taken from a little elsewhere.
``moved_field`` finds where each pixel comes from, as a dense displacement field:

- on the part as it will be (its old region carried by ``part_move``'s affine map, which
  matches the old and new regions' centres and spreads), the affine map exactly;
- on the face's other features (the eyes by a nose, the nose by the lips) and beyond a reach
  around the part (``REACH`` of its size), no displacement: they stay where they are;
- in between, over the skin, the harmonic interpolation of the two (``inpaint.membrane``):
  the skin is stretched where the part grows into it and drawn in over where the part
  leaves, smoothly, with no step and no box, and with no invented pixels.

``warped`` applies the field at the photo's resolution (``cv2.remap``, cubic). The field is
solved on a grid of at most ``GRID`` pixels a side (it is smooth) and brought up linearly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from ..labels import CLASS_NAMES
from .detail import part_move
from .inpaint import membrane
from .regions import box_around

REACH = 0.9  # how far past the part the skin is stretched: this share of the part's size (root of its area)
MIN_REACH = 0.03  # ... and at least this share of the side
GAP = 1.0  # another feature is held still only this many largest displacements away from the part
GRID = 160  # the field is solved on a grid of at most this side (a smooth field needs no more)
SMOOTH = 0.01  # share of the side: the field is smoothed by this (no crease along the part's outline)
COLUMN_SMOOTH = 0.012  # share of the side: the lips' column map is smoothed across columns by this
SKIN, MOUTH = (CLASS_NAMES.index(name) for name in ("skin", "mouth"))
LIPS = tuple(CLASS_NAMES.index(name) for name in ("u_lip", "l_lip"))


@dataclass(frozen=True)
class MoveField:
    """Where each pixel of ``box`` comes from: x + dx, y + dy, in the picture's pixels."""

    box: tuple[slice, slice]
    dx: np.ndarray
    dy: np.ndarray


def part_reach(old: np.ndarray, new: np.ndarray) -> int:
    """Pixels past a moved part's old and new regions that its warp reaches."""
    side = old.shape[0]
    return max(2, round(max(REACH * np.sqrt((old | new).sum()), MIN_REACH * side)))


def moved_support(original: np.ndarray, targets: Mapping[int, np.ndarray]) -> np.ndarray:
    """bool: every pixel the warp of the moved parts may change (``targets``: part → its new
    region, at the mask's side)."""
    support = np.zeros(original.shape, bool)
    for part, new in targets.items():
        old = original == part
        together = (old | new).astype(np.uint8)
        support |= cv2.distanceTransform(1 - together, cv2.DIST_L2, 3) <= part_reach(old, new) + 1
    return support


def moved_field(original: np.ndarray, targets: Mapping[int, np.ndarray], strengths: Mapping[int, float]
                ) -> MoveField | None:
    """The displacement that carries each part of ``targets`` (part → bool, its new region) from
    where ``original`` (the photo's mask, at the picture's side) has it, ``strengths`` of the way
    (see the module's text). None: nothing moves."""
    side = original.shape[0]
    targets = {part: new for part, new in targets.items() if (original == part).any() and new.any()}
    if not targets:
        return None
    support = moved_support(original, targets)
    box = box_around(support, 2)
    lips = {part: new for part, new in targets.items() if part in LIPS}
    column_dx, column_dy = _column_field(original, lips, strengths, box)
    targets = {part: new for part, new in targets.items() if part not in LIPS}
    height, width = support[box].shape
    scale = min(1.0, GRID / max(height, width))
    size = (max(2, round(width * scale)), max(2, round(height * scale)))
    rows, cols = np.mgrid[box[0], box[1]].astype(np.float32)  # the picture's pixels
    values = np.zeros((height, width, 2), np.float32)
    known = ~support[box]  # beyond the reach: still
    placed = np.zeros((height, width), bool)
    largest = 0.0
    for part, new in targets.items():
        # The part as it will be: where the inverse map from it lands in the old part.
        move = part_move(original == part, new, float(strengths.get(part, 1.0)))
        source_x = (move[0, 0] * cols + move[0, 1] * rows + move[0, 2]).astype(np.float32)
        source_y = (move[1, 0] * cols + move[1, 1] * rows + move[1, 2]).astype(np.float32)
        inside = _lands_in(original == part, source_x, source_y)
        values[inside, 0] = (source_x - cols)[inside]
        values[inside, 1] = (source_y - rows)[inside]
        placed |= inside
        if inside.any():
            largest = max(largest, float(np.hypot(values[inside, 0], values[inside, 1]).max()))
    if not targets:
        return MoveField(box, column_dx, column_dy)
    moving = set(targets)
    # The face's other features stay, unless the part comes close (then the skin between would fold).
    still = ~np.isin(original[box], [SKIN, *moving])
    near = cv2.distanceTransform((~placed).astype(np.uint8), cv2.DIST_L2, 3) <= GAP * largest + 2
    known |= placed | (still & ~near)
    small = cv2.resize(values * scale, size, interpolation=cv2.INTER_AREA)
    small_known = cv2.resize(known.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.5
    small_known |= cv2.resize(placed.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.5
    field = membrane(small, small_known)
    field = cv2.GaussianBlur(field, (0, 0), max(0.5, SMOOTH * side * scale))
    field = cv2.resize(field / scale, (width, height), interpolation=cv2.INTER_LINEAR)
    # On the parts themselves the map exactly (a lip made thin is squeezed over a few pixels,
    # finer than the smooth field), joined to the smooth field over a pixel or two.
    exact = cv2.GaussianBlur(placed.astype(np.float32), (0, 0), 1.0)[..., None] * placed[..., None]
    field += exact * (values - field)
    field[..., 0] += column_dx
    field[..., 1] += column_dy
    # Exactly still past the reach (the fade of the smoothed field there is far below a pixel).
    field[~support[box]] = 0.0
    return MoveField(box, np.ascontiguousarray(field[..., 0]), np.ascontiguousarray(field[..., 1]))


def _column_field(original: np.ndarray, lips: Mapping[int, np.ndarray], strengths: Mapping[int, float],
                  box: tuple[slice, slice]) -> tuple[np.ndarray, np.ndarray]:
    """dx, dy (float32, ``box``'s shape): the lips carried to their new shapes column by column.
    A lip is wide and often thin and curved (no stretch of its spread fits it), so in each
    column the new lips' edges are matched to the old lips' edges in the matching column
    (the lips' span stretched onto the old span) and the rows between, and the skin above
    and below as far as the reach (not into the nose), are mapped linearly between those
    knots: a map that never folds, squeezing a full lip into a thin one or drawing a thin one
    out. Smoothed across columns; none where no lip moves."""
    height, width = box[0].stop - box[0].start, box[1].stop - box[1].start
    dx, dy = np.zeros((height, width), np.float32), np.zeros((height, width), np.float32)
    parts = [part for part in LIPS if part in lips]
    if not parts:
        return dx, dy
    side = original.shape[0]
    old_all = np.isin(original, parts)
    new_all = np.zeros_like(old_all)
    for part in parts:
        new_all |= lips[part]
    reach = part_reach(old_all, new_all)
    alpha = float(np.mean([strengths.get(part, 1.0) for part in parts]))
    old_columns, new_columns = np.flatnonzero(old_all.any(axis=0)), np.flatnonzero(new_all.any(axis=0))
    if len(old_columns) == 0 or len(new_columns) == 0:
        return dx, dy
    # Columns: the new lips' width stretched onto the old one's.
    ratio = (old_columns[-1] - old_columns[0]) / max(1, new_columns[-1] - new_columns[0])
    held = ~np.isin(original, [SKIN, MOUTH, *LIPS])  # the nose and the rest keep their places
    rows = np.arange(side, dtype=np.float32)
    for x in range(new_columns[0], new_columns[-1] + 1):
        source_x = old_columns[0] + (x - new_columns[0]) * ratio
        column = int(round(source_x))
        knots = []
        for part in parts:
            new_rows, old_rows = np.flatnonzero(lips[part][:, x]), np.flatnonzero(original[:, column] == part)
            if len(new_rows) and len(old_rows):
                knots += [(new_rows[0], old_rows[0]), (new_rows[-1] + 1, old_rows[-1] + 1)]
        kept = []
        for new_row, old_row in knots:  # both increasing, or the knot is dropped
            if not kept or (new_row > kept[-1][0] and old_row > kept[-1][1]):
                kept.append((new_row, old_row))
        if not kept:
            continue
        top = min(kept[0]) - reach
        above = np.flatnonzero(held[:min(kept[0]) - 1, x])
        if len(above):
            top = max(top, int(above[-1]) + 1)
        bottom = max(kept[-1]) + reach
        bottom = min(bottom, side - 1)
        knots_new = [-1.0, top, *(k[0] for k in kept), bottom, float(side)]
        knots_old = [-1.0, top, *(k[1] for k in kept), bottom, float(side)]
        source_y = np.interp(rows, knots_new, knots_old)  # beyond the end knots: the rows themselves
        weight = np.interp(rows, [top, kept[0][0], kept[-1][0], bottom], [0.0, 1.0, 1.0, 0.0])
        span = slice(box[0].start, box[0].stop)
        if box[1].start <= x < box[1].stop:
            dy[:, x - box[1].start] = (source_y - rows)[span]
            dx[:, x - box[1].start] = (weight * (source_x - x))[span]
    sigma = max(1.0, COLUMN_SMOOTH * side)
    dx = cv2.GaussianBlur(dx, (0, 0), sigmaX=sigma, sigmaY=1e-3)
    dy = cv2.GaussianBlur(dy, (0, 0), sigmaX=sigma, sigmaY=1e-3)
    return alpha * dx, alpha * dy


def _lands_in(region: np.ndarray, source_x: np.ndarray, source_y: np.ndarray) -> np.ndarray:
    """bool: the pixels whose source (in the whole picture's pixels) lies in ``region``."""
    return cv2.remap(region.astype(np.float32), source_x, source_y, cv2.INTER_LINEAR) > 0.5


def warped(image: np.ndarray, field: MoveField) -> np.ndarray:
    """float32 (S, S, 3): ``image`` moved by ``field`` in its box (cubic), the same elsewhere."""
    result = image.astype(np.float32)
    rows, cols = np.mgrid[field.box[0], field.box[1]].astype(np.float32)
    result[field.box] = cv2.remap(result, cols + field.dx, rows + field.dy, cv2.INTER_CUBIC,
                                  borderMode=cv2.BORDER_REFLECT)
    return result
