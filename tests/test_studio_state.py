"""The studio's pure-Python state: painting, undo, styles, shapes, projects, the render queue."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from ca2sis.app.qt.worker import LatestOnlyRunner
from ca2sis.app.state.document import CANVAS_SIZE, Face, Studio
from ca2sis.app.state.gallery import gallery_entries, read_photo
from ca2sis.app.state.painting import brush_segment, flood_fill
from ca2sis.app.state.project import load_project, save_project
from ca2sis.model.errors import DataError
from ca2sis.model.labels import CLASS_NAMES

HAIR, NOSE, SKIN, HAT = (CLASS_NAMES.index(name) for name in ("hair", "nose", "skin", "hat"))


@pytest.fixture(scope="module")
def faces() -> list[Face]:
    entries = gallery_entries()
    assert len(entries) >= 3, "the demo gallery ships with the repository"
    return [entry.load() for entry in entries[:3]]


def test_gallery_faces_load_at_canvas_size(faces):
    for face in faces:
        assert face.image.shape == (CANVAS_SIZE, CANVAS_SIZE, 3) and face.mask.shape == (CANVAS_SIZE, CANVAS_SIZE)
        assert face.has_part(SKIN) and face.has_part(HAIR)
        with pytest.raises(ValueError):
            face.mask[0, 0] = 1  # faces are shared between commands: read-only


def test_brush_paints_only_within_its_radius():
    mask = np.zeros((64, 64), np.uint8)
    box = brush_segment(mask, (10.5, 20.5), (40.5, 20.5), 3, 7)
    ys, xs = np.nonzero(mask)
    assert set(np.unique(mask)) == {0, 7}
    assert ys.min() == 17 and ys.max() == 23 and xs.min() == 7 and xs.max() == 43
    top, left, bottom, right = box
    assert top <= ys.min() and bottom > ys.max() and left <= xs.min() and right > xs.max()
    assert brush_segment(mask, (-50, -50), (-40, -40), 3, 7) is None  # outside: nothing


def test_flood_fill_stops_at_other_classes():
    mask = np.zeros((20, 20), np.uint8)
    mask[:, 10] = 1  # a wall
    box = flood_fill(mask, (2, 2), 5)
    assert (mask[:, :10] == 5).all() and (mask[:, 11:] == 0).all() and (mask[:, 10] == 1).all()
    assert box == (0, 0, 20, 10)
    assert flood_fill(mask, (2, 2), 5) is None  # already that class


def test_stroke_changes_the_mask_only_under_the_brush_and_undo_redo_restore_it(faces):
    studio = Studio(faces[0])
    before = studio.document.mask.copy()
    studio.set_brush_class(HAT)
    studio.set_brush_size(10)
    studio.begin_stroke((100.5, 100.5))
    studio.continue_stroke((100.5, 100.5), (200.5, 120.5))
    command = studio.end_stroke()
    after = studio.document.mask.copy()
    changed = after != before
    assert command is not None and changed.any()
    ys, xs = np.mgrid[:CANVAS_SIZE, :CANVAS_SIZE] + 0.5
    # Distance of each pixel centre to the stroke's segment: changes only within the radius.
    t = np.clip(((xs - 100.5) * 100 + (ys - 100.5) * 20) / (100**2 + 20**2), 0, 1)
    distance = np.hypot(xs - (100.5 + 100 * t), ys - (100.5 + 20 * t))
    assert (distance[changed] <= 10).all()
    assert (after[distance <= 10] == HAT).all()
    studio.history.undo()
    assert np.array_equal(studio.document.mask, before)
    studio.history.redo()
    assert np.array_equal(studio.document.mask, after)


def test_eraser_and_fill_are_single_undo_steps(faces):
    studio = Studio(faces[0])
    before = studio.document.mask.copy()
    studio.set_tool("eraser")
    studio.begin_stroke((256.5, 256.5))
    studio.end_stroke()
    assert studio.document.mask[256, 256] == 0
    studio.set_brush_class(HAT)
    studio.fill((256, 256))
    assert studio.document.mask[256, 256] == HAT
    assert len(studio.history.done) == 2
    studio.history.undo()
    studio.history.undo()
    assert np.array_equal(studio.document.mask, before)
    assert studio.pick((256, 256)) == before[256, 256]


def test_style_drops_strengths_and_their_undo(faces):
    studio = Studio(faces[0])
    studio.set_part_style(HAIR, faces[1])
    assert studio.style_face(HAIR) is faces[1] and studio.style_face(SKIN) is faces[0]
    edit = studio.edit()
    assert edit.part_styles[HAIR][1] == 1.0
    assert np.array_equal(edit.part_styles[HAIR][0].image, faces[1].image)
    for value in (0.9, 0.7, 0.5, 0.25):  # a slider drag: one undo step
        studio.set_strength(HAIR, value)
    assert studio.strength(HAIR) == 0.25
    studio.history.undo()
    assert studio.strength(HAIR) == 1.0
    studio.history.undo()
    assert HAIR not in studio.document.part_styles
    with pytest.raises(DataError, match="base style"):
        studio.set_strength(HAIR, 0.5)
    with pytest.raises(DataError, match="no hat"):
        studio.set_part_style(HAT, faces[1])  # a face without a hat has no hat style
    studio.set_random_style(NOSE, 7, 0.5)
    assert studio.edit().random_parts == {NOSE: (7, 0.5)}
    studio.set_all_styles(faces[2])
    assert studio.document.base is faces[2] and not studio.document.random_parts


def test_shape_sliders(faces):
    studio = Studio(faces[0])
    studio.set_shape_alpha(NOSE, 0.5)
    assert studio.edit().part_shapes == {}  # no source face yet: nothing to move towards
    studio.set_shape_source(faces[1])
    shapes = studio.edit().part_shapes
    assert list(shapes) == [NOSE] and shapes[NOSE][1] == 0.5 and np.array_equal(shapes[NOSE][0], faces[1].mask)
    studio.set_shape_alpha(NOSE, 0.0)
    assert studio.edit().part_shapes == {}
    with pytest.raises(DataError):
        studio.set_shape_alpha(NOSE, 1.5)


def test_project_saves_and_reloads_identically(faces, tmp_path):
    studio = Studio(faces[0])
    studio.begin_stroke((300.5, 300.5))
    studio.end_stroke()
    studio.set_part_style(HAIR, faces[1], 0.6)
    studio.set_random_style(NOSE, 11, 0.3)
    studio.set_shape_source(faces[2])
    studio.set_shape_alpha(SKIN, 0.4)
    path = save_project(studio.document, tmp_path / "portrait")
    assert path.name == "portrait.ca2sis.json"
    loaded = load_project(path)
    original = studio.document
    assert np.array_equal(loaded.mask, original.mask) and np.array_equal(loaded.ghost, original.ghost)
    assert loaded.base.key == original.base.key
    assert {p: (s.face.key, s.strength) for p, s in loaded.part_styles.items()} == {HAIR: (faces[1].key, 0.6)}
    assert loaded.random_parts == original.random_parts
    assert loaded.shape_source.key == faces[2].key and loaded.shape_alphas == {SKIN: 0.4}
    # Saving again over it keeps a valid project (files are swapped in, not half-written).
    save_project(loaded, path)
    assert load_project(path).part_styles[HAIR].strength == 0.6


def test_broken_projects_are_refused_with_the_reason(faces, tmp_path):
    path = save_project(Studio(faces[0]).document, tmp_path / "p")
    content = json.loads(path.read_text())
    content["part_styles"] = {"wings": {"face": content["base"], "strength": 1}}
    path.write_text(json.dumps(content))
    with pytest.raises(DataError, match="unknown part 'wings'"):
        load_project(path)
    path.write_text("{not json")
    with pytest.raises(DataError, match="not a readable"):
        load_project(path)
    with pytest.raises(DataError, match="no such project"):
        load_project(tmp_path / "missing.ca2sis.json")


def test_photos_need_a_face(tmp_path):
    corrupt = tmp_path / "broken.jpg"
    corrupt.write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(DataError):
        read_photo(corrupt, None)
    with pytest.raises(DataError, match="no such file"):
        read_photo(tmp_path / "missing.jpg", None)


def test_runner_skips_superseded_requests_and_ends_with_the_last():
    started = threading.Event()
    release = threading.Event()
    results: list[tuple[int, int]] = []

    def job(value: int) -> int:
        if value == 0:
            started.set()
            release.wait(5)
        return value * 10

    runner = LatestOnlyRunner(job, lambda ticket, result: results.append((ticket, result)), lambda *_: None)
    runner.submit(0)
    assert started.wait(5)
    for value in range(1, 51):  # arrive while the first is still running
        runner.submit(value)
    release.set()
    deadline = time.time() + 5
    while not runner.idle() and time.time() < deadline:
        time.sleep(0.01)
    runner.close()
    assert results[-1] == (51, 500)
    assert runner.runs == 2  # the first and the last: the 49 in between never ran


def test_a_project_saved_from_a_photo_edit_reopens_with_its_photo_and_colour_profile(faces, tmp_path):
    from PIL import ImageCms

    from ca2sis.app.state.photo_edit import paste_plan
    from ca2sis.model.photo.source import SourcePhoto

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    pixels = np.random.default_rng(0).integers(0, 255, (300, 420, 3), dtype=np.uint8)
    matrix = np.array([[512 / 200, 0.0, -100 * 512 / 200], [0.0, 512 / 200, -50 * 512 / 200]])
    photo = SourcePhoto(pixels, matrix, 512, "holiday.jpg", profile)
    cut = Face(faces[0].name, faces[0].image, faces[0].mask, "holiday.jpg", photo)
    studio = Studio(cut)
    studio.set_part_style(HAIR, faces[1])
    path = save_project(studio.document, tmp_path / "holiday")
    loaded = load_project(path)
    assert loaded.photo_face is not None and loaded.base.photo is not None
    again = loaded.photo_face.photo
    assert np.array_equal(again.pixels, pixels) and np.array_equal(again.matrix, matrix)
    assert again.icc_profile == profile and again.name == "holiday.jpg"
    assert paste_plan(loaded) is not None and loaded.restyled_parts() == {HAIR}  # the paste-back is back
    save_project(loaded, path)  # saved again over itself: the photo is one of the project's own files
    assert load_project(path).photo_face.photo.icc_profile == profile


def test_only_a_mask_painted_from_the_base_face_keeps_that_faces_pixels(faces):
    studio = Studio(faces[0])
    assert studio.edit().style_is_source and studio.edit().confine  # an opened face: its own mask, edited
    studio.set_global_edit(True)
    assert not studio.edit().confine  # Global edit: the raw network output
    studio.set_global_edit(False)
    studio.set_all_styles(faces[1])  # another face's style over this mask: generated whole
    assert not studio.edit().style_is_source
    studio.new_document(faces[1].mask.copy(), faces[1])  # a new face: no pixels of the base face
    assert not studio.edit().style_is_source
