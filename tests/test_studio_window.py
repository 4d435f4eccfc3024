"""The studio window, offscreen (pytest-qt), on random `tiny` weights and the demo gallery."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QSettings, Qt, QUrl
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QFileDialog

from ca2sis.app.qt.images import from_qimage
from ca2sis.app.qt.main import main as studio_main
from ca2sis.app.qt.panels import GALLERY_MIME
from ca2sis.app.qt.window import StudioWindow
from ca2sis.app.state.document import Face
from ca2sis.app.state.gallery import gallery_entries
from ca2sis.app.state.tools import MAX_BRUSH_SIZE
from ca2sis.model.inference.engine import Engine
from ca2sis.model.inference.shapes import composite_mask
from ca2sis.model.labels import CLASS_NAMES, NUM_CLASSES
from ca2sis.model.photo.source import SourcePhoto

HAIR, NOSE, SKIN = (CLASS_NAMES.index(name) for name in ("hair", "nose", "skin"))


@pytest.fixture(scope="module")
def engine(tiny_weights):
    return Engine.from_pretrained(tiny_weights, device="cpu", backend="torch")


@pytest.fixture
def window(qtbot, engine):
    entries = gallery_entries()
    studio_window = StudioWindow(engine, entries[0].load(), entries)
    # Tests leave changes unsaved: close without the question on quitting.
    qtbot.addWidget(studio_window, before_close_func=lambda window: window.studio.history.set_clean())
    studio_window.show()
    wait_current(qtbot, studio_window)
    yield studio_window
    studio_window.studio.history.set_clean()
    studio_window.close()


def wait_current(qtbot, window) -> None:
    qtbot.waitUntil(lambda: window.result is not None and window.is_current() and not window.tasks.running,
                    timeout=20_000)


def settled(qtbot, window) -> None:
    """Files (a dropped gallery face, a project, a mask) are read in the background: wait for them."""
    qtbot.waitUntil(lambda: not window.tasks.running, timeout=20_000)


def gallery_mime(name: str) -> QMimeData:
    mime = QMimeData()
    mime.setData(GALLERY_MIME, name.encode())
    return mime


def expected_image(window) -> np.ndarray:
    """The face the studio should show: the document's edit through the photo pipeline."""
    return window.photos.pipeline.render(window.studio.edit()).image


def test_a_mouse_stroke_paints_under_the_brush_and_undo_redo_restore_it(qtbot, window):
    canvas = window.canvas
    before = window.studio.document.mask.copy()
    window.studio.set_brush_class(NOSE)
    window.studio.set_brush_size(6)
    start, end = canvas.mapFromScene(150, 400), canvas.mapFromScene(350, 400)
    QTest.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for step in range(1, 11):
        point = start + (end - start) * (step / 10)
        QTest.mouseMove(canvas.viewport(), QPoint(point.x(), point.y()))
    QTest.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    after = window.studio.document.mask.copy()
    changed = np.argwhere(after != before)
    assert len(changed) > 0 and (after[after != before] == NOSE).all()
    scale = 1 / canvas.transform().m11()  # one view pixel in mask pixels: the pointer's rounding
    assert changed[:, 0].min() >= 400 - 6 - 2 * scale and changed[:, 0].max() <= 400 + 6 + 2 * scale
    assert len(window.studio.history) == 1  # the whole stroke is one step
    window.menus.undo_action.trigger()
    assert np.array_equal(window.studio.document.mask, before)
    window.menus.redo_action.trigger()
    assert np.array_equal(window.studio.document.mask, after)
    wait_current(qtbot, window)
    assert np.array_equal(window.result.image, expected_image(window))


def test_dropping_a_face_on_a_part_changes_its_style_and_the_output(qtbot, window):
    before = window.result.image.copy()
    donor = window.gallery["face-02"]
    window.style_panel.rows[HAIR].face_dropped(gallery_mime(donor.name))
    settled(qtbot, window)
    style = window.studio.document.part_styles[HAIR]
    assert style.face.name == "face-02" and style.strength == 1.0
    assert window.studio.style_face(SKIN).name == "face-01"
    wait_current(qtbot, window)
    assert not np.array_equal(window.result.image, before)
    assert np.array_equal(window.result.image, expected_image(window))
    # The strength slider interpolates the codes, as one undo step per drag.
    slider = window.style_panel.rows[HAIR].slider
    for value in (80, 60, 40):
        slider.setValue(value)
    assert window.studio.strength(HAIR) == pytest.approx(0.4)
    window.menus.undo_action.trigger()
    assert window.studio.strength(HAIR) == 1.0
    # Dropped on the result, a face styles every part.
    window.result_view.face_dropped(gallery_mime("face-03"))
    settled(qtbot, window)
    assert window.studio.document.base.name == "face-03" and not window.studio.document.part_styles
    # Hovering the skin's or the nose's name says that a skin from another face carries its tone.
    assert "nose" in window.style_panel.rows[SKIN].name.toolTip()
    assert "skin's tone" in window.style_panel.rows[NOSE].name.toolTip()


def test_undo_and_redo_show_the_studios_one_history_and_each_drag_is_one_step(qtbot, window):
    history = window.studio.history
    assert not window.menus.undo_action.isEnabled() and not window.menus.redo_action.isEnabled()
    window.style_panel.rows[HAIR].face_dropped(gallery_mime("face-02"))
    qtbot.waitUntil(lambda: HAIR in window.studio.document.part_styles)  # the face may be read in the background
    assert window.menus.undo_action.isEnabled() and window.menus.undo_action.text() == "&Undo Hair style from face-02"
    slider = window.style_panel.rows[HAIR].slider
    for values in ((80, 60), (30,)):  # two drags of the strength slider
        slider.setSliderDown(True)
        for value in values:
            slider.setValue(value)
        slider.setSliderDown(False)
    assert len(history) == 3 and window.menus.undo_action.text() == "&Undo Hair strength"
    assert window.menus.undo_action.iconText() == "Undo"  # the tool bar's button keeps its width
    assert "Undo" in {what for _keys, what in window.menus.shortcuts()}  # Help lists the key, not the step
    window.menus.undo_action.trigger()
    assert window.studio.strength(HAIR) == pytest.approx(0.6) and slider.value() == 60
    assert window.menus.redo_action.isEnabled() and window.menus.redo_action.text() == "&Redo Hair strength"
    history.undo()  # the state's own undo: the menu follows it
    assert window.studio.strength(HAIR) == 1.0 and window.menus.undo_action.text() == "&Undo Hair style from face-02"
    history.undo()
    assert not window.menus.undo_action.isEnabled() and HAIR not in window.studio.document.part_styles
    window.menus.redo_action.trigger()
    assert window.studio.document.part_styles[HAIR].face.name == "face-02"
    wait_current(qtbot, window)
    assert np.array_equal(window.result.image, expected_image(window))


def test_shape_slider_endpoints_match_the_engine(qtbot, window, engine):
    source = window.gallery["face-02"].load()
    window.shape_panel.face_dropped(gallery_mime(source.name))
    settled(qtbot, window)
    assert window.studio.document.shape_source.key == source.key
    wait_current(qtbot, window)
    at_zero = window.result.image.copy()
    edit = window.studio.edit()
    codes = engine.edit_codes(edit)
    own = engine.embed_mask(window.studio.document.mask)
    assert np.array_equal(window.result.raw, engine.generate(own, codes)[0])
    window.shape_panel.sliders[HAIR].setValue(100)
    assert window.studio.document.shape_alphas == {HAIR: 1.0}
    wait_current(qtbot, window)
    # At 1 the network sees the composite mask: the painted mask with the source's hair on it.
    mask = engine.load_mask(window.studio.document.mask)
    composite = composite_mask(mask, engine.load_mask(source.mask), HAIR)
    expected = engine.generate(engine.embed_mask(composite), codes)[0]
    assert np.abs(window.result.raw.astype(int) - expected).max() <= 1  # E(M) + (E(M_p) - E(M)) rounds
    assert not np.array_equal(window.result.image, at_zero)


def test_project_save_and_reopen_restores_everything(qtbot, window, tmp_path):
    studio = window.studio
    studio.set_part_style(NOSE, window.gallery["face-04"].load(), 0.7)
    studio.set_shape_source(window.gallery["face-05"].load())
    studio.set_shape_alpha(SKIN, 0.3)
    studio.begin_stroke((60.5, 60.5))
    studio.end_stroke()
    wait_current(qtbot, window)
    saved_image = window.result.image.copy()
    saved_edit = studio.edit()
    path = window.projects.save_project(tmp_path / "portrait")
    settled(qtbot, window)
    window.projects.open_face(window.gallery["face-06"].load())  # something else entirely
    wait_current(qtbot, window)
    window.projects.open_project(path)
    wait_current(qtbot, window)
    assert window.last_error is None
    edit = studio.edit()
    assert np.array_equal(edit.mask, saved_edit.mask)
    assert {p: s for p, (_, s) in edit.part_styles.items()} == {NOSE: 0.7}
    assert {p: a for p, (_, a) in edit.part_shapes.items()} == {SKIN: 0.3}
    assert np.array_equal(window.result.image, saved_image)


def photo_face(window, name: str, file: str = "holiday.jpg") -> Face:
    """The gallery face ``name`` as if cut out of a 420 x 300 photo ``file``."""
    face = window.gallery[name].load()
    pixels = np.random.default_rng(0).integers(0, 255, (300, 420, 3), dtype=np.uint8)
    matrix = np.array([[512 / 200, 0.0, -100 * 512 / 200], [0.0, 512 / 200, -50 * 512 / 200]])
    return Face(face.name, face.image, face.mask, file, SourcePhoto(pixels, matrix, 512, Path(file).name))


def test_a_reopened_photo_project_opens_in_the_before_after_view_it_was_saved_in(qtbot, window, tmp_path):
    window.projects.open_face(photo_face(window, "face-02"))
    wait_current(qtbot, window)
    window.result_view.view.setCurrentIndex(window.result_view.view.findData("compare"))  # as a user picks it
    path = window.projects.save_project(tmp_path / "holiday")
    qtbot.waitUntil(lambda: path.exists() and not window.tasks.running)
    entries = gallery_entries()  # the next session: `ca2sis holiday.ca2sis.json`
    later = StudioWindow(window.engine, entries[0].load(), entries)
    qtbot.addWidget(later, before_close_func=lambda widget: widget.studio.history.set_clean())
    later.show()
    assert later.result_view.view.currentText() == "Generated face"
    later.projects.open_project(path)
    qtbot.waitUntil(lambda: later.studio.document.photo_face is not None and not later.tasks.running)
    wait_current(qtbot, later)
    assert later.result_view.view.currentText() == "Before | after" and later.result_view.split.isVisible()
    later.projects.open_face(window.gallery["face-03"].load())  # a face without a photo: the generated face
    assert later.result_view.view.currentText() == "Generated face"


def test_a_reopened_photo_project_shows_the_view_and_renders_with_the_options_it_was_saved_with(
        qtbot, window, tmp_path):
    window.projects.open_face(photo_face(window, "face-02"))
    wait_current(qtbot, window)
    assert window.result_view.view.currentText() == "Before | after"
    window.studio.set_random_styles({HAIR: 5})
    window.photos.global_edit_action.trigger()  # View > Global edit: on
    window.photos.paste_edited_action.trigger()  # View > Paste back only the edited parts: off
    options = window.studio.document.render_options
    assert options.global_edit and options.paste_region == "face"
    wait_current(qtbot, window)
    saved = window.result_view.composite.copy()
    path = window.projects.save_project(tmp_path / "holiday")
    qtbot.waitUntil(lambda: window.studio.history.is_clean() and not window.tasks.running)  # written
    window.photos.global_edit_action.trigger()  # back off, and another face opened over it
    window.projects.open_face(window.gallery["face-03"].load())
    wait_current(qtbot, window)
    assert not window.photos.global_edit_action.isChecked()
    assert window.result_view.view.currentText() == "Generated face"
    window.projects.open_project(path)
    qtbot.waitUntil(lambda: window.studio.document.photo_face is not None and not window.tasks.running)
    wait_current(qtbot, window)
    assert window.result_view.view_key == "compare" and window.result_view.view.currentText() == "Before | after"
    assert window.photos.global_edit_action.isChecked() and not window.photos.paste_edited_action.isChecked()
    assert np.array_equal(window.result_view.composite, saved)  # rendered as it was saved
    window.menus.undo_action.trigger()  # undoing the opened project puts the options back with the face
    assert not window.photos.global_edit_action.isChecked()


def test_a_burst_of_edits_ends_with_the_result_of_the_last(qtbot, window):
    studio = window.studio
    studio.set_part_style(HAIR, window.gallery["face-03"].load())
    wait_current(qtbot, window)
    render = window.worker.runner._job

    def slow_render(edit):  # a slow CPU: each face takes 100 ms more
        time.sleep(0.1)
        return render(edit)

    window.worker.runner._job = slow_render
    first_runs = window.worker.runner.runs
    for index in range(50):
        studio.set_strength(HAIR, (index % 10) / 10 + 0.05)
    # Each render takes 100 ms more, and the last request went in just now: had the GUI
    # thread waited for the renders, the runner would be idle by the time it got here.
    assert not window.worker.runner.idle()
    wait_current(qtbot, window)
    assert studio.strength(HAIR) == pytest.approx(0.95)
    assert np.array_equal(window.result.image, expected_image(window))
    assert window.worker.runner.runs - first_runs < 10  # superseded requests never ran


def test_bad_files_give_a_message_and_leave_the_work_untouched(qtbot, window, tmp_path):
    studio = window.studio
    studio.set_part_style(HAIR, window.gallery["face-02"].load())
    mask_before = studio.document.mask.copy()
    undo_count = len(window.studio.history)
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n but then nothing")
    window.projects.open_mask(corrupt)
    settled(qtbot, window)
    assert "corrupt.png" in window.last_error
    wrong = tmp_path / "wrong.png"
    from PIL import Image

    Image.fromarray(np.full((512, 512), 40, np.uint8)).save(wrong)  # class 40 does not exist
    window.projects.open_mask(wrong)
    settled(qtbot, window)
    # The message names the file, the label that is no class and the classes there are.
    assert window.last_error.startswith("Cannot open wrong.png: ")
    assert f"labels [40] are outside 0..{NUM_CLASSES - 1}" in window.last_error
    window.last_error = None
    not_a_face = tmp_path / "flat.jpg"
    Image.fromarray(np.full((96, 128, 3), 128, np.uint8)).save(not_a_face)  # small: the face finders run in seconds
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(not_a_face))])
    window.style_panel.rows[NOSE].face_dropped(mime)  # parsed in the background, then refused
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=30_000)
    assert "flat.jpg" in window.last_error, window.last_error
    assert np.array_equal(studio.document.mask, mask_before)
    assert len(window.studio.history) == undo_count and NOSE not in studio.document.part_styles


def test_the_brush_size_slider_reaches_the_largest_brush(window):
    slider = window.menus.size_slider
    slider.setValue(slider.maximum())
    assert window.studio.brush_size == slider.maximum() == MAX_BRUSH_SIZE
    window.studio.set_brush_size(1000)  # "]" past the end: the studio stops where the slider does
    assert window.studio.brush_size == slider.value() == MAX_BRUSH_SIZE


def test_random_styles_and_the_attention_overlay(qtbot, window):
    row = window.style_panel.rows[HAIR]
    assert row.random.isEnabled()  # the tiny weights include M_s
    row.random.click()
    seed = window.studio.document.random_parts[HAIR].seed
    wait_current(qtbot, window)
    assert np.array_equal(window.result.image, expected_image(window))
    assert f"#{seed}" in row.thumb.text()
    window.result_view.attention.setCurrentIndex(window.result_view.attention.findData(HAIR))
    assert window.studio.attention_part == HAIR
    overlay = window.result_view.shown_image()
    assert overlay.shape == window.result.image.shape and not np.array_equal(overlay, window.result.image)


def test_window_renders_to_a_screenshot(window, tmp_path):
    window.studio.set_attention_part(HAIR)
    shot = from_qimage(window.grab().toImage())
    assert shot.shape[0] > 400 and shot.shape[1] > 800
    label = window.result_view.image
    shown = from_qimage(label.pixmap().toImage())  # the generated face, as the result view draws it
    expected = window.result_view.shown_image()
    assert np.abs(shown.mean(axis=(0, 1)) - expected.mean(axis=(0, 1))).max() < 3
    corner = label.mapTo(window, label.contentsRect().topLeft())
    inside = shot[corner.y() : corner.y() + label.height(), corner.x() : corner.x() + label.width()]
    assert np.abs(inside.mean(axis=(0, 1)) - from_qimage(label.grab().toImage()).mean(axis=(0, 1))).max() < 3
    path = tmp_path / "studio.png"
    assert window.grab().save(str(path)) and path.stat().st_size > 10_000


def test_without_weights_the_studio_says_how_to_get_them(tmp_path, capsys):
    assert studio_main(["--weights", str(tmp_path / "nothing-here")]) == 3
    assert "docs/training.md" in capsys.readouterr().err


def test_the_status_bar_names_the_render_shown_while_a_slider_moves_and_after(qtbot, window):
    window.shape_panel.face_dropped(gallery_mime("face-02"))
    settled(qtbot, window)
    wait_current(qtbot, window)
    assert window.timing_label.text().startswith("full: torch cpu float32 64 px, ")
    slider = window.shape_panel.sliders[HAIR]
    slider.setSliderDown(True)  # the pointer holds the slider: what is drawn now is a preview
    slider.setValue(60)
    wait_current(qtbot, window)
    # PyTorch has one G: the frames drawn while dragging are its previews (no slow finishing), and the bar says so.
    assert window.timing_label.text().startswith("preview: torch cpu float32 64 px (the full G: no cheaper one here)")
    slider.setSliderDown(False)  # released: the finished frame follows
    wait_current(qtbot, window)
    assert window.timing_label.text().startswith("full: torch cpu float32 64 px, ")


def test_the_canvases_keep_their_size_and_place_when_variations_are_shown(qtbot, window):
    def geometry() -> list:
        return [widget.geometry().getRect() for widget in (window.canvas, window.result_view)] + [
            (widget.mapTo(window, widget.rect().topLeft()).toTuple()) for widget in (window.canvas, window.result_view)]

    qtbot.wait(50)
    before = geometry()
    window.variations.count.setValue(12)  # the widest row there is
    window.variations.draw()
    qtbot.waitUntil(lambda: len(window.variations.buttons) == 12, timeout=30_000)
    qtbot.wait(50)  # the layout settles
    assert geometry() == before


def test_save_result_proposes_the_file_beside_the_photo_and_remembers_the_folder_used(qtbot, engine, tmp_path,
                                                                                     monkeypatch):
    for folder in ("trip", "edits"):
        (tmp_path / folder).mkdir()
    entries = gallery_entries()
    face = entries[1].load()
    pixels = np.random.default_rng(0).integers(0, 255, (300, 420, 3), dtype=np.uint8)
    matrix = np.array([[512 / 200, 0.0, -100 * 512 / 200], [0.0, 512 / 200, -50 * 512 / 200]])
    beach = tmp_path / "trip" / "beach.jpg"
    cut = Face(face.name, face.image, face.mask, str(beach), SourcePhoto(pixels, matrix, 512, beach.name))
    proposed: list[str] = []

    def save_dialog(_parent, _title, start, _filter):
        proposed.append(start)
        return str(tmp_path / "edits" / "mine.jpg"), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_dialog)

    def session() -> StudioWindow:  # one run of the studio, with its settings file
        studio_window = StudioWindow(engine, entries[0].load(), entries,
                                     settings=QSettings(str(tmp_path / "studio.ini"), QSettings.Format.IniFormat))
        qtbot.addWidget(studio_window, before_close_func=lambda window: window.studio.history.set_clean())
        studio_window.projects.open_face(cut)
        wait_current(qtbot, studio_window)
        return studio_window

    def save_result(window) -> None:
        next(action for action in window.findChildren(QAction) if action.text() == "Save &result…").trigger()
        qtbot.waitUntil(lambda: not window.tasks.running, timeout=20_000)

    window = session()
    save_result(window)
    assert proposed == [str(tmp_path / "trip" / "beach-edited.jpg")]  # beside the photo, not in the working folder
    assert (tmp_path / "edits" / "mine.jpg").exists()
    save_result(window)  # saved elsewhere: that folder is remembered, for this photo
    assert proposed[-1] == str(tmp_path / "edits" / "beach-edited.jpg")
    window.close()
    save_result(session())  # and in the next session too
    assert proposed[-1] == str(tmp_path / "edits" / "beach-edited.jpg")


def test_open_reference_reads_a_file_in_the_background_and_the_gallery_keeps_its_face(qtbot, window, tmp_path,
                                                                                      monkeypatch):
    import shutil
    import threading

    from ca2sis.app.qt import controllers

    def photo_file(name: str, demo: str):  # an aligned face with its mask beside it: read as it is
        entry = window.gallery[demo]
        shutil.copy(entry.image, tmp_path / f"{name}.jpg")
        shutil.copy(entry.mask, tmp_path / f"{name}.png")
        return str(tmp_path / f"{name}.jpg")

    readers: list[threading.Thread] = []
    read_photo = controllers.read_photo

    def reading(*args, **kwargs):
        readers.append(threading.current_thread())
        return read_photo(*args, **kwargs)

    monkeypatch.setattr(controllers, "read_photo", reading)
    window.choose_path = lambda *_args: photo_file("friend", "face-03")  # what the file dialog answers
    row = window.style_panel.rows[HAIR]
    assert row.open_reference.text() == "Open reference…" and row.open_reference in row.actions()  # its context menu
    row.file.click()  # the row's "…" button
    qtbot.waitUntil(lambda: HAIR in window.studio.document.part_styles, timeout=20_000)
    friend = window.studio.document.part_styles[HAIR].face
    assert friend.name == "friend" and friend.key == window.gallery["face-03"].load().key
    assert readers and threading.main_thread() not in readers  # decoded on a worker, not the GUI thread
    assert window.gallery["friend"].load() is friend
    assert window.gallery_list.item(window.gallery_list.count() - 1).text() == "friend"
    window.style_panel.rows[NOSE].face_dropped(gallery_mime("friend"))  # the gallery keeps it, to drag again
    qtbot.waitUntil(lambda: NOSE in window.studio.document.part_styles, timeout=20_000)
    assert window.studio.document.part_styles[NOSE].face is friend
    # The gallery's own Open reference… adds a face to it and styles nothing; the same file again adds nothing.
    styles = dict(window.studio.document.part_styles)
    window.choose_path = lambda *_args: photo_file("pal", "face-04")
    assert window.gallery_panel.open_reference in window.gallery_list.actions()
    window.gallery_panel.button.click()
    qtbot.waitUntil(lambda: "pal" in window.gallery and not window.tasks.running, timeout=20_000)
    window.gallery_panel.button.click()
    qtbot.waitUntil(lambda: not window.tasks.running, timeout=20_000)
    assert list(window.gallery)[-2:] == ["friend", "pal"] and window.gallery_list.count() == len(window.gallery)
    assert window.studio.document.part_styles == styles
