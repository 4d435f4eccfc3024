"""The studio's painting tools: brush and eraser strokes, straight lines, flood fill, the
class picker and the polygon, each finished operation one undo step (``PaintCommand``).

``PaintingTools`` is a part of ``Studio`` (a mixin: the canvas calls ``studio.begin_stroke``
and the rest as the studio's own operations); it paints the document's mask in place while a
stroke is under way, telling subscribers the live pixels, and pushes the finished operation
on the studio's history as the patch of the mask it changed. The pixel work itself is
``painting.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ca2sis.model.labels import BACKGROUND, DISPLAY_NAMES, part_index

from .events import ChangeChannel, ChangeKind
from .history import Command, History
from .painting import MaskPatch, brush_segment, flood_fill, patch_between, polygon_fill, union_box

TOOLS = ("brush", "eraser", "fill", "picker", "polygon")
MAX_BRUSH_SIZE = 128  # the largest brush radius in canvas pixels: the toolbar slider and "]" stop here


class PaintCommand(Command):
    """A brush stroke, an eraser stroke or a fill: the patch of the mask it changed."""

    fields = ("mask",)

    def __init__(self, patch: MaskPatch, text: str):
        self.patch = patch
        self.text = text

    def apply(self, document: Any) -> None:
        self.patch.apply(document.mask)

    def revert(self, document: Any) -> None:
        self.patch.revert(document.mask)


class PaintingTools:
    """The painting operations of ``Studio`` and their settings (the tool, the brush's class
    and radius: view settings, never undone), on the studio's document, history and change
    channel."""

    document: Any  # the studio's Document: its ``mask`` is painted
    history: History
    polygon: list[tuple[float, float]]  # vertices of the polygon being drawn (the studio's own list)
    _changes: ChangeChannel
    tool = "brush"
    brush_class = 1
    brush_size = 12  # radius in canvas pixels
    _stroke_start: np.ndarray | None = None
    _stroke_box: tuple[int, int, int, int] | None = None
    _stroke_origin: tuple[float, float] | None = None  # where a straight line starts

    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(f"tool must be one of {TOOLS}")
        dropped = tool != "polygon" and bool(self.polygon)  # a half-drawn polygon does not outlive its tool
        self.tool = tool
        if dropped:
            self.polygon = []
        self._changes.emit(ChangeKind.SETTING, ("tool",))
        if dropped:
            self._polygon_changed()

    def set_brush_class(self, part: int) -> None:
        self.brush_class = part_index(int(part))
        self._changes.emit(ChangeKind.SETTING, ("brush_class",))

    def set_brush_size(self, radius: int) -> None:
        self.brush_size = int(min(max(radius, 1), MAX_BRUSH_SIZE))
        self._changes.emit(ChangeKind.SETTING, ("brush_size",))

    def _polygon_changed(self) -> None:
        self._changes.emit(ChangeKind.POLYGON, ("polygon",))

    @property
    def paint_value(self) -> int:
        return BACKGROUND if self.tool == "eraser" else self.brush_class

    @property
    def stroke_active(self) -> bool:
        return self._stroke_start is not None

    def begin_stroke(self, point: tuple[float, float]) -> None:
        """Start a brush or eraser stroke at ``point`` (x, y in canvas pixels). The mask
        changes live while painting; the stroke becomes one undo step at ``end_stroke``."""
        self._stroke_start = self.document.mask.copy()
        self._stroke_box = None
        self._stroke_origin = point
        self.continue_stroke(point, point)

    def continue_stroke(self, previous: tuple[float, float], point: tuple[float, float]) -> None:
        if self._stroke_start is None:
            return
        box = brush_segment(self.document.mask, previous, point, self.brush_size, self.paint_value)
        if box is not None:
            self._stroke_box = union_box(self._stroke_box, box)
            self._live_mask_changed()

    def straight_stroke(self, point: tuple[float, float]) -> None:
        """Make the stroke under way one straight line from where it began to ``point``
        (shift-drag): what it painted so far is undone first."""
        if self._stroke_start is None or self._stroke_origin is None:
            return
        if self._stroke_box is not None:
            top, left, bottom, right = self._stroke_box
            self.document.mask[top:bottom, left:right] = self._stroke_start[top:bottom, left:right]
        self._stroke_box = None
        box = brush_segment(self.document.mask, self._stroke_origin, point, self.brush_size, self.paint_value)
        self._stroke_box = box
        self._live_mask_changed()

    def _live_mask_changed(self) -> None:
        self._changes.emit(ChangeKind.DOCUMENT, ("mask",), live=True)

    def end_stroke(self) -> Command | None:
        """Finish the stroke: one command for the pixels it changed (None when none did)."""
        start, box = self._stroke_start, self._stroke_box
        self._stroke_start = self._stroke_box = None
        if start is None or box is None:
            return None
        patch = patch_between(start, self.document.mask, box)
        if not patch.changed:
            return None
        patch.revert(self.document.mask)  # the command re-applies it, through the executor
        what = "Erase" if self.tool == "eraser" else f"Paint {DISPLAY_NAMES[self.brush_class]}"
        command = PaintCommand(patch, what)
        self._stroke_origin = None
        self.history.push(command)
        return command

    def fill(self, point: tuple[int, int]) -> Command | None:
        """Flood-fill the region under ``point`` with the brush class."""
        before = self.document.mask.copy()
        box = flood_fill(self.document.mask, point, self.brush_class)
        if box is None:
            return None
        patch = patch_between(before, self.document.mask, box)
        patch.revert(self.document.mask)
        command = PaintCommand(patch, f"Fill {DISPLAY_NAMES[self.brush_class]}")
        self.history.push(command)
        return command

    def pick(self, point: tuple[int, int], back_to_brush: bool = False) -> int:
        """Take the class under ``point`` as the brush class (and, with the picker tool,
        go back to the brush: a pick is almost always followed by painting)."""
        x, y = point
        size = self.document.mask.shape[0]
        self.set_brush_class(int(self.document.mask[min(max(y, 0), size - 1), min(max(x, 0), size - 1)]))
        if back_to_brush:
            self.set_tool("brush")
        return self.brush_class

    # ---- polygon fill --------------------------------------------------------------------
    def add_polygon_point(self, point: tuple[float, float]) -> None:
        """Add a vertex to the polygon being drawn (the polygon tool's clicks)."""
        self.polygon.append((float(point[0]), float(point[1])))
        self._polygon_changed()  # the canvas redraws the outline

    def cancel_polygon(self) -> None:
        self.polygon = []
        self._polygon_changed()

    def close_polygon(self) -> Command | None:
        """Fill the polygon drawn so far with the brush class, as one undo step."""
        points, self.polygon = self.polygon, []
        self._polygon_changed()
        if len(points) < 3:
            return None
        before = self.document.mask.copy()
        box = polygon_fill(self.document.mask, points, self.brush_class)
        if box is None:
            return None
        patch = patch_between(before, self.document.mask, box)
        patch.revert(self.document.mask)
        if not patch.changed:
            return None
        command = PaintCommand(patch, f"Polygon {DISPLAY_NAMES[self.brush_class]}")
        self.history.push(command)
        return command


__all__ = ["MAX_BRUSH_SIZE", "PaintCommand", "PaintingTools", "TOOLS"]
