"""The studio's main window: canvas, result, palette, style and shape panels, gallery.

The window owns the Qt side only: the ``Studio`` (pure Python) holds the document and its
undo history (the Edit menu's Undo and Redo only show that history), and every document
change asks the render worker for a new face, built from the studio's state
(``state.rendering``). The worker runs the engine on its own thread and keeps only
the newest request, so painting never waits for the network. The workflows (photos,
projects, exports, the background ONNX export) are controllers in ``controllers.py``, each
handed the studio, the background runner and the few widgets it uses; the window builds the
menus on them, draws variations and asks before quitting with unsaved changes.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSlider,
    QSplitter,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ca2sis.model.inference.engine import Engine, Result
from ca2sis.model.labels import DISPLAY_NAMES

from ..state.display import elided
from ..state.document import Face, Studio, variation_edit
from ..state.events import Change, ChangeKind
from ..state.folders import FILE_KINDS, RecentFolders, photo_file, result_file
from ..state.gallery import Gallery, GalleryEntry
from ..state.preview import PreviewPolicy
from ..state.project import PROJECT_SUFFIX
from ..state.rendering import RenderedView, render_request
from ..state.tools import MAX_BRUSH_SIZE
from .canvas import MaskCanvas
from .controllers import OnnxExportController, PhotoController, ProjectController
from .face_strips import GalleryPanel, VariationStrip
from .panels import CLASS_SHORTCUTS, ClassPalette, ShapePanel, StylePanel
from .result_view import ResultView
from .saving import ExportController, QuitAfterWrites
from .styles_library import StyleFiles
from .worker import BackgroundTask, RenderWorker

PHOTO_FILTER = "Images (*.jpg *.jpeg *.png *.webp *.bmp *.tif *.tiff)"

# What the canvas does with the mouse and keys that are not menu actions.
CANVAS_SHORTCUTS = (
    ("Left drag", "paint with the brush or eraser"),
    ("Shift + left drag", "a straight line from where the drag began"),
    ("Right click", "pick the class under the pointer"),
    ("Polygon: clicks, then double-click or Enter", "fill the polygon (Escape drops it)"),
    ("Wheel", "zoom around the pointer"),
    ("Middle drag, or Space + drag", "pan"),
    ("[ and ]", "brush smaller / larger"),
    ("0 – 9, Alt+0 – Alt+8", "choose a class (see the palette)"),
)


class StudioWindow(QMainWindow):
    """The face-editing studio around one engine.

    export_onnx: on a CPU without an ONNX export beside the weights, export it in the
    background and switch to ONNX Runtime when it is ready (``ca2sis`` with ``--backend auto``).
    settings: where the last folders used are kept between sessions (the user's ca2sis
    settings by default).
    """

    def __init__(self, engine: Engine, face: Face, gallery: list[GalleryEntry] | None = None,
                 export_onnx: bool = False, settings: QSettings | None = None):
        super().__init__()
        self.engine = engine
        self.settings = settings if settings is not None else QSettings("ca2sis", "studio")
        self.recent = RecentFolders({kind: str(self.settings.value(f"folders/{kind}"))
                                     for kind in FILE_KINDS if self.settings.value(f"folders/{kind}")},
                                    str(self.settings.value("folders/result_photo", "")))
        self.gallery = Gallery(gallery)
        self.studio = Studio(face)
        self.tasks = BackgroundTask(self)
        self.shown_ticket = 0
        self.result: Result | None = None
        self.last_error: str | None = None
        self._error_box: QMessageBox | None = None
        self.photos = PhotoController(self.studio, engine, self.gallery, self.tasks, self, self.statusBar(),
                                      self.show_error)
        self.worker = RenderWorker(self.photos.render, self)
        self.worker.rendered.connect(self._on_rendered)
        self.worker.failed.connect(self._on_render_failed)

        self.setWindowTitle("ca2sis studio")
        self.resize(1560, 940)
        self.canvas = MaskCanvas(self.studio)
        self.result_view = ResultView(self.studio, self.photos.face_drop)
        self.result_view.groups = self.photos.groups  # a group photo's faces: numbered, chosen by a click
        self.photos.groups.on_backdrop = self.request_render  # the other faces' edits ready: render into them
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
        self.style_panel = StylePanel(self.studio, self.photos.face_drop, engine.has_mapping, self.ask_reference)
        self.shape_panel = ShapePanel(self.studio, self.photos.face_drop)
        tabs = QTabWidget()
        tabs.addTab(self.style_panel, "Styles")
        tabs.addTab(self.shape_panel, "Shapes")
        tabs.setMinimumWidth(400)
        self._dock("Parts", tabs, Qt.DockWidgetArea.RightDockWidgetArea)
        # Part styles as files: Save style as… on a row, the library of saved styles, drops on rows.
        self.style_files = StyleFiles(self.studio, engine, self.tasks, self, self.statusBar(), self.show_error,
                                      self.settings)
        self.style_panel.style_files = self.style_files
        self._dock("Styles library: drag a saved style onto a part", self.style_files.panel,
                   Qt.DockWidgetArea.RightDockWidgetArea)
        self.gallery_panel = GalleryPanel(list(self.gallery.values()), self.ask_reference)
        self.gallery_list = self.gallery_panel.list
        self.gallery.subscribe(self.gallery_list.add_entry)  # references read from files join it
        self.projects = ProjectController(self.studio, self.photos, self, self.statusBar(), self.canvas,
                                          self.show_error)
        self.exports = ExportController(self.studio, self.photos, self.tasks, self.statusBar(), self.show_error,
                                        lambda: self.result)
        self.quit_after_writes = QuitAfterWrites(self.tasks, self, self.statusBar(), self.close)
        self.gallery_list.opened.connect(self.projects.open_gallery_face)
        gallery_dock = self._dock("Gallery: drag a face onto a part, the result or the shapes; double-click to edit it",
                                  self.gallery_panel, Qt.DockWidgetArea.BottomDockWidgetArea)
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
        self.studio.subscribe(self._on_change)
        self.preview_policy = PreviewPolicy(engine, self.studio)
        self.shown: RenderedView | None = None
        for slider in self.style_panel.findChildren(QSlider) + self.shape_panel.findChildren(QSlider):
            self._watch_drags(slider)
        self.onnx_export = OnnxExportController(engine, self.device_label, self.statusBar(), self,
                                                ready=self.request_render)
        if export_onnx:
            self.onnx_export.start_if_needed()
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
        files.addAction(self._action("&New face…", self.projects.ask_new_face, QKeySequence.StandardKey.New,
                                     "Start a face that never existed from a template mask, in a chosen style"))
        files.addAction(self._action("&Open photo…",
                                     lambda: self._ask("Open a photo", "photo", self.projects.open_photo),
                                     QKeySequence.StandardKey.Open,
                                     "Open any portrait: it is aligned and parsed into mask, ghost and styles"))
        files.addAction(self._action("Open &mask…", lambda: self._ask("Open a mask", "mask", self.projects.open_mask),
                                     "Ctrl+M"))
        files.addAction(self._action("Open pro&ject…",
                                     lambda: self._ask("Open a project", "project", self.projects.open_project),
                                     "Ctrl+Shift+O"))
        files.addSeparator()
        files.addAction(self._action("&Save project…", lambda: self._ask(
            "Save the project", "project", self.projects.save_project, "portrait" + PROJECT_SUFFIX),
            QKeySequence.StandardKey.Save))
        files.addAction(self._action("Save &result…", lambda: self._ask(
            "Save the result", "result", self.exports.save_result, str(result_file(self.studio.document, self.recent))),
            "Ctrl+E",
            "Save the photo with the edited face pasted back (or the generated face when it has no photo)"))
        files.addAction(self._action("Save generated &face PNG…", lambda: self._ask(
            "Save the generated face", "png", self.exports.save_face, "face.png"), "Ctrl+Shift+E"))
        files.addAction(self._action("Save mas&k PNG…", lambda: self._ask(
            "Save the mask", "png", self.exports.save_mask, "mask.png"), "Ctrl+Shift+S"))
        files.addSeparator()
        files.addAction(self._action("&Quit", self.close, QKeySequence.StandardKey.Quit))

    def _build_edit_menu(self) -> None:
        edit = self.menuBar().addMenu("&Edit")
        history = self.studio.history
        self.undo_action = self._action("&Undo", history.undo, QKeySequence.StandardKey.Undo)
        self.redo_action = self._action("&Redo", history.redo, QKeySequence.StandardKey.Redo)
        self.redo_action.setShortcuts([QKeySequence.StandardKey.Redo, QKeySequence("Ctrl+Y")])
        edit.addAction(self.undo_action)
        edit.addAction(self.redo_action)
        self.studio.subscribe(lambda _change: self._show_history(), "history")
        self._show_history()

    def _show_history(self) -> None:
        """Undo and Redo as the studio's history has them: enabled when there is a step, named after it."""
        history = self.studio.history
        for action, verb, possible, text in ((self.undo_action, "Undo", history.can_undo, history.undo_text),
                                             (self.redo_action, "Redo", history.can_redo, history.redo_text)):
            action.setEnabled(possible)
            action.setText(f"&{verb} {elided(text)}" if possible else f"&{verb}")
            action.setIconText(verb)  # the tool bar's button keeps its width: the step is in its tip and the menu
            action.setToolTip(f"{verb} {text}" if possible else verb)
            action.setStatusTip(f"{verb} {text}" if possible else f"Nothing to {verb.lower()}")

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
        view.addAction(self.photos.paste_edited_action)
        view.addAction(self.photos.global_edit_action)

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
        self.size_slider.setRange(1, MAX_BRUSH_SIZE)
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
        self.timing_label.setToolTip("What the result shows: a preview (while a stroke or slider moves) or the full "
                                     "render, the graph that drew it, and how long the face took")
        self.device_label = QLabel(self.engine.description)
        self.device_label.setToolTip("Where and how the networks run")
        for label in (self.hover_label, self.timing_label, self.device_label):
            bar.addPermanentWidget(label)
        self._refresh_settings()

    # ---- state changes -----------------------------------------------------------------
    def _on_change(self, change: Change) -> None:
        if change.kind is ChangeKind.DOCUMENT and change.names != {"result_view"}:  # a view switch renders nothing
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
        """Ask for the face of the current document (and its photo); the newest request wins.
        While a stroke or a slider moves it is a preview (``PreviewPolicy``)."""
        self.result_view.busy.setText("rendering…")
        preview = self.preview_policy.next_render_is_preview()
        return self.worker.submit(render_request(self.studio, preview))

    def _watch_drags(self, slider: QSlider) -> None:
        """Previews while ``slider`` is dragged; the full render (or the label saying the frame
        shown is one) when it is let go."""
        key = str(id(slider))
        slider.sliderPressed.connect(lambda: self.preview_policy.hold(key))
        slider.sliderReleased.connect(lambda: self._drag_ended(key))

    def _drag_ended(self, key: str) -> None:
        self.studio.history.end_merge()  # one undo step per drag: the next drag is a step of its own
        if self.preview_policy.let_go(key):
            self.request_render()
        elif self.shown is not None:
            self._show_what_is_drawn(self.shown)

    def _show_what_is_drawn(self, rendered: RenderedView) -> None:
        label = self.preview_policy.label(rendered.result.drawn_by, rendered.preview)
        self.timing_label.setText(f"{label}, {rendered.result.milliseconds['total']:.0f} ms")

    def _on_rendered(self, ticket: int, rendered: RenderedView) -> None:
        if ticket < self.shown_ticket:  # an older request finished after a newer one: stale
            return
        self.shown_ticket = ticket
        self.result = rendered.result
        self.result_view.show_result(rendered.result, rendered.composite, rendered.original)
        self.shown = rendered
        self._show_what_is_drawn(rendered)
        if self.preview_policy.replace_preview(rendered.preview, ticket == self.worker.latest_ticket):
            self.request_render()
            return
        if ticket == self.worker.latest_ticket:
            self.result_view.busy.setText("")

    def _on_render_failed(self, ticket: int, message: str) -> None:
        if ticket == self.worker.latest_ticket:
            self.result_view.busy.setText("")
            self.show_error("The face could not be generated", message)

    def is_current(self) -> bool:
        """Whether the face shown is that of the newest request and nothing is pending."""
        return self.shown_ticket == self.worker.latest_ticket and self.worker.idle()

    def toggle_compare(self) -> None:
        if self.photos.document_photo() is None:
            self.statusBar().showMessage("Before | after needs a face opened from a photo (File > Open photo)", 5000)
            return
        self.studio.set_result_view("photo" if self.result_view.view_key == "compare" else "compare")

    # ---- variations --------------------------------------------------------------------
    def render_variations(self, parts: list[int], seeds: list[int]) -> None:
        """Render the current face with each seed's M_s style on ``parts``, in the background."""
        edit = self.studio.edit()
        pipeline = self.photos.pipeline

        def work() -> list[np.ndarray]:
            return [pipeline.render(variation_edit(edit, parts, seed)).image for seed in seeds]

        def show(images: list[np.ndarray]) -> None:
            self.variations.show_variations(parts, seeds, images)
            self.statusBar().showMessage(f"{len(images)} variations: click one to use it", 5000)

        self.statusBar().showMessage(f"Drawing {len(seeds)} variations…")
        self.tasks.start(work, show,
                         lambda message: (self.variations.finished(),
                                          self.show_error("The variations could not be drawn", message)))

    # ---- dialogs -----------------------------------------------------------------------
    def ask_reference(self, apply: Callable[[Face], object] | None = None) -> None:
        """*Open reference…*: a photo file, read in the background into the gallery, then ``apply``-ed."""
        path = self.choose_path("Open a reference face", "photo")
        if path:
            self.photos.open_reference(path, apply)

    def _ask(self, title: str, kind: str, then: Callable[[str], object], default: str = "") -> None:
        """A file dialog for ``kind`` ("photo", "mask", "project", "png", "result"); ``then(path)`` if one is chosen."""
        path = self.choose_path(title, kind, default)
        if path:
            then(path)

    def choose_path(self, title: str, kind: str, default: str = "") -> str:
        """The file the user picks ("" when cancelled): to save when ``default`` is given (a bare
        name goes in the last folder used for ``kind``), else to open, from that folder."""
        filters = {"photo": PHOTO_FILTER, "mask": "Masks (*.png)", "png": "PNG (*.png)",
                   "result": "Images (*.png *.jpg *.jpeg)", "project": f"ca2sis projects (*{PROJECT_SUFFIX})"}
        folder = self.recent.folder(kind)
        if default:
            path, _ = QFileDialog.getSaveFileName(self, title, str(folder / default), filters[kind])
        else:
            path, _ = QFileDialog.getOpenFileName(self, title, str(folder), filters[kind])
        if path:
            self.recent.used(kind, path, photo_file(self.studio.document) if kind == "result" else "")
            self.settings.setValue(f"folders/{kind}", self.recent.folders[kind])
            self.settings.setValue("folders/result_photo", self.recent.result_photo)
        return path

    def _about(self) -> None:
        QMessageBox.about(
            self, "About ca2sis",
            "<b>ca2sis</b>: semantic face editing with CA2-SIS (Fontanini et al., IEEE Access 2024).<br><br>"
            f"Networks: {self.engine.config.name}, {self.engine.image_size}x{self.engine.image_size}, "
            f"on {self.engine.description}.<br><br>The bundled weights and demo faces come from CelebAMask-HQ: "
            "non-commercial research and education only.",
        )

    def show_error(self, title: str, message: str, box: bool = True) -> None:
        """Tell the user without stopping anything: a window-modal box (with ``box``), the work untouched."""
        self.last_error = f"{title}: {message}"
        self.statusBar().showMessage(self.last_error, 8000)
        if not box:
            return
        if self._error_box is not None:
            self._error_box.close()
        self._error_box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        self._error_box.open()

    # ---- help --------------------------------------------------------------------------
    def shortcuts(self) -> list[tuple[str, str]]:
        """(keys, what they do) for every menu and tool action with a shortcut, then the canvas's."""
        rows = []
        for action in self.findChildren(QAction):
            keys = action.shortcuts()
            named = action.iconText() if action in (self.undo_action, self.redo_action) else action.text()
            text = named.replace("&", "").rstrip("…")  # Undo, not "Undo Paint Hair": the key, not the step
            if keys and text:
                shown = ", ".join(key.toString(QKeySequence.SequenceFormat.NativeText) for key in keys)
                rows.append((shown, text))
        return sorted(set(rows), key=lambda row: row[1].lower()) + list(CANVAS_SHORTCUTS)

    def show_shortcuts(self) -> None:
        dialog = QDialog(self)
        dialog.setWindowTitle("Keyboard and mouse shortcuts")
        layout = QVBoxLayout(dialog)
        view = QTextBrowser()
        rows = "".join(f"<tr><td><b>{html.escape(keys)}</b></td><td>{html.escape(what)}</td></tr>"
                       for keys, what in self.shortcuts())
        view.setHtml(f"<table cellspacing=4>{rows}</table>")
        layout.addWidget(view)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        layout.addWidget(buttons)
        dialog.resize(520, 560)
        dialog.open()
        self.shortcuts_dialog = dialog

    # ---- quitting ----------------------------------------------------------------------
    def may_close(self) -> bool:
        """True when the window may close: nothing unsaved, or the user saved or discarded it. Saving
        starts the project's write (the window then closes once it is written)."""
        if not self.photos.groups.may_quit(self):  # a group photo's other faces: only Save result keeps them
            return False
        if self.studio.history.is_clean():
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes", "The face has changes that are not saved in a project.\n\nSave them first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Discard:
            return True
        if answer == QMessageBox.StandardButton.Save:
            path = self.choose_path("Save the project", "project", "portrait" + PROJECT_SUFFIX)
            if path:
                self.projects.save_project(path)
                return True
        return False

    def closeEvent(self, event) -> None:  # noqa: N802
        # Unsaved changes: save, discard or cancel, asked once. Then a file still being written (a
        # result, a project, perhaps the one just asked for) would be cut off by quitting: the window
        # closes once it is written (QuitAfterWrites), and stays open if the write fails.
        if not (self.quit_after_writes.decided or self.may_close()):
            event.ignore()
            return
        if self.tasks.writing:
            event.ignore()
            self.quit_after_writes.request()
            return
        self.worker.close()
        super().closeEvent(event)
