"""The result view: the generated face (with one part's attention over it) or, for a face
from a photo, the photo with the edit in it, alone or before | after.

Which view is shown is the document's (``Document.result_view``): the combo box changes it
through the studio and follows it (an opened photo, a reopened project, Ctrl+B).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QMimeData, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QSlider, QVBoxLayout, QWidget

from ca2sis.model.inference.visualise import attention_colours, attention_overlay
from ca2sis.model.labels import DISPLAY_NAMES, NUM_CLASSES

from ..state.display import split_view
from ..state.document import Studio
from .images import to_pixmap
from .panels import DropTarget, FaceDrop, swatch


def attention_legend(width: int = 120, height: int = 12) -> QPixmap:
    """The attention overlay's colour ramp, from no share of the part's style to all of it."""
    share = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :].repeat(height, axis=0)
    heat, _weight = attention_colours(share)
    return to_pixmap((heat * 255 + 0.5).astype(np.uint8))


# ---- result ------------------------------------------------------------------------------
VIEWS = (("face", "Generated face"), ("photo", "In the photo"), ("compare", "Before | after"))


class ResultView(DropTarget, QWidget):
    """The generated face, optionally with one part's attention map over it, or, for a
    face edited inside its photo, the photo with the face pasted back (alone, or split
    with the original photo to compare). Dropping a face here gives every part that face's
    style."""

    def __init__(self, studio: Studio, face_drop: FaceDrop, parent: QWidget | None = None):
        super().__init__(parent)
        self.studio, self.face_drop = studio, face_drop
        self.setAcceptDrops(True)
        self.result = None
        self.composite: np.ndarray | None = None  # the photo preview with the face pasted back
        self.original: np.ndarray | None = None  # the photo preview as it was
        self.groups = None  # GroupFaces (group_faces.py): a group photo's faces, numbered and chosen by a click
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        self.view = QComboBox()
        for key, text in VIEWS:
            self.view.addItem(text, key)
        self.view.setToolTip("The generated face, or the photo it was cut out of with the face pasted back")
        self.view.currentIndexChanged.connect(lambda _i: studio.set_result_view(self.view.currentData()))
        bar.addWidget(self.view)
        bar.addWidget(QLabel("Attention:"))
        self.attention = QComboBox()
        self.attention.addItem("off", None)
        for part in range(NUM_CLASSES):
            self.attention.addItem(QIcon(swatch(part)), DISPLAY_NAMES[part], part)
        self.attention.setToolTip("Overlay where a part's style lands: its share of the cross-attention per pixel")
        self.attention.currentIndexChanged.connect(lambda _i: studio.set_attention_part(self.attention.currentData()))
        bar.addWidget(self.attention)
        self.legend = QWidget()
        legend_layout = QHBoxLayout(self.legend)
        legend_layout.setContentsMargins(4, 0, 0, 0)
        ramp = QLabel()
        ramp.setPixmap(attention_legend())
        ramp.setToolTip("Share of each pixel's style read from the chosen part")
        for widget in (QLabel("0%"), ramp, QLabel("100% of the style")):
            legend_layout.addWidget(widget)
        bar.addWidget(self.legend)
        bar.addStretch(1)
        self.busy = QLabel("")
        bar.addWidget(self.busy)
        layout.addLayout(bar)
        self.image = QLabel("no result yet")
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumSize(320, 320)
        self.image.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.image.setStyleSheet("background: #28282c; color: #aaa;")
        layout.addWidget(self.image, 1)
        self.split = QSlider(Qt.Orientation.Horizontal)
        self.split.setRange(0, 100)
        self.split.setValue(50)
        self.split.setToolTip("Where the original photo (left) gives way to the edited one (right)")
        self.split.valueChanged.connect(lambda _v: self.redraw())
        layout.addWidget(self.split)
        studio.subscribe(lambda _change: self.redraw(), "attention_part", "result_view")
        self.redraw()

    def face_dropped(self, mime: QMimeData) -> None:
        self.face_drop(mime, self.studio.set_all_styles)

    def show_result(self, result, composite: np.ndarray | None = None, original: np.ndarray | None = None) -> None:
        self.result, self.composite, self.original = result, composite, original
        self.redraw()

    def set_view(self, key: str) -> None:
        self.studio.set_result_view(key)

    @property
    def view_key(self) -> str:
        """The view shown: the document's (``result_view``), "face" while there is no photo to show."""
        key = self.studio.document.result_view
        return key if key == "face" or self.composite is not None else "face"

    def shown_image(self) -> np.ndarray | None:
        """What the view shows: the face (with attention) at the networks' size, or the photo preview."""
        if self.result is None:
            return None
        if self.view_key == "photo":
            return self.composite
        if self.view_key == "compare":
            return split_view(self.original, self.composite, self.split.value() / 100)
        part = self.studio.attention_part
        if part is None:
            return self.result.image
        return attention_overlay(self.result.image, self.result.attention, part)

    def redraw(self) -> None:
        view = self.view.findData(self.studio.document.result_view)
        if view != self.view.currentIndex():
            self.view.blockSignals(True)
            self.view.setCurrentIndex(view)
            self.view.blockSignals(False)
        index = self.attention.findData(self.studio.attention_part)
        if index >= 0 and index != self.attention.currentIndex():
            self.attention.blockSignals(True)
            self.attention.setCurrentIndex(index)
            self.attention.blockSignals(False)
        has_photo = self.composite is not None
        for key in ("photo", "compare"):  # photo views only for a face from a photo
            item = self.view.model().item(self.view.findData(key))
            item.setEnabled(has_photo)
        face_view = self.view_key == "face"
        self.attention.setEnabled(face_view)
        self.attention.setToolTip(
            "Overlay where a part's style lands: its share of the cross-attention per pixel" if face_view else
            "Attention is drawn over the generated face: choose \"Face\" in the menu on the left to see it")
        self.legend.setVisible(face_view and self.studio.attention_part is not None)
        self.split.setVisible(self.view_key == "compare")
        image = self.shown_image()
        if image is None:
            return
        height, width = image.shape[:2]
        scale = min(max(self.image.width(), 64) / width, max(self.image.height(), 64) / height)
        pixmap = to_pixmap(image).scaled(max(1, round(width * scale)), max(1, round(height * scale)),
                                         Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        if self.groups is not None and self.view_key != "face":
            pixmap = self.groups.numbered(pixmap)
        self.image.setPixmap(pixmap)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        """A click on a face of a group photo (its Photo or Before | after view) makes it the face edited."""
        pixmap = self.image.pixmap()
        if self.groups is None or self.view_key == "face" or pixmap is None or pixmap.isNull():
            super().mousePressEvent(event)
            return
        point = self.image.mapFrom(self, event.position().toPoint())
        left, top = (self.image.width() - pixmap.width()) / 2, (self.image.height() - pixmap.height()) / 2
        x, y = (point.x() - left) / pixmap.width(), (point.y() - top) / pixmap.height()
        if not (0 <= x <= 1 and 0 <= y <= 1 and self.groups.click(x, y)):
            super().mousePressEvent(event)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.redraw()
