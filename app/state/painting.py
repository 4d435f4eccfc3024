"""Mask painting on numpy arrays: brush segments and flood fill, with the patch they change.

Pure numpy (and OpenCV for the fill), so the canvas and the tests share one implementation.
Every operation returns a ``MaskPatch``: the box it touched with the pixels before and after,
which is all an undo step needs to keep.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True, eq=False)
class MaskPatch:
    """The pixels of a mask a paint operation changed: box (top, left, bottom, right),
    exclusive ends, with the box's content before and after."""

    box: tuple[int, int, int, int]
    before: np.ndarray
    after: np.ndarray

    def apply(self, mask: np.ndarray) -> None:
        top, left, bottom, right = self.box
        mask[top:bottom, left:right] = self.after

    def revert(self, mask: np.ndarray) -> None:
        top, left, bottom, right = self.box
        mask[top:bottom, left:right] = self.before

    @property
    def changed(self) -> bool:
        return not np.array_equal(self.before, self.after)


def union_box(a: tuple[int, int, int, int] | None, b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """The smallest box holding both boxes (``a`` may be None)."""
    if a is None:
        return b
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def brush_segment(
    mask: np.ndarray, start: tuple[float, float], end: tuple[float, float], radius: float, value: int
) -> tuple[int, int, int, int] | None:
    """Paint a round brush of ``radius`` pixels dragged from ``start`` to ``end`` (x, y in
    mask pixels, pixel centres at .5) with class ``value``, in place.

    A pixel is painted when its centre lies within ``radius`` of the segment, so a click
    (start == end) paints a disc and a drag paints a capsule with no gaps between events.
    Returns the box that may have changed, or None when the brush lies outside the mask.
    """
    height, width = mask.shape
    (x0, y0), (x1, y1) = start, end
    reach = radius + 1
    left, right = int(np.floor(min(x0, x1) - reach)), int(np.ceil(max(x0, x1) + reach))
    top, bottom = int(np.floor(min(y0, y1) - reach)), int(np.ceil(max(y0, y1) + reach))
    left, top = max(left, 0), max(top, 0)
    right, bottom = min(right, width), min(bottom, height)
    if left >= right or top >= bottom:
        return None
    ys, xs = np.mgrid[top:bottom, left:right].astype(np.float32) + 0.5
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy
    if length2 > 0:
        t = np.clip(((xs - x0) * dx + (ys - y0) * dy) / length2, 0.0, 1.0)
    else:
        t = np.zeros_like(xs)
    distance2 = (xs - (x0 + t * dx)) ** 2 + (ys - (y0 + t * dy)) ** 2
    inside = distance2 <= radius * radius
    if not inside.any():
        return None
    mask[top:bottom, left:right][inside] = value
    return (top, left, bottom, right)


def flood_fill(mask: np.ndarray, point: tuple[int, int], value: int) -> tuple[int, int, int, int] | None:
    """Give the 4-connected region of equal class around ``point`` (x, y) the class
    ``value``, in place. Returns the box of the region, or None when nothing changes."""
    height, width = mask.shape
    x, y = point
    if not (0 <= x < width and 0 <= y < height) or mask[y, x] == value:
        return None
    region = np.zeros((height + 2, width + 2), np.uint8)  # OpenCV's fill mask has a 1-px border
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | (1 << 8)
    cv2.floodFill(mask, region, (int(x), int(y)), 0, 0, 0, flags)
    filled = region[1:-1, 1:-1].astype(bool)
    mask[filled] = value
    rows, cols = np.nonzero(filled.any(axis=1))[0], np.nonzero(filled.any(axis=0))[0]
    return (int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)


def patch_between(before: np.ndarray, after: np.ndarray, box: tuple[int, int, int, int]) -> MaskPatch:
    """The undo patch for ``box`` of two whole masks (copies, so later painting cannot alter it)."""
    top, left, bottom, right = box
    return MaskPatch(box, before[top:bottom, left:right].copy(), after[top:bottom, left:right].copy())


def polygon_fill(mask: np.ndarray, points: list[tuple[float, float]], value: int) -> tuple[int, int, int, int] | None:
    """Fill the polygon through ``points`` (x, y in mask pixels) with class ``value``, in
    place. Returns the box it covers inside the mask, or None when it lies outside."""
    height, width = mask.shape
    # fillPoly works on integer vertices; 4 fractional bits keep sub-pixel clicks exact enough.
    shift = 4
    vertices = np.round((np.asarray(points, np.float64) - 0.5) * (1 << shift)).astype(np.int32)
    region = np.zeros_like(mask)
    cv2.fillPoly(region, [vertices], 1, lineType=cv2.LINE_8, shift=shift)
    filled = region.astype(bool)
    if not filled.any():
        return None
    mask[filled] = value
    rows, cols = np.nonzero(filled.any(axis=1))[0], np.nonzero(filled.any(axis=0))[0]
    return (int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)
