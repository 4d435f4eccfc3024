"""The two strips of faces in the bottom docks: the gallery (demo faces and references read
from files, dragged onto parts) and the variations (random styles drawn from M_s, one
clicked to use it). Each strip keeps its height whatever it shows, so the canvases above
never move.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QAction, QDrag, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ca2sis.model.labels import BACKGROUND, CLASS_NAMES, DISPLAY_NAMES, NUM_CLASSES

from ..state.display import elided
from ..state.document import Studio
from ..state.gallery import GalleryEntry
from .images import to_pixmap
from .panels import GALLERY_MIME, OPEN_REFERENCE, AskReference, swatch

VARIATION = 96  # the side of a variation's picture
HAIR = CLASS_NAMES.index("hair")  # the part the variations strip offers first


# ---- gallery -----------------------------------------------------------------------------
class GalleryList(QListWidget):
    """The gallery's faces as draggable thumbnails (the demo faces, then the references read
    from files); double-click opens one as the face to edit."""

    opened = Signal(str)

    def __init__(self, entries: list[GalleryEntry], parent: QWidget | None = None):
        super().__init__(parent)
        self.entries: dict[str, GalleryEntry] = {}
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setIconSize(QSize(72, 72))
        self.setFlow(QListWidget.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListWidget.Movement.Static)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setFixedHeight(118)
        for entry in entries:
            self.add_entry(entry)
        self.itemDoubleClicked.connect(lambda item: self.opened.emit(item.data(Qt.ItemDataRole.UserRole)))

    def add_entry(self, entry: GalleryEntry) -> None:
        """Show ``entry`` (a reference read from a file: its aligned face; a demo face: its file)."""
        self.entries[entry.name] = entry
        picture = to_pixmap(entry.face.image, 72) if entry.face is not None else QPixmap(str(entry.image)).scaled(
            72, 72, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        item = QListWidgetItem(QIcon(picture), elided(entry.name, 16))
        item.setData(Qt.ItemDataRole.UserRole, entry.name)
        item.setToolTip(f"{entry.name}: drag onto a part, the result or the shape panel; double-click to edit")
        self.addItem(item)

    def startDrag(self, _actions) -> None:  # noqa: N802
        item = self.currentItem()
        if item is None:
            return
        mime = QMimeData()
        mime.setData(GALLERY_MIME, item.data(Qt.ItemDataRole.UserRole).encode())
        drag = QDrag(self)
        drag.setMimeData(mime)
        drag.setPixmap(item.icon().pixmap(56, 56))
        drag.exec(Qt.DropAction.CopyAction)


class GalleryPanel(QWidget):
    """The gallery list and its *Open reference…* button (also in the list's context menu):
    a face read from a file joins the gallery, to be dragged onto a part like a demo face."""

    def __init__(self, entries: list[GalleryEntry], ask_reference: AskReference, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.list = GalleryList(entries)
        self.open_reference = QAction(OPEN_REFERENCE, self)
        self.open_reference.setToolTip("Read a photo file into the gallery (its face is found, aligned and parsed), "
                                       "to drag onto a part, the result or the shapes")
        self.open_reference.triggered.connect(lambda _checked=False: ask_reference(None))
        self.open_reference.setIconText(OPEN_REFERENCE)  # the button says "…" too: it asks for a file
        self.list.addAction(self.open_reference)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.button = QToolButton()
        self.button.setDefaultAction(self.open_reference)
        self.button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.button)


# ---- variations --------------------------------------------------------------------------
class VariationStrip(QWidget):
    """N random styles from M_s for the chosen parts, as a row of thumbnails to pick from.

    ``draw`` asks ``render_variations(parts, seeds)`` (run by the window in the background)
    for the faces; ``show_variations`` lays them out; a click on one applies its seeds as
    one undo step.
    """

    picked = Signal(object)  # dict part → seed

    def __init__(self, studio: Studio, render_variations: Callable[[list[int], list[int]], None],
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.studio, self.render_variations = studio, render_variations
        self._seeds = np.random.default_rng()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Variations of"))
        self.parts_button = QToolButton()
        self.parts_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.parts_menu = QMenu(self.parts_button)
        self.part_actions = []
        for part in range(NUM_CLASSES):
            if part == BACKGROUND:
                continue
            action = self.parts_menu.addAction(QIcon(swatch(part)), DISPLAY_NAMES[part])
            action.setCheckable(True)
            action.setChecked(part == HAIR)  # the part people vary first
            action.toggled.connect(lambda _checked: self._show_parts())
            self.part_actions.append((part, action))
        self.parts_button.setMenu(self.parts_menu)
        controls.addWidget(self.parts_button)
        controls.addWidget(QLabel("count"))
        self.count = QSpinBox()
        self.count.setRange(2, 12)
        self.count.setValue(6)
        controls.addWidget(self.count)
        self.draw_button = QPushButton("Draw")
        self.draw_button.setToolTip("Draw random styles for the chosen parts from the mapping network M_s")
        self.draw_button.clicked.connect(self.draw)
        controls.addWidget(self.draw_button)
        controls.addStretch(1)
        layout.addLayout(controls)
        self.row = QHBoxLayout()
        self.row.setContentsMargins(0, 0, 0, 0)
        self.row.setSpacing(4)
        row_widget = QWidget()
        row_widget.setLayout(self.row)
        # The row is as tall as a variation from the start and scrolls sideways, so drawing
        # variations never grows the dock (and never moves or shrinks the canvases above it).
        probe = QToolButton()
        probe.setIconSize(QSize(VARIATION, VARIATION))
        scroll = QScrollArea()
        scroll.setWidget(row_widget)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFixedHeight(probe.sizeHint().height()
                              + scroll.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent))
        layout.addWidget(scroll)
        self.buttons: list[QToolButton] = []
        self.seeds: list[dict[int, int]] = []
        self._drawing: list[int] | None = None  # the seeds of the draw under way, for this face
        self._show_parts()
        # Variations are of one face: another face (File > New, an opened photo) clears them.
        studio.subscribe(lambda _change: self.clear(), "base")

    def clear(self) -> None:
        """Remove the faces drawn for the previous face (and drop those still being drawn)."""
        self._drawing = None
        for button in self.buttons:
            self.row.removeWidget(button)
            button.hide()  # gone now, not when the event loop next deletes it
            button.deleteLater()
        self.buttons, self.seeds = [], []

    def parts(self) -> list[int]:
        return [part for part, action in self.part_actions if action.isChecked()]

    def set_parts(self, parts: list[int]) -> None:
        for part, action in self.part_actions:
            action.setChecked(part in parts)

    def _show_parts(self) -> None:
        names = [DISPLAY_NAMES[part] for part in self.parts()]
        self.parts_button.setText(elided(", ".join(names), 28) if names else "(choose parts)")
        self.draw_button.setEnabled(bool(names))

    def draw(self) -> None:
        parts = self.parts()
        if not parts:
            return
        seeds = [int(seed) for seed in self._seeds.integers(0, 100_000, self.count.value())]
        self.draw_button.setEnabled(False)
        self.draw_button.setText("Drawing…")
        self._drawing = seeds
        self.render_variations(parts, seeds)

    def show_variations(self, parts: list[int], seeds: list[int], images: list[np.ndarray]) -> None:
        if seeds != self._drawing:  # drawn for the face before File > New or an opened photo
            self.finished()
            return
        self.clear()
        for seed, image in zip(seeds, images):
            button = QToolButton()
            button.setIcon(QIcon(to_pixmap(image, VARIATION)))
            button.setIconSize(QSize(VARIATION, VARIATION))
            button.setToolTip(f"Seed {seed}: click to use this style for {', '.join(DISPLAY_NAMES[p] for p in parts)}")
            choice = {part: seed for part in parts}
            button.clicked.connect(lambda _checked=False, choice=choice: self.picked.emit(choice))
            self.row.addWidget(button)
            self.buttons.append(button)
            self.seeds.append(choice)
        self.row.addStretch(1)
        self.finished()

    def finished(self) -> None:
        self.draw_button.setText("Draw")
        self._show_parts()
