"""Editing a face inside its photo: what to paste back, and where, for the current document.

Pure Python (numpy): the window shows ``compose`` on a preview of the photo while you edit,
and "Save result" writes it on the full photo. The region is either the whole face
(every class but the background, in the photo's mask or the painted one) or only the
edited parts (repainted pixels and restyled parts, grown a little); colours are matched
on the parts that keep the photo's own style.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ca2sis.model.faces.paste_back import SourcePhoto, anchor_pixels, edited_region, face_region, paste_back

from .document import Document

PASTE_REGIONS = ("edited", "face")  # the first is the default


@dataclass(frozen=True, eq=False)
class PastePlan:
    """Everything needed to put a generated face into the document's photo."""

    photo: SourcePhoto
    region: np.ndarray  # bool (S, S), aligned pixels
    anchor: np.ndarray  # bool (S, S): where colours are matched (may be empty)

    def compose(self, face: np.ndarray, preview: bool = False) -> np.ndarray:
        """The photo (or its preview) with ``face`` pasted back."""
        photo = self.photo.preview if preview else self.photo
        return paste_back(photo, face, self.region, self.anchor)


def paste_plan(document: Document, region: str = PASTE_REGIONS[0]) -> PastePlan | None:
    """The plan for ``document``, or None when its face does not come from a photo."""
    if region not in PASTE_REGIONS:
        raise ValueError(f"region must be one of {PASTE_REGIONS}, not {region!r}")
    face = document.photo_face
    if face is None or face.photo is None:
        return None
    restyled = document.restyled_parts()
    if region == "face":
        where = face_region(face.mask, document.mask)
    else:
        where = edited_region(face.mask, document.mask, restyled)
    return PastePlan(face.photo, where, anchor_pixels(face.mask, document.mask, restyled))
