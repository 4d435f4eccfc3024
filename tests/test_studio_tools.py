"""The studio's state without a screen: its change channel, shape tools, picker, New, variations."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields

import numpy as np
import pytest

from ca2sis.app.qt.platform import missing_library_message
from ca2sis.app.state.display import elided, split_view
from ca2sis.app.state.document import DOCUMENT_FIELDS, Document, Face, Studio, variation_edit
from ca2sis.app.state.events import Change, ChangeKind
from ca2sis.app.state.gallery import gallery_entries
from ca2sis.app.state.painting import polygon_fill
from ca2sis.app.state.template import mean_face_mask
from ca2sis.model.labels import CLASS_NAMES

HAIR, NOSE, SKIN, HAT = (CLASS_NAMES.index(name) for name in ("hair", "nose", "skin", "hat"))


@pytest.fixture(scope="module")
def faces() -> list[Face]:
    return [entry.load() for entry in gallery_entries()]


def recorder(studio: Studio, *names: str) -> list[Change]:
    changes: list[Change] = []
    studio.subscribe(changes.append, *names)
    return changes


def test_each_change_names_only_what_it_changed(faces):
    studio = Studio(faces[0])
    changes = recorder(studio)
    studio.begin_stroke((100.5, 100.5))
    studio.continue_stroke((100.5, 100.5), (140.5, 100.5))
    studio.end_stroke()
    history = Change(ChangeKind.HISTORY, frozenset({"history"}))  # what Undo and Redo show changed too
    assert changes[-1] == history
    document = changes[:-1]
    assert {change.names for change in document} == {frozenset({"mask"})}
    assert document[-1].live is False and any(change.live for change in document)
    assert all(change.kind is ChangeKind.DOCUMENT for change in document)
    changes.clear()
    studio.set_part_style(HAIR, faces[1])
    assert changes == [Change(ChangeKind.DOCUMENT, frozenset({"part_styles", "random_parts"})), history]
    changes.clear()
    studio.history.undo()  # undo tells the same fields
    assert changes == [Change(ChangeKind.DOCUMENT, frozenset({"part_styles", "random_parts"})), history]
    changes.clear()
    studio.set_brush_size(30)
    assert changes == [Change(ChangeKind.SETTING, frozenset({"brush_size"}))]
    changes.clear()
    studio.set_tool("polygon")
    studio.add_polygon_point((10, 10))  # the polygon is its own kind of change, not the tool's
    assert changes[-1] == Change(ChangeKind.POLYGON, frozenset({"polygon"}))


def test_subscribers_hear_only_the_names_they_asked_for_and_typos_fail(faces):
    studio = Studio(faces[0])
    styles = recorder(studio, "part_styles")
    tools = recorder(studio, "tool")
    studio.set_brush_class(NOSE)
    studio.begin_stroke((100.5, 100.5))
    studio.end_stroke()
    assert styles == [] and tools == []
    studio.set_part_style(HAIR, faces[1])
    studio.set_tool("fill")
    assert len(styles) == 1 and [change.names for change in tools] == [frozenset({"tool"})]
    with pytest.raises(ValueError, match="part_style"):
        studio.subscribe(styles.append, "part_style")  # misspelt: refused, not silently never called
    studio.unsubscribe(styles.append)
    studio.reset_part_style(HAIR)
    assert len(styles) == 1
    # The document's fields are the dataclass's own: a field added to Document is a change name too.
    assert DOCUMENT_FIELDS == tuple(field.name for field in fields(Document))
    for name in DOCUMENT_FIELDS:
        studio.subscribe(lambda _change: None, name)


def test_the_studio_state_imports_no_qt():
    code = ("import importlib, pkgutil, sys\n"
            "import ca2sis.app.state as state\n"
            "for module in pkgutil.iter_modules(state.__path__):\n"
            "    importlib.import_module(f'ca2sis.app.state.{module.name}')\n"
            "print(sorted(name for name in sys.modules if name.split('.')[0] == 'PySide6'))\n"
            "print(sorted(name for name in sys.modules if name.startswith('ca2sis.app.state.')))")
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    qt_modules, state_modules = ran.stdout.strip().splitlines()
    assert qt_modules == "[]"
    assert "ca2sis.app.state.display" in state_modules and "ca2sis.app.state.runner" in state_modules


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


def test_the_before_after_view_splits_at_the_divider():
    before, after = np.zeros((4, 10, 3), np.uint8), np.full((4, 10, 3), 100, np.uint8)
    shown = split_view(before, after, 0.5)
    assert (shown[:, :4] == 0).all() and (shown[:, 4:6] == 255).all() and (shown[:, 6:] == 100).all()


def test_long_names_are_elided_and_a_missing_library_names_its_package():
    name = "a-very-long-photo-name-from-a-phone-IMG_20240101_123456789-edited-final.jpg"
    short = elided(f"Hair style from {name}", 48)
    assert len(short) == 48 and short.startswith("Hair style from") and short.endswith("final.jpg")
    message = missing_library_message("libxcb-cursor.so.0: cannot open shared object file: No such file")
    assert "libxcb-cursor0" in message and "QT_QPA_PLATFORM=offscreen" in message
    assert "libxcb-icccm4" in message and "libxcb-keysyms1" in message  # the whole install line


def test_new_and_opening_a_face_tell_the_base_changed_even_for_the_same_face(faces):
    # The variations row listens to "base" to drop the faces drawn for the previous face.
    studio = Studio(faces[0])
    changes = recorder(studio, "base")
    studio.new_document(studio.document.mask, studio.document.base)  # File > New keeps the base style
    assert len(changes) == 1
    studio.open_face(faces[0])  # an opened photo or face, even the same one
    assert len(changes) == 2
    studio.set_part_style(HAIR, faces[1])
    assert len(changes) == 2  # a part's style is not another face: variations stay
