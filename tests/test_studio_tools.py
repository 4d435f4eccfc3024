"""The studio's state without a screen: per-field events, shape tools, picker, New, variations."""

from __future__ import annotations

import numpy as np
import pytest

from ca2sis.app.qt.panels import elided
from ca2sis.app.qt.platform import missing_library_message
from ca2sis.app.qt.window_features import variation_edit
from ca2sis.app.state.document import Face, Studio
from ca2sis.app.state.events import FieldChanged
from ca2sis.app.state.gallery import gallery_entries
from ca2sis.app.state.painting import polygon_fill
from ca2sis.app.state.template import mean_face_mask
from ca2sis.model.labels import CLASS_NAMES

HAIR, NOSE, SKIN, HAT = (CLASS_NAMES.index(name) for name in ("hair", "nose", "skin", "hat"))


@pytest.fixture(scope="module")
def faces() -> list[Face]:
    return [entry.load() for entry in gallery_entries()]


def recorder(studio: Studio) -> list[FieldChanged]:
    events: list[FieldChanged] = []
    for name in studio.events.emitters:
        studio.events.emitters[name].connect(events.append)
    return events


def test_each_change_emits_only_the_fields_it_changed(faces):
    studio = Studio(faces[0])
    events = recorder(studio)
    studio.begin_stroke((100.5, 100.5))
    studio.continue_stroke((100.5, 100.5), (140.5, 100.5))
    studio.end_stroke()
    assert {event.field for event in events} == {"mask"}
    assert [event.live for event in events][-1] is False and any(event.live for event in events)
    events.clear()
    studio.set_part_style(HAIR, faces[1])
    assert {event.field for event in events} == {"part_styles", "random_parts"}
    assert events[0].value is studio.document.part_styles
    events.clear()
    studio.history.undo()  # undo tells the same fields
    assert {event.field for event in events} == {"part_styles", "random_parts"}
    events.clear()
    studio.set_brush_size(30)
    assert events == [FieldChanged("brush_size", 30)]


def test_shift_drag_paints_one_straight_line_from_where_the_drag_began(faces):
    studio = Studio(faces[0])
    before = studio.document.mask.copy()
    studio.set_brush_class(HAT)
    studio.set_brush_size(3)
    studio.begin_stroke((50.5, 50.5))
    studio.continue_stroke((50.5, 50.5), (80.5, 200.5))  # a wander before Shift is held...
    studio.straight_stroke((250.5, 50.5))  # ...is replaced by the straight line
    studio.straight_stroke((300.5, 50.5))
    studio.end_stroke()
    changed = np.argwhere(studio.document.mask != before)
    assert len(changed) > 0 and (studio.document.mask[studio.document.mask != before] == HAT).all()
    assert changed[:, 0].min() >= 47 and changed[:, 0].max() <= 53  # rows of the line only
    assert changed[:, 1].min() >= 47 and changed[:, 1].max() <= 303
    assert len(studio.history.done) == 1
    studio.history.undo()
    assert np.array_equal(studio.document.mask, before)


def test_polygon_fill_is_one_undo_step_and_the_picker_goes_back_to_the_brush(faces):
    studio = Studio(faces[0])
    before = studio.document.mask.copy()
    studio.set_tool("polygon")
    studio.set_brush_class(NOSE)
    for point in ((100, 100), (200, 100), (100, 200)):
        studio.add_polygon_point(point)
    command = studio.close_polygon()
    assert command is not None and studio.polygon == []
    mask = studio.document.mask
    assert (mask[110:140, 110:140] == NOSE).all() and np.array_equal(mask[210:, :], before[210:, :])
    assert np.array_equal(mask[:, 210:], before[:, 210:])
    studio.history.undo()
    assert np.array_equal(studio.document.mask, before)
    studio.add_polygon_point((10, 10))
    studio.set_tool("brush")  # a half-drawn polygon is dropped with its tool
    assert studio.polygon == []
    assert polygon_fill(np.zeros((8, 8), np.uint8), [(-9, -9), (-5, -9), (-5, -5)], 1) is None
    studio.set_tool("picker")
    studio.pick((256, 256), back_to_brush=True)
    assert studio.tool == "brush" and studio.brush_class == int(before[256, 256])
    studio.set_tool("fill")
    studio.pick((256, 256))  # a right click picks without changing the tool
    assert studio.tool == "fill"


def test_new_face_from_the_mean_of_the_demo_masks(faces):
    template = mean_face_mask([face.mask for face in faces])
    assert template.shape == (512, 512)
    for part in (SKIN, HAIR, NOSE):  # a face, not a blob: its main parts are there
        assert (template == part).sum() > 500
    studio = Studio(faces[0])
    studio.set_part_style(HAIR, faces[1])
    studio.new_document(template, faces[2])
    document = studio.document
    assert np.array_equal(document.mask, template) and document.ghost is None
    assert document.base is faces[2] and not document.part_styles and document.photo_face is None
    studio.begin_stroke((256.5, 256.5))
    studio.end_stroke()
    assert not np.array_equal(studio.document.mask, template)  # editable
    studio.history.undo()
    studio.history.undo()
    assert studio.document.part_styles[HAIR].face is faces[1]  # New itself is undone too


def test_a_variation_is_m_s_styles_for_the_chosen_parts(faces):
    studio = Studio(faces[0])
    studio.set_part_style(HAIR, faces[1])
    edit = variation_edit(studio.edit(), [HAIR, NOSE], 41)
    assert edit.random_parts == {HAIR: (41, 1.0), NOSE: (41, 1.0)} and HAIR not in edit.part_styles
    studio.set_random_styles({HAIR: 41, NOSE: 41})
    assert studio.document.random_parts[HAIR].seed == 41 and HAIR not in studio.document.part_styles
    assert "hair" in studio.history.done[-1].text.lower()


def test_long_names_are_elided_and_a_missing_library_names_its_package():
    name = "a-very-long-photo-name-from-a-phone-IMG_20240101_123456789-edited-final.jpg"
    short = elided(f"Hair style from {name}", 48)
    assert len(short) == 48 and short.startswith("Hair style from") and short.endswith("final.jpg")
    message = missing_library_message("libxcb-cursor.so.0: cannot open shared object file: No such file")
    assert "libxcb-cursor0" in message and "QT_QPA_PLATFORM=offscreen" in message
    assert "libxcb-icccm4" in message and "libxcb-keysyms1" in message  # the whole install line
