"""The render job built from the studio's state (``app/state/rendering.py``): the View menu's
options are the document's, undone like any edit, saved in projects, and a project reopens
rendering (and showing) what it was saved with."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ca2sis.app.state.document import Face, Studio
from ca2sis.app.state.gallery import gallery_entries
from ca2sis.app.state.project import load_project, save_project
from ca2sis.app.state.rendering import render_request
from ca2sis.model.errors import DataError
from ca2sis.model.labels import CLASS_NAMES
from ca2sis.model.photo.source import SourcePhoto

HAIR = CLASS_NAMES.index("hair")


@pytest.fixture(scope="module")
def faces() -> list[Face]:
    return [entry.load() for entry in gallery_entries()[:2]]


def photo_face(face: Face) -> Face:
    """``face`` as if cut out of a 420 x 300 photo."""
    pixels = np.random.default_rng(0).integers(0, 255, (300, 420, 3), dtype=np.uint8)
    matrix = np.array([[512 / 200, 0.0, -100 * 512 / 200], [0.0, 512 / 200, -50 * 512 / 200]])
    return Face(face.name, face.image, face.mask, "holiday.jpg", SourcePhoto(pixels, matrix, 512, "holiday.jpg"))


def test_the_render_request_takes_the_documents_options_and_undo_reverts_them(faces):
    studio = Studio(photo_face(faces[0]))
    studio.set_part_style(HAIR, faces[1])
    request = render_request(studio)
    assert request.edit.confine and request.edit.match_colour and request.photo.region == "edited"
    studio.set_global_edit(True)
    studio.set_paste_region("face")
    request = render_request(studio, preview=True)
    assert not request.edit.confine and not request.edit.keep_detail and not request.edit.match_colour
    assert request.photo.region == "face" and request.preview
    assert studio.history.undo_text == "Paste back the whole face"
    studio.history.undo()
    assert render_request(studio).photo.region == "edited" and not render_request(studio).edit.confine
    with pytest.raises(DataError):
        studio.set_paste_region("everything")


def test_a_reopened_project_renders_with_the_options_and_the_view_it_was_saved_with(faces, tmp_path):
    studio = Studio(photo_face(faces[0]))
    assert studio.document.result_view == "compare"  # a face from a photo opens before | after
    studio.set_part_style(HAIR, faces[1])
    studio.set_global_edit(True)
    studio.set_paste_region("face")
    studio.set_result_view("photo")
    path = save_project(studio.document, tmp_path / "holiday")
    reopened = Studio(faces[1])
    reopened.replace_document(load_project(path), "Open project")
    saved, again = render_request(studio), render_request(reopened)
    assert (again.edit.confine, again.edit.keep_detail, again.edit.match_colour) == (False, False, False)
    assert again.edit.confine == saved.edit.confine and again.photo.region == saved.photo.region == "face"
    assert reopened.document.result_view == "photo"
    # A project saved before these were saved: the default options, and before | after for a photo.
    content = json.loads(path.read_text())
    del content["render_options"], content["result_view"]
    path.write_text(json.dumps(content))
    old = load_project(path)
    assert not old.render_options.global_edit and old.render_options.paste_region == "edited"
    assert old.result_view == "compare"


@pytest.mark.parametrize("change", [{"render_options": {"global_edit": "yes"}},
                                    {"render_options": {"paste_region": "all"}},
                                    {"render_options": {"zoom": 2}},
                                    {"render_options": [True]},
                                    {"result_view": "sideways"},
                                    {"result_view": ["face"]}])
def test_odd_render_options_in_a_project_are_refused_with_the_reason(faces, tmp_path, change):
    path = save_project(Studio(faces[0]).document, tmp_path / "p")
    content = json.loads(path.read_text())
    content.update(change)
    path.write_text(json.dumps(content))
    with pytest.raises(DataError, match="render_options|result_view|paste region|global_edit"):
        load_project(path)
