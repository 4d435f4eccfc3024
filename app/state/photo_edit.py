"""Editing a face inside its photo: what to paste back, and where, for the current document.

Pure Python (numpy): the window shows ``compose`` on a preview of the photo while you edit,
and "Save result" writes it on the full photo. The region is either the whole face
(every class but the background, in the photo's mask or the painted one) or only the
edited parts (repainted pixels, restyled parts and reshaped parts, grown a little); the
generated face is finished against the photo as the engine's ``Finish`` says (the photo's
detail kept, reference colours, see ``model/faces/finishing.py``), and its light matched
on the parts that keep the photo's own style.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ca2sis.model.faces.paste_back import (
    PASTE_REGIONS,
    SourcePhoto,
    anchor_pixels,
    edited_region,
    face_region,
    paste_back,
    paste_edit,
)
from ca2sis.model.inference.engine import Result

from .document import Document

__all__ = ["PASTE_REGIONS", "PastePlan", "paste_plan"]


@dataclass(frozen=True, eq=False)
class PastePlan:
    """Everything needed to put a generated face into the document's photo."""

    photo: SourcePhoto
    region: np.ndarray  # bool (S, S), aligned pixels: where a plain image is pasted
    anchor: np.ndarray  # bool (S, S): where a plain image's colours are matched (may be empty)
    original_mask: np.ndarray  # the photo's mask (S, S)
    edited_mask: np.ndarray  # the painted mask (S, S)
    region_name: str = PASTE_REGIONS[0]  # "edited" or "face"
    style_from_photo: bool = True  # False: the base style is another face's

    def compose(self, face: np.ndarray | Result, preview: bool = False) -> np.ndarray:
        """The photo (or its preview) with ``face`` pasted back: a ``Result`` as every front end
        pastes it (``paste_edit``: finished as the engine planned it), a plain image as it is."""
        photo = self.photo.preview if preview else self.photo
        if not isinstance(face, Result):
            return paste_back(photo, face, self.region, self.anchor)
        raw = face.raw if face.raw is not None else face.image
        return paste_edit(photo, self.original_mask, self.edited_mask, raw, face.finish, self.region_name,
                          self.style_from_photo)


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
    return PastePlan(face.photo, where, anchor_pixels(face.mask, document.mask, restyled), face.mask,
                     document.mask.copy(), region, document.base.key == face.key)
