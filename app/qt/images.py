"""numpy arrays ↔ Qt images: the one place pixel buffers cross into Qt."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap


def to_qimage(array: np.ndarray) -> QImage:
    """uint8 (H, W, 3) RGB or (H, W, 4) RGBA → a QImage that owns a copy of the pixels."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    height, width, channels = array.shape
    kind = QImage.Format.Format_RGB888 if channels == 3 else QImage.Format.Format_RGBA8888
    return QImage(array.data, width, height, channels * width, kind).copy()


def to_pixmap(array: np.ndarray, size: int | None = None) -> QPixmap:
    """An RGB array as a pixmap, optionally scaled (smoothly) to ``size`` x ``size``."""
    pixmap = QPixmap.fromImage(to_qimage(array))
    if size is not None:
        pixmap = pixmap.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                               Qt.TransformationMode.SmoothTransformation)
    return pixmap


def from_qimage(image: QImage) -> np.ndarray:
    """A QImage → uint8 (H, W, 3) RGB (for screenshots and tests)."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height = image.width(), image.height()
    buffer = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes())
    return buffer.reshape(height, image.bytesPerLine())[:, : width * 3].reshape(height, width, 3).copy()
