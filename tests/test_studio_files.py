"""The studio's files (`app/qt/controllers.py`, `app/qt/saving.py`, pytest-qt, offscreen): every file is read and
written off the GUI thread, so the window answers while a 12-megapixel photo project is saved
or opened, and quitting waits for a file still being written instead of cutting it off."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox, QProgressDialog, QPushButton

from ca2sis.app.qt import saving
from ca2sis.app.qt.window import StudioWindow
from ca2sis.app.state.document import Face
from ca2sis.app.state.gallery import GalleryEntry, gallery_entries
from ca2sis.model.inference.engine import Engine
from ca2sis.model.photo.source import SourcePhoto

from studio_dialogs import answer_next_question

PHOTO_SIZE = (4000, 3000)  # 12 megapixels, as a phone takes them


@pytest.fixture(scope="module")
def engine(tiny_weights):
    return Engine.from_pretrained(tiny_weights, device="cpu", backend="torch")


def mark_saved(window) -> None:
    """What a test leaves unsaved is dropped: no question when the window closes."""
    history = getattr(window.studio, "history", None)
    if hasattr(history, "set_clean"):
        history.set_clean()
    else:
        window.undo_stack.setClean()


def is_saved(window) -> bool:
    history = getattr(window.studio, "history", None)
    return history.is_clean() if hasattr(history, "is_clean") else window.undo_stack.isClean()


@pytest.fixture
def window(qtbot, engine):
    entries = gallery_entries()
    studio_window = StudioWindow(engine, entries[0].load(), entries)
    qtbot.addWidget(studio_window, before_close_func=mark_saved)
    studio_window.show()
    wait_settled(qtbot, studio_window)
    yield studio_window
    mark_saved(studio_window)
    studio_window.close()


def wait_settled(qtbot, window, timeout: int = 30_000) -> None:
    qtbot.waitUntil(lambda: window.result is not None and window.is_current() and not window.tasks.running,
                    timeout=timeout)


@functools.cache
def twelve_megapixel_face() -> Face:
    """A gallery face cut out of a synthetic 4000 x 3000 photo (stripes and ramps: PNG writes it in
    about a second, so the test stays short; no face finding needed)."""
    face = gallery_entries()[0].load()
    width, height = PHOTO_SIZE
    x, y = np.arange(width)[None, :], np.arange(height)[:, None]
    pixels = np.empty((height, width, 3), np.uint8)
    pixels[..., 0] = (x // 16) % 256
    pixels[..., 1] = (y // 12) % 256
    pixels[..., 2] = ((7 * x + 3 * y) // 20) % 256
    scale = 512 / 1500  # the face's crop is 1500 px across in the photo, from (1200, 700)
    matrix = np.array([[scale, 0.0, -1200 * scale], [0.0, scale, -700 * scale]])
    return Face(face.name, face.image, face.mask, face.source, SourcePhoto(pixels, matrix, 512, "phone.jpg"))


class Ticks:
    """A timer firing every 20 ms on the GUI thread; ``during`` counts the ticks for which
    ``condition()`` held (a file still being written or read)."""

    def __init__(self, condition):
        self.condition, self.during, self.times = condition, 0, []
        self.timer = QTimer()
        self.timer.timeout.connect(self._tick)
        self.timer.start(20)

    def _tick(self) -> None:
        self.times.append(time.perf_counter())
        if self.condition():
            self.during += 1

    def longest_gap(self) -> float:
        return max(np.diff(self.times), default=0.0)


def test_saving_and_opening_a_12_megapixel_project_leaves_the_studio_answering(qtbot, window, tmp_path):
    window.projects.open_face(twelve_megapixel_face())
    wait_settled(qtbot, window)
    before = window.studio.document.mask.copy()
    project = tmp_path / "phone.ca2sis.json"
    saving = {"on": False}
    ticks = Ticks(lambda: saving["on"] and not project.exists())
    saving["on"] = True
    assert window.projects.save_project(tmp_path / "phone") == project
    # The studio is usable meanwhile: a stroke now is not in the project being written.
    window.studio.begin_stroke((100.5, 100.5))
    window.studio.end_stroke()
    qtbot.waitUntil(lambda: project.exists() and not window.tasks.running, timeout=30_000)
    assert ticks.during >= 3, f"the GUI thread answered {ticks.during} times while the project was written"
    assert window.last_error is None and not is_saved(window)  # the stroke came after the save began
    files = tmp_path / "phone_files"
    assert Image.open(files / "photo.png").size == PHOTO_SIZE
    assert np.array_equal(np.array(Image.open(files / "mask.png")), before)

    # Opening it: the whole photo is decoded on a worker, the window answers meanwhile.
    window.projects.open_face(window.gallery["face-02"].load())
    wait_settled(qtbot, window)
    ticks = Ticks(lambda: window.studio.document.photo_face is None)
    window.projects.open_project(project)
    qtbot.waitUntil(lambda: window.studio.document.photo_face is not None and not window.tasks.running,
                    timeout=30_000)
    ticks.timer.stop()
    assert ticks.during >= 3, f"the GUI thread answered {ticks.during} times while the project was read"
    opened = window.studio.document
    assert opened.photo_face.photo.size == PHOTO_SIZE and np.array_equal(opened.mask, before)
    assert window.last_error is None and is_saved(window)


def test_closing_while_the_result_is_written_waits_for_it(qtbot, window, tmp_path):
    # The save ran on a daemon thread that died with the process: closing 0.5 s after Save
    # result left no file. Now the window says what it is writing and closes once it is written.
    window.projects.open_face(twelve_megapixel_face())
    window.studio.begin_stroke((100.5, 100.5))  # a change not saved in a project: asked about once
    window.studio.end_stroke()
    wait_settled(qtbot, window)
    out = tmp_path / "edited.png"
    assert window.exports.save_result(out)
    asked: list[str] = []
    answer_next_question(QMessageBox.StandardButton.Discard, asked)
    assert not window.close(), "the window closed while its result was being written"
    note = window.findChild(QProgressDialog)
    assert window.isVisible() and note is not None and note.isVisible() and "edited.png" in note.labelText()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=60_000)
    assert Image.open(out).size == PHOTO_SIZE
    assert len(asked) == 1  # not asked again when the window closes after the write


def test_the_note_on_quitting_can_keep_the_studio_open_and_a_failed_write_keeps_it_open(qtbot, window, tmp_path,
                                                                                          monkeypatch):
    release = threading.Event()
    real_save_png = saving.save_png

    def slow_save_png(image, path):
        release.wait(20)
        if "blocked" in str(path):
            raise OSError(13, "Permission denied", str(path))
        real_save_png(image, path)

    monkeypatch.setattr(saving, "save_png", slow_save_png)
    face = tmp_path / "face.png"
    assert window.exports.save_face(face)
    assert not window.close()
    note = window.findChild(QProgressDialog)
    note.findChild(QPushButton).click()  # "Keep the studio open"
    release.set()
    qtbot.waitUntil(lambda: face.exists() and not window.tasks.running, timeout=20_000)
    assert window.isVisible()  # the user chose to stay
    release.clear()
    assert window.exports.save_face(tmp_path / "blocked" / "face.png")
    assert not window.close()
    release.set()
    qtbot.waitUntil(lambda: not window.tasks.running, timeout=20_000)
    assert window.isVisible() and "Permission denied" in window.last_error  # not written: not closed


def test_a_file_being_written_is_finished_even_when_the_event_loop_ends_first(tmp_path):
    # The writes ran on daemon threads, which die with the interpreter: a file being written when
    # the studio ended (closed, or its event loop quit by the system) was never written.
    out = tmp_path / "late.png"
    script = f"""
import sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
from ca2sis.app.qt.worker import BackgroundTask
app = QApplication(sys.argv[:1])
window = QMainWindow()
tasks = BackgroundTask(window)

def write():
    time.sleep(0.5)
    open({str(out)!r}, "w").write("written")

tasks.start(write, print, print, writes="late.png")
QTimer.singleShot(50, app.quit)
app.exec()
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 0, done.stderr
    assert out.read_text() == "written"


def test_gallery_faces_are_decoded_off_the_gui_thread(qtbot, window, monkeypatch):
    threads: list[str] = []
    real_load = GalleryEntry.load

    def load(entry):
        threads.append(threading.current_thread().name)
        return real_load(entry)

    monkeypatch.setattr(GalleryEntry, "load", load)
    window.gallery_list.opened.emit("face-03")  # a double-click in the gallery
    qtbot.waitUntil(lambda: window.studio.document.base.name == "face-03" and not window.tasks.running)

    def accept_the_dialog() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QDialog):
            QTimer.singleShot(20, accept_the_dialog)
            return
        dialog.accept()

    QTimer.singleShot(20, accept_the_dialog)
    window.projects.ask_new_face()  # File > New: the template and the faces to choose from
    qtbot.waitUntil(lambda: window.studio.document.ghost is None and not window.tasks.running, timeout=20_000)
    assert threads and all(name != threading.main_thread().name for name in threads), threads
    # Asked again, File > New decodes nothing more than the face chosen.
    count = len(threads)
    QTimer.singleShot(20, accept_the_dialog)
    window.projects.ask_new_face()
    qtbot.waitUntil(lambda: len(threads) == count + 1 and not window.tasks.running, timeout=20_000)


def test_a_read_only_weights_folder_is_said_plainly_in_the_studio():
    from ca2sis.app.qt.worker import error_message

    message = error_message(OSError(30, "Read-only file system", "/opt/weights/.generator.onnx.0123456789ab.tmp"))
    assert message == "Read-only file system: /opt/weights/.generator.onnx.0123456789ab.tmp"
