"""The studio window's workflows beyond painting, as a mixin of ``StudioWindow``:

- editing a face inside its photo: every render also pastes the face back into a preview
  of the photo (shown alone or split with the original), and "Save result" writes the
  whole photo at its own resolution, in the background;
- a photo in which no face is found: for a square picture, the offer to take it whole;
- File > New: a template mask (the mean face of the gallery's masks) in a chosen style;
- variations: N random styles of the chosen parts, rendered in the background;
- the ONNX export on first start, and the switch to ONNX Runtime when it is ready;
- quitting with unsaved changes: save, discard or cancel;
- Help > shortcuts.

Everything decided here is pure Python elsewhere (``photo_edit``, ``template``, ``state``),
so this module only wires it to Qt.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QTextBrowser,
    QVBoxLayout,
)

from ca2sis.model.faces.paste_back import SourcePhoto, save_image
from ca2sis.model.inference.engine import Edit, Result

from ..state.document import Face
from ..state.onnx_upgrade import export_and_load, needs_export
from ..state.photo_edit import PastePlan, paste_plan
from ..state.template import mean_face_mask
from .images import to_pixmap
from .panels import elided
from .worker import BackgroundTask

NO_FACE = "no face found"  # how the aligner's error begins after the picture's name

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


@dataclass
class RenderRequest:
    """What the render worker makes: the face of ``edit``, pasted into a photo by ``plan``."""

    edit: Edit
    plan: PastePlan | None = None


@dataclass
class Rendered:
    """A generated face, with the photo preview it was pasted into (None without a photo)."""

    result: Result
    composite: np.ndarray | None = None
    original: np.ndarray | None = None


class StudioFeatures:
    """Mixin for ``StudioWindow`` (which provides studio, engine, worker, tasks, views, status bar)."""

    def setup_features(self, export_onnx: bool) -> None:
        self.export_task = BackgroundTask(self)  # apart from ``tasks``: a screenshot need not wait for it
        self.exporting = False
        self._template: np.ndarray | None = None
        if export_onnx and needs_export(self.engine):
            self.start_onnx_export()

    # ---- rendering into the photo ------------------------------------------------------
    def document_photo(self) -> SourcePhoto | None:
        face = self.studio.document.photo_face
        return None if face is None else face.photo

    def paste_region(self) -> str:
        return "edited" if self.paste_edited_action.isChecked() else "face"

    def render_request(self) -> RenderRequest:
        return RenderRequest(self.studio.edit(finishing=not self.global_edit_action.isChecked()),
                             paste_plan(self.studio.document, self.paste_region()))

    def render_job(self, request: RenderRequest) -> Rendered:
        """Runs on the render thread: the face, then (for a photo) its preview pasted back."""
        result = self.engine.render(request.edit)
        if request.plan is None:
            return Rendered(result)
        composite = request.plan.compose(result, preview=True)
        return Rendered(result, composite, np.asarray(request.plan.photo.preview.pixels))

    def toggle_compare(self) -> None:
        if self.document_photo() is None:
            self.statusBar().showMessage("Before | after needs a face opened from a photo (File > Open photo)", 5000)
            return
        self.result_view.set_view("photo" if self.result_view.view_key == "compare" else "compare")

    def result_file_name(self) -> str:
        photo = self.document_photo()
        if photo is None:
            return "result.png"
        stem = Path(photo.name).stem or "photo"
        return f"{stem}-edited.png"

    def save_photo_result(self, path: str | Path) -> bool:
        """Paste the face into the full photo and write it, in the background."""
        plan = paste_plan(self.studio.document, self.paste_region())
        face = self.result  # finished by the plan as the engine made it
        width, height = plan.photo.size
        self.statusBar().showMessage(f"Saving {elided(Path(path).name)}: the face goes back into the "
                                     f"{width}x{height} photo…")
        self.tasks.start(lambda: save_image(plan.compose(face), path, icc_profile=plan.photo.icc_profile),
                         lambda written: self.statusBar().showMessage(f"Saved {written}", 5000),
                         lambda message: self.show_error("The result was not saved", message))
        return True

    # ---- photos without a face ---------------------------------------------------------
    def photo_failed(self, path: str | Path, apply: Callable[[Face], object], message: str) -> None:
        """No face found in a square picture: offer to take the whole picture as the face."""
        square = False
        if NO_FACE in message:
            try:
                from PIL import Image

                with Image.open(path) as image:
                    square = image.width == image.height
            except OSError:
                square = False
        if not square:
            self.show_error(f"Cannot use {elided(Path(path).name)}", message)
            return
        answer = QMessageBox.question(
            self, "No face found",
            f"No face was found in {elided(Path(path).name)}.\n\nIt is square: use the whole picture as an "
            "aligned face (eyes and mouth where a CelebA-HQ crop has them)?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes)
        if answer == QMessageBox.StandardButton.Yes:
            self.read_photo(path, apply, whole_picture=True)
        else:
            self.last_error = f"Cannot use {Path(path).name}: {message}"
            self.statusBar().showMessage(self.last_error, 8000)

    # ---- File > New --------------------------------------------------------------------
    def template_mask(self) -> np.ndarray:
        """The mean face of the gallery's masks (computed once)."""
        if self._template is None:
            faces = [entry.load() for entry in self.gallery.values()]
            self._template = mean_face_mask([face.mask for face in faces] or [self.studio.document.mask])
        return self._template

    def new_face(self, base: Face) -> None:
        """A new face from the template mask, every part in ``base``'s style (undoable)."""
        self.studio.new_document(self.template_mask(), base, f"New face in {base.name}'s style")
        self.undo_stack.setClean()
        self.result_view.set_view("face")

    def ask_new_face(self) -> None:
        if not self.gallery:
            self.new_face(self.studio.document.base)
            return
        dialog = QDialog(self)
        dialog.setWindowTitle("New face")
        layout = QVBoxLayout(dialog)
        layout.addWidget(QLabel("A new face starts from the mean face of the demo masks.\nIts base style:"))
        choice = QComboBox()
        for name, entry in self.gallery.items():
            choice.addItem(to_pixmap(entry.load().image, 40), name, name)
        layout.addWidget(choice)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        layout.addWidget(buttons)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.new_face(self.gallery[choice.currentData()].load())

    # ---- variations --------------------------------------------------------------------
    def render_variations(self, parts: list[int], seeds: list[int]) -> None:
        """Render the current face with each seed's M_s style on ``parts``, in the background."""
        edit = self.studio.edit()
        engine = self.engine

        def work() -> list[np.ndarray]:
            return [engine.render(variation_edit(edit, parts, seed)).image for seed in seeds]

        self.statusBar().showMessage(f"Drawing {len(seeds)} variations…")
        def show(images: list[np.ndarray]) -> None:
            self.variations.show_variations(parts, seeds, images)
            self.statusBar().showMessage(f"{len(images)} variations: click one to use it", 5000)

        self.tasks.start(work, show,
                         lambda message: (self.variations.finished(),
                                          self.show_error("The variations could not be drawn", message)))

    # ---- the ONNX export ---------------------------------------------------------------
    def start_onnx_export(self) -> None:
        self.exporting = True
        self.device_label.setText(f"{self.engine.description} · exporting ONNX for speed…")
        self.device_label.setToolTip("First start on these weights: the ONNX Runtime graphs are being written "
                                     "beside them; the studio switches to the faster backend when they are ready")
        self.export_task.start(lambda: export_and_load(self.engine), self._use_exported, self._export_failed)

    def _use_exported(self, backend) -> None:
        self.exporting = False
        self.engine.use_backend(backend)
        self.device_label.setText(self.engine.description)
        self.device_label.setToolTip("Where and how the networks run")
        self.statusBar().showMessage(f"Switched to {self.engine.description}: the ONNX export is ready", 8000)
        self.request_render()

    def _export_failed(self, message: str) -> None:
        self.exporting = False
        self.device_label.setText(f"{self.engine.description} (ONNX export failed)")
        self.device_label.setToolTip(message)
        self.statusBar().showMessage(f"ONNX export failed, staying on {self.engine.description}: {message}", 10000)

    # ---- quitting ----------------------------------------------------------------------
    def may_close(self) -> bool:
        """True when the window may close: nothing unsaved, or the user saved or discarded it."""
        if self.undo_stack.isClean():
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes", "The face has changes that are not saved in a project.\n\nSave them first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Discard:
            return True
        if answer == QMessageBox.StandardButton.Save:
            path = self.choose_path("Save the project", "project", "portrait.ca2sis.json")
            return bool(path) and self.save_project(path) is not None
        return False

    # ---- help --------------------------------------------------------------------------
    def shortcuts(self) -> list[tuple[str, str]]:
        """(keys, what they do) for every menu and tool action with a shortcut, then the canvas's."""
        rows = []
        for action in self.findChildren(QAction):
            keys = action.shortcuts()
            text = action.text().replace("&", "").rstrip("…")
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


def variation_edit(edit: Edit, parts: list[int], seed: int) -> Edit:
    """``edit`` with an M_s style drawn from ``seed`` on each of ``parts``."""
    randoms = {**edit.random_parts, **{part: (seed, 1.0) for part in parts}}
    styles = {part: value for part, value in edit.part_styles.items() if part not in parts}
    return replace(edit, part_styles=styles, random_parts=randoms)
