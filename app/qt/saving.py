"""Saving what the studio made, and quitting without cutting a file off:

- ``ExportController``: the result (the whole photo at its own resolution, when the face
  comes from one), the generated face and the mask, each written in the background;
- ``QuitAfterWrites``: closing while a file is being written waits for it, with a note.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QProgressDialog, QStatusBar, QWidget

from ca2sis.model.inference.edits import Result
from ca2sis.model.io.images import mask_image, save_png
from ca2sis.model.photo.pipeline import PhotoPipeline
from ca2sis.model.photo.source import save_image

from ..state.display import elided
from ..state.document import Studio
from .controllers import PhotoController, ShowError
from .worker import BackgroundTask


class ExportController:
    """Saving what the studio made: the result (into its photo when it has one), the face, the mask.

    current_result: the face shown now (None until the first one is generated).
    """

    def __init__(self, studio: Studio, photos: PhotoController, tasks: BackgroundTask, status_bar: QStatusBar,
                 show_error: ShowError, current_result: Callable[[], Result | None]):
        self.studio, self.photos, self.tasks = studio, photos, tasks
        self.status_bar, self.show_error, self.current_result = status_bar, show_error, current_result

    def save_result(self, path: str | Path) -> bool:
        """The photo with the face pasted back (with every face's edits for a group photo), or the
        face alone (written in the background)."""
        if self.photos.groups.save(path):
            return True
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
                         lambda message: self.show_error("The result was not saved", message), writes=Path(path).name)
        return True

    def save_face(self, path: str | Path) -> bool:
        """The generated face alone, at the networks' size."""
        result = self._shown_result()
        return result is not None and self._save_png(result.image, path, "face")

    def save_mask(self, path: str | Path) -> bool:
        return self._save_png(self.studio.document.mask.copy(), path, "mask", mask_image)

    def _shown_result(self) -> Result | None:
        result = self.current_result()
        if result is None:
            self.show_error("Nothing to save yet", "The first face is still being generated.")
        return result

    def _save_png(self, image: np.ndarray, path: str | Path, what: str,
                  convert: Callable[[np.ndarray], object] = lambda image: image) -> bool:
        """Write a PNG in the background (True: the write began; an error is shown when it ends)."""

        def write() -> Path:
            save_png(convert(image), path)
            return Path(path)

        self.tasks.start(write, lambda written: self.status_bar.showMessage(f"Saved {written}", 5000),
                         lambda message: self.show_error(f"The {what} was not saved", message), writes=Path(path).name)
        return True


class QuitAfterWrites:
    """Closing the window while a file is being written (a result, a project): a note says what
    is being written, and the window closes once it is (quitting at once would cut the file off:
    the writes run on threads of this process). The note's button keeps the studio open instead;
    a write that fails keeps it open, with its error shown."""

    def __init__(self, tasks: BackgroundTask, parent: QWidget, status_bar: QStatusBar, close: Callable[[], object]):
        self.tasks, self.parent, self.status_bar, self.close = tasks, parent, status_bar, close
        self.note: QProgressDialog | None = None
        self._closing = False

    @property
    def decided(self) -> bool:
        """The user chose to quit (any question on unsaved changes answered): waiting, or closing."""
        return self.note is not None or self._closing

    def request(self) -> None:
        """Close once every write under way has ended (nothing to do when it is already waiting)."""
        if self.note is not None:
            return
        names = ", ".join(elided(name) for name in self.tasks.writing)
        self.status_bar.showMessage(f"Writing {names}: the studio closes when it is written…")
        self.note = QProgressDialog(f"Writing {names}…\n\nThe studio closes when it is written.",
                                    "Keep the studio open", 0, 0, self.parent)  # 0, 0: a busy bar
        self.note.setWindowTitle("Saving before quitting")
        self.note.setWindowModality(Qt.WindowModality.WindowModal)
        self.note.setMinimumDuration(0)
        self.note.canceled.connect(self._keep_open)
        self.note.show()
        self.tasks.when_written(self._written)

    def _keep_open(self) -> None:
        if self.note is not None:  # the button, not the note closing itself below
            self.note = None
            self.tasks.stop_waiting()
            self.status_bar.showMessage("Not quitting: the file is still being written", 5000)

    def _written(self, all_written: bool) -> None:
        note, self.note = self.note, None
        if note is None:  # the user chose to stay meanwhile
            return
        note.close()
        note.deleteLater()
        if all_written:
            self._closing = True
            try:
                self.close()
            finally:
                self._closing = False
