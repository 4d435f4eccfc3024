"""The studio window with a photo, the question on quitting, the first-start ONNX export,
File > New and variations (pytest-qt, offscreen, random `tiny` weights)."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QApplication, QMessageBox

from ca2sis.app.qt.window import StudioWindow
from ca2sis.app.state.gallery import gallery_entries
from ca2sis.app.state.rendering import render_request
from ca2sis.model.inference.engine import Engine
from ca2sis.model.labels import CLASS_NAMES
from ca2sis.model.photo.framing import photo_parse
from ca2sis.model.photo.matte import band_for
from ca2sis.model.photo.source import working_side

from photo_cases import photo_with_face
from studio_dialogs import answer_next_question

HAIR = CLASS_NAMES.index("hair")


@pytest.fixture(scope="module")
def engine(tiny_weights):
    return Engine.from_pretrained(tiny_weights, device="cpu", backend="torch")


def open_window(qtbot, engine, **options) -> StudioWindow:
    entries = gallery_entries()
    window = StudioWindow(engine, entries[0].load(), entries, **options)
    # Whatever a test leaves unsaved: pytest-qt closes the window without the question on quitting.
    qtbot.addWidget(window, before_close_func=lambda widget: widget.studio.history.set_clean())
    window.show()
    wait_current(qtbot, window)
    return window


def wait_current(qtbot, window, timeout: int = 30_000) -> None:
    qtbot.waitUntil(lambda: window.result is not None and window.is_current() and not window.tasks.running,
                    timeout=timeout)


@pytest.fixture
def window(qtbot, engine):
    studio_window = open_window(qtbot, engine)
    yield studio_window
    studio_window.studio.history.set_clean()
    studio_window.close()


def test_a_face_edited_inside_its_photo_is_saved_as_the_whole_photo(qtbot, window, tmp_path):
    pixels, _ = photo_with_face()
    path = tmp_path / "portrait.png"
    Image.fromarray(pixels).save(path)
    window.projects.open_photo(path)
    qtbot.waitUntil(lambda: window.studio.document.photo_face is not None, timeout=60_000)
    wait_current(qtbot, window)
    photo = window.photos.document_photo()
    assert photo.size == (900, 700) and window.studio.history.is_clean()
    view = window.result_view
    assert view.view_key == "compare" and view.composite.shape == pixels.shape  # a small photo is its own preview
    # Attention is drawn over the generated face: off in the photo views, and the control says why.
    assert not view.attention.isEnabled() and '"Face"' in view.attention.toolTip()
    shown = view.shown_image()
    assert np.array_equal(shown[:, :400], pixels[:, :400])  # left of the divider: the photo as it was
    # Restyle the hair: only the edited parts go back into the photo.
    window.studio.set_random_styles({HAIR: 5})
    wait_current(qtbot, window)
    out = tmp_path / "edited.png"
    assert window.exports.save_result(out)
    qtbot.waitUntil(lambda: out.exists() and not window.tasks.running, timeout=30_000)
    saved = np.array(Image.open(out))
    assert saved.shape == pixels.shape
    # The hair is recoloured wherever it is in the photo (its parse at the photo's framing), with
    # its matte's band past it; every other pixel is the photo's own, byte for byte.
    target = render_request(window.studio).photo
    parse = photo_parse(photo, target.mask, working_side(photo, target.mask.shape[0]))
    hair = cv2.resize((parse.classes == HAIR).astype(np.uint8), photo.size, interpolation=cv2.INTER_NEAREST)
    reach = int(np.ceil(band_for(parse.face_side) / parse.scale)) + 2
    inside = cv2.dilate(hair, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1,) * 2)) > 0
    assert np.array_equal(saved[~inside], pixels[~inside])
    assert np.any(saved[inside] != pixels[inside])
    request = render_request(window.studio)
    assert np.array_equal(view.composite, window.photos.pipeline.render(request.edit, request.photo).photo)


def test_quitting_with_unsaved_changes_asks_first(qtbot, window, tmp_path):
    window.studio.begin_stroke((60.5, 60.5))
    window.studio.end_stroke()
    assert not window.studio.history.is_clean()
    asked: list[str] = []
    answer_next_question(QMessageBox.StandardButton.Cancel, asked)
    assert not window.close() and window.isVisible() and asked  # cancelled: still open, work kept
    project = tmp_path / "kept.ca2sis.json"
    window.choose_path = lambda *_args: str(project)
    answer_next_question(QMessageBox.StandardButton.Save, asked)
    assert not window.close()  # the project is written in the background: the window closes once it is
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=20_000)
    assert project.exists() and len(asked) == 2
    # Saved: no question. Changed again and discarded: closes without saving.
    other = open_window(qtbot, window.engine)
    assert other.close()
    other = open_window(qtbot, window.engine)
    other.studio.set_random_styles({HAIR: 3})
    answer_next_question(QMessageBox.StandardButton.Discard, asked)
    assert other.close() and len(asked) == 3


def test_first_start_without_a_whole_onnx_export_renders_then_switches_backend(qtbot, tiny_onnx_weights, tmp_path):
    # An export that lacks E_m's graph (as quitting the studio mid-export leaves one): the studio
    # exports E_m alone, in the background, and keeps the finished graphs.
    folder = tmp_path / "weights"
    shutil.copytree(tiny_onnx_weights, folder, ignore=shutil.ignore_patterns("mask_embedder.onnx"))
    kept = {path.name: path.stat().st_ino for path in folder.glob("*.onnx")}  # a file written again is a new one
    engine = Engine.from_pretrained(folder, device="cpu", backend="auto")
    assert engine.description.startswith("torch")
    entries = gallery_entries()
    window = StudioWindow(engine, entries[0].load(), entries, export_onnx=True)
    # The export's end is handled on the GUI thread's event loop, which has not run yet.
    assert window.onnx_export.exporting and engine.description.startswith("torch")
    assert window.device_label.text() == f"{engine.description} · exporting ONNX for speed…"
    qtbot.addWidget(window, before_close_func=lambda widget: widget.studio.history.set_clean())
    window.show()
    wait_current(qtbot, window)  # renders at once, on PyTorch or on the export once it is ready
    qtbot.waitUntil(lambda: not window.onnx_export.exporting, timeout=300_000)
    assert engine.description.startswith("onnx") and window.device_label.text() == engine.description
    assert Engine.onnx_export_current(folder)
    assert {name: (folder / name).stat().st_ino for name in kept} == kept
    wait_current(qtbot, window)
    assert np.array_equal(window.result.image, window.photos.pipeline.render(window.studio.edit()).image)
    window.close()


def test_new_gives_an_editable_face_and_variations_are_picked_from_a_row(qtbot, window):
    window.projects.new_face(window.gallery["face-04"].load())
    document = window.studio.document
    assert document.ghost is None and document.base.name == "face-04"
    assert np.array_equal(document.mask, window.projects.template_mask())
    wait_current(qtbot, window)
    assert window.result is not None and window.result_view.view_key == "face"
    window.studio.begin_stroke((256.5, 256.5))
    window.studio.end_stroke()
    assert not np.array_equal(window.studio.document.mask, window.projects.template_mask())
    strip = window.variations
    strip.set_parts([HAIR])
    strip.count.setValue(3)
    strip.draw()
    qtbot.waitUntil(lambda: len(strip.buttons) == 3 and not window.tasks.running, timeout=30_000)
    steps = len(window.studio.history)
    strip.buttons[1].click()
    seed = strip.seeds[1][HAIR]
    assert window.studio.document.random_parts[HAIR].seed == seed and len(window.studio.history) == steps + 1
    wait_current(qtbot, window)
    row = window.style_panel.rows[HAIR]
    assert f"#{seed}" in row.thumb.text()
    from PySide6.QtGui import QFontMetrics

    assert QFontMetrics(row.thumb.font()).horizontalAdvance(f"#{seed}") <= row.thumb.width()  # not cut off
    shortcuts = dict((what, keys) for keys, what in window.menus.shortcuts())
    assert "Polygon (P)" in shortcuts and any("Shift" in keys for keys in shortcuts.values())


def test_another_face_clears_the_variations_and_the_status_bar_forgets_a_pointer_that_left(qtbot, window):
    from PySide6.QtCore import QEvent, QPoint
    from PySide6.QtTest import QTest

    strip = window.variations
    strip.set_parts([HAIR])
    strip.count.setValue(2)
    strip.draw()
    qtbot.waitUntil(lambda: len(strip.buttons) == 2 and not window.tasks.running, timeout=30_000)
    shown = list(strip.buttons)
    window.projects.new_face(window.studio.document.base)  # File > New
    assert strip.buttons == [] and strip.seeds == [] and not any(button.isVisible() for button in shown)
    # Variations still being drawn when the face changes are of the old face: they never show.
    strip.draw()
    window.projects.new_face(window.studio.document.base)
    qtbot.waitUntil(lambda: not window.tasks.running and strip.draw_button.isEnabled(), timeout=30_000)
    assert strip.buttons == []
    # The pointer over the canvas shows where it is; once it leaves, the status bar forgets it.
    canvas = window.canvas
    QTest.mouseMove(canvas.viewport(), QPoint(canvas.viewport().width() // 2, canvas.viewport().height() // 2))
    qtbot.waitUntil(lambda: window.hover_label.text() != "", timeout=5_000)
    QApplication.sendEvent(canvas, QEvent(QEvent.Type.Leave))
    assert window.hover_label.text() == ""
