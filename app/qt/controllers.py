"""The studio window's workflows, each a controller handed what it uses (no window attributes):

- ``PhotoController``: faces from drops and photo files (aligned and parsed in the background;
  for a square picture without a face, the offer to take it whole), and editing a face inside
  its photo: every render also pastes the face back into a preview of the photo;
- ``ProjectController``: opening faces, photos, masks and projects, saving projects, File > New
  (a template mask, the mean face of the gallery's masks, in a chosen style);
- ``OnnxExportController``: the ONNX export on first start, and the switch to ONNX Runtime.

Every file is read and written on a background task (``BackgroundTask``), never on the GUI
thread, so the studio stays usable while a 12-megapixel photo is written or a project opens.
Saving the result, the face and the mask, and waiting for those writes on quitting, are in
``saving.py``.

Everything decided here is pure Python elsewhere (``state``), so this module only wires it to Qt.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from PySide6.QtCore import QMimeData, QTimer
from PySide6.QtGui import QAction
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
from ca2sis.model.inference.engine import Engine
from ca2sis.model.io.images import as_mask
from ca2sis.model.labels import NUM_CLASSES
from ca2sis.model.photo.paste import PhotoTarget
from ca2sis.model.photo.pipeline import PhotoPipeline
from ca2sis.model.photo.source import SourcePhoto

from ..state.display import elided
from ..state.document import CANVAS_SIZE, Document, Face, Studio
from ..state.events import Change, ChangeKind
from ..state.gallery import Gallery, read_photo
from ..state.onnx_upgrade import export_and_load, needs_export
from ..state.project import load_project_faces, project_file, save_project
from ..state.project_reader import PhotoFaces
from ..state.rendering import RenderedView, RenderRequest, photo_target, render
from ..state.template import mean_face_mask
from .canvas import MaskCanvas
from .group_faces import GroupFaces
from .images import to_pixmap
from .panels import GALLERY_MIME
from .worker import BackgroundTask

NO_FACE = "no face found"  # how the aligner's error begins after the picture's name
THUMBNAIL = 40  # the side of a face's picture in File > New's list


class ShowError(Protocol):
    """The window's way to tell the user: a window-modal box, or with ``box=False`` the status bar only."""

    def __call__(self, title: str, message: str, box: bool = True) -> None: ...


class PhotoController:
    """Faces from drops and photos, and the face edited inside its photo.

    Shows the document's two render options (paste back only the edited parts; global edit,
    ``RenderOptions``) as checkable actions for the window's menu: a toggle changes the
    studio's state (an undo step), and the actions follow the state (undo, an opened project).
    """

    def __init__(self, studio: Studio, engine: Engine, gallery: Gallery, tasks: BackgroundTask,
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
        self.groups = GroupFaces(self)  # a photo with several faces: one chosen by a click
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
        return render(self.pipeline, self.groups.with_backdrop(request))  # a group photo: the others' edits shown

    # ---- faces from drops and files ----------------------------------------------------
    def face_drop(self, mime: QMimeData, apply: Callable[[Face], object]) -> bool:
        """Resolve a dropped face (gallery name or photo file) and ``apply`` it."""
        if mime.hasFormat(GALLERY_MIME):
            name = bytes(mime.data(GALLERY_MIME)).decode()
            if name in self.gallery:
                self.load_gallery_face(name, lambda face: self.apply_face(apply, face))
                return True
            return False
        paths = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
        if not paths:
            return False
        self.open_reference(paths[0], apply)
        return True

    def open_reference(self, path: str | Path, apply: Callable[[Face], object] | None = None) -> None:
        """A reference from a file (*Open reference…*, or a file dropped): aligned and parsed in
        the background, kept in the gallery, then ``apply``-ed (a part's style, every part's, the
        shape source)."""
        self.read_photo(path, lambda face: self._keep_reference(face, apply))

    def _keep_reference(self, face: Face, apply: Callable[[Face], object] | None) -> None:
        self.gallery.keep(face)
        if apply is not None:
            apply(face)

    def load_gallery_face(self, name: str, then: Callable[[Face], object]) -> None:
        """Decode a gallery face in the background, then ``then(face)`` on the GUI thread."""
        self.tasks.start(self.gallery[name].load, then, lambda message: self.show_error(f"Cannot use {name}", message))

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

    Opening something marks the studio's history clean (nothing unsaved yet in what was just
    opened); what it opens sets the result's view (``Document.result_view``). Files are read and
    written in the background (``photos.tasks``): the methods that open or save start the work and
    return; what was read is applied when it is ready.
    """

    def __init__(self, studio: Studio, photos: PhotoController, parent: QWidget, status_bar: QStatusBar,
                 canvas: MaskCanvas, show_error: ShowError):
        self.studio, self.photos, self.parent = studio, photos, parent
        self.status_bar, self.canvas, self.show_error = status_bar, canvas, show_error
        self.tasks = photos.tasks
        self._template: np.ndarray | None = None
        self._thumbnails: dict[str, np.ndarray] | None = None
        self._save_lock = threading.Lock()  # two saves of one project never swap files at once
        # Document changes so far: a save marks the work saved only if nothing changed while it ran.
        self._revision = 0
        studio.subscribe(self._count_change)

    def _count_change(self, change: Change) -> None:
        if change.kind is ChangeKind.DOCUMENT:
            self._revision += 1

    def open_face(self, face: Face) -> None:
        """Start over from a face: its mask, ghost and styles (undoable)."""
        self.studio.open_face(face)
        self.studio.history.set_clean()
        QTimer.singleShot(0, self.canvas.fit)

    def open_gallery_face(self, name: str) -> None:
        """Start over from a gallery face (a double-click in the gallery)."""
        self.photos.load_gallery_face(name, self.open_face)

    def open_photo(self, path: str | Path) -> None:
        self.photos.groups.open_photo(path, self.open_face)  # every face read; the largest opened

    def open_mask(self, path: str | Path) -> None:
        """Replace the mask by a mask file (read in the background; undoable)."""
        name = Path(path).name
        self.status_bar.showMessage(f"Reading {elided(name)}…")
        self.tasks.start(lambda: as_mask(Path(path), CANVAS_SIZE, NUM_CLASSES),
                         lambda mask: self._use(lambda: self.studio.set_mask(mask, f"Open mask {name}"), name),
                         lambda message: self.show_error(f"Cannot open {name}", message))

    def open_project(self, path: str | Path) -> None:
        """Replace the document by a project's (read in the background: a project holds a whole photo)."""
        name = Path(path).name
        self.status_bar.showMessage(f"Opening {elided(name)}…")
        self.tasks.start(lambda: load_project_faces(path), lambda read: self._opened(*read, name),
                         lambda message: self.show_error(f"Cannot open {name}", message))

    def _opened(self, document: Document, photo_faces: PhotoFaces | None, name: str) -> None:
        self.studio.replace_document(document, f"Open project {name}")
        self.studio.history.set_clean()
        self.photos.groups.opened_project(document, photo_faces)  # a group photo: every face's edits back
        self.status_bar.showMessage(f"Opened {name}", 5000)

    def _use(self, change: Callable[[], object], name: str) -> None:
        try:
            change()
        except CA2SISError as error:
            self.show_error(f"Cannot open {name}", str(error))
            return
        self.status_bar.showMessage(f"Opened {name}", 5000)

    def save_project(self, path: str | Path) -> Path:
        """Write the document as it is now to a project, in the background; returns the project
        file being written (``project_file``). Quitting waits for it."""
        target = project_file(path)
        document = self.studio.document
        document = dataclasses.replace(document, mask=document.mask.copy())  # strokes paint the mask in place
        photo_faces, kept = self.photos.groups.project_faces()  # a group photo: every face (None: one face)
        revision = self._revision
        self.status_bar.showMessage(f"Saving {elided(target.name)}…")

        def write() -> Path:
            with self._save_lock:
                return save_project(document, target, photo_faces)

        self.tasks.start(write, lambda written: (self.photos.groups.kept(kept), self._saved(written, revision)),
                         lambda message: self.show_error("The project was not saved", message), writes=target.name)
        return target

    def _saved(self, written: Path, revision: int) -> None:
        if revision == self._revision:
            self.studio.history.set_clean()
        self.status_bar.showMessage(f"Saved {written}", 5000)

    # ---- File > New --------------------------------------------------------------------
    def template_mask(self) -> np.ndarray:
        """The mean face of the gallery's masks (computed once; ``ask_new_face`` computes it in the
        background before it is needed)."""
        if self._template is None:
            self._template = self._new_face_material()[0]
        return self._template

    def _new_face_material(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The template mask and a small thumbnail of every gallery face (decodes the gallery: slow)."""
        faces = {name: entry.load() for name, entry in self.photos.gallery.items()}
        template = mean_face_mask([face.mask for face in faces.values()] or [self.studio.document.mask])
        return template, {name: cv2.resize(np.asarray(face.image), (THUMBNAIL, THUMBNAIL), interpolation=cv2.INTER_AREA)
                          for name, face in faces.items()}

    def new_face(self, base: Face) -> None:
        """A new face from the template mask, every part in ``base``'s style (undoable)."""
        self.studio.new_document(self.template_mask(), base, f"New face in {base.name}'s style")
        self.studio.history.set_clean()

    def ask_new_face(self) -> None:
        gallery = self.photos.gallery
        if not gallery:
            self.new_face(self.studio.document.base)
            return
        if self._thumbnails is None:  # the first time: the gallery is read in the background, once
            self.status_bar.showMessage("Reading the demo faces for a new face…")
            self.tasks.start(self._new_face_material, self._ask_new_face_with,
                             lambda message: self.show_error("Cannot start a new face", message))
            return
        self._ask_new_face_with(None)

    def _ask_new_face_with(self, material: tuple[np.ndarray, dict[str, np.ndarray]] | None) -> None:
        if material is not None:
            self.status_bar.clearMessage()
            if self._template is None:
                self._template = material[0]
            self._thumbnails = material[1]
        gallery, thumbnails = self.photos.gallery, self._thumbnails or {}
        dialog = QDialog(self.parent)
        dialog.setWindowTitle("New face")
        layout = QVBoxLayout(dialog)
        layout.addWidget(QLabel("A new face starts from the mean face of the demo masks.\nIts base style:"))
        choice = QComboBox()
        for name in gallery:
            if name in thumbnails:
                choice.addItem(to_pixmap(thumbnails[name]), name, name)
            else:
                choice.addItem(name, name)
        layout.addWidget(choice)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        layout.addWidget(buttons)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.photos.load_gallery_face(choice.currentData(), self.new_face)


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
