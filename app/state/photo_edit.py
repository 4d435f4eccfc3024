"""Editing a face inside its photo: the photo target of the current document.

Pure Python (numpy): the window shows the edit pasted into a preview of the photo while you
edit, and *Save result* writes it on the full photo; both go through the photo pipeline
(``model/photo``), planned once per render. The region is either the whole face or only the
edited parts (``PASTE_REGIONS``).
"""

from __future__ import annotations

from ca2sis.model.photo.paste import PASTE_REGIONS, PhotoTarget

from .document import Document

__all__ = ["paste_plan"]


def paste_plan(document: Document, region: str = PASTE_REGIONS[0]) -> PhotoTarget | None:
    """Where ``document``'s edit goes back (its photo, the photo's mask, the region), or None
    when its face does not come from a photo."""
    face = document.photo_face
    if face is None or face.photo is None:
        return None
    return PhotoTarget(face.photo, face.mask, region, document.base.key == face.key)
