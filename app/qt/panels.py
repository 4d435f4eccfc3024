"""The studio's side panels: class palette, styles and shapes (and what the other views share:
drops of faces, colour swatches).

Every panel reads the ``Studio`` and calls its operations; none keeps state of its own
beyond what it shows. Faces travel by drag and drop as the gallery's own MIME type (a
gallery name) or as file URLs (photos from the desktop); the window turns either into a
``Face`` (photos are aligned and parsed in the background) and calls ``on_face``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QMimeData, Qt
from PySide6.QtGui import QAction, QColor, QFont, QFontMetrics, QIcon, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ca2sis.model.labels import COLORS, DISPLAY_NAMES, NUM_CLASSES
from ca2sis.model.photo.colour import SKIN, SKIN_TONE_PARTS

from ..state.document import Face, Studio
from .images import to_pixmap
from .styles_library import StyleFiles, mime_style_path

GALLERY_MIME = "application/x-ca2sis-gallery-face"
THUMB = 40

# Keyboard shortcuts of the classes: 0-9, then Alt+0 .. Alt+8 for classes 10-18.
CLASS_SHORTCUTS: tuple[str, ...] = tuple(str(index) for index in range(10)) + tuple(
    f"Alt+{index}" for index in range(NUM_CLASSES - 10)
)

FaceDrop = Callable[[QMimeData, Callable[[Face], None]], bool]
# Ask for a reference file, read it (in the background) and hand the face to the callback (None:
# only keep it in the gallery).
AskReference = Callable[[Callable[[Face], object] | None], None]
OPEN_REFERENCE = "Open reference…"
SAVE_STYLE = "Save style as…"


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
        # The part's style kept as a file (.ca2style), for the styles library (styles_library.py).
        self.save_style = QAction(SAVE_STYLE, self)
        self.save_style.setToolTip(f"Save the {DISPLAY_NAMES[part].lower()}'s style as a file, to drop on a part later")
        self.save_style.triggered.connect(lambda _checked=False: panel.save_style(part))
        self.addAction(self.save_style)
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

    def _accepts(self, event) -> bool:
        if self.panel.style_files is not None and mime_style_path(event.mimeData()) is not None:
            event.acceptProposedAction()  # a saved style (the styles library, a .ca2style file)
            return True
        return super()._accepts(event)

    def face_dropped(self, mime: QMimeData) -> None:
        if self.panel.style_files is not None and self.panel.style_files.drop(mime, self.part):
            return
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
        self.style_files: StyleFiles | None = None  # saving and dropping styles as files (set by the window)
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

    def save_style(self, part: int) -> None:
        """*Save style as…* of a row."""
        if self.style_files is not None:
            self.style_files.ask_save(part)

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
