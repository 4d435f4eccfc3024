"""Photos read and written (`model/photo/source.py`): a save never follows a planted link."""

from __future__ import annotations

import numpy as np
from PIL import Image


def test_a_saved_photo_never_writes_through_a_link_at_its_temporary_name(tmp_path):
    from ca2sis.model.photo.source import save_image

    victim = tmp_path / "victim.txt"
    victim.write_text("mine")
    out = tmp_path / "edited.jpg"
    (tmp_path / "edited.jpg.tmp").symlink_to(victim)
    save_image(np.full((32, 32, 3), 200, np.uint8), out)
    assert victim.read_text() == "mine" and Image.open(out).size == (32, 32)
