"""The photo pipeline: one object that the studio, ``ca2sis-edit`` and the Python API call.

``PhotoPipeline.render`` asks the engine for the network's output, plans how it is finished
(``plan``: which parts change, the colour each restyled part takes) once, and returns the
finished face; given a photo (``PhotoTarget``) it also returns the photo with the edit put
back (``paste.py``)::

    pipeline = PhotoPipeline(Engine.from_pretrained(weights))
    rendered = pipeline.render(edit, PhotoTarget(photo, photo_mask))
    save_image(rendered.photo, "out.jpg", photo.icc_profile)
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from ..inference.edits import Edit, Result
from ..inference.engine import Engine
from ..io.cache import content_digest
from ..io.images import MaskInput, as_mask
from ..io.styles import SavedStyle
from ..labels import CLASS_NAMES, Part, pair_partner, part_index
from .colour import (
    COLOUR_SIDE,
    LIPS,
    SKIN,
    SKIN_TONE_PARTS,
    ColourTarget,
    FaceColours,
    PartColour,
    colour_target,
    exposed,
    face_colours,
    real_skin,
    resaturated,
    skin_tone_target,
)
from .edge import tone_edge_alpha
from .finish import Finish, finish_image
from .painted import paint_face, style_picture
from .paste import PhotoTarget, paste_edit
from .regions import MIN_PART_PIXELS
from .source import SourcePhoto
from .styles import reference_part_colour

# The style face's mask must agree with the edited mask on this share of pixels for the
# style face to be the picture an edit is finished against (a new face painted from a
# template shares too little with any face to keep that face's pixels).
FINISH_MIN_AGREEMENT = 0.75


@dataclass
class Rendered:
    """An edit through the pipeline: the engine's ``result`` (the network's own output, its
    codes and attention), the finished aligned ``image``, the ``finish`` it was planned with
    (None when the style face is not the face the mask was painted from), the generated
    ``mask``, and with a photo
    target the whole ``photo`` with the edit put back."""

    result: Result
    image: np.ndarray
    mask: np.ndarray  # the mask that was generated, at the photo mask's side (else the networks')
    finish: Finish | None = None
    photo: np.ndarray | None = None
    milliseconds: dict[str, float] = field(default_factory=dict)

    @property
    def raw(self) -> np.ndarray:
        """The network's own output, uint8 (g, g, 3)."""
        return self.result.image

    @property
    def attention(self) -> np.ndarray:
        return self.result.attention

    @property
    def drawn_by(self) -> str:
        return self.result.drawn_by

    def attention_map(self, part: Part) -> np.ndarray:
        """Where ``part``'s style lands, upsampled to the finished image."""
        return cv2.resize(self.result.attention_map(part), self.image.shape[1::-1], interpolation=cv2.INTER_LINEAR)


def lips_together(own_colours: FaceColours, read: Mapping[int, tuple[PartColour, object, float]]
                  ) -> dict[int, ColourTarget]:
    """The colours of both lips restyled from one reference moved together (``read``: part →
    the reference's colour as taken, which reference (its content's digest, or the saved
    style), the strength): each lip of the photo by the same change, the reference's lips'
    mean colour less the photo's. The colour is the reference's; which lip catches the light
    is the photo's (a lower lip lit in the reference and given whole made a lit pale mouth of
    a photo whose lips are in shade). Empty when the lips are not restyled from one reference
    or the photo shows too little of one."""
    if not all(lip in read for lip in LIPS):
        return {}
    (upper, upper_from, upper_alpha), (lower, lower_from, lower_alpha) = (read[lip] for lip in LIPS)
    owns = [own_colours.part(lip) for lip in LIPS]
    if upper_from != lower_from or upper_alpha != lower_alpha or None in owns:
        return {}
    shift = 0.5 * (upper.mean + lower.mean) - 0.5 * (owns[0].mean + owns[1].mean)
    return {lip: colour_target(own, PartColour((own.mean + shift).astype(np.float32), taken.spread), upper_alpha)
            for lip, own, taken in zip(LIPS, owns, (upper, lower))}


class PhotoPipeline:
    """The engine's output made into a photograph: planned once per render, finished against
    the style face or pasted into a photo."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def plan(self, edit: Edit, original_mask: MaskInput | None = None,
             targets: Mapping[int, np.ndarray] | None = None) -> Finish:
        """How the raw face of ``edit`` is finished against a picture whose mask is
        ``original_mask`` (default: the style face's): the parts it changes and the colour
        each restyled part takes.

        The colour targets mix each referenced part's colour in the base style's face with
        the reference's, by the part's strength. A skin taken from a reference carries its
        colour change to the nose, ears and neck that the edit leaves alone (``SKIN_TONE_PARTS``):
        they are restyled with it. Masks are at the networks' size."""
        engine = self.engine
        style_mask = engine.load_reference(edit.style)[1]
        original = engine.load_mask(original_mask) if original_mask is not None else style_mask
        colour_image, colour_mask = engine.load_reference(edit.style, COLOUR_SIDE)  # colours are read finer
        count = engine.config.num_classes
        colours = {}
        notes: list[str] = []
        own_colours = face_colours(colour_image, colour_mask)
        read: dict[int, tuple[PartColour, object, float]] = {}  # lip → the reference's colour, which one, alpha
        if edit.match_colour:
            for part, (reference, alpha) in edit.part_styles.items():
                index = part_index(part, count)
                # A face's part colour (a closed eye: the open one's), or a saved style's.
                partner = pair_partner(index)
                if partner is not None and not isinstance(reference, SavedStyle) and alpha > 0:
                    mask = engine.load_reference(reference)[1]
                    if not (mask == index).any() and (mask == partner).any():
                        notes.append(f"the reference shows no {CLASS_NAMES[index]}: its {CLASS_NAMES[partner]} "
                                     "serves both")
                target, saturation, exposure = reference_part_colour(engine, reference, index)
                if target is None or alpha <= 0:
                    continue
                # The person's colour, not the reference photo's grade and light: rendered under this photo's.
                target = resaturated(target, own_colours.saturation / saturation)
                target = exposed(target, own_colours.exposure / exposure)
                own = own_colours.part(index)
                if index == SKIN:  # a skin stays a skin (a moody grey photo gives no grey face)
                    target = PartColour(real_skin(target.mean, None if own is None else own.mean), target.spread)
                colours[index] = colour_target(own, target, alpha)
                if index in LIPS:  # which reference, by content: --part lips=R and each lip from R are one
                    source = reference if isinstance(reference, SavedStyle) else content_digest(
                        *engine.load_reference(reference, COLOUR_SIDE))
                    read[index] = (target, source, float(alpha))
            colours.update(lips_together(own_colours, read))
        restyled = {part_index(part, count) for part, (_, alpha) in edit.part_styles.items() if alpha > 0}
        restyled |= {part_index(part, count) for part, (_, alpha) in edit.random_parts.items() if alpha > 0}
        reshaped = dict(engine.shape_targets(edit) if targets is None else targets)
        own_skin = own_colours.part(SKIN) if SKIN in colours else None
        asked = {part_index(part, count) for part in [*edit.part_styles, *edit.random_parts]} | set(reshaped)
        for part in SKIN_TONE_PARTS if own_skin is not None else ():
            own = own_colours.part(part)
            if part not in asked and own is not None:
                colours[part] = skin_tone_target(own_skin, own, colours[SKIN])
                restyled.add(part)
        strengths = {part_index(part, count): float(alpha) for part, (_, alpha) in edit.part_shapes.items()}
        # A part reshaped and restyled from a reference face grows with that face's strands.
        exemplars = {}
        for part, (reference, alpha) in edit.part_styles.items():
            index = part_index(part, count)
            if index in reshaped and alpha > 0 and not isinstance(reference, SavedStyle):
                picture, mask = engine.load_reference(reference, COLOUR_SIDE)
                if (mask == index).sum() >= MIN_PART_PIXELS:
                    exemplars[index] = (picture, mask == index)
        return Finish(original, engine.load_mask(edit.mask), frozenset(restyled), reshaped, colours,
                      confine=edit.confine, keep_detail=edit.keep_detail, match_colour=edit.match_colour,
                      shape_strengths={part: strengths[part] for part in reshaped}, exemplars=exemplars,
                      notes=tuple(notes))

    def render(self, edit: Edit, photo: PhotoTarget | None = None, preview: bool = False,
               full_photo: bool = False) -> Rendered:
        """The edit rendered and finished; with ``photo``, also put back into it: into the
        photo's preview (the studio's live view) unless ``full_photo``. ``preview``: the
        engine's cheaper G (while a stroke or slider moves)."""
        result = self.engine.render(edit, preview=preview)
        start = time.perf_counter()
        finish = None
        agrees = False
        image = result.image
        # The edited mask at the photo mask's own side (a photo's edit is as sharp as its parse).
        mask = as_mask(edit.mask, photo.mask.shape[0] if photo is not None else self.engine.image_size,
                       self.engine.config.num_classes)
        if edit.style_is_source:  # a finish even when its steps are off: a photo edit pastes back by it
            finish = self.plan(edit)
            if preview:  # a live frame: a reshaped part is not re-made at full resolution
                finish = replace(finish, remake=False)
            agrees = (finish.original_mask == finish.edited_mask).mean() >= FINISH_MIN_AGREEMENT
            if photo is None and edit.finishing and agrees:
                base = self.engine.load_reference(edit.style)[0]
                anchor = finish.anchor(base.shape[0]) if edit.confine else None
                image = finish_image(result.image, base, finish, anchor)
        # A painted face (nothing of the style face's pixels to keep): made at the style face's
        # side with its colour and texture; a preview keeps the network's output (live frames).
        if photo is None and edit.finishing and not preview and not agrees:
            style_image, style_mask = style_picture(edit.style, self.engine.load_reference(edit.style)[1])
            image = paint_face(result.image, as_mask(edit.mask, style_image.shape[0], self.engine.config.num_classes),
                               style_image, style_mask)
        pasted = None
        if photo is not None:
            source = photo.photo if full_photo else photo.photo.preview
            pasted = self._paste(result.image, finish, mask, photo, source)
            # The aligned view of the edit is the pasted photo's own crop: one finish, not two.
            image = source.with_pixels(pasted).aligned() if finish is not None else image
        milliseconds = dict(result.milliseconds)
        milliseconds["finish"] = (time.perf_counter() - start) * 1000
        milliseconds["total"] = milliseconds.get("total", 0.0) + milliseconds["finish"]
        return Rendered(result, image, mask, finish, pasted, milliseconds)

    @staticmethod
    def paste(rendered: Rendered, photo: PhotoTarget) -> np.ndarray:
        """The full photo with an edit already rendered (for the studio's live view) put back:
        what *Save result* writes, as planned for that render (finished in full, were it a preview)."""
        finish = None if rendered.finish is None else replace(rendered.finish, remake=True)
        return PhotoPipeline._paste(rendered.raw, finish, rendered.mask, photo, photo.photo)

    @staticmethod
    def _paste(raw: np.ndarray, finish: Finish | None, mask: np.ndarray, photo: PhotoTarget,
               source: SourcePhoto) -> np.ndarray:
        pasted = paste_edit(source, photo.mask, mask, raw, finish, photo.region, photo.style_from_photo)
        if finish is None or SKIN not in finish.restyled or not photo.style_from_photo:
            return pasted
        # A skin recoloured moves its tone, maybe far: where the parser laid the skin (or a part
        # of its tone) over the hairline's wisps or a collar, the edit fades as the photo's own
        # pixels say (``tone_edge_alpha``), not at the parsed edge. Not where the tone's
        # parts were painted or reshaped: there the edited mask's edge is the one wanted.
        side = photo.mask.shape[0]
        tone = [part for part in (SKIN, *SKIN_TONE_PARTS) if part in finish.restyled]
        if set(tone) & set(finish.reshaped) or not np.array_equal(np.isin(mask, tone), np.isin(photo.mask, tone)):
            return pasted
        alpha = tone_edge_alpha(source.aligned(side), photo.mask, tone, finish.restyled)
        return faded_edit(source, pasted, alpha)


def faded_edit(source: SourcePhoto, pasted: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``pasted`` (the ``source`` photo edited, uint8) with its change scaled by ``alpha``
    (float32 in the aligned crop of any side; past the crop the change is kept whole)."""
    matrix = source.matrix * (alpha.shape[0] / source.aligned_size)
    height, width = pasted.shape[:2]
    fade = cv2.warpAffine(alpha, matrix, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=1.0)
    faded = fade < 1.0 - 1.0 / 512
    if not faded.any():
        return pasted
    rows, cols = np.flatnonzero(faded.any(axis=1)), np.flatnonzero(faded.any(axis=0))
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    own = np.asarray(source.pixels)[box].astype(np.float32)
    mixed = own + fade[box][..., None] * (pasted[box].astype(np.float32) - own)
    result = pasted.copy()
    result[box] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
    return result


__all__ = ["FINISH_MIN_AGREEMENT", "PhotoPipeline", "Rendered", "faded_edit", "lips_together"]
