"""The studio saves a project of a photo with several faces and reopens every face's edits (issue 38)."""

from __future__ import annotations

import numpy as np
import pytest
from test_several_faces import studio_with_two_faces


@pytest.mark.slow
def test_a_group_photo_project_reopens_in_the_studio_with_both_faces_edits(qtbot, tiny_weights, tmp_path):
    from ca2sis.app.state.gallery import gallery_entries
    from ca2sis.model.labels import CLASS_NAMES

    hair = CLASS_NAMES.index("hair")
    window, pixels, settled = studio_with_two_faces(qtbot, tiny_weights, tmp_path)
    entries = gallery_entries()
    groups = window.photos.groups
    window.studio.set_random_styles({hair: 5})  # face 2 (the one opened first): new hair
    groups.select(0)
    window.studio.set_random_styles({hair: 3})  # face 1: other hair
    qtbot.waitUntil(settled, timeout=60_000)
    project = window.projects.save_project(tmp_path / "two")
    qtbot.waitUntil(lambda: project.exists() and not window.tasks.running, timeout=60_000)
    assert groups.unsaved_faces() == []  # the project kept face 2's edits too: quitting does not ask

    window.projects.open_face(entries[1].load())  # something else, then the project again
    assert groups.active() is None
    window.projects.open_project(project)
    qtbot.waitUntil(lambda: groups.active() is not None and settled(), timeout=90_000)
    group = groups.active()
    assert group.numbers == [1, 2] and window.studio.document.photo_face is group.faces[0]
    assert window.studio.document.random_parts[hair].seed == 3
    groups.select(1)
    assert window.studio.document.random_parts[hair].seed == 5
    # The reopened studio shows both faces' edits: face 2 rendered into the photo with face 1's.
    qtbot.waitUntil(lambda: groups._backdrop is not None and settled(), timeout=60_000)
    changed = np.any(window.result_view.composite != pixels, axis=-1)
    assert changed[:, :240].any() and changed[:, 272:].any()
