"""The studio's side panels: class palette, styles, shapes, gallery and the result view.

Every panel reads the ``Studio`` and calls its operations; none keeps state of its own
beyond what it shows. Faces travel by drag and drop as the gallery's own MIME type (a
gallery name) or as file URLs (photos from the desktop); the window turns either into a
``Face`` (photos are aligned and parsed in the background) and calls ``on_face``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QAction, QColor, QDrag, QFont, QFontMetrics, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ca2sis.model.inference.visualise import attention_colours, attention_overlay
from ca2sis.model.labels import COLORS, DISPLAY_NAMES, NUM_CLASSES
from ca2sis.model.photo.colour import SKIN, SKIN_TONE_PARTS

from ..state.display import elided, split_view
from ..state.document import Face, Studio
from ..state.gallery import GalleryEntry
from .images import to_pixmap

GALLERY_MIME = "application/x-ca2sis-gallery-face"
THUMB = 40
VARIATION = 96  # the side of a variation's picture

# Keyboard shortcuts of the classes: 0-9, then Alt+0 .. Alt+8 for classes 10-18.
CLASS_SHORTCUTS: tuple[str, ...] = tuple(str(index) for index in range(10)) + tuple(
    f"Alt+{index}" for index in range(NUM_CLASSES - 10)
)

FaceDrop = Callable[[QMimeData, Callable[[Face], None]], bool]
# Ask for a reference file, read it (in the background) and hand the face to the callback (None:
# only keep it in the gallery).
AskReference = Callable[[Callable[[Face], object] | None], None]
OPEN_REFERENCE = "Open reference…"


def swatch(part: int, size: int = 14) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(*COLORS[part]))
    return pixmap


def fitting_font(font: QFont, text: str, width: int) -> QFont:
    """``font`` made small enough for ``text`` to fit in ``width`` pixels (never below 6 pt)."""
    fitted = QFont(font)
    size = fitted.pointSizeF() if fitted.pointSizeF() > 0 else 9.0
    while size > 6 and QFontMetrics(fitted).horizontalAdvance(text) > width:
        size -= 0.5
        fitted.setPointSizeF(size)
    return fitted


def attention_legend(width: int = 120, height: int = 12) -> QPixmap:
    """The attention overlay's colour ramp, from no share of the part's style to all of it."""
    share = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :].repeat(height, axis=0)
    heat, _weight = attention_colours(share)
    return to_pixmap((heat * 255 + 0.5).astype(np.uint8))


def mime_has_face(mime: QMimeData) -> bool:
    return mime.hasFormat(GALLERY_MIME) or any(url.isLocalFile() for url in mime.urls())


class DropTarget:
    """Mixin: a widget that accepts faces and hands them to ``self.face_dropped(mime)``."""

    def _accepts(self, event) -> bool:
        if mime_has_face(event.mimeData()):
            event.acceptProposedAction()
            return True
        event.ignore()
        return False

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        self._accepts(event)

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        self._accepts(event)

    def dropEvent(self, event) -> None:  # noqa: N802
        if self._accepts(event):
            self.face_dropped(event.mimeData())

    def face_dropped(self, mime: QMimeData) -> None:
        raise NotImplementedError


# ---- class palette -----------------------------------------------------------------------
class ClassPalette(QWidget):
    """One checkable button per class with its colour, name and shortcut."""

    def __init__(self, studio: Studio, parent: QWidget | None = None):
        super().__init__(parent)
        self.studio = studio
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(1)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: list[QToolButton] = []
        for part in range(NUM_CLASSES):
            button = QToolButton()
            button.setCheckable(True)
            button.setIcon(QIcon(swatch(part)))
            button.setText(f"{DISPLAY_NAMES[part]}   ({CLASS_SHORTCUTS[part]})")
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.setToolTip(f"Paint {DISPLAY_NAMES[part].lower()} (shortcut {CLASS_SHORTCUTS[part]})")
            button.setAutoRaise(True)
            self.group.addButton(button, part)
            self.buttons.append(button)
            layout.addWidget(button)
        layout.addStretch(1)
        self.group.idClicked.connect(studio.set_brush_class)
        studio.subscribe(lambda _change: self.refresh(), "brush_class")
        self.refresh()

    def refresh(self) -> None:
        button = self.buttons[self.studio.brush_class]
        if not button.isChecked():
            button.setChecked(True)


# ---- style panel -------------------------------------------------------------------------
# A skin from another face is a skin tone: it carries to these parts (``SKIN_TONE_PARTS``).
TONE_TIPS = {SKIN: "A skin from another face gives its tone to the nose, ears and neck too "
                   "(those without a style of their own)"}
TONE_TIPS.update({part: "Takes the skin's tone when the skin comes from another face, unless "
                        "given a style of its own here" for part in SKIN_TONE_PARTS})


class StyleRow(DropTarget, QFrame):
    """A class's row: colour, name, where its style comes from, strength, Random, Reset."""

    def __init__(self, panel: StylePanel, part: int):
        super().__init__()
        self.panel, self.part = panel, part
        self.setAcceptDrops(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        colour = QLabel()
        colour.setPixmap(swatch(part, 12))
        self.name = QLabel(DISPLAY_NAMES[part])
        self.name.setMinimumWidth(78)
        self.thumb = QLabel()
        self.thumb.setFixedSize(THUMB, THUMB)
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.slider.setMinimumWidth(70)
        self.slider.setToolTip("Strength: 0 = the base style, 100 = this part's reference")
        self.slider.valueChanged.connect(self._strength_moved)
        self.random = QToolButton()
        self.random.setText("Random")
        self.random.clicked.connect(lambda: panel.randomise(part))
        self.reset = QToolButton()
        self.reset.setText("Reset")
        self.reset.setToolTip("Back to the base style")
        self.reset.clicked.connect(lambda: panel.studio.reset_part_style(part))
        # A reference from a file, as from a drop: the button, or the row's context menu.
        self.open_reference = QAction(OPEN_REFERENCE, self)
        self.open_reference.setToolTip(f"{OPEN_REFERENCE} a photo whose {DISPLAY_NAMES[part].lower()} gives this "
                                       "part its style (it stays in the gallery)")
        self.open_reference.triggered.connect(lambda _checked=False: panel.open_reference(part))
        self.addAction(self.open_reference)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.file = QToolButton()
        self.file.setText("…")
        self.file.setToolTip(self.open_reference.toolTip())
        self.file.clicked.connect(self.open_reference.trigger)
        for widget in (colour, self.name, self.thumb, self.slider, self.random, self.reset, self.file):
            layout.addWidget(widget)
        layout.setStretch(3, 1)
        tone = TONE_TIPS.get(part)
        if tone:
            self.name.setToolTip(tone)

    def face_dropped(self, mime: QMimeData) -> None:
        self.panel.face_drop(mime, lambda face: self.panel.studio.set_part_style(self.part, face))

    def _strength_moved(self, value: int) -> None:
        if self.panel.studio.strength(self.part) is not None:
            self.panel.studio.set_strength(self.part, value / 100.0)

    def refresh(self, present: bool) -> None:
        studio = self.panel.studio
        face = studio.style_face(self.part)
        custom = self.part in studio.document.part_styles or self.part in studio.document.random_parts
        if face is None:
            seed = studio.document.random_parts[self.part].seed
            self.thumb.setPixmap(QPixmap())
            self.thumb.setFont(fitting_font(self.thumb.font(), f"#{seed}", THUMB - 4))
            self.thumb.setText(f"M_s\n#{seed}")
            self.thumb.setToolTip(f"Random style from the mapping network, seed {seed}")
        else:
            self.thumb.setText("")
            self.thumb.setPixmap(self.panel.thumbnail(face))
            self.thumb.setToolTip(f"Style from {face.name}" + ("" if custom else " (base style)"))
        strength = studio.strength(self.part)
        self.slider.blockSignals(True)
        self.slider.setValue(round(100 * (strength if strength is not None else 1.0)))
        self.slider.blockSignals(False)
        self.slider.setEnabled(strength is not None)
        self.reset.setEnabled(custom)
        self.random.setEnabled(self.panel.has_mapping)
        self.name.setEnabled(present)
        font = self.name.font()
        font.setBold(custom)
        self.name.setFont(font)


class StylePanel(DropTarget, QWidget):
    """Where each part's style comes from. Drop a face on a row (or open one from a file with
    the row's *Open reference…*): that part takes its style; on the header: every part does."""

    def __init__(self, studio: Studio, face_drop: FaceDrop, has_mapping: bool, ask_reference: AskReference,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.studio, self.face_drop, self.has_mapping = studio, face_drop, has_mapping
        self.ask_reference = ask_reference
        self._thumbs: dict[str, QPixmap] = {}
        self._seeds = np.random.default_rng()
        outer = QVBoxLayout(self)
        outer.setContentsMargins(2, 2, 2, 2)
        self.header = QLabel()
        self.header.setWordWrap(True)
        outer.addWidget(self.header)
        self.setAcceptDrops(True)
        rows = QWidget()
        column = QVBoxLayout(rows)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        self.rows = [StyleRow(self, part) for part in range(NUM_CLASSES)]
        for row in self.rows:
            column.addWidget(row)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(rows)
        outer.addWidget(scroll)
        # The mask matters for which names are greyed out; live stroke pixels wait for the stroke's end.
        studio.subscribe(lambda _change: self.refresh(), "base", "part_styles", "random_parts")
        studio.subscribe(lambda change: None if change.live else self.refresh(), "mask")
        self.refresh()

    def face_dropped(self, mime: QMimeData) -> None:
        self.face_drop(mime, self.studio.set_all_styles)

    def open_reference(self, part: int) -> None:
        """*Open reference…* of a row: the face read from the file chosen styles ``part``."""
        self.ask_reference(lambda face: self.studio.set_part_style(part, face))

    def thumbnail(self, face: Face) -> QPixmap:
        key = face.key
        if key not in self._thumbs:
            self._thumbs[key] = to_pixmap(face.image, THUMB)
        return self._thumbs[key]

    def randomise(self, part: int) -> None:
        # Five digits, as Variations draws them: a seed that fits the thumbnail, readable and easy to note.
        self.studio.set_random_style(part, int(self._seeds.integers(0, 100_000)))

    def refresh(self) -> None:
        base = self.studio.document.base
        self.header.setText(
            f"Base style: <b>{base.name}</b>. Drop a face on a row to style that part, here for all parts."
        )
        present = np.bincount(self.studio.document.mask.ravel(), minlength=NUM_CLASSES) > 0
        for row in self.rows:
            row.refresh(bool(present[row.part]))


# ---- shape panel -------------------------------------------------------------------------
class ShapePanel(DropTarget, QWidget):
    """A shape source face and one slider per part: α from the painted shape (0) to the
    source's shape (1), through the part's mask embedding."""

    def __init__(self, studio: Studio, face_drop: FaceDrop, parent: QWidget | None = None):
        super().__init__(parent)
        self.studio, self.face_drop = studio, face_drop
        self._shown_source: Face | None | bool = False  # False: nothing shown yet
        self.setAcceptDrops(True)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(2, 2, 2, 2)
        top = QHBoxLayout()
        self.thumb = QLabel()
        self.thumb.setFixedSize(64, 64)
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumb.setFrameShape(QFrame.Shape.StyledPanel)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.clear = QPushButton("Clear")
        self.clear.clicked.connect(lambda: studio.set_shape_source(None))
        top.addWidget(self.thumb)
        top.addWidget(self.caption, 1)
        top.addWidget(self.clear)
        outer.addLayout(top)
        grid_widget = QWidget()
        grid = QGridLayout(grid_widget)
        grid.setContentsMargins(0, 0, 0, 0)
        self.sliders: list[QSlider] = []
        self.values: list[QLabel] = []
        for part in range(NUM_CLASSES):
            colour = QLabel()
            colour.setPixmap(swatch(part, 12))
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(0, 100)
            slider.valueChanged.connect(lambda value, part=part: self._moved(part, value))
            value = QLabel("0.00")
            value.setMinimumWidth(32)
            grid.addWidget(colour, part, 0)
            grid.addWidget(QLabel(DISPLAY_NAMES[part]), part, 1)
            grid.addWidget(slider, part, 2)
            grid.addWidget(value, part, 3)
            self.sliders.append(slider)
            self.values.append(value)
        grid.setColumnStretch(2, 1)
        grid.setRowStretch(NUM_CLASSES, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(grid_widget)
        outer.addWidget(scroll)
        studio.subscribe(lambda _change: self.refresh(), "shape_source", "shape_alphas")
        self.refresh()

    def face_dropped(self, mime: QMimeData) -> None:
        self.face_drop(mime, self.studio.set_shape_source)

    def _moved(self, part: int, value: int) -> None:
        self.values[part].setText(f"{value / 100:.2f}")
        if self.studio.document.shape_source is not None:
            self.studio.set_shape_alpha(part, value / 100.0)

    def refresh(self) -> None:
        document = self.studio.document
        source = document.shape_source
        if source is not self._shown_source:  # a new thumbnail only when the source changes, not per stroke
            self._shown_source = source
            if source is None:
                self.thumb.setPixmap(QPixmap())
                self.thumb.setText("none")
                self.caption.setText("Drop a face here (from the gallery or a photo) to take part shapes from it.")
            else:
                self.thumb.setPixmap(to_pixmap(source.image, 64))
                self.caption.setText(f"Shapes from <b>{source.name}</b>: each slider moves a part from the painted "
                                     "shape (0) to this face's (1).")
        self.clear.setEnabled(source is not None)
        for part, slider in enumerate(self.sliders):
            alpha = document.shape_alphas.get(part, 0.0)
            slider.blockSignals(True)
            slider.setValue(round(alpha * 100))
            slider.blockSignals(False)
            slider.setEnabled(source is not None)
            self.values[part].setText(f"{alpha:.2f}")


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
        self.image.setPixmap(pixmap)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.redraw()


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
        for part in range(1, NUM_CLASSES):
            action = self.parts_menu.addAction(QIcon(swatch(part)), DISPLAY_NAMES[part])
            action.setCheckable(True)
            action.setChecked(part == 13)  # hair: the part people vary first
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
