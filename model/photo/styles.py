"""A part's style taken from a face and kept as a file (the format: ``model/io/styles.py``).

``part_style(engine, reference, part)`` gathers what an edit would take from ``reference`` for
``part``: E_s's code of the part (the engine's, so from the same cache), the part's colour and
the photo's white exactly as ``PhotoPipeline.plan`` reads them, and a thumbnail of the part.
Applying the saved style therefore gives the edit the face itself gives::

    style = part_style(engine, Reference("copper.jpg"), "hair")
    save_style(style, "copper.ca2style")
    edit.part_styles[HAIR] = (read_style("copper.ca2style"), 1.0)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DataError
from ..inference.edits import Reference
from ..inference.engine import Engine
from ..io.images import describe
from ..io.styles import THUMBNAIL_SIZE, SavedStyle
from ..labels import CLASS_NAMES, Part, pair_partner, part_indices
from .colour import COLOUR_SIDE, PartColour, exposed, face_colours, resaturated, white_point

THUMBNAIL_MARGIN = 0.25  # of the part's box, on each side: the part with a little of what is around it


def reference_colour(image: np.ndarray, mask: np.ndarray, index: int) -> PartColour | None:
    """The colour a reference gives class ``index`` (``PartColour`` or None), as the pipeline
    plans it: a closed eye's is the open one's."""
    face = face_colours(image, mask)
    colour = face.part(index)
    partner = pair_partner(index)
    if colour is None and partner is not None:
        colour = face.part(partner)
    return colour


def reference_part_colour(engine: Engine, reference: Reference | SavedStyle,
                          index: int) -> tuple[PartColour | None, float, float]:
    """What ``PhotoPipeline.plan`` reads of a reference for class ``index``: the part's colour
    as its photo shows it (None when too small to measure), the saturation of that photo's
    grade (``photo_saturation``) and the exposure of its light (``photo_exposure``); a saved
    style's colour was recorded as the person's (1, 1)."""
    if isinstance(reference, SavedStyle):
        colour = reference.colour(index)
        return (None if colour is None else PartColour(*colour)), 1.0, 1.0
    image, mask = engine.load_reference(reference, COLOUR_SIDE)
    face = face_colours(image, mask)
    return reference_colour(image, mask, index), face.saturation, face.exposure


def part_thumbnail(image: np.ndarray, mask: np.ndarray, parts: tuple[int, ...],
                   size: int = THUMBNAIL_SIZE) -> np.ndarray:
    """uint8 (size, size, 3): a square crop of ``image`` around ``parts`` (their box, with a
    margin), the whole face when they are not in the mask."""
    region = np.isin(mask, parts)
    if not region.any():
        box = (0, 0, image.shape[1], image.shape[0])
    else:
        rows, columns = np.nonzero(region)
        top, bottom, left, right = rows.min(), rows.max() + 1, columns.min(), columns.max() + 1
        side = max(bottom - top, right - left) * (1 + 2 * THUMBNAIL_MARGIN)
        side = min(max(side, image.shape[0] / 8), image.shape[0])
        centre_y, centre_x = (top + bottom) / 2, (left + right) / 2
        y = int(round(np.clip(centre_y - side / 2, 0, image.shape[0] - side)))
        x = int(round(np.clip(centre_x - side / 2, 0, image.shape[1] - side)))
        box = (x, y, x + int(round(side)), y + int(round(side)))
    crop = Image.fromarray(image).crop(box).resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(crop, np.uint8)


def part_style(engine: Engine, reference: Reference, part: Part, source: str | None = None) -> SavedStyle:
    """The style ``reference`` gives ``part`` (a class or a pair: "eyes" holds both eyes) with
    ``engine``'s weights, ready for ``save_style``; ``source``: the face's name to record
    (default: its file's name)."""
    image, mask = engine.load_reference(reference)
    parts = part_indices(part, engine.config.num_classes)
    all_codes = engine.encode_styles(image, mask)
    colour_image, colour_mask = engine.load_reference(reference, COLOUR_SIDE)
    light = face_colours(colour_image, colour_mask)
    codes, means, spreads, coloured = [], [], [], []
    for index in parts:
        row = index
        if not (mask == index).any():  # as edit_codes: a closed eye takes the open one's style
            partner = pair_partner(index)
            if partner is None or not (mask == partner).any():
                raise DataError(f"{describe(reference.image)}: its mask has no {CLASS_NAMES[index]}, so there is no "
                                f"{CLASS_NAMES[index]} style to take from it")
            row = partner
        codes.append(all_codes[row])
        colour = reference_colour(colour_image, colour_mask, index)
        if colour is not None:  # the person's colour, not the photo's grade nor its light
            colour = exposed(resaturated(colour, 1.0 / light.saturation), 1.0 / light.exposure)
        coloured.append(colour is not None)
        means.append(colour.mean if colour is not None else np.zeros(3, np.float32))
        spreads.append(colour.spread if colour is not None else np.zeros(3, np.float32))
    if source is None:
        source = Path(reference.image).name if isinstance(reference.image, (str, Path)) else ""
    return SavedStyle(
        parts=parts,
        codes=np.stack(codes).astype(np.float32),
        colour_means=np.stack(means).astype(np.float32),
        colour_spreads=np.stack(spreads).astype(np.float32),
        coloured=tuple(coloured),
        white_point=white_point(colour_image, colour_mask),
        thumbnail=part_thumbnail(image, mask, parts),
        weights_digest=engine.weights_digest,
        weights_name=engine.weights_name,
        config=engine.config.name,
        source=source,
    )


__all__ = ["part_style", "part_thumbnail", "reference_colour", "reference_part_colour"]
