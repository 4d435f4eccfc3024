"""The studio's main window: canvas, result, palette, style and shape panels, gallery.

The window owns the Qt side only: the ``Studio`` (pure Python) holds the document, every
change arrives as a command pushed on a QUndoStack, and every document change asks the
render worker for a new face. The worker runs the engine on its own thread and keeps only
the newest request, so painting never waits for the network. Editing inside a photo, File >
New, variations, the background ONNX export and the question on quitting live in
``window_features.py``.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QMimeData, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QShortcut, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSlider,
    QSplitter,
    QTabWidget,
    QWidget,
)

from ca2sis.model.errors import CA2SISError
from ca2sis.model.inference.engine import Engine, Result
from ca2sis.model.io.images import mask_image, save_png
from ca2sis.model.labels import DISPLAY_NAMES

from ..state.document import DOCUMENT, Command, Face, Studio
from ..state.gallery import GalleryEntry, read_photo
from ..state.project import PROJECT_SUFFIX, load_project, save_project
from .canvas import MaskCanvas
from .panels import (
    CLASS_SHORTCUTS,
    GALLERY_MIME,
    ClassPalette,
    GalleryList,
    ResultView,
    ShapePanel,
    StylePanel,
    VariationStrip,
    elided,
)
from .window_features import Rendered, StudioFeatures
from .worker import BackgroundTask, RenderWorker

PHOTO_FILTER = "Images (*.jpg *.jpeg *.png *.webp *.bmp *.tif *.tiff)"


class UndoCommand(QUndoCommand):
    """A studio command on Qt's undo stack; slider drags merge into one step."""

    def __init__(self, studio: Studio, command: Command):
        super().__init__(elided(command.text))  # a long photo name must not stretch the Edit menu
        self.studio, self.command = studio, command

    def redo(self) -> None:
        self.studio.apply_command(self.command)

    def undo(self) -> None:
        self.studio.revert_command(self.command)

    def id(self) -> int:
        key = self.command.merge_key
        return -1 if key is None else zlib.crc32(key.encode()) & 0x7FFFFFFF

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 (Qt's name)
        if not isinstance(other, UndoCommand) or other.command.merge_key != self.command.merge_key:
            return False
        self.command = self.command.merged(other.command)
        self.setText(other.text())
        return True


class StudioWindow(StudioFeatures, QMainWindow):
    """The face-editing studio around one engine.

    export_onnx: on a CPU without an ONNX export beside the weights, export it in the
    background and switch to ONNX Runtime when it is ready (``ca2sis`` with ``--backend auto``).
    """

    def __init__(self, engine: Engine, face: Face, gallery: list[GalleryEntry] | None = None,
                 export_onnx: bool = False):
        super().__init__()
        self.engine = engine
        self.gallery = {entry.name: entry for entry in gallery or []}
        self.studio = Studio(face)
        self.undo_stack = QUndoStack(self)
        self.studio.execute = lambda command: self.undo_stack.push(UndoCommand(self.studio, command))
        self.worker = RenderWorker(self.render_job, self)
        self.worker.rendered.connect(self._on_rendered)
        self.worker.failed.connect(self._on_render_failed)
        self.tasks = BackgroundTask(self)
        self.shown_ticket = 0
        self.result: Result | None = None
        self.last_error: str | None = None
        self._error_box: QMessageBox | None = None

        self.setWindowTitle("ca2sis studio")
        self.resize(1560, 940)
        self.canvas = MaskCanvas(self.studio)
        self.result_view = ResultView(self.studio, self.face_drop)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.canvas)
        splitter.addWidget(self.result_view)
        splitter.setSizes([1, 1])
        self.setCentralWidget(splitter)

        self.palette_panel = ClassPalette(self.studio)
        palette_scroll = QScrollArea()
        palette_scroll.setWidgetResizable(True)
        palette_scroll.setWidget(self.palette_panel)
        self._dock("Classes", palette_scroll, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.style_panel = StylePanel(self.studio, self.face_drop, engine.has_mapping)
        self.shape_panel = ShapePanel(self.studio, self.face_drop)
        tabs = QTabWidget()
        tabs.addTab(self.style_panel, "Styles")
        tabs.addTab(self.shape_panel, "Shapes")
        tabs.setMinimumWidth(400)
        self._dock("Parts", tabs, Qt.DockWidgetArea.RightDockWidgetArea)
        self.gallery_list = GalleryList(list(self.gallery.values()))
        self.gallery_list.opened.connect(lambda name: self.open_face(self.gallery[name].load()))
        gallery_dock = self._dock("Gallery: drag a face onto a part, the result or the shapes; double-click to edit it",
                                  self.gallery_list, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.variations = VariationStrip(self.studio, self.render_variations)
        self.variations.picked.connect(self.studio.set_random_styles)
        self.variations.setEnabled(engine.has_mapping)
        if not engine.has_mapping:
            self.variations.setToolTip("These weights have no mapping network M_s to draw styles from")
        variations_dock = self._dock("Variations: random styles for chosen parts, click one to use it",
                                     self.variations, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.splitDockWidget(gallery_dock, variations_dock, Qt.Orientation.Horizontal)

        self._build_actions()
        self._build_status_bar()
        self.canvas.hovered.connect(self._show_hover)
        self.canvas.left.connect(lambda: self.hover_label.setText(""))
        self.studio.listen(self._on_change)
        self.setup_features(export_onnx)
        self.request_render()

    # ---- layout ------------------------------------------------------------------------
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, text: str, slot: Callable, shortcut: str | QKeySequence | None = None,
                tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip or text.replace("&", "").rstrip("…"))
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        self._build_file_menu()
        self._build_edit_menu()
        self._build_view_menu()
        self._build_tool_bar()
        self._build_help_menu()

    def _build_file_menu(self) -> None:
        files = self.menuBar().addMenu("&File")
        files.addAction(self._action("&New face…", self.ask_new_face, QKeySequence.StandardKey.New,
                                     "Start a face that never existed from a template mask, in a chosen style"))
        files.addAction(self._action("&Open photo…", lambda: self._ask("Open a photo", "photo", self.open_photo),
                                     QKeySequence.StandardKey.Open,
                                     "Open any portrait: it is aligned and parsed into mask, ghost and styles"))
        files.addAction(self._action("Open &mask…", lambda: self._ask("Open a mask", "mask", self.open_mask),
                                     "Ctrl+M"))
        files.addAction(self._action("Open pro&ject…",
                                     lambda: self._ask("Open a project", "project", self.open_project),
                                     "Ctrl+Shift+O"))
        files.addSeparator()
        files.addAction(self._action("&Save project…", lambda: self._ask(
            "Save the project", "project", self.save_project, "portrait" + PROJECT_SUFFIX),
            QKeySequence.StandardKey.Save))
        files.addAction(self._action("Save &result…", lambda: self._ask(
            "Save the result", "result", self.save_result, self.result_file_name()), "Ctrl+E",
            "Save the photo with the edited face pasted back (or the generated face when it has no photo)"))
        files.addAction(self._action("Save generated &face PNG…", lambda: self._ask(
            "Save the generated face", "png", self.save_face, "face.png"), "Ctrl+Shift+E"))
        files.addAction(self._action("Save mas&k PNG…", lambda: self._ask(
            "Save the mask", "png", self.save_mask, "mask.png"), "Ctrl+Shift+S"))
        files.addSeparator()
        files.addAction(self._action("&Quit", self.close, QKeySequence.StandardKey.Quit))

    def _build_edit_menu(self) -> None:
        edit = self.menuBar().addMenu("&Edit")
        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence.StandardKey.Redo, QKeySequence("Ctrl+Y")])
        edit.addAction(self.undo_action)
        edit.addAction(self.redo_action)

    def _build_view_menu(self) -> None:
        view = self.menuBar().addMenu("&View")
        self.ghost_action = QAction("Show &ghost of the face", self, checkable=True, checked=True)
        self.ghost_action.setShortcut(QKeySequence("G"))
        self.ghost_action.toggled.connect(self.studio.set_show_ghost)
        view.addAction(self.ghost_action)
        view.addAction(self._action("&Fit mask in view", self.canvas.fit, "Ctrl+0"))
        view.addAction(self._action("Zoom &in", lambda: self.canvas.zoom(1.25), QKeySequence.StandardKey.ZoomIn))
        view.addAction(self._action("Zoom &out", lambda: self.canvas.zoom(0.8), QKeySequence.StandardKey.ZoomOut))
        view.addSeparator()
        view.addAction(self._action("&Before | after in the photo", self.toggle_compare, "Ctrl+B",
                                    "Compare the photo as it was with the edited one (a face opened from a photo)"))
        self.paste_edited_action = QAction("&Paste back only the edited parts", self, checkable=True, checked=True)
        self.paste_edited_action.setStatusTip("Off: the whole generated face goes into the photo")
        self.paste_edited_action.toggled.connect(lambda _on: self.request_render())
        view.addAction(self.paste_edited_action)
        self.global_edit_action = QAction("&Global edit (raw network output)", self, checkable=True, checked=False)
        self.global_edit_action.setStatusTip("On: every pixel as the network generates it (the paper's global "
                                             "consistency); off: the edit changes only the edited parts, keeps "
                                             "the face's detail and takes the reference's colours")
        self.global_edit_action.toggled.connect(lambda _on: self.request_render())
        view.addAction(self.global_edit_action)

    def _build_tool_bar(self) -> None:
        tools = self.addToolBar("Tools")
        tools.setObjectName("tools")
        group = QActionGroup(self)
        self.tool_actions: dict[str, QAction] = {}
        for tool, text, key, tip in (
            ("brush", "Brush", "B", "Paint the current class"),
            ("eraser", "Eraser", "E", "Paint background"),
            ("fill", "Fill", "F", "Fill a connected region with the current class"),
            ("picker", "Picker", "I", "Take the class under the pointer, then back to the brush (right click too)"),
            ("polygon", "Polygon", "P", "Click corners, then double-click (or Enter) to fill the polygon"),
        ):
            action = QAction(f"{text} ({key})", self, checkable=True)
            action.setShortcut(QKeySequence(key))
            action.setStatusTip(tip)
            action.triggered.connect(lambda _checked=False, tool=tool: self.studio.set_tool(tool))
            group.addAction(action)
            tools.addAction(action)
            self.tool_actions[tool] = action
        self.tool_actions["brush"].setChecked(True)
        tools.addSeparator()
        tools.addWidget(QLabel(" Brush size "))
        self.size_slider = QSlider(Qt.Orientation.Horizontal)
        self.size_slider.setRange(1, 96)
        self.size_slider.setFixedWidth(140)
        self.size_slider.setValue(self.studio.brush_size)
        self.size_slider.setToolTip("Brush radius in mask pixels ([ and ] change it)")
        self.size_slider.valueChanged.connect(self.studio.set_brush_size)
        tools.addWidget(self.size_slider)
        self.size_label = QLabel()
        tools.addWidget(self.size_label)
        tools.addSeparator()
        tools.addAction(self.undo_action)
        tools.addAction(self.redo_action)
        tools.addAction(self.ghost_action)
        QShortcut(QKeySequence("["), self, lambda: self.studio.set_brush_size(self.studio.brush_size - 2))
        QShortcut(QKeySequence("]"), self, lambda: self.studio.set_brush_size(self.studio.brush_size + 2))
        for part, key in enumerate(CLASS_SHORTCUTS):
            QShortcut(QKeySequence(key), self, lambda part=part: self.studio.set_brush_class(part))

    def _build_help_menu(self) -> None:
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self._action("&Keyboard and mouse shortcuts", self.show_shortcuts,
                                         QKeySequence.StandardKey.HelpContents))
        help_menu.addAction(self._action("&About ca2sis", self._about))

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.hover_label = QLabel()
        self.timing_label = QLabel("–")
        self.device_label = QLabel(self.engine.description)
        self.device_label.setToolTip("Where and how the networks run")
        for label in (self.hover_label, self.timing_label, self.device_label):
            bar.addPermanentWidget(label)
        self._refresh_settings()

    # ---- state changes -----------------------------------------------------------------
    def _on_change(self, what: str) -> None:
        if what == DOCUMENT:
            self.request_render()
        self._refresh_settings()

    def _refresh_settings(self) -> None:
        studio = self.studio
        self.tool_actions[studio.tool].setChecked(True)
        if self.size_slider.value() != studio.brush_size:
            self.size_slider.blockSignals(True)
            self.size_slider.setValue(studio.brush_size)
            self.size_slider.blockSignals(False)
        self.size_label.setText(f" {studio.brush_size} px  ·  {DISPLAY_NAMES[studio.brush_class]} ")
        self.ghost_action.setEnabled(studio.document.ghost is not None)

    def _show_hover(self, x: int, y: int, part: int) -> None:
        self.hover_label.setText(f"{x}, {y}: {DISPLAY_NAMES[part]}")

    # ---- rendering ---------------------------------------------------------------------
    def request_render(self) -> int:
        """Ask for the face of the current document (and its photo); the newest request wins."""
        self.result_view.busy.setText("rendering…")
        return self.worker.submit(self.render_request())

    def _on_rendered(self, ticket: int, rendered: Rendered) -> None:
        if ticket < self.shown_ticket:  # an older request finished after a newer one: stale
            return
        self.shown_ticket = ticket
        self.result = rendered.result
        self.result_view.show_result(rendered.result, rendered.composite, rendered.original)
        self.timing_label.setText(f"last generation {rendered.result.milliseconds['total']:.0f} ms")
        if ticket == self.worker.latest_ticket:
            self.result_view.busy.setText("")

    def _on_render_failed(self, ticket: int, message: str) -> None:
        if ticket == self.worker.latest_ticket:
            self.result_view.busy.setText("")
            self.show_error("The face could not be generated", message)

    def is_current(self) -> bool:
        """Whether the face shown is that of the newest request and nothing is pending."""
        return self.shown_ticket == self.worker.latest_ticket and self.worker.idle()

    # ---- faces from drops and files ----------------------------------------------------
    def face_drop(self, mime: QMimeData, apply: Callable[[Face], object]) -> bool:
        """Resolve a dropped face (gallery name or photo file) and ``apply`` it."""
        if mime.hasFormat(GALLERY_MIME):
            name = bytes(mime.data(GALLERY_MIME)).decode()
            if name in self.gallery:
                self._apply_face(apply, self.gallery[name].load())
                return True
            return False
        paths = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
        if not paths:
            return False
        self.read_photo(paths[0], apply)
        return True

    def read_photo(self, path: str | Path, apply: Callable[[Face], object], whole_picture: bool = False) -> None:
        """Align and parse a photo in the background, then ``apply`` the face. When no face
        is found in a square picture, offer to take the whole picture as the face."""
        name = elided(Path(path).name)
        self.statusBar().showMessage(f"Reading {name}: finding and parsing the face…")
        self.tasks.start(
            lambda: read_photo(path, self.engine.face_reader, whole_picture),
            lambda face: self._apply_face(apply, face),
            lambda message: self.photo_failed(path, apply, message),
        )

    def _apply_face(self, apply: Callable[[Face], object], face: Face) -> None:
        try:
            apply(face)
        except CA2SISError as error:
            self.show_error(f"Cannot use {face.name}", str(error))
            return
        self.statusBar().showMessage(f"{face.name}: done", 4000)

    def open_face(self, face: Face) -> None:
        """Start over from a face: its mask, ghost and styles (undoable)."""
        self.studio.open_face(face)
        self.undo_stack.setClean()  # nothing unsaved yet in what was just opened
        if face.photo is not None:
            self.result_view.set_view("compare")
        QTimer.singleShot(0, self.canvas.fit)

    def open_photo(self, path: str | Path) -> None:
        self.read_photo(path, self.open_face)

    def open_mask(self, path: str | Path) -> bool:
        try:
            self.studio.set_mask(path, f"Open mask {Path(path).name}")
        except CA2SISError as error:
            self.show_error(f"Cannot open {Path(path).name}", str(error))
            return False
        return True

    def open_project(self, path: str | Path) -> bool:
        try:
            document = load_project(path)
        except CA2SISError as error:
            self.show_error(f"Cannot open {Path(path).name}", str(error))
            return False
        self.studio.replace_document(document, f"Open project {Path(path).name}")
        self.undo_stack.setClean()
        return True

    def save_project(self, path: str | Path) -> Path | None:
        try:
            written = save_project(self.studio.document, path)
        except OSError as error:
            self.show_error("The project was not saved", str(error))
            return None
        self.undo_stack.setClean()
        self.statusBar().showMessage(f"Saved {written}", 5000)
        return written

    def save_result(self, path: str | Path) -> bool:
        """The photo with the face pasted back (written in the background), or the face alone."""
        if self.result is None:
            self.show_error("Nothing to save yet", "The first face is still being generated.")
            return False
        if self.document_photo() is not None:
            return self.save_photo_result(path)
        return self._save_png(self.result.image, path, "result")

    def save_face(self, path: str | Path) -> bool:
        """The generated face alone, at the networks' size."""
        if self.result is None:
            self.show_error("Nothing to save yet", "The first face is still being generated.")
            return False
        return self._save_png(self.result.image, path, "face")

    def save_mask(self, path: str | Path) -> bool:
        return self._save_png(mask_image(self.studio.document.mask), path, "mask")

    def _save_png(self, image, path: str | Path, what: str) -> bool:
        try:
            save_png(image, path)
        except OSError as error:
            self.show_error(f"The {what} was not saved", str(error))
            return False
        self.statusBar().showMessage(f"Saved {path}", 5000)
        return True

    # ---- dialogs -----------------------------------------------------------------------
    def _ask(self, title: str, kind: str, then: Callable[[str], object], default: str = "") -> None:
        """A file dialog for ``kind`` ("photo", "mask", "project", "png", "result"); ``then(path)`` if one is chosen."""
        path = self.choose_path(title, kind, default)
        if path:
            then(path)

    def choose_path(self, title: str, kind: str, default: str = "") -> str:
        """The file the user picks ("" when cancelled): to save when ``default`` is given, else to open."""
        filters = {"photo": PHOTO_FILTER, "mask": "Masks (*.png)", "png": "PNG (*.png)",
                   "result": "Images (*.png *.jpg *.jpeg)", "project": f"ca2sis projects (*{PROJECT_SUFFIX})"}
        if default:
            path, _ = QFileDialog.getSaveFileName(self, title, default, filters[kind])
        else:
            path, _ = QFileDialog.getOpenFileName(self, title, "", filters[kind])
        return path

    def _about(self) -> None:
        QMessageBox.about(
            self, "About ca2sis",
            "<b>ca2sis</b>: semantic face editing with CA2-SIS (Fontanini et al., IEEE Access 2024).<br><br>"
            f"Networks: {self.engine.config.name}, {self.engine.image_size}x{self.engine.image_size}, "
            f"on {self.engine.description}.<br><br>The bundled weights and demo faces come from CelebAMask-HQ: "
            "non-commercial research and education only.",
        )

    def show_error(self, title: str, message: str) -> None:
        """Tell the user without stopping anything: a window-modal box, the work untouched."""
        self.last_error = f"{title}: {message}"
        self.statusBar().showMessage(self.last_error, 8000)
        if self._error_box is not None:
            self._error_box.close()
        self._error_box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        self._error_box.open()

    def closeEvent(self, event) -> None:  # noqa: N802
        if not self.may_close():  # unsaved changes: save, discard or cancel
            event.ignore()
            return
        self.worker.close()
        super().closeEvent(event)
