"""The mask canvas: paint the 19 classes over an optional ghost of the source face.

A QGraphicsView over three items: the ghost photo, the colour-coded mask above it (half
transparent while the ghost shows) and the brush outline. Mouse input becomes ``Studio``
calls; the canvas redraws from the studio's document whenever it changes.

- Left button: the current tool (brush, eraser, fill, picker, polygon). Right button: pick
  a class. Shift while dragging the brush or eraser: a straight line from where the drag
  began. Polygon: click the corners; double-click, Enter or a click on the first corner
  fills it, Escape drops it.
- Wheel: zoom around the pointer. Middle button, or Space held while dragging: pan.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPainterPath, QPen, QPixmap, QWheelEvent
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
)

from ca2sis.model.labels import colorize

from ..state.document import Studio
from .images import to_pixmap

MASK_OPACITY_OVER_GHOST = 0.55
CLOSE_POLYGON_PIXELS = 8  # a click this near (in screen pixels) the first corner closes the polygon


class MaskCanvas(QGraphicsView):
    """Paints ``studio.document.mask``; emits ``hovered(x, y, class)`` as the pointer moves."""

    hovered = Signal(int, int, int)
    left = Signal()  # the pointer left the canvas

    def __init__(self, studio: Studio, parent=None):
        super().__init__(parent)
        self.studio = studio
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)  # crisp class edges when zoomed
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setBackgroundBrush(QColor(40, 40, 44))
        self.setMouseTracking(True)
        self.setMinimumSize(320, 320)
        self.ghost_item = QGraphicsPixmapItem()
        self.mask_item = QGraphicsPixmapItem()
        self.cursor_item = QGraphicsEllipseItem()
        self.cursor_item.setPen(QPen(QColor(255, 255, 255, 220), 0))
        self.cursor_item.setZValue(10)
        self.polygon_item = QGraphicsPathItem()
        self.polygon_item.setPen(QPen(QColor(255, 255, 255, 230), 0, Qt.PenStyle.DashLine))
        self.polygon_item.setZValue(11)
        for item in (self.ghost_item, self.mask_item, self.cursor_item, self.polygon_item):
            self.scene().addItem(item)
        self._last_point: QPointF | None = None
        self._last_hover: QPointF | None = None
        self._panning: QPointF | None = None
        self._space_held = False
        self._fitted = False
        self._ghost_id: int | None = None
        self._drawn_mask: np.ndarray | None = None  # what the mask pixmap shows
        studio.subscribe(lambda _change: self.refresh(), "mask", "ghost")
        studio.subscribe(lambda _change: self.refresh_settings(), "show_ghost", "tool", "brush_size", "polygon")
        self.refresh()

    # ---- drawing -----------------------------------------------------------------------

    def refresh(self) -> None:
        document = self.studio.document
        if self._drawn_mask is None or not np.array_equal(self._drawn_mask, document.mask):
            self.mask_item.setPixmap(to_pixmap(colorize(document.mask)))
            self._drawn_mask = document.mask.copy()
        size = document.mask.shape[0]
        self.scene().setSceneRect(QRectF(0, 0, size, size))
        if document.ghost is None:
            self.ghost_item.setPixmap(QPixmap())
            self._ghost_id = None
        elif id(document.ghost) != self._ghost_id:  # the ghost is replaced, never edited in place
            self.ghost_item.setPixmap(to_pixmap(document.ghost))
            self._ghost_id = id(document.ghost)
        self.refresh_settings()

    def refresh_settings(self) -> None:
        ghost = self.studio.show_ghost and self.studio.document.ghost is not None
        self.ghost_item.setVisible(ghost)
        self.mask_item.setOpacity(MASK_OPACITY_OVER_GHOST if ghost else 1.0)
        self._place_cursor(self._last_hover)
        self._draw_polygon(self._last_hover)

    def _draw_polygon(self, pointer: QPointF | None) -> None:
        points = self.studio.polygon
        path = QPainterPath()
        if points:
            path.moveTo(*points[0])
            for point in points[1:]:
                path.lineTo(*point)
            if pointer is not None:
                path.lineTo(pointer)
        self.polygon_item.setPath(path)

    def _place_cursor(self, point: QPointF | None) -> None:
        painting = self.studio.tool in ("brush", "eraser")  # the polygon has its own outline
        self.cursor_item.setVisible(point is not None and painting)
        if point is not None:
            radius = self.studio.brush_size
            self.cursor_item.setRect(QRectF(point.x() - radius, point.y() - radius, 2 * radius, 2 * radius))

    # ---- view --------------------------------------------------------------------------
    def fit(self) -> None:
        """Show the whole mask."""
        self.fitInView(self.scene().sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)

    def zoom(self, factor: float) -> None:
        current = self.transform().m11()
        factor = min(max(current * factor, 0.1), 40.0) / current
        self.scale(factor, factor)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        if not self._fitted:
            self.fit()

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self.fit()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        self._fitted = True  # the user chose a zoom: keep it when the window resizes
        self.zoom(1.0015 ** event.angleDelta().y())

    # ---- input -------------------------------------------------------------------------
    def _mask_point(self, event: QMouseEvent) -> QPointF:
        return self.mapToScene(event.position().toPoint())

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        point = self._mask_point(event)
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space_held):
            self._panning = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if button == Qt.MouseButton.RightButton:
            self.studio.pick((int(point.x()), int(point.y())))
            return
        if button != Qt.MouseButton.LeftButton:
            return
        tool = self.studio.tool
        if tool in ("brush", "eraser"):
            self._last_point = point
            self.studio.begin_stroke((point.x(), point.y()))
        elif tool == "fill":
            self.studio.fill((int(point.x()), int(point.y())))
        elif tool == "picker":
            self.studio.pick((int(point.x()), int(point.y())), back_to_brush=True)
        elif tool == "polygon":
            if self._closes_polygon(event):
                self.studio.close_polygon()
            else:
                self.studio.add_polygon_point((point.x(), point.y()))

    def _closes_polygon(self, event: QMouseEvent) -> bool:
        """A click on (near) the first corner of a polygon of three corners or more."""
        points = self.studio.polygon
        if len(points) < 3:
            return False
        first = self.mapFromScene(QPointF(*points[0]))
        return (first - event.position().toPoint()).manhattanLength() <= CLOSE_POLYGON_PIXELS

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self.studio.tool == "polygon" and event.button() == Qt.MouseButton.LeftButton:
            self.studio.close_polygon()  # the double-click's first press already added its corner
            return
        super().mouseDoubleClickEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._panning is not None:
            delta = event.position() - self._panning
            self._panning = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(delta.y()))
            return
        point = self._mask_point(event)
        self._last_hover = point
        self._place_cursor(point)
        size = self.studio.document.mask.shape[0]
        x, y = int(point.x()), int(point.y())
        if 0 <= x < size and 0 <= y < size:
            self.hovered.emit(x, y, int(self.studio.document.mask[y, x]))
        if self._last_point is not None and self.studio.stroke_active:
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.studio.straight_stroke((point.x(), point.y()))
            else:
                self.studio.continue_stroke((self._last_point.x(), self._last_point.y()), (point.x(), point.y()))
            self._last_point = point
        elif self.studio.polygon:
            self._draw_polygon(point)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._panning is not None and event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._panning = None
            self.unsetCursor()
            return
        if event.button() == Qt.MouseButton.LeftButton and self.studio.stroke_active:
            self._last_point = None
            self.studio.end_stroke()

    def leaveEvent(self, event) -> None:  # noqa: N802
        super().leaveEvent(event)
        self._last_hover = None
        self.cursor_item.setVisible(False)
        self.left.emit()  # the status bar forgets the last pointer position

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if self.studio.polygon and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.studio.close_polygon()
            return
        if self.studio.polygon and event.key() == Qt.Key.Key_Escape:
            self.studio.cancel_polygon()
            return
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = True
            self.setCursor(Qt.CursorShape.OpenHandCursor)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = False
            self.unsetCursor()
            return
        super().keyReleaseEvent(event)
