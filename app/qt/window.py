"""The studio's main window: canvas, result, palette, style and shape panels, gallery.

The window owns the Qt side only: the ``Studio`` (pure Python) holds the document and its
undo history (the Edit menu's Undo and Redo only show that history), and every document
change asks the render worker for a new face, built from the studio's state
(``state.rendering``). The worker runs the engine on its own thread and keeps only
the newest request, so painting never waits for the network. The workflows (photos,
projects, exports, the background ONNX export) are controllers in ``controllers.py``, each
handed the studio, the background runner and the few widgets it uses; the menus built on them
are ``menus.py``'s. The window lays the panels out, draws variations and asks before quitting
with unsaved changes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QSettings, Qt
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

from ca2sis.model.inference.edits import Result
from ca2sis.model.inference.engine import Engine
from ca2sis.model.labels import DISPLAY_NAMES

from ..state.document import Face, Studio, variation_edit
from ..state.events import Change, ChangeKind
from ..state.folders import FILE_KINDS, RecentFolders, photo_file
from ..state.gallery import Gallery, GalleryEntry
from ..state.preview import PreviewPolicy
from ..state.project import PROJECT_SUFFIX
from ..state.rendering import RenderedView, render_request
from .canvas import MaskCanvas
from .controllers import OnnxExportController, PhotoController, ProjectController
from .face_strips import GalleryPanel, VariationStrip
from .menus import StudioMenus
from .panels import ClassPalette, ShapePanel, StylePanel
from .result_view import ResultView
from .saving import ExportController, QuitAfterWrites
from .styles_library import StyleFiles
from .worker import BackgroundTask, RenderWorker

PHOTO_FILTER = "Images (*.jpg *.jpeg *.png *.webp *.bmp *.tif *.tiff)"


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

        self.menus = StudioMenus(self)
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

    # ---- state changes -----------------------------------------------------------------
    def _on_change(self, change: Change) -> None:
        if change.kind is ChangeKind.DOCUMENT and change.names != {"result_view"}:  # a view switch renders nothing
            self.request_render()

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

        def work() -> list[np.ndarray]:  # thumbnails: previews (no painted face's texture, a second each)
            return [pipeline.render(variation_edit(edit, parts, seed), preview=True).image for seed in seeds]

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

    def ask_file(self, title: str, kind: str, then: Callable[[str], object], default: str = "") -> None:
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

    # ---- quitting ----------------------------------------------------------------------
    def may_close(self) -> bool:
        """True when the window may close: nothing unsaved, or the user saved or discarded it. Saving
        starts the project's write (the window then closes once it is written)."""
        if not self.photos.groups.may_quit(self):  # a group photo's other faces' edits nothing has kept yet
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
