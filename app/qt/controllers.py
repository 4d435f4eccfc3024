"""The studio window's workflows, each a controller handed what it uses (no window attributes):

- ``PhotoController``: faces from drops and photo files (aligned and parsed in the background;
  for a square picture without a face, the offer to take it whole), and editing a face inside
  its photo: every render also pastes the face back into a preview of the photo;
- ``ProjectController``: opening faces, photos, masks and projects, saving projects, File > New
  (a template mask, the mean face of the gallery's masks, in a chosen style);
- ``ExportController``: saving the result (the whole photo at its own resolution, in the
  background), the generated face and the mask;
- ``OnnxExportController``: the ONNX export on first start, and the switch to ONNX Runtime.

Everything decided here is pure Python elsewhere (``state``), so this module only wires it to Qt.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
from PySide6.QtCore import QMimeData, QTimer
from PySide6.QtGui import QAction, QUndoStack
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QStatusBar,
    QVBoxLayout,
    QWidget,
)

from ca2sis.model.errors import CA2SISError
from ca2sis.model.inference.engine import Engine, Result
from ca2sis.model.io.images import mask_image, save_png
from ca2sis.model.photo.pipeline import PhotoPipeline
from ca2sis.model.photo.source import SourcePhoto, save_image

from ..state.display import elided
from ..state.document import Face, Studio
from ..state.gallery import GalleryEntry, read_photo
from ..state.onnx_upgrade import export_and_load, needs_export
from ..state.photo_edit import PhotoTarget
from ..state.project import load_project, save_project
from ..state.rendering import RenderedView, RenderRequest, photo_target, render
from ..state.template import mean_face_mask
from .canvas import MaskCanvas
from .images import to_pixmap
from .panels import GALLERY_MIME, ResultView
from .worker import BackgroundTask

NO_FACE = "no face found"  # how the aligner's error begins after the picture's name


class ShowError(Protocol):
    """The window's way to tell the user: a window-modal box, or with ``box=False`` the status bar only."""

    def __call__(self, title: str, message: str, box: bool = True) -> None: ...


class PhotoController:
    """Faces from drops and photos, and the face edited inside its photo.

    Shows the document's two render options (paste back only the edited parts; global edit,
    ``RenderOptions``) as checkable actions for the window's menu: a toggle changes the
    studio's state (an undo step), and the actions follow the state (undo, an opened project).
    """

    def __init__(self, studio: Studio, engine: Engine, gallery: dict[str, GalleryEntry], tasks: BackgroundTask,
                 parent: QWidget, status_bar: QStatusBar, show_error: ShowError):
        self.studio, self.engine, self.gallery, self.tasks = studio, engine, gallery, tasks
        self.pipeline = PhotoPipeline(engine)
        self.parent, self.status_bar, self.show_error = parent, status_bar, show_error
        self.paste_edited_action = QAction("&Paste back only the edited parts", parent, checkable=True)
        self.paste_edited_action.setStatusTip("Off: the whole generated face goes into the photo")
        self.paste_edited_action.toggled.connect(lambda on: studio.set_paste_region("edited" if on else "face"))
        self.global_edit_action = QAction("&Global edit (raw network output)", parent, checkable=True)
        self.global_edit_action.setStatusTip("On: every pixel as the network generates it (the paper's global "
                                             "consistency); off: the edit changes only the edited parts, keeps "
                                             "the face's detail and takes the reference's colours")
        self.global_edit_action.toggled.connect(studio.set_global_edit)
        studio.subscribe(lambda _change: self.show_options(), "render_options")
        self.show_options()

    def show_options(self) -> None:
        """Check the View menu's options as the document has them."""
        options = self.studio.document.render_options
        for action, checked in ((self.paste_edited_action, options.paste_region == "edited"),
                                (self.global_edit_action, options.global_edit)):
            if action.isChecked() != checked:
                action.blockSignals(True)
                action.setChecked(checked)
                action.blockSignals(False)

    # ---- rendering into the photo ------------------------------------------------------
    def document_photo(self) -> SourcePhoto | None:
        face = self.studio.document.photo_face
        return None if face is None else face.photo

    def paste_plan(self) -> PhotoTarget | None:
        """How the face goes back into its photo, as the document's options say (None without a photo)."""
        return photo_target(self.studio)

    def render(self, request: RenderRequest) -> RenderedView:
        """Runs on the render thread (``state.rendering.render`` with this controller's pipeline)."""
        return render(self.pipeline, request)

    def result_file_name(self) -> str:
        photo = self.document_photo()
        if photo is None:
            return "result.png"
        stem = Path(photo.name).stem or "photo"
        return f"{stem}-edited.png"

    # ---- faces from drops and files ----------------------------------------------------
    def face_drop(self, mime: QMimeData, apply: Callable[[Face], object]) -> bool:
        """Resolve a dropped face (gallery name or photo file) and ``apply`` it."""
        if mime.hasFormat(GALLERY_MIME):
            name = bytes(mime.data(GALLERY_MIME)).decode()
            if name in self.gallery:
                self.apply_face(apply, self.gallery[name].load())
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
        self.status_bar.showMessage(f"Reading {elided(Path(path).name)}: finding and parsing the face…")
        self.tasks.start(
            lambda: read_photo(path, self.engine.face_reader, whole_picture),
            lambda face: self.apply_face(apply, face),
            lambda message: self.photo_failed(path, apply, message),
        )

    def apply_face(self, apply: Callable[[Face], object], face: Face) -> None:
        try:
            apply(face)
        except CA2SISError as error:
            self.show_error(f"Cannot use {face.name}", str(error))
            return
        self.status_bar.showMessage(f"{face.name}: done", 4000)

    def photo_failed(self, path: str | Path, apply: Callable[[Face], object], message: str) -> None:
        """No face found in a square picture: offer to take the whole picture as the face."""
        title = f"Cannot use {elided(Path(path).name)}"
        if NO_FACE not in message or not is_square_picture(path):
            self.show_error(title, message)
            return
        answer = QMessageBox.question(
            self.parent, "No face found",
            f"No face was found in {elided(Path(path).name)}.\n\nIt is square: use the whole picture as an "
            "aligned face (eyes and mouth where a CelebA-HQ crop has them)?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes)
        if answer == QMessageBox.StandardButton.Yes:
            self.read_photo(path, apply, whole_picture=True)
        else:
            self.show_error(title, message, box=False)  # the user has just answered: no box on top


def is_square_picture(path: str | Path) -> bool:
    try:
        from PIL import Image

        with Image.open(path) as image:
            return image.width == image.height
    except OSError:
        return False


class ProjectController:
    """What the window edits: faces, photos, masks and projects opened, projects saved, File > New.

    Opening something starts a clean undo stack state (nothing unsaved yet in what was just opened).
    """

    def __init__(self, studio: Studio, undo_stack: QUndoStack, photos: PhotoController, parent: QWidget,
                 status_bar: QStatusBar, canvas: MaskCanvas, result_view: ResultView, show_error: ShowError):
        self.studio, self.undo_stack, self.photos, self.parent = studio, undo_stack, photos, parent
        self.status_bar, self.canvas, self.result_view, self.show_error = status_bar, canvas, result_view, show_error
        self._template: np.ndarray | None = None

    def open_face(self, face: Face) -> None:
        """Start over from a face: its mask, ghost and styles (undoable)."""
        self.studio.open_face(face)
        self.undo_stack.setClean()
        if face.photo is not None:
            self.result_view.set_view("compare")
        QTimer.singleShot(0, self.canvas.fit)

    def open_photo(self, path: str | Path) -> None:
        self.photos.read_photo(path, self.open_face)

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
        self.status_bar.showMessage(f"Saved {written}", 5000)
        return written

    # ---- File > New --------------------------------------------------------------------
    def template_mask(self) -> np.ndarray:
        """The mean face of the gallery's masks (computed once)."""
        if self._template is None:
            faces = [entry.load() for entry in self.photos.gallery.values()]
            self._template = mean_face_mask([face.mask for face in faces] or [self.studio.document.mask])
        return self._template

    def new_face(self, base: Face) -> None:
        """A new face from the template mask, every part in ``base``'s style (undoable)."""
        self.studio.new_document(self.template_mask(), base, f"New face in {base.name}'s style")
        self.undo_stack.setClean()
        self.result_view.set_view("face")

    def ask_new_face(self) -> None:
        gallery = self.photos.gallery
        if not gallery:
            self.new_face(self.studio.document.base)
            return
        dialog = QDialog(self.parent)
        dialog.setWindowTitle("New face")
        layout = QVBoxLayout(dialog)
        layout.addWidget(QLabel("A new face starts from the mean face of the demo masks.\nIts base style:"))
        choice = QComboBox()
        for name, entry in gallery.items():
            choice.addItem(to_pixmap(entry.load().image, 40), name, name)
        layout.addWidget(choice)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        layout.addWidget(buttons)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.new_face(gallery[choice.currentData()].load())


class ExportController:
    """Saving what the studio made: the result (into its photo when it has one), the face, the mask.

    current_result: the face shown now (None until the first one is generated).
    """

    def __init__(self, studio: Studio, photos: PhotoController, tasks: BackgroundTask, status_bar: QStatusBar,
                 show_error: ShowError, current_result: Callable[[], Result | None]):
        self.studio, self.photos, self.tasks = studio, photos, tasks
        self.status_bar, self.show_error, self.current_result = status_bar, show_error, current_result

    def save_result(self, path: str | Path) -> bool:
        """The photo with the face pasted back (written in the background), or the face alone."""
        result = self._shown_result()
        if result is None:
            return False
        plan = self.photos.paste_plan()
        if plan is None:
            return self._save_png(result.image, path, "result")
        width, height = plan.photo.size
        self.status_bar.showMessage(f"Saving {elided(Path(path).name)}: the face goes back into the "
                                    f"{width}x{height} photo…")
        # ``result`` is put back into the full photo as the pipeline planned it for the live view.
        self.tasks.start(lambda: save_image(PhotoPipeline.paste(result, plan), path,
                                            icc_profile=plan.photo.icc_profile),
                         lambda written: self.status_bar.showMessage(f"Saved {written}", 5000),
                         lambda message: self.show_error("The result was not saved", message))
        return True

    def save_face(self, path: str | Path) -> bool:
        """The generated face alone, at the networks' size."""
        result = self._shown_result()
        return result is not None and self._save_png(result.image, path, "face")

    def save_mask(self, path: str | Path) -> bool:
        return self._save_png(mask_image(self.studio.document.mask), path, "mask")

    def _shown_result(self) -> Result | None:
        result = self.current_result()
        if result is None:
            self.show_error("Nothing to save yet", "The first face is still being generated.")
        return result

    def _save_png(self, image: np.ndarray, path: str | Path, what: str) -> bool:
        try:
            save_png(image, path)
        except OSError as error:
            self.show_error(f"The {what} was not saved", str(error))
            return False
        self.status_bar.showMessage(f"Saved {path}", 5000)
        return True


class OnnxExportController:
    """On a CPU without an ONNX export beside the weights: export it in the background and
    switch the engine to ONNX Runtime when it is ready (``ready`` is called then)."""

    def __init__(self, engine: Engine, device_label: QLabel, status_bar: QStatusBar, parent: QWidget,
                 ready: Callable[[], object]):
        self.engine, self.device_label, self.status_bar, self.ready = engine, device_label, status_bar, ready
        self.task = BackgroundTask(parent)  # apart from the window's tasks: a screenshot need not wait for it
        self.exporting = False

    def start_if_needed(self) -> None:
        if needs_export(self.engine):
            self.start()

    def start(self) -> None:
        self.exporting = True
        self.device_label.setText(f"{self.engine.description} · exporting ONNX for speed…")
        self.device_label.setToolTip("First start on these weights: the ONNX Runtime graphs are being written "
                                     "beside them; the studio switches to the faster backend when they are ready")
        self.task.start(lambda: export_and_load(self.engine), self._use_exported, self._failed)

    def _use_exported(self, backend) -> None:
        self.exporting = False
        self.engine.use_backend(backend)
        self.device_label.setText(self.engine.description)
        self.device_label.setToolTip("Where and how the networks run")
        self.status_bar.showMessage(f"Switched to {self.engine.description}: the ONNX export is ready", 8000)
        self.ready()

    def _failed(self, message: str) -> None:
        self.exporting = False
        self.device_label.setText(f"{self.engine.description} (ONNX export failed)")
        self.device_label.setToolTip(message)
        self.status_bar.showMessage(f"ONNX export failed, staying on {self.engine.description}: {message}", 10000)
